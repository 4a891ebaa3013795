//! Transport faults between the provider and the real local STS (reliability scenarios 1–3):
//! a dropped connection and an STS that never answers come back as typed errors within the
//! load timeout, and a 5xx is retried by the SDK before the refresh gives up.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use chainable_credentials::{FetchError, fetch_error};
use std::time::Duration;
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;

fn via(proxy: &FaultProxy, moto: &Moto) -> chainable_credentials::Builder {
    moto.s3_role_via(&proxy.endpoint)
        .load_timeout(Duration::from_secs(2))
        .configure(&support::no_sdk_retries())
}

#[tokio::test]
async fn a_dropped_connection_is_a_typed_error_and_the_next_refresh_works() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.then(Fault::Drop);
    let clock = support::manual_clock_at_real_time();
    // The recovery below goes to the real server, which may be busy with other tests: more
    // than `via`'s 2 seconds to answer.
    let provider = via(&proxy, &moto)
        .load_timeout(Duration::from_secs(20))
        .time_source(clock.clone())
        .build()
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), provider.provide_credentials())
        .await
        .expect("no hang")
        .unwrap_err();
    assert!(matches!(err, CredentialsError::ProviderError(_)), "{err:?}");
    let cause = fetch_error(&err).expect("typed");
    assert!(
        matches!(
            cause,
            FetchError::Transport { .. } | FetchError::InvalidResponse { .. }
        ),
        "{cause:?}"
    );
    // After the backoff, STS answers again.
    clock.advance(Duration::from_secs(30));
    provider.provide_credentials().await.expect("recovered");
    assert_eq!(proxy.sts_requests(), 2);
}

#[tokio::test]
async fn an_sts_that_never_answers_fails_at_the_load_timeout() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.always(Fault::Hang);
    let provider = via(&proxy, &moto).build().unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), provider.provide_credentials())
        .await
        .expect("no hang past the load timeout")
        .unwrap_err();
    match err {
        CredentialsError::ProviderTimedOut(t) => {
            assert_eq!(t.timeout_duration(), Duration::from_secs(2))
        }
        other => panic!("expected ProviderTimedOut, got {other:?}"),
    }
}

#[tokio::test]
async fn a_5xx_is_retried_by_the_sdk_within_one_refresh() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.then(Fault::Status(500, "InternalFailure"));
    // The SDK's standard retries this time (the default retry configuration).
    let provider = moto
        .s3_role_via(&proxy.endpoint)
        .load_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    provider
        .provide_credentials()
        .await
        .expect("the retry succeeded");
    assert_eq!(proxy.sts_requests(), 2, "one 500, one success");
    assert_eq!(provider.status().refreshes_started, 1, "within one refresh");
}

/// What users read of a failure — the error's `Display` through its sources, the status's
/// `last_error`, the listener's outcome — is sentences, never a `Debug` dump of the SDK's
/// error types (`DispatchFailure(DispatchFailure { source: ConnectorError { .. } })`).
#[tokio::test]
async fn a_refused_connection_reads_as_sentences_without_debug_dumps() {
    let moto = Moto::enforcing();
    let told = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let provider = moto
        .s3_role_via("http://127.0.0.1:9")
        .configure(&support::no_sdk_retries())
        .on_refresh({
            let told = told.clone();
            move |outcome| *told.lock().unwrap() = outcome.to_string()
        })
        .build()
        .unwrap();
    let error = provider.provide_credentials().await.unwrap_err();
    let mut chain = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = next {
        chain.push(e.to_string());
        next = e.source();
    }
    support::eventually("the listener was told", || !told.lock().unwrap().is_empty()).await;
    let last_error = provider.status().last_error.expect("a last error");
    let told = told.lock().unwrap().clone();
    for text in chain.iter().chain([&last_error, &told]) {
        for dump in ["{", "DispatchFailure(", "ConnectorError", "Some("] {
            assert!(!text.contains(dump), "{dump:?} in {text:?}");
        }
    }
    assert!(last_error.contains("Connection refused"), "{last_error}");
    assert!(told.contains("Connection refused"), "{told}");
}

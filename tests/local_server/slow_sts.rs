//! A slow STS (reliability scenario 3), through the fault proxy in front of the real local STS:
//! while a valid session exists no caller is slowed by a 300 ms refresh, and a first load that
//! takes 40 s fails at the load timeout with `ProviderTimedOut`.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use std::time::Duration;
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;

#[tokio::test]
async fn a_300_ms_refresh_slows_no_caller_while_the_session_is_valid() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let clock = support::manual_clock_at_real_time();
    let provider = moto
        .s3_role_via(&proxy.endpoint)
        .time_source(clock.clone())
        .build()
        .unwrap();
    let first = provider.provide_credentials().await.unwrap();
    let expiry = provider.expiry().unwrap();
    proxy.always(Fault::Latency(Duration::from_millis(300)));
    // Past any refresh point, before the mandatory window.
    clock.set_time(expiry - Duration::from_secs(7 * 60 + 29));
    let mut calls = 0;
    while provider.expiry() == Some(expiry) {
        let creds = support::ready_at_once(provider.provide_credentials())
            .expect("answered at once while the refresh is in flight")
            .unwrap();
        assert_eq!(creds.access_key_id(), first.access_key_id());
        calls += 1;
        assert!(calls < 1_000_000, "the refresh never landed");
        tokio::task::yield_now().await;
    }
    assert!(
        calls > 10,
        "callers kept being served during the 300 ms refresh: {calls}"
    );
    assert_eq!(proxy.sts_requests(), 2, "one refresh for all of them");
}

#[tokio::test]
async fn a_40_second_first_load_times_out_at_the_load_timeout() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.always(Fault::Latency(Duration::from_secs(40)));
    let provider = moto
        .s3_role_via(&proxy.endpoint)
        .load_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), provider.provide_credentials())
        .await
        .expect("no hang past the load timeout");
    match outcome {
        Err(CredentialsError::ProviderTimedOut(t)) => {
            assert_eq!(t.timeout_duration(), Duration::from_secs(1))
        }
        other => panic!("expected ProviderTimedOut, got {other:?}"),
    }
}

//! A web identity hop on the in-process STS and a manual clock: the token file is read at each
//! refresh and never at a cache hit (so a rotated token reaches STS at the next refresh, in the
//! advisory window without making anyone wait), and a file that goes missing while the session
//! is valid costs nothing but a logged failure until the session expires.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::test_util::ManualTimeSource;
use chainable_credentials::{ChainableTemporaryCredentials, FetchError, fetch_error};
use std::time::Duration;
use support::{FakeSts, ROLE_ARN, t0};

const MIN: Duration = Duration::from_secs(60);

fn web_identity_tokens(sts: &FakeSts) -> Vec<String> {
    sts.bodies()
        .iter()
        .filter_map(|body| body.split("WebIdentityToken=").nth(1))
        .map(|rest| rest.split('&').next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_rotated_token_reaches_sts_at_the_next_refresh_and_a_missing_file_keeps_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "token-one").unwrap();
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = ChainableTemporaryCredentials::builder()
        .role_arn(ROLE_ARN)
        .web_identity_token_file(&token_file)
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(sts.clone())
        .time_source(clock.clone())
        .sleep_impl(TokioSleep::new())
        .configure(&support::no_sdk_retries())
        .build()
        .unwrap();
    let first = provider.provide_credentials().await.unwrap();
    let expiry = provider.expiry().unwrap();
    assert_eq!(web_identity_tokens(&sts), ["token-one"]);

    // Rotated; until the refresh point every call is a cache hit and reads nothing.
    std::fs::write(&token_file, "token-two").unwrap();
    clock.set_time(expiry - 16 * MIN);
    for _ in 0..10 {
        provider.provide_credentials().await.unwrap();
    }
    assert_eq!(sts.calls(), 1, "cache hits read no token");

    // Past any jittered refresh point of the advisory window (the last 15 minutes): the
    // caller gets the cached session at once, and the refresh sends the rotated token.
    clock.set_time(expiry - 7 * MIN);
    let cached = provider.provide_credentials().await.unwrap();
    assert_eq!(cached.access_key_id(), first.access_key_id());
    support::eventually("the refresh with the new token", || {
        provider.expiry() != Some(expiry)
    })
    .await;
    assert_eq!(web_identity_tokens(&sts), ["token-one", "token-two"]);
    let second = provider.provide_credentials().await.unwrap();
    assert_ne!(second.access_key_id(), first.access_key_id());

    // The file goes missing. In the mandatory window the refresh fails; the valid session
    // is served, and the status names the file.
    std::fs::remove_file(&token_file).unwrap();
    let expiry = provider.expiry().unwrap();
    clock.set_time(expiry - Duration::from_secs(30));
    let served = provider.provide_credentials().await.unwrap();
    assert_eq!(served.access_key_id(), second.access_key_id());
    assert_eq!(sts.calls(), 2, "no STS call without a token");
    let status = provider.status();
    assert!(status.serving_cached_after_failure);
    let last_error = status.last_error.unwrap();
    assert!(
        last_error.contains(&token_file.display().to_string()),
        "{last_error}"
    );

    // Past expiry: the typed error, never the expired session.
    clock.set_time(expiry);
    let error = provider.provide_credentials().await.unwrap_err();
    assert!(matches!(
        fetch_error(&error),
        Some(FetchError::WebIdentityToken { .. })
    ));
}

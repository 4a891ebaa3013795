//! `keep_warm(true)`: sessions are fetched and refreshed on schedule with no callers, and the
//! background task ends with the last clone.

mod support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::tick_advance_sleep::tick_advance_time_and_sleep;
use aws_smithy_async::time::TimeSource;
use chainable_credentials::ChainableTemporaryCredentials;
use std::time::Duration;
use support::{FakeSts, ROLE_ARN};

const MIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn keeps_a_session_ready_without_callers_and_stops_with_the_last_clone() {
    let (time, sleep) = tick_advance_time_and_sleep();
    time.tick(Duration::from_secs(support::T0_SECS)).await;
    let sts = FakeSts::new(time.clone());
    let provider = ChainableTemporaryCredentials::builder()
        .base_credentials(aws_credential_types::Credentials::new(
            "AKID", "s", None, None, "t",
        ))
        .role_arn(ROLE_ARN)
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(sts.clone())
        .time_source(time.clone())
        .sleep_impl(sleep.clone())
        .prefetch(true)
        .build()
        .unwrap();
    support::eventually("the first session was fetched without a caller", || {
        provider.expiry().is_some()
    })
    .await;
    assert_eq!(sts.calls(), 1);
    let first_expiry = provider.expiry().unwrap();

    // Let two session lifetimes pass in 10-second ticks with no caller at all.
    for _ in 0..(2 * 60 * 6) {
        time.tick(Duration::from_secs(10)).await;
        support::settle().await;
    }
    assert!(
        sts.calls() >= 2,
        "refreshed on schedule: {} calls",
        sts.calls()
    );
    assert!(
        sts.calls() <= 3,
        "once per session lifetime: {} calls",
        sts.calls()
    );
    let expiry = provider.expiry().unwrap();
    assert!(expiry > first_expiry);
    // The session it keeps is never past its refresh point for longer than a tick: a caller
    // now gets a session with at least 7.5 minutes (half the advisory window) less a tick left.
    let creds = provider.provide_credentials().await.unwrap();
    assert!(creds.expiry().unwrap() >= time.now() + 7 * MIN);
    assert_eq!(creds.expiry(), provider.expiry());

    // Dropping the last clone ends the task: no more STS calls, however long we wait.
    let clone = provider.clone();
    drop(provider);
    time.tick(3 * 60 * MIN).await;
    support::settle().await;
    let calls_with_clone = sts.calls();
    assert!(calls_with_clone > 3, "still alive while a clone exists");
    drop(clone);
    support::settle().await;
    for _ in 0..10 {
        time.tick(60 * MIN).await;
        support::settle().await;
    }
    assert_eq!(
        sts.calls(),
        calls_with_clone,
        "the task ended with the last clone"
    );
}

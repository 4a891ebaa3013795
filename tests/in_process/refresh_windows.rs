//! The refresh schedule: cache hits before the refresh point, a background refresh in the
//! advisory window that never makes a caller wait, waiting in the mandatory window, and a
//! session that arrives already expired is an error rather than a loop.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::ManualTimeSource;
use chainable_credentials::fetch_error;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use support::{FakeSts, Reply, fake_builder, t0};

const MIN: Duration = Duration::from_secs(60);

/// Polls a future once: `Some` if it was ready at once (nobody waited).
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

#[tokio::test]
async fn the_advisory_window_answers_at_once_and_refreshes_once_in_the_background() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let first = provider.provide_credentials().await.unwrap();
    let expiry = provider.expiry().unwrap();

    // 1-hour session: the advisory window is the last 15 minutes and the refresh point lies in
    // its first half, so 7 min 31 s into the window is past any jittered refresh point.
    clock.set_time(expiry - 7 * MIN - Duration::from_secs(29));
    // Hold STS so the background refresh cannot finish while we look.
    let _gate = sts.hold();
    for _ in 0..100 {
        let creds = poll_once(provider.provide_credentials())
            .expect("ready at once inside the advisory window")
            .unwrap();
        assert_eq!(creds.access_key_id(), first.access_key_id());
    }
    support::eventually("the background refresh reached STS", || {
        provider.status().refreshes_started == 2
    })
    .await;
    assert_eq!(
        provider.status().refreshes_started,
        2,
        "one background refresh for 100 callers"
    );
    sts.release();
    support::eventually("the new session landed", || {
        provider.expiry() != Some(expiry)
    })
    .await;
    let fresh = provider.provide_credentials().await.unwrap();
    assert_ne!(fresh.access_key_id(), first.access_key_id());
    assert_eq!(sts.calls(), 2);
}

#[tokio::test]
async fn before_the_advisory_window_nothing_refreshes() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    provider.provide_credentials().await.unwrap();
    let expiry = provider.expiry().unwrap();
    clock.set_time(expiry - 15 * MIN - Duration::from_secs(1));
    for _ in 0..10 {
        assert!(poll_once(provider.provide_credentials()).is_some());
    }
    support::settle().await;
    assert_eq!(sts.calls(), 1);
}

#[tokio::test]
async fn the_mandatory_window_waits_for_the_refresh() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let first = provider.provide_credentials().await.unwrap();
    let expiry = provider.expiry().unwrap();
    clock.set_time(expiry - Duration::from_secs(30));
    let _gate = sts.hold();
    assert!(
        poll_once(provider.provide_credentials()).is_none(),
        "inside the last minute the caller waits"
    );
    sts.release();
    let fresh = provider.provide_credentials().await.unwrap();
    assert_ne!(fresh.access_key_id(), first.access_key_id());
    assert!(fresh.expiry().unwrap() > expiry);
    assert_eq!(sts.calls(), 2);
}

#[tokio::test]
async fn after_expiry_a_new_session_is_fetched() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let first = provider.provide_credentials().await.unwrap();
    clock.advance(2 * 60 * MIN);
    let fresh = provider.provide_credentials().await.unwrap();
    assert_ne!(fresh.access_key_id(), first.access_key_id());
    assert!(fresh.expiry().unwrap() > clock_now(&clock));
}

#[tokio::test]
async fn a_session_that_arrives_expired_is_an_error_not_a_loop() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    sts.always(Reply::SessionExpiringIn {
        offset_secs: -10,
        with_date: true,
    });
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    let cause = fetch_error(&err).expect("typed cause");
    assert!(cause.to_string().contains("already expired"), "{cause}");
    // Backing off: more calls right away do not reach STS again.
    for _ in 0..10 {
        assert!(provider.provide_credentials().await.is_err());
    }
    assert_eq!(sts.calls(), 1);
    assert_eq!(provider.expiry(), None);
}

#[tokio::test]
async fn the_refresh_point_is_jittered_within_the_first_half_of_the_window() {
    // 40 providers, each with its own session: refresh points must spread over the first
    // half of the advisory window and never fall outside it.
    let mut points = Vec::new();
    for _ in 0..40 {
        let clock = ManualTimeSource::new(t0());
        let sts = FakeSts::new(clock.clone());
        let provider = fake_builder(&sts, &clock).build().unwrap();
        provider.provide_credentials().await.unwrap();
        let expiry = provider.expiry().unwrap();
        // Find the refresh point by stepping the clock in 10-second steps through the window.
        let mut t = expiry - 15 * MIN;
        loop {
            clock.set_time(t);
            let _ = provider.provide_credentials().await.unwrap();
            if provider.status().refreshes_started > 1 {
                break;
            }
            t += Duration::from_secs(10);
        }
        let into_window = t.duration_since(expiry - 15 * MIN).unwrap();
        assert!(
            into_window <= Duration::from_secs(7 * 60 + 30 + 10),
            "{into_window:?}"
        );
        points.push(into_window.as_secs() / 10);
    }
    points.sort();
    points.dedup();
    assert!(points.len() >= 10, "refresh points spread out: {points:?}");
}

fn clock_now(clock: &ManualTimeSource) -> std::time::SystemTime {
    use aws_smithy_async::time::TimeSource;
    clock.now()
}

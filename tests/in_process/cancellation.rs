//! Callers that give up (their future dropped) never wedge the cache: the refresh runs in its
//! own task and finishes for everybody else.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::ManualTimeSource;
use std::time::Duration;
use support::{FakeSts, fake_builder, t0};

#[tokio::test]
async fn the_only_caller_dropping_out_does_not_cancel_the_refresh() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let gate = sts.hold();
    let caller = {
        let p = provider.clone();
        tokio::spawn(async move { p.provide_credentials().await })
    };
    support::eventually("the refresh reached STS", || {
        provider.status().refreshes_started == 1
    })
    .await;
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());
    drop(gate);
    sts.release();
    support::eventually("the abandoned caller's refresh landed", || {
        provider.expiry().is_some()
    })
    .await;
    provider.provide_credentials().await.unwrap();
    assert_eq!(
        sts.calls(),
        1,
        "the next caller used the session the dropped one started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_dropped_at_random_points_never_wedge_the_cache() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..1_000u32 {
        // Force a refresh this round: expired, or invalidated.
        if round % 2 == 0 {
            clock.advance(Duration::from_secs(3 * 3600));
        } else {
            provider.invalidate();
        }
        let callers = support::spawn_callers(&provider, 3);
        // Drop some of them at a random point of their progress.
        for _ in 0..rng.usize(0..4) {
            tokio::task::yield_now().await;
        }
        for (i, caller) in callers.into_iter().enumerate() {
            if rng.bool() || i == 0 {
                caller.abort();
            } else {
                let _ = caller.await;
            }
        }
        let creds = tokio::time::timeout(Duration::from_secs(10), provider.provide_credentials())
            .await
            .unwrap_or_else(|_| panic!("round {round}: the cache is wedged"))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(creds.expiry().unwrap() > aws_smithy_async::time::TimeSource::now(&clock));
    }
    assert!(
        sts.calls() >= 1_000,
        "each round refreshed: {}",
        sts.calls()
    );
    assert!(
        sts.calls() <= 2_000,
        "no round refreshed more than twice: {}",
        sts.calls()
    );
}

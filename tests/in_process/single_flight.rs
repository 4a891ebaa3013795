//! One STS call however many callers: concurrent first callers share one refresh, and clones
//! share one cache.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::ManualTimeSource;
use std::collections::HashSet;
use support::{FakeSts, fake_builder, t0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_first_callers_make_one_sts_call() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    // Hold STS's answer until every caller is waiting, so they really overlap.
    let gate = sts.hold();
    let callers = support::spawn_callers(&provider, 1_000);
    support::eventually("the refresh reached STS", || {
        gate.available_permits() == 0 && provider.status().refreshes_started == 1
    })
    .await;
    support::settle().await;
    sts.release();
    let mut keys = HashSet::new();
    for caller in callers {
        let credentials = caller
            .await
            .unwrap()
            .expect("every caller gets the session");
        keys.insert(credentials.access_key_id().to_owned());
    }
    assert_eq!(sts.calls(), 1, "one STS request for 1,000 callers");
    assert_eq!(keys.len(), 1);
    assert_eq!(provider.status().refreshes_started, 1);
}

#[tokio::test]
async fn later_calls_are_cache_hits() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let first = provider.provide_credentials().await.unwrap();
    for _ in 0..100 {
        clock.advance(std::time::Duration::from_secs(10));
        let again = provider.provide_credentials().await.unwrap();
        assert_eq!(again.access_key_id(), first.access_key_id());
    }
    assert_eq!(sts.calls(), 1);
}

#[tokio::test]
async fn clones_share_one_cache_across_many_clients() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let clients: Vec<_> = (0..10).map(|_| provider.clone()).collect();
    let mut keys = HashSet::new();
    for client in &clients {
        for _ in 0..100 {
            keys.insert(
                client
                    .provide_credentials()
                    .await
                    .unwrap()
                    .access_key_id()
                    .to_owned(),
            );
        }
    }
    assert_eq!(keys.len(), 1);
    assert_eq!(sts.calls(), 1);
    assert_eq!(clients[3].expiry(), provider.expiry());
}

#[tokio::test]
async fn the_session_carries_the_sts_expiration_and_signing_data() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    assert_eq!(provider.expiry(), None, "nothing before the first load");
    let credentials = provider.provide_credentials().await.unwrap();
    // One hour by STS's clock, less the Date header's one-second resolution.
    let expected = t0() + std::time::Duration::from_secs(3599);
    assert_eq!(credentials.expiry(), Some(expected));
    assert_eq!(provider.expiry(), Some(expected));
    assert_eq!(credentials.access_key_id(), "ASIAFAKE0001");
    assert_eq!(
        credentials.secret_access_key(),
        support::fake_sts::fake_secret(1)
    );
    assert_eq!(
        credentials.session_token(),
        Some(support::fake_sts::fake_token(1).as_str())
    );
    assert_eq!(
        credentials.account_id().map(|a| a.as_str()),
        Some("123456789012")
    );
    let body = &sts.bodies()[0];
    assert!(body.contains("Action=AssumeRole"), "{body}");
    assert!(body.contains("RoleSessionName=test-session"), "{body}");
    assert!(
        !body.contains("DurationSeconds"),
        "not sent when unset: {body}"
    );
}

#[tokio::test]
async fn invalidate_makes_the_next_call_fetch() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let first = provider.provide_credentials().await.unwrap();
    provider.invalidate();
    assert_eq!(provider.expiry(), None);
    let second = provider.provide_credentials().await.unwrap();
    assert_ne!(first.access_key_id(), second.access_key_id());
    assert_eq!(sts.calls(), 2);
}

//! The background refresh task: with `prefetch(true)` sessions are fetched and refreshed on
//! schedule with no callers at all; the task ends with the last clone, is started again on the
//! next runtime when its own goes away, and without any runtime the provider refreshes when
//! asked. (Through SDK clients: `behind_sdk_client`.)

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::tick_advance_sleep::{
    TickAdvanceTime, tick_advance_time_and_sleep,
};
use aws_smithy_async::time::TimeSource;
use chainable_credentials::ChainableTemporaryCredentials;
use std::future::Future;
use std::sync::{Arc, OnceLock};
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

/// A provider kept in a `static`, used by one runtime after another (as `#[tokio::test]`s in
/// one binary do): when its runtime goes, its background task goes with it, and the next
/// call from a live runtime starts it again.
#[test]
fn the_background_task_restarts_on_the_next_runtime() {
    struct Shared {
        time: TickAdvanceTime,
        sts: FakeSts,
        provider: ChainableTemporaryCredentials,
    }
    static SHARED: OnceLock<Shared> = OnceLock::new();
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };

    let first = runtime();
    let shared = first.block_on(async {
        let (time, sleep) = tick_advance_time_and_sleep();
        time.tick(Duration::from_secs(support::T0_SECS)).await;
        let sts = FakeSts::new(time.clone());
        let provider = support::fake_builder_with_clock(&sts, time.clone())
            .sleep_impl(sleep)
            .build()
            .unwrap();
        let shared = SHARED.get_or_init(|| Shared {
            time,
            sts,
            provider,
        });
        shared.provider.credentials().await.unwrap();
        assert!(shared.provider.status().background_refresh_running);
        shared
    });
    drop(first);
    assert!(
        !shared.provider.status().background_refresh_running,
        "gone with its runtime"
    );

    let second = runtime();
    second.block_on(async {
        // Without a call nothing restarts it; the first call does.
        shared.provider.credentials().await.unwrap();
        assert!(shared.provider.status().background_refresh_running);
        let expiry = shared.provider.expiry().unwrap();
        // Past any refresh point, with no caller: the new task refreshes.
        shared
            .time
            .tick(expiry.duration_since(shared.time.now()).unwrap() - 7 * MIN)
            .await;
        support::eventually("the restarted task refreshed", || shared.sts.calls() == 2).await;
        assert!(shared.provider.expiry().unwrap() > expiry);
    });
}

/// A sleep that never ends: the load timeout of a test that runs without a timer.
#[derive(Debug)]
struct NeverWakes;

impl aws_smithy_async::rt::sleep::AsyncSleep for NeverWakes {
    fn sleep(&self, _: Duration) -> aws_smithy_async::rt::sleep::Sleep {
        aws_smithy_async::rt::sleep::Sleep::new(std::future::pending())
    }
}

/// Runs a future on this thread with no async runtime at all.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(&waker))
        {
            return output;
        }
        std::thread::park();
    }
}

#[test]
fn without_a_runtime_the_provider_refreshes_when_asked() {
    let clock = aws_smithy_async::test_util::ManualTimeSource::new(support::t0());
    let sts = FakeSts::new(clock.clone());
    let provider = support::fake_builder(&sts, &clock)
        .sleep_impl(NeverWakes)
        .build()
        .unwrap();
    let first = block_on(provider.credentials()).unwrap();
    assert!(!provider.status().background_refresh_running);
    // Past the refresh point nobody refreshes on their own; the mandatory window's caller
    // does, inline.
    clock.set_time(provider.expiry().unwrap() - Duration::from_secs(30));
    assert_eq!(sts.calls(), 1);
    let second = block_on(provider.credentials()).unwrap();
    assert_ne!(first.access_key_id(), second.access_key_id());
    assert_eq!(sts.calls(), 2);
    assert!(!provider.status().background_refresh_running);
}

#[test]
fn a_task_its_runtime_never_ran_does_not_count_as_running() {
    // `build()` inside a `block_on` that ends at once: the task is spawned but never polled
    // before the runtime goes.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = aws_smithy_async::test_util::ManualTimeSource::new(support::t0());
    let sts = FakeSts::new(clock.clone());
    let provider = runtime.block_on(async { support::fake_builder(&sts, &clock).build().unwrap() });
    assert!(provider.status().background_refresh_running, "spawned");
    drop(runtime);
    assert!(
        !provider.status().background_refresh_running,
        "dropped unpolled with its runtime"
    );
    let next = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    next.block_on(async {
        provider.credentials().await.unwrap();
        assert!(
            provider.status().background_refresh_running,
            "started again"
        );
    });
}

#[tokio::test]
async fn a_provider_with_mfa_refreshes_only_when_asked_unless_told_otherwise() {
    let clock = aws_smithy_async::test_util::ManualTimeSource::new(support::t0());
    let sts = FakeSts::new(clock.clone());
    let code = || async { Ok::<_, std::io::Error>("123456".to_owned()) };
    let asked = support::fake_builder(&sts, &clock)
        .mfa("arn:aws:iam::123456789012:mfa/laptop", code)
        .build()
        .unwrap();
    asked.credentials().await.unwrap();
    assert!(!asked.status().background_refresh_running);
    // The hops chained on it, too: their refreshes would ask for a code below.
    let chained = asked
        .chain()
        .role_arn("arn:aws:iam::123456789012:role/next")
        .build()
        .unwrap();
    chained.credentials().await.unwrap();
    assert!(!chained.status().background_refresh_running);
    let told = support::fake_builder(&sts, &clock)
        .mfa("arn:aws:iam::123456789012:mfa/token-service", code)
        .background_refresh(true)
        .build()
        .unwrap();
    told.credentials().await.unwrap();
    assert!(told.status().background_refresh_running);
}

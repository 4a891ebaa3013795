//! Test support shared by the library's tests and benches, the command's, the upload service
//! example's and the peers harness: a scriptable in-process STS (`FakeSts`) and S3
//! (`fake_s3`), the local server's fixtures (`Moto`), a Valkey/Redis server of a test's own
//! (`redis`), the fault proxy, the command's processes
//! (`cli`), the benches' helpers (`bench`, `heap`, `sdk_cache`, `http_server`), and small
//! helpers.

pub mod bench;
pub mod certificates;
pub mod cli;
pub mod counting;
pub mod environment;
pub mod fake_s3;
pub mod fake_sts;
pub mod fault_proxy;
pub mod heap;
pub mod http_server;
pub mod metrics;
pub mod moto;
pub mod redis;
pub mod sdk_cache;

use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::test_util::ManualTimeSource;
use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use chainable_credentials::{Builder, ChainableTemporaryCredentials};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use fake_sts::{FakeSts, Reply};

/// The provider's backoff between failed refreshes, as documented (README, "How it behaves"):
/// 1 second doubling up to 30 seconds, each delay drawn from the upper half of its step.
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The checkout's root (where `scripts/` is), found from this crate's place in it.
pub fn repo_root() -> &'static std::path::Path {
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .find(|dir| dir.join("scripts/moto.sh").exists())
        .expect("the checkout's scripts/ above the crate")
}

/// The real time, for tests that measure how long something took (read through
/// `SystemTimeSource`, as everywhere).
pub fn now() -> SystemTime {
    SystemTimeSource::new().now()
}

/// A real pause, for tests against real servers.
pub async fn pause(duration: Duration) {
    use aws_smithy_async::rt::sleep::AsyncSleep;
    TokioSleep::new().sleep(duration).await;
}

/// A fixed start for manual clocks in tests that do not talk to moto.
pub const T0_SECS: u64 = 1_700_000_000;

pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0_SECS)
}

/// A manual clock starting at the real time: moto stamps `Date` and `Expiration` with the real
/// clock, so tests against it start their injected clock there and move it from there.
pub fn manual_clock_at_real_time() -> ManualTimeSource {
    ManualTimeSource::new(SystemTimeSource::new().now())
}

pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/test-role";

/// A builder wired to a fake STS and a manual clock (shared by the provider and the fake).
pub fn fake_builder(sts: &FakeSts, clock: &ManualTimeSource) -> Builder {
    fake_builder_with_clock(sts, clock.clone())
}

/// [`fake_builder`] with any clock.
pub fn fake_builder_with_clock(
    sts: &FakeSts,
    clock: impl aws_smithy_async::time::TimeSource + 'static,
) -> Builder {
    ChainableTemporaryCredentials::builder()
        .base_credentials(aws_credential_types::Credentials::new(
            "AKIDBASE",
            "base-secret-value",
            None,
            None,
            "test-base",
        ))
        .role_arn(ROLE_ARN)
        .role_session_name("test-session")
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(sts.clone())
        .time_source(clock)
        .sleep_impl(TokioSleep::new())
        // One HTTP attempt per refresh, so call counts are refresh counts.
        .configure(
            &aws_types::SdkConfig::builder()
                .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
                .build(),
        )
}

/// Spawns `n` callers of `provide_credentials` on clones of `provider`.
pub fn spawn_callers(
    provider: &ChainableTemporaryCredentials,
    n: usize,
) -> Vec<tokio::task::JoinHandle<aws_credential_types::provider::Result>> {
    use aws_credential_types::provider::ProvideCredentials;
    (0..n)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.provide_credentials().await })
        })
        .collect()
}

/// A fake STS on a manual clock at [`t0`] that always answers `reply`, and a provider on it.
pub fn provider_answered_by(
    reply: Reply,
) -> (ManualTimeSource, FakeSts, ChainableTemporaryCredentials) {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    sts.always(reply);
    let provider = fake_builder(&sts, &clock).build().unwrap();
    (clock, sts, provider)
}

/// Lets spawned tasks (a background refresh) run to completion on the current runtime.
pub async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

/// Waits (bounded) until `f` holds, yielding to the runtime between checks.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..2_000 {
        if f() {
            return;
        }
        tokio::task::yield_now().await;
        TokioSleep::new().sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting until {what}");
}

use aws_smithy_async::rt::sleep::AsyncSleep;

/// A test clock that, unlike `ManualTimeSource`, may also be moved backwards (a host whose
/// clock is corrected). Clones share the time.
#[derive(Debug, Clone)]
pub struct SettableClock(std::sync::Arc<std::sync::Mutex<SystemTime>>);

impl SettableClock {
    pub fn new(start: SystemTime) -> Self {
        SettableClock(std::sync::Arc::new(std::sync::Mutex::new(start)))
    }

    pub fn set(&self, time: SystemTime) {
        *self.0.lock().unwrap() = time;
    }

    pub fn forward(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    pub fn back(&self, by: Duration) {
        *self.0.lock().unwrap() -= by;
    }
}

impl TimeSource for SettableClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

/// An `SdkConfig` that turns the SDK's retries off: one HTTP attempt per refresh, so STS
/// request counts are refresh counts.
pub fn no_sdk_retries() -> aws_types::SdkConfig {
    aws_types::SdkConfig::builder()
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .build()
}

/// Polls a future once: `Some` if it was ready at once (nobody waited).
pub fn ready_at_once<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// A builder with static base credentials and a region, for tests that never call STS.
pub fn offline_builder() -> Builder {
    ChainableTemporaryCredentials::builder()
        .base_credentials(aws_credential_types::Credentials::new(
            "A", "B", None, None, "t",
        ))
        .region(aws_types::region::Region::new("us-east-1"))
}

/// [`offline_builder`] assuming [`ROLE_ARN`].
pub fn offline_role_builder() -> Builder {
    offline_builder().role_arn(ROLE_ARN)
}

/// Everything traced at TRACE while the returned guard lives, as text.
pub fn capture_traces() -> (TraceCapture, tracing::subscriber::DefaultGuard) {
    let capture = TraceCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (capture, tracing::subscriber::set_default(subscriber))
}

/// The text written by [`capture_traces`]' subscriber.
#[derive(Clone, Default)]
pub struct TraceCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl TraceCapture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for TraceCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

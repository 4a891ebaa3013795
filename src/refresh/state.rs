//! What one provider's cache holds and shares between its clones, its refresh attempts and
//! its background task.

use crate::error::SharedFailure;
use crate::mutex::lock;
use crate::refresh::FetchSession;
use crate::refresh::backoff::Backoff;
use crate::refresh::schedule::RefreshSchedule;
use crate::status::RefreshListener;
use arc_swap::ArcSwapOption;
use aws_credential_types::Credentials;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_async::time::SharedTimeSource;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::{Notify, watch};

/// What an engine runs with: its clock, its sleep and its tunables, set from the builder.
/// Shared by `Arc`: the scopes of one `ScopedSessions` (without a refresh listener) all use
/// one, so that a cached scope does not carry a copy.
#[derive(Debug, Clone)]
pub(crate) struct EngineConfig {
    pub(crate) time: SharedTimeSource,
    pub(crate) sleep: SharedAsyncSleep,
    pub(crate) load_timeout: Duration,
    pub(crate) backoff: Backoff,
    /// Draw each session's refresh point at random in the first half of its advisory window.
    pub(crate) jitter: bool,
    /// Refresh from a background task at the refresh point, with or without callers.
    pub(crate) background_refresh: bool,
    /// Have the background task fetch the first session without waiting for a caller.
    pub(crate) prefetch: bool,
    /// Refreshes run on tasks of their own: the advisory window's, and those a waiting
    /// caller starts (so that dropping the caller does not cancel them). Off for scoped
    /// sessions, where no task per scope may exist: their scheduler refreshes in the advisory
    /// window, and a waiting caller drives the refresh it started itself.
    pub(crate) spawn_refreshes: bool,
    /// Told of every refresh's outcome.
    pub(crate) on_refresh: Option<RefreshListener>,
    /// The instruments each finished refresh updates.
    #[cfg(feature = "telemetry")]
    pub(crate) metrics: Option<Arc<crate::telemetry::RefreshMetrics>>,
}

/// One cached session and its schedule.
pub(crate) struct CachedSession {
    pub(crate) credentials: Credentials,
    pub(crate) schedule: RefreshSchedule,
    /// The session as object_store's credential, made on first use: every object_store
    /// request asks for it, and gets this `Arc` (no conversion, no allocation per request).
    #[cfg(feature = "object-store")]
    pub(crate) object_store: std::sync::OnceLock<Arc<object_store::aws::AwsCredential>>,
}

impl CachedSession {
    pub(crate) fn new(credentials: Credentials, schedule: RefreshSchedule) -> Self {
        CachedSession {
            credentials,
            schedule,
            #[cfg(feature = "object-store")]
            object_store: std::sync::OnceLock::new(),
        }
    }
}

/// How a refresh attempt ended, as told to the callers waiting for it (the listener is told
/// a `RefreshOutcome`, with times).
#[derive(Clone)]
pub(crate) enum AttemptResult {
    Refreshed(Arc<CachedSession>),
    Failed(SharedFailure),
    /// The refresh was dropped before it finished; waiters start over.
    Abandoned,
    /// The provider was invalidated while the refresh was in flight; its session was not
    /// kept, and waiters start over.
    Invalidated,
}

/// The part of the state that changes only around refreshes. Guarded by a `std` mutex that
/// is held for a few instructions and never across an `.await`.
#[derive(Default)]
pub(crate) struct Control {
    /// The refresh in flight, if any: callers subscribe to its outcome.
    pub(crate) in_flight: Option<watch::Receiver<Option<AttemptResult>>>,
    /// Consecutive failed refreshes.
    pub(crate) failures: u32,
    /// No new refresh starts before this point (the backoff after a failure).
    pub(crate) retry_not_before: Option<SystemTime>,
    /// The error of the last failed refresh, returned while backing off with nothing valid.
    pub(crate) last_failure: Option<SharedFailure>,
    /// Bumped by each invalidation: an attempt started under an older one publishes nothing.
    pub(crate) generation: u64,
    /// A caller waits for the refresh in flight (started it or joined it): for the metrics'
    /// trigger, which the crate reads only with them.
    #[cfg_attr(not(feature = "telemetry"), allow(dead_code))]
    pub(crate) waited_on: bool,
}

/// The shared state of one provider (all its clones).
pub(crate) struct State {
    /// The cached session; read without locks on every call.
    pub(crate) current: ArcSwapOption<CachedSession>,
    control: Mutex<Control>,
    /// Refresh attempts started since creation.
    pub(crate) attempts: AtomicU64,
    /// Refresh attempts that failed since creation.
    pub(crate) failed_attempts: AtomicU64,
    /// Times the refresh listener panicked (each panic was caught and ignored).
    pub(crate) listener_panics: AtomicU64,
    /// Whether the background refresh task is alive; it clears this when it ends, also when
    /// its runtime drops it, so that the next call from a live runtime starts a new one.
    pub(crate) background_running: AtomicBool,
    /// Wakes the background task: a refresh ended, the session was dropped, or the state is
    /// gone. Made only for an engine with a background task (scoped sessions have none, and
    /// thousands of them).
    wake: Option<Arc<Notify>>,
    pub(crate) fetcher: Arc<dyn FetchSession>,
    pub(crate) config: Arc<EngineConfig>,
}

impl State {
    pub(crate) fn new(fetcher: Arc<dyn FetchSession>, config: Arc<EngineConfig>) -> Self {
        State {
            current: ArcSwapOption::empty(),
            control: Mutex::new(Control::default()),
            attempts: AtomicU64::new(0),
            failed_attempts: AtomicU64::new(0),
            listener_panics: AtomicU64::new(0),
            background_running: AtomicBool::new(false),
            wake: config.background_refresh.then(|| Arc::new(Notify::new())),
            fetcher,
            config,
        }
    }

    pub(crate) fn control(&self) -> MutexGuard<'_, Control> {
        lock(&self.control)
    }

    /// Now, on the engine's clock.
    pub(crate) fn now(&self) -> SystemTime {
        self.config.time.now()
    }

    /// What the background task waits on between rounds (none without a task).
    pub(crate) fn wake(&self) -> Option<&Arc<Notify>> {
        self.wake.as_ref()
    }

    /// Wakes the background task, if there is one.
    pub(crate) fn notify_background(&self) {
        if let Some(wake) = &self.wake {
            wake.notify_one();
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // The last provider clone is gone: the background task wakes, finds no state, ends.
        self.notify_background();
    }
}

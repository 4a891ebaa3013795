//! The refresh engine: caches one session, hands it out without locks, and refreshes it —
//! once, however many callers — before it expires.
//!
//! The engine knows nothing about STS: it drives a [`FetchSession`], so the caching rules are
//! tested and reasoned about on their own (the same split as object_store's `TokenCache`).
//!
//! # States a caller can meet
//!
//! | now is …                         | the caller gets …                                        |
//! |----------------------------------|----------------------------------------------------------|
//! | before the refresh point         | the cached session (lock-free, no allocation)            |
//! | in the advisory window           | the cached session at once; one background refresh starts|
//! | in the mandatory window          | waits for the one refresh; the cached session if it fails|
//! | past expiry, or nothing cached   | waits for the one refresh; its error if it fails         |
//!
//! A failed refresh schedules the next attempt after a jittered exponential backoff; until then
//! no caller starts another STS call: callers get the still-valid session or, once it has
//! expired, the last error at once.

use crate::clock::{Clock, nanos_since_epoch};
use crate::error::SharedFailure;
use crate::refresh::backoff::Backoff;
use crate::refresh::replica;
use crate::refresh::schedule::RefreshSchedule;
use crate::session::Session;
use arc_swap::ArcSwapOption;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, error::CredentialsError, future};
use aws_smithy_async::future::timeout::Timeout;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tracing::Instrument;

/// A boxed, sendable future, as fetchers return them.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Obtains a new session. Implemented by the STS call; fakes implement it in tests.
pub(crate) trait FetchSession: Send + Sync + fmt::Debug + 'static {
    /// Fetches one session. Called by at most one refresh at a time per engine.
    fn fetch(&self) -> BoxFuture<'_, Result<Session, CredentialsError>>;

    /// The tracing span a refresh runs in, with the fields that identify the session.
    fn refresh_span(&self) -> tracing::Span;

    /// Told when the provider is invalidated while holding these credentials: a fetcher that
    /// keeps sessions elsewhere (the file cache) must not hand them back.
    fn discard(&self, _credentials: &Credentials) {}
}

/// How often rounds of "wait for the refresh in flight" may be abandoned (the refresh task
/// cancelled, e.g. by a runtime shutting down) before a caller gives up.
const MAX_ABANDONED_ROUNDS: usize = 3;

/// Shortest pause of the keep-warm task between two checks.
const KEEP_WARM_MIN_NAP: Duration = Duration::from_secs(1);
/// Longest pause of the keep-warm task between two checks, so that a clock that jumps is
/// noticed within this time.
const KEEP_WARM_MAX_NAP: Duration = Duration::from_secs(300);

/// Tunables of the engine, set from the builder.
#[derive(Debug, Clone)]
pub(crate) struct EngineConfig {
    pub(crate) load_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) jitter: bool,
}

/// One cached session and its schedule.
struct CachedSession {
    credentials: Credentials,
    schedule: RefreshSchedule,
    /// `schedule.refresh_at` and `schedule.mandatory_at` in nanoseconds since the epoch: what
    /// the hot path compares the clock with.
    refresh_at_nanos: u64,
    mandatory_at_nanos: u64,
}

impl CachedSession {
    fn new(credentials: Credentials, schedule: RefreshSchedule) -> Self {
        CachedSession {
            credentials,
            refresh_at_nanos: nanos_since_epoch(schedule.refresh_at),
            mandatory_at_nanos: nanos_since_epoch(schedule.mandatory_at),
            schedule,
        }
    }
}

/// How a refresh ended, as told to the callers waiting for it.
#[derive(Clone)]
enum Outcome {
    Fresh(Arc<CachedSession>),
    Failed(SharedFailure),
    /// The refresh task was dropped before it finished; waiters start over.
    Abandoned,
}

/// The part of the state that changes only around refreshes. Guarded by a `std` mutex that
/// is held for a few instructions and never across an `.await`.
#[derive(Default)]
struct Control {
    /// The refresh in flight, if any: callers subscribe to its outcome.
    in_flight: Option<watch::Receiver<Option<Outcome>>>,
    /// Consecutive failed refreshes.
    failures: u32,
    /// No new refresh starts before this point (the backoff after a failure).
    retry_not_before: Option<SystemTime>,
    /// The error of the last failed refresh, returned while backing off with nothing valid.
    last_failure: Option<SharedFailure>,
}

struct EngineInner {
    /// Tells this engine's per-thread replicas apart from other engines'.
    id: u64,
    /// Bumped after every change of `current`: per-thread replicas of an older generation are
    /// stale.
    generation: AtomicU64,
    /// The cached session; read without locks on every call.
    current: ArcSwapOption<CachedSession>,
    /// Mirrors `control.in_flight.is_some()` so that callers in the advisory window skip the
    /// mutex while a refresh runs.
    refreshing: AtomicBool,
    control: Mutex<Control>,
    /// Refresh attempts started since creation (observability and tests).
    attempts: AtomicU64,
    fetcher: Arc<dyn FetchSession>,
    time: Clock,
    sleep: SharedAsyncSleep,
    config: EngineConfig,
}

/// The cache and refresh logic behind a provider. Clones share one cache.
#[derive(Clone)]
pub(crate) struct RefreshEngine {
    inner: Arc<EngineInner>,
}

impl fmt::Debug for RefreshEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the schedule: the credentials stay out of every Debug output.
        let current = self.inner.current.load();
        f.debug_struct("RefreshEngine")
            .field(
                "expires_at",
                &current.as_ref().map(|s| s.schedule.expires_at),
            )
            .field(
                "refresh_at",
                &current.as_ref().map(|s| s.schedule.refresh_at),
            )
            .field("refreshing", &self.inner.refreshing.load(Ordering::Relaxed))
            .field("config", &self.inner.config)
            .finish()
    }
}

impl RefreshEngine {
    pub(crate) fn new(
        fetcher: Arc<dyn FetchSession>,
        time: Clock,
        sleep: SharedAsyncSleep,
        config: EngineConfig,
    ) -> Self {
        RefreshEngine {
            inner: Arc::new(EngineInner {
                id: replica::next_engine_id(),
                generation: AtomicU64::new(0),
                current: ArcSwapOption::empty(),
                refreshing: AtomicBool::new(false),
                control: Mutex::new(Control::default()),
                attempts: AtomicU64::new(0),
                fetcher,
                time,
                sleep,
                config,
            }),
        }
    }

    /// Credentials for one caller. Ready at once (no allocation, no lock) whenever a session
    /// outside the mandatory window is cached.
    #[inline]
    pub(crate) fn provide(&self) -> future::ProvideCredentials<'_> {
        let inner = &*self.inner;
        let now = inner.time.now_nanos();
        // This thread's own copy first: cloning it touches no shared cache line.
        let generation = inner.generation.load(Ordering::Acquire);
        if let Some(credentials) = replica::fresh(inner.id, generation, now) {
            return future::ProvideCredentials::ready(Ok(credentials));
        }
        {
            let current = inner.current.load();
            if let Some(session) = current.as_deref() {
                if now < session.refresh_at_nanos {
                    // `current` is at least as new as `generation` (it is stored before the
                    // generation is bumped), so the copy is never older than its tag says.
                    replica::keep(
                        inner.id,
                        generation,
                        session.refresh_at_nanos,
                        &session.credentials,
                    );
                    return future::ProvideCredentials::ready(Ok(session.credentials.clone()));
                }
                if now < session.mandatory_at_nanos {
                    let credentials = session.credentials.clone();
                    drop(current);
                    self.refresh_in_background(self.inner.time.now());
                    return future::ProvideCredentials::ready(Ok(credentials));
                }
            }
        }
        future::ProvideCredentials::new(self.wait_for_session())
    }

    /// The cached session while it is valid: what to use when loading was interrupted.
    pub(crate) fn fallback(&self) -> Option<Credentials> {
        let now = self.inner.time.now();
        self.inner
            .current
            .load()
            .as_deref()
            .filter(|s| now < s.schedule.expires_at)
            .map(|s| s.credentials.clone())
    }

    /// The expiry of the cached session, in the local clock's frame.
    pub(crate) fn expiry(&self) -> Option<SystemTime> {
        self.inner
            .current
            .load()
            .as_deref()
            .map(|s| s.schedule.expires_at)
    }

    /// Drops the cached session and any backoff: the next call fetches a new session.
    pub(crate) fn invalidate(&self) {
        if let Some(dropped) = self.inner.current.swap(None) {
            self.inner.fetcher.discard(&dropped.credentials);
        }
        self.inner.generation.fetch_add(1, Ordering::Release);
        let mut control = self.lock();
        control.failures = 0;
        control.retry_not_before = None;
        control.last_failure = None;
    }

    /// Refresh attempts started so far.
    pub(crate) fn attempts(&self) -> u64 {
        self.inner.attempts.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Control> {
        // A panic while holding this lock cannot leave `Control` inconsistent (every critical
        // section is a few plain assignments), so a poisoned lock is used as is.
        self.inner
            .control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a refresh in the background if none is in flight and the backoff allows one.
    /// Needs a Tokio runtime; without one, the mandatory window's callers refresh inline.
    fn refresh_in_background(&self, now: SystemTime) {
        if self.inner.refreshing.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let task = {
            let mut control = self.lock();
            if control.in_flight.is_some() || control.retry_not_before.is_some_and(|t| now < t) {
                return;
            }
            self.start_refresh(&mut control).1
        };
        runtime.spawn(task);
    }

    /// Registers a new refresh in `control` and returns its receiver and its task. The caller
    /// spawns the task (or, without a runtime, awaits it) after releasing the lock.
    fn start_refresh(
        &self,
        control: &mut Control,
    ) -> (
        watch::Receiver<Option<Outcome>>,
        impl Future<Output = ()> + Send + 'static,
    ) {
        let (sender, receiver) = watch::channel(None);
        control.in_flight = Some(receiver.clone());
        self.inner.refreshing.store(true, Ordering::Release);
        self.inner.attempts.fetch_add(1, Ordering::Relaxed);
        (receiver, run_refresh(self.inner.clone(), sender))
    }

    /// The slow path: nothing usable without waiting, so join (or start) the refresh.
    async fn wait_for_session(&self) -> provider::Result {
        for _ in 0..MAX_ABANDONED_ROUNDS {
            let now = self.inner.time.now();
            let current = self.inner.current.load_full();
            if let Some(session) = current.as_deref() {
                // Another caller's refresh may have landed since the fast path looked.
                if now < session.schedule.mandatory_at {
                    if now >= session.schedule.refresh_at {
                        self.refresh_in_background(now);
                    }
                    return Ok(session.credentials.clone());
                }
            }
            let still_valid = current.filter(|s| now < s.schedule.expires_at);
            let (receiver, inline_task) = {
                let mut control = self.lock();
                if let Some(receiver) = &control.in_flight {
                    (receiver.clone(), None)
                } else if control.retry_not_before.is_some_and(|t| now < t) {
                    return match (still_valid, &control.last_failure) {
                        (Some(session), _) => Ok(session.credentials.clone()),
                        (None, Some(failure)) => Err(failure.to_error()),
                        (None, None) => Err(CredentialsError::not_loaded(
                            "no session is cached and the next refresh is backing off",
                        )),
                    };
                } else {
                    let (receiver, task) = self.start_refresh(&mut control);
                    (receiver, Some(task))
                }
            };
            let outcome = match inline_task {
                Some(task) => match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => {
                        runtime.spawn(task);
                        wait_for_outcome(receiver).await
                    }
                    Err(_) => {
                        // No runtime to spawn on: this caller drives the refresh itself.
                        // Dropping it abandons the refresh and the waiters start over.
                        task.await;
                        wait_for_outcome(receiver).await
                    }
                },
                None => wait_for_outcome(receiver).await,
            };
            match outcome {
                Outcome::Fresh(session) => return Ok(session.credentials.clone()),
                Outcome::Failed(failure) => {
                    let now = self.inner.time.now();
                    return match still_valid.filter(|s| now < s.schedule.expires_at) {
                        Some(session) => Ok(session.credentials.clone()),
                        None => Err(failure.to_error()),
                    };
                }
                Outcome::Abandoned => continue,
            }
        }
        Err(CredentialsError::provider_error(
            "the session refresh was cancelled repeatedly (is the async runtime shutting down?)",
        ))
    }

    /// One round of the keep-warm task: refreshes if due, then says how long to pause.
    async fn keep_warm_round(&self) -> Duration {
        let now = self.inner.time.now();
        let due = self
            .inner
            .current
            .load()
            .as_deref()
            .is_none_or(|s| now >= s.schedule.refresh_at);
        if due {
            let receiver = {
                let mut control = self.lock();
                match &control.in_flight {
                    Some(receiver) => Some((receiver.clone(), None)),
                    None if control.retry_not_before.is_some_and(|t| now < t) => None,
                    None => {
                        let (receiver, task) = self.start_refresh(&mut control);
                        Some((receiver, Some(task)))
                    }
                }
            };
            if let Some((receiver, task)) = receiver {
                if let Some(task) = task {
                    tokio::spawn(task);
                }
                let _ = wait_for_outcome(receiver).await;
            }
        }
        let now = self.inner.time.now();
        let until_due = self
            .inner
            .current
            .load()
            .as_deref()
            .and_then(|s| s.schedule.refresh_at.duration_since(now).ok())
            .filter(|d| !d.is_zero());
        let until_retry = self
            .lock()
            .retry_not_before
            .and_then(|t| t.duration_since(now).ok());
        until_due
            .or(until_retry)
            .unwrap_or(KEEP_WARM_MIN_NAP)
            .clamp(KEEP_WARM_MIN_NAP, KEEP_WARM_MAX_NAP)
    }

    /// Starts the keep-warm task: it refreshes on schedule with no callers, and ends when
    /// `shutdown`'s sender is dropped (the last provider clone) or the engine is gone.
    pub(crate) fn spawn_keep_warm(
        &self,
        runtime: &tokio::runtime::Handle,
        shutdown: watch::Receiver<()>,
    ) {
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(keep_warm(weak, shutdown));
    }
}

async fn keep_warm(weak: Weak<EngineInner>, mut shutdown: watch::Receiver<()>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let engine = RefreshEngine { inner };
        let sleep = engine.inner.sleep.clone();
        let nap = tokio::select! {
            nap = engine.keep_warm_round() => nap,
            _ = shutdown.changed() => return,
        };
        drop(engine);
        tokio::select! {
            _ = sleep.sleep(nap) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn wait_for_outcome(mut receiver: watch::Receiver<Option<Outcome>>) -> Outcome {
    match receiver.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone().unwrap_or(Outcome::Abandoned),
        // The sender is gone without a word: the task was dropped before its guard ran.
        Err(_) => Outcome::Abandoned,
    }
}

/// Ends a refresh exactly once: clears the in-flight mark, updates the backoff, and tells the
/// waiters. If the refresh future is dropped half-way, `Drop` reports it as abandoned so that
/// no caller waits forever and the next one starts a new refresh.
struct InFlight {
    inner: Arc<EngineInner>,
    sender: Option<watch::Sender<Option<Outcome>>>,
}

impl InFlight {
    fn finish(&mut self, outcome: Outcome, now: SystemTime) {
        let Some(sender) = self.sender.take() else {
            return;
        };
        {
            let mut control = self
                .inner
                .control
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            control.in_flight = None;
            match &outcome {
                Outcome::Fresh(_) => {
                    control.failures = 0;
                    control.retry_not_before = None;
                    control.last_failure = None;
                }
                Outcome::Failed(failure) => {
                    control.failures = control.failures.saturating_add(1);
                    let delay = self
                        .inner
                        .config
                        .backoff
                        .delay(control.failures, fastrand::f64());
                    control.retry_not_before = Some(now + delay);
                    control.last_failure = Some(failure.clone());
                }
                Outcome::Abandoned => {}
            }
            self.inner.refreshing.store(false, Ordering::Release);
        }
        // Nobody listening is fine: the result is already in `current`/`control`.
        let _ = sender.send(Some(outcome));
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.sender.is_some() {
            let now = self.inner.time.now();
            self.finish(Outcome::Abandoned, now);
        }
    }
}

/// One refresh: fetch under the load timeout, check the session, publish it.
async fn run_refresh(inner: Arc<EngineInner>, sender: watch::Sender<Option<Outcome>>) {
    let mut in_flight = InFlight {
        inner: inner.clone(),
        sender: Some(sender),
    };
    let span = inner.fetcher.refresh_span();
    let timeout = inner.config.load_timeout;
    let fetched = Timeout::new(inner.fetcher.fetch(), inner.sleep.sleep(timeout))
        .instrument(span.clone())
        .await;
    let now = inner.time.now();
    let outcome = match fetched {
        Ok(Ok(session)) if session.expires_at > now => {
            let jitter = if inner.config.jitter {
                fastrand::f64()
            } else {
                0.0
            };
            let received_at = session.received_at.min(now);
            let schedule = RefreshSchedule::new(received_at, session.expires_at, jitter);
            let cached = Arc::new(CachedSession::new(session.credentials, schedule));
            inner.current.store(Some(cached.clone()));
            inner.generation.fetch_add(1, Ordering::Release);
            span.record("expiry", tracing::field::debug(schedule.expires_at));
            span.record("outcome", "refreshed");
            span.in_scope(|| {
                tracing::info!(
                    expires_at = ?schedule.expires_at,
                    refresh_at = ?schedule.refresh_at,
                    "obtained a new session"
                );
            });
            Outcome::Fresh(cached)
        }
        Ok(Ok(session)) => Outcome::Failed(SharedFailure::new(CredentialsError::provider_error(
            crate::error::FetchError::InvalidResponse {
                operation: "session",
                problem: format!(
                    "the session expired at {:?}, before it could be used (local clock: {:?})",
                    session.expires_at, now
                ),
            },
        ))),
        Ok(Err(error)) => Outcome::Failed(SharedFailure::new(error)),
        Err(_timed_out) => Outcome::Failed(SharedFailure::new(
            CredentialsError::provider_timed_out(timeout),
        )),
    };
    if let Outcome::Failed(failure) = &outcome {
        let cached_valid_until = inner
            .current
            .load()
            .as_deref()
            .map(|s| s.schedule.expires_at)
            .filter(|expiry| now < *expiry);
        span.record("outcome", "failed");
        span.in_scope(|| match cached_valid_until {
            Some(until) => tracing::warn!(
                error = %failure,
                serving_cached_until = ?until,
                "session refresh failed; serving the cached session while it is valid"
            ),
            None => tracing::warn!(error = %failure, "session refresh failed"),
        });
    }
    in_flight.finish(outcome, now);
}

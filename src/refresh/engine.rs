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
//!
//! Callers are not the only ones to start refreshes: with a Tokio runtime at hand, the
//! [background task](super::background) refreshes at the refresh point whether or not anyone
//! calls. SDK clients put their own identity cache in front of the provider and ask it again
//! only seconds before expiry — inside the mandatory window — so without the task the
//! advisory window would never be seen by them.

use crate::clock::Clock;
use crate::error::SharedFailure;
use crate::refresh::attempt::{Outcome, RefreshAttempt, wait_for_outcome};
use crate::refresh::backoff::Backoff;
use crate::refresh::replica;
use crate::refresh::schedule::RefreshSchedule;
use crate::session::Session;
use crate::status::{ProviderStatus, RefreshListener};
use arc_swap::ArcSwapOption;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, error::CredentialsError, future};
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::{Notify, watch};

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

/// Tunables of the engine, set from the builder.
#[derive(Debug, Clone)]
pub(crate) struct EngineConfig {
    pub(crate) load_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) jitter: bool,
    /// Refresh from a background task at the refresh point, with or without callers.
    pub(crate) background_refresh: bool,
    /// Have the background task fetch the first session without waiting for a caller.
    pub(crate) prefetch: bool,
    /// Told of every refresh's outcome.
    pub(crate) on_refresh: Option<RefreshListener>,
}

/// One cached session and its schedule.
pub(crate) struct CachedSession {
    pub(crate) credentials: Credentials,
    pub(crate) schedule: RefreshSchedule,
    /// `schedule.refresh_at` and `schedule.mandatory_at` in nanoseconds since the epoch: what
    /// the hot path compares the clock with.
    refresh_at_nanos: u64,
    mandatory_at_nanos: u64,
}

impl CachedSession {
    pub(crate) fn new(credentials: Credentials, schedule: RefreshSchedule) -> Self {
        CachedSession {
            credentials,
            refresh_at_nanos: crate::clock::nanos_since_epoch(schedule.refresh_at),
            mandatory_at_nanos: crate::clock::nanos_since_epoch(schedule.mandatory_at),
            schedule,
        }
    }
}

/// The part of the state that changes only around refreshes. Guarded by a `std` mutex that
/// is held for a few instructions and never across an `.await`.
#[derive(Default)]
pub(crate) struct Control {
    /// The refresh in flight, if any: callers subscribe to its outcome.
    pub(crate) in_flight: Option<watch::Receiver<Option<Outcome>>>,
    /// Consecutive failed refreshes.
    pub(crate) failures: u32,
    /// No new refresh starts before this point (the backoff after a failure).
    pub(crate) retry_not_before: Option<SystemTime>,
    /// The error of the last failed refresh, returned while backing off with nothing valid.
    pub(crate) last_failure: Option<SharedFailure>,
}

pub(crate) struct EngineInner {
    /// Tells this engine's per-thread replicas apart from other engines'.
    id: u64,
    /// Bumped after every change of `current`: per-thread replicas of an older generation are
    /// stale.
    pub(crate) generation: AtomicU64,
    /// The cached session; read without locks on every call.
    pub(crate) current: ArcSwapOption<CachedSession>,
    /// Mirrors `control.in_flight.is_some()` so that callers in the advisory window skip the
    /// mutex while a refresh runs.
    pub(crate) refreshing: AtomicBool,
    control: Mutex<Control>,
    /// Refresh attempts started since creation.
    pub(crate) attempts: AtomicU64,
    /// Refresh attempts that failed since creation.
    pub(crate) failed_attempts: AtomicU64,
    /// Whether the background refresh task is alive; it clears this when it ends, also when
    /// its runtime drops it, so that the next call from a live runtime starts a new one.
    pub(crate) background_running: AtomicBool,
    /// Wakes the background task: a refresh ended, the session was dropped, or the engine is
    /// gone.
    pub(crate) wake: Arc<Notify>,
    pub(crate) fetcher: Arc<dyn FetchSession>,
    pub(crate) time: Clock,
    pub(crate) sleep: SharedAsyncSleep,
    pub(crate) config: EngineConfig,
}

impl EngineInner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Control> {
        // A panic while holding this lock cannot leave `Control` inconsistent (every critical
        // section is a few plain assignments), so a poisoned lock is used as is.
        self.control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        // The last provider clone is gone: the background task wakes, finds no engine, ends.
        self.wake.notify_one();
    }
}

/// The cache and refresh logic behind a provider. Clones share one cache.
#[derive(Clone)]
pub(crate) struct RefreshEngine {
    pub(crate) inner: Arc<EngineInner>,
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

/// What a caller found when it wanted a refresh.
pub(crate) enum Join {
    /// A refresh is in flight: wait for its outcome here.
    InFlight(watch::Receiver<Option<Outcome>>),
    /// This caller started one: run (or spawn) the attempt, then wait on the receiver.
    Started(watch::Receiver<Option<Outcome>>, RefreshAttempt),
    /// None may start before the backoff after the last failure has passed.
    BackingOff(Option<SharedFailure>),
}

impl RefreshEngine {
    pub(crate) fn new(
        fetcher: Arc<dyn FetchSession>,
        time: Clock,
        sleep: SharedAsyncSleep,
        config: EngineConfig,
    ) -> Self {
        let engine = RefreshEngine {
            inner: Arc::new(EngineInner {
                id: replica::next_engine_id(),
                generation: AtomicU64::new(0),
                current: ArcSwapOption::empty(),
                refreshing: AtomicBool::new(false),
                control: Mutex::new(Control::default()),
                attempts: AtomicU64::new(0),
                failed_attempts: AtomicU64::new(0),
                background_running: AtomicBool::new(false),
                wake: Arc::new(Notify::new()),
                fetcher,
                time,
                sleep,
                config,
            }),
        };
        engine.ensure_background_refresh();
        engine
    }

    /// Credentials for one caller. Ready at once (no allocation, no lock) whenever a session
    /// outside the mandatory window is cached.
    #[inline]
    pub(crate) fn provide(&self) -> future::ProvideCredentials<'_> {
        let inner = &*self.inner;
        if inner.config.background_refresh && !inner.background_running.load(Ordering::Acquire) {
            self.ensure_background_refresh();
        }
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

    /// Starts the background refresh task if it is switched on, not running, and a Tokio
    /// runtime is at hand.
    pub(crate) fn ensure_background_refresh(&self) {
        if !self.inner.config.background_refresh {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self
            .inner
            .background_running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            runtime.spawn(super::background::run(self));
        }
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
        {
            let mut control = self.inner.lock();
            control.failures = 0;
            control.retry_not_before = None;
            control.last_failure = None;
        }
        self.inner.wake.notify_one();
    }

    /// Refresh attempts started so far.
    pub(crate) fn attempts(&self) -> u64 {
        self.inner.attempts.load(Ordering::Relaxed)
    }

    /// A snapshot of the cache and refresh state.
    pub(crate) fn status(&self) -> ProviderStatus {
        let inner = &*self.inner;
        let now = inner.time.now();
        let current = inner.current.load_full();
        let schedule = current.as_deref().map(|s| s.schedule);
        let control = inner.lock();
        let has_valid_session = schedule.is_some_and(|s| now < s.expires_at);
        ProviderStatus {
            has_valid_session,
            expires_at: schedule.map(|s| s.expires_at),
            refresh_at: schedule.map(|s| s.refresh_at),
            refreshing: control.in_flight.is_some(),
            next_attempt_at: control.retry_not_before.filter(|t| now < *t),
            refreshes_started: inner.attempts.load(Ordering::Relaxed),
            refreshes_failed: inner.failed_attempts.load(Ordering::Relaxed),
            failures_in_a_row: control.failures,
            last_error: control.last_failure.as_ref().map(ToString::to_string),
            serving_cached_after_failure: has_valid_session && control.failures > 0,
            background_refresh_running: inner.background_running.load(Ordering::Acquire),
        }
    }

    /// Joins the refresh in flight, or starts one if the backoff allows.
    pub(crate) fn join_or_start(&self, now: SystemTime) -> Join {
        let mut control = self.inner.lock();
        if let Some(receiver) = &control.in_flight {
            return Join::InFlight(receiver.clone());
        }
        if control.retry_not_before.is_some_and(|t| now < t) {
            return Join::BackingOff(control.last_failure.clone());
        }
        let (sender, receiver) = watch::channel(None);
        control.in_flight = Some(receiver.clone());
        self.inner.refreshing.store(true, Ordering::Release);
        self.inner.attempts.fetch_add(1, Ordering::Relaxed);
        Join::Started(receiver, RefreshAttempt::new(self.inner.clone(), sender))
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
        if let Join::Started(_, attempt) = self.join_or_start(now) {
            runtime.spawn(attempt.run());
        }
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
            let receiver = match self.join_or_start(now) {
                Join::InFlight(receiver) => receiver,
                Join::BackingOff(last_failure) => {
                    return match (still_valid, last_failure) {
                        (Some(session), _) => Ok(session.credentials.clone()),
                        (None, Some(failure)) => Err(failure.to_error()),
                        (None, None) => Err(CredentialsError::not_loaded(
                            "no session is cached and the next refresh is backing off",
                        )),
                    };
                }
                Join::Started(receiver, attempt) => {
                    match tokio::runtime::Handle::try_current() {
                        Ok(runtime) => {
                            runtime.spawn(attempt.run());
                        }
                        // No runtime to spawn on: this caller drives the refresh itself.
                        // Dropping it abandons the refresh and the waiters start over.
                        Err(_) => attempt.run().await,
                    }
                    receiver
                }
            };
            match wait_for_outcome(receiver).await {
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
}

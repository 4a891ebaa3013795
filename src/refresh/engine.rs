//! The refresh engine: caches one session, hands it out without locks, and refreshes it —
//! once, however many callers — before it expires.
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
//! background task (`background.rs`) refreshes at the refresh point whether or not anyone
//! calls. SDK clients put their own identity cache in front of the provider and ask it again
//! only seconds before expiry — inside the mandatory window — so without the task the
//! advisory window would never be seen by them.

use crate::refresh::FetchSession;
use crate::refresh::attempt::{Join, join_or_start, wait_for_outcome};
use crate::refresh::background;
use crate::refresh::state::{AttemptResult, CachedSession, EngineConfig, State};
use crate::status::ProviderStatus;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, error::CredentialsError, future};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

/// How often rounds of "wait for the refresh in flight" may be abandoned (the refresh task
/// cancelled, e.g. by a runtime shutting down) before a caller gives up.
const MAX_ABANDONED_ROUNDS: usize = 3;

/// How often a waiting caller looks at the cache before it gives up: each look after the
/// first follows a refresh that ended, an invalidation, or an abandoned round, so only a
/// provider invalidated over and over while it waits ever reaches this.
const MAX_LOOKS: usize = 16;

/// The cache and refresh logic behind a provider. Clones share one cache.
#[derive(Clone)]
pub(crate) struct RefreshEngine {
    state: Arc<State>,
}

impl fmt::Debug for RefreshEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the schedule: the credentials stay out of every Debug output.
        let current = self.state.current.load();
        f.debug_struct("RefreshEngine")
            .field("schedule", &current.as_ref().map(|s| s.schedule))
            .field("refreshing", &self.state.control().in_flight.is_some())
            .field("config", &self.state.config)
            .finish()
    }
}

impl RefreshEngine {
    /// An engine with nothing cached; its background task starts now if a runtime is at
    /// hand, else at the first call made on one.
    pub(crate) fn new(fetcher: Arc<dyn FetchSession>, config: Arc<EngineConfig>) -> Self {
        let engine = RefreshEngine {
            state: Arc::new(State::new(fetcher, config)),
        };
        engine.ensure_background_refresh();
        engine
    }

    /// Credentials for one caller. Ready at once (no allocation, no lock) whenever a session
    /// outside the mandatory window is cached.
    pub(crate) fn provide(&self) -> future::ProvideCredentials<'_> {
        match self.cached_now(|session| session.credentials.clone()) {
            Some(credentials) => future::ProvideCredentials::ready(Ok(credentials)),
            None => future::ProvideCredentials::new(self.wait_for_session()),
        }
    }

    /// What `take` makes of the cached session, if a caller may have it now — before its
    /// refresh point, or in its advisory window (a refresh is then started in the
    /// background) — with no lock and no allocation of its own. `None`: the caller waits for
    /// a session ([`provide`](Self::provide)).
    pub(crate) fn cached_now<R>(&self, take: impl FnOnce(&CachedSession) -> R) -> Option<R> {
        let state = &*self.state;
        if state.config.background_refresh && !state.background_running.load(Ordering::Acquire) {
            self.ensure_background_refresh();
        }
        let now = state.now();
        let current = state.current.load();
        let session = current.as_ref()?;
        if now < session.schedule.refresh_at {
            return Some(take(session));
        }
        if now < session.schedule.mandatory_at {
            self.refresh_in_background(now, session);
            return Some(take(session));
        }
        None
    }

    /// Starts the background refresh task if it is switched on, not running, and a Tokio
    /// runtime is at hand.
    pub(crate) fn ensure_background_refresh(&self) {
        if !self.state.config.background_refresh {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self
            .state
            .background_running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            runtime.spawn(background::run(&self.state));
        }
    }

    /// The cached session while it is valid: what to use when loading was interrupted.
    pub(crate) fn fallback(&self) -> Option<Credentials> {
        let now = self.state.now();
        self.state
            .current
            .load()
            .as_deref()
            .filter(|s| now < s.schedule.expires_at)
            .map(|s| s.credentials.clone())
    }

    /// The expiry of the cached session, in the local clock's frame.
    pub(crate) fn expiry(&self) -> Option<SystemTime> {
        self.state
            .current
            .load()
            .as_deref()
            .map(|s| s.schedule.expires_at)
    }

    /// Drops the cached session and any backoff: the next call fetches a new session. A
    /// refresh in flight is not cut short (its fetch may be asking for an MFA code), but what
    /// it fetched is not kept: its waiters, and callers who join it, start a new one.
    pub(crate) fn invalidate(&self) {
        let dropped = {
            let mut control = self.state.control();
            control.generation = control.generation.wrapping_add(1);
            control.failures = 0;
            control.retry_not_before = None;
            control.last_failure = None;
            self.state.current.swap(None)
        };
        if let Some(dropped) = dropped {
            self.state.fetcher.discard(&dropped.credentials);
        }
        self.state.notify_background();
    }

    /// Now, on the engine's clock.
    pub(crate) fn now(&self) -> SystemTime {
        self.state.now()
    }

    /// Whether a refresh is in flight.
    pub(crate) fn refreshing(&self) -> bool {
        self.state.control().in_flight.is_some()
    }

    /// Whether the session is past its refresh point and still valid at `now`.
    pub(crate) fn refresh_due(&self, now: SystemTime) -> bool {
        self.state
            .current
            .load()
            .as_deref()
            .is_some_and(|s| now >= s.schedule.refresh_at && now < s.schedule.expires_at)
    }

    /// Refreshes now, on the caller's task, if the session is past its refresh point and
    /// still valid, none is in flight and the backoff allows: what the scoped sessions'
    /// scheduler calls instead of a background task per engine. Whether it fetched.
    pub(crate) async fn refresh_if_due(&self) -> bool {
        let state = &self.state;
        let now = state.now();
        let current = state.current.load_full();
        let due = current
            .as_deref()
            .is_some_and(|s| now >= s.schedule.refresh_at && now < s.schedule.expires_at);
        if !due {
            return false;
        }
        match join_or_start(state, now, current.as_ref(), false) {
            Join::Started(_, attempt) => {
                attempt.run().await;
                true
            }
            Join::InFlight(_) | Join::Changed | Join::BackingOff(_) => false,
        }
    }

    /// A snapshot of the cache and refresh state.
    pub(crate) fn status(&self) -> ProviderStatus {
        self.state.status()
    }

    /// Has the meter provider read this engine's state at each collection (its session's
    /// time to expiry, stale serving, failures, store counts), if metrics are on. For a
    /// provider's engine, not a scope's: scoped sessions report as a whole.
    #[cfg(feature = "telemetry")]
    pub(crate) fn observe_in_metrics(&self) {
        if let Some(metrics) = &self.state.config.metrics {
            let state: std::sync::Weak<dyn crate::telemetry::Observe> =
                Arc::downgrade(&self.state) as _;
            metrics.observe(state);
        }
    }

    /// Starts a refresh in the background if none is in flight, `seen` is still the cached
    /// session, and the backoff allows one. Needs a Tokio runtime; without one, the mandatory
    /// window's callers refresh inline.
    fn refresh_in_background(&self, now: SystemTime, seen: &Arc<CachedSession>) {
        if !self.state.config.spawn_refreshes {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if let Join::Started(_, attempt) = join_or_start(&self.state, now, Some(seen), false) {
            runtime.spawn(attempt.run());
        }
    }

    /// The slow path: nothing usable without waiting, so join (or start) the refresh.
    async fn wait_for_session(&self) -> provider::Result {
        let mut abandoned_rounds = 0;
        for _ in 0..MAX_LOOKS {
            let now = self.state.now();
            let current = self.state.current.load_full();
            if let Some(session) = &current {
                // Another caller's refresh may have landed since the fast path looked.
                if now < session.schedule.mandatory_at {
                    if now >= session.schedule.refresh_at {
                        self.refresh_in_background(now, session);
                    }
                    return Ok(session.credentials.clone());
                }
            }
            let receiver = match join_or_start(&self.state, now, current.as_ref(), true) {
                Join::Changed => continue,
                Join::InFlight(receiver) => receiver,
                Join::BackingOff(last_failure) => {
                    return match (valid_at(current, now), last_failure) {
                        (Some(session), _) => Ok(session.credentials.clone()),
                        (None, Some(failure)) => Err(failure.to_error()),
                        (None, None) => Err(CredentialsError::not_loaded(
                            "no session is cached and the next refresh is backing off",
                        )),
                    };
                }
                Join::Started(receiver, attempt) => {
                    let runtime = tokio::runtime::Handle::try_current()
                        .ok()
                        .filter(|_| self.state.config.spawn_refreshes);
                    match runtime {
                        Some(runtime) => {
                            runtime.spawn(attempt.run());
                        }
                        // No runtime to spawn on, or no task wanted: this caller drives the
                        // refresh itself. Dropping it abandons the refresh and the waiters
                        // start over.
                        None => attempt.run().await,
                    }
                    receiver
                }
            };
            match wait_for_outcome(receiver).await {
                // The attempt checked the session against the clock when it ended; a caller
                // that joined it may read the clock later (a clock that jumped, a session
                // that had seconds left): never hand out one that has expired since.
                AttemptResult::Refreshed(session)
                    if self.state.now() < session.schedule.expires_at =>
                {
                    return Ok(session.credentials.clone());
                }
                AttemptResult::Refreshed(_) | AttemptResult::Invalidated => {}
                AttemptResult::Failed(failure) => {
                    return match valid_at(current, self.state.now()) {
                        Some(session) => Ok(session.credentials.clone()),
                        None => Err(failure.to_error()),
                    };
                }
                AttemptResult::Abandoned => {
                    abandoned_rounds += 1;
                    if abandoned_rounds == MAX_ABANDONED_ROUNDS {
                        return Err(CredentialsError::provider_error(
                            "the session refresh was cancelled repeatedly (is the async \
                             runtime shutting down?)",
                        ));
                    }
                }
            }
        }
        Err(CredentialsError::provider_error(
            "the session changed under every look (invalidated over and over?); gave up",
        ))
    }
}

impl State {
    /// A snapshot of the cache and refresh state.
    pub(crate) fn status(&self) -> ProviderStatus {
        let state = self;
        let now = state.now();
        let current = state.current.load_full();
        let schedule = current.as_deref().map(|s| s.schedule);
        let control = state.control();
        let has_valid_session = schedule.is_some_and(|s| now < s.expires_at);
        ProviderStatus {
            has_valid_session,
            expires_at: schedule.map(|s| s.expires_at),
            refresh_at: schedule.map(|s| s.refresh_at),
            refreshing: control.in_flight.is_some(),
            next_attempt_at: control.retry_not_before.filter(|t| now < *t),
            refreshes_started: state.attempts.load(Ordering::Relaxed),
            refreshes_failed: state.failed_attempts.load(Ordering::Relaxed),
            listener_panics: state.listener_panics.load(Ordering::Relaxed),
            failures_in_a_row: control.failures,
            last_error: control.last_failure.as_ref().map(ToString::to_string),
            serving_cached_after_failure: has_valid_session && control.failures > 0,
            background_refresh_running: state.background_running.load(Ordering::Acquire),
            #[cfg(feature = "session-store")]
            store: state.fetcher.store_counts(),
        }
    }
}

/// What the metrics read at each collection: the session's time to expiry, stale serving and
/// failures — one short lock, nothing formatted (unlike `status`, which renders the last
/// error).
#[cfg(feature = "telemetry")]
impl crate::telemetry::Observe for State {
    fn snapshot(&self) -> crate::telemetry::Snapshot {
        use crate::telemetry::{SessionGauges, Snapshot};
        let now = self.now();
        let expires_at = self
            .current
            .load()
            .as_deref()
            .map(|s| s.schedule.expires_at);
        let time_to_expiry = expires_at
            .and_then(|expiry| expiry.duration_since(now).ok())
            .unwrap_or_default();
        let failures_in_a_row = self.control().failures;
        Snapshot {
            session: Some(SessionGauges {
                time_to_expiry,
                serving_stale: !time_to_expiry.is_zero() && failures_in_a_row > 0,
                failures_in_a_row,
            }),
            scopes: None,
            #[cfg(feature = "session-store")]
            store: self.fetcher.store_gauges(),
            #[cfg(not(feature = "session-store"))]
            store: None,
        }
    }
}

/// `session` if it has not expired at `now`.
fn valid_at(session: Option<Arc<CachedSession>>, now: SystemTime) -> Option<Arc<CachedSession>> {
    session.filter(|s| now < s.schedule.expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refresh::{Backoff, BoxFuture};
    use crate::session::{Session, SessionKeys};
    use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};
    use aws_smithy_async::test_util::tick_advance_sleep::{
        TickAdvanceSleep, TickAdvanceTime, tick_advance_time_and_sleep,
    };
    use aws_smithy_async::time::{SharedTimeSource, TimeSource};
    use std::collections::VecDeque;
    use std::future::Future;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);
    const MIN: Duration = Duration::from_secs(60);

    /// Answers each fetch with the next scripted result: `Ok(lifetime)` is a session that
    /// lasts that long from now, `Err(())` a failure.
    #[derive(Debug)]
    struct Scripted {
        time: TickAdvanceTime,
        sleep: TickAdvanceSleep,
        script: Mutex<VecDeque<Result<Duration, ()>>>,
        fetches: AtomicUsize,
        /// How long each fetch takes, on the injected clock.
        takes: Duration,
    }

    impl FetchSession for Scripted {
        fn fetch(&self) -> BoxFuture<'_, Result<Session, CredentialsError>> {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
            let next = self.script.lock().unwrap().pop_front().unwrap_or(Ok(HOUR));
            Box::pin(async move {
                if !self.takes.is_zero() {
                    self.sleep.sleep(self.takes).await;
                }
                let now = self.time.now();
                let lifetime = next.map_err(|()| CredentialsError::provider_error("scripted"))?;
                let keys = SessionKeys {
                    access_key_id: format!("ASIA{n}"),
                    secret_access_key: "secret".into(),
                    session_token: "token".into(),
                    account_id: None,
                };
                Ok(Session::new(keys, now, now + lifetime))
            })
        }

        fn refresh_span(&self) -> tracing::Span {
            tracing::Span::none()
        }

        fn operation(&self) -> &'static str {
            "AssumeRole"
        }
    }

    struct Rig {
        time: TickAdvanceTime,
        fetcher: Arc<Scripted>,
        engine: RefreshEngine,
    }

    async fn rig(background_refresh: bool, script: Vec<Result<Duration, ()>>) -> Rig {
        slow_rig(background_refresh, script, Duration::ZERO).await
    }

    /// A rig whose fetches each take `takes` on its clock.
    async fn slow_rig(
        background_refresh: bool,
        script: Vec<Result<Duration, ()>>,
        takes: Duration,
    ) -> Rig {
        let (time, sleep) = tick_advance_time_and_sleep();
        time.tick(Duration::from_secs(1_700_000_000)).await;
        let fetcher = Arc::new(Scripted {
            time: time.clone(),
            sleep: sleep.clone(),
            script: Mutex::new(script.into()),
            fetches: AtomicUsize::new(0),
            takes,
        });
        let engine = RefreshEngine::new(
            fetcher.clone(),
            Arc::new(EngineConfig {
                time: SharedTimeSource::new(time.clone()),
                sleep: SharedAsyncSleep::new(sleep),
                load_timeout: Duration::from_secs(5),
                backoff: Backoff::default(),
                jitter: false,
                background_refresh,
                prefetch: false,
                spawn_refreshes: true,
                on_refresh: None,
                #[cfg(feature = "telemetry")]
                metrics: None,
            }),
        );
        Rig {
            time,
            fetcher,
            engine,
        }
    }

    impl Rig {
        fn fetches(&self) -> usize {
            self.fetcher.fetches.load(Ordering::SeqCst)
        }

        async fn settle(&self) {
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
        }

        /// The key the engine hands out now, if it answers without waiting.
        fn key_at_once(&self) -> Option<String> {
            let mut call = std::pin::pin!(self.engine.provide());
            match call
                .as_mut()
                .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
            {
                std::task::Poll::Ready(result) => Some(
                    result
                        .map(|c| c.access_key_id().to_owned())
                        .unwrap_or_default(),
                ),
                std::task::Poll::Pending => None,
            }
        }
    }

    #[tokio::test]
    async fn concurrent_first_callers_share_one_fetch() {
        let rig = rig(false, vec![]).await;
        let callers: Vec<_> = (0..100)
            .map(|_| {
                let engine = rig.engine.clone();
                tokio::spawn(async move { engine.provide().await })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap().unwrap().access_key_id(), "ASIA1");
        }
        assert_eq!(rig.fetches(), 1);
    }

    #[tokio::test]
    async fn the_advisory_window_answers_at_once_and_refreshes_once() {
        let rig = rig(false, vec![]).await;
        rig.engine.provide().await.unwrap();
        // Without jitter the refresh point is the start of the 15-minute advisory window.
        rig.time
            .tick(HOUR - 15 * MIN - Duration::from_secs(1))
            .await;
        assert_eq!(rig.key_at_once().as_deref(), Some("ASIA1"));
        assert_eq!(rig.fetches(), 1, "not yet");
        rig.time.tick(Duration::from_secs(2)).await;
        for _ in 0..10 {
            assert_eq!(
                rig.key_at_once().as_deref(),
                Some("ASIA1"),
                "the cached one, at once"
            );
        }
        rig.settle().await;
        assert_eq!(rig.fetches(), 2, "one background refresh for ten callers");
        assert_eq!(rig.key_at_once().as_deref(), Some("ASIA2"));
    }

    #[tokio::test]
    async fn a_failed_refresh_serves_the_valid_session_and_backs_off() {
        let rig = rig(false, vec![Ok(HOUR), Err(()), Err(())]).await;
        rig.engine.provide().await.unwrap();
        // In the mandatory window (last minute) callers wait for the refresh; it fails, so
        // they get the still-valid session.
        rig.time.tick(HOUR - Duration::from_secs(30)).await;
        assert_eq!(rig.engine.provide().await.unwrap().access_key_id(), "ASIA1");
        assert_eq!(rig.fetches(), 2);
        let status = rig.engine.status();
        assert!(status.serving_cached_after_failure && status.failures_in_a_row == 1);
        let retry_at = status.next_attempt_at.expect("backing off");
        // Until the backoff allows, no caller starts another fetch.
        for _ in 0..10 {
            assert_eq!(rig.key_at_once().as_deref(), Some("ASIA1"));
        }
        assert_eq!(rig.fetches(), 2);
        rig.time
            .tick(retry_at.duration_since(rig.time.now()).unwrap())
            .await;
        assert_eq!(rig.engine.provide().await.unwrap().access_key_id(), "ASIA1");
        assert_eq!(
            rig.fetches(),
            3,
            "one more attempt once the backoff allowed it"
        );
    }

    #[tokio::test]
    async fn an_expired_session_is_never_handed_out() {
        let rig = rig(false, vec![Ok(HOUR), Err(())]).await;
        rig.engine.provide().await.unwrap();
        rig.time.tick(HOUR).await;
        assert!(rig.engine.provide().await.is_err(), "the refresh failed");
        assert!(rig.engine.fallback().is_none());
        assert!(!rig.engine.status().has_valid_session);
        // Backing off with nothing valid: the last error, at once.
        assert_eq!(rig.key_at_once().as_deref(), Some(""));
        assert_eq!(rig.fetches(), 2);
    }

    #[tokio::test]
    async fn invalidate_drops_the_session_and_the_backoff() {
        let rig = rig(false, vec![Ok(HOUR), Err(()), Ok(HOUR)]).await;
        rig.engine.provide().await.unwrap();
        rig.engine.invalidate();
        assert!(rig.engine.provide().await.is_err());
        assert!(rig.engine.status().next_attempt_at.is_some());
        rig.engine.invalidate();
        assert_eq!(rig.engine.status().next_attempt_at, None);
        assert_eq!(rig.engine.provide().await.unwrap().access_key_id(), "ASIA3");
    }

    #[tokio::test]
    async fn the_background_task_refreshes_at_the_refresh_point_without_callers() {
        let rig = rig(true, vec![]).await;
        rig.engine.provide().await.unwrap();
        assert!(rig.engine.status().background_refresh_running);
        let refresh_at = rig.engine.status().refresh_at.unwrap();
        rig.time
            .tick(refresh_at.duration_since(rig.time.now()).unwrap() - Duration::from_secs(1))
            .await;
        rig.settle().await;
        assert_eq!(rig.fetches(), 1);
        rig.time.tick(Duration::from_secs(1)).await;
        rig.settle().await;
        assert_eq!(
            rig.fetches(),
            2,
            "refreshed at the refresh point, nobody calling"
        );
        assert_eq!(rig.key_at_once().as_deref(), Some("ASIA2"));
    }

    #[tokio::test]
    async fn a_caller_that_looked_before_a_refresh_landed_does_not_start_another() {
        let rig = rig(false, vec![]).await;
        let state = &rig.engine.state;
        let now = rig.time.now();
        // Two callers look at the empty cache; the first one's refresh runs to the end
        // before the second reaches the lock.
        let Join::Started(_, attempt) = join_or_start(state, now, None, true) else {
            panic!("the first caller starts the refresh");
        };
        attempt.run().await;
        assert!(
            matches!(join_or_start(state, now, None, true), Join::Changed),
            "the second caller is told to look again, not to fetch a second session"
        );
        assert_eq!(rig.fetches(), 1);
        assert_eq!(rig.engine.provide().await.unwrap().access_key_id(), "ASIA1");
        assert_eq!(rig.fetches(), 1);
    }

    #[tokio::test]
    async fn invalidating_during_a_refresh_keeps_nothing_it_fetched() {
        // Each fetch takes 2 s, well within the rig's 5 s load timeout.
        let rig = slow_rig(false, vec![], Duration::from_secs(2)).await;
        let engine = rig.engine.clone();
        let caller = tokio::spawn(async move { engine.provide().await });
        rig.settle().await;
        assert!(
            rig.engine.status().refreshing,
            "the first fetch is under way"
        );
        rig.engine.invalidate();
        // The first fetch ends; its session is dropped and the caller waits for a new one.
        rig.time.tick(Duration::from_secs(2)).await;
        rig.settle().await;
        assert_eq!(rig.fetches(), 2, "a new fetch after the invalidation");
        assert_eq!(rig.key_at_once(), None, "nothing from before it is served");
        rig.time.tick(Duration::from_secs(2)).await;
        let credentials = caller.await.unwrap().unwrap();
        assert_eq!(credentials.access_key_id(), "ASIA2");
        assert_eq!(rig.key_at_once().as_deref(), Some("ASIA2"));
        assert_eq!(rig.engine.status().refreshes_started, 2);
    }
}

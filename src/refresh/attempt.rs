//! One refresh attempt: joining the one in flight or starting it, fetching under the load
//! timeout, checking and publishing the session, and telling the waiting callers, the
//! background task and the user's listener how it ended.

use crate::error::panicked;
use crate::error::{FetchError, SharedFailure};
use crate::panic::{Panicked, catch_panic};
use crate::refresh::schedule::RefreshSchedule;
use crate::refresh::state::{AttemptResult, CachedSession, State};
use crate::session::{Origin, Session};
use crate::status::RefreshOutcome;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_async::future::timeout::Timeout;
use aws_smithy_async::rt::sleep::AsyncSleep;
use aws_smithy_types::DateTime;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use tokio::sync::watch;
use tracing::Instrument;

/// What a caller found when it wanted a refresh.
pub(crate) enum Join {
    /// The cached session is no longer the one the caller decided on (a refresh landed, or
    /// the provider was invalidated, between its look and the lock): look again.
    Changed,
    /// A refresh is in flight: wait for its outcome here.
    InFlight(watch::Receiver<Option<AttemptResult>>),
    /// This caller started one: run (or spawn) the attempt, then wait on the receiver.
    Started(watch::Receiver<Option<AttemptResult>>, RefreshAttempt),
    /// None may start before the backoff after the last failure has passed.
    BackingOff(Option<SharedFailure>),
}

/// Joins the refresh in flight, or starts one if the backoff allows: the one place where a
/// refresh begins, for callers and the background task alike. `seen` is the cached session
/// the caller decided on: the look and this call are not atomic, so a refresh may have
/// published a new session in between, and starting another then would be a second STS call
/// for one lifetime. `caller_waits`: whoever starts it waits for its outcome (for the
/// metrics: a refresh on a caller rather than in the background).
pub(crate) fn join_or_start(
    state: &Arc<State>,
    now: SystemTime,
    seen: Option<&Arc<CachedSession>>,
    caller_waits: bool,
) -> Join {
    let mut control = state.control();
    if let Some(receiver) = control.in_flight.clone() {
        control.waited_on |= caller_waits;
        return Join::InFlight(receiver);
    }
    // Sessions are published under this lock (`finish`, `invalidate`), so this comparison
    // sees every change made before the in-flight mark was cleared.
    if !same_session(state.current.load().as_ref(), seen) {
        return Join::Changed;
    }
    if control.retry_not_before.is_some_and(|t| now < t) {
        return Join::BackingOff(control.last_failure.clone());
    }
    let (sender, receiver) = watch::channel(None);
    control.in_flight = Some(receiver.clone());
    control.waited_on = caller_waits;
    state.attempts.fetch_add(1, Ordering::Relaxed);
    Join::Started(
        receiver,
        RefreshAttempt {
            state: state.clone(),
            sender: Some(sender),
            generation: control.generation,
            #[cfg(feature = "telemetry")]
            started: None,
            #[cfg(feature = "telemetry")]
            fetched: None,
        },
    )
}

/// Whether two looks at the cache found the same session (the same allocation: each refresh
/// publishes a new one, and the caller holds the one it saw, so the address is not reused).
fn same_session(a: Option<&Arc<CachedSession>>, b: Option<&Arc<CachedSession>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Waits for the outcome a refresh publishes on `receiver`.
pub(crate) async fn wait_for_outcome(
    mut receiver: watch::Receiver<Option<AttemptResult>>,
) -> AttemptResult {
    match receiver.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone().unwrap_or(AttemptResult::Abandoned),
        // The sender is gone without a word: the attempt was dropped before its guard ran.
        Err(_) => AttemptResult::Abandoned,
    }
}

/// A registered refresh, to be run (or spawned) by whoever started it. It ends exactly once:
/// if its future is dropped half-way, `Drop` reports it as abandoned, so that no caller waits
/// forever and the next one starts a new refresh.
pub(crate) struct RefreshAttempt {
    state: Arc<State>,
    sender: Option<watch::Sender<Option<AttemptResult>>>,
    /// `Control::generation` when it started: if the provider is invalidated meanwhile, what
    /// it fetched is not published (it may come from the credentials being invalidated).
    generation: u64,
    /// When it started fetching, and where the fetched session came from: for the metrics.
    #[cfg(feature = "telemetry")]
    started: Option<SystemTime>,
    #[cfg(feature = "telemetry")]
    fetched: Option<crate::session::Origin>,
}

impl RefreshAttempt {
    /// Fetches, checks and publishes one session, then tells the listener.
    pub(crate) async fn run(mut self) {
        let inner = self.state.clone();
        let span = inner.fetcher.refresh_span();
        let started = inner.now();
        #[cfg(feature = "telemetry")]
        {
            self.started = Some(started);
        }
        let fetched = self.fetch().instrument(span.clone()).await;
        #[cfg(feature = "telemetry")]
        {
            self.fetched = fetched.as_ref().ok().map(|session| session.origin);
        }
        let now = inner.now();
        let result = match fetched {
            Ok(session) => self.schedule(session, now, &span),
            Err(error) => AttemptResult::Failed(SharedFailure::new(error)),
        };
        let serving_cached_until = inner
            .current
            .load()
            .as_deref()
            .map(|s| s.schedule.expires_at)
            .filter(|expiry| now < *expiry);
        if let AttemptResult::Failed(failure) = &result {
            trace_failure(&span, failure, serving_cached_until);
        }
        let Finished {
            outcome,
            failures,
            retry_at,
        } = self.finish(result, now);
        let told = match &outcome {
            AttemptResult::Refreshed(session) => RefreshOutcome::Refreshed {
                expires_at: session.schedule.expires_at,
                refresh_at: session.schedule.refresh_at,
                took: now.duration_since(started).unwrap_or_default(),
            },
            AttemptResult::Failed(failure) => RefreshOutcome::Failed {
                error: failure.error(),
                failures_in_a_row: failures,
                next_attempt_at: retry_at.unwrap_or(now),
                serving_cached_until,
                took: now.duration_since(started).unwrap_or_default(),
            },
            // Nothing the listener should act on: no session was kept, no failure counted.
            AttemptResult::Abandoned | AttemptResult::Invalidated => return,
        };
        span.in_scope(|| self.tell_listener(&told));
    }

    /// Updates the refresh instruments, if metrics are on: called under the control lock,
    /// before the attempt is seen to end, so that a caller who sees it ended (or a status
    /// that no longer shows it refreshing) sees it counted. `waited_on`: a caller waited for
    /// it (started it, or joined it).
    #[cfg(feature = "telemetry")]
    fn record_metrics(&self, outcome: &AttemptResult, now: SystemTime, waited_on: bool) {
        use crate::telemetry::{Ended, RefreshRecord, Trigger};
        let inner = &*self.state;
        let Some(metrics) = &inner.config.metrics else {
            return;
        };
        let ended = match outcome {
            AttemptResult::Refreshed(_) => {
                Ended::Refreshed(self.fetched.unwrap_or(crate::session::Origin::Sts))
            }
            AttemptResult::Failed(failure) => Ended::Failed {
                error: failure.error(),
                fetched: self.fetched,
            },
            AttemptResult::Invalidated => Ended::Invalidated(self.fetched),
            AttemptResult::Abandoned => Ended::Abandoned,
        };
        metrics.record(&RefreshRecord {
            operation: inner.fetcher.sts_operation(),
            trigger: if waited_on {
                Trigger::Caller
            } else {
                Trigger::Background
            },
            took: self
                .started
                .and_then(|started| now.duration_since(started).ok())
                .unwrap_or_default(),
            ended,
            scope_label: inner.fetcher.scope_label(),
        });
    }

    /// One session from the fetcher, within the load timeout. The fetcher contains the
    /// panics of the parts it calls; this is the backstop for any other (a fake in tests, a
    /// bug here): a panic is a failure with backoff, never an attempt abandoned half-way.
    async fn fetch(&self) -> Result<Session, CredentialsError> {
        let inner = &*self.state;
        let timeout = inner.config.load_timeout;
        let fetch = async {
            catch_panic(inner.fetcher.fetch())
                .await
                .unwrap_or_else(|Panicked| {
                    Err(panicked(inner.fetcher.operation(), "the session fetch"))
                })
        };
        match Timeout::new(fetch, inner.config.sleep.sleep(timeout)).await {
            Ok(fetched) => fetched,
            Err(_timed_out) => Err(CredentialsError::provider_timed_out(timeout)),
        }
    }

    /// `session` with its (jittered) schedule, ready to publish, unless it has expired already.
    fn schedule(&self, session: Session, now: SystemTime, span: &tracing::Span) -> AttemptResult {
        let inner = &*self.state;
        if session.expires_at <= now {
            return AttemptResult::Failed(SharedFailure::new(CredentialsError::provider_error(
                FetchError::InvalidResponse {
                    operation: inner.fetcher.operation(),
                    problem: format!(
                        "the session expired at {}, before it could be used (local clock: {})",
                        DateTime::from(session.expires_at),
                        DateTime::from(now)
                    ),
                },
            )));
        }
        let jitter = if inner.config.jitter {
            fastrand::f64()
        } else {
            0.0
        };
        let received_at = session.received_at.min(now);
        let schedule = RefreshSchedule::new(received_at, session.expires_at, jitter);
        let cached = Arc::new(CachedSession::new(session.credentials, schedule));
        span.record(
            "expiry",
            tracing::field::display(DateTime::from(schedule.expires_at)),
        );
        let (outcome, message) = match session.origin {
            Origin::Sts => ("refreshed", "obtained a new session from STS"),
            #[cfg(feature = "session-store")]
            Origin::Store => (
                "from the session store",
                "took the session from the session store (no STS call)",
            ),
            #[cfg(feature = "profile")]
            Origin::Profile => (
                "read the profile's credentials",
                "read the profile's own credentials (no STS call)",
            ),
        };
        span.record("outcome", outcome);
        span.in_scope(|| {
            tracing::info!(
                expires_at = %DateTime::from(schedule.expires_at),
                refresh_at = %DateTime::from(schedule.refresh_at),
                "{message}"
            );
        });
        AttemptResult::Refreshed(cached)
    }

    /// Tells the user's listener, if any. The session is stored and the waiters are told
    /// already: a listener that panics changes nothing but a counter (and the warning `tell`
    /// logs).
    fn tell_listener(&self, told: &RefreshOutcome<'_>) {
        let inner = &*self.state;
        if let Some(listener) = &inner.config.on_refresh
            && listener.tell(told).is_err()
        {
            inner.listener_panics.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Publishes the session, clears the in-flight mark, updates the backoff, and tells the
    /// waiters and the background task.
    fn finish(&mut self, mut outcome: AttemptResult, now: SystemTime) -> Finished {
        let Some(sender) = self.sender.take() else {
            return Finished {
                outcome: AttemptResult::Abandoned,
                failures: 0,
                retry_at: None,
            };
        };
        let inner = &*self.state;
        let (failures, retry_at) = {
            let mut control = inner.control();
            control.in_flight = None;
            if control.generation != self.generation {
                // Invalidated while in flight: nothing of this attempt is kept, and whoever
                // waits for it starts a new one.
                outcome = AttemptResult::Invalidated;
            }
            match &outcome {
                AttemptResult::Refreshed(session) => {
                    inner.current.store(Some(session.clone()));
                    control.failures = 0;
                    control.retry_not_before = None;
                    control.last_failure = None;
                }
                AttemptResult::Failed(failure) => {
                    control.failures = control.failures.saturating_add(1);
                    let delay = inner
                        .config
                        .backoff
                        .delay(control.failures, fastrand::f64());
                    control.retry_not_before = Some(now + delay);
                    control.last_failure = Some(failure.clone());
                    inner.failed_attempts.fetch_add(1, Ordering::Relaxed);
                }
                AttemptResult::Abandoned | AttemptResult::Invalidated => {}
            }
            #[cfg(feature = "telemetry")]
            self.record_metrics(&outcome, now, control.waited_on);
            (control.failures, control.retry_not_before)
        };
        // Nobody listening is fine: the result is already in `current`/`control`.
        let _ = sender.send(Some(outcome.clone()));
        inner.notify_background();
        Finished {
            outcome,
            failures,
            retry_at,
        }
    }
}

/// How an attempt ended, once published.
struct Finished {
    /// What the waiters were told.
    outcome: AttemptResult,
    /// Failed refreshes in a row, this one included.
    failures: u32,
    /// When the next attempt may start, while backing off.
    retry_at: Option<SystemTime>,
}

/// Logs a failed refresh, saying whether the cached session is still served.
fn trace_failure(
    span: &tracing::Span,
    failure: &SharedFailure,
    serving_cached_until: Option<SystemTime>,
) {
    span.record("outcome", "failed");
    span.in_scope(|| match serving_cached_until {
        Some(until) => tracing::warn!(
            error = %failure,
            serving_cached_until = %DateTime::from(until),
            "session refresh failed; serving the cached session while it is valid"
        ),
        None => tracing::warn!(error = %failure, "session refresh failed"),
    });
}

impl Drop for RefreshAttempt {
    fn drop(&mut self) {
        if self.sender.is_some() {
            let now = self.state.now();
            let _ = self.finish(AttemptResult::Abandoned, now);
        }
    }
}

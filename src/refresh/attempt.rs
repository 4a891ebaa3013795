//! One refresh attempt: joining the one in flight or starting it, fetching under the load
//! timeout, checking and publishing the session, and telling the waiting callers, the
//! background task and the user's listener how it ended.

use crate::error::{FetchError, SharedFailure};
use crate::fetch::panicked;
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
    /// A refresh is in flight: wait for its outcome here.
    InFlight(watch::Receiver<Option<AttemptResult>>),
    /// This caller started one: run (or spawn) the attempt, then wait on the receiver.
    Started(watch::Receiver<Option<AttemptResult>>, RefreshAttempt),
    /// None may start before the backoff after the last failure has passed.
    BackingOff(Option<SharedFailure>),
}

/// Joins the refresh in flight, or starts one if the backoff allows: the one place where a
/// refresh begins, for callers and the background task alike.
pub(crate) fn join_or_start(state: &Arc<State>, now: SystemTime) -> Join {
    let mut control = state.control();
    if let Some(receiver) = &control.in_flight {
        return Join::InFlight(receiver.clone());
    }
    if control.retry_not_before.is_some_and(|t| now < t) {
        return Join::BackingOff(control.last_failure.clone());
    }
    let (sender, receiver) = watch::channel(None);
    control.in_flight = Some(receiver.clone());
    state.attempts.fetch_add(1, Ordering::Relaxed);
    Join::Started(
        receiver,
        RefreshAttempt {
            state: state.clone(),
            sender: Some(sender),
        },
    )
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
}

impl RefreshAttempt {
    /// Fetches, checks and publishes one session, then tells the listener.
    pub(crate) async fn run(mut self) {
        let inner = self.state.clone();
        let span = inner.fetcher.refresh_span();
        let started = inner.time.now();
        let fetched = self.fetch().instrument(span.clone()).await;
        let now = inner.time.now();
        let result = match fetched {
            Ok(session) => self.store(session, now, &span),
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
        let (failures, retry_at) = self.finish(result.clone(), now);
        let told = match &result {
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
            AttemptResult::Abandoned => return,
        };
        span.in_scope(|| self.tell_listener(&told));
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
        match Timeout::new(fetch, inner.sleep.sleep(timeout)).await {
            Ok(fetched) => fetched,
            Err(_timed_out) => Err(CredentialsError::provider_timed_out(timeout)),
        }
    }

    /// Caches `session` with its (jittered) schedule, unless it has expired already.
    fn store(&self, session: Session, now: SystemTime, span: &tracing::Span) -> AttemptResult {
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
        let cached = Arc::new(CachedSession {
            credentials: session.credentials,
            schedule,
        });
        inner.current.store(Some(cached.clone()));
        span.record(
            "expiry",
            tracing::field::display(DateTime::from(schedule.expires_at)),
        );
        let (outcome, message) = match session.origin {
            Origin::Sts => ("refreshed", "obtained a new session from STS"),
            #[cfg(feature = "file-cache")]
            Origin::FileCache => (
                "from the file cache",
                "took the session from the file cache (no STS call)",
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

    /// Clears the in-flight mark, updates the backoff, and tells the waiters and the
    /// background task. Returns the failures in a row and the next allowed attempt.
    fn finish(&mut self, outcome: AttemptResult, now: SystemTime) -> (u32, Option<SystemTime>) {
        let Some(sender) = self.sender.take() else {
            return (0, None);
        };
        let inner = &*self.state;
        let told = {
            let mut control = inner.control();
            control.in_flight = None;
            match &outcome {
                AttemptResult::Refreshed(_) => {
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
                AttemptResult::Abandoned => {}
            }
            (control.failures, control.retry_not_before)
        };
        // Nobody listening is fine: the result is already in `current`/`control`.
        let _ = sender.send(Some(outcome));
        inner.wake.notify_one();
        told
    }
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
            let now = self.state.time.now();
            self.finish(AttemptResult::Abandoned, now);
        }
    }
}

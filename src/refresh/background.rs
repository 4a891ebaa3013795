//! The background refresh task: refreshes the session at its refresh point whether or not
//! anyone calls, and retries with the backoff while refreshes fail.
//!
//! Why it exists: every SDK client puts its own identity cache in front of a credentials
//! provider, and that cache asks the provider again only 5 to 10 seconds before the session
//! expires — inside the mandatory window, where a caller waits for STS. Only a refresh that
//! does not wait for callers makes the advisory window, its jitter and outage absorption
//! real for requests made through SDK clients.
//!
//! One task per provider (clones share it). It holds the engine only weakly between rounds
//! and ends when the last clone is dropped. If its runtime drops it (a runtime shutting
//! down), it marks itself as gone, and the next call made on a live runtime starts a new one.

use crate::panic::catch_panic;
use crate::refresh::attempt::{Join, join_or_start, wait_for_outcome};
use crate::refresh::state::State;
use aws_smithy_async::rt::sleep::AsyncSleep;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

/// Shortest pause between two rounds.
const MIN_NAP: Duration = Duration::from_secs(1);
/// Longest pause between two rounds, so that a clock that jumps is noticed within this time.
const MAX_NAP: Duration = Duration::from_secs(300);

/// Marks the task as gone however it ends: returning, or dropped with its runtime.
struct Running(Weak<State>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            inner.background_running.store(false, Ordering::Release);
        }
    }
}

/// The task's body. `state.background_running` is already set by the spawner.
pub(crate) fn run(state: &Arc<State>) -> impl Future<Output = ()> + Send + 'static {
    let weak = Arc::downgrade(state);
    // An engine has its wake when background refresh is on, the only time this task runs;
    // without one the task would nap its whole nap.
    let wake = state.wake().cloned().unwrap_or_default();
    let sleep = state.config.sleep.clone();
    // Made before the task's first poll: a runtime that drops the task without ever running
    // it (it is shutting down, or a `block_on` ended) still clears the mark.
    let running = Running(weak.clone());
    async move {
        let _running = running;
        loop {
            let Some(state) = weak.upgrade() else { return };
            // Parts that panic are contained inside the attempt; should anything else in a
            // round panic, the task lives on and tries again later instead of being started
            // anew (and panicking again) by every call.
            let nap = catch_panic(round(&state)).await.unwrap_or(MAX_NAP);
            drop(state);
            // Between rounds only the weak reference is held: the last clone may go.
            tokio::select! {
                _ = sleep.sleep(nap) => {}
                _ = wake.notified() => {}
            }
        }
    }
}

/// One round: refreshes if the session is due (and the backoff allows), then says how long
/// to pause before the next round.
async fn round(state: &Arc<State>) -> Duration {
    let inner = &**state;
    let now = inner.now();
    let current = inner.current.load_full();
    let due = match current.as_deref() {
        // While the session is valid: from its refresh point on, retrying through failures.
        // Once it has expired, callers decide when to try again (each one that comes starts
        // a refresh the backoff allows); an idle provider does not call STS forever.
        Some(session) => now >= session.schedule.refresh_at && now < session.schedule.expires_at,
        // Nothing was fetched yet (or the session was invalidated): the next caller fetches,
        // unless asked to have one ready before anybody calls.
        None => inner.config.prefetch,
    };
    if due {
        match join_or_start(state, now, current.as_ref(), false) {
            Join::Started(_, attempt) => attempt.run().await,
            Join::InFlight(receiver) => {
                wait_for_outcome(receiver).await;
            }
            // A refresh landed since the look: the next round looks again.
            Join::Changed | Join::BackingOff(_) => {}
        }
    }
    next_nap(inner, inner.now())
}

/// Until the refresh point, or until the backoff allows the next attempt.
fn next_nap(inner: &State, now: SystemTime) -> Duration {
    let until = |t: SystemTime| t.duration_since(now).ok().filter(|d| !d.is_zero());
    let current = inner.current.load();
    let until_refresh = current
        .as_deref()
        .and_then(|s| until(s.schedule.refresh_at));
    let until_retry = inner.control().retry_not_before.and_then(until);
    let expired = current
        .as_deref()
        .is_some_and(|s| now >= s.schedule.expires_at);
    let idle = expired || (current.is_none() && !inner.config.prefetch);
    let nap = match until_refresh {
        Some(d) => d,
        // Nothing to refresh until a caller fetches a session; a new session wakes the task.
        None if idle => MAX_NAP,
        None => until_retry.unwrap_or(MIN_NAP),
    };
    nap.clamp(MIN_NAP, MAX_NAP)
}

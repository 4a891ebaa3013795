//! The STS limiter every scope's fetch goes through: at most so many STS calls in flight and
//! so many started per second, shared by first loads and refreshes alike. The rate is paced
//! (a token bucket that holds one call): calls start at least `1/rate` apart, so no window of
//! a second ever sees more than the rate — a bucket holding a second's worth would let twice
//! the rate through across two seconds' boundary, the burst STS throttles.
//! Waiters are served in order of arrival within their class, and first loads (callers who
//! have nothing) before refreshes of sessions that are still valid. A wait is bounded; the
//! queue has a limit.
//!
//! Only the waiter at the head of the queue looks at the limits; the others sleep on their own
//! `Notify` until they become the head, so a permit that frees wakes one waiter, not all.

use crate::mutex::lock;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};
use aws_smithy_async::time::SharedTimeSource;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;

/// Which waiters go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Priority {
    /// A scope with no valid session: its callers are waiting.
    FirstLoad = 0,
    /// A scope whose session is still valid.
    Refresh = 1,
}

/// The limits, checked by the builder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// STS calls in flight at once.
    pub(crate) max_in_flight: usize,
    /// STS calls started per second, on average; `None`: no rate limit.
    pub(crate) per_second: Option<f64>,
    /// Fetches waiting at once; one more is refused at once.
    pub(crate) max_waiting: usize,
}

/// Why no permit was given.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refused {
    /// `max_waiting` fetches are waiting already.
    QueueFull { max_waiting: usize },
    /// No permit came within the wait allowed.
    TimedOut { waited: Duration },
}

/// Counters for the status.
#[derive(Debug, Default)]
pub(crate) struct LimiterCounts {
    pub(crate) granted: AtomicU64,
    pub(crate) refused: AtomicU64,
}

/// The shared limiter.
pub(crate) struct Limiter {
    limits: Limits,
    state: Mutex<State>,
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
    pub(crate) counts: LimiterCounts,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limits", &self.limits)
            .field("in_flight", &self.in_flight())
            .field("waiting", &self.waiting())
            .finish()
    }
}

struct State {
    in_flight: usize,
    /// Calls that may start now (the token bucket), at most one.
    tokens: f64,
    refilled_at: SystemTime,
    /// Waiters by class, then arrival: the first entry is the head.
    waiting: BTreeMap<(Priority, u64), Arc<Notify>>,
    next_ticket: u64,
}

impl Limiter {
    pub(crate) fn new(limits: Limits, time: SharedTimeSource, sleep: SharedAsyncSleep) -> Self {
        let now = time.now();
        Limiter {
            state: Mutex::new(State {
                in_flight: 0,
                tokens: limits.per_second.map_or(0.0, burst),
                refilled_at: now,
                waiting: BTreeMap::new(),
                next_ticket: 0,
            }),
            limits,
            time,
            sleep,
            counts: LimiterCounts::default(),
        }
    }

    /// STS calls in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        lock(&self.state).in_flight
    }

    /// Fetches waiting for a permit now.
    pub(crate) fn waiting(&self) -> usize {
        lock(&self.state).waiting.len()
    }

    /// A permit to call STS, waiting at most `max_wait` for one.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        priority: Priority,
        max_wait: Duration,
    ) -> Result<Permit, Refused> {
        let started = self.time.now();
        let (key, notify) = {
            let mut state = lock(&self.state);
            if state.waiting.is_empty() && self.try_take(&mut state, started).is_ok() {
                return Ok(self.granted());
            }
            if state.waiting.len() >= self.limits.max_waiting {
                self.counts.refused.fetch_add(1, Ordering::Relaxed);
                return Err(Refused::QueueFull {
                    max_waiting: self.limits.max_waiting,
                });
            }
            let key = (priority, state.next_ticket);
            state.next_ticket += 1;
            let notify = Arc::new(Notify::new());
            state.waiting.insert(key, notify.clone());
            (key, notify)
        };
        // Leaves the queue however the wait ends (a permit, the time limit, the caller
        // dropped), and hands the head on.
        let _in_queue = InQueue { limiter: self, key };
        let deadline = self.sleep.sleep(max_wait);
        tokio::pin!(deadline);
        loop {
            let next_token_in = {
                let mut state = lock(&self.state);
                let is_head = state.waiting.keys().next() == Some(&key);
                if is_head {
                    match self.try_take(&mut state, self.time.now()) {
                        Ok(()) => {
                            state.waiting.remove(&key);
                            wake_head(&state);
                            return Ok(self.granted());
                        }
                        Err(next_token_in) => next_token_in,
                    }
                } else {
                    None
                }
            };
            let token = async {
                match next_token_in {
                    Some(wait) => self.sleep.sleep(wait).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = notify.notified() => {}
                _ = token => {}
                _ = &mut deadline => {
                    self.counts.refused.fetch_add(1, Ordering::Relaxed);
                    let waited = self.time.now().duration_since(started).unwrap_or(max_wait);
                    return Err(Refused::TimedOut { waited });
                }
            }
        }
    }

    fn granted(self: &Arc<Self>) -> Permit {
        self.counts.granted.fetch_add(1, Ordering::Relaxed);
        Permit {
            limiter: self.clone(),
        }
    }

    /// Takes a slot and a token if both are there; else when the next token comes (`None`:
    /// the calls in flight are the limit, wait for one to end).
    fn try_take(&self, state: &mut State, now: SystemTime) -> Result<(), Option<Duration>> {
        if state.in_flight >= self.limits.max_in_flight {
            return Err(None);
        }
        if let Some(rate) = self.limits.per_second {
            let elapsed = now.duration_since(state.refilled_at).unwrap_or_default();
            state.tokens = (state.tokens + elapsed.as_secs_f64() * rate).min(burst(rate));
            state.refilled_at = now;
            if state.tokens < 1.0 {
                let wait = Duration::from_secs_f64((1.0 - state.tokens) / rate);
                return Err(Some(wait.max(Duration::from_millis(1))));
            }
            state.tokens -= 1.0;
        }
        state.in_flight += 1;
        Ok(())
    }
}

/// The bucket holds one call: calls are paced `1/rate` apart.
fn burst(_rate: f64) -> f64 {
    1.0
}

/// Wakes the waiter at the head of the queue, if any, to look at the limits.
fn wake_head(state: &State) {
    if let Some(head) = state.waiting.values().next() {
        head.notify_one();
    }
}

/// A waiter's place in the queue.
struct InQueue<'a> {
    limiter: &'a Limiter,
    key: (Priority, u64),
}

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.limiter.state);
        if state.waiting.remove(&self.key).is_some() {
            // It may have been the head: the next one looks now.
            wake_head(&state);
        }
    }
}

/// One STS call's slot: freed when dropped.
pub(crate) struct Permit {
    limiter: Arc<Limiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = lock(&self.limiter.state);
        state.in_flight = state.in_flight.saturating_sub(1);
        wake_head(&state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_async::test_util::tick_advance_sleep::tick_advance_time_and_sleep;

    fn limits(max_in_flight: usize, per_second: Option<f64>) -> Limits {
        Limits {
            max_in_flight,
            per_second,
            max_waiting: 100,
        }
    }

    #[tokio::test]
    async fn no_more_calls_in_flight_than_the_limit_and_first_loads_go_first() {
        let (time, sleep) = tick_advance_time_and_sleep();
        let limiter = Arc::new(Limiter::new(
            limits(2, None),
            SharedTimeSource::new(time.clone()),
            SharedAsyncSleep::new(sleep),
        ));
        let wait = Duration::from_secs(60);
        let first = limiter.acquire(Priority::Refresh, wait).await.unwrap();
        let second = limiter.acquire(Priority::Refresh, wait).await.unwrap();
        assert_eq!(limiter.in_flight(), 2);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for (name, priority) in [
            ("refresh-1", Priority::Refresh),
            ("load-1", Priority::FirstLoad),
            ("refresh-2", Priority::Refresh),
            ("load-2", Priority::FirstLoad),
        ] {
            let (limiter, order) = (limiter.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let permit = limiter.acquire(priority, wait).await.unwrap();
                order.lock().unwrap().push(name);
                permit
            }));
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(limiter.waiting(), 4);
        // Each freed slot goes to the next waiter: first loads in arrival order, then
        // refreshes. (Spawned in the order refresh-1, load-1, refresh-2, load-2.)
        drop(first);
        drop(second);
        let load_2 = waiters.pop().unwrap();
        let refresh_2 = waiters.pop().unwrap();
        let load_1 = waiters.pop().unwrap();
        let refresh_1 = waiters.pop().unwrap();
        let loads = [load_1.await.unwrap(), load_2.await.unwrap()];
        assert_eq!(limiter.in_flight(), 2);
        assert_eq!(limiter.waiting(), 2, "the refreshes still wait");
        drop(loads);
        let refreshes = [refresh_1.await.unwrap(), refresh_2.await.unwrap()];
        assert_eq!(
            *order.lock().unwrap(),
            ["load-1", "load-2", "refresh-1", "refresh-2"]
        );
        drop(refreshes);
        assert_eq!(limiter.in_flight(), 0);
        assert_eq!(limiter.counts.granted.load(Ordering::Relaxed), 6);
    }

    #[tokio::test]
    async fn the_rate_is_held_and_a_wait_past_its_limit_is_refused() {
        let (time, sleep) = tick_advance_time_and_sleep();
        let limiter = Arc::new(Limiter::new(
            limits(100, Some(2.0)),
            SharedTimeSource::new(time.clone()),
            SharedAsyncSleep::new(sleep),
        ));
        let wait = Duration::from_secs(10);
        // Paced: the first call at once, the next half a second (1/rate) later.
        let _a = limiter.acquire(Priority::FirstLoad, wait).await.unwrap();
        let second = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire(Priority::FirstLoad, wait).await.is_ok() }
        });
        tokio::task::yield_now().await;
        time.tick(Duration::from_millis(499)).await;
        assert!(!second.is_finished(), "no token yet");
        time.tick(Duration::from_millis(1)).await;
        assert!(second.await.unwrap(), "a token half a second later");

        let late = tokio::spawn({
            let limiter = limiter.clone();
            async move {
                limiter
                    .acquire(Priority::FirstLoad, Duration::from_millis(100))
                    .await
            }
        });
        tokio::task::yield_now().await;
        time.tick(Duration::from_millis(100)).await;
        assert!(matches!(late.await.unwrap(), Err(Refused::TimedOut { .. })));
        assert_eq!(limiter.waiting(), 0, "the refused waiter left the queue");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let (time, sleep) = tick_advance_time_and_sleep();
        let limiter = Arc::new(Limiter::new(
            Limits {
                max_in_flight: 1,
                per_second: None,
                max_waiting: 1,
            },
            SharedTimeSource::new(time),
            SharedAsyncSleep::new(sleep),
        ));
        let wait = Duration::from_secs(10);
        let _held = limiter.acquire(Priority::FirstLoad, wait).await.unwrap();
        let _queued = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire(Priority::FirstLoad, wait).await.is_ok() }
        });
        tokio::task::yield_now().await;
        assert!(matches!(
            limiter.acquire(Priority::FirstLoad, wait).await,
            Err(Refused::QueueFull { max_waiting: 1 })
        ));
    }
}

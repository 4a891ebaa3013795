//! The one task that serves every scope: at each sweep it drops scopes left idle and refreshes,
//! a bounded number at a time and inside this task, the scopes past their (jittered) refresh
//! point that were asked for during their current session. No task or thread per scope.
//!
//! It holds the sessions only weakly between sweeps and ends when the last clone of the
//! [`ScopedSessions`](crate::scoped::ScopedSessions) is dropped.

use super::Inner;
use aws_smithy_async::rt::sleep::AsyncSleep;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

/// Clears the running mark however the task ends (returning, or dropped with its runtime).
struct Running(Weak<Inner>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            inner.scheduler_running.store(false, Ordering::Release);
        }
    }
}

/// Starts the scheduler on the current Tokio runtime if it is not running (and there is one).
pub(crate) fn ensure_running(inner: &Arc<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if inner
        .scheduler_running
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        runtime.spawn(run(Arc::downgrade(inner)));
    }
}

async fn run(weak: Weak<Inner>) {
    let _running = Running(weak.clone());
    let Some((sleep, interval)) = weak
        .upgrade()
        .map(|inner| (inner.shared.sleep.clone(), inner.settings.sweep_interval))
    else {
        return;
    };
    loop {
        sleep.sleep(interval).await;
        let Some(inner) = weak.upgrade() else { return };
        sweep(&inner).await;
    }
}

/// One sweep: drop the idle scopes, refresh the due ones.
pub(crate) async fn sweep(inner: &Inner) {
    let now = inner.shared.time.now();
    let idle_expiry = inner.settings.idle_expiry;
    let refreshing_ahead = inner.settings.background_refresh;
    let due = inner.cache.sweep(
        |entry| entry.is_idle(now, idle_expiry),
        |entry| refreshing_ahead && entry.wants_refresh(now),
    );
    // As many at once as the limiter lets call STS: more would only wait in its queue.
    let at_once = inner.settings.limits.max_in_flight.max(1);
    let mut refreshing = FuturesUnordered::new();
    for entry in due {
        if refreshing.len() >= at_once {
            refreshing.next().await;
        }
        refreshing.push(async move { entry.engine.refresh_if_due().await });
    }
    while refreshing.next().await.is_some() {}
}

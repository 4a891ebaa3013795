//! One cached scope: its key (the [`Scope`] as the caller gave it, checked once, when its entry
//! was made: a hit hashes and compares, and checks nothing again), its refresh engine (the
//! single provider's guarantees, without a task of its own) and when it was last asked for.

use super::fetcher::{ScopeFetcher, Shared, millis};
use super::scope::Scope;
use crate::refresh::{EngineConfig, RefreshEngine};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A cached scope.
pub(crate) struct ScopeEntry {
    pub(crate) key: Arc<Scope>,
    pub(crate) engine: RefreshEngine,
    fetcher: Arc<ScopeFetcher>,
    /// When a caller last asked for this scope (milliseconds since the Unix epoch on the
    /// injected clock).
    last_used_ms: AtomicU64,
}

impl ScopeEntry {
    pub(crate) fn new(key: Arc<Scope>, shared: &Arc<Shared>, config: Arc<EngineConfig>) -> Self {
        let fetcher = Arc::new(ScopeFetcher::new(shared.clone(), key.clone()));
        let engine = RefreshEngine::new(fetcher.clone(), config);
        ScopeEntry {
            key,
            engine,
            fetcher,
            last_used_ms: AtomicU64::new(millis(shared.time.now())),
        }
    }

    /// Notes a use now. A store only when the millisecond changed: cheap on the hot path.
    pub(crate) fn touch(&self, now: SystemTime) {
        let now = millis(now);
        if self.last_used_ms.load(Ordering::Relaxed) < now {
            self.last_used_ms.store(now, Ordering::Relaxed);
        }
    }

    /// Not asked for during `idle_expiry` (and no refresh in flight to finish first).
    pub(crate) fn is_idle(&self, now: SystemTime, idle_expiry: Duration) -> bool {
        let idle_since = millis(now).saturating_sub(millis_of(idle_expiry));
        self.last_used_ms.load(Ordering::Relaxed) < idle_since && !self.engine.refreshing()
    }

    /// Past its refresh point, still valid, and asked for after its session was obtained
    /// (the request that obtained it does not count): a scope nobody uses is left to expire
    /// (an idle tenant costs no STS call).
    pub(crate) fn wants_refresh(&self, now: SystemTime) -> bool {
        let used_since_obtained = self.last_used_ms.load(Ordering::Relaxed)
            > self.fetcher.obtained_at_ms.load(Ordering::Relaxed);
        used_since_obtained && self.engine.refresh_due(now)
    }
}

fn millis_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

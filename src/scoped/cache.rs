//! The scopes cached, bounded: least-recently-used eviction at the capacity, and scopes left
//! idle dropped by the scheduler's sweep. Sharded, so that callers of different scopes rarely
//! meet on one lock; each shard holds its share of the capacity and evicts its own least
//! recently used scope (an approximation of one global order, as sharded caches make).
//!
//! An evicted scope lives on for as long as a caller or a handle holds it: a caller waiting
//! on its refresh gets that refresh's outcome.

use super::entry::{ScopeEntry, ScopeKey};
use crate::mutex::lock;
use lru::LruCache;
use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Shards of the cache: a power of two, enough for the cores of a large host.
const SHARDS: usize = 16;

/// The cached scopes.
pub(crate) struct ScopeCache {
    shards: Vec<Mutex<LruCache<Arc<ScopeKey>, Arc<ScopeEntry>>>>,
    hasher: std::collections::hash_map::RandomState,
    pub(crate) evicted_at_capacity: AtomicU64,
    pub(crate) evicted_idle: AtomicU64,
    pub(crate) created: AtomicU64,
}

impl ScopeCache {
    /// A cache of at most `capacity` scopes (at least one per shard).
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        let per_shard = capacity.get().div_ceil(SHARDS).max(1);
        let per_shard = NonZeroUsize::new(per_shard).unwrap_or(NonZeroUsize::MIN);
        ScopeCache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            evicted_at_capacity: AtomicU64::new(0),
            evicted_idle: AtomicU64::new(0),
            created: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &ScopeKey) -> &Mutex<LruCache<Arc<ScopeKey>, Arc<ScopeEntry>>> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        &self.shards[index]
    }

    /// The scope's entry, made with `make` if it is not cached (evicting the shard's least
    /// recently used one at the capacity). Marks it as the most recently used.
    pub(crate) fn get_or_insert(
        &self,
        key: ScopeKey,
        make: impl FnOnce(Arc<ScopeKey>) -> ScopeEntry,
    ) -> Arc<ScopeEntry> {
        let mut shard = lock(self.shard(&key));
        if let Some(entry) = shard.get(&key) {
            return entry.clone();
        }
        let key = Arc::new(key);
        let entry = Arc::new(make(key.clone()));
        self.created.fetch_add(1, Ordering::Relaxed);
        if shard.push(key, entry.clone()).is_some() {
            self.evicted_at_capacity.fetch_add(1, Ordering::Relaxed);
        }
        entry
    }

    /// The scope's entry if it is cached, without marking it as used.
    pub(crate) fn peek(&self, key: &ScopeKey) -> Option<Arc<ScopeEntry>> {
        lock(self.shard(key)).peek(key).cloned()
    }

    /// Scopes cached now.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    /// Drops the scopes `idle` says are idle and returns those `due` says want a refresh.
    /// Each shard is locked only to collect (no STS call or await under a lock).
    pub(crate) fn sweep(
        &self,
        idle: impl Fn(&ScopeEntry) -> bool,
        due: impl Fn(&ScopeEntry) -> bool,
    ) -> Vec<Arc<ScopeEntry>> {
        let mut wanted = Vec::new();
        for shard in &self.shards {
            let mut shard = lock(shard);
            let gone: Vec<Arc<ScopeKey>> = shard
                .iter()
                .filter(|(_, entry)| idle(entry))
                .map(|(key, _)| key.clone())
                .collect();
            for key in gone {
                shard.pop(&*key);
                self.evicted_idle.fetch_add(1, Ordering::Relaxed);
            }
            wanted.extend(
                shard
                    .iter()
                    .filter(|(_, entry)| due(entry))
                    .map(|(_, entry)| entry.clone()),
            );
        }
        wanted
    }
}

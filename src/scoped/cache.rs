//! The scopes cached, bounded: least-recently-used eviction at the capacity, and scopes left
//! idle dropped by the scheduler's sweep. Sharded, so that callers of different scopes rarely
//! meet on one lock. The capacity is the whole cache's (a count shared by the shards: a shard
//! that hashing fills more than others does not evict early); at the capacity, the least
//! recently used scope of the inserting shard goes, or of a shard holding more than its share
//! if the inserting one holds less — an approximation of one global order, as sharded caches
//! make. No lock is taken while another is held.
//!
//! An evicted scope lives on for as long as a caller or a handle holds it: a caller waiting
//! on its refresh gets that refresh's outcome, and the scope asked for again meanwhile is
//! that same one, taken back (never a second copy refreshing beside it). Only a weak
//! reference is kept for it, dropped once nobody holds the scope.

use super::entry::ScopeEntry;
use super::scope::Scope;
use crate::mutex::lock;
use lru::LruCache;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Shards of the cache: a power of two, enough for the cores of a large host.
const SHARDS: usize = 16;

/// The fewest weak references a shard keeps before it drops the dead ones outside a sweep.
const PRUNE_EVICTED_AT: usize = 64;

/// One shard: the cached scopes, and those evicted that someone still holds.
struct Shard {
    cached: LruCache<Arc<Scope>, Arc<ScopeEntry>>,
    evicted_alive: HashMap<Arc<Scope>, Weak<ScopeEntry>>,
    /// `evicted_alive` is pruned of dead references when it reaches this size (twice what was
    /// left alive): bounded by the scopes still held even when no sweep runs.
    prune_at: usize,
}

impl Shard {
    /// Keeps a weak reference to an evicted scope someone else still holds.
    fn evicted(&mut self, key: Arc<Scope>, entry: Arc<ScopeEntry>) {
        if Arc::strong_count(&entry) > 1 {
            self.evicted_alive.insert(key, Arc::downgrade(&entry));
            if self.evicted_alive.len() >= self.prune_at {
                self.evicted_alive.retain(|_, weak| weak.strong_count() > 0);
                self.prune_at = (self.evicted_alive.len() * 2).max(PRUNE_EVICTED_AT);
            }
        }
    }
}

/// The cached scopes.
pub(crate) struct ScopeCache {
    shards: Vec<Mutex<Shard>>,
    capacity: usize,
    /// Scopes cached, all shards together.
    cached: AtomicUsize,
    /// Where the search for a shard to evict from starts: it moves on, so no shard is
    /// always the first to give up a scope.
    next_victim: AtomicUsize,
    hasher: std::collections::hash_map::RandomState,
    pub(crate) evicted_at_capacity: AtomicU64,
    pub(crate) evicted_idle: AtomicU64,
    pub(crate) created: AtomicU64,
}

impl ScopeCache {
    /// A cache of at most `capacity` scopes.
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        ScopeCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        cached: LruCache::unbounded(),
                        evicted_alive: HashMap::new(),
                        prune_at: PRUNE_EVICTED_AT,
                    })
                })
                .collect(),
            capacity: capacity.get(),
            cached: AtomicUsize::new(0),
            next_victim: AtomicUsize::new(0),
            hasher: std::collections::hash_map::RandomState::new(),
            evicted_at_capacity: AtomicU64::new(0),
            evicted_idle: AtomicU64::new(0),
            created: AtomicU64::new(0),
        }
    }

    fn shard_index(&self, key: &Scope) -> usize {
        usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0)
    }

    fn shard(&self, key: &Scope) -> &Mutex<Shard> {
        &self.shards[self.shard_index(key)]
    }

    /// Evicts least recently used scopes until the cache is within its capacity.
    fn evict_to_capacity(&self, inserted_into: usize) {
        let fair_share = (self.capacity / SHARDS).max(1);
        while self.cached.load(Ordering::Acquire) > self.capacity {
            let start = self.next_victim.fetch_add(1, Ordering::Relaxed);
            let victim = std::iter::once(inserted_into)
                .chain((0..SHARDS).map(|i| (start + i) % SHARDS))
                .find(|&i| lock(&self.shards[i]).cached.len() > fair_share)
                .or_else(|| (0..SHARDS).find(|&i| !lock(&self.shards[i]).cached.is_empty()));
            let Some(victim) = victim else { return };
            let mut shard = lock(&self.shards[victim]);
            if let Some((key, entry)) = shard.cached.pop_lru() {
                shard.evicted(key, entry);
                self.cached.fetch_sub(1, Ordering::AcqRel);
                self.evicted_at_capacity.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The scope's entry, made with `make` if it is not cached (evicting the shard's least
    /// recently used one at the capacity). Marks it as the most recently used.
    pub(crate) fn get_or_insert(
        &self,
        key: Scope,
        make: impl FnOnce(Arc<Scope>) -> ScopeEntry,
    ) -> Arc<ScopeEntry> {
        let index = self.shard_index(&key);
        let mut shard = lock(&self.shards[index]);
        if let Some(entry) = shard.cached.get(&key) {
            return entry.clone();
        }
        let revived = shard
            .evicted_alive
            .remove_entry(&key)
            .and_then(|(key, weak)| Some((key, weak.upgrade()?)));
        let (key, entry) = match revived {
            Some(revived) => revived,
            None => {
                let key = Arc::new(key);
                self.created.fetch_add(1, Ordering::Relaxed);
                (key.clone(), Arc::new(make(key)))
            }
        };
        shard.cached.push(key, entry.clone());
        drop(shard);
        self.cached.fetch_add(1, Ordering::AcqRel);
        self.evict_to_capacity(index);
        entry
    }

    /// The scope's entry if it is cached, marked as the most recently used.
    pub(crate) fn get(&self, key: &Scope) -> Option<Arc<ScopeEntry>> {
        lock(self.shard(key)).cached.get(key).cloned()
    }

    /// The scope's entry if it is cached, without marking it as used.
    pub(crate) fn peek(&self, key: &Scope) -> Option<Arc<ScopeEntry>> {
        let shard = lock(self.shard(key));
        shard
            .cached
            .peek(key)
            .cloned()
            .or_else(|| shard.evicted_alive.get(key).and_then(Weak::upgrade))
    }

    /// Scopes cached now.
    pub(crate) fn len(&self) -> usize {
        self.cached.load(Ordering::Acquire)
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
            let gone: Vec<Arc<Scope>> = shard
                .cached
                .iter()
                .filter(|(_, entry)| idle(entry))
                .map(|(key, _)| key.clone())
                .collect();
            for key in gone {
                if let Some(entry) = shard.cached.pop(&*key) {
                    shard.evicted(key, entry);
                    self.cached.fetch_sub(1, Ordering::AcqRel);
                    self.evicted_idle.fetch_add(1, Ordering::Relaxed);
                }
            }
            shard
                .evicted_alive
                .retain(|_, weak| weak.strong_count() > 0);
            wanted.extend(
                shard
                    .cached
                    .iter()
                    .filter(|(_, entry)| due(entry))
                    .map(|(_, entry)| entry.clone()),
            );
        }
        wanted
    }
}

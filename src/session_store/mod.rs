//! Sessions shared beyond one process: a [`SessionStore`] holds each session a provider
//! fetched, so that the other processes that need the same session — the AWS CLI running a
//! `credential_process` once per command, a batch of jobs, every instance of a service — take
//! it instead of calling STS again.
//!
//! One concept, two stores:
//! - **a directory** ([`SessionStore::directory`], cargo feature `file-cache`): the processes
//!   of one user on one machine; entries are private files (see [`file_cache`](crate::file_cache));
//! - **Valkey or Redis** ([`redis::RedisStoreBuilder`], cargo feature `redis-store`): a fleet;
//!   entries are sealed (AES-256-GCM) under a key the user gives, their names a keyed hash.
//!
//! What the store does whatever holds the bytes:
//! - **One entry per source principal and parameters.** An entry's key is a SHA-256 over the
//!   base credentials' access key id, a domain-separated hash of their secret key (or of the
//!   web identity token), and every parameter of the session request, the region and the
//!   endpoint: two principals, or two differently scoped sessions, never share an entry.
//! - **Reused only with room to spare.** A session is taken from the store only while more than
//!   its advisory window is left, so whoever takes it has the whole usual refresh margin.
//! - **Believed only when plausible.** An entry received later than now (by more than the
//!   store's clock allowance: 1 s on one machine, 30 s across a fleet), or claiming a longer
//!   lifetime than the provider asks STS for, is ignored.
//! - **Nothing read back after `invalidate`.**
//! - **One STS call per key at a time.** The store's lock (a file lock; a lease in Valkey)
//!   makes the others wait for the first one's call, at most half the load timeout all told
//!   (however slow the store's answers), then fetch themselves.
//! - **Never in the way.** An unusable store means sessions come from STS as without one: one
//!   warning per outage, the store left alone for a growing pause (1 to 30 seconds), then used
//!   again. A damaged or foreign entry is ignored (and counted), never an error for the caller.
//!
//! Configured once on the [`Builder`](crate::Builder) (`session_store`), it serves every hop of
//! a chain or a profile, and every scope of [`ScopedSessions`](crate::scoped::ScopedSessions).
//! [`ProviderStatus`](crate::ProviderStatus) counts its hits, misses, rejected entries and
//! errors.

// `session-store` is the part both stores share, enabled by `file-cache` and `redis-store`;
// on its own (a feature list naming it alone) there is no store to make.
#![cfg_attr(
    not(any(feature = "file-cache", feature = "redis-store")),
    allow(dead_code)
)]

mod entry;
mod key;
#[cfg(feature = "redis-store")]
pub mod redis;
mod shared;
pub(crate) mod store;

pub(crate) use key::{KeyBasis, KeySource};
pub(crate) use shared::SharedSessions;
pub(crate) use store::{Lock, LockGuard, Read, Store};

use crate::mutex::lock;
use crate::session::Session;
use aws_credential_types::provider::error::CredentialsError;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where sessions are shared beyond this process: a directory (one user on one machine) or
/// Valkey/Redis (a fleet). Give it to [`Builder::session_store`](crate::Builder::session_store);
/// clones share one store (one connection, one set of counters).
#[derive(Clone)]
pub struct SessionStore {
    pub(crate) store: Arc<dyn Store>,
    /// What it did, for every provider that uses it.
    pub(crate) counters: Arc<StoreCounters>,
    /// Whether it works: an outage is told once and the store left alone for a while, whichever
    /// provider met it.
    pub(crate) health: Arc<Mutex<shared::Health>>,
}

impl SessionStore {
    /// The directory `dir` (created 0700 on first use), shared by the processes of the user
    /// who owns it: see [`file_cache`](crate::file_cache) for the key, the permissions and the
    /// locking, and [`file_cache::default_dir`](crate::file_cache::default_dir) for the
    /// conventional directory (cargo feature `file-cache`).
    #[cfg(feature = "file-cache")]
    pub fn directory(dir: impl Into<std::path::PathBuf>) -> SessionStore {
        SessionStore::of(crate::file_cache::DirectoryStore::new(dir.into()))
    }

    pub(crate) fn of(store: impl Store) -> SessionStore {
        SessionStore {
            store: Arc::new(store),
            counters: Arc::default(),
            health: Arc::default(),
        }
    }

    /// What it did so far, for every provider that uses it.
    pub fn counts(&self) -> StoreCounts {
        self.counters.snapshot()
    }

    /// What the store is: `directory` or `redis`.
    pub fn kind(&self) -> &'static str {
        self.store.kind()
    }
}

impl fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.store, f)
    }
}

/// What a store did for the providers that use it, counted since it was made.
#[derive(Debug, Default)]
pub(crate) struct StoreCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    errors: AtomicU64,
}

impl StoreCounters {
    fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }
    fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
    fn reject(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }
    fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub(crate) fn snapshot(&self) -> StoreCounts {
        StoreCounts {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

/// What the session store did for a provider (and the others built with the same store), in
/// [`ProviderStatus::store`](crate::ProviderStatus::store).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreCounts {
    /// Sessions taken from the store instead of STS (at once, or after waiting for another
    /// process's fetch). One per session load.
    pub hits: u64,
    /// Session loads that went to STS although the store answered: no entry, or none usable
    /// (too close to its expiry, rejected). One per session load; `hits + misses` is every load
    /// the store answered.
    pub misses: u64,
    /// Session loads that met an entry which was not a session of their key: tampered with,
    /// sealed with an unknown key, of another format, not private, with unbelievable times.
    /// Each such load is a miss too.
    pub rejected: u64,
    /// Store operations that failed (down, slow, refused): each one a fall back to STS.
    pub errors: u64,
}

/// One provider's use of the store: its key's parameters, its sessions' longest life, and the
/// session it was told to drop.
#[derive(Debug)]
pub(crate) struct ProviderStore {
    shared: Arc<SharedSessions>,
    basis: KeyBasis,
    longest: Duration,
    discarded: Mutex<Option<String>>,
}

impl ProviderStore {
    pub(crate) fn new(shared: Arc<SharedSessions>, basis: KeyBasis, longest: Duration) -> Self {
        ProviderStore {
            shared,
            basis,
            longest,
            discarded: Mutex::new(None),
        }
    }

    /// A session obtained as `source`: from the store if it has a usable one, else `fetch`'s.
    pub(crate) async fn load_or_fetch(
        &self,
        source: KeySource<'_>,
        fetch: impl Future<Output = Result<Session, CredentialsError>>,
    ) -> Result<Session, CredentialsError> {
        let key = self.basis.key_for(source);
        let discarded = lock(&self.discarded).clone();
        self.shared
            .load_or_fetch(&key, self.longest, discarded.as_deref(), fetch)
            .await
    }

    /// Marks the session with this access key id as refused: it is not read back.
    pub(crate) fn discard(&self, access_key_id: &str) {
        *lock(&self.discarded) = Some(access_key_id.to_owned());
    }

    /// The store's counts.
    pub(crate) fn counts(&self) -> StoreCounts {
        self.shared.counts()
    }

    /// The store's counts for the metrics, with the store's identity.
    #[cfg(feature = "telemetry")]
    pub(crate) fn gauges(&self) -> crate::telemetry::StoreGauges {
        self.shared.gauges()
    }
}

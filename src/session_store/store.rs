//! What a session store keeps its entries in — bytes under a key, expiring, with a lock per
//! key — as the directory store and the Valkey/Redis store implement it. Apart from the
//! session store's logic (`shared`), so that a store depends on this contract only.

use crate::boxed_future::BoxFuture;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use std::fmt;
use std::time::Duration;

/// What a store holds the entries in: bytes under a key, written to expire after a time, and
/// a lock per key. Each store seals or protects the bytes its own way.
pub(crate) trait Store: Send + Sync + fmt::Debug + 'static {
    /// `directory` or `redis`: for log lines.
    fn kind(&self) -> &'static str;

    /// The entry under `key`.
    fn read<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Read>;

    /// Writes the entry under `key` at `now`, to expire after `ttl` (where the store can).
    fn write<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        ttl: Duration,
        now: std::time::SystemTime,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// Takes the lock of `key`, waiting (on `sleep`) at most `wait` for whoever holds it; a
    /// lock that outlives its holder (a lease) lasts `lease_for` unless released.
    fn lock<'a>(
        &'a self,
        key: &'a str,
        wait: Duration,
        lease_for: Duration,
        sleep: &'a SharedAsyncSleep,
    ) -> BoxFuture<'a, Lock>;

    /// How far ahead of this process's clock an entry's times may be and still be believed:
    /// the clock differences between the processes sharing the store.
    fn clock_allowance(&self) -> Duration;
}

/// What a read found.
pub(crate) enum Read {
    /// An entry's bytes, as written (unsealed).
    Found(Vec<u8>),
    /// No entry.
    Absent,
    /// Something that is not an entry of this key: damaged, sealed with an unknown key, of
    /// another format, not private. Ignored and replaced.
    Rejected(String),
    /// The store did not answer usably (down, slow, out of memory).
    Failed(String),
}

/// A held lock: let go with [`release`](LockGuard::release) once the entry is written (or
/// when dropped, as best the store can).
pub(crate) trait LockGuard: Send + Sync {
    /// Lets go, now.
    fn release(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// How an attempt to take a key's lock ended.
pub(crate) enum Lock {
    /// Taken (at once or after its holder let go); held until released or dropped.
    Acquired(Box<dyn LockGuard>),
    /// Still held by someone else after the wait: go on without it.
    GaveUp,
    /// Its holder let go after `waited` (of the wait allowed): read the entry it wrote, and
    /// only if there is none usable, ask for the lock again. A store whose waiters would
    /// otherwise take the lock one after the other (a lease in Valkey) says this instead.
    #[cfg_attr(not(feature = "redis-store"), allow(dead_code))]
    Released { waited: Duration },
    /// The store could not lock.
    Unavailable(String),
}

//! The directory session store: sessions shared by every process of one user through private
//! files — the AWS CLI running `credential_process` once per command, a batch of short jobs, a
//! service restarting. What any session store does (the key, reuse with room to spare,
//! believable times, one STS call per key at a time, never in the way) is the
//! [`session_store`](crate::session_store)'s; this module is how a directory holds the bytes.
//!
//! Enable with the `file-cache` cargo feature and
//! [`Builder::file_cache`](crate::Builder::file_cache) (or
//! [`SessionStore::directory`](crate::session_store::SessionStore::directory)).
//!
//! # What is safe about it
//! - **Private.** The directory is created 0700 (narrowed to 0700 if it is ours and wider, its
//!   mode read back; not used at all if it belongs to someone else, is a symbolic link, or is on
//!   a file system that ignores permissions); entries are 0600 and are only read if they still
//!   are, belong to the current user and are not links. Neither an entry's name (a SHA-256) nor
//!   its content reveals the base credentials' secret key.
//! - **Whole or absent.** Entries are written to a temporary file in the same directory and
//!   renamed into place.
//! - **One STS call for N processes.** An advisory lock per entry (`flock`, released by the
//!   operating system when a process dies) makes processes that miss together wait for the
//!   first one's call, then read its entry.
//! - **Never in the way.** A corrupt, truncated, foreign-format, wrong-permission entry is
//!   ignored and replaced, and so is anything at an entry's path that is not a regular file
//!   (opened without blocking: a FIFO there cannot hang a process).
//! - **Off the async workers.** Opening, reading, writing, `fsync`, renaming and sweeping run
//!   on the runtime's blocking pool.
//!
//! Files of this cache older than 36 hours (the longest STS session: expired whatever the
//! session) are removed whenever a new entry is written; a lock file only while no process
//! holds its lock (one may be in the middle of a long fetch, an MFA prompt say).
//!
//! Entries hold the secret key and session token in plain text, like the AWS CLI's
//! `~/.aws/cli/cache`: protected by file permissions, not encryption.

mod blocking;
mod lock;
mod secure_fs;

use crate::boxed_future::BoxFuture;
use crate::operation::MAX_GET_SESSION_TOKEN_DURATION;
use crate::session_store::store::{Lock, LockGuard, Read, Store};
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_types::os_shim_internal::Env;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Files of this cache untouched for longer than this are removed when a new entry is written:
/// 36 hours, the longest session STS issues (`GetSessionToken`), so they have expired. Entries of
/// chain hops keyed by an earlier temporary session would otherwise pile up, one per session.
pub(crate) const SWEEP_AFTER: Duration = MAX_GET_SESSION_TOKEN_DURATION;

/// The directory's name inside the user's cache directory.
pub const DIR_NAME: &str = "chainable-credentials";

/// The conventional cache directory: `$XDG_CACHE_HOME/chainable-credentials` when
/// `XDG_CACHE_HOME` is an absolute path, else `$HOME/.cache/chainable-credentials`; `None`
/// when neither is set. Reads the process's environment.
pub fn default_dir() -> Option<PathBuf> {
    dir_for(&Env::real())
}

/// [`default_dir`] for the variables of `env` (cargo feature `test-util`).
#[cfg(feature = "test-util")]
pub fn default_dir_in(env: &Env) -> Option<PathBuf> {
    dir_for(env)
}

fn dir_for(env: &Env) -> Option<PathBuf> {
    let absolute = |var: &str| {
        env.get(var)
            .ok()
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
        .map(|cache| cache.join(DIR_NAME))
}

/// A directory of entries (`KEY.json`) and their lock files (`KEY.lock`).
#[derive(Debug)]
pub(crate) struct DirectoryStore {
    dir: PathBuf,
}

impl DirectoryStore {
    pub(crate) fn new(dir: PathBuf) -> Self {
        DirectoryStore { dir }
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The directory, made private if it can be; `Err` when it is not usable.
    async fn prepared(&self) -> Result<(), String> {
        let dir = self.dir.clone();
        blocking::run(move || secure_fs::prepare_dir(&dir))
            .await
            .map_err(|problem| format!("{}: {problem}", self.dir.display()))
    }

    async fn read_entry(&self, key: &str) -> Read {
        if let Err(problem) = self.prepared().await {
            return Read::Failed(problem);
        }
        let path = self.entry(key);
        match blocking::run(move || secure_fs::read_private(&path)).await {
            Ok(Some(bytes)) => Read::Found(bytes),
            Ok(None) => Read::Absent,
            Err(problem) => Read::Rejected(problem),
        }
    }

    /// Writes the entry, then sweeps out files that have certainly expired.
    async fn write_entry(&self, key: &str, bytes: Vec<u8>, now: SystemTime) -> Result<(), String> {
        let (dir, path) = (self.dir.clone(), self.entry(key));
        let removed = blocking::run(move || {
            secure_fs::write_atomically(&path, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok::<_, String>(secure_fs::sweep(&dir, now, SWEEP_AFTER))
        })
        .await?;
        if removed > 0 {
            tracing::debug!(removed, "removed expired files from the file cache");
        }
        Ok(())
    }

    async fn lock_entry(&self, key: &str, wait: Duration, sleep: &SharedAsyncSleep) -> Lock {
        match lock::acquire(&self.dir.join(format!("{key}.lock")), sleep, wait).await {
            lock::Locked::Acquired { _guard } => Lock::Acquired(Box::new(_guard)),
            lock::Locked::GaveUp => Lock::GaveUp,
            lock::Locked::Unavailable(problem) => Lock::Unavailable(problem),
        }
    }
}

impl Store for DirectoryStore {
    fn kind(&self) -> &'static str {
        "directory"
    }

    fn read<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Read> {
        Box::pin(self.read_entry(key))
    }

    fn write<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        _ttl: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.write_entry(key, bytes, now))
    }

    fn lock<'a>(
        &'a self,
        key: &'a str,
        wait: Duration,
        // A file lock ends with its holder: nothing to bound.
        _lease_for: Duration,
        sleep: &'a SharedAsyncSleep,
    ) -> BoxFuture<'a, Lock> {
        Box::pin(self.lock_entry(key, wait, sleep))
    }

    fn clock_allowance(&self) -> Duration {
        // One machine, one clock.
        crate::sts::EXPIRY_ALLOWANCE
    }
}

impl LockGuard for lock::EntryLock {
    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        // Closing the file lets go of the lock.
        drop(self);
        Box::pin(std::future::ready(()))
    }
}

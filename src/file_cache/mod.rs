//! A cache of sessions on disk, shared by every process of one user: the first process to need
//! a session calls STS and writes it; later processes — the AWS CLI running
//! `credential_process` once per command, a batch of short jobs, a service restarting — reuse
//! it until it enters its advisory window.
//!
//! Enable with the `file-cache` cargo feature and
//! [`Builder::file_cache`](crate::Builder::file_cache).
//!
//! # What is safe about it
//! - **One entry per source principal and parameters.** An entry's name is a SHA-256 over the
//!   base credentials' access key id, the role ARN and every parameter that changes the
//!   session (duration, session name if set, external id, policies, tags, source identity, MFA
//!   serial, region, endpoint). Two users assuming one role never share an entry. The secret
//!   key is in neither the name nor the hash.
//! - **Private.** The directory is created 0700 (narrowed to 0700 if it is ours and wider;
//!   not used at all if it belongs to someone else or is a symbolic link); entries are 0600
//!   and are only read if they still are, belong to the current user and are not links.
//! - **Whole or absent.** Entries are written to a temporary file in the same directory and
//!   renamed into place.
//! - **One STS call for N processes.** An advisory lock per entry (`flock`, released by the
//!   operating system when a process dies) makes processes that miss together wait for the
//!   first one's call, then read its entry. A process waits at most half its load timeout
//!   ([`DEFAULT_LOAD_TIMEOUT`](crate::DEFAULT_LOAD_TIMEOUT) by default) and then calls STS
//!   itself.
//! - **Never in the way.** A corrupt, truncated, foreign-format, wrong-permission or
//!   other-key entry is ignored and replaced; an unusable directory means no caching (one
//!   warning), never an error for the caller.
//!
//! Files of this cache older than 36 hours (the longest STS session: expired whatever the
//! session) are removed whenever a new entry is written.
//!
//! An entry is reused only while more than its advisory window is left (15 minutes of a
//! one-hour session; see the crate's README for the windows), so a process that reads it has
//! the whole usual refresh margin. After
//! [`invalidate`](crate::ChainableTemporaryCredentials::invalidate) the dropped session is not
//! read back from disk: the next refresh calls STS and overwrites the entry.
//!
//! Entries hold the secret key and session token in plain text, like the AWS CLI's
//! `~/.aws/cli/cache`: protected by file permissions, not encryption.

mod entry;
mod key;
mod lock;
mod secure_fs;

pub(crate) use key::SessionParams;

use crate::lock::lock;
use crate::refresh::advisory_window;
use crate::session::{MAX_GET_SESSION_TOKEN_DURATION, Session};
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_async::time::SharedTimeSource;
use lock::Locked;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// Files of this cache untouched for longer than this are removed when a new entry is written:
/// 36 hours, the longest session STS issues (`GetSessionToken`), so they have expired. Entries of
/// chain hops keyed by an earlier temporary session would otherwise pile up, one per session.
pub(crate) const SWEEP_AFTER: Duration = MAX_GET_SESSION_TOKEN_DURATION;

/// The directory's name inside the user's cache directory.
pub const DIR_NAME: &str = "chainable-credentials";

/// The conventional cache directory: `$XDG_CACHE_HOME/chainable-credentials` when
/// `XDG_CACHE_HOME` is an absolute path, else `$HOME/.cache/chainable-credentials`; `None`
/// when neither is set.
pub fn default_dir() -> Option<PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
        .map(|cache| cache.join(DIR_NAME))
}

/// The file cache of one provider.
#[derive(Debug)]
pub(crate) struct FileCache {
    dir: PathBuf,
    params: SessionParams,
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
    /// How long to wait for another process's fetch before fetching anyway.
    lock_wait: Duration,
    /// The access key id of the session `invalidate` dropped: never read back from disk.
    discarded: Mutex<Option<String>>,
    /// An unusable directory is reported once per provider, not at every refresh.
    warned: AtomicBool,
}

impl FileCache {
    pub(crate) fn new(
        dir: PathBuf,
        params: SessionParams,
        time: SharedTimeSource,
        sleep: SharedAsyncSleep,
        lock_wait: Duration,
    ) -> Self {
        FileCache {
            dir,
            params,
            time,
            sleep,
            lock_wait,
            discarded: Mutex::new(None),
            warned: AtomicBool::new(false),
        }
    }

    /// A session for base credentials with this access key id: a reusable entry if there is
    /// one, else `fetch`'s, which is then written for the next process.
    pub(crate) async fn load_or_fetch(
        &self,
        source_access_key_id: &str,
        fetch: impl Future<Output = Result<Session, CredentialsError>>,
    ) -> Result<Session, CredentialsError> {
        if let Err(problem) = secure_fs::prepare_dir(&self.dir) {
            self.warn_once(&problem);
            return fetch.await;
        }
        let key = self.params.key_for(source_access_key_id);
        let entry_path = self.dir.join(format!("{key}.json"));
        if let Some(session) = self.reusable(&entry_path, &key, self.time.now()) {
            return Ok(session);
        }
        let lock_path = self.dir.join(format!("{key}.lock"));
        let lock = lock::acquire(&lock_path, &self.sleep, self.lock_wait).await;
        match &lock {
            Locked::Acquired { .. } => {}
            Locked::GaveUp => tracing::debug!(
                wait = ?self.lock_wait,
                "another process is still fetching this session; fetching too"
            ),
            Locked::Unavailable(problem) => self.warn_once(problem),
        }
        // Whoever held the lock has probably just written a fresh entry.
        if let Some(session) = self.reusable(&entry_path, &key, self.time.now()) {
            return Ok(session);
        }
        let session = fetch.await?;
        match entry::to_bytes(&key, &session) {
            Some(bytes) => match secure_fs::write_atomically(&entry_path, &bytes) {
                Ok(()) => {
                    tracing::debug!(entry = %entry_path.display(), "wrote the session to the file cache");
                    let removed = secure_fs::sweep(&self.dir, self.time.now(), SWEEP_AFTER);
                    if removed > 0 {
                        tracing::debug!(removed, "removed expired files from the file cache");
                    }
                }
                Err(e) => self.warn_once(&format!("cannot write {}: {e}", entry_path.display())),
            },
            None => tracing::debug!("the session's times cannot be stored; not cached on disk"),
        }
        drop(lock);
        Ok(session)
    }

    /// Marks the session with this access key id as refused: it is not read back from disk.
    pub(crate) fn discard(&self, access_key_id: &str) {
        *lock(&self.discarded) = Some(access_key_id.to_owned());
    }

    /// The entry at `path`, if it is sound and has more than its advisory window left.
    fn reusable(&self, path: &Path, key: &str, now: SystemTime) -> Option<Session> {
        let ignore = |problem: &str| {
            tracing::debug!(entry = %path.display(), problem, "ignoring the cached entry; it will be replaced");
        };
        let bytes = match secure_fs::read_private(path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(problem) => {
                ignore(&problem);
                return None;
            }
        };
        let session = match entry::from_bytes(key, &bytes) {
            Ok(session) => session,
            Err(problem) => {
                ignore(&problem);
                return None;
            }
        };
        let lifetime = session
            .expires_at
            .duration_since(session.received_at)
            .ok()?;
        let left = session.expires_at.duration_since(now).unwrap_or_default();
        if left <= advisory_window(lifetime) {
            ignore("too close to its expiry");
            return None;
        }
        let discarded = lock(&self.discarded);
        if discarded.as_deref() == Some(session.credentials.access_key_id()) {
            ignore("the provider was told to drop this session");
            return None;
        }
        tracing::debug!(entry = %path.display(), expires_at = %aws_smithy_types::DateTime::from(session.expires_at), "reusing the session from the file cache");
        Some(session)
    }

    fn warn_once(&self, problem: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(dir = %self.dir.display(), problem, "the file cache is not usable; sessions are not shared between processes");
        }
    }
}

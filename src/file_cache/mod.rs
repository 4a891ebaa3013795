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
//!   base credentials' access key id, a domain-separated hash of their secret key, the role ARN
//!   and every parameter that changes the session (duration, session name if set, external
//!   id, policies, tags, source identity, MFA serial, region, endpoint). Two users assuming one
//!   role never share an entry, and a process that knows an access key id (they are not
//!   secret) but not its secret key finds no entry of it. Neither the name nor the entry
//!   reveals the secret key.
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
//!   other-key entry is ignored and replaced, and so is anything at an entry's path that is
//!   not a regular file (opened without blocking: a FIFO there cannot hang a process); an
//!   unusable directory means no caching (one warning), never an error for the caller.
//! - **Believed only when plausible.** An entry received later than now, or claiming a longer
//!   lifetime than the provider asks STS for, is ignored: a process with a wrong clock (or a
//!   forged file) cannot hand out a session past its real expiry.
//! - **Off the async workers.** Opening, reading, writing, `fsync`, renaming and sweeping run
//!   on the runtime's blocking pool.
//!
//! Files of this cache older than 36 hours (the longest STS session: expired whatever the
//! session) are removed whenever a new entry is written; a lock file only while no process
//! holds its lock (one may be in the middle of a long fetch, an MFA prompt say).
//!
//! An entry is reused only while more than its advisory window is left (15 minutes of a
//! one-hour session; see the crate's README for the windows), so a process that reads it has
//! the whole usual refresh margin. After
//! [`invalidate`](crate::ChainableTemporaryCredentials::invalidate) the dropped session is not
//! read back from disk: the next refresh calls STS and overwrites the entry.
//!
//! Entries hold the secret key and session token in plain text, like the AWS CLI's
//! `~/.aws/cli/cache`: protected by file permissions, not encryption.

mod blocking;
mod entry;
mod key;
mod lock;
mod secure_fs;

pub(crate) use key::{KeyBasis, KeySource};

use crate::mutex::lock;
use crate::operation::MAX_GET_SESSION_TOKEN_DURATION;
use crate::refresh::advisory_window;
use crate::session::Session;
use crate::sts::EXPIRY_ALLOWANCE;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_async::time::SharedTimeSource;
use aws_types::os_shim_internal::Env;
use lock::Locked;
use std::future::Future;
use std::path::PathBuf;
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

/// The file cache of one provider.
#[derive(Debug)]
pub(crate) struct FileCache {
    dir: PathBuf,
    params: KeyBasis,
    /// The longest its sessions can live (the requested or default duration): an entry that
    /// claims more is not believed.
    longest: Duration,
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
    /// How long to wait for another process's fetch before fetching anyway.
    lock_wait: Duration,
    /// The access key id of the session `invalidate` dropped: never read back from disk.
    discarded: Mutex<Option<String>>,
    /// An unusable directory is reported once per provider, not at every refresh.
    warned: AtomicBool,
}

/// Where one entry and its lock live.
struct EntryPaths {
    key: String,
    entry: PathBuf,
    lock: PathBuf,
}

impl FileCache {
    pub(crate) fn new(
        dir: PathBuf,
        params: KeyBasis,
        longest: Duration,
        time: SharedTimeSource,
        sleep: SharedAsyncSleep,
        lock_wait: Duration,
    ) -> Self {
        FileCache {
            dir,
            params,
            longest,
            time,
            sleep,
            lock_wait,
            discarded: Mutex::new(None),
            warned: AtomicBool::new(false),
        }
    }

    /// A session obtained as `source`: a reusable entry if there is one, else `fetch`'s,
    /// which is then written for the next process.
    pub(crate) async fn load_or_fetch(
        &self,
        source: KeySource<'_>,
        fetch: impl Future<Output = Result<Session, CredentialsError>>,
    ) -> Result<Session, CredentialsError> {
        let dir = self.dir.clone();
        if let Err(problem) = blocking::run(move || secure_fs::prepare_dir(&dir)).await {
            self.warn_once(&problem);
            return fetch.await;
        }
        let key = self.params.key_for(source);
        let paths = EntryPaths {
            entry: self.dir.join(format!("{key}.json")),
            lock: self.dir.join(format!("{key}.lock")),
            key,
        };
        if let Some(session) = self.reusable(&paths).await {
            return Ok(session);
        }
        let lock = lock::acquire(&paths.lock, &self.sleep, self.lock_wait).await;
        match &lock {
            Locked::Acquired { .. } => {}
            Locked::GaveUp => tracing::debug!(
                wait = ?self.lock_wait,
                "another process is still fetching this session; fetching too"
            ),
            Locked::Unavailable(problem) => self.warn_once(problem),
        }
        // Whoever held the lock has probably just written a fresh entry.
        if let Some(session) = self.reusable(&paths).await {
            return Ok(session);
        }
        let session = fetch.await?;
        self.store(&paths, &session).await;
        drop(lock);
        Ok(session)
    }

    /// Marks the session with this access key id as refused: it is not read back from disk.
    pub(crate) fn discard(&self, access_key_id: &str) {
        *lock(&self.discarded) = Some(access_key_id.to_owned());
    }

    /// Writes `session` as the entry, then sweeps out files that have certainly expired.
    async fn store(&self, paths: &EntryPaths, session: &Session) {
        let Some(bytes) = entry::to_bytes(&paths.key, session) else {
            tracing::debug!("the session's times cannot be stored; not cached on disk");
            return;
        };
        let (dir, path, now) = (self.dir.clone(), paths.entry.clone(), self.time.now());
        let written = blocking::run(move || {
            secure_fs::write_atomically(&path, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok::<_, String>(secure_fs::sweep(&dir, now, SWEEP_AFTER))
        })
        .await;
        match written {
            Ok(removed) => {
                tracing::debug!(entry = %paths.entry.display(), "wrote the session to the file cache");
                if removed > 0 {
                    tracing::debug!(removed, "removed expired files from the file cache");
                }
            }
            Err(problem) => self.warn_once(&problem),
        }
    }

    /// The entry, if it is sound, believable and has more than its advisory window left.
    async fn reusable(&self, paths: &EntryPaths) -> Option<Session> {
        let ignore = |problem: &str| {
            tracing::debug!(entry = %paths.entry.display(), problem, "ignoring the cached entry; it will be replaced");
        };
        let path = paths.entry.clone();
        let bytes = match blocking::run(move || secure_fs::read_private(&path)).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(problem) => {
                ignore(&problem);
                return None;
            }
        };
        let session = match entry::from_bytes(&paths.key, &bytes) {
            Ok(session) => session,
            Err(problem) => {
                ignore(&problem);
                return None;
            }
        };
        let now = self.time.now();
        if let Err(problem) = self.believable(&session, now) {
            ignore(&problem);
            return None;
        }
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
        tracing::debug!(entry = %paths.entry.display(), expires_at = %aws_smithy_types::DateTime::from(session.expires_at), "reusing the session from the file cache");
        Some(session)
    }

    /// Whether an entry's times could be those of a session this provider asked for: received
    /// no later than now, living no longer than requested. Another process (a clock set far
    /// ahead, a bug, a forged file) must not hand out a session past its real expiry.
    fn believable(&self, session: &Session, now: SystemTime) -> Result<(), String> {
        if session.received_at > now + EXPIRY_ALLOWANCE {
            return Err("it was received later than now".into());
        }
        let lifetime = session
            .expires_at
            .duration_since(session.received_at)
            .unwrap_or_default();
        if lifetime > self.longest + EXPIRY_ALLOWANCE {
            return Err(format!(
                "it claims a lifetime of {} s, longer than the {} s asked for",
                lifetime.as_secs(),
                self.longest.as_secs()
            ));
        }
        Ok(())
    }

    fn warn_once(&self, problem: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(dir = %self.dir.display(), problem, "the file cache is not usable; sessions are not shared between processes");
        }
    }
}

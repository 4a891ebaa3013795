//! The advisory lock that makes processes starting together wait for one STS call instead of
//! each making their own: whoever holds the lock of an entry fetches and writes it; the others
//! wait, then read what it wrote.

use crate::file_cache::{blocking, secure_fs};
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};
use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::Duration;

/// How often a waiting process tries the lock again.
pub(crate) const LOCK_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// An exclusive lock on one entry, released when dropped (or when the process ends, however it
/// ends: the operating system drops `flock` locks with the file descriptor).
#[derive(Debug)]
pub(crate) struct EntryLock {
    _file: File,
}

/// How an attempt to take the lock ended.
#[derive(Debug)]
pub(crate) enum Locked {
    /// Taken; at once or after the holder released it. Held until this value is dropped.
    Acquired { _guard: EntryLock },
    /// Still held by someone else after `wait`: go on without it.
    GaveUp,
    /// The lock file could not be used (e.g. a read-only directory).
    Unavailable(String),
}

/// Takes the lock at `path`, trying again every [`LOCK_POLL_INTERVAL`] for up to `wait`.
/// Polls rather than blocks, so no runtime thread is parked on the lock and the wait is
/// bounded: a holder that hangs costs its waiters `wait`, not their load timeout.
pub(crate) async fn acquire(path: &Path, sleep: &SharedAsyncSleep, wait: Duration) -> Locked {
    let attempts = 1 + wait.as_millis() / LOCK_POLL_INTERVAL.as_millis();
    let mut file = match open(path).await {
        Ok(file) => file,
        Err(problem) => return Locked::Unavailable(problem),
    };
    for attempt in 0..attempts {
        match file.try_lock() {
            Ok(()) => {
                // A sweep may have removed the lock file between our open and our lock (it
                // only removes files it holds the lock of): then this lock guards nothing, and
                // the file now at `path` is the one to lock.
                if still_at(path, &file).await {
                    return Locked::Acquired {
                        _guard: EntryLock { _file: file },
                    };
                }
                file = match open(path).await {
                    Ok(file) => file,
                    Err(problem) => return Locked::Unavailable(problem),
                };
            }
            Err(TryLockError::WouldBlock) if attempt + 1 < attempts => {
                sleep.sleep(LOCK_POLL_INTERVAL).await;
            }
            Err(TryLockError::WouldBlock) => break,
            Err(TryLockError::Error(e)) => {
                return Locked::Unavailable(format!("cannot lock: {e}"));
            }
        }
    }
    Locked::GaveUp
}

async fn open(path: &Path) -> Result<File, String> {
    let path = path.to_owned();
    blocking::run(move || {
        secure_fs::open_lock_file(&path).map_err(|e| format!("cannot open the lock file: {e}"))
    })
    .await
}

/// Whether `path` still names the file `file` has open.
async fn still_at(path: &Path, file: &File) -> bool {
    let Ok(ours) = file.try_clone() else {
        return false;
    };
    let path = path.to_owned();
    blocking::run(move || Ok(secure_fs::same_file(&path, &ours)))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_async::rt::sleep::TokioSleep;

    #[tokio::test]
    async fn a_second_taker_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.lock");
        let sleep = SharedAsyncSleep::new(TokioSleep::new());
        let first @ Locked::Acquired { .. } = acquire(&path, &sleep, Duration::ZERO).await else {
            panic!("the first taker gets the lock");
        };
        assert!(matches!(
            acquire(&path, &sleep, Duration::from_millis(30)).await,
            Locked::GaveUp
        ));
        let waiter = tokio::spawn({
            let (path, sleep) = (path.clone(), sleep.clone());
            async move { acquire(&path, &sleep, Duration::from_secs(10)).await }
        });
        tokio::task::yield_now().await;
        drop(first);
        assert!(matches!(waiter.await.unwrap(), Locked::Acquired { .. }));
    }
}

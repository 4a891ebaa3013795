//! Locking the crate's few `std` mutexes (file locks are `file_cache::lock`).

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, using its data even if a thread panicked while holding it: every critical
/// section in this crate is a few plain assignments, so a panic cannot leave the data
/// half-changed, and one panicking caller must not wedge the provider for all others.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

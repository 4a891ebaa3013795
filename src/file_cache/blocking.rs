//! File-system calls off the async workers: opening, reading, `fsync`, renaming and listing
//! can block for long on a slow or network file system, and a worker that blocks stalls every
//! other task on it (the only one, on a current-thread runtime).

/// Runs `f` on the runtime's blocking pool, or here when there is no Tokio runtime (a caller
/// that polls the provider on another executor drives its refresh itself). A blocking task
/// that panics or is cancelled (its runtime shutting down) is an error, like the file
/// operation failing.
pub(crate) async fn run<T, F>(f: F) -> Result<T, String>
where
    F: FnOnce() -> Result<T, String> + Send + 'static,
    T: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(f)
            .await
            .unwrap_or_else(|e| Err(format!("the file operation did not finish ({e})"))),
        Err(_) => f(),
    }
}

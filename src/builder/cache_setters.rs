//! The setters of the cache and its refreshes: how long a refresh may take, whether it runs
//! in the background, who is told, and the file cache shared with other processes. The
//! `set_*` twin does the work, the consuming setter calls it.

use super::Builder;
use crate::status::{RefreshListener, RefreshOutcome, SharedRefreshListener};
#[cfg(doc)]
use crate::{ChainableTemporaryCredentials, DEFAULT_LOAD_TIMEOUT};
use std::sync::Arc;
use std::time::Duration;

impl Builder {
    /// How long one refresh may take in all (base credentials and STS, SDK retries
    /// included) before it fails with `CredentialsError::ProviderTimedOut`. Must be more than
    /// zero.
    ///
    /// Default: [`DEFAULT_LOAD_TIMEOUT`] (5 seconds).
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.set_load_timeout(Some(timeout));
        self
    }

    /// Sets or clears the load timeout; see [`load_timeout`](Self::load_timeout).
    pub fn set_load_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.cache.load_timeout = timeout;
        self
    }

    /// Refresh the session at its refresh point from a background task, whether or not
    /// anyone asks for credentials, and retry with the backoff while refreshes fail.
    ///
    /// This is what makes the advisory window work behind an SDK client. Every client puts
    /// its own identity cache in front of this provider and asks it again only 5 to 10
    /// seconds before the session expires. With the background refresh, the provider has a
    /// new session by then and answers at once; an STS outage that starts in the advisory
    /// window is retried from its start, while the old session keeps signing requests.
    ///
    /// Switched off, the provider refreshes only when asked, and behind an SDK client that
    /// means: the one request that reaches the provider in the last seconds waits for STS;
    /// an outage gets those seconds of retries instead of the advisory window; refreshes are
    /// no longer spread over the window by the jitter. Callers that call the provider
    /// directly keep the advisory window either way.
    ///
    /// Needs a Tokio runtime: the task starts at `build()` if one is current, else at the
    /// first call made on one, and again at the next call if its runtime shuts down. It ends
    /// when the last clone of the provider is dropped. Without a runtime the provider
    /// refreshes when asked.
    ///
    /// Default: `true`.
    pub fn background_refresh(mut self, enabled: bool) -> Self {
        self.set_background_refresh(Some(enabled));
        self
    }

    /// Sets or clears the background refresh switch; see
    /// [`background_refresh`](Self::background_refresh).
    pub fn set_background_refresh(&mut self, enabled: Option<bool>) -> &mut Self {
        self.cache.background_refresh = enabled;
        self
    }

    /// Fetch the first session right away from the background task, instead of at the
    /// first call: no caller waits, not even the first. Needs
    /// [`background_refresh`](Self::background_refresh).
    ///
    /// Default: `false` (the first call fetches the first session and waits for it).
    pub fn prefetch(mut self, enabled: bool) -> Self {
        self.set_prefetch(Some(enabled));
        self
    }

    /// Sets or clears the prefetch switch; see [`prefetch`](Self::prefetch).
    pub fn set_prefetch(&mut self, enabled: Option<bool>) -> &mut Self {
        self.cache.prefetch = enabled;
        self
    }

    /// Tells `listener` how every refresh ended — a new session (its expiry, its refresh
    /// point, how long the refresh took) or a failure (the error, failures in a row, the
    /// next attempt, until when the still-valid session is served) — for metrics and
    /// alerts. Called from the refresh itself, so it should be quick; a panic in it is
    /// caught and logged. Nothing passed to it holds a secret.
    ///
    /// ```
    /// use chainable_credentials::{ChainableTemporaryCredentials, RefreshOutcome};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    ///
    /// let failures = Arc::new(AtomicU64::new(0));
    /// let counter = failures.clone();
    /// let builder = ChainableTemporaryCredentials::builder().on_refresh(move |outcome| {
    ///     if let RefreshOutcome::Failed { error, .. } = outcome {
    ///         counter.fetch_add(1, Ordering::Relaxed);
    ///         eprintln!("credentials refresh failed: {error}");
    ///     }
    /// });
    /// # let _ = builder;
    /// ```
    ///
    /// Default: none; [`ChainableTemporaryCredentials::status`] is always available.
    pub fn on_refresh(
        mut self,
        listener: impl Fn(&RefreshOutcome<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.set_on_refresh(Some(Arc::new(listener)));
        self
    }

    /// Sets or clears the refresh listener; see [`on_refresh`](Self::on_refresh).
    pub fn set_on_refresh(&mut self, listener: Option<SharedRefreshListener>) -> &mut Self {
        self.cache.on_refresh = listener.map(RefreshListener::from_arc);
        self
    }

    /// Shares sessions with other processes (and later runs) of the same user through this
    /// directory: a session is fetched once and reused from disk while more than its advisory
    /// window is left; processes that miss together make one STS call between them. See
    /// [`file_cache`](crate::file_cache) for the key, the permissions and the locking;
    /// [`file_cache::default_dir`](crate::file_cache::default_dir) gives the conventional
    /// directory. Created (0700) on the first refresh; problems with it only disable the
    /// caching, with a warning.
    ///
    /// Default: no file cache (sessions live in memory only). Needs the `file-cache` feature.
    ///
    /// ```
    /// use aws_types::region::Region;
    /// use chainable_credentials::{ChainableTemporaryCredentials, file_cache};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut builder = ChainableTemporaryCredentials::builder()
    ///     .role_arn("arn:aws:iam::123456789012:role/nightly-report")
    ///     .role_session_name("nightly-report")
    ///     .region(Region::new("eu-west-1"));
    /// // ~/.cache/chainable-credentials, as the command-line tool uses; `None` (no file cache)
    /// // when neither XDG_CACHE_HOME nor HOME is set.
    /// builder.set_file_cache(file_cache::default_dir());
    /// let provider = builder.build()?; // no file is touched before the first refresh
    /// # let _ = provider;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "file-cache")]
    pub fn file_cache(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.set_file_cache(Some(dir.into()));
        self
    }

    /// Sets or clears the file cache directory; see [`file_cache`](Self::file_cache).
    #[cfg(feature = "file-cache")]
    pub fn set_file_cache(&mut self, dir: Option<std::path::PathBuf>) -> &mut Self {
        self.cache.file_cache = dir;
        self
    }

    /// Shares sessions beyond this process through `store`: a directory (the processes of
    /// one user on one machine) or Valkey/Redis (a fleet; cargo feature `redis-store`). A
    /// session is fetched once and reused from the store while more than its advisory window
    /// is left; providers that miss together make one STS call between them; a store that
    /// fails is left alone for a while and sessions come from STS as without it. Serves every
    /// hop of a chain or a profile built from this builder. See
    /// [`session_store`](crate::session_store). Not together with
    /// [`file_cache`](Self::file_cache), which is a directory store.
    ///
    /// Default: none.
    #[cfg(feature = "session-store")]
    pub fn session_store(mut self, store: crate::session_store::SessionStore) -> Self {
        self.set_session_store(Some(store));
        self
    }

    /// Sets or clears the session store; see [`session_store`](Self::session_store).
    #[cfg(feature = "session-store")]
    pub fn set_session_store(
        &mut self,
        store: Option<crate::session_store::SessionStore>,
    ) -> &mut Self {
        self.cache.session_store = store;
        self
    }
}

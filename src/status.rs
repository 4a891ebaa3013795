//! What a provider tells about itself: a [`ProviderStatus`] snapshot for health endpoints,
//! and a [`RefreshOutcome`] for every refresh, for metrics and alerts. Neither holds a secret
//! key or a session token.

use crate::error::error_line;
use crate::panic::{Panicked, catch_panic_now};
use aws_credential_types::provider::error::CredentialsError;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A snapshot of a provider's cache and refreshes, from
/// [`ChainableTemporaryCredentials::status`](crate::ChainableTemporaryCredentials::status).
///
/// Cheap to take (one short lock, no I/O) and free of secrets, so a service can return it
/// from its health endpoint as it is. Times are in the provider's clock frame (the local
/// clock, or the injected time source).
///
/// ```
/// # use chainable_credentials::ChainableTemporaryCredentials;
/// # fn health(provider: &ChainableTemporaryCredentials) -> (u16, String) {
/// let status = provider.status();
/// let code = if status.has_valid_session { 200 } else { 503 };
/// (code, format!("{status:?}"))
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderStatus {
    /// A session is cached and has not expired: requests can be signed now.
    pub has_valid_session: bool,
    /// The cached session's expiry; `None` before the first session and after
    /// [`invalidate`](crate::ChainableTemporaryCredentials::invalidate).
    pub expires_at: Option<SystemTime>,
    /// The cached session's refresh point: the (jittered) moment in its advisory window when
    /// it is refreshed.
    pub refresh_at: Option<SystemTime>,
    /// A refresh (STS call) is in flight.
    pub refreshing: bool,
    /// After a failed refresh: the earliest moment of the next attempt (the backoff).
    pub next_attempt_at: Option<SystemTime>,
    /// Refreshes started since the provider was built (its clones included).
    pub refreshes_started: u64,
    /// Refreshes that failed since the provider was built (a panic in a part the fetch calls
    /// counts as a failure).
    pub refreshes_failed: u64,
    /// Times the refresh listener given to [`Builder::on_refresh`](crate::Builder::on_refresh)
    /// panicked; each panic was caught, logged as a warning and otherwise ignored.
    pub listener_panics: u64,
    /// Refreshes that failed since the last successful one.
    pub failures_in_a_row: u32,
    /// The error of the last refresh, while refreshes are failing (`None` after a success).
    pub last_error: Option<String>,
    /// The last refresh failed but the cached session is still valid and is being served:
    /// STS trouble that callers do not see yet.
    pub serving_cached_after_failure: bool,
    /// The background refresh task is running (see
    /// [`Builder::background_refresh`](crate::Builder::background_refresh)).
    pub background_refresh_running: bool,
    /// With a session store ([`Builder::session_store`](crate::Builder::session_store) or the
    /// file cache): its hits, misses, rejected entries and errors, for every provider using the
    /// same store.
    #[cfg(feature = "session-store")]
    pub store: Option<crate::session_store::StoreCounts>,
}

/// How one refresh ended, as told to the listener given to
/// [`Builder::on_refresh`](crate::Builder::on_refresh).
#[derive(Debug)]
#[non_exhaustive]
pub enum RefreshOutcome<'a> {
    /// A new session is cached.
    #[non_exhaustive]
    Refreshed {
        /// The new session's expiry.
        expires_at: SystemTime,
        /// When the new session will be refreshed.
        refresh_at: SystemTime,
        /// How long the refresh took (base credentials and STS).
        took: Duration,
    },
    /// The refresh failed; the cached session, if still valid, stays in use.
    #[non_exhaustive]
    Failed {
        /// Why: a `CredentialsError` whose source is a [`FetchError`](crate::FetchError),
        /// except for a timeout (`CredentialsError::ProviderTimedOut`).
        error: &'a CredentialsError,
        /// Refreshes that failed since the last successful one, this one included.
        failures_in_a_row: u32,
        /// The earliest moment of the next attempt (the backoff).
        next_attempt_at: SystemTime,
        /// Until when the still-valid cached session is served; `None` if there is none.
        serving_cached_until: Option<SystemTime>,
        /// How long the refresh took before it failed.
        took: Duration,
    },
}

/// A listener for [`Builder::set_on_refresh`](crate::Builder::set_on_refresh): told how each
/// refresh ended.
pub type SharedRefreshListener = Arc<dyn Fn(&RefreshOutcome<'_>) + Send + Sync>;

/// The user's refresh listener, shared by clones and chain hops' engines.
#[derive(Clone)]
pub(crate) struct RefreshListener(SharedRefreshListener);

impl RefreshListener {
    pub(crate) fn from_arc(listener: SharedRefreshListener) -> Self {
        RefreshListener(listener)
    }

    /// Calls the listener; a panic in it is logged, not passed on to the refresh or its
    /// callers. Returns whether it panicked.
    pub(crate) fn tell(&self, outcome: &RefreshOutcome<'_>) -> Result<(), Panicked> {
        let told = catch_panic_now(|| (self.0)(outcome));
        if told.is_err() {
            tracing::warn!("the refresh listener panicked; the refresh itself is unaffected");
        }
        told
    }
}

impl fmt::Debug for RefreshListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshListener")
    }
}

impl fmt::Display for RefreshOutcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefreshOutcome::Refreshed {
                expires_at, took, ..
            } => write!(
                f,
                "refreshed in {} ms; expires at {}",
                took.as_millis(),
                aws_smithy_types::DateTime::from(*expires_at)
            ),
            RefreshOutcome::Failed {
                error,
                failures_in_a_row,
                ..
            } => write!(
                f,
                "refresh failed ({failures_in_a_row} in a row): {}",
                error_line(*error)
            ),
        }
    }
}

//! Caching and refreshing, independent of how a session is fetched: the engine drives a
//! [`FetchSession`], so the caching rules are tested and reasoned about on their own (the same
//! split as object_store's `TokenCache`).

mod attempt;
mod background;
mod backoff;
mod engine;
pub(crate) mod schedule;
mod state;

pub(crate) use backoff::Backoff;
pub(crate) use engine::RefreshEngine;
#[cfg(feature = "object-store")]
pub(crate) use state::CachedSession;
pub(crate) use state::EngineConfig;

pub(crate) use crate::boxed_future::BoxFuture;

use crate::session::Session;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use std::fmt;

/// Obtains a new session. Implemented by the fetch pipeline; fakes implement it in tests.
pub(crate) trait FetchSession: Send + Sync + fmt::Debug + 'static {
    /// Fetches one session. Called by at most one refresh at a time per engine.
    fn fetch(&self) -> BoxFuture<'_, Result<Session, CredentialsError>>;

    /// The tracing span a refresh runs in, with the fields that identify the session.
    fn refresh_span(&self) -> tracing::Span;

    /// The STS operation sessions come from (`AssumeRole` or `GetSessionToken`), for errors.
    fn operation(&self) -> &'static str;

    /// Told when the provider is invalidated while holding these credentials: a fetcher that
    /// keeps sessions elsewhere (a session store) must not hand them back.
    fn discard(&self, _credentials: &Credentials) {}

    /// The STS operation sessions come from, for the metrics; `None` when they do not come
    /// from STS (a profile's own credentials).
    #[cfg(feature = "telemetry")]
    fn sts_operation(&self) -> Option<&'static str> {
        Some(self.operation())
    }

    /// The session store's counts for the metrics, if this fetcher has a store.
    #[cfg(all(feature = "telemetry", feature = "session-store"))]
    fn store_gauges(&self) -> Option<crate::telemetry::StoreGauges> {
        None
    }

    /// The scope's label, for a scoped session's fetcher (its metrics may carry it).
    #[cfg(feature = "telemetry")]
    fn scope_label(&self) -> Option<&str> {
        None
    }

    /// What the session store did for this fetcher, if it has one.
    #[cfg(feature = "session-store")]
    fn store_counts(&self) -> Option<crate::session_store::StoreCounts> {
        None
    }
}

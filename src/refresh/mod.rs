//! Caching and refreshing, independent of how a session is fetched: the engine drives a
//! [`FetchSession`], so the caching rules are tested and reasoned about on their own (the same
//! split as object_store's `TokenCache`).

mod attempt;
mod background;
mod backoff;
mod engine;
mod schedule;
mod state;

pub(crate) use backoff::Backoff;
pub(crate) use engine::RefreshEngine;
#[cfg(feature = "session-store")]
pub(crate) use schedule::advisory_window;
#[cfg(feature = "object-store")]
pub(crate) use state::CachedSession;
pub(crate) use state::EngineConfig;

use crate::session::Session;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future, as fetchers return them.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

    /// What the session store did for this fetcher, if it has one.
    #[cfg(feature = "session-store")]
    fn store_counts(&self) -> Option<crate::session_store::StoreCounts> {
        None
    }
}

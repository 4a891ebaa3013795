//! The one fetch pipeline: base credentials → session store → STS. What the refresh engine calls
//! when it needs a new session.
//!
//! The base credentials are resolved here, before STS is called, rather than by the STS client,
//! so a failure of theirs is reported as such and not as an STS signing error; their access key
//! id also names the session store entry (the source principal).

use crate::error::{FetchError, panicked};
use crate::operation::Operation;
use crate::panic::{Panicked, catch_panic};
use crate::refresh::{BoxFuture, FetchSession};
use crate::request::SessionRequest;
use crate::session::Session;
use crate::sts::Sts;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use std::sync::Arc;

/// Fetches sessions for one provider.
#[derive(Debug)]
pub(crate) struct SessionFetcher {
    pub(crate) base: SharedCredentialsProvider,
    pub(crate) sts: Sts,
    /// What is asked for: names the refresh's tracing span.
    pub(crate) request: SessionRequest,
    /// Sessions shared beyond this process (a directory, Valkey), if configured.
    #[cfg(feature = "session-store")]
    pub(crate) store: Option<crate::session_store::ProviderStore>,
}

impl SessionFetcher {
    async fn session(&self) -> Result<Session, CredentialsError> {
        let operation = self.request.operation().name();
        if matches!(
            self.request.operation(),
            Operation::AssumeRoleWithWebIdentity | Operation::AssumeRoleWithSaml
        ) {
            return self.unsigned_session().await;
        }
        let base = catch_panic(async { self.base.provide_credentials().await })
            .await
            .map_err(|Panicked| panicked(operation, "the base credentials provider"))?
            .map_err(base_credentials_error)?;
        // The MFA token provider's panics are caught where it is called; what is left of the
        // STS call is the SDK and its HTTP client.
        let from_sts = async {
            catch_panic(self.sts.session(&base))
                .await
                .map_err(|Panicked| panicked(operation, "the STS call (its HTTP client)"))?
        };
        #[cfg(feature = "session-store")]
        if let Some(store) = &self.store {
            return store
                .load_or_fetch(
                    crate::session_store::KeySource::Credentials(&base),
                    from_sts,
                )
                .await;
        }
        from_sts.await
    }

    /// No base credentials: the token (the assertion), read once for this refresh, is the
    /// identity. A web identity session is shared through the session store under a key that
    /// hashes the token (a rotated token is a new entry); SAML assertions are single-use, so
    /// theirs are not.
    async fn unsigned_session(&self) -> Result<Session, CredentialsError> {
        let operation = self.request.operation().name();
        let identity = self.sts.unsigned_identity().await?;
        let from_sts = async {
            catch_panic(self.sts.unsigned_session(&identity))
                .await
                .map_err(|Panicked| panicked(operation, "the STS call (its HTTP client)"))?
        };
        #[cfg(feature = "session-store")]
        if let (Some(store), crate::sts::Unsigned::WebIdentityToken(token)) =
            (&self.store, &identity)
        {
            return store
                .load_or_fetch(
                    crate::session_store::KeySource::WebIdentityToken(token),
                    from_sts,
                )
                .await;
        }
        from_sts.await
    }
}

impl FetchSession for SessionFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<Session, CredentialsError>> {
        Box::pin(self.session())
    }

    fn discard(&self, _credentials: &Credentials) {
        #[cfg(feature = "session-store")]
        if let Some(store) = &self.store {
            store.discard(_credentials.access_key_id());
        }
    }

    #[cfg(all(feature = "telemetry", feature = "session-store"))]
    fn store_gauges(&self) -> Option<crate::telemetry::StoreGauges> {
        self.store
            .as_ref()
            .map(crate::session_store::ProviderStore::gauges)
    }

    #[cfg(feature = "session-store")]
    fn store_counts(&self) -> Option<crate::session_store::StoreCounts> {
        self.store
            .as_ref()
            .map(crate::session_store::ProviderStore::counts)
    }

    fn operation(&self) -> &'static str {
        self.request.operation().name()
    }

    fn refresh_span(&self) -> tracing::Span {
        let request = &self.request;
        tracing::info_span!(
            "refresh_session",
            operation = request.operation().name(),
            role_arn = request.role_arn.as_deref(),
            session_name = request.role_session_name.as_deref(),
            expiry = tracing::field::Empty,
            outcome = tracing::field::Empty,
        )
    }
}

/// Wraps a base provider's error, keeping its kind (a timeout stays a timeout).
pub(crate) fn base_credentials_error(error: CredentialsError) -> CredentialsError {
    match error {
        CredentialsError::ProviderTimedOut(t) => {
            CredentialsError::provider_timed_out(t.timeout_duration())
        }
        CredentialsError::InvalidConfiguration(_) => {
            CredentialsError::invalid_configuration(FetchError::BaseCredentials(Arc::new(error)))
        }
        CredentialsError::CredentialsNotLoaded(_) => {
            CredentialsError::not_loaded(FetchError::BaseCredentials(Arc::new(error)))
        }
        other => CredentialsError::provider_error(FetchError::BaseCredentials(Arc::new(other))),
    }
}

//! The providers as object_store's AWS credential provider (cargo feature `object-store`):
//! `AmazonS3Builder::new().with_credentials(Arc::new(provider))` is all a user writes, for a
//! role, a chain, a profile, web identity, or one tenant's scoped session.
//!
//! object_store asks its provider on every request (it caches nothing a custom provider
//! gives). A hit is what `provide_credentials` answers at once — the cached session before
//! its mandatory window, a refresh started in the background inside the advisory window — as
//! one `Arc<AwsCredential>` made once per session: no lock, no conversion, no allocation of
//! ours per request (object_store's trait boxes its future, as it does for every provider,
//! its static one included). A failure is an `object_store::Error::Generic` whose source is the
//! `CredentialsError`, which [`fetch_error`](crate::fetch_error) reads.

use crate::provider::ChainableTemporaryCredentials;
use crate::refresh::{CachedSession, RefreshEngine};
use crate::scoped::ScopedCredentials;
use aws_credential_types::Credentials;
use object_store::aws::AwsCredential;
use std::sync::Arc;

/// The name object_store's S3 errors carry.
const STORE: &str = "S3";

/// The session as object_store's credential: made on first use, then shared.
fn of_session(session: &CachedSession) -> Arc<AwsCredential> {
    session
        .object_store
        .get_or_init(|| Arc::new(converted(&session.credentials)))
        .clone()
}

fn converted(credentials: &Credentials) -> AwsCredential {
    AwsCredential {
        key_id: credentials.access_key_id().to_owned(),
        secret_key: credentials.secret_access_key().to_owned(),
        token: credentials.session_token().map(str::to_owned),
    }
}

/// The cached session's credential at once; else, after waiting for a session, the one just
/// published (converted for this caller if another has replaced it meanwhile).
async fn credential(engine: &RefreshEngine) -> object_store::Result<Arc<AwsCredential>> {
    if let Some(credential) = engine.cached_now(of_session) {
        return Ok(credential);
    }
    let credentials = engine
        .provide()
        .await
        .map_err(|error| object_store::Error::Generic {
            store: STORE,
            source: Box::new(error),
        })?;
    Ok(engine
        .cached_now(of_session)
        .filter(|credential| credential.key_id == credentials.access_key_id())
        .unwrap_or_else(|| Arc::new(converted(&credentials))))
}

#[async_trait::async_trait]
impl object_store::CredentialProvider for ChainableTemporaryCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        credential(&self.engine).await
    }
}

#[async_trait::async_trait]
impl object_store::CredentialProvider for ScopedCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        credential(self.engine_in_use()).await
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{ACCESS_DENIED, ASSUMED, provider_answering};
    use object_store::CredentialProvider;
    use std::sync::Arc;

    #[tokio::test]
    async fn every_hit_is_the_same_arc_made_once_per_session() {
        let provider = provider_answering(ASSUMED, 200);
        let first = provider.get_credential().await.unwrap();
        assert_eq!(first.key_id, "ASIATESTING");
        assert_eq!(first.secret_key, "testing-secret");
        assert_eq!(first.token.as_deref(), Some("testing-token"));
        let again = provider.get_credential().await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "no conversion per request");
    }

    #[tokio::test]
    async fn a_failure_is_an_object_store_error_whose_source_is_the_fetch_error() {
        let provider = provider_answering(ACCESS_DENIED, 403);
        let error = provider.get_credential().await.unwrap_err();
        assert!(matches!(
            error,
            object_store::Error::Generic { store: "S3", .. }
        ));
        let source = std::error::Error::source(&error)
            .and_then(|s| {
                s.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            })
            .expect("the CredentialsError");
        let fetch = crate::fetch_error(source).expect("a FetchError");
        assert!(fetch.to_string().contains("AccessDenied"), "{fetch}");
    }
}

//! The providers as OpenDAL's AWS credential provider (cargo feature `opendal`): reqsign's
//! `ProvideCredential` with its AWS `Credential`, expiry included, for
//! `services::S3::default().credential_provider_chain(ProvideCredentialChain::new().push(provider))`.
//!
//! reqsign keeps the credential it was given and asks again once it has under 120 s left.
//! The provider's own refresh replaces a session in its advisory window (the last 15 minutes
//! of an hour's session), so when reqsign asks again a newer session is cached and the answer
//! is at once: no OpenDAL request waits for STS across a refresh.

use crate::provider::ChainableTemporaryCredentials;
use crate::refresh::RefreshEngine;
use crate::scoped::ScopedCredentials;
use aws_credential_types::Credentials;
use reqsign_aws_v4::Credential;
use reqsign_core::time::Timestamp;
use reqsign_core::{Context, ProvideCredential};
use std::time::{SystemTime, UNIX_EPOCH};

/// reqsign's credential for `credentials`, their expiry as its `expires_in`.
fn converted(credentials: &Credentials) -> reqsign_core::Result<Credential> {
    let expires_in = credentials.expiry().map(timestamp).transpose()?;
    Ok(Credential {
        access_key_id: credentials.access_key_id().to_owned(),
        secret_access_key: credentials.secret_access_key().to_owned(),
        session_token: credentials.session_token().map(str::to_owned),
        expires_in,
    })
}

fn timestamp(at: SystemTime) -> reqsign_core::Result<Timestamp> {
    let millis = at
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|since| i64::try_from(since.as_millis()).ok())
        .ok_or_else(|| reqsign_core::Error::unexpected("a session expiry outside the calendar"))?;
    Timestamp::from_millisecond(millis)
}

/// The cached session, or a new one, as reqsign's credential; a failure carries the
/// `CredentialsError` as its source.
async fn credential(engine: &RefreshEngine) -> reqsign_core::Result<Option<Credential>> {
    let credentials = engine.provide().await.map_err(|error| {
        reqsign_core::Error::credential_invalid(format!(
            "ChainableTemporaryCredentials: {}",
            crate::error_line(&error)
        ))
        .with_source(error)
    })?;
    converted(&credentials).map(Some)
}

impl ProvideCredential for ChainableTemporaryCredentials {
    type Credential = Credential;

    async fn provide_credential(&self, _: &Context) -> reqsign_core::Result<Option<Credential>> {
        credential(&self.engine).await
    }
}

impl ProvideCredential for ScopedCredentials {
    type Credential = Credential;

    async fn provide_credential(&self, _: &Context) -> reqsign_core::Result<Option<Credential>> {
        credential(self.engine_in_use()).await
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{ACCESS_DENIED, ASSUMED, NOW, provider_answering};
    use reqsign_core::{Context, ProvideCredential};

    #[tokio::test]
    async fn the_credential_carries_the_sessions_expiry() {
        let provider = provider_answering(ASSUMED, 200);
        let credential = provider
            .provide_credential(&Context::new())
            .await
            .unwrap()
            .expect("a credential");
        assert_eq!(credential.access_key_id, "ASIATESTING");
        assert_eq!(credential.session_token.as_deref(), Some("testing-token"));
        let expires_in = credential.expires_in.expect("an expiry");
        assert_eq!(expires_in.as_second(), NOW as i64 + 3600);
        assert!(!format!("{credential:?}").contains("testing-secret"));
    }

    #[tokio::test]
    async fn a_failure_says_why_and_carries_the_credentials_error() {
        let provider = provider_answering(ACCESS_DENIED, 403);
        let error = provider
            .provide_credential(&Context::new())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("AccessDenied"), "{error}");
        let source = std::error::Error::source(&error).expect("a source");
        let credentials_error = std::iter::successors(Some(source), |e| e.source())
            .find_map(|e| {
                e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            })
            .expect("the CredentialsError in the chain");
        assert!(crate::fetch_error(credentials_error).is_some());
    }
}

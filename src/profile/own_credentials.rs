//! A profile without `role_arn` served as its own credentials — a `credential_process`, SSO,
//! a console login, or keys — read through aws-config's providers and kept by this crate's
//! refresh engine: one read per lifetime however many callers, refreshed before expiry in the
//! background, a still-valid session served while a refresh fails. No STS call is made: the
//! credentials are the profile's.

use crate::error::panicked;
use crate::fetch::base_credentials_error;
use crate::panic::{Panicked, catch_panic};
use crate::refresh::{BoxFuture, FetchSession};
use crate::session::{Origin, Session};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::time::SharedTimeSource;
use std::time::Duration;

/// How long credentials without an expiry (keys, a `credential_process` that prints none) are
/// kept before they are read again: what the SDK's identity cache does with them (15 minutes).
const UNDATED_CREDENTIALS_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// What the refresh engine calls for the profile's own credentials.
#[derive(Debug)]
pub(crate) struct OwnCredentials {
    pub(crate) profile: String,
    pub(crate) source: SharedCredentialsProvider,
    pub(crate) time: SharedTimeSource,
}

/// Names the refreshes and their errors: no STS operation is involved.
const OPERATION: &str = "the profile's own credentials";

impl OwnCredentials {
    async fn read(&self) -> Result<Session, CredentialsError> {
        let credentials = catch_panic(async { self.source.provide_credentials().await })
            .await
            .map_err(|Panicked| panicked(OPERATION, "the profile's credentials provider"))?
            .map_err(base_credentials_error)?;
        let received_at = self.time.now();
        let expires_at = credentials
            .expiry()
            .unwrap_or(received_at + UNDATED_CREDENTIALS_LIFETIME);
        Ok(Session {
            credentials: dated(&credentials, expires_at),
            received_at,
            expires_at,
            origin: Origin::Profile,
        })
    }
}

/// The credentials with `expires_at` as their expiry: an SDK client's identity cache then asks
/// again when this crate would read them again.
fn dated(credentials: &Credentials, expires_at: std::time::SystemTime) -> Credentials {
    let mut builder = Credentials::builder()
        .access_key_id(credentials.access_key_id())
        .secret_access_key(credentials.secret_access_key())
        .expiry(expires_at)
        .provider_name(crate::session::PROVIDER_NAME);
    builder.set_session_token(credentials.session_token().map(str::to_owned));
    builder.set_account_id(credentials.account_id().cloned());
    builder.build()
}

impl FetchSession for OwnCredentials {
    fn fetch(&self) -> BoxFuture<'_, Result<Session, CredentialsError>> {
        Box::pin(self.read())
    }

    fn refresh_span(&self) -> tracing::Span {
        tracing::info_span!(
            "refresh_session",
            operation = "none (the profile's own credentials)",
            profile = self.profile.as_str(),
            expiry = tracing::field::Empty,
            outcome = tracing::field::Empty,
        )
    }

    fn operation(&self) -> &'static str {
        OPERATION
    }

    #[cfg(feature = "telemetry")]
    fn sts_operation(&self) -> Option<&'static str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_async::test_util::ManualTimeSource;
    use std::time::UNIX_EPOCH;

    fn fetcher(credentials: Credentials, clock: &ManualTimeSource) -> OwnCredentials {
        OwnCredentials {
            profile: "sso-dev".into(),
            source: SharedCredentialsProvider::new(credentials),
            time: SharedTimeSource::new(clock.clone()),
        }
    }

    #[tokio::test]
    async fn the_profiles_credentials_keep_their_expiry_or_get_fifteen_minutes() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let clock = ManualTimeSource::new(now);
        let expiry = now + Duration::from_secs(3600);
        let dated_source = Credentials::new("ASIA1", "s", Some("t".into()), Some(expiry), "p");
        let session = fetcher(dated_source, &clock).fetch().await.unwrap();
        assert_eq!(session.expires_at, expiry);
        assert_eq!(session.credentials.expiry(), Some(expiry));
        assert_eq!(session.credentials.session_token(), Some("t"));
        assert_eq!(session.origin, Origin::Profile);

        let keys = Credentials::new("AKIA1", "s", None, None, "p");
        let session = fetcher(keys, &clock).fetch().await.unwrap();
        assert_eq!(session.expires_at, now + UNDATED_CREDENTIALS_LIFETIME);
        assert_eq!(session.credentials.session_token(), None);
        assert_eq!(session.credentials.expiry(), Some(session.expires_at));
    }
}

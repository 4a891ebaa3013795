//! Checking STS's answer and turning it into a [`Session`] with its expiry in the local frame.

use crate::arn::Arn;
use crate::error::FetchError;
use crate::session::{Session, SessionKeys};
use crate::sts::server_date::local_expiry;
use aws_credential_types::provider::error::CredentialsError;
use std::time::{Duration, SystemTime};

/// When and how STS's answer arrived.
pub(crate) struct Receipt {
    /// Local time at which the answer arrived.
    pub(crate) received_at: SystemTime,
    /// The answer's `Date` header, if it had a parseable one.
    pub(crate) server_date: Option<SystemTime>,
    /// The longest the session can live: the requested (or STS's default) duration.
    pub(crate) longest: Duration,
}

/// The session in STS's answer to `operation`, received as `receipt` says;
/// `assumed_role_arn` gives the account id.
pub(crate) fn into_session(
    operation: &'static str,
    sts_credentials: Option<aws_sdk_sts::types::Credentials>,
    assumed_role_arn: Option<String>,
    receipt: Receipt,
) -> Result<Session, CredentialsError> {
    let Receipt {
        received_at,
        server_date,
        longest,
    } = receipt;
    let invalid = |problem: &str| {
        CredentialsError::provider_error(FetchError::InvalidResponse {
            operation,
            problem: problem.to_owned(),
        })
    };
    let credentials = sts_credentials.ok_or_else(|| invalid("missing <Credentials>"))?;
    if credentials.access_key_id.is_empty() {
        return Err(invalid("empty <AccessKeyId>"));
    }
    if credentials.secret_access_key.is_empty() {
        return Err(invalid("empty <SecretAccessKey>"));
    }
    if credentials.session_token.is_empty() {
        return Err(invalid("empty <SessionToken>"));
    }
    // The SDK fills a missing required field with its default: for a date, the epoch.
    if credentials.expiration.secs() == 0 && credentials.expiration.subsec_nanos() == 0 {
        return Err(invalid("missing <Expiration>"));
    }
    let expiration = SystemTime::try_from(credentials.expiration)
        .map_err(|_| invalid("<Expiration> is out of range"))?;
    let server_date_text = || {
        server_date
            .map(|d| aws_smithy_types::DateTime::from(d).to_string())
            .unwrap_or_else(|| "absent".into())
    };
    let (expires_at, bounded) = local_expiry(received_at, server_date, expiration, longest)
        .ok_or_else(|| {
            invalid(&format!(
                "the session has already expired (Expiration {}, server Date {})",
                credentials.expiration,
                server_date_text(),
            ))
        })?;
    if bounded {
        tracing::warn!(
            expiration = %credentials.expiration,
            server_date = %server_date_text(),
            lifetime = ?longest,
            "STS's answer claims a session longer than the one requested (a Date header far \
             in the past, or a local clock behind STS's without one); its expiry is bounded \
             by the requested lifetime"
        );
    }
    let account_id = assumed_role_arn
        .as_deref()
        .and_then(Arn::parse)
        .map(|arn| arn.account.to_owned())
        .filter(|account| !account.is_empty());
    Ok(Session::new(
        SessionKeys {
            access_key_id: credentials.access_key_id,
            secret_access_key: credentials.secret_access_key,
            session_token: credentials.session_token,
            account_id,
        },
        received_at,
        expires_at,
    ))
}

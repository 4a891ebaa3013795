//! Checking STS's answer and turning it into a [`Session`] with its expiry in the local frame.

use crate::arn::Arn;
use crate::error::FetchError;
use crate::session::{Session, SessionKeys};
use crate::sts::server_date::local_expiry;
use aws_credential_types::provider::error::CredentialsError;
use std::time::SystemTime;

/// The session in STS's answer to `operation`, received at local time `received_at` in a
/// response dated `server_date`; `assumed_role_arn` gives the account id.
pub(crate) fn into_session(
    operation: &'static str,
    sts_credentials: Option<aws_sdk_sts::types::Credentials>,
    assumed_role_arn: Option<String>,
    received_at: SystemTime,
    server_date: Option<SystemTime>,
) -> Result<Session, CredentialsError> {
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
    let expires_at = local_expiry(received_at, server_date, expiration).ok_or_else(|| {
        invalid(&format!(
            "the session has already expired (Expiration {}, server Date {})",
            credentials.expiration,
            server_date
                .map(|d| aws_smithy_types::DateTime::from(d).to_string())
                .unwrap_or_else(|| "absent".into()),
        ))
    })?;
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

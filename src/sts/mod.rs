//! The STS call: `AssumeRole`, or `GetSessionToken` when no role is given, signed with the base
//! credentials resolved just before it; its answer checked ([`answer`]), its errors typed
//! ([`error`]) and its `Date` header captured to move the expiry into the local clock's frame
//! ([`server_date`]).

mod answer;
mod error;
mod server_date;

use crate::session::{MAX_CHAINED_SESSION_DURATION, Session, SessionRequest};
use answer::{Receipt, into_session};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::types::PolicyDescriptorType;
use aws_smithy_async::time::SharedTimeSource;
use error::{is_role_chaining_limit, sts_error};
#[cfg(feature = "file-cache")]
pub(crate) use server_date::EXPIRY_ALLOWANCE;
use server_date::ServerDateCapture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// An STS client created on first use from its configuration.
#[derive(Debug)]
struct LazyStsClient {
    config: aws_sdk_sts::Config,
    client: std::sync::OnceLock<aws_sdk_sts::Client>,
}

impl LazyStsClient {
    fn new(config: aws_sdk_sts::Config) -> Self {
        LazyStsClient {
            config,
            client: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> &aws_sdk_sts::Client {
        self.client
            .get_or_init(|| aws_sdk_sts::Client::from_conf(self.config.clone()))
    }
}

/// Calls STS for sessions: `AssumeRole`, or `GetSessionToken` when no role is given.
#[derive(Debug)]
pub(crate) struct Sts {
    /// The STS client, created at the first call: creating it loads the platform's root
    /// certificates (about 150 files on Debian), which a process answered from the file cache
    /// never needs.
    client: LazyStsClient,
    request: SessionRequest,
    time: SharedTimeSource,
    /// The role-chaining clamp is announced once per provider, not at every refresh.
    warned_chain_clamp: AtomicBool,
}

impl Sts {
    pub(crate) fn new(
        config: aws_sdk_sts::Config,
        request: SessionRequest,
        time: SharedTimeSource,
    ) -> Self {
        Sts {
            client: LazyStsClient::new(config),
            request,
            time,
            warned_chain_clamp: AtomicBool::new(false),
        }
    }

    /// A new session from STS, signed with `base`.
    pub(crate) async fn session(&self, base: &Credentials) -> Result<Session, CredentialsError> {
        let duration = self.chain_limited_duration(base);
        match self.call(base, duration).await {
            // STS refuses more than an hour for a chained session. If it says so although the
            // base credentials did not look temporary, try once more at the limit.
            Err(error)
                if duration.is_some_and(|d| d > MAX_CHAINED_SESSION_DURATION)
                    && is_role_chaining_limit(&error) =>
            {
                tracing::warn!(
                    requested = ?duration,
                    "STS refused the duration for a chained role session; retrying once at 1 hour"
                );
                self.call(base, Some(MAX_CHAINED_SESSION_DURATION)).await
            }
            other => other,
        }
    }

    /// The duration to request: the configured one, clamped to one hour when the base
    /// credentials are themselves temporary (role chaining), which STS would refuse otherwise.
    fn chain_limited_duration(&self, base: &Credentials) -> Option<Duration> {
        let requested = self.request.duration;
        let chained = self.request.role.is_some() && base.session_token().is_some();
        match requested {
            Some(d) if chained && d > MAX_CHAINED_SESSION_DURATION => {
                if !self.warned_chain_clamp.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        requested = ?d,
                        "the base credentials are temporary (role chaining): STS allows at most \
                         1 hour, so sessions are requested for 1 hour"
                    );
                }
                Some(MAX_CHAINED_SESSION_DURATION)
            }
            other => other,
        }
    }

    /// One STS call signed with `base`.
    async fn call(
        &self,
        base: &Credentials,
        duration: Option<Duration>,
    ) -> Result<Session, CredentialsError> {
        let operation = self.request.operation();
        let (serial_number, token_code) = match &self.request.mfa {
            Some(mfa) => (
                Some(mfa.serial_number.clone()),
                Some(mfa.token_code(operation).await?),
            ),
            None => (None, None),
        };
        let date = ServerDateCapture::default();
        // Sign this call with exactly the base credentials just resolved.
        let signing = aws_sdk_sts::config::Builder::default().credentials_provider(base.clone());
        let duration_seconds = duration.map(duration_seconds);
        let (sts_credentials, assumed_role_arn) = match &self.request.role {
            Some(role) => {
                let output = self
                    .client
                    .get()
                    .assume_role()
                    .role_arn(&role.role_arn)
                    .role_session_name(&role.session_name)
                    .set_duration_seconds(duration_seconds)
                    .set_external_id(role.external_id.clone())
                    .set_policy(role.policy.clone())
                    .set_policy_arns(non_empty(
                        role.policy_arns
                            .iter()
                            .map(|arn| PolicyDescriptorType::builder().arn(arn).build())
                            .collect(),
                    ))
                    .set_tags(non_empty(role.tags.clone()))
                    .set_transitive_tag_keys(non_empty(role.transitive_tag_keys.clone()))
                    .set_source_identity(role.source_identity.clone())
                    .set_serial_number(serial_number)
                    .set_token_code(token_code)
                    .customize()
                    .config_override(signing)
                    .interceptor(date.clone())
                    .send()
                    .await
                    .map_err(|e| sts_error(operation, e))?;
                (
                    output.credentials,
                    output.assumed_role_user.map(|user| user.arn),
                )
            }
            None => {
                let output = self
                    .client
                    .get()
                    .get_session_token()
                    .set_duration_seconds(duration_seconds)
                    .set_serial_number(serial_number)
                    .set_token_code(token_code)
                    .customize()
                    .config_override(signing)
                    .interceptor(date.clone())
                    .send()
                    .await
                    .map_err(|e| sts_error(operation, e))?;
                (output.credentials, None)
            }
        };
        let receipt = Receipt {
            received_at: self.time.now(),
            server_date: date.server_date(),
            longest: self.request.longest_lifetime(duration),
        };
        into_session(operation, sts_credentials, assumed_role_arn, receipt)
    }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn duration_seconds(duration: Duration) -> i32 {
    // Validated in `build()` to lie within 900..=129_600 seconds.
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)
}

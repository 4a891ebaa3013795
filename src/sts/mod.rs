//! The STS call: `AssumeRole`, `GetSessionToken` or `GetFederationToken` signed with the base
//! credentials resolved just before it, or `AssumeRoleWithWebIdentity`/`AssumeRoleWithSAML`
//! unsigned with the token or assertion read for this refresh; its answer checked
//! ([`answer`]), its errors typed ([`error`]) and its `Date` header captured to move the expiry
//! into the local clock's frame ([`server_date`]).

mod answer;
mod error;
mod server_date;

use crate::error::FetchError;
use crate::mfa::MfaDevice;
use crate::operation::MAX_CHAINED_SESSION_DURATION;
use crate::operation::Operation;
use crate::request::SessionRequest;
use crate::session::Session;
use crate::web_identity::{SamlSource, TokenSource, saml_assertion};
use answer::{Receipt, into_session};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::types::{PolicyDescriptorType, Tag};
use aws_smithy_async::time::SharedTimeSource;
use error::{is_role_chaining_limit, sts_error};
#[cfg(feature = "session-store")]
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
    /// certificates, which a process answered from the file cache never needs.
    client: LazyStsClient,
    /// Validated, with its session name set.
    request: SessionRequest,
    /// The device of `request.mfa_serial()` and where its codes come from.
    mfa: Option<MfaDevice>,
    /// Where a web identity hop's tokens come from.
    web_identity: Option<TokenSource>,
    /// Where a SAML hop's assertions come from.
    saml: Option<SamlSource>,
    time: SharedTimeSource,
    /// The role-chaining clamp is announced once per provider, not at every refresh.
    warned_chain_clamp: AtomicBool,
}

impl Sts {
    pub(crate) fn new(
        config: aws_sdk_sts::Config,
        request: SessionRequest,
        (mfa, web_identity, saml): (Option<MfaDevice>, Option<TokenSource>, Option<SamlSource>),
        time: SharedTimeSource,
    ) -> Self {
        Sts {
            client: LazyStsClient::new(config),
            request,
            mfa,
            web_identity,
            saml,
            time,
            warned_chain_clamp: AtomicBool::new(false),
        }
    }

    /// The identity an unsigned hop calls STS with, read now (once per refresh): the web
    /// identity token, or the SAML assertion. Checked: present (and base64 for SAML); an error
    /// names the source, never the value.
    pub(crate) async fn unsigned_identity(&self) -> Result<Unsigned, CredentialsError> {
        let operation = self.request.operation();
        match (operation, &self.web_identity, &self.saml) {
            (Operation::AssumeRoleWithWebIdentity, Some(source), _) => Ok(
                Unsigned::WebIdentityToken(source.token(operation.name()).await?),
            ),
            (Operation::AssumeRoleWithSaml, _, Some(source)) => Ok(Unsigned::SamlAssertion(
                saml_assertion(source, operation.name()).await?,
            )),
            _ => Err(CredentialsError::invalid_configuration(format!(
                "{} takes no token or assertion source",
                operation.name()
            ))),
        }
    }

    /// A new session from STS, unsigned, with the identity read for this refresh.
    pub(crate) async fn unsigned_session(
        &self,
        identity: &Unsigned,
    ) -> Result<Session, CredentialsError> {
        let duration = self.request.duration;
        match identity {
            Unsigned::WebIdentityToken(token) => self.call_web_identity(token, duration).await,
            Unsigned::SamlAssertion(assertion) => self.call_saml(assertion, duration).await,
        }
    }

    /// A new session from STS, signed with `base`.
    pub(crate) async fn session(&self, base: &Credentials) -> Result<Session, CredentialsError> {
        self.session_for(&self.request, base).await
    }

    /// A new session for `request` (validated, its session name set), signed with `base`, on
    /// this client: what scoped sessions share one STS client and HTTP stack through.
    pub(crate) async fn session_for(
        &self,
        request: &SessionRequest,
        base: &Credentials,
    ) -> Result<Session, CredentialsError> {
        let operation = request.operation();
        if let Some(reason) = temporary_base_refused(operation, base) {
            return Err(CredentialsError::invalid_configuration(
                FetchError::BaseNotAccepted {
                    operation: operation.name(),
                    reason,
                },
            ));
        }
        let duration = self.chain_limited_duration(request, base);
        match self.call(request, base, duration).await {
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
                self.call(request, base, Some(MAX_CHAINED_SESSION_DURATION))
                    .await
            }
            other => other,
        }
    }

    /// The duration to request: the configured one, clamped to one hour when the base
    /// credentials are themselves temporary (role chaining), which STS would refuse otherwise.
    fn chain_limited_duration(
        &self,
        request: &SessionRequest,
        base: &Credentials,
    ) -> Option<Duration> {
        let requested = request.duration;
        let chained =
            request.operation() == Operation::AssumeRole && base.session_token().is_some();
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
        request: &SessionRequest,
        base: &Credentials,
        duration: Option<Duration>,
    ) -> Result<Session, CredentialsError> {
        let operation = request.operation();
        let mfa = match &self.mfa {
            Some(mfa) => Some((
                mfa.serial_number.clone(),
                mfa.token_code(operation.name()).await?,
            )),
            None => None,
        };
        let call = SignedCall {
            date: ServerDateCapture::default(),
            // Sign this call with exactly the base credentials just resolved.
            signing: aws_sdk_sts::config::Builder::default().credentials_provider(base.clone()),
            duration_seconds: duration.map(duration_seconds),
            mfa,
        };
        let (sts_credentials, principal_arn) = match operation {
            Operation::AssumeRole => self.assume_role(request, &call).await?,
            Operation::GetFederationToken => self.get_federation_token(request, &call).await?,
            Operation::GetSessionToken => self.get_session_token(&call).await?,
            Operation::AssumeRoleWithWebIdentity | Operation::AssumeRoleWithSaml => {
                return Err(CredentialsError::invalid_configuration(format!(
                    "{} is not signed with base credentials",
                    operation.name()
                )));
            }
        };
        let receipt = self.receipt(&call.date, request, duration);
        into_session(operation.name(), sts_credentials, principal_arn, receipt)
    }

    /// `AssumeRole`: the session's credentials and the assumed role's ARN.
    async fn assume_role(
        &self,
        request: &SessionRequest,
        call: &SignedCall,
    ) -> Result<Answer, CredentialsError> {
        let (serial_number, token_code) = call.mfa.clone().unzip();
        let output = self
            .client
            .get()
            .assume_role()
            .set_role_arn(request.role_arn.as_deref().map(str::to_owned))
            .set_role_session_name(request.role_session_name.as_deref().map(str::to_owned))
            .set_duration_seconds(call.duration_seconds)
            .set_external_id(request.external_id().map(str::to_owned))
            .set_policy(request.policy.as_deref().map(str::to_owned))
            .set_policy_arns(non_empty(policy_descriptors(&request.policy_arns)))
            .set_tags(non_empty(sts_tags(&request.tags)?))
            .set_transitive_tag_keys(non_empty(request.transitive_tag_keys.to_vec()))
            .set_source_identity(request.source_identity.as_deref().map(str::to_owned))
            .set_serial_number(serial_number)
            .set_token_code(token_code)
            .customize()
            .config_override(call.signing.clone())
            .interceptor(call.date.clone())
            .send()
            .await
            .map_err(|e| sts_error(Operation::AssumeRole.name(), e))?;
        Ok((
            output.credentials,
            output.assumed_role_user.map(|user| user.arn),
        ))
    }

    /// `GetFederationToken`: the session's credentials and the federated user's ARN.
    async fn get_federation_token(
        &self,
        request: &SessionRequest,
        call: &SignedCall,
    ) -> Result<Answer, CredentialsError> {
        let output = self
            .client
            .get()
            .get_federation_token()
            .set_name(request.federation_token().map(str::to_owned))
            .set_duration_seconds(call.duration_seconds)
            .set_policy(request.policy.as_deref().map(str::to_owned))
            .set_policy_arns(non_empty(policy_descriptors(&request.policy_arns)))
            .set_tags(non_empty(sts_tags(&request.tags)?))
            .customize()
            .config_override(call.signing.clone())
            .interceptor(call.date.clone())
            .send()
            .await
            .map_err(|e| sts_error(Operation::GetFederationToken.name(), e))?;
        Ok((
            output.credentials,
            output.federated_user.map(|user| user.arn),
        ))
    }

    /// `GetSessionToken`: the session's credentials (no principal of its own).
    async fn get_session_token(&self, call: &SignedCall) -> Result<Answer, CredentialsError> {
        let (serial_number, token_code) = call.mfa.clone().unzip();
        let output = self
            .client
            .get()
            .get_session_token()
            .set_duration_seconds(call.duration_seconds)
            .set_serial_number(serial_number)
            .set_token_code(token_code)
            .customize()
            .config_override(call.signing.clone())
            .interceptor(call.date.clone())
            .send()
            .await
            .map_err(|e| sts_error(Operation::GetSessionToken.name(), e))?;
        Ok((output.credentials, None))
    }
}

/// What every signed call is sent with: the base credentials to sign with, the capture of the
/// answer's `Date`, the duration asked for and the MFA device's serial number and code.
struct SignedCall {
    date: ServerDateCapture,
    signing: aws_sdk_sts::config::Builder,
    duration_seconds: Option<i32>,
    mfa: Option<(String, String)>,
}

/// An STS answer: the session's credentials, and the ARN of the principal they act as.
type Answer = (Option<aws_sdk_sts::types::Credentials>, Option<String>);

impl Sts {
    /// What the answer to `request` is checked against: when it came, STS's `Date`, and the
    /// longest lifetime `duration` allows.
    fn receipt(
        &self,
        date: &ServerDateCapture,
        request: &SessionRequest,
        duration: Option<Duration>,
    ) -> Receipt {
        Receipt {
            received_at: self.time.now(),
            server_date: date.server_date(),
            longest: request.longest_lifetime(duration),
        }
    }

    /// One unsigned `AssumeRoleWithSAML` call.
    async fn call_saml(
        &self,
        assertion: &str,
        duration: Option<Duration>,
    ) -> Result<Session, CredentialsError> {
        let operation = Operation::AssumeRoleWithSaml;
        let request = &self.request;
        let date = ServerDateCapture::default();
        let output = self
            .client
            .get()
            .assume_role_with_saml()
            .set_role_arn(request.role_arn.as_deref().map(str::to_owned))
            .set_principal_arn(request.saml_provider_arn().map(str::to_owned))
            .saml_assertion(assertion.to_owned())
            .set_duration_seconds(duration.map(duration_seconds))
            .set_policy(request.policy.as_deref().map(str::to_owned))
            .set_policy_arns(non_empty(policy_descriptors(&request.policy_arns)))
            .customize()
            .interceptor(date.clone())
            .send()
            .await
            .map_err(|e| sts_error(operation.name(), e))?;
        let receipt = self.receipt(&date, request, duration);
        into_session(
            operation.name(),
            output.credentials,
            output.assumed_role_user.map(|user| user.arn),
            receipt,
        )
    }

    /// One unsigned `AssumeRoleWithWebIdentity` call.
    async fn call_web_identity(
        &self,
        token: &str,
        duration: Option<Duration>,
    ) -> Result<Session, CredentialsError> {
        let operation = Operation::AssumeRoleWithWebIdentity;
        let request = &self.request;
        let date = ServerDateCapture::default();
        let output = self
            .client
            .get()
            .assume_role_with_web_identity()
            .set_role_arn(request.role_arn.as_deref().map(str::to_owned))
            .set_role_session_name(request.role_session_name.as_deref().map(str::to_owned))
            .web_identity_token(token.to_owned())
            .set_provider_id(request.provider_id().map(str::to_owned))
            .set_duration_seconds(duration.map(duration_seconds))
            .set_policy(request.policy.as_deref().map(str::to_owned))
            .set_policy_arns(non_empty(policy_descriptors(&request.policy_arns)))
            .customize()
            .interceptor(date.clone())
            .send()
            .await
            .map_err(|e| sts_error(operation.name(), e))?;
        let receipt = self.receipt(&date, request, duration);
        into_session(
            operation.name(),
            output.credentials,
            output.assumed_role_user.map(|user| user.arn),
            receipt,
        )
    }
}

/// What an unsigned hop proves its identity with, read for one refresh. Secret: no `Debug`.
pub(crate) enum Unsigned {
    /// The OIDC (or OAuth 2.0) token of `AssumeRoleWithWebIdentity`.
    WebIdentityToken(String),
    /// The base64 `SAMLResponse` of `AssumeRoleWithSAML`.
    SamlAssertion(String),
}

/// The session tags as the SDK takes them. Keys and values are both set, so the SDK's
/// "required field" check cannot fail; should it, the refresh fails with what it said.
fn sts_tags(tags: &[(String, String)]) -> Result<Vec<Tag>, CredentialsError> {
    tags.iter()
        .map(|(key, value)| {
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(CredentialsError::invalid_configuration)
        })
        .collect()
}

/// The managed session policies as the SDK takes them.
fn policy_descriptors(arns: &[String]) -> Vec<PolicyDescriptorType> {
    arns.iter()
        .map(|arn| PolicyDescriptorType::builder().arn(arn).build())
        .collect()
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn duration_seconds(duration: Duration) -> i32 {
    // Validated in `build()` to lie within 900..=129_600 seconds.
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)
}

/// Why STS would refuse `operation` signed with `base`, if it would: `GetFederationToken`
/// and `GetSessionToken` take long-term IAM user (or root) keys, never a session (STS:
/// "Cannot call GetFederationToken with session credentials", "Cannot call GetSessionToken
/// with session credentials"). Refused here, before any call, with a reason that says so.
fn temporary_base_refused(operation: Operation, base: &Credentials) -> Option<&'static str> {
    // Long-term keys have no session token: every operation takes them.
    base.session_token()?;
    match operation {
        Operation::GetFederationToken => Some(
            "they are temporary (they have a session token); STS issues federation tokens to \
             long-term IAM user keys only",
        ),
        Operation::GetSessionToken => Some(
            "they are temporary (they have a session token: a role's session, or one from \
             credential_process or SSO); STS issues session tokens to long-term IAM user keys \
             only — use these credentials as they are, or assume a role with them",
        ),
        _ => None,
    }
}

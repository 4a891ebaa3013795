//! Fetching one session from STS: `AssumeRole`, or `GetSessionToken` when no role is given.
//!
//! The base credentials are resolved here, before the call, rather than by the STS client, so a
//! failure of theirs is reported as such and not as an STS signing error.

use crate::error::FetchError;
use crate::mfa::Mfa;
use crate::refresh::engine::{BoxFuture, FetchSession};
use crate::server_date::{ServerDateCapture, local_expiry};
use crate::session::Session;
use crate::validation::MAX_CHAINED_SESSION_DURATION;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::RequestId;
use aws_sdk_sts::types::{PolicyDescriptorType, Tag};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// The name credentials from this crate carry as `provider_name`.
pub(crate) const PROVIDER_NAME: &str = "ChainableTemporaryCredentials";

/// STS error codes that retrying the same request cannot fix: reported as
/// `CredentialsError::InvalidConfiguration`.
const CONFIGURATION_ERROR_CODES: &[&str] = &[
    "MalformedPolicyDocument",
    "PackedPolicyTooLarge",
    "RegionDisabledException",
    "ValidationError",
];

/// What to ask STS for.
#[derive(Debug, Clone)]
pub(crate) struct SessionRequest {
    /// `AssumeRole` with these parameters; `None` means `GetSessionToken`.
    pub(crate) role: Option<AssumeRoleParams>,
    /// `DurationSeconds`, if set.
    pub(crate) duration: Option<Duration>,
    /// `SerialNumber` and `TokenCode`, if set.
    pub(crate) mfa: Option<Mfa>,
}

/// The parameters of `AssumeRole` besides duration and MFA, validated by the builder.
#[derive(Clone)]
pub(crate) struct AssumeRoleParams {
    pub(crate) role_arn: String,
    pub(crate) session_name: String,
    pub(crate) external_id: Option<String>,
    /// Packed (whitespace-free) JSON.
    pub(crate) policy: Option<String>,
    pub(crate) policy_arns: Vec<String>,
    pub(crate) tags: Vec<Tag>,
    pub(crate) transitive_tag_keys: Vec<String>,
    pub(crate) source_identity: Option<String>,
}

impl fmt::Debug for AssumeRoleParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleParams")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "** set **"),
            )
            .field("policy", &self.policy.as_ref().map(|p| p.len()))
            .field("policy_arns", &self.policy_arns)
            .field("tags", &self.tags.len())
            .field("transitive_tag_keys", &self.transitive_tag_keys)
            .field("source_identity", &self.source_identity)
            .finish()
    }
}

impl SessionRequest {
    pub(crate) fn operation(&self) -> &'static str {
        if self.role.is_some() {
            "AssumeRole"
        } else {
            "GetSessionToken"
        }
    }
}

/// An STS client created on first use from its configuration.
#[derive(Debug)]
pub(crate) struct LazyStsClient {
    config: aws_sdk_sts::Config,
    client: std::sync::OnceLock<aws_sdk_sts::Client>,
}

impl LazyStsClient {
    pub(crate) fn new(config: aws_sdk_sts::Config) -> Self {
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

/// Fetches sessions from STS with the base credentials.
#[derive(Debug)]
pub(crate) struct StsSessionFetcher {
    /// The STS client, created at the first call: creating it loads the platform's root
    /// certificates (about 150 files on Debian), which a process answered from the file cache
    /// never needs.
    pub(crate) client: LazyStsClient,
    pub(crate) base: SharedCredentialsProvider,
    pub(crate) request: SessionRequest,
    pub(crate) time: SharedTimeSource,
    /// The role-chaining clamp is announced once per provider, not at every refresh.
    pub(crate) warned_chain_clamp: AtomicBool,
    /// Sessions shared with other processes through a directory, if configured.
    #[cfg(feature = "file-cache")]
    pub(crate) file_cache: Option<crate::file_cache::FileCache>,
}

impl FetchSession for StsSessionFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<Session, CredentialsError>> {
        Box::pin(self.fetch_session())
    }

    fn discard(&self, _credentials: &Credentials) {
        #[cfg(feature = "file-cache")]
        if let Some(cache) = &self.file_cache {
            cache.discard(_credentials.access_key_id());
        }
    }

    fn refresh_span(&self) -> tracing::Span {
        let role = self.request.role.as_ref();
        tracing::info_span!(
            "refresh_session",
            operation = self.request.operation(),
            role_arn = role.map(|r| r.role_arn.as_str()),
            session_name = role.map(|r| r.session_name.as_str()),
            expiry = tracing::field::Empty,
            outcome = tracing::field::Empty,
        )
    }
}

impl StsSessionFetcher {
    async fn fetch_session(&self) -> Result<Session, CredentialsError> {
        let base = self
            .base
            .provide_credentials()
            .await
            .map_err(base_credentials_error)?;
        #[cfg(feature = "file-cache")]
        if let Some(cache) = &self.file_cache {
            return cache
                .load_or_fetch(base.access_key_id(), &self.time, self.fetch_with(&base))
                .await;
        }
        self.fetch_with(&base).await
    }

    /// A new session from STS, signed with `base`.
    async fn fetch_with(&self, base: &Credentials) -> Result<Session, CredentialsError> {
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
                Some(mfa_token_code(operation, mfa).await?),
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
        let received_at = self.time.now();
        into_session(
            operation,
            sts_credentials,
            assumed_role_arn,
            received_at,
            date.server_date(),
        )
    }
}

/// Asks the token provider for the current code and checks its form.
async fn mfa_token_code(operation: &'static str, mfa: &Mfa) -> Result<String, CredentialsError> {
    let code = mfa.tokens.mfa_token().await.map_err(|source| {
        CredentialsError::provider_error(FetchError::MfaToken {
            operation,
            problem: "the token provider failed".into(),
            source: Some(Arc::from(source)),
        })
    })?;
    let code = code.trim().to_owned();
    crate::validation::mfa_token_code(&code).map_err(|problem| {
        CredentialsError::provider_error(FetchError::MfaToken {
            operation,
            problem,
            source: None,
        })
    })?;
    Ok(code)
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// Whether STS refused the duration because the session is chained (`ValidationError`
/// mentioning role chaining).
fn is_role_chaining_limit(error: &CredentialsError) -> bool {
    matches!(
        crate::error::fetch_error(error),
        Some(FetchError::Service { code: Some(code), message: Some(message), .. })
            if code == "ValidationError" && message.contains("chaining")
    )
}

fn duration_seconds(duration: Duration) -> i32 {
    // Validated in `build()` to lie within 900..=129_600 seconds.
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)
}

/// Checks STS's answer and turns it into a [`Session`] with its expiry in the local frame.
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
    let mut builder = Credentials::builder()
        .access_key_id(credentials.access_key_id)
        .secret_access_key(credentials.secret_access_key)
        .session_token(credentials.session_token)
        .expiry(expires_at)
        .provider_name(PROVIDER_NAME);
    if let Some(account) = assumed_role_arn
        .as_deref()
        .and_then(|arn| arn.split(':').nth(4))
        .filter(|a| !a.is_empty())
    {
        builder = builder.account_id(account);
    }
    Ok(Session {
        credentials: builder.build(),
        received_at,
        expires_at,
    })
}

/// The text of the first `<tag>…</tag>` in `xml`, if any and short (a code or a message). The
/// element is found by its literal tags (an unterminated one is no answer) and its text read
/// with aws-smithy-xml, the SDK's own XML reader, which decodes entities (`&quot;`, `&amp;`).
fn xml_element(xml: &str, tag: &str) -> Option<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let start = xml.find(&open)?;
    let inner = start + open.len();
    let end = inner + xml[inner..].find(&close)? + close.len();
    let mut document = aws_smithy_xml::decode::Document::new(&xml[start..end]);
    let mut element = document.root_element().ok()?;
    let text = aws_smithy_xml::decode::try_data(&mut element).ok()?;
    let text = text.trim();
    (!text.is_empty() && text.len() <= 1024).then(|| text.to_owned())
}

/// Wraps a base provider's error, keeping its kind (a timeout stays a timeout).
fn base_credentials_error(error: CredentialsError) -> CredentialsError {
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

/// Turns an SDK error into a typed `CredentialsError` without keeping the raw response (whose
/// body, for an unparseable success, would hold the secret key).
fn sts_error<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> CredentialsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        // A successful status whose body could not be deserialized comes back as an unmodeled
        // service error: it is an unusable answer, not a refusal.
        SdkError::ServiceError(context) if context.raw().status().is_success() => {
            CredentialsError::provider_error(FetchError::InvalidResponse {
                operation,
                problem: format!(
                    "the response (HTTP {}) could not be read as an STS answer",
                    context.raw().status().as_u16()
                ),
            })
        }
        SdkError::ServiceError(context) => {
            let err = context.err();
            let raw = context.raw();
            // Some STS-compatible servers (moto among them) wrap errors as
            // `<ErrorResponse><Errors><Error>`, which the SDK's parser does not read: fall back to
            // the first `<Code>`/`<Message>` of the body. Error bodies hold no credentials.
            let body = raw.body().bytes().map(String::from_utf8_lossy);
            let from_body = |tag: &str| body.as_deref().and_then(|b| xml_element(b, tag));
            let code = err.code().map(str::to_owned).or_else(|| from_body("Code"));
            let fetch_error = FetchError::Service {
                operation,
                status: raw.status().as_u16(),
                code: code.clone(),
                message: err
                    .message()
                    .map(str::to_owned)
                    .or_else(|| from_body("Message")),
                request_id: err.meta().request_id().map(str::to_owned),
            };
            if code
                .as_deref()
                .is_some_and(|c| CONFIGURATION_ERROR_CODES.contains(&c))
            {
                CredentialsError::invalid_configuration(fetch_error)
            } else {
                CredentialsError::provider_error(fetch_error)
            }
        }
        SdkError::ResponseError(context) => {
            CredentialsError::provider_error(FetchError::InvalidResponse {
                operation,
                problem: format!(
                    "the response (HTTP {}) could not be read as an STS answer",
                    context.raw().status().as_u16()
                ),
            })
        }
        SdkError::TimeoutError(_) => CredentialsError::provider_error(FetchError::Transport {
            operation,
            detail: "the SDK's operation timeout elapsed".into(),
        }),
        SdkError::ConstructionFailure(_) => {
            CredentialsError::invalid_configuration(FetchError::Transport {
                operation,
                detail: DisplayErrorContext(&error).to_string(),
            })
        }
        _ => CredentialsError::provider_error(FetchError::Transport {
            operation,
            detail: DisplayErrorContext(&error).to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::xml_element;

    #[test]
    fn reads_codes_from_either_error_layout() {
        let sts = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>";
        let moto = "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code></Error></Errors></ErrorResponse>";
        assert_eq!(xml_element(sts, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(xml_element(sts, "Message").as_deref(), Some("no"));
        assert_eq!(
            xml_element(moto, "Code").as_deref(),
            Some("SignatureDoesNotMatch")
        );
        assert_eq!(xml_element(moto, "Message"), None);
        assert_eq!(xml_element("<Code></Code>", "Code"), None);
        assert_eq!(xml_element("<Code>unterminated", "Code"), None);
        assert_eq!(
            xml_element(
                "<Error><Message>not &quot;allowed&quot; &amp; denied</Message></Error>",
                "Message"
            )
            .as_deref(),
            Some("not \"allowed\" & denied"),
            "entities are decoded"
        );
    }
}

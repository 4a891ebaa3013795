//! Errors: [`BuildError`] for bad configuration caught by [`Builder::build`](crate::Builder::build),
//! and [`FetchError`], the typed cause carried inside every
//! [`CredentialsError`](aws_credential_types::provider::error::CredentialsError) this crate returns.
//!
//! Neither type ever holds a secret access key or a session token: they are built from
//! parameter names, STS error codes and messages, never from credentials or raw response bodies.

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::box_error::BoxError;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// A setting of the [`Builder`](crate::Builder), as named in a [`BuildError`]: each is a
/// setter of that name (`Field::RoleArn` is [`Builder::role_arn`](crate::Builder::role_arn)),
/// so a program can map errors to its own names for them (a command-line flag, a form field)
/// without matching strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// [`Builder::role_arn`](crate::Builder::role_arn)
    RoleArn,
    /// [`Builder::role_session_name`](crate::Builder::role_session_name)
    RoleSessionName,
    /// [`Builder::duration`](crate::Builder::duration)
    Duration,
    /// [`Builder::external_id`](crate::Builder::external_id)
    ExternalId,
    /// [`Builder::policy`](crate::Builder::policy)
    Policy,
    /// [`Builder::policy_arns`](crate::Builder::policy_arns)
    PolicyArns,
    /// [`Builder::tags`](crate::Builder::tags)
    Tags,
    /// [`Builder::transitive_tag_keys`](crate::Builder::transitive_tag_keys)
    TransitiveTagKeys,
    /// [`Builder::source_identity`](crate::Builder::source_identity)
    SourceIdentity,
    /// [`Builder::mfa`](crate::Builder::mfa): the MFA device's serial number
    Mfa,
    /// [`Builder::region`](crate::Builder::region)
    Region,
    /// [`Builder::endpoint_url`](crate::Builder::endpoint_url)
    EndpointUrl,
    /// [`Builder::load_timeout`](crate::Builder::load_timeout)
    LoadTimeout,
    /// [`Builder::prefetch`](crate::Builder::prefetch)
    Prefetch,
    /// `Builder::file_cache` (feature `file-cache`)
    FileCache,
    /// `Builder::session_store`, and the settings of a store's builder (`redis::RedisStoreBuilder`)
    SessionStore,
    /// [`Builder::base_credentials`](crate::Builder::base_credentials)
    BaseCredentials,
    /// [`Builder::http_client`](crate::Builder::http_client)
    HttpClient,
    /// [`Builder::sleep_impl`](crate::Builder::sleep_impl)
    SleepImpl,
    /// `Builder::profile` (feature `profile`)
    Profile,
    /// `Builder::source_profile` (feature `profile`)
    SourceProfile,
    /// [`Builder::web_identity_token`](crate::Builder::web_identity_token) (or
    /// `web_identity_token_file`)
    WebIdentityToken,
    /// [`Builder::web_identity_provider_id`](crate::Builder::web_identity_provider_id)
    WebIdentityProviderId,
    /// [`Builder::saml_assertion`](crate::Builder::saml_assertion)
    SamlAssertion,
    /// [`Builder::federation_token`](crate::Builder::federation_token)
    FederationToken,
    /// [`Builder::on_refresh`](crate::Builder::on_refresh)
    OnRefresh,
    /// `Builder::metrics_name` (feature `telemetry`)
    MetricsName,
    /// [`Builder::scoped_sessions`](crate::Builder::scoped_sessions): a setting of the
    /// [`ScopedSessionsBuilder`](crate::scoped::ScopedSessionsBuilder)
    ScopedSessions,
}

impl Field {
    /// Every field, in the order of the builder's documentation.
    pub const ALL: &'static [Field] = &[
        Field::RoleArn,
        Field::RoleSessionName,
        Field::Duration,
        Field::ExternalId,
        Field::Policy,
        Field::PolicyArns,
        Field::Tags,
        Field::TransitiveTagKeys,
        Field::SourceIdentity,
        Field::Mfa,
        Field::Region,
        Field::EndpointUrl,
        Field::LoadTimeout,
        Field::Prefetch,
        Field::FileCache,
        Field::SessionStore,
        Field::BaseCredentials,
        Field::HttpClient,
        Field::SleepImpl,
        Field::Profile,
        Field::SourceProfile,
        Field::FederationToken,
        Field::WebIdentityToken,
        Field::WebIdentityProviderId,
        Field::SamlAssertion,
        Field::OnRefresh,
        Field::MetricsName,
        Field::ScopedSessions,
    ];

    /// The name of the builder setter, e.g. `role_arn`.
    pub fn setter(self) -> &'static str {
        match self {
            Field::RoleArn => "role_arn",
            Field::RoleSessionName => "role_session_name",
            Field::Duration => "duration",
            Field::ExternalId => "external_id",
            Field::Policy => "policy",
            Field::PolicyArns => "policy_arns",
            Field::Tags => "tags",
            Field::TransitiveTagKeys => "transitive_tag_keys",
            Field::SourceIdentity => "source_identity",
            Field::Mfa => "mfa",
            Field::Region => "region",
            Field::EndpointUrl => "endpoint_url",
            Field::LoadTimeout => "load_timeout",
            Field::Prefetch => "prefetch",
            Field::FileCache => "file_cache",
            Field::SessionStore => "session_store",
            Field::BaseCredentials => "base_credentials",
            Field::HttpClient => "http_client",
            Field::SleepImpl => "sleep_impl",
            Field::Profile => "profile",
            Field::SourceProfile => "source_profile",
            Field::FederationToken => "federation_token",
            Field::OnRefresh => "on_refresh",
            Field::MetricsName => "metrics_name",
            Field::ScopedSessions => "scoped_sessions",
            Field::WebIdentityToken => "web_identity_token",
            Field::WebIdentityProviderId => "web_identity_provider_id",
            Field::SamlAssertion => "saml_assertion",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.setter())
    }
}

/// A configuration that [`Builder::build`](crate::Builder::build) refused.
///
/// Each variant names the builder field at fault and the rule it broke, so the message alone
/// tells the user what to change.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// A parameter value broke one of STS's rules for it.
    #[error("invalid `{field}`: {rule}")]
    InvalidParameter {
        /// The builder setter whose value was rejected, e.g. `role_arn`.
        field: Field,
        /// The rule that the value broke, in words.
        rule: String,
    },
    /// A parameter was set that only means something together with another one.
    #[error("`{field}` is set but {requires}")]
    Conflict {
        /// The builder setter whose value cannot be used.
        field: Field,
        /// What is missing for it to make sense.
        requires: &'static str,
    },
    /// No region was given anywhere, so STS could not be addressed or signed for.
    #[error(
        "no region: call `region(..)`, pass an `SdkConfig` with a region to `configure(..)`, \
         or set AWS_REGION"
    )]
    MissingRegion,
    /// No base credentials were given and the `default-chain` feature is off.
    #[error(
        "no base credentials: call `base_credentials(..)` or pass an `SdkConfig` with a \
         credentials provider to `configure(..)` (or enable the `default-chain` feature)"
    )]
    MissingBaseCredentials,
    /// A profile of the shared config files cannot be used as it says (see
    /// [`Builder::build_from_profile`](crate::Builder::build_from_profile)).
    #[error(
        "profile `{profile}` ({file}): {}{problem}",
        key.as_deref().map(|k| format!("`{k}` ")).unwrap_or_default()
    )]
    Profile {
        /// The profile at fault.
        profile: String,
        /// The key at fault, when it is one key.
        key: Option<String>,
        /// The file (or files) the profile is read from.
        file: String,
        /// What is wrong, in words.
        problem: String,
    },
    /// No HTTP client was given and the `default-https-client` feature is off.
    #[error(
        "no HTTP client: call `http_client(..)` or pass an `SdkConfig` with an HTTP client to \
         `configure(..)` (or enable the `default-https-client` feature)"
    )]
    MissingHttpClient,
}

impl BuildError {
    pub(crate) fn invalid(field: Field, rule: impl Into<String>) -> Self {
        BuildError::InvalidParameter {
            field,
            rule: rule.into(),
        }
    }

    /// The builder field this error is about, when it is about one field.
    pub fn field(&self) -> Option<Field> {
        match self {
            BuildError::InvalidParameter { field, .. } | BuildError::Conflict { field, .. } => {
                Some(*field)
            }
            BuildError::MissingRegion => Some(Field::Region),
            BuildError::MissingBaseCredentials => Some(Field::BaseCredentials),
            BuildError::MissingHttpClient => Some(Field::HttpClient),
            BuildError::Profile { .. } => Some(Field::Profile),
        }
    }

    /// The rule this error states, without the field's name: what a profile error says
    /// after naming the profile's key instead.
    pub(crate) fn rule(self) -> String {
        match self {
            BuildError::InvalidParameter { rule, .. } => rule,
            other => other.to_string(),
        }
    }
}

/// Why a session could not be fetched: the source of the
/// [`CredentialsError`](aws_credential_types::provider::error::CredentialsError) returned by
/// [`ChainableTemporaryCredentials`](crate::ChainableTemporaryCredentials).
///
/// It is the `CredentialsError`'s direct source for every caller, the one whose call started
/// the refresh and those that waited for it alike. An SDK client hands the
/// `CredentialsError` on inside its own error, so a plain walk of
/// [`std::error::Error::source`] from the error of an S3 call reaches it:
///
/// ```
/// use chainable_credentials::FetchError;
///
/// fn sts_error_code(error: &(dyn std::error::Error + 'static)) -> Option<String> {
///     let mut next = Some(error);
///     while let Some(e) = next {
///         if let Some(fetch) = e.downcast_ref::<FetchError>() {
///             return fetch.code().map(str::to_owned);
///         }
///         next = e.source();
///     }
///     None
/// }
/// ```
///
/// [`fetch_error`] does the same walk from a `CredentialsError`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The base credentials provider failed; its error is the source.
    #[error("base credentials could not be loaded")]
    BaseCredentials(#[source] Arc<dyn StdError + Send + Sync + 'static>),
    /// STS answered with an error.
    #[error(
        "STS {operation} was refused (HTTP {status}): {}{}",
        code.as_deref().unwrap_or("unknown error"),
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    Service {
        /// `AssumeRole` or `GetSessionToken`.
        operation: &'static str,
        /// The HTTP status of the answer.
        status: u16,
        /// The STS error code, e.g. `AccessDenied` or `SignatureDoesNotMatch`.
        code: Option<String>,
        /// STS's message for it.
        message: Option<String>,
        /// The request id STS gave, for AWS support.
        request_id: Option<String>,
    },
    /// The request did not reach STS or no complete answer came back.
    #[error("STS {operation} could not be reached: {detail}")]
    Transport {
        /// `AssumeRole` or `GetSessionToken`.
        operation: &'static str,
        /// What went wrong, e.g. a connection refused or an SDK timeout.
        detail: String,
    },
    /// STS answered, but the answer is not a usable session.
    #[error("STS {operation} returned an unusable session: {problem}")]
    InvalidResponse {
        /// `AssumeRole` or `GetSessionToken`.
        operation: &'static str,
        /// What is wrong with it, e.g. `missing <Credentials>` or `the session has already expired`.
        problem: String,
    },
    /// No base credentials were given, and none of the default sources had any — or the
    /// last one tried failed (an instance metadata endpoint that answers 403, say), whose
    /// error is `last_error`.
    #[error(
        "no base credentials to call STS with: none in the environment (AWS_ACCESS_KEY_ID, \
         AWS_SECRET_ACCESS_KEY), the profile `{profile}` (AWS_CONFIG_FILE, \
         AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and ~/.aws/credentials), a web \
         identity token (AWS_WEB_IDENTITY_TOKEN_FILE), the ECS container endpoint or the EC2 \
         instance metadata{}{}; give them with `Builder::base_credentials` or a profile, or set \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        if *imds_disabled { " (disabled by AWS_EC2_METADATA_DISABLED)" } else { "" },
        last_error.as_deref().map(|e| format!(" (the last source tried failed: {e})")).unwrap_or_default()
    )]
    #[non_exhaustive]
    NoBaseCredentials {
        /// The profile the default sources looked in (`AWS_PROFILE`, else `default`).
        profile: String,
        /// Whether the instance metadata lookup was switched off.
        imds_disabled: bool,
        /// What the last source tried said, when it failed rather than had nothing.
        last_error: Option<String>,
    },
    /// The base credentials cannot sign this operation: `GetFederationToken` and
    /// `GetSessionToken` take long-term IAM user keys, not temporary ones (a session token).
    /// STS was not called.
    #[error("STS {operation} cannot be called with these base credentials: {reason}")]
    BaseNotAccepted {
        /// The STS operation, `GetFederationToken` or `GetSessionToken`.
        operation: &'static str,
        /// Why, in words.
        reason: &'static str,
    },
    /// Scoped sessions: this crate's own limit on STS calls (in flight, per second, or the
    /// number waiting) gave this fetch no slot in time. STS was not called; the scope's next
    /// caller tries again.
    #[error(
        "no STS call was started: {waiting} (the scoped sessions' limit on STS calls; raise \
         `max_sts_calls_in_flight`, `sts_calls_per_second` or `load_timeout`)"
    )]
    StsLimit {
        /// `AssumeRole`.
        operation: &'static str,
        /// What happened, in words: how long it waited, or how many were waiting.
        waiting: String,
    },
    /// No usable web identity token or SAML assertion: the token file could not be read or
    /// was empty, the caller's source failed, or an assertion is not base64. Never holds the
    /// token or the assertion.
    #[error("no usable identity to present to STS {operation}: {problem}")]
    WebIdentityToken {
        /// `AssumeRoleWithWebIdentity`.
        operation: &'static str,
        /// What is wrong, naming the source (the file's path).
        problem: String,
        /// The reading's or the source's error, if any.
        #[source]
        source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
    },
    /// No usable MFA token code: the token provider failed or gave a malformed code.
    #[error("no MFA token code for STS {operation}: {problem}")]
    MfaToken {
        /// `AssumeRole` or `GetSessionToken`.
        operation: &'static str,
        /// What is wrong.
        problem: String,
        /// The token provider's error, if it failed.
        #[source]
        source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
    },
    /// A part that fetching calls panicked: the base credentials provider, the MFA token
    /// provider or the HTTP client. The refresh counts as failed (with backoff); the panic's
    /// message is not kept (it may hold anything), the panic hook has printed it.
    #[error(
        "{part} panicked while fetching a session for STS {operation}; the refresh failed and \
         is retried after the backoff (the panic hook printed its message)"
    )]
    Panicked {
        /// `AssumeRole` or `GetSessionToken`.
        operation: &'static str,
        /// What panicked, e.g. `the base credentials provider`.
        part: &'static str,
    },
}

impl FetchError {
    /// The STS error code, when STS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            FetchError::Service { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// A failure that many waiting callers receive: [`CredentialsError`] is not `Clone`, so the
/// engine keeps the first one and hands each caller a new error of the same kind whose direct
/// source is a clone of the same [`FetchError`].
#[derive(Clone)]
pub(crate) struct SharedFailure(Arc<CredentialsError>);

impl SharedFailure {
    pub(crate) fn new(error: CredentialsError) -> Self {
        SharedFailure(Arc::new(error))
    }

    /// The error as first returned.
    pub(crate) fn error(&self) -> &CredentialsError {
        &self.0
    }

    /// A new `CredentialsError` of the same kind and with the same source as the shared one.
    pub(crate) fn to_error(&self) -> CredentialsError {
        use CredentialsError as E;
        let source: BoxError = match self.0.source() {
            Some(source) => match source.downcast_ref::<FetchError>() {
                Some(fetch) => Box::new(fetch.clone()),
                // Not one of this crate's errors: its text, the chain included.
                None => error_line(source).into(),
            },
            None => self.0.to_string().into(),
        };
        match &*self.0 {
            E::ProviderTimedOut(t) => E::provider_timed_out(t.timeout_duration()),
            E::CredentialsNotLoaded(_) => E::not_loaded(source),
            E::InvalidConfiguration(_) => E::invalid_configuration(source),
            E::Unhandled(_) => E::unhandled(source),
            _ => E::provider_error(source),
        }
    }
}

impl fmt::Debug for SharedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SharedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&error_line(&*self.0))
    }
}

/// An error and its causes as one line of their `Display` texts, each cause after a `: `, a
/// cause its parent already quotes left out, whitespace folded: what a program prints when a
/// call fails (`eprintln!("{}", error_line(&error))`), and what this crate's own errors,
/// `status().last_error` and logs say. Unlike aws-smithy's `DisplayErrorContext`, no `Debug`
/// dump of the whole chain is appended.
///
/// ```
/// let error = std::io::Error::other("STS AssumeRole was refused");
/// assert_eq!(chainable_credentials::error_line(&error), "STS AssumeRole was refused");
/// ```
pub fn error_line(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts
        .join(": ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Finds the [`FetchError`] in an error's source chain, where this crate puts it.
///
/// Works both for the caller that triggered a refresh and for callers that waited on it.
pub fn fetch_error(error: &CredentialsError) -> Option<&FetchError> {
    let mut next: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<FetchError>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// The failure of a fetch in which `part` panicked.
pub(crate) fn panicked(
    operation: &'static str,
    part: &'static str,
) -> aws_credential_types::provider::error::CredentialsError {
    aws_credential_types::provider::error::CredentialsError::provider_error(FetchError::Panicked {
        operation,
        part,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::error::display::DisplayErrorContext;
    use std::time::Duration;

    #[test]
    fn shared_failures_keep_their_kind_and_fetch_error_for_every_caller() {
        let failure = SharedFailure::new(CredentialsError::invalid_configuration(
            FetchError::Service {
                operation: "AssumeRole",
                status: 400,
                code: Some("ValidationError".into()),
                message: Some("bad".into()),
                request_id: None,
            },
        ));
        for _ in 0..2 {
            let error = failure.to_error();
            assert!(matches!(error, CredentialsError::InvalidConfiguration(_)));
            let source = error.source().expect("a source");
            let fetch = source
                .downcast_ref::<FetchError>()
                .expect("the FetchError itself");
            assert_eq!(fetch.code(), Some("ValidationError"));
        }
        let timed_out =
            SharedFailure::new(CredentialsError::provider_timed_out(Duration::from_secs(5)));
        assert!(matches!(
            timed_out.to_error(),
            CredentialsError::ProviderTimedOut(t) if t.timeout_duration() == Duration::from_secs(5)
        ));
        let foreign = SharedFailure::new(CredentialsError::not_loaded("no keys here"));
        let error = foreign.to_error();
        assert!(matches!(error, CredentialsError::CredentialsNotLoaded(_)));
        assert!(
            DisplayErrorContext(&error)
                .to_string()
                .contains("no keys here")
        );
    }
}

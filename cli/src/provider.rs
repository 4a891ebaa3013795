//! The provider the command's flags describe: from `--profile`, or from the flags (on
//! `--source-profile`'s or the default chain's credentials), a chain when `--chain` is given.

use crate::args::SessionArgs;
use crate::mfa_codes::{CodeSource, MfaCodes};
use crate::{DEFAULT_MFA_TIMEOUT, DEFAULT_REGION};
use aws_credential_types::Credentials;
use aws_types::SdkConfig;
use aws_types::region::Region;
use chainable_credentials::{BuildError, Builder, ChainableTemporaryCredentials, Field};
use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

/// Why no credentials were printed.
pub(crate) enum Failure {
    /// A flag's value the command or STS refuses: a bad command line (exit code 2).
    Usage(String),
    /// Anything else (exit code 1).
    Failed(Box<dyn Error>),
}

impl From<Box<dyn Error>> for Failure {
    fn from(error: Box<dyn Error>) -> Self {
        Failure::Failed(error)
    }
}

impl From<aws_credential_types::provider::error::CredentialsError> for Failure {
    fn from(error: aws_credential_types::provider::error::CredentialsError) -> Self {
        Failure::Failed(Box::new(error))
    }
}

/// Builds the provider and fetches once.
pub(crate) async fn credentials(args: &SessionArgs) -> Result<Credentials, Failure> {
    let codes = code_source(args, CodeSource::Terminal);
    Ok(build(args, &codes).await?.credentials().await?)
}

/// Where MFA codes come from: `--mfa-process`'s command, else `otherwise`.
pub(crate) fn code_source(args: &SessionArgs, otherwise: CodeSource) -> CodeSource {
    match &args.mfa_process {
        Some(command) => CodeSource::Process(chainable_credentials::MfaProcess::new(command)),
        None => otherwise,
    }
}

/// The provider the flags describe (a chain when `--chain` is given), not yet asked; MFA
/// codes come from `codes`.
pub(crate) async fn build(
    args: &SessionArgs,
    codes: &CodeSource,
) -> Result<ChainableTemporaryCredentials, Failure> {
    let hops = HopFlags {
        args,
        codes,
        cache_dir: cache_dir(args),
        store: session_store(args)?,
        timeout: timeout(args),
        policy: args.policy.as_deref().map(policy_text).transpose()?,
    };
    let mut first = hops.common(ChainableTemporaryCredentials::builder());
    if args.web_identity_token_file.is_some() {
        // STS takes no external id with a web identity token: it is for the roles chained on.
        first.set_external_id(None);
    }
    if args.chain.is_empty() {
        first = hops.last(first);
    }
    let mut provider = match &args.profile {
        Some(profile) => from_profile(first, profile, &hops).await?,
        None => from_flags(first, &hops).await?,
    };
    for (i, role_arn) in args.chain.iter().enumerate() {
        let mut hop = hops.common(provider.chain().role_arn(role_arn));
        if i + 1 == args.chain.len() {
            hop = hops.last(hop);
        }
        provider = hop.build().map_err(|e| flag_error(args, e))?;
    }
    Ok(provider)
}

/// The flags every hop shares, and those of the last role (the printed session's).
struct HopFlags<'a> {
    args: &'a SessionArgs,
    /// `--session-store`: one store (one connection) for every hop.
    store: Option<chainable_credentials::session_store::SessionStore>,
    codes: &'a CodeSource,
    cache_dir: Option<PathBuf>,
    timeout: Duration,
    policy: Option<String>,
}

impl HopFlags<'_> {
    /// The codes of one device (`--mfa-serial`'s), or of those the profiles name.
    fn codes_for(&self, serial_number: Option<String>) -> MfaCodes {
        MfaCodes {
            serial_number,
            source: self.codes.clone(),
        }
    }

    /// What every hop shares, and the session parameters of one role.
    fn common(&self, builder: Builder) -> Builder {
        let args = self.args;
        let mut builder = builder
            .load_timeout(self.timeout)
            .allow_insecure_endpoint(args.allow_insecure_endpoint);
        builder
            .set_file_cache(self.cache_dir.clone())
            .set_session_store(self.store.clone())
            .set_role_session_name(args.session_name.clone())
            .set_duration(args.duration)
            .set_external_id(args.external_id.clone());
        builder
    }

    /// The last role's scoping: the printed session's.
    fn last(&self, mut builder: Builder) -> Builder {
        let args = self.args;
        builder
            .set_policy(self.policy.clone())
            .set_policy_arns(Some(args.policy_arns.clone()))
            .set_tags(Some(args.tags.clone()))
            .set_transitive_tag_keys(Some(args.transitive_tag_keys.clone()))
            .set_source_identity(args.source_identity.clone());
        builder
    }
}

/// `--profile`: the profile's chain (or a profile without `role_arn`: its own credentials).
async fn from_profile(
    mut first: Builder,
    profile: &str,
    hops: &HopFlags<'_>,
) -> Result<ChainableTemporaryCredentials, Failure> {
    let args = hops.args;
    first
        .set_region(args.region.clone().map(Region::new))
        .set_endpoint_url(args.endpoint_url.clone());
    first
        .configure(&default_region())
        .profile(profile)
        .mfa_tokens(hops.codes_for(None))
        .build_from_profile()
        .await
        .map_err(|e| flag_error(args, e))
}

/// `--role-arn` (or `GetSessionToken`) on `--source-profile`'s or the default credentials.
async fn from_flags(
    mut first: Builder,
    hops: &HopFlags<'_>,
) -> Result<ChainableTemporaryCredentials, Failure> {
    let args = hops.args;
    first.set_role_arn(args.role_arn.clone());
    if let Some(serial) = &args.mfa_serial {
        first = first.mfa(serial.clone(), hops.codes_for(Some(serial.clone())));
    }
    if let Some(path) = &args.web_identity_token_file {
        // No base credentials: the token is the identity; region and endpoint as without a
        // source profile.
        first = first.web_identity_token_file(path);
    }
    match &args.source_profile {
        // The source profile's credentials (its keys, or its own role chain, read and cached
        // by the library as `--profile` is), and its region and endpoint settings.
        Some(profile) => {
            first
                .set_region(args.region.clone().map(Region::new))
                .set_endpoint_url(args.endpoint_url.clone());
            if args.mfa_serial.is_none() {
                first = first.mfa_tokens(hops.codes_for(None));
            }
            first
                .configure(&default_region())
                .source_profile(profile)
                .build_from_profile()
                .await
                .map_err(|e| flag_error(args, e))
        }
        None => first
            .configure(&sts_settings(args).await)
            .build()
            .map_err(|e| flag_error(args, e)),
    }
}

/// The region STS is called in when nothing else names one.
fn default_region() -> SdkConfig {
    SdkConfig::builder()
        .region(Region::from_static(DEFAULT_REGION))
        .build()
}

/// `--session-store` with its keys, if given.
fn session_store(
    args: &SessionArgs,
) -> Result<Option<chainable_credentials::session_store::SessionStore>, Failure> {
    let Some(url) = &args.session_store else {
        return Ok(None);
    };
    let mut builder = chainable_credentials::session_store::redis::RedisStoreBuilder::new(url);
    if let Some(path) = &args.session_store_key_file {
        builder = builder.sealing_key_file(path);
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| Failure::Usage(format!("--session-store: {e}")))
}

/// `--cache-dir`, else the conventional directory, unless `--no-cache` or `--session-store`.
fn cache_dir(args: &SessionArgs) -> Option<PathBuf> {
    if args.no_cache || args.session_store.is_some() {
        return None;
    }
    let dir = args
        .cache_dir
        .clone()
        .or_else(chainable_credentials::file_cache::default_dir);
    if dir.is_none() {
        tracing::warn!("neither XDG_CACHE_HOME nor HOME is set: not caching");
    }
    dir
}

/// `--timeout`, else long enough to type an MFA code if one may be asked for (the roles of
/// `--profile`'s or `--source-profile`'s chain may ask too).
pub(crate) fn timeout(args: &SessionArgs) -> Duration {
    let may_ask =
        args.mfa_serial.is_some() || args.profile.is_some() || args.source_profile.is_some();
    args.timeout.unwrap_or(if may_ask {
        DEFAULT_MFA_TIMEOUT
    } else {
        chainable_credentials::DEFAULT_LOAD_TIMEOUT
    })
}

/// `--policy`: the JSON itself, or `@FILE`.
fn policy_text(value: &str) -> Result<String, Failure> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("--policy: cannot read {path}: {e}"))),
        None => Ok(value.to_owned()),
    }
}

/// Region, endpoint, FIPS and dual-stack settings as the SDKs read them: the flags, else the
/// environment, else the profile (`AWS_PROFILE`, else `default`), else us-east-1 — and no
/// credentials (the library's default chain finds them, with its hint when there are none)
/// and no instance metadata lookup for the region.
async fn sts_settings(args: &SessionArgs) -> SdkConfig {
    use aws_config::environment::region::EnvironmentVariableRegionProvider;
    use aws_config::meta::region::RegionProviderChain;
    use aws_config::profile::ProfileFileRegionProvider;
    let region = RegionProviderChain::first_try(args.region.clone().map(Region::new))
        .or_else(EnvironmentVariableRegionProvider::new())
        .or_else(ProfileFileRegionProvider::new())
        .or_else(Region::from_static(DEFAULT_REGION));
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(region)
        .no_credentials();
    if let Some(url) = &args.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// A build error, with the builder's field named as the command-line flag that set it: a bad
/// flag value is a bad command line. A value the flags did not give (a profile's, or the
/// environment's `AWS_REGION`) is not the command line's fault: exit 1, named as the library
/// names it. A profile's error is about a file, not the command line.
pub(crate) fn flag_error(args: &SessionArgs, error: BuildError) -> Failure {
    if matches!(error, BuildError::Profile { .. }) {
        return Failure::Failed(error.into());
    }
    let given = error.field().filter(|field| flag_given(args, *field));
    match given.and_then(flag_of) {
        Some(flag) => Failure::Usage(format!("{flag}: {error}").replace(
            "call `allow_insecure_endpoint(true)`",
            "pass --allow-insecure-endpoint",
        )),
        None => Failure::Failed(error.into()),
    }
}

/// Whether the command line set the builder field `field` (the flags every hop shares count,
/// whichever hop refused the value).
fn flag_given(args: &SessionArgs, field: Field) -> bool {
    match field {
        Field::RoleArn => args.role_arn.is_some() || !args.chain.is_empty(),
        Field::RoleSessionName => args.session_name.is_some(),
        Field::Duration => args.duration.is_some(),
        Field::ExternalId => args.external_id.is_some(),
        Field::Mfa => args.mfa_serial.is_some(),
        Field::EndpointUrl => args.endpoint_url.is_some(),
        Field::Region => args.region.is_some(),
        Field::Profile => args.profile.is_some(),
        Field::SourceProfile => args.source_profile.is_some(),
        Field::FileCache => args.cache_dir.is_some(),
        Field::SessionStore => args.session_store.is_some(),
        Field::Policy => args.policy.is_some(),
        Field::PolicyArns => !args.policy_arns.is_empty(),
        Field::Tags => !args.tags.is_empty(),
        Field::TransitiveTagKeys => !args.transitive_tag_keys.is_empty(),
        Field::SourceIdentity => args.source_identity.is_some(),
        Field::WebIdentityToken => args.web_identity_token_file.is_some(),
        // The timeout is always set from the flags (or their default).
        Field::LoadTimeout => true,
        _ => false,
    }
}

/// The flag that sets a builder field.
fn flag_of(field: Field) -> Option<&'static str> {
    Some(match field {
        Field::RoleArn => "--role-arn/--chain",
        Field::RoleSessionName => "--session-name",
        Field::Duration => "--duration",
        Field::ExternalId => "--external-id",
        Field::Mfa => "--mfa-serial",
        Field::EndpointUrl => "--endpoint-url",
        Field::Region => "--region",
        Field::Profile => "--profile",
        Field::SourceProfile => "--source-profile",
        Field::FileCache => "--cache-dir",
        Field::SessionStore => "--session-store",
        Field::Policy => "--policy",
        Field::PolicyArns => "--policy-arn",
        Field::Tags => "--tag",
        Field::TransitiveTagKeys => "--transitive-tag-key",
        Field::SourceIdentity => "--source-identity",
        Field::LoadTimeout => "--timeout",
        Field::WebIdentityToken => "--web-identity-token-file",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every builder field a flag sets is named as that flag in errors.
    #[test]
    fn every_field_a_flag_sets_has_its_flag() {
        let without_flag = [
            Field::BaseCredentials,
            Field::HttpClient,
            Field::SleepImpl,
            Field::Prefetch,
            // Their identity comes from code (a caller's assertion source), or from long-term
            // user keys a developer's command should not hold (federation); the provider id
            // is for OAuth 2.0 tokens of consumer identity providers, not for machines.
            Field::FederationToken,
            Field::SamlAssertion,
            Field::WebIdentityProviderId,
            // A listener is code; scoped sessions and metrics are for services (a command's
            // process lives as long as one call).
            Field::OnRefresh,
            Field::ScopedSessions,
            Field::MetricsName,
        ];
        for field in Field::ALL {
            assert_eq!(
                flag_of(*field).is_some(),
                !without_flag.contains(field),
                "{field:?}"
            );
        }
    }
}

//! [`Builder`] for [`ChainableTemporaryCredentials`]: the setters (of the session request, of
//! how STS is reached, of the cache) fill three parts; [`Builder::build`] validates the
//! request, resolves the runtime and the cache settings, and wires the engine.

mod assemble;
mod cache_setters;
mod chain;
#[cfg(feature = "profile")]
mod profile;
mod request_setters;
mod runtime;
mod runtime_setters;
#[cfg(feature = "telemetry")]
mod telemetry_setters;

use crate::error::{BuildError, Field};
use crate::mfa::{MfaDevice, ProvideMfaToken};
use crate::provider::ChainableTemporaryCredentials;
use crate::request::SessionRequest;
use crate::status::RefreshListener;
use crate::validation;
use runtime::RuntimeSettings;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How long one refresh (base credentials plus the STS call, retries included) may take
/// before it fails with `CredentialsError::ProviderTimedOut`: 5 seconds. An SDK client's own
/// identity cache allows a load longer than this with its default retry and timeout settings,
/// so the client never gives up before this provider does and gets its typed error.
pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Prefix of the session name used when none is set; the build time in Unix milliseconds
/// follows it, e.g. `chainable-credentials-1700000000000`.
pub const DEFAULT_SESSION_NAME_PREFIX: &str = "chainable-credentials";

/// Builds a [`ChainableTemporaryCredentials`]. Create one with
/// [`ChainableTemporaryCredentials::builder`].
///
/// Every setter takes and returns `Self`; the `set_*` twins take `&mut self` and an `Option`
/// for code that configures conditionally. Values set explicitly win over those taken from
/// [`configure`](Self::configure), whichever is called first.
#[derive(Default)]
pub struct Builder {
    /// What STS is asked for.
    request: SessionRequest,
    /// Where the codes of the MFA devices come from: the builder's own (`mfa`), or those
    /// profiles name (`mfa_tokens`).
    mfa_tokens: Option<Arc<dyn ProvideMfaToken>>,
    /// Where a web identity hop's tokens come from (`request.web_identity()` says which kind).
    web_identity_tokens: Option<crate::web_identity::TokenSource>,
    /// Where a SAML hop's assertions come from (with `request.saml_provider_arn()`).
    saml_assertions: Option<crate::web_identity::SamlSource>,
    /// How STS is reached.
    runtime: RuntimeSettings,
    /// How the session is cached and refreshed.
    cache: CacheSettings,
    /// The profile to read with `build_from_profile`, and its files.
    #[cfg(feature = "profile")]
    profile: crate::profile::ProfileSelection,
    /// The base credentials are a hop that asks for MFA codes (or is chained on one): this
    /// hop then refreshes only when asked, unless told otherwise.
    pub(crate) base_needs_mfa: bool,
    /// The base credentials are another hop of a chain, so temporary: some operations
    /// (`GetFederationToken`) refuse them.
    pub(crate) base_is_temporary: bool,
}

/// What scoped sessions are made of, checked (see `Builder::into_scoped_parts`).
pub(crate) struct ScopedParts {
    /// Every scope's starting point: validated, its session name set.
    pub(crate) request: SessionRequest,
    pub(crate) sts_config: aws_sdk_sts::Config,
    pub(crate) load_timeout: Duration,
    /// The scheduler refreshes scopes before they are needed.
    pub(crate) background_refresh: bool,
    pub(crate) time: aws_smithy_async::time::SharedTimeSource,
    pub(crate) sleep: aws_smithy_async::rt::sleep::SharedAsyncSleep,
    pub(crate) base: aws_credential_types::provider::SharedCredentialsProvider,
    /// Where sessions are shared beyond this process, and what names a scope's entry: the
    /// builder's request as given (a generated session name would split the store), the
    /// region and the endpoint.
    #[cfg(feature = "session-store")]
    pub(crate) store: Option<(
        crate::session_store::SessionStore,
        SessionRequest,
        aws_types::region::Region,
        Option<String>,
    )>,
    /// Where the scopes' metrics go.
    #[cfg(feature = "telemetry")]
    pub(crate) metrics: crate::telemetry::MetricsSettings,
}

/// How the session is cached and refreshed, as set on the builder.
#[derive(Clone, Default)]
struct CacheSettings {
    load_timeout: Option<Duration>,
    background_refresh: Option<bool>,
    prefetch: Option<bool>,
    on_refresh: Option<RefreshListener>,
    #[cfg(feature = "file-cache")]
    file_cache: Option<std::path::PathBuf>,
    #[cfg(feature = "session-store")]
    session_store: Option<crate::session_store::SessionStore>,
    #[cfg(feature = "telemetry")]
    metrics: crate::telemetry::MetricsSettings,
}

/// The cache settings, checked and defaulted.
struct Refreshing {
    load_timeout: Duration,
    background_refresh: bool,
    prefetch: bool,
    on_refresh: Option<RefreshListener>,
    #[cfg(feature = "telemetry")]
    metrics: crate::telemetry::MetricsSettings,
    /// Where sessions are shared beyond this process: the one set, or the file cache's.
    #[cfg(feature = "session-store")]
    session_store: Option<crate::session_store::SessionStore>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The base provider is only said to be there: a custom provider's Debug may not redact.
        let runtime = &self.runtime;
        f.debug_struct("Builder")
            .field("request", &self.request)
            .field("base_credentials", &runtime.base_credentials.is_some())
            .field("region", &runtime.region)
            .field("endpoint_url", &runtime.endpoint_url)
            .field("allow_insecure_endpoint", &runtime.allow_insecure_endpoint)
            .field("configured", &runtime.sdk_config.is_some())
            .field("load_timeout", &self.cache.load_timeout)
            .field("background_refresh", &self.cache.background_refresh)
            .field("prefetch", &self.cache.prefetch)
            .field("on_refresh", &self.cache.on_refresh.is_some())
            .field("file_cache", &self.cache.file_cache_dir())
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder with nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates every parameter and builds the provider. Synchronous: no network, no file
    /// access; the first STS call happens on the first `provide_credentials` (or at once in
    /// the background with [`prefetch`](Self::prefetch)).
    ///
    /// # Errors
    /// A [`BuildError`] naming the field and the rule it broke, for any parameter STS would
    /// refuse, and when no region, base credentials or HTTP client can be found.
    pub fn build(self) -> Result<ChainableTemporaryCredentials, BuildError> {
        self.refuse_unread_profile()?;
        let request = self.request_from_environment()?.validate()?;
        if request.federation_token().is_some() && self.base_is_temporary {
            return Err(BuildError::Conflict {
                field: Field::FederationToken,
                requires: "the base credentials are a hop of a role chain, so temporary: STS \
                           issues federation tokens to long-term IAM user keys only",
            });
        }
        let mfa = self.mfa_device(&request)?;
        let web_identity = self.web_identity_source(&request);
        let mfa_in_chain = mfa.is_some() || self.base_needs_mfa;
        let refreshing = self.cache.resolve(mfa_in_chain)?;
        let runtime = self.runtime.resolve(refreshing.load_timeout)?;
        Ok(assemble::provider(assemble::Parts {
            request,
            mfa,
            web_identity,
            saml: self.saml_assertions.clone(),
            mfa_in_chain,
            refreshing,
            runtime,
        }))
    }

    /// The checked parts scoped sessions are made of. Refused here: what a scope cannot use
    /// (an MFA device, a web identity token, a SAML assertion, a federation token: each
    /// scope assumes a role with `AssumeRole`), a file cache and prefetching (scopes live in
    /// memory and load when first asked for), and a listener without the scope's label.
    pub(crate) fn into_scoped_parts(self) -> Result<ScopedParts, BuildError> {
        self.refuse_unread_profile()?;
        let mut request = self.request_from_environment()?.validate()?;
        let conflict = |field, requires| Err(BuildError::Conflict { field, requires });
        if request.mfa_serial().is_some() {
            return conflict(
                Field::Mfa,
                "scoped sessions are set: nobody is there to type a code for each tenant's \
                 session (give base credentials that need none)",
            );
        }
        if request.operation() != crate::operation::Operation::AssumeRole {
            return conflict(
                Field::RoleArn,
                "scoped sessions are set: each scope assumes a role with `AssumeRole`, so a \
                 role is needed, and no web identity token, SAML assertion or federation token",
            );
        }
        if self.cache.prefetch == Some(true) {
            return conflict(
                Field::Prefetch,
                "scoped sessions are set: a scope's session is fetched when it is first asked \
                 for",
            );
        }
        if self.cache.on_refresh.is_some() {
            return conflict(
                Field::OnRefresh,
                "scoped sessions are set: give the listener to `ScopedSessionsBuilder::\
                 on_refresh`, which is told each scope's label",
            );
        }
        let refreshing = self.cache.resolve(false)?;
        let runtime = self.runtime.resolve(refreshing.load_timeout)?;
        #[cfg(feature = "session-store")]
        let store = refreshing.session_store.clone().map(|store| {
            (
                store,
                request.clone(),
                runtime.region.clone(),
                runtime.endpoint_url.clone(),
            )
        });
        assemble::name_the_session(&mut request, &runtime);
        Ok(ScopedParts {
            sts_config: assemble::sts_config(&runtime),
            request,
            load_timeout: refreshing.load_timeout,
            background_refresh: refreshing.background_refresh,
            time: runtime.time_source,
            sleep: runtime.sleep,
            base: runtime.base,
            #[cfg(feature = "session-store")]
            store,
            #[cfg(feature = "telemetry")]
            metrics: refreshing.metrics,
        })
    }

    /// `build()` reads no files: a profile is built with `build_from_profile`.
    fn refuse_unread_profile(&self) -> Result<(), BuildError> {
        #[cfg(feature = "profile")]
        if self.profile.name.is_some() || self.profile.source.is_some() {
            return Err(BuildError::Conflict {
                field: Field::Profile,
                requires: "`build()` reads no files: build a provider from a profile with \
                           `build_from_profile().await`",
            });
        }
        Ok(())
    }

    /// The request, with what `web_identity_from_environment` takes from the environment:
    /// the token file, and the role and session name unless set here.
    fn request_from_environment(&self) -> Result<SessionRequest, BuildError> {
        use crate::request::WebIdentity;
        let mut request = self.request.clone();
        if request.web_identity() != Some(&WebIdentity::Environment) {
            return Ok(request);
        }
        let env = self.runtime.env();
        let var = |name: &str| env.get(name).ok().filter(|v| !v.trim().is_empty());
        let Some(file) = var("AWS_WEB_IDENTITY_TOKEN_FILE") else {
            return Err(BuildError::invalid(
                Field::WebIdentityToken,
                "`web_identity_from_environment` needs AWS_WEB_IDENTITY_TOKEN_FILE, which is \
                 not set",
            ));
        };
        request.change_identity(|i| i.web_identity = Some(WebIdentity::File(file.into())));
        if request.role_arn.is_none() {
            request.role_arn = var("AWS_ROLE_ARN").map(Into::into);
        }
        if request.role_session_name.is_none() {
            request.role_session_name = var("AWS_ROLE_SESSION_NAME").map(Into::into);
        }
        Ok(request)
    }

    /// The token source of a web identity hop: the file (read through the injected `Fs`),
    /// or the caller's.
    fn web_identity_source(
        &self,
        request: &SessionRequest,
    ) -> Option<crate::web_identity::TokenSource> {
        use crate::request::WebIdentity;
        use crate::web_identity::TokenSource;
        match request.web_identity()? {
            WebIdentity::File(path) => Some(TokenSource::File {
                path: path.clone(),
                fs: self
                    .runtime
                    .fs
                    .clone()
                    .unwrap_or_else(aws_types::os_shim_internal::Fs::real),
            }),
            WebIdentity::Caller => self.web_identity_tokens.clone(),
            // Resolved to the file by `request_from_environment`.
            WebIdentity::Environment => None,
        }
    }

    /// The MFA device of the request's serial number, with the token provider given.
    fn mfa_device(&self, request: &SessionRequest) -> Result<Option<MfaDevice>, BuildError> {
        match (request.mfa_serial(), &self.mfa_tokens) {
            (None, _) => Ok(None),
            (Some(serial), Some(tokens)) => Ok(Some(MfaDevice {
                serial_number: serial.to_owned(),
                tokens: tokens.clone(),
            })),
            (Some(_), None) => Err(BuildError::Conflict {
                field: Field::Mfa,
                requires: "no token provider is given to ask for the device's codes",
            }),
        }
    }
}

impl CacheSettings {
    fn file_cache_dir(&self) -> Option<&std::path::Path> {
        #[cfg(feature = "file-cache")]
        return self.file_cache.as_deref();
        #[cfg(not(feature = "file-cache"))]
        None
    }

    /// The session store: the one set, else a directory store for the file cache.
    #[cfg(feature = "session-store")]
    fn store(&self) -> Result<Option<crate::session_store::SessionStore>, BuildError> {
        #[cfg(feature = "file-cache")]
        if let Some(dir) = &self.file_cache {
            if self.session_store.is_some() {
                return Err(BuildError::Conflict {
                    field: Field::FileCache,
                    requires: "a `session_store` is set too: sessions are shared through one of \
                               them",
                });
            }
            return Ok(Some(crate::session_store::SessionStore::directory(
                dir.clone(),
            )));
        }
        Ok(self.session_store.clone())
    }

    /// The settings with their defaults: the background refresh is off by default when an
    /// MFA code is needed somewhere in the chain (a code is asked for when someone needs
    /// credentials, not at a refresh point while nobody is there).
    fn resolve(&self, mfa_in_chain: bool) -> Result<Refreshing, BuildError> {
        let load_timeout = self.load_timeout.unwrap_or(DEFAULT_LOAD_TIMEOUT);
        validation::load_timeout(load_timeout)?;
        let background_refresh = self.background_refresh.unwrap_or(!mfa_in_chain);
        let prefetch = self.prefetch.unwrap_or(false);
        if prefetch && !background_refresh {
            return Err(BuildError::Conflict {
                field: Field::Prefetch,
                requires: "`background_refresh` is off (the background task does the prefetch; \
                           it is off by default when an MFA code is needed)",
            });
        }
        if self
            .file_cache_dir()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            return Err(BuildError::invalid(
                Field::FileCache,
                "must not be an empty path",
            ));
        }
        #[cfg(feature = "telemetry")]
        crate::validation::metrics_name(self.metrics.name.as_deref())?;
        Ok(Refreshing {
            load_timeout,
            background_refresh,
            prefetch,
            on_refresh: self.on_refresh.clone(),
            #[cfg(feature = "telemetry")]
            metrics: self.metrics.clone(),
            #[cfg(feature = "session-store")]
            session_store: self.store()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use aws_sdk_sts::config::BehaviorVersion;
    use aws_types::SdkConfig;
    use aws_types::os_shim_internal::Env;
    use aws_types::region::Region;

    fn base() -> Builder {
        ChainableTemporaryCredentials::builder()
            .base_credentials(Credentials::for_tests())
            .env(Env::from_slice(&[]))
    }

    #[test]
    fn no_region_anywhere_is_a_build_error() {
        let err = base()
            .role_arn("arn:aws:iam::123456789012:role/r")
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::MissingRegion);
        assert_eq!(err.field(), Some(Field::Region));
    }

    #[test]
    fn region_comes_from_the_environment_last() {
        let provider = base()
            .env(Env::from_slice(&[("AWS_DEFAULT_REGION", "eu-west-3")]))
            .build()
            .unwrap();
        assert!(format!("{provider:?}").contains("eu-west-3"));
        let provider = base()
            .env(Env::from_slice(&[("AWS_REGION", "eu-west-3")]))
            .region(Region::new("ap-south-1"))
            .build()
            .unwrap();
        assert!(format!("{provider:?}").contains("ap-south-1"));
    }

    #[test]
    fn explicit_setters_win_over_configure_in_either_order() {
        let sdk = SdkConfig::builder()
            .region(Region::new("us-west-2"))
            .behavior_version(BehaviorVersion::latest())
            .build();
        let before = base()
            .region(Region::new("eu-central-1"))
            .configure(&sdk)
            .build()
            .unwrap();
        let after = base()
            .configure(&sdk)
            .region(Region::new("eu-central-1"))
            .build()
            .unwrap();
        for p in [before, after] {
            assert!(format!("{p:?}").contains("eu-central-1"), "{p:?}");
        }
    }

    #[test]
    fn session_name_is_generated_once_at_build() {
        let time = aws_smithy_async::time::StaticTimeSource::from_secs(1_700_000_000);
        let provider = base()
            .region(Region::new("us-east-1"))
            .time_source(time)
            .role_arn("arn:aws:iam::123456789012:role/r")
            .build()
            .unwrap();
        assert_eq!(
            provider.role_session_name(),
            Some("chainable-credentials-1700000000000")
        );
    }

    /// Every field an error can name is a setter of this name (in one of the builder's
    /// files), so that a user told "invalid `x`" finds `x`.
    #[test]
    fn every_field_named_in_errors_is_a_setter() {
        let sources = [
            include_str!("request_setters.rs"),
            include_str!("runtime_setters.rs"),
            include_str!("cache_setters.rs"),
            include_str!("telemetry_setters.rs"),
            include_str!("profile.rs"),
            // `scoped_sessions`, which the scoped sessions' module adds to the builder.
            include_str!("../scoped/mod.rs"),
        ]
        .concat();
        for field in Field::ALL {
            let setter = format!("pub fn {}(", field.setter());
            let generic = format!("pub fn {}<", field.setter());
            assert!(
                sources.contains(&setter) || sources.contains(&generic),
                "{field:?} names `{}`, which is no setter",
                field.setter()
            );
        }
    }
}

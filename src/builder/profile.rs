//! Building from a named profile of the shared config files: the profile's role chain becomes
//! a chain of providers, one cached hop per `role_arn` (see the `profile` module).

use super::Builder;
use crate::error::{BuildError, Field};
use crate::mfa::ProvideMfaToken;
use crate::mfa_process::MfaProcess;
use crate::profile::{self, LoadedProfiles, ProfileHop, RegionSource, Selected};
use crate::provider::ChainableTemporaryCredentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::SdkConfig;
use aws_types::region::Region;
use std::path::PathBuf;
use std::sync::Arc;

impl Builder {
    /// The named profile to build from with
    /// [`build_from_profile`](Self::build_from_profile) (cargo feature `profile`).
    ///
    /// Default: `AWS_PROFILE`, else `default`.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.set_profile(Some(name.into()));
        self
    }

    /// Sets or clears the profile name; see [`profile`](Self::profile).
    pub fn set_profile(&mut self, name: Option<String>) -> &mut Self {
        self.profile.name = name;
        self
    }

    /// A named profile whose credentials assume this builder's own role (or call
    /// `GetSessionToken`), as the AWS CLI reads a `source_profile`: its keys; else its own role
    /// chain, each hop cached by this crate (a web identity profile included); else
    /// `credential_source`, `credential_process` or SSO through aws-config. Build with
    /// [`build_from_profile`](Self::build_from_profile); the STS settings (region, endpoint)
    /// come from this profile as from [`profile`](Self::profile)'s. Not together with
    /// `profile`.
    ///
    /// Default: none.
    pub fn source_profile(mut self, name: impl Into<String>) -> Self {
        self.set_source_profile(Some(name.into()));
        self
    }

    /// Sets or clears the source profile; see [`source_profile`](Self::source_profile).
    pub fn set_source_profile(&mut self, name: Option<String>) -> &mut Self {
        self.profile.source = name;
        self
    }

    /// The config file profiles are read from.
    ///
    /// Default: `AWS_CONFIG_FILE`, else `~/.aws/config`.
    pub fn profile_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.set_profile_config_file(Some(path.into()));
        self
    }

    /// Sets or clears the config file; see [`profile_config_file`](Self::profile_config_file).
    pub fn set_profile_config_file(&mut self, path: Option<PathBuf>) -> &mut Self {
        self.profile.paths.config = path;
        self
    }

    /// The credentials file profiles are read from.
    ///
    /// Default: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    pub fn profile_credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.set_profile_credentials_file(Some(path.into()));
        self
    }

    /// Sets or clears the credentials file; see
    /// [`profile_credentials_file`](Self::profile_credentials_file).
    pub fn set_profile_credentials_file(&mut self, path: Option<PathBuf>) -> &mut Self {
        self.profile.paths.credentials = path;
        self
    }

    /// Where the codes of MFA devices come from when profiles name them (`mfa_serial`): asked
    /// only when that profile's role is assumed — once per refresh of that hop, never per
    /// request — with the device's serial number (see
    /// [`ProvideMfaToken::mfa_token_for`]). Asking counts against the
    /// [`load_timeout`](Self::load_timeout): give a person typing the code more.
    ///
    /// Default: none; a profile with `mfa_serial` and no `mfa_process` is then a
    /// [`BuildError`].
    pub fn mfa_tokens(mut self, tokens: impl ProvideMfaToken) -> Self {
        self.set_mfa_tokens(Some(Arc::new(tokens)));
        self
    }

    /// Sets or clears the MFA token provider for profiles; see
    /// [`mfa_tokens`](Self::mfa_tokens).
    pub fn set_mfa_tokens(&mut self, tokens: Option<Arc<dyn ProvideMfaToken>>) -> &mut Self {
        self.mfa_tokens = tokens;
        self
    }

    /// Builds the role chain a named profile describes: one provider per `role_arn` of the
    /// profile and its `source_profile`s, each caching its own session (so a chain whose last
    /// hop expired costs one STS call, and an MFA code is asked once per refresh of its hop),
    /// on the base credentials the chain ends in — a profile's keys, `credential_source`
    /// (`Environment`, `Ec2InstanceMetadata`, `EcsContainer`), `credential_process` or SSO,
    /// through aws-config's providers — or on none when it ends in a web identity profile
    /// (`role_arn` + `web_identity_token_file`), a hop of this crate whose token file is read
    /// again at every refresh (see
    /// [`web_identity_token_file`](Self::web_identity_token_file)). The files are parsed by
    /// aws-config's profile loader.
    ///
    /// Read from the profiles: `role_arn`, `source_profile`, `credential_source`,
    /// `web_identity_token_file`, `external_id`, `role_session_name`, `duration_seconds`,
    /// `mfa_serial` for each hop, and — beyond the AWS CLI, as aws-vault reads them —
    /// `source_identity`, `session_tags` (`Key=Value,Key=Value`), `transitive_session_tags`
    /// (`Key,Key`) and `mfa_process` (a command whose first line of output is the code of the
    /// hop's `mfa_serial` device, see [`MfaProcess`](crate::MfaProcess); it wins over
    /// [`mfa_tokens`](Self::mfa_tokens) for that hop); and,
    /// from the selected profile (after the environment's `AWS_REGION`,
    /// `AWS_ENDPOINT_URL[_STS]`, `AWS_USE_FIPS_ENDPOINT`, `AWS_USE_DUALSTACK_ENDPOINT`,
    /// `AWS_STS_REGIONAL_ENDPOINTS`): `region`, `endpoint_url` (and an `sts` entry of its
    /// `services` section), `use_fips_endpoint`, `use_dualstack_endpoint`,
    /// `sts_regional_endpoints` (`legacy` calls the global endpoint in the regions that used
    /// it). Every hop gets this builder's HTTP client, clock, sleep, load timeout, file cache
    /// and background refresh; the last hop — the selected profile's role — also everything
    /// else set here (a session policy, tags, a listener), and values set here win over the
    /// profile's. An `SdkConfig` given to [`configure`](Self::configure) lends its HTTP client,
    /// sleep, clock, retry and timeout settings and, last, its region; the endpoints come from
    /// the profile and the environment (or [`endpoint_url`](Self::endpoint_url)). A hop that
    /// asks for an MFA code, and those chained on it, refresh only when asked (see
    /// [`mfa`](Self::mfa)).
    ///
    /// # Errors
    /// A [`BuildError::Profile`] naming the profile, the key and the file for anything the
    /// files say that cannot work (an undefined or cyclic `source_profile`, a malformed value,
    /// a profile without credentials, `mfa_serial` with neither `mfa_process` nor
    /// [`mfa_tokens`](Self::mfa_tokens));
    /// [`BuildError::Conflict`] if [`base_credentials`](Self::base_credentials) are set (the
    /// profile says where they come from); otherwise what [`build`](Self::build) returns.
    ///
    /// ```no_run
    /// use chainable_credentials::ChainableTemporaryCredentials;
    ///
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// // [profile home] role_arn = ..., source_profile = home-keys, mfa_serial = ...
    /// let provider = ChainableTemporaryCredentials::builder()
    ///     .profile("home")
    ///     .mfa_tokens(|| async { Ok::<_, std::io::Error>(read_code_from_device()) })
    ///     .build_from_profile()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// # fn read_code_from_device() -> String { "123456".into() }
    /// ```
    pub async fn build_from_profile(mut self) -> Result<ChainableTemporaryCredentials, BuildError> {
        if self.runtime.base_credentials.is_some() {
            return Err(BuildError::Conflict {
                field: Field::BaseCredentials,
                requires: "a profile is read: its chain says where the base credentials come from",
            });
        }
        let env = self.runtime.env();
        let selection = std::mem::take(&mut self.profile);
        let (selected, how) = match (&selection.name, &selection.source) {
            (Some(_), Some(_)) => {
                return Err(BuildError::Conflict {
                    field: Field::SourceProfile,
                    requires: "`profile` is set too: a profile assumes its own role; give one",
                });
            }
            (None, Some(source)) => (Some(source.as_str()), Selected::Source),
            (name, None) => (name.as_deref(), Selected::Role),
        };
        let profiles =
            LoadedProfiles::load(&self.runtime.fs(), &env, &selection.paths, selected).await?;
        let chain = profile::resolve_chain(&profiles, how)?;
        let settings = self.sts_settings_of(&profiles)?;
        // None when the first hop is a web identity profile: it is assumed with its token.
        let mut base = chain
            .base
            .as_ref()
            .map(|base| profile::base_provider(base, &selection.paths, &settings, &env));
        // With a source profile, every role of its chain is an inner hop and this builder's
        // own request is the last; otherwise the selected profile's role is.
        let (last, inner) = match (how, chain.hops.split_last()) {
            (Selected::Source, _) => (None, chain.hops.as_slice()),
            (Selected::Role, Some((last, inner))) => (Some(last), inner),
            (Selected::Role, None) => return self.own_credentials(&profiles, base, settings),
        };
        let mut needs_mfa = false;
        for (i, hop) in inner.iter().enumerate() {
            self.check_mfa_tokens(&profiles, hop)?;
            let mut builder = self.for_inner_hop(&settings);
            if let Some(command) = &hop.mfa_process {
                builder.mfa_tokens = Some(Arc::new(MfaProcess::new(command)));
            }
            builder.runtime.base_credentials = base;
            builder.base_needs_mfa = needs_mfa;
            // The first inner hop is assumed with the profile's own credentials.
            builder.base_is_temporary = i > 0;
            builder.request = hop.request.clone();
            let provider = builder
                .build()
                .map_err(|e| profiles.error(&hop.profile, None, e.to_string()))?;
            needs_mfa = provider.mfa_in_chain();
            base = Some(SharedCredentialsProvider::new(provider));
        }
        // The last hop is this builder: the profile's values where nothing was set here.
        self.use_sts_settings(settings);
        self.runtime.base_credentials = base;
        self.base_needs_mfa = needs_mfa;
        self.base_is_temporary = !inner.is_empty();
        if let Some(last) = last {
            if self.request.mfa_serial().is_none() {
                self.check_mfa_tokens(&profiles, last)?;
                if let Some(command) = &last.mfa_process {
                    self.mfa_tokens = Some(Arc::new(MfaProcess::new(command)));
                }
            }
            self.request.fill_unset_from(last.request.clone());
        }
        self.build()
    }

    /// The selected profile has no `role_arn`: its own credentials (keys, `credential_process`,
    /// SSO), cached and refreshed, as an SDK given that profile would use them.
    fn own_credentials(
        mut self,
        profiles: &LoadedProfiles,
        source: Option<SharedCredentialsProvider>,
        settings: SdkConfig,
    ) -> Result<ChainableTemporaryCredentials, BuildError> {
        let Some(source) = source else {
            return Err(profiles.error(profiles.selected(), Some("role_arn"), "is not set"));
        };
        if self.request != crate::request::SessionRequest::default() {
            return Err(BuildError::Conflict {
                field: Field::Profile,
                requires: "the profile has no `role_arn`: its own credentials are served as \
                           they are, with no STS call for a role, session name, duration, \
                           policy, tags or MFA device to go into",
            });
        }
        self.use_sts_settings(settings);
        let refreshing = self.cache.resolve(false)?;
        self.runtime.base_credentials = Some(source);
        let runtime = self.runtime.resolve(refreshing.load_timeout)?;
        Ok(super::assemble::own_credentials(
            profiles.selected().to_owned(),
            refreshing,
            runtime,
        ))
    }

    /// The STS settings of the selected profile with what is set here winning, on this
    /// builder's runtime parts (HTTP client, sleep, clock, retry and timeout settings).
    fn sts_settings_of(&self, profiles: &LoadedProfiles) -> Result<SdkConfig, BuildError> {
        let env = self.runtime.env();
        let runtime = &self.runtime;
        let (settings, region_source) = profile::load_settings(
            profiles,
            &env,
            runtime.sdk_config.as_ref(),
            runtime.region.clone(),
        );
        if let (Some(region), RegionSource::Profile) = (settings.region(), region_source) {
            crate::validation::region(region)
                .map_err(|e| profiles.value_error(profiles.selected(), e))?;
        }
        let legacy_global = runtime.endpoint_url.is_none()
            && settings.endpoint_url().is_none()
            && profile::wants_global_endpoint(profiles, &env, settings.region());
        let mut builder = settings.into_builder();
        if let Some(url) = &runtime.endpoint_url {
            builder.set_endpoint_url(Some(url.clone()));
        } else if legacy_global {
            // `sts_regional_endpoints = legacy`: the global endpoint, signed for us-east-1 as it
            // expects, on every hop.
            builder
                .set_endpoint_url(Some(profile::GLOBAL_STS_ENDPOINT.to_owned()))
                .set_region(Some(Region::from_static("us-east-1")));
        }
        Ok(builder.build())
    }

    /// Takes region and endpoint from `settings`, which already hold those set here.
    fn use_sts_settings(&mut self, settings: SdkConfig) {
        self.runtime.region = None;
        self.runtime.endpoint_url = None;
        self.runtime.sdk_config = Some(settings);
    }

    /// A builder for an inner hop of a profile chain: this one's runtime and cache settings
    /// (its metrics' too) on the profile's STS settings, but not its scoping or its listener
    /// (those are the selected profile's hop's).
    fn for_inner_hop(&self, settings: &SdkConfig) -> Builder {
        let mut builder = Builder {
            mfa_tokens: self.mfa_tokens.clone(),
            runtime: self.runtime.clone(),
            ..Builder::default()
        };
        builder.use_sts_settings(settings.clone());
        builder.cache.load_timeout = self.cache.load_timeout;
        builder.cache.background_refresh = self.cache.background_refresh;
        #[cfg(feature = "file-cache")]
        {
            builder.cache.file_cache = self.cache.file_cache.clone();
        }
        #[cfg(feature = "session-store")]
        {
            builder.cache.session_store = self.cache.session_store.clone();
        }
        // The inner hops report under the chain's name: their refreshes and STS calls count,
        // their gauges merge with the last hop's (the earliest expiry, any stale hop).
        #[cfg(feature = "telemetry")]
        {
            builder.cache.metrics = self.cache.metrics.clone();
        }
        builder
    }

    /// A hop whose profile names an MFA device needs a token provider to ask for its codes.
    fn check_mfa_tokens(
        &self,
        profiles: &LoadedProfiles,
        hop: &ProfileHop,
    ) -> Result<(), BuildError> {
        if hop.request.mfa_serial().is_some()
            && self.mfa_tokens.is_none()
            && hop.mfa_process.is_none()
        {
            return Err(profiles.error(
                &hop.profile,
                Some("mfa_serial"),
                "names an MFA device, but neither `mfa_process` nor a token provider \
                 (`Builder::mfa_tokens`) says where its codes come from",
            ));
        }
        Ok(())
    }
}

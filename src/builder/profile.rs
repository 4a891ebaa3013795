//! Building from a named profile of the shared config files: the profile's role chain becomes
//! a chain of providers, one cached hop per `role_arn` (see the `profile` module).

use super::Builder;
use crate::error::BuildError;
use crate::mfa::{MfaDevice, ProvideMfaToken};
use crate::profile::{self, LoadedProfiles, RoleHop};
use crate::provider::ChainableTemporaryCredentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::region::Region;
use std::path::PathBuf;
use std::sync::Arc;

impl Builder {
    /// The named profile to build from with
    /// [`build_from_profile`](Self::build_from_profile) (cargo feature `profile`).
    ///
    /// Default: `AWS_PROFILE`, else `default`.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// Sets or clears the profile name; see [`profile`](Self::profile).
    pub fn set_profile(&mut self, name: Option<String>) -> &mut Self {
        self.profile = name;
        self
    }

    /// The config file profiles are read from.
    ///
    /// Default: `AWS_CONFIG_FILE`, else `~/.aws/config`.
    pub fn profile_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.profile_paths.config = Some(path.into());
        self
    }

    /// Sets or clears the config file; see [`profile_config_file`](Self::profile_config_file).
    pub fn set_profile_config_file(&mut self, path: Option<PathBuf>) -> &mut Self {
        self.profile_paths.config = path;
        self
    }

    /// The credentials file profiles are read from.
    ///
    /// Default: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    pub fn profile_credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.profile_paths.credentials = Some(path.into());
        self
    }

    /// Sets or clears the credentials file; see
    /// [`profile_credentials_file`](Self::profile_credentials_file).
    pub fn set_profile_credentials_file(&mut self, path: Option<PathBuf>) -> &mut Self {
        self.profile_paths.credentials = path;
        self
    }

    /// Where the codes of MFA devices come from when profiles name them (`mfa_serial`): asked
    /// only when that profile's role is assumed — once per refresh of that hop, never per
    /// request — with the device's serial number (see
    /// [`ProvideMfaToken::mfa_token_for`]). Asking counts against the
    /// [`load_timeout`](Self::load_timeout): give a person typing the code more.
    ///
    /// Default: none; a profile with `mfa_serial` is then a [`BuildError`].
    pub fn mfa_tokens(mut self, tokens: impl ProvideMfaToken) -> Self {
        self.mfa_tokens = Some(Arc::new(tokens));
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
    /// (`Environment`, `Ec2InstanceMetadata`, `EcsContainer`), `credential_process`, SSO or web
    /// identity, through aws-config's providers. The files are parsed by aws-config's profile
    /// loader.
    ///
    /// Read from the profiles: `role_arn`, `source_profile`, `credential_source`,
    /// `external_id`, `role_session_name`, `duration_seconds`, `mfa_serial` for each hop; and,
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
    /// a profile without credentials, `mfa_serial` without [`mfa_tokens`](Self::mfa_tokens));
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
        if self.base_credentials.is_some() {
            return Err(BuildError::Conflict {
                field: "base_credentials",
                requires: "a profile is read: its chain says where the base credentials come from",
            });
        }
        let profiles = LoadedProfiles::load(&self.profile_paths, self.profile.as_deref()).await?;
        let chain = profile::resolve_chain(&profiles)?;
        let mut settings = profile::load_settings(
            &profiles,
            &self.profile_paths,
            self.sdk_config.as_ref(),
            self.region.clone(),
        )
        .await;
        let from_environment = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .any(|var| std::env::var_os(var).is_some());
        if let Some(region) = settings.region()
            && self.region.is_none()
            && !from_environment
            && profiles.selected_value("region").is_some()
        {
            crate::validation::region(region)
                .map_err(|e| profiles.error(profiles.selected(), Some("region"), rule_of(e)))?;
        }
        let mut endpoint_url = self.endpoint_url.clone();
        let configured_endpoint =
            endpoint_url.is_some() || super::sts_endpoint_of(&settings).is_some();
        if !configured_endpoint && profile::wants_global_endpoint(&profiles, settings.region()) {
            // `sts_regional_endpoints = legacy`: the global endpoint, signed for us-east-1 as it
            // expects, on every hop.
            endpoint_url = Some(profile::GLOBAL_STS_ENDPOINT.to_owned());
            settings = settings
                .into_builder()
                .region(Region::from_static("us-east-1"))
                .build();
            self.region = None;
        }
        let mut base = profile::base_provider(&chain.base, &self.profile_paths, &settings);
        let Some((last, inner)) = chain.hops.split_last() else {
            return Err(profiles.error(profiles.selected(), Some("role_arn"), "is not set"));
        };
        let mut needs_mfa = false;
        for hop in inner {
            let mut builder = self.inherited();
            builder.sdk_config = Some(settings.clone());
            builder.endpoint_url = endpoint_url.clone();
            builder.region = self.region.clone();
            builder.base_credentials = Some(base);
            builder.base_needs_mfa = needs_mfa;
            self.apply(&profiles, &mut builder, hop)?;
            let provider = builder
                .build()
                .map_err(|e| profiles.error(&hop.profile, None, e.to_string()))?;
            needs_mfa = provider.mfa_in_chain();
            base = SharedCredentialsProvider::new(provider);
        }
        // The last hop is this builder: the profile's values where nothing was set here.
        self.sdk_config = Some(settings);
        self.endpoint_url = endpoint_url;
        self.base_credentials = Some(base);
        self.base_needs_mfa = needs_mfa;
        self.profile = None;
        let tokens = self.mfa_tokens.clone();
        apply_hop(&profiles, &mut self, last, tokens, true)?;
        self.build()
    }

    /// A builder with this one's runtime settings, for an inner hop of a profile chain.
    fn inherited(&self) -> Builder {
        Builder {
            time_source: self.time_source.clone(),
            sleep_impl: self.sleep_impl.clone(),
            http_client: self.http_client.clone(),
            load_timeout: self.load_timeout,
            background_refresh: self.background_refresh,
            #[cfg(feature = "file-cache")]
            file_cache: self.file_cache.clone(),
            env: self.env.clone(),
            ..Builder::default()
        }
    }

    /// Sets `builder`'s role parameters from `hop` (an inner hop: everything comes from it).
    fn apply(
        &self,
        profiles: &LoadedProfiles,
        builder: &mut Builder,
        hop: &RoleHop,
    ) -> Result<(), BuildError> {
        apply_hop(profiles, builder, hop, self.mfa_tokens.clone(), false)
    }
}

/// The rule a build error states, without the field name (the profile error names the key).
fn rule_of(error: BuildError) -> String {
    match error {
        BuildError::InvalidParameter { rule, .. } => rule,
        other => other.to_string(),
    }
}

/// Sets the role parameters of `hop` on `builder`; with `keep_set`, values already set win.
fn apply_hop(
    profiles: &LoadedProfiles,
    builder: &mut Builder,
    hop: &RoleHop,
    tokens: Option<Arc<dyn ProvideMfaToken>>,
    keep_set: bool,
) -> Result<(), BuildError> {
    fn fill<T>(slot: &mut Option<T>, value: Option<T>, keep_set: bool) {
        if let Some(value) = value
            && !(keep_set && slot.is_some())
        {
            *slot = Some(value);
        }
    }
    fill(&mut builder.role_arn, Some(hop.role_arn.clone()), keep_set);
    fill(&mut builder.external_id, hop.external_id.clone(), keep_set);
    fill(
        &mut builder.role_session_name,
        hop.role_session_name.clone(),
        keep_set,
    );
    fill(&mut builder.duration, hop.duration, keep_set);
    if let Some(serial) = &hop.mfa_serial
        && !(keep_set && builder.mfa.is_some())
    {
        let Some(tokens) = tokens else {
            return Err(profiles.error(
                &hop.profile,
                Some("mfa_serial"),
                "names an MFA device, but no token provider was given to ask for its code \
                 (`Builder::mfa_tokens`)",
            ));
        };
        builder.mfa = Some(MfaDevice {
            serial_number: serial.clone(),
            tokens,
        });
    }
    Ok(())
}

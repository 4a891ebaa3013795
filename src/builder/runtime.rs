//! Resolving how STS is reached: the region, the endpoint, the HTTP client, the clock, the
//! sleep and the base credentials, from what was set, else the [`SdkConfig`] given to
//! `configure`, else the environment. One path for every provider: a profile's hops and the
//! command set these settings and come through here too.

use crate::error::{BuildError, Field};
use crate::validation;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::{BehaviorVersion, IdentityCache};
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, default_async_sleep};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::SdkConfig;
use aws_types::os_shim_internal::{Env, Fs};
use aws_types::region::Region;
use aws_types::service_config::ServiceConfigKey;
use std::time::Duration;

/// How STS is reached, as set on the builder.
#[derive(Clone, Default)]
pub(crate) struct RuntimeSettings {
    pub(crate) base_credentials: Option<SharedCredentialsProvider>,
    pub(crate) region: Option<Region>,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) allow_insecure_endpoint: Option<bool>,
    pub(crate) sdk_config: Option<SdkConfig>,
    pub(crate) time_source: Option<SharedTimeSource>,
    pub(crate) sleep_impl: Option<SharedAsyncSleep>,
    pub(crate) http_client: Option<SharedHttpClient>,
    pub(crate) env: Option<Env>,
    pub(crate) fs: Option<Fs>,
}

/// How STS is reached, resolved.
pub(crate) struct Runtime {
    /// Part of the session store's key.
    #[cfg(feature = "session-store")]
    pub(crate) region: Region,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) allow_insecure_endpoint: bool,
    pub(crate) time_source: SharedTimeSource,
    pub(crate) sleep: SharedAsyncSleep,
    pub(crate) base: SharedCredentialsProvider,
    /// Everything STS is called with (region, endpoint, HTTP client, clock, sleep, retry and
    /// timeout settings, no identity cache): what `chain()` hands on to the next hop.
    pub(crate) sts_sdk_config: SdkConfig,
}

impl RuntimeSettings {
    /// The environment variables to read: the injected ones, else the process's.
    pub(crate) fn env(&self) -> Env {
        self.env.clone().unwrap_or_else(Env::real)
    }

    /// The file system to read: the injected one, else the real one.
    #[cfg(feature = "profile")]
    pub(crate) fn fs(&self) -> Fs {
        self.fs.clone().unwrap_or_else(Fs::real)
    }

    /// Resolves every setting, checking the region and the endpoint. `load_timeout` bounds a
    /// refresh: the default base credentials get a part of it.
    pub(crate) fn resolve(&self, load_timeout: Duration) -> Result<Runtime, BuildError> {
        let sdk = self.sdk_config.as_ref();
        let region = self.region()?;
        let allow_insecure_endpoint = self.allow_insecure_endpoint.unwrap_or(false);
        let endpoint_url = self
            .endpoint_url
            .clone()
            .or_else(|| sdk.and_then(sts_endpoint_of));
        if let Some(url) = &endpoint_url {
            validation::endpoint_url(url, allow_insecure_endpoint)?;
        }
        let http_client = self
            .http_client
            .clone()
            .or_else(|| sdk.and_then(SdkConfig::http_client));
        if http_client.is_none() && !cfg!(feature = "default-https-client") {
            return Err(BuildError::MissingHttpClient);
        }
        let time_source = self
            .time_source
            .clone()
            .or_else(|| sdk.and_then(SdkConfig::time_source))
            .unwrap_or_default();
        let sleep = self
            .sleep_impl
            .clone()
            .or_else(|| sdk.and_then(SdkConfig::sleep_impl))
            .or_else(default_async_sleep)
            .ok_or_else(|| {
                BuildError::invalid(Field::SleepImpl, "must be set when Tokio is not available")
            })?;
        let base = match self
            .base_credentials
            .clone()
            .or_else(|| sdk.and_then(SdkConfig::credentials_provider))
        {
            Some(base) => base,
            None => default_base_credentials(DefaultChainParts {
                region: region.clone(),
                http_client: http_client.clone(),
                time_source: time_source.clone(),
                sleep: sleep.clone(),
                env: self.env(),
                budget: default_chain_budget(load_timeout),
            })?,
        };
        let sts_sdk_config = self.sts_sdk_config(StsParts {
            region: &region,
            endpoint_url: endpoint_url.clone(),
            http_client,
            time_source: &time_source,
            sleep: &sleep,
            base: &base,
        });
        Ok(Runtime {
            #[cfg(feature = "session-store")]
            region,
            endpoint_url,
            allow_insecure_endpoint,
            time_source,
            sleep,
            base,
            sts_sdk_config,
        })
    }

    /// The region set, else the `SdkConfig`'s, else `AWS_REGION` / `AWS_DEFAULT_REGION`.
    fn region(&self) -> Result<Region, BuildError> {
        let env = self.env();
        let region = self
            .region
            .clone()
            .or_else(|| self.sdk_config.as_ref().and_then(|c| c.region().cloned()))
            .or_else(|| {
                ["AWS_REGION", "AWS_DEFAULT_REGION"]
                    .into_iter()
                    .filter_map(|var| env.get(var).ok())
                    .find(|r| !r.trim().is_empty())
                    .map(Region::new)
            })
            .ok_or(BuildError::MissingRegion)?;
        validation::region(&region)?;
        Ok(region)
    }

    /// The `SdkConfig` STS is called with: the one given to `configure` (its retry and
    /// timeout settings) with everything resolved here in place of its own.
    fn sts_sdk_config(&self, parts: StsParts<'_>) -> SdkConfig {
        let mut config = self
            .sdk_config
            .clone()
            .map(SdkConfig::into_builder)
            .unwrap_or_default();
        config
            .set_region(Some(parts.region.clone()))
            .set_endpoint_url(parts.endpoint_url)
            .set_http_client(parts.http_client)
            .set_time_source(Some(parts.time_source.clone()))
            .set_sleep_impl(Some(parts.sleep.clone()))
            // Every STS call is signed with the base credentials resolved just before it.
            .set_identity_cache(Some(IdentityCache::no_cache()))
            .set_credentials_provider(Some(parts.base.clone()));
        if self
            .sdk_config
            .as_ref()
            .and_then(SdkConfig::behavior_version)
            .is_none()
        {
            config.set_behavior_version(Some(BehaviorVersion::latest()));
        }
        config.build()
    }
}

/// What the STS `SdkConfig` is made of, resolved.
struct StsParts<'a> {
    region: &'a Region,
    endpoint_url: Option<String>,
    http_client: Option<SharedHttpClient>,
    time_source: &'a SharedTimeSource,
    sleep: &'a SharedAsyncSleep,
    base: &'a SharedCredentialsProvider,
}

/// The STS endpoint a client built from `sdk` calls: one set in code, else `AWS_ENDPOINT_URL_STS`
/// or an `sts` entry in the profile's `services` section, else the general endpoint URL (the
/// order of the SDK's own clients).
pub(crate) fn sts_endpoint_of(sdk: &SdkConfig) -> Option<String> {
    if sdk.get_origin("endpoint_url").is_client_config() {
        return sdk.endpoint_url().map(str::to_owned);
    }
    let key = ServiceConfigKey::builder()
        .service_id("STS")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    sdk.service_config()
        .and_then(|config| config.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_owned))
}

/// What the default base credentials are created with.
#[cfg_attr(not(feature = "default-chain"), allow(dead_code))]
struct DefaultChainParts {
    region: Region,
    http_client: Option<SharedHttpClient>,
    time_source: SharedTimeSource,
    sleep: SharedAsyncSleep,
    env: Env,
    /// How long the default chain may look for credentials before it reports what it tried.
    budget: Duration,
}

/// The part of the load timeout the default chain may take: three quarters, so that when its
/// last source (the instance metadata service) is slow or does not answer, as on most
/// laptops, the refresh still ends with what was tried and how to give credentials, not a
/// bare timeout.
fn default_chain_budget(load_timeout: Duration) -> Duration {
    load_timeout * 3 / 4
}

#[cfg(feature = "default-chain")]
fn default_base_credentials(
    parts: DefaultChainParts,
) -> Result<SharedCredentialsProvider, BuildError> {
    Ok(SharedCredentialsProvider::new(
        crate::base_credentials::LazyDefaultChain::new(
            parts.region,
            parts.http_client,
            parts.time_source,
            parts.sleep,
            parts.env,
            parts.budget,
        ),
    ))
}

#[cfg(not(feature = "default-chain"))]
fn default_base_credentials(
    _parts: DefaultChainParts,
) -> Result<SharedCredentialsProvider, BuildError> {
    Err(BuildError::MissingBaseCredentials)
}

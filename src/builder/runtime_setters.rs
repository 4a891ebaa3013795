//! The setters of how STS is reached and with what: base credentials, region, endpoint, the
//! SDK's runtime parts (HTTP client, clock, sleep), and where the environment is read from.
//! The `set_*` twin does the work, the consuming setter calls it.

use super::Builder;
#[cfg(doc)]
use crate::{BuildError, ChainableTemporaryCredentials};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use aws_smithy_runtime_api::client::http::{HttpClient, SharedHttpClient};
use aws_smithy_runtime_api::shared::IntoShared;
use aws_types::SdkConfig;
#[cfg(feature = "test-util")]
use aws_types::os_shim_internal::{Env, Fs};
use aws_types::region::Region;

impl Builder {
    /// The credentials that sign the STS call: any provider, including another
    /// [`ChainableTemporaryCredentials`] (a role chain) or static keys
    /// ([`aws_credential_types::Credentials`]).
    ///
    /// Default: the credentials provider of the [`SdkConfig`] given to
    /// [`configure`](Self::configure); without one, aws-config's default chain (environment,
    /// profile, web identity, ECS, IMDS), created on the first refresh (cargo feature
    /// `default-chain`, on by default).
    pub fn base_credentials(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.set_base_credentials(Some(SharedCredentialsProvider::new(provider)));
        self
    }

    /// Sets or clears the base credentials; see [`base_credentials`](Self::base_credentials).
    pub fn set_base_credentials(
        &mut self,
        provider: Option<SharedCredentialsProvider>,
    ) -> &mut Self {
        self.runtime.base_credentials = provider;
        self
    }

    /// The region whose STS endpoint is called and signed for (regional endpoints, as AWS
    /// recommends). For the global endpoint, use `us-east-1` together with
    /// `endpoint_url("https://sts.amazonaws.com")`.
    ///
    /// Default: the region of the [`SdkConfig`] given to [`configure`](Self::configure), else
    /// the `AWS_REGION` (or `AWS_DEFAULT_REGION`) environment variable; with none of them,
    /// `build()` fails with [`BuildError::MissingRegion`].
    pub fn region(mut self, region: Region) -> Self {
        self.set_region(Some(region));
        self
    }

    /// Sets or clears the region; see [`region`](Self::region).
    pub fn set_region(&mut self, region: Option<Region>) -> &mut Self {
        self.runtime.region = region;
        self
    }

    /// A custom STS endpoint, e.g. a VPC endpoint or a local test server
    /// (`http://` or `https://`, with a host).
    ///
    /// Default: the endpoint of the [`SdkConfig`] given to [`configure`](Self::configure) (which
    /// includes `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_STS` when it was loaded by aws-config),
    /// else the region's STS endpoint.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.set_endpoint_url(Some(url.into()));
        self
    }

    /// Sets or clears the endpoint; see [`endpoint_url`](Self::endpoint_url).
    pub fn set_endpoint_url(&mut self, url: Option<String>) -> &mut Self {
        self.runtime.endpoint_url = url;
        self
    }

    /// Allows a plain `http://` STS endpoint on a host other than loopback (`localhost`,
    /// `127.0.0.0/8`, `[::1]`). STS answers carry the session's secret key and token, so
    /// without this, such an endpoint is a [`BuildError`] naming `endpoint_url`: sessions
    /// would cross the network in clear text. Hops made with
    /// [`chain`](crate::ChainableTemporaryCredentials::chain) inherit it.
    ///
    /// Default: `false`.
    pub fn allow_insecure_endpoint(mut self, allow: bool) -> Self {
        self.set_allow_insecure_endpoint(Some(allow));
        self
    }

    /// Sets or clears the permission; see
    /// [`allow_insecure_endpoint`](Self::allow_insecure_endpoint).
    pub fn set_allow_insecure_endpoint(&mut self, allow: Option<bool>) -> &mut Self {
        self.runtime.allow_insecure_endpoint = allow;
        self
    }

    /// Takes the region, endpoint, HTTP client, sleep, time source, retry and timeout
    /// settings, and base credentials from an [`SdkConfig`], e.g. one from
    /// `aws_config::load_defaults`. Explicit setters win over it. Its identity cache is not
    /// used: this provider caches itself.
    ///
    /// Default: none of these are taken from anywhere but the setters.
    pub fn configure(mut self, sdk_config: &SdkConfig) -> Self {
        self.set_configure(Some(sdk_config.clone()));
        self
    }

    /// Sets or clears the [`SdkConfig`] to take settings from; see
    /// [`configure`](Self::configure).
    pub fn set_configure(&mut self, sdk_config: Option<SdkConfig>) -> &mut Self {
        self.runtime.sdk_config = sdk_config;
        self
    }

    /// The clock every expiry decision is made with. Tests inject a manual clock here.
    ///
    /// Default: the [`SdkConfig`]'s, else the system clock.
    pub fn time_source(mut self, time_source: impl TimeSource + 'static) -> Self {
        self.set_time_source(Some(time_source.into_shared()));
        self
    }

    /// Sets or clears the time source; see [`time_source`](Self::time_source).
    pub fn set_time_source(&mut self, time_source: Option<SharedTimeSource>) -> &mut Self {
        self.runtime.time_source = time_source;
        self
    }

    /// How to sleep (load timeout, SDK retries, the background refresh's schedule).
    ///
    /// Default: the [`SdkConfig`]'s, else Tokio's.
    pub fn sleep_impl(mut self, sleep: impl AsyncSleep + 'static) -> Self {
        self.set_sleep_impl(Some(sleep.into_shared()));
        self
    }

    /// Sets or clears the sleep implementation; see [`sleep_impl`](Self::sleep_impl).
    pub fn set_sleep_impl(&mut self, sleep: Option<SharedAsyncSleep>) -> &mut Self {
        self.runtime.sleep_impl = sleep;
        self
    }

    /// The HTTP client for STS calls.
    ///
    /// Default: the [`SdkConfig`]'s, else the SDK's default HTTPS client (cargo feature
    /// `default-https-client`, on by default; without it `build()` fails with
    /// [`BuildError::MissingHttpClient`]).
    pub fn http_client(mut self, client: impl HttpClient + 'static) -> Self {
        self.set_http_client(Some(client.into_shared()));
        self
    }

    /// Sets or clears the HTTP client; see [`http_client`](Self::http_client).
    pub fn set_http_client(&mut self, client: Option<SharedHttpClient>) -> &mut Self {
        self.runtime.http_client = client;
        self
    }

    /// (Cargo feature `test-util`.) The environment variables the provider reads (`AWS_REGION`, `AWS_PROFILE`, the
    /// profile files' locations, endpoint settings, the environment's keys for the default
    /// base credentials), as aws-config's `ProviderConfig` takes them: a test passes
    /// `Env::from_slice(&[..])` and is then independent of the shell that runs it.
    ///
    /// Default: the process's environment. aws-config's own providers read the process's
    /// environment (and files) whatever is set here: those the default base credentials fall
    /// back to after the environment's keys (profile, web identity, ECS, IMDS), and those a
    /// profile's chain ends in (`credential_process`, SSO, web identity, instance metadata,
    /// the ECS endpoint); aws-config does not let them be given another.
    #[cfg(feature = "test-util")]
    pub fn env(mut self, env: Env) -> Self {
        self.set_env(Some(env));
        self
    }

    /// Sets or clears the environment; see [`env`](Self::env).
    #[cfg(feature = "test-util")]
    pub fn set_env(&mut self, env: Option<Env>) -> &mut Self {
        self.runtime.env = env;
        self
    }

    /// (Cargo feature `test-util`.) The file system the profile files are read from, as aws-config's `ProviderConfig`
    /// takes it: a test passes `Fs::from_map(..)`.
    ///
    /// Default: the real file system.
    #[cfg(feature = "test-util")]
    pub fn fs(mut self, fs: Fs) -> Self {
        self.set_fs(Some(fs));
        self
    }

    /// Sets or clears the file system; see [`fs`](Self::fs).
    #[cfg(feature = "test-util")]
    pub fn set_fs(&mut self, fs: Option<Fs>) -> &mut Self {
        self.runtime.fs = fs;
        self
    }
}

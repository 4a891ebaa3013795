//! [`Builder`] for [`ChainableTemporaryCredentials`].

#[cfg(feature = "profile")]
mod profile;

use crate::error::BuildError;
use crate::fetch::SessionFetcher;
use crate::mfa::{MfaDevice, ProvideMfaToken};
use crate::provider::ChainableTemporaryCredentials;
use crate::refresh::{Backoff, EngineConfig, RefreshEngine};
use crate::session::{AssumeRoleParams, SessionRequest};
use crate::status::{RefreshListener, RefreshOutcome, SharedRefreshListener};
use crate::sts::Sts;
use crate::validation;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::config::{BehaviorVersion, IdentityCache};
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, default_async_sleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use aws_smithy_runtime_api::client::http::{HttpClient, SharedHttpClient};
use aws_smithy_runtime_api::shared::IntoShared;
use aws_types::SdkConfig;
use aws_types::os_shim_internal::Env;
use aws_types::region::Region;
use aws_types::service_config::ServiceConfigKey;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// How long one refresh (base credentials plus the STS call, retries included) may take
/// before it fails with `CredentialsError::ProviderTimedOut`: 5 seconds. An SDK client's own
/// identity cache allows a load at least this long (aws-smithy-runtime 1.16 derives about 20
/// seconds from the default retry and timeout settings), so the client never gives up before
/// this provider does and gets its typed error.
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
    base_credentials: Option<SharedCredentialsProvider>,
    role_arn: Option<String>,
    role_session_name: Option<String>,
    duration: Option<Duration>,
    external_id: Option<String>,
    policy: Option<String>,
    policy_arns: Vec<String>,
    tags: Vec<(String, String)>,
    transitive_tag_keys: Vec<String>,
    source_identity: Option<String>,
    mfa: Option<MfaDevice>,
    region: Option<Region>,
    endpoint_url: Option<String>,
    allow_insecure_endpoint: Option<bool>,
    sdk_config: Option<SdkConfig>,
    time_source: Option<SharedTimeSource>,
    sleep_impl: Option<SharedAsyncSleep>,
    http_client: Option<SharedHttpClient>,
    load_timeout: Option<Duration>,
    background_refresh: Option<bool>,
    prefetch: Option<bool>,
    on_refresh: Option<RefreshListener>,
    #[cfg(feature = "file-cache")]
    file_cache: Option<std::path::PathBuf>,
    /// The profile to read with `build_from_profile`, and its files.
    #[cfg(feature = "profile")]
    profile: Option<String>,
    #[cfg(feature = "profile")]
    profile_paths: crate::profile::ProfilePaths,
    /// Asked for the codes of MFA devices that profiles name.
    #[cfg(feature = "profile")]
    mfa_tokens: Option<Arc<dyn ProvideMfaToken>>,
    /// The base credentials are a hop that asks for MFA codes (or is chained on one): this
    /// hop then refreshes only when asked, unless told otherwise.
    pub(crate) base_needs_mfa: bool,
    /// Where `AWS_REGION` is looked up; a fake in unit tests.
    env: Option<Env>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The base provider is only said to be there: a custom provider's Debug may not redact.
        f.debug_struct("Builder")
            .field("base_credentials", &self.base_credentials.is_some())
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("duration", &self.duration)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "** set **"),
            )
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("allow_insecure_endpoint", &self.allow_insecure_endpoint)
            .field("configured", &self.sdk_config.is_some())
            .field("load_timeout", &self.load_timeout)
            .field("background_refresh", &self.background_refresh)
            .field("prefetch", &self.prefetch)
            .field("on_refresh", &self.on_refresh.is_some())
            .field("file_cache", &self.file_cache_dir())
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder with nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The credentials that sign the STS call: any provider, including another
    /// [`ChainableTemporaryCredentials`] (a role chain) or static keys
    /// ([`aws_credential_types::Credentials`]).
    ///
    /// Default: the credentials provider of the [`SdkConfig`] given to
    /// [`configure`](Self::configure); without one, aws-config's default chain (environment,
    /// profile, web identity, ECS, IMDS), created on the first refresh (cargo feature
    /// `default-chain`, on by default).
    pub fn base_credentials(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.base_credentials = Some(SharedCredentialsProvider::new(provider));
        self
    }

    /// Sets or clears the base credentials; see [`base_credentials`](Self::base_credentials).
    pub fn set_base_credentials(
        &mut self,
        provider: Option<SharedCredentialsProvider>,
    ) -> &mut Self {
        self.base_credentials = provider;
        self
    }

    /// The role to assume, `arn:PARTITION:iam::ACCOUNT_ID:role/[PATH/]NAME` (STS: 20 to 2,048
    /// characters; the role name 1 to 64 characters of `[\w+=,.@-]`).
    ///
    /// Default: none, and then the provider calls `GetSessionToken` instead of `AssumeRole`:
    /// temporary credentials for the base principal itself.
    pub fn role_arn(mut self, arn: impl Into<String>) -> Self {
        self.role_arn = Some(arn.into());
        self
    }

    /// Sets or clears the role ARN; see [`role_arn`](Self::role_arn).
    pub fn set_role_arn(&mut self, arn: Option<String>) -> &mut Self {
        self.role_arn = arn;
        self
    }

    /// The role session name: it appears in the assumed-role ARN and in CloudTrail (STS: 2 to
    /// 64 characters of `[\w+=,.@-]`). Only with [`role_arn`](Self::role_arn).
    ///
    /// Default: `chainable-credentials-<Unix milliseconds at build>`, fixed for the provider's
    /// life so every refresh uses the same name.
    pub fn role_session_name(mut self, name: impl Into<String>) -> Self {
        self.role_session_name = Some(name.into());
        self
    }

    /// Sets or clears the session name; see [`role_session_name`](Self::role_session_name).
    pub fn set_role_session_name(&mut self, name: Option<String>) -> &mut Self {
        self.role_session_name = name;
        self
    }

    /// How long each session lasts (`DurationSeconds`, whole seconds). STS accepts 900 s to
    /// 43,200 s for `AssumeRole` (no more than the role's maximum session duration) and 900 s
    /// to 129,600 s for `GetSessionToken`.
    ///
    /// Default: not sent, so STS decides (1 hour for `AssumeRole`, 12 hours for
    /// `GetSessionToken`).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// Sets or clears the duration; see [`duration`](Self::duration).
    pub fn set_duration(&mut self, duration: Option<Duration>) -> &mut Self {
        self.duration = duration;
        self
    }

    /// The external id the role's trust policy requires, as given by the role's owner (STS: 2
    /// to 1,224 characters of `[\w+=,.@:/-]`). Only with [`role_arn`](Self::role_arn). Never
    /// printed by `Debug` or in errors.
    ///
    /// Default: none.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Sets or clears the external id; see [`external_id`](Self::external_id).
    pub fn set_external_id(&mut self, id: Option<String>) -> &mut Self {
        self.external_id = id;
        self
    }

    /// An inline session policy (JSON): the session may do only what both the role's policies
    /// and this allow. STS: at most 2,048 characters once packed (it is sent without
    /// whitespace), characters U+0020 to U+00FF plus tab and line breaks. Only with
    /// [`role_arn`](Self::role_arn).
    ///
    /// Default: none (the role's own permissions).
    pub fn policy(mut self, json: impl Into<String>) -> Self {
        self.policy = Some(json.into());
        self
    }

    /// Sets or clears the inline session policy; see [`policy`](Self::policy).
    pub fn set_policy(&mut self, json: Option<String>) -> &mut Self {
        self.policy = json;
        self
    }

    /// Adds a managed session policy by ARN (`arn:aws:iam::ACCOUNT_ID|aws:policy/NAME`); STS
    /// takes at most 10. Only with [`role_arn`](Self::role_arn).
    ///
    /// Default: none.
    pub fn policy_arn(mut self, arn: impl Into<String>) -> Self {
        self.policy_arns.push(arn.into());
        self
    }

    /// Adds managed session policies by ARN; see [`policy_arn`](Self::policy_arn).
    pub fn policy_arns(mut self, arns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.policy_arns.extend(arns.into_iter().map(Into::into));
        self
    }

    /// Replaces the managed session policies; see [`policy_arn`](Self::policy_arn).
    pub fn set_policy_arns(&mut self, arns: Option<Vec<String>>) -> &mut Self {
        self.policy_arns = arns.unwrap_or_default();
        self
    }

    /// Adds a session tag. STS: at most 50 tags; keys 1 to 128 and values 0 to 256 characters
    /// of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`; keys unique regardless of case and not starting with
    /// `aws:`. The role's trust policy must allow `sts:TagSession`. Only with
    /// [`role_arn`](Self::role_arn).
    ///
    /// Default: none.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Adds session tags; see [`tag`](Self::tag).
    pub fn tags<K: Into<String>, V: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.tags
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Replaces the session tags; see [`tag`](Self::tag).
    pub fn set_tags(&mut self, tags: Option<Vec<(String, String)>>) -> &mut Self {
        self.tags = tags.unwrap_or_default();
        self
    }

    /// Marks a session tag as transitive: it passes on to sessions assumed from this one (role
    /// chaining). STS: the key must be one of the session tags.
    ///
    /// Default: none.
    pub fn transitive_tag_key(mut self, key: impl Into<String>) -> Self {
        self.transitive_tag_keys.push(key.into());
        self
    }

    /// Replaces the transitive tag keys; see [`transitive_tag_key`](Self::transitive_tag_key).
    pub fn set_transitive_tag_keys(&mut self, keys: Option<Vec<String>>) -> &mut Self {
        self.transitive_tag_keys = keys.unwrap_or_default();
        self
    }

    /// The source identity: who is behind the session, recorded in CloudTrail and kept through
    /// role chains. STS: 2 to 64 characters of `[\w+=,.@-]`, not starting with `aws:`; once
    /// set in a chain it cannot change. The trust policy must allow `sts:SetSourceIdentity`.
    /// Only with [`role_arn`](Self::role_arn).
    ///
    /// Default: none.
    pub fn source_identity(mut self, id: impl Into<String>) -> Self {
        self.source_identity = Some(id.into());
        self
    }

    /// Sets or clears the source identity; see [`source_identity`](Self::source_identity).
    pub fn set_source_identity(&mut self, id: Option<String>) -> &mut Self {
        self.source_identity = id;
        self
    }

    /// Multi-factor authentication: `serial_number` is the MFA device's ARN
    /// (`arn:aws:iam::ACCOUNT_ID:mfa/NAME`) or a hardware device's serial (STS: 9 to 256
    /// characters of `[\w+=/:,.@-]`), and `tokens` is asked for the current 6-digit code at every
    /// refresh (never on cache hits). Works with `AssumeRole` and with `GetSessionToken`; for
    /// "MFA once, then roles", build a `GetSessionToken` provider with MFA and
    /// [`chain`](crate::ChainableTemporaryCredentials::chain) roles on it.
    ///
    /// Asking for the code counts against the [`load_timeout`](Self::load_timeout) (5 seconds
    /// by default): give a person typing the code more, e.g. two minutes.
    ///
    /// A provider with MFA, and every hop chained on it, refreshes only when asked: its
    /// [`background_refresh`](Self::background_refresh) is off unless switched on, so that a
    /// code is asked for when someone needs credentials, not at a refresh point while nobody
    /// is there. Switch it on for a token provider that needs no person.
    ///
    /// Default: none.
    pub fn mfa(mut self, serial_number: impl Into<String>, tokens: impl ProvideMfaToken) -> Self {
        self.mfa = Some(MfaDevice::new(serial_number, tokens));
        self
    }

    /// Sets or clears the MFA device; see [`mfa`](Self::mfa).
    pub fn set_mfa(&mut self, device: Option<MfaDevice>) -> &mut Self {
        self.mfa = device;
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
        self.region = Some(region);
        self
    }

    /// Sets or clears the region; see [`region`](Self::region).
    pub fn set_region(&mut self, region: Option<Region>) -> &mut Self {
        self.region = region;
        self
    }

    /// A custom STS endpoint, e.g. a VPC endpoint or a local test server
    /// (`http://` or `https://`, with a host).
    ///
    /// Default: the endpoint of the [`SdkConfig`] given to [`configure`](Self::configure) (which
    /// includes `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_STS` when it was loaded by aws-config),
    /// else the region's STS endpoint.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Sets or clears the endpoint; see [`endpoint_url`](Self::endpoint_url).
    pub fn set_endpoint_url(&mut self, url: Option<String>) -> &mut Self {
        self.endpoint_url = url;
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
        self.allow_insecure_endpoint = allow;
        self
    }

    /// Takes the region, endpoint, HTTP client, sleep, time source, retry and timeout
    /// settings, and base credentials from an [`SdkConfig`], e.g. one from
    /// `aws_config::load_defaults`. Explicit setters win over it. Its identity cache is not
    /// used: this provider caches itself.
    ///
    /// Default: none of these are taken from anywhere but the setters.
    pub fn configure(mut self, sdk_config: &SdkConfig) -> Self {
        self.sdk_config = Some(sdk_config.clone());
        self
    }

    /// The clock every expiry decision is made with. Tests inject a manual clock here.
    ///
    /// Default: the [`SdkConfig`]'s, else the system clock.
    pub fn time_source(mut self, time_source: impl TimeSource + 'static) -> Self {
        self.time_source = Some(time_source.into_shared());
        self
    }

    /// Sets or clears the time source; see [`time_source`](Self::time_source).
    pub fn set_time_source(&mut self, time_source: Option<SharedTimeSource>) -> &mut Self {
        self.time_source = time_source;
        self
    }

    /// How to sleep (load timeout, SDK retries, the background refresh's schedule).
    ///
    /// Default: the [`SdkConfig`]'s, else Tokio's.
    pub fn sleep_impl(mut self, sleep: impl AsyncSleep + 'static) -> Self {
        self.sleep_impl = Some(sleep.into_shared());
        self
    }

    /// Sets or clears the sleep implementation; see [`sleep_impl`](Self::sleep_impl).
    pub fn set_sleep_impl(&mut self, sleep: Option<SharedAsyncSleep>) -> &mut Self {
        self.sleep_impl = sleep;
        self
    }

    /// The HTTP client for STS calls.
    ///
    /// Default: the [`SdkConfig`]'s, else the SDK's default HTTPS client (cargo feature
    /// `default-https-client`, on by default; without it `build()` fails with
    /// [`BuildError::MissingHttpClient`]).
    pub fn http_client(mut self, client: impl HttpClient + 'static) -> Self {
        self.http_client = Some(client.into_shared());
        self
    }

    /// Sets or clears the HTTP client; see [`http_client`](Self::http_client).
    pub fn set_http_client(&mut self, client: Option<SharedHttpClient>) -> &mut Self {
        self.http_client = client;
        self
    }

    /// How long one refresh may take in all (base credentials and STS, SDK retries
    /// included) before it fails with `CredentialsError::ProviderTimedOut`. Must be more than
    /// zero.
    ///
    /// Default: [`DEFAULT_LOAD_TIMEOUT`] (5 seconds).
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.load_timeout = Some(timeout);
        self
    }

    /// Sets or clears the load timeout; see [`load_timeout`](Self::load_timeout).
    pub fn set_load_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.load_timeout = timeout;
        self
    }

    /// Refresh the session at its refresh point from a background task, whether or not
    /// anyone asks for credentials, and retry with the backoff while refreshes fail.
    ///
    /// This is what makes the advisory window work behind an SDK client. Every client puts
    /// its own identity cache in front of this provider and asks it again only 5 to 10
    /// seconds before the session expires. With the background refresh, the provider has a
    /// new session by then and answers at once; an STS outage that starts in the advisory
    /// window is retried from its start, while the old session keeps signing requests.
    ///
    /// Switched off, the provider refreshes only when asked, and behind an SDK client that
    /// means: the one request that reaches the provider in the last seconds waits for STS;
    /// an outage gets those seconds of retries instead of the advisory window; refreshes are
    /// no longer spread over the window by the jitter. Callers that call the provider
    /// directly keep the advisory window either way.
    ///
    /// Needs a Tokio runtime: the task starts at `build()` if one is current, else at the
    /// first call made on one, and again at the next call if its runtime shuts down. It ends
    /// when the last clone of the provider is dropped. Without a runtime the provider
    /// refreshes when asked.
    ///
    /// Default: `true`.
    pub fn background_refresh(mut self, enabled: bool) -> Self {
        self.background_refresh = Some(enabled);
        self
    }

    /// Sets or clears the background refresh switch; see
    /// [`background_refresh`](Self::background_refresh).
    pub fn set_background_refresh(&mut self, enabled: Option<bool>) -> &mut Self {
        self.background_refresh = enabled;
        self
    }

    /// Fetch the first session right away from the background task, instead of at the
    /// first call: no caller waits, not even the first. Needs
    /// [`background_refresh`](Self::background_refresh).
    ///
    /// Default: `false` (the first call fetches the first session and waits for it).
    pub fn prefetch(mut self, enabled: bool) -> Self {
        self.prefetch = Some(enabled);
        self
    }

    /// Sets or clears the prefetch switch; see [`prefetch`](Self::prefetch).
    pub fn set_prefetch(&mut self, enabled: Option<bool>) -> &mut Self {
        self.prefetch = enabled;
        self
    }

    /// Tells `listener` how every refresh ended — a new session (its expiry, its refresh
    /// point, how long the refresh took) or a failure (the error, failures in a row, the
    /// next attempt, until when the still-valid session is served) — for metrics and
    /// alerts. Called from the refresh itself, so it should be quick; a panic in it is
    /// caught and logged. Nothing passed to it holds a secret.
    ///
    /// ```
    /// use chainable_credentials::{ChainableTemporaryCredentials, RefreshOutcome};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    ///
    /// let failures = Arc::new(AtomicU64::new(0));
    /// let counter = failures.clone();
    /// let builder = ChainableTemporaryCredentials::builder().on_refresh(move |outcome| {
    ///     if let RefreshOutcome::Failed { error, .. } = outcome {
    ///         counter.fetch_add(1, Ordering::Relaxed);
    ///         eprintln!("credentials refresh failed: {error}");
    ///     }
    /// });
    /// # let _ = builder;
    /// ```
    ///
    /// Default: none; [`ChainableTemporaryCredentials::status`] is always available.
    pub fn on_refresh(
        mut self,
        listener: impl Fn(&RefreshOutcome<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.on_refresh = Some(RefreshListener::new(listener));
        self
    }

    /// Sets or clears the refresh listener; see [`on_refresh`](Self::on_refresh).
    pub fn set_on_refresh(&mut self, listener: Option<SharedRefreshListener>) -> &mut Self {
        self.on_refresh = listener.map(RefreshListener::from_arc);
        self
    }

    /// Shares sessions with other processes (and later runs) of the same user through this
    /// directory: a session is fetched once and reused from disk while more than its advisory
    /// window is left; processes that miss together make one STS call between them. See
    /// [`file_cache`](crate::file_cache) for the key, the permissions and the locking;
    /// [`file_cache::default_dir`](crate::file_cache::default_dir) gives the conventional
    /// directory. Created (0700) on the first refresh; problems with it only disable the
    /// caching, with a warning.
    ///
    /// Default: no file cache (sessions live in memory only). Needs the `file-cache` feature.
    ///
    /// ```
    /// use aws_types::region::Region;
    /// use chainable_credentials::{ChainableTemporaryCredentials, file_cache};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut builder = ChainableTemporaryCredentials::builder()
    ///     .role_arn("arn:aws:iam::123456789012:role/nightly-report")
    ///     .role_session_name("nightly-report")
    ///     .region(Region::new("eu-west-1"));
    /// // ~/.cache/chainable-credentials, as the command-line tool uses; `None` (no file cache)
    /// // when neither XDG_CACHE_HOME nor HOME is set.
    /// builder.set_file_cache(file_cache::default_dir());
    /// let provider = builder.build()?; // no file is touched before the first refresh
    /// # let _ = provider;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "file-cache")]
    pub fn file_cache(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.file_cache = Some(dir.into());
        self
    }

    /// Sets or clears the file cache directory; see [`file_cache`](Self::file_cache).
    #[cfg(feature = "file-cache")]
    pub fn set_file_cache(&mut self, dir: Option<std::path::PathBuf>) -> &mut Self {
        self.file_cache = dir;
        self
    }

    fn file_cache_dir(&self) -> Option<&std::path::Path> {
        #[cfg(feature = "file-cache")]
        return self.file_cache.as_deref();
        #[cfg(not(feature = "file-cache"))]
        None
    }

    #[cfg(test)]
    pub(crate) fn env(mut self, env: Env) -> Self {
        self.env = Some(env);
        self
    }

    /// Validates every parameter and builds the provider. Synchronous: no network, no file
    /// access; the first STS call happens on the first `provide_credentials` (or at once in
    /// the background with [`prefetch`](Self::prefetch)).
    ///
    /// # Errors
    /// A [`BuildError`] naming the field and the rule it broke, for any parameter STS would
    /// refuse, and when no region, base credentials or HTTP client can be found.
    pub fn build(self) -> Result<ChainableTemporaryCredentials, BuildError> {
        #[cfg(feature = "profile")]
        if self.profile.is_some() {
            return Err(BuildError::Conflict {
                field: "profile",
                requires: "`build()` reads no files: build a provider from a profile with \
                           `build_from_profile().await`",
            });
        }
        let assume_role = self.role_arn.is_some();
        if let Some(arn) = &self.role_arn {
            validation::role_arn(arn)?;
        }
        if let Some(name) = &self.role_session_name {
            if !assume_role {
                return Err(BuildError::Conflict {
                    field: "role_session_name",
                    requires: "no `role_arn` is set (GetSessionToken takes no session name)",
                });
            }
            validation::role_session_name(name)?;
        }
        if let Some(id) = &self.external_id {
            if !assume_role {
                return Err(BuildError::Conflict {
                    field: "external_id",
                    requires: "no `role_arn` is set (GetSessionToken takes no external id)",
                });
            }
            validation::external_id(id)?;
        }
        let needs_role = |field: &'static str, set: bool| {
            if set && !assume_role {
                Err(BuildError::Conflict {
                    field,
                    requires: "no `role_arn` is set (only AssumeRole takes it)",
                })
            } else {
                Ok(())
            }
        };
        needs_role("policy", self.policy.is_some())?;
        needs_role("policy_arns", !self.policy_arns.is_empty())?;
        needs_role("tags", !self.tags.is_empty())?;
        needs_role("transitive_tag_keys", !self.transitive_tag_keys.is_empty())?;
        needs_role("source_identity", self.source_identity.is_some())?;
        let policy = self.policy.as_deref().map(validation::policy).transpose()?;
        validation::policy_arns(&self.policy_arns)?;
        validation::tags(&self.tags)?;
        validation::transitive_tag_keys(&self.transitive_tag_keys, &self.tags)?;
        if let Some(id) = &self.source_identity {
            validation::source_identity(id)?;
        }
        if let Some(mfa) = &self.mfa {
            validation::mfa_serial(&mfa.serial_number)?;
        }
        let tags = self
            .tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_sts::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| BuildError::invalid("tags", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(duration) = self.duration {
            validation::duration(duration, assume_role)?;
        }
        let load_timeout = self.load_timeout.unwrap_or(DEFAULT_LOAD_TIMEOUT);
        validation::load_timeout(load_timeout)?;
        let mfa_in_chain = self.mfa.is_some() || self.base_needs_mfa;
        let background_refresh = self.background_refresh.unwrap_or(!mfa_in_chain);
        let prefetch = self.prefetch.unwrap_or(false);
        if prefetch && !background_refresh {
            return Err(BuildError::Conflict {
                field: "prefetch",
                requires: "`background_refresh` is off (the background task does the prefetch; \
                           it is off by default when an MFA code is needed)",
            });
        }
        if self
            .file_cache_dir()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            return Err(BuildError::invalid(
                "file_cache",
                "must not be an empty path",
            ));
        }

        let sdk = self.sdk_config.as_ref();
        let env = self.env.clone().unwrap_or_else(Env::real);
        let region = self
            .region
            .clone()
            .or_else(|| sdk.and_then(|c| c.region().cloned()))
            .or_else(|| {
                ["AWS_REGION", "AWS_DEFAULT_REGION"]
                    .into_iter()
                    .filter_map(|var| env.get(var).ok())
                    .find(|r| !r.trim().is_empty())
                    .map(Region::new)
            })
            .ok_or(BuildError::MissingRegion)?;
        validation::region(&region)?;
        let endpoint_url = self
            .endpoint_url
            .clone()
            .or_else(|| sdk.and_then(sts_endpoint_of));
        let allow_insecure_endpoint = self.allow_insecure_endpoint.unwrap_or(false);
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
                BuildError::invalid("sleep_impl", "must be set when Tokio is not available")
            })?;
        let base = match self
            .base_credentials
            .clone()
            .or_else(|| sdk.and_then(SdkConfig::credentials_provider))
        {
            Some(base) => base,
            None => default_base_credentials(
                region.clone(),
                http_client.clone(),
                time_source.clone(),
                sleep.clone(),
            )?,
        };

        let request = SessionRequest {
            role: self.role_arn.as_ref().map(|role_arn| AssumeRoleParams {
                role_arn: role_arn.clone(),
                session_name: self.role_session_name.clone().unwrap_or_else(|| {
                    let millis = time_source
                        .now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis();
                    format!("{DEFAULT_SESSION_NAME_PREFIX}-{millis}")
                }),
                external_id: self.external_id.clone(),
                policy,
                policy_arns: self.policy_arns.clone(),
                tags,
                transitive_tag_keys: self.transitive_tag_keys.clone(),
                source_identity: self.source_identity.clone(),
            }),
            duration: self.duration,
            mfa: self.mfa.clone(),
        };

        let mut sts_sdk_config = self
            .sdk_config
            .clone()
            .map(SdkConfig::into_builder)
            .unwrap_or_default();
        sts_sdk_config
            .set_region(Some(region.clone()))
            .set_endpoint_url(endpoint_url.clone())
            .set_http_client(http_client)
            .set_time_source(Some(time_source.clone()))
            .set_sleep_impl(Some(sleep.clone()))
            // Every STS call is signed with the base credentials resolved just before it.
            .set_identity_cache(Some(IdentityCache::no_cache()))
            .set_credentials_provider(Some(base.clone()));
        if self
            .sdk_config
            .as_ref()
            .and_then(SdkConfig::behavior_version)
            .is_none()
        {
            sts_sdk_config.set_behavior_version(Some(BehaviorVersion::latest()));
        }
        let sts_sdk_config = sts_sdk_config.build();
        #[cfg(feature = "file-cache")]
        let file_cache = self.file_cache.clone().map(|dir| {
            let params = crate::file_cache::SessionParams::new(
                &request,
                self.role_session_name.as_deref(),
                &region,
                endpoint_url.as_deref(),
            );
            crate::file_cache::FileCache::new(
                dir,
                params,
                request.longest_lifetime(request.duration),
                time_source.clone(),
                sleep.clone(),
                load_timeout / 2,
            )
        });
        let mut sts_config = aws_sdk_sts::config::Builder::from(&sts_sdk_config);
        sts_config.set_endpoint_url(endpoint_url);
        let fetcher = SessionFetcher {
            base,
            sts: Sts::new(sts_config.build(), request.clone(), time_source.clone()),
            request: request.clone(),
            #[cfg(feature = "file-cache")]
            file_cache,
        };
        let engine = RefreshEngine::new(
            Arc::new(fetcher),
            time_source,
            sleep,
            EngineConfig {
                load_timeout,
                backoff: Backoff::default(),
                jitter: true,
                background_refresh,
                prefetch,
                on_refresh: self.on_refresh.clone(),
            },
        );
        Ok(ChainableTemporaryCredentials::new(
            engine,
            request,
            sts_sdk_config,
            mfa_in_chain,
            allow_insecure_endpoint,
        ))
    }
}

/// The STS endpoint a client built from `sdk` calls: one set in code, else `AWS_ENDPOINT_URL_STS`
/// or an `sts` entry in the profile's `services` section, else the general endpoint URL (the
/// order of the SDK's own clients).
fn sts_endpoint_of(sdk: &SdkConfig) -> Option<String> {
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

#[cfg(feature = "default-chain")]
fn default_base_credentials(
    region: Region,
    http_client: Option<SharedHttpClient>,
    time_source: SharedTimeSource,
    sleep: SharedAsyncSleep,
) -> Result<SharedCredentialsProvider, BuildError> {
    Ok(SharedCredentialsProvider::new(
        crate::base_credentials::LazyDefaultChain::new(region, http_client, time_source, sleep),
    ))
}

#[cfg(not(feature = "default-chain"))]
fn default_base_credentials(
    _region: Region,
    _http_client: Option<SharedHttpClient>,
    _time_source: SharedTimeSource,
    _sleep: SharedAsyncSleep,
) -> Result<SharedCredentialsProvider, BuildError> {
    Err(BuildError::MissingBaseCredentials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

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
        assert_eq!(err.field(), Some("region"));
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
}

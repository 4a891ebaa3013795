//! [`ChainableTemporaryCredentials`]: the provider users hand to SDK clients.

use crate::refresh::RefreshEngine;
use crate::request::SessionRequest;
use crate::status::ProviderStatus;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, future};
use aws_types::SdkConfig;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// Temporary credentials from STS `AssumeRole` (or `GetSessionToken`), cached and refreshed
/// before they expire — in the background, with one STS call however many callers.
///
/// Built with [`ChainableTemporaryCredentials::builder`] (see [`Builder`](crate::Builder)).
/// Hand it to any aws-sdk-rust client as its credentials provider. Clones share one cache,
/// so any number of clients built with clones of one provider make one STS call per session
/// lifetime. It keeps serving a still-valid session while STS is failing and never hands out
/// one at or past its expiry.
///
/// ```no_run
/// use chainable_credentials::ChainableTemporaryCredentials;
/// use aws_credential_types::Credentials;
/// use aws_types::region::Region;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let provider = ChainableTemporaryCredentials::builder()
///     .base_credentials(Credentials::new("AKIDEXAMPLE", "secret", None, None, "static"))
///     .role_arn("arn:aws:iam::123456789012:role/reader")
///     .region(Region::new("eu-west-1"))
///     .build()?;
/// let s3 = aws_sdk_s3::Client::from_conf(
///     aws_sdk_s3::Config::builder()
///         .behavior_version_latest()
///         .region(Region::new("eu-west-1"))
///         .credentials_provider(provider.clone())
///         .build(),
/// );
/// let buckets = s3.list_buckets().send().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ChainableTemporaryCredentials {
    pub(crate) engine: RefreshEngine,
    hop: Arc<HopSettings>,
}

/// What this hop asks STS for and how it calls STS: what `Debug` shows and what `chain` hands
/// on to the next hop.
struct HopSettings {
    request: SessionRequest,
    /// The settings STS is called with (region, endpoint, HTTP client, sleep, time source,
    /// retry and timeout configuration): what [`ChainableTemporaryCredentials::chain`] hands on.
    sts_config: SdkConfig,
    /// This hop, or one below it, asks for MFA codes: the hops chained on it then refresh only
    /// when asked, by default.
    mfa_in_chain: bool,
    /// Its endpoint may be plain `http://` off loopback: the hops chained on it, which call the
    /// same endpoint, may too.
    insecure_endpoint_allowed: bool,
}

impl ChainableTemporaryCredentials {
    pub(crate) fn new(
        engine: RefreshEngine,
        request: SessionRequest,
        sts_config: SdkConfig,
        mfa_in_chain: bool,
        insecure_endpoint_allowed: bool,
    ) -> Self {
        ChainableTemporaryCredentials {
            engine,
            hop: Arc::new(HopSettings {
                request,
                sts_config,
                mfa_in_chain,
                insecure_endpoint_allowed,
            }),
        }
    }

    /// Whether this hop, or one below it, asks for MFA codes.
    #[cfg(feature = "profile")]
    pub(crate) fn mfa_in_chain(&self) -> bool {
        self.hop.mfa_in_chain
    }

    /// The expiry of the cached session in the local clock's frame (STS's `Expiration` moved
    /// by the skew its `Date` header showed, less a second for that header's resolution);
    /// `None` before the first load and after [`invalidate`](Self::invalidate).
    pub fn expiry(&self) -> Option<SystemTime> {
        self.engine.expiry()
    }

    /// Forgets the cached session (and any backoff after failures): the next call fetches a
    /// new session and waits for it. Use it when a request was refused in a way that says the
    /// session was revoked.
    ///
    /// This empties the provider's cache, not an SDK client's: a client keeps signing with the
    /// session its own identity cache holds until 5 to 10 seconds before that session's
    /// expiry. A client that must see the invalidation at once is built with
    /// `.identity_cache(IdentityCache::no_cache())` (see the [guide](crate::guide)).
    pub fn invalidate(&self) {
        self.engine.invalidate();
    }

    /// A snapshot of the cache and the refreshes — session expiry, next refresh point,
    /// refreshes started and failed, failures in a row, the last error's text, whether a
    /// still-valid session is served after a failed refresh — for a health endpoint or
    /// metrics. Cheap (one short lock) and without secrets. To be told of every refresh as it
    /// ends, use [`Builder::on_refresh`](crate::Builder::on_refresh).
    pub fn status(&self) -> ProviderStatus {
        self.engine.status()
    }

    /// The assumed role's ARN, or `None` in `GetSessionToken` mode.
    pub fn role_arn(&self) -> Option<&str> {
        self.hop.request.role_arn.as_deref()
    }

    /// The role session name (set or generated at build), or `None` in `GetSessionToken`
    /// mode.
    pub fn role_session_name(&self) -> Option<&str> {
        self.hop.request.role_session_name.as_deref()
    }

    /// What the next hop of a chain takes from this one: the STS settings it was built with,
    /// whether MFA is asked in the chain so far, and whether its endpoint may be plain
    /// `http://` off loopback.
    pub(crate) fn next_hop_settings(&self) -> (&SdkConfig, bool, bool) {
        (
            &self.hop.sts_config,
            self.hop.mfa_in_chain,
            self.hop.insecure_endpoint_allowed,
        )
    }

    /// Credentials for one request: the cached session when it is fresh enough, else the
    /// result of the (single) refresh. The same as
    /// [`provide_credentials`](ProvideCredentials::provide_credentials), as an inherent method.
    pub async fn credentials(&self) -> provider::Result {
        self.provide_credentials().await
    }
}

impl fmt::Debug for ChainableTemporaryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = &self.hop.request;
        f.debug_struct("ChainableTemporaryCredentials")
            .field("operation", &request.operation().name())
            .field("role_arn", &self.role_arn())
            .field("role_session_name", &self.role_session_name())
            .field("duration", &request.duration)
            .field("mfa", &request.mfa_serial())
            .field("region", &self.hop.sts_config.region())
            .field("endpoint_url", &self.hop.sts_config.endpoint_url())
            .field("expiry", &self.expiry())
            .field("refreshes", &self.status().refreshes_started)
            .finish()
    }
}

impl ProvideCredentials for ChainableTemporaryCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.engine.provide()
    }

    /// The cached session while it is still valid: the SDK calls this when loading timed out
    /// or was cancelled, so a slow STS does not fail requests that a valid session can sign.
    fn fallback_on_interrupt(&self) -> Option<Credentials> {
        self.engine.fallback()
    }
}

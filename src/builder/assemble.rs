//! Wiring a provider from its validated parts: the STS client's configuration, the file cache,
//! the fetch pipeline and the refresh engine.

use super::runtime::Runtime;
use super::{DEFAULT_SESSION_NAME_PREFIX, Refreshing};
use crate::fetch::SessionFetcher;
use crate::mfa::MfaDevice;
use crate::provider::ChainableTemporaryCredentials;
use crate::refresh::{Backoff, EngineConfig, RefreshEngine};
use crate::request::SessionRequest;
use crate::sts::Sts;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// Everything a provider is made of, checked.
pub(super) struct Parts {
    /// Validated; the session name is still the one given, if any.
    pub(super) request: SessionRequest,
    pub(super) mfa: Option<MfaDevice>,
    pub(super) web_identity: Option<crate::web_identity::TokenSource>,
    pub(super) saml: Option<crate::web_identity::SamlSource>,
    /// This hop or one below it asks for MFA codes.
    pub(super) mfa_in_chain: bool,
    pub(super) refreshing: Refreshing,
    pub(super) runtime: Runtime,
}

/// Gives a role request without a session name the default one (STS requires one for
/// `AssumeRole` and web identity), fixed for the provider's life so that every refresh uses
/// the same name.
pub(super) fn name_the_session(request: &mut SessionRequest, runtime: &Runtime) {
    if request.role_arn.is_some() && request.role_session_name.is_none() {
        let millis = runtime
            .time_source
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        request.role_session_name = Some(format!("{DEFAULT_SESSION_NAME_PREFIX}-{millis}").into());
    }
}

/// The STS client's configuration: the runtime's settings and endpoint.
pub(super) fn sts_config(runtime: &Runtime) -> aws_sdk_sts::Config {
    let mut sts_config = aws_sdk_sts::config::Builder::from(&runtime.sts_sdk_config);
    sts_config.set_endpoint_url(runtime.endpoint_url.clone());
    sts_config.build()
}

/// The provider made of `parts`.
pub(super) fn provider(parts: Parts) -> ChainableTemporaryCredentials {
    let Parts {
        mut request,
        mfa,
        web_identity,
        saml,
        mfa_in_chain,
        refreshing,
        runtime,
    } = parts;
    // The store's key is taken from the request as given: a generated session name, which
    // differs per process, must not split the cache. A SAML assertion is single-use (its id
    // and minutes of validity): memory only.
    #[cfg(feature = "session-store")]
    let store = refreshing
        .session_store
        .clone()
        .filter(|_| request.saml_provider_arn().is_none())
        .map(|store| {
            crate::session_store::ProviderStore::new(
                Arc::new(crate::session_store::SharedSessions::new(
                    store,
                    runtime.time_source.clone(),
                    runtime.sleep.clone(),
                    refreshing.load_timeout / 2,
                )),
                crate::session_store::KeyBasis::new(
                    &request,
                    &runtime.region,
                    runtime.endpoint_url.as_deref(),
                ),
                request.longest_lifetime(request.duration),
            )
        });
    name_the_session(&mut request, &runtime);
    let fetcher = SessionFetcher {
        base: runtime.base.clone(),
        sts: Sts::new(
            sts_config(&runtime),
            request.clone(),
            (mfa, web_identity, saml),
            runtime.time_source.clone(),
        ),
        request: request.clone(),
        #[cfg(feature = "session-store")]
        store,
    };
    let engine = RefreshEngine::new(Arc::new(fetcher), engine_config(&refreshing, &runtime));
    #[cfg(feature = "telemetry")]
    engine.observe_in_metrics();
    ChainableTemporaryCredentials::new(
        engine,
        request,
        runtime.sts_sdk_config,
        mfa_in_chain,
        runtime.allow_insecure_endpoint,
    )
}

/// A provider of a profile's own credentials (no `role_arn`): the refresh engine over a read of
/// the profile, no STS call and no file cache (the credentials are the profile's, and its own
/// source caches them where it does: the SSO token cache, a `credential_process` of its own).
#[cfg(feature = "profile")]
pub(super) fn own_credentials(
    profile: String,
    refreshing: Refreshing,
    runtime: Runtime,
) -> ChainableTemporaryCredentials {
    let fetcher = crate::profile::OwnCredentials {
        profile,
        source: runtime.base.clone(),
        time: runtime.time_source.clone(),
    };
    let engine = RefreshEngine::new(Arc::new(fetcher), engine_config(&refreshing, &runtime));
    #[cfg(feature = "telemetry")]
    engine.observe_in_metrics();
    ChainableTemporaryCredentials::new(
        engine,
        SessionRequest::default(),
        runtime.sts_sdk_config,
        false,
        runtime.allow_insecure_endpoint,
    )
}

/// The refresh engine's settings for one provider.
fn engine_config(refreshing: &Refreshing, runtime: &Runtime) -> Arc<EngineConfig> {
    Arc::new(EngineConfig {
        time: runtime.time_source.clone(),
        sleep: runtime.sleep.clone(),
        load_timeout: refreshing.load_timeout,
        backoff: Backoff::default(),
        jitter: true,
        background_refresh: refreshing.background_refresh,
        prefetch: refreshing.prefetch,
        spawn_refreshes: true,
        on_refresh: refreshing.on_refresh.clone(),
        #[cfg(feature = "telemetry")]
        metrics: refreshing.metrics.instruments(None),
    })
}

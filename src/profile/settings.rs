//! The selected profile's settings for STS — `region`, `endpoint_url` (global and in a
//! `services` section), `ignore_configured_endpoint_urls`, `use_fips_endpoint`,
//! `use_dualstack_endpoint`, `sts_regional_endpoints` — with the environment's variables first,
//! read as aws-config reads them (aws-runtime's `EnvConfigValue`) but from the injected `Env`.

use crate::profile::LoadedProfiles;
use aws_config::BehaviorVersion;
use aws_runtime::env_config::EnvConfigValue;
use aws_types::SdkConfig;
use aws_types::os_shim_internal::Env;
use aws_types::region::Region;
use std::convert::Infallible;

/// Regions whose STS calls went to the global endpoint under `sts_regional_endpoints = legacy`
/// (botocore's list).
const LEGACY_GLOBAL_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "aws-global",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// STS's global endpoint.
pub(crate) const GLOBAL_STS_ENDPOINT: &str = "https://sts.amazonaws.com";

/// Where the region of a profile's providers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegionSource {
    /// Set on the builder, or in `AWS_REGION` / `AWS_DEFAULT_REGION`, or the runtime's.
    Elsewhere,
    /// The selected profile's `region`: a bad value is that profile's error.
    Profile,
}

/// The selected profile's STS settings, on `runtime`'s HTTP client, sleep, clock, retry and
/// timeout settings. `region` (an explicit one) wins over the environment and the profile, the
/// runtime's own region comes last; no region is looked up from instance metadata.
pub(crate) fn load(
    profiles: &LoadedProfiles,
    env: &Env,
    runtime: Option<&SdkConfig>,
    region: Option<Region>,
) -> (SdkConfig, RegionSource) {
    let value = |env_var: &'static str, key: &'static str| {
        read(
            EnvConfigValue::new().env(env_var).profile(key),
            env,
            profiles,
        )
    };
    let from_environment = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .filter_map(|var| env.get(var).ok())
        .find(|r| !r.trim().is_empty())
        .map(Region::new);
    let from_profile = profiles
        .selected_value("region")
        .map(|r| Region::new(r.to_owned()));
    let (region, source) = match (region.or(from_environment), from_profile) {
        (Some(region), _) => (Some(region), RegionSource::Elsewhere),
        (None, Some(region)) => (Some(region), RegionSource::Profile),
        (None, None) => (
            runtime.and_then(|r| r.region().cloned()),
            RegionSource::Elsewhere,
        ),
    };
    let ignore_endpoints = value(
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "ignore_configured_endpoint_urls",
    )
    .is_some_and(|v| is_true(&v));
    let endpoint_url = (!ignore_endpoints)
        .then(|| {
            read(
                EnvConfigValue::new()
                    .env("AWS_ENDPOINT_URL")
                    .profile("endpoint_url")
                    .service_id("STS"),
                env,
                profiles,
            )
        })
        .flatten();
    let mut config = SdkConfig::builder()
        .behavior_version(
            runtime
                .and_then(SdkConfig::behavior_version)
                .unwrap_or(BehaviorVersion::latest()),
        )
        .use_fips(value("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint").is_some_and(|v| is_true(&v)))
        .use_dual_stack(
            value("AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint")
                .is_some_and(|v| is_true(&v)),
        );
    config.set_region(region).set_endpoint_url(endpoint_url);
    if let Some(runtime) = runtime {
        config
            .set_http_client(runtime.http_client())
            .set_sleep_impl(runtime.sleep_impl())
            .set_time_source(runtime.time_source())
            .set_retry_config(runtime.retry_config().cloned())
            .set_timeout_config(runtime.timeout_config().cloned());
    }
    (config.build(), source)
}

/// Whether STS must be called at its global endpoint: `sts_regional_endpoints = legacy` (in
/// `AWS_STS_REGIONAL_ENDPOINTS` or the profile) in a region that used it then.
pub(crate) fn wants_global_endpoint(
    profiles: &LoadedProfiles,
    env: &Env,
    region: Option<&Region>,
) -> bool {
    let setting = read(
        EnvConfigValue::new()
            .env("AWS_STS_REGIONAL_ENDPOINTS")
            .profile("sts_regional_endpoints"),
        env,
        profiles,
    );
    setting.is_some_and(|s| s.trim().eq_ignore_ascii_case("legacy"))
        && region.is_some_and(|r| LEGACY_GLOBAL_REGIONS.contains(&r.as_ref()))
}

/// A value from the environment, else the selected profile (blank is unset).
fn read(value: EnvConfigValue<'_>, env: &Env, profiles: &LoadedProfiles) -> Option<String> {
    value
        .validate(env, Some(profiles.merged()), |v| {
            Ok::<_, Infallible>(v.trim().to_owned())
        })
        .ok()
        .flatten()
        .filter(|v| !v.is_empty())
}

fn is_true(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

//! The selected profile's settings for STS — `region`, `endpoint_url` (global and in a
//! `services` section), `use_fips_endpoint`, `use_dualstack_endpoint`, `sts_regional_endpoints`
//! — with the environment's variables first, as aws-config's loader reads them.

use crate::profile::{LoadedProfiles, ProfilePaths};
use aws_config::BehaviorVersion;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_types::SdkConfig;
use aws_types::os_shim_internal::Env;
use aws_types::region::Region;

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

/// The settings of the selected profile on `runtime`'s HTTP client, sleep, clock, retry and
/// timeout settings. `region` (an explicit one) wins over the environment and the profile; no
/// region is looked up from instance metadata.
pub(crate) async fn load(
    profiles: &LoadedProfiles,
    paths: &ProfilePaths,
    runtime: Option<&SdkConfig>,
    region: Option<Region>,
) -> SdkConfig {
    let region = RegionProviderChain::first_try(region)
        .or_else(EnvironmentVariableRegionProvider::new())
        .or_else(
            ProfileFileRegionProvider::builder()
                .profile_files(paths.profile_files())
                .profile_name(profiles.selected())
                .build(),
        )
        .region()
        .await
        .or_else(|| runtime.and_then(|r| r.region().cloned()));
    let mut loader = aws_config::defaults(
        runtime
            .and_then(SdkConfig::behavior_version)
            .unwrap_or(BehaviorVersion::latest()),
    )
    .profile_name(profiles.selected())
    .profile_files(paths.profile_files())
    .no_credentials()
    .region(region);
    if let Some(runtime) = runtime {
        if let Some(client) = runtime.http_client() {
            loader = loader.http_client(client);
        }
        if let Some(sleep) = runtime.sleep_impl() {
            loader = loader.sleep_impl(sleep);
        }
        if let Some(time) = runtime.time_source() {
            loader = loader.time_source(time);
        }
        if let Some(retry) = runtime.retry_config() {
            loader = loader.retry_config(retry.clone());
        }
        if let Some(timeouts) = runtime.timeout_config() {
            loader = loader.timeout_config(timeouts.clone());
        }
    }
    loader.load().await
}

/// Whether STS must be called at its global endpoint: `sts_regional_endpoints = legacy` (in
/// `AWS_STS_REGIONAL_ENDPOINTS` or the profile) in a region that used it then.
pub(crate) fn wants_global_endpoint(profiles: &LoadedProfiles, region: Option<&Region>) -> bool {
    let setting = Env::real()
        .get("AWS_STS_REGIONAL_ENDPOINTS")
        .ok()
        .or_else(|| {
            profiles
                .selected_value("sts_regional_endpoints")
                .map(str::to_owned)
        });
    setting.is_some_and(|s| s.trim().eq_ignore_ascii_case("legacy"))
        && region.is_some_and(|r| LEGACY_GLOBAL_REGIONS.contains(&r.as_ref()))
}

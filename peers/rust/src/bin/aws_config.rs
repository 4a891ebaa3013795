//! aws-sdk-rust's own way: aws-config's `AssumeRoleProvider` on the base keys, given to the S3
//! clients through one `SdkConfig`, whose identity cache (shared by the clients made from it)
//! refreshes 10 to 15 seconds before expiry, on the request that finds it expiring.

use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_types::region::Region;
use peers::{Settings, list_buckets};

#[tokio::main]
async fn main() -> Result<(), String> {
    let settings = Settings::from_env()?;
    let region = Region::new(settings.region.clone());
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(region.clone())
        .endpoint_url(&settings.sts_endpoint)
        .credentials_provider(Credentials::new(
            &settings.base_key_id,
            &settings.base_secret,
            None,
            None,
            "peer-base",
        ))
        .load()
        .await;
    let provider = AssumeRoleProvider::builder(&settings.role_arn)
        .session_name(&settings.session_name)
        .configure(&base)
        .build()
        .await;
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .endpoint_url(&settings.s3_endpoint)
        .credentials_provider(provider);
    // The documented switch, for the comparison's row with it on: the identity cache refreshes
    // this many seconds before expiry instead of 10.
    if let Ok(seconds) = aws_types::os_shim_internal::Env::real().get("PEER_BUFFER_TIME") {
        let seconds: u64 = seconds
            .parse()
            .map_err(|_| "PEER_BUFFER_TIME: not seconds")?;
        loader = loader.identity_cache(
            aws_config::identity::IdentityCache::lazy()
                .buffer_time(std::time::Duration::from_secs(seconds))
                .build(),
        );
    }
    let sdk_config = loader.load().await;
    list_buckets(&settings, &sdk_config).await;
    Ok(())
}

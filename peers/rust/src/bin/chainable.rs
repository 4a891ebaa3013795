//! This crate as its README shows it: one `ChainableTemporaryCredentials` on the base keys,
//! given to the S3 clients through one `SdkConfig` (the SDK's identity cache in front); it
//! refreshes in the background within the advisory window, and serves the cached session
//! through an outage until it expires.

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_types::region::Region;
use chainable_credentials::ChainableTemporaryCredentials;
use peers::{Settings, list_buckets};

#[tokio::main]
async fn main() -> Result<(), String> {
    let settings = Settings::from_env()?;
    let region = Region::new(settings.region.clone());
    let provider = ChainableTemporaryCredentials::builder()
        .base_credentials(Credentials::new(
            &settings.base_key_id,
            &settings.base_secret,
            None,
            None,
            "peer-base",
        ))
        .role_arn(&settings.role_arn)
        .role_session_name(&settings.session_name)
        .region(region.clone())
        .endpoint_url(&settings.sts_endpoint)
        .build()
        .map_err(|e| e.to_string())?;
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .endpoint_url(&settings.s3_endpoint)
        .credentials_provider(provider)
        .load()
        .await;
    list_buckets(&settings, &sdk_config).await;
    Ok(())
}

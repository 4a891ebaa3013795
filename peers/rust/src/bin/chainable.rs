//! This crate as its README shows it: one `ChainableTemporaryCredentials` on the base keys,
//! given to the S3 clients through one `SdkConfig` (the SDK's identity cache in front); it
//! refreshes in the background within the advisory window, and serves the cached session
//! through an outage until it expires.

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_types::region::Region;
use chainable_credentials::ChainableTemporaryCredentials;
use peers::{Settings, chain, run};

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
    let clients: Vec<aws_sdk_s3::Client> = (0..settings.clients)
        .map(|_| {
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk_config)
                    .force_path_style(true)
                    .build(),
            )
        })
        .collect();
    run(&settings, settings.clients, move |i| {
        let s3 = clients[i].clone();
        async move {
            s3.list_buckets()
                .send()
                .await
                .map(drop)
                .map_err(|e| chain(&e))
        }
    })
    .await;
    Ok(())
}

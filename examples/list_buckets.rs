//! The first experiment with temporary credentials: the base user's own keys are refused by
//! S3, and the same keys wrapped in `ChainableTemporaryCredentials` (assuming a role allowed to
//! use S3) list the buckets.
//!
//! Everything comes from the environment, as with any SDK program: the base user's keys
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` or a profile), `AWS_REGION`, and optionally
//! `AWS_ENDPOINT_URL` (the local test server). The role ARN is the first argument.
//!
//! ```text
//! cargo run --example list_buckets -- arn:aws:iam::123456789012:role/s3-reader
//! ```
//! `scripts/demo.sh` runs it against a local moto server it sets up.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use chainable_credentials::ChainableTemporaryCredentials;

#[tokio::main]
async fn main() -> Result<(), common::Failure> {
    let role_arn = common::arg(1, "list_buckets ROLE_ARN")?;
    let sdk_config = common::sdk_config().await;

    // The role ARN is checked before anything is sent.
    let provider = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .role_arn(role_arn)
        .build()?;

    // 1. The base user's own long-lived keys.
    let base_provider = sdk_config
        .credentials_provider()
        .ok_or("no base credentials in the environment")?;
    match common::s3(&sdk_config, base_provider)
        .list_buckets()
        .send()
        .await
    {
        Ok(_) => println!("base user: ListBuckets allowed (expected AccessDenied)"),
        Err(err) => println!(
            "base user: ListBuckets refused: {}",
            err.code().unwrap_or("unknown error")
        ),
    }

    // 2. The same keys, as base credentials of an assumed-role session.
    let output = common::s3(&sdk_config, provider.clone())
        .list_buckets()
        .send()
        .await?;
    println!(
        "assumed role ({}): ListBuckets allowed, {} bucket(s):",
        provider.role_session_name().unwrap_or_default(),
        output.buckets().len()
    );
    for bucket in output.buckets() {
        println!("  {}", bucket.name().unwrap_or_default());
    }
    if let Some(expiry) = provider.expiry() {
        println!("session expires at {}", common::rfc3339(expiry));
    }
    Ok(())
}

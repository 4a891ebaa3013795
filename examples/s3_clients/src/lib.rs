//! object_store and OpenDAL on this crate's sessions: the wiring the examples show (and the
//! tests use), for a provider of any kind — a role, a chain, a profile, web identity, or one
//! tenant's scoped session.
//!
//! Each store signs every request with what the provider has cached (refreshed in the
//! background: one STS call per session lifetime however many stores and requests). The
//! region and the endpoint come from the SDK's configuration (`AWS_REGION`,
//! `AWS_ENDPOINT_URL`), as for an SDK client.
#![forbid(unsafe_code)]

use aws_types::SdkConfig;
use std::sync::Arc;

/// An object_store S3 store on `bucket`, signing with `provider`.
pub fn object_store_on(
    sdk_config: &SdkConfig,
    bucket: &str,
    provider: impl object_store::CredentialProvider<Credential = object_store::aws::AwsCredential>
    + 'static,
) -> object_store::Result<object_store::aws::AmazonS3> {
    let mut builder = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_credentials(Arc::new(provider));
    if let Some(region) = sdk_config.region() {
        builder = builder.with_region(region.as_ref());
    }
    if let Some(endpoint) = sdk_config.endpoint_url() {
        // A local server (moto, MinIO) on plain HTTP, addressed by path.
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    builder.build()
}

/// An OpenDAL operator on `bucket`, signing with `provider` (and nothing else: the provider
/// chain holds only it).
pub fn opendal_on(
    sdk_config: &SdkConfig,
    bucket: &str,
    provider: impl reqsign_core::ProvideCredential<Credential = reqsign_aws_v4::Credential>,
) -> opendal::Result<opendal::Operator> {
    let mut builder = opendal::services::S3::default()
        .bucket(bucket)
        .credential_provider_chain(reqsign_core::ProvideCredentialChain::new().push(provider));
    if let Some(region) = sdk_config.region() {
        builder = builder.region(region.as_ref());
    }
    if let Some(endpoint) = sdk_config.endpoint_url() {
        builder = builder.endpoint(endpoint);
    }
    opendal::Operator::new(builder)
}

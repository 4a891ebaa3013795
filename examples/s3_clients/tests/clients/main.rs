//! object_store and OpenDAL through their own S3 clients, signing with this crate's sessions,
//! against the local server with enforcement (see `support::moto`); STS calls counted at the
//! fault proxy.

use test_support as support;

mod lifetime;
mod with_object_store;
mod with_opendal;

use aws_types::SdkConfig;
use aws_types::region::Region;

/// What an SDK program loads from its environment: the region and an endpoint (here the
/// fault proxy in front of the local server, for STS and S3 alike).
pub fn sdk_config(moto: &support::moto::Moto, endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .region(Region::new(moto.region.clone()))
        .endpoint_url(endpoint)
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

/// No spaces: moto re-encodes form values with spaces under enforcement.
pub const TENANT_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::chainable-demo/tenants/{{tenant}}/*"}]}"#;

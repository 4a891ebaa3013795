//! With no base credentials given, the provider uses aws-config's default chain, created on the
//! first refresh: here it finds the base user's keys in the environment.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use chainable_credentials::ChainableTemporaryCredentials;
use support::moto::Moto;

#[tokio::test]
async fn the_default_chain_supplies_the_base_credentials() {
    let moto = Moto::enforcing();
    // SAFETY: this file holds a single test, so this test binary has no other thread reading
    // the environment while it is changed (nextest also runs each test in its own process).
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", &moto.base_access_key_id);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", &moto.base_secret_access_key);
        std::env::set_var("AWS_REGION", &moto.region);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let provider = ChainableTemporaryCredentials::builder()
        .role_arn(&moto.role_arn)
        .endpoint_url(&moto.endpoint)
        .build()
        .expect("region from AWS_REGION, base credentials from the default chain");
    let creds = provider.provide_credentials().await.unwrap();
    assert_ne!(creds.access_key_id(), moto.base_access_key_id);
    assert!(moto.bucket_names(provider).await.contains(&moto.bucket));
}

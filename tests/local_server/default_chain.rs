//! With no base credentials given, the provider uses aws-config's default chain, created on the
//! first refresh: here it finds the base user's keys in the environment.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use chainable_credentials::ChainableTemporaryCredentials;
use support::moto::Moto;

#[tokio::test]
async fn the_default_chain_supplies_the_base_credentials() {
    let moto = Moto::enforcing();
    if !support::environment::here_in_environment(
        "default_chain::the_default_chain_supplies_the_base_credentials",
        &[
            ("AWS_ACCESS_KEY_ID", &moto.base_access_key_id),
            ("AWS_SECRET_ACCESS_KEY", &moto.base_secret_access_key),
            ("AWS_REGION", &moto.region),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ],
    ) {
        return;
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

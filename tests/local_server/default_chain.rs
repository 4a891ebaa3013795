//! With no base credentials given, the provider uses the default chain, created on the first
//! refresh: here it finds the base user's keys in the environment — an injected one, so the
//! shell's own `AWS_*` variables play no part.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_types::os_shim_internal::Env;
use chainable_credentials::ChainableTemporaryCredentials;
use support::moto::Moto;

#[tokio::test]
async fn the_default_chain_supplies_the_base_credentials() {
    let moto = Moto::enforcing();
    let env = Env::from_slice(&[
        ("AWS_ACCESS_KEY_ID", &moto.base_access_key_id),
        ("AWS_SECRET_ACCESS_KEY", &moto.base_secret_access_key),
        ("AWS_REGION", &moto.region),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    let provider = ChainableTemporaryCredentials::builder()
        .env(env)
        .role_arn(&moto.role_arn)
        .endpoint_url(&moto.endpoint)
        .build()
        .expect("region from AWS_REGION, base credentials from the default chain");
    let creds = provider.provide_credentials().await.unwrap();
    assert_ne!(creds.access_key_id(), moto.base_access_key_id);
    assert!(moto.bucket_names(provider).await.contains(&moto.bucket));
}

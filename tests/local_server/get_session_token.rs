//! GetSessionToken mode against the real local STS. moto answers GetSessionToken with one fixed
//! example key that its enforcement then rejects, so this runs against the non-enforcing server.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use chainable_credentials::ChainableTemporaryCredentials;
use std::time::Duration;
use support::moto::Moto;

#[tokio::test]
async fn get_session_token_gives_a_session_for_the_base_user() {
    let moto = Moto::open();
    let provider = ChainableTemporaryCredentials::builder()
        .base_credentials(moto.base_credentials())
        .region(moto.region())
        .endpoint_url(&moto.endpoint)
        .duration(Duration::from_secs(7200))
        .build()
        .unwrap();
    let creds = provider.provide_credentials().await.unwrap();
    assert_ne!(creds.access_key_id(), moto.base_access_key_id);
    assert!(creds.session_token().is_some_and(|t| !t.is_empty()));
    assert!(provider.expiry().is_some());
    // Cached: a second call makes no second STS call.
    provider.provide_credentials().await.unwrap();
    assert_eq!(provider.status().refreshes_started, 1);
    // The temporary session works for S3 on this server.
    assert!(moto.bucket_names(provider).await.contains(&moto.bucket));
}

//! GetFederationToken against the real local STS (the non-enforcing server: its enforcement
//! would need `sts:GetFederationToken` for the base user): a session for a federated user of
//! the base IAM user's keys, cached like any other; temporary base credentials refused before
//! any STS call, with a typed error that says why.

use crate::support;

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use chainable_credentials::{ChainableTemporaryCredentials, FetchError, fetch_error};
use std::time::Duration;
use support::fault_proxy::FaultProxy;
use support::moto::Moto;

#[tokio::test]
async fn a_federated_users_session_from_the_base_users_keys() {
    let moto = Moto::open();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let provider = ChainableTemporaryCredentials::builder()
        .base_credentials(moto.base_credentials())
        .region(moto.region())
        .endpoint_url(&proxy.endpoint)
        .federation_token("partner-upload")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .duration(Duration::from_secs(3600))
        .build()
        .unwrap();
    let credentials = provider.provide_credentials().await.unwrap();
    assert_ne!(credentials.access_key_id(), moto.base_access_key_id);
    assert!(credentials.session_token().is_some_and(|t| !t.is_empty()));
    assert_eq!(
        credentials.account_id().map(|a| a.as_str()),
        Some("123456789012"),
        "the account, from the federated user's ARN"
    );
    provider.provide_credentials().await.unwrap();
    assert_eq!(proxy.sts_requests(), 1, "cached like any session");
    assert!(moto.bucket_names(provider).await.contains(&moto.bucket));
}

/// `GetFederationToken` and `GetSessionToken` take long-term IAM user keys only: with a
/// session (a role's, or one from `credential_process` or SSO) STS refuses them, so nothing is
/// sent.
#[tokio::test]
async fn temporary_base_credentials_are_refused_before_any_sts_call() {
    let moto = Moto::open();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    for (operation, federation) in [("GetFederationToken", true), ("GetSessionToken", false)] {
        let mut builder = ChainableTemporaryCredentials::builder()
            .base_credentials(Credentials::new(
                "ASIATEMPORARY",
                "temporary-secret",
                Some("a-session-token".into()),
                None,
                "test",
            ))
            .region(moto.region())
            .endpoint_url(&proxy.endpoint);
        if federation {
            builder = builder.federation_token("partner-upload");
        }
        let provider = builder.build().unwrap();
        let error = provider.provide_credentials().await.unwrap_err();
        assert!(
            matches!(error, CredentialsError::InvalidConfiguration(_)),
            "{error:?}"
        );
        let cause = fetch_error(&error).expect("typed");
        assert!(
            matches!(cause, FetchError::BaseNotAccepted { operation: op, .. } if *op == operation),
            "{cause:?}"
        );
        assert!(
            cause.to_string().contains("long-term IAM user keys only"),
            "{cause}"
        );
    }
    assert_eq!(proxy.sts_requests(), 0);
}

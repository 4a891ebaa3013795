//! Base credentials failing (reliability scenario 5): a provider error, a base provider that
//! never answers, and a wrong secret each come back as typed errors, without a hang.

use crate::support;

use aws_credential_types::Credentials;
use aws_credential_types::credential_fn::provide_credentials_fn;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use chainable_credentials::{ChainableTemporaryCredentials, FetchError, fetch_error};
use std::time::Duration;
use support::moto::Moto;

fn builder(moto: &Moto) -> chainable_credentials::Builder {
    ChainableTemporaryCredentials::builder()
        .role_arn(&moto.role_arn)
        .region(moto.region())
        .endpoint_url(&moto.endpoint)
}

#[tokio::test]
async fn a_failing_base_provider_is_a_typed_error_of_its_kind() {
    let moto = Moto::enforcing();
    let provider = builder(&moto)
        .base_credentials(provide_credentials_fn(|| async {
            Err(CredentialsError::provider_error("the vault is sealed"))
        }))
        .build()
        .unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(matches!(err, CredentialsError::ProviderError(_)), "{err:?}");
    assert!(
        matches!(fetch_error(&err), Some(FetchError::BaseCredentials(_))),
        "{err:?}"
    );
    let text = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
    assert!(
        text.contains("base credentials") && text.contains("the vault is sealed"),
        "{text}"
    );

    let provider = builder(&moto)
        .base_credentials(provide_credentials_fn(|| async {
            Err(CredentialsError::not_loaded("no keys in the environment"))
        }))
        .build()
        .unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(
        matches!(err, CredentialsError::CredentialsNotLoaded(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_base_provider_that_never_answers_times_out() {
    let moto = Moto::enforcing();
    let provider = builder(&moto)
        .base_credentials(provide_credentials_fn(std::future::pending))
        .load_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), provider.provide_credentials())
        .await
        .expect("no hang past the load timeout")
        .unwrap_err();
    assert!(
        matches!(err, CredentialsError::ProviderTimedOut(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_base_secret_is_signature_does_not_match() {
    let moto = Moto::enforcing();
    let provider = builder(&moto)
        .base_credentials(Credentials::new(
            &moto.base_access_key_id,
            "wrong",
            None,
            None,
            "t",
        ))
        // A local server shared by the tests of one `cargo test` process (threads, not
        // nextest's processes) has been seen to take more than the default 5 s to refuse
        // while busy: what is checked is the error's kind, not the server's speed.
        .load_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    assert_eq!(
        fetch_error(&err).and_then(FetchError::code),
        Some("SignatureDoesNotMatch"),
        "{err:?}"
    );
}

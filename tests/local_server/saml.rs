//! AssumeRoleWithSAML as a hop of this crate against the real local STS (the non-enforcing
//! server: the call is unsigned; moto reads the assertion's attributes but checks no
//! signature): the assertion asked for once per refresh, unsigned, the session working for S3;
//! a malformed assertion a typed error naming the source, never quoting it.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_types::base64;
use chainable_credentials::{ChainableTemporaryCredentials, FetchError, fetch_error};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::fault_proxy::FaultProxy;
use support::moto::Moto;

const PROVIDER: &str = "arn:aws:iam::123456789012:saml-provider/corporate-idp";

/// A SAML response with the attributes AWS reads (moto reads them too).
fn assertion(role_arn: &str, session_name: &str) -> String {
    let xml = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Assertion><saml:AttributeStatement><saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName"><saml:AttributeValue>{session_name}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role"><saml:AttributeValue>{role_arn},{PROVIDER}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"#
    );
    base64::encode(xml)
}

#[tokio::test]
async fn a_saml_hop_asks_for_one_assertion_per_refresh() {
    let moto = Moto::open();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let asked = Arc::new(AtomicUsize::new(0));
    let encoded = assertion(&moto.role_arn, "alice@example.com");
    let provider = ChainableTemporaryCredentials::builder()
        .region(moto.region())
        .endpoint_url(&proxy.endpoint)
        .role_arn(&moto.role_arn)
        .saml_assertion(PROVIDER, {
            let asked = asked.clone();
            move || {
                asked.fetch_add(1, Ordering::SeqCst);
                let encoded = encoded.clone();
                async move { Ok::<_, std::io::Error>(encoded) }
            }
        })
        .build()
        .unwrap();
    for _ in 0..3 {
        assert!(
            moto.bucket_names(provider.clone())
                .await
                .contains(&moto.bucket)
        );
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "once per refresh, not per request"
    );
    let bodies = proxy.sts_bodies();
    assert_eq!(bodies.len(), 1);
    assert!(
        bodies[0].contains("Action=AssumeRoleWithSAML"),
        "{}",
        bodies[0]
    );
    assert!(bodies[0].contains("PrincipalArn="), "{}", bodies[0]);
}

#[tokio::test]
async fn a_malformed_assertion_is_a_typed_error_before_any_sts_call() {
    let moto = Moto::open();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let provider = ChainableTemporaryCredentials::builder()
        .region(moto.region())
        .endpoint_url(&proxy.endpoint)
        .role_arn(&moto.role_arn)
        .saml_assertion(PROVIDER, || async {
            Ok::<_, std::io::Error>("<samlp:Response>not base64</samlp:Response>".to_owned())
        })
        .build()
        .unwrap();
    let error = provider.provide_credentials().await.unwrap_err();
    let cause = fetch_error(&error).expect("typed");
    assert!(
        matches!(cause, FetchError::WebIdentityToken { .. }),
        "{cause:?}"
    );
    assert!(cause.to_string().contains("not base64"), "{cause}");
    assert!(
        !cause.to_string().contains("samlp:Response"),
        "the assertion is not quoted"
    );
    assert_eq!(proxy.sts_requests(), 0);
}

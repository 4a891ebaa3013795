//! Scoped sessions against the real local STS and S3 with enforcement: three tenants, each an
//! S3 client on its own scoped session as the README shows, one STS call per tenant however
//! many requests, and each tenant's credentials carrying that tenant's session policy and no
//! other's — read from the server's own record of the sessions it issued (moto does not
//! evaluate session policies; it records them).

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use chainable_credentials::ChainableTemporaryCredentials;
use chainable_credentials::scoped::{PolicyTemplate, Scope};
use support::fault_proxy::FaultProxy;
use support::moto::Moto;

/// No spaces: moto re-encodes form values with spaces under enforcement.
const TEMPLATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::chainable-demo/tenants/{{tenant}}/*","arn:aws:s3:::chainable-demo"]}]}"#;

#[tokio::test]
async fn each_tenant_signs_with_its_own_session_and_policy_and_costs_one_sts_call() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let sessions = ChainableTemporaryCredentials::builder()
        .base_credentials(moto.base_credentials())
        .role_arn(&moto.role_arn)
        .region(moto.region())
        .endpoint_url(&proxy.endpoint)
        .configure(&support::no_sdk_retries())
        .scoped_sessions()
        .build()
        .unwrap();
    let template = PolicyTemplate::new(TEMPLATE).unwrap();
    let tenants = ["acme", "globex", "initech"];
    let mut keys = Vec::new();
    for name in tenants {
        let scope = Scope::new()
            .label(name)
            .role_session_name(format!("tenant-{name}"))
            .tag("tenant", name)
            .policy(template.fill(&[("tenant", name)]).unwrap());
        let provider = sessions.provider(&scope).unwrap();
        let s3 = moto.s3(provider.clone());
        for _ in 0..3 {
            s3.list_objects_v2()
                .bucket(&moto.bucket)
                .prefix(format!("tenants/{name}/"))
                .send()
                .await
                .unwrap();
        }
        keys.push(
            provider
                .provide_credentials()
                .await
                .unwrap()
                .access_key_id()
                .to_owned(),
        );
    }
    assert_eq!(
        proxy.sts_bodies().len(),
        3,
        "one AssumeRole per tenant for nine requests"
    );
    assert_eq!(sessions.status().sts_calls, 3);

    let issued = moto.assumed_sessions().await;
    for (name, key) in tenants.iter().zip(&keys) {
        let session = issued
            .iter()
            .find(|s| &s.access_key_id == key)
            .unwrap_or_else(|| panic!("the server issued {key}"));
        assert_eq!(session.session_name, format!("tenant-{name}"));
        assert_eq!(session.role_arn, moto.role_arn);
        let policy = session.policy.as_deref().expect("a session policy");
        assert!(policy.contains(&format!("tenants/{name}/*")), "{policy}");
        for other in tenants.iter().filter(|o| *o != name) {
            assert!(
                !policy.contains(&format!("tenants/{other}/")),
                "{name}: {policy}"
            );
        }
    }
}

//! Every AssumeRole parameter against the real local STS (enforcement on): moto accepts the
//! request, the session works, and GetCallerIdentity shows the session.

use crate::support;

use chainable_credentials::ChainableTemporaryCredentials;
use std::time::Duration;
use support::counting::CountingClient;
use support::moto::Moto;

#[tokio::test]
async fn every_parameter_is_accepted_by_sts_and_the_session_works() {
    let moto = Moto::enforcing();
    let http = CountingClient::new();
    // Policies are compact JSON (moto re-encodes spaces in form bodies; the provider packs
    // policies anyway).
    let provider = ChainableTemporaryCredentials::builder()
        .base_credentials(moto.base_credentials())
        .role_arn(&moto.role_arn)
        .role_session_name("all-parameters")
        .duration(Duration::from_secs(7200))
        .external_id("ext-id:1/2")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .tag("Project", "apollo")
        .tag("Team", "ops")
        .transitive_tag_key("Project")
        .source_identity("alice@example.com")
        .mfa("arn:aws:iam::123456789012:mfa/alice", || async {
            Ok::<_, std::io::Error>("123456".to_owned())
        })
        .region(moto.region())
        .endpoint_url(&moto.endpoint)
        .http_client(http.clone())
        .build()
        .unwrap();
    // moto accepted every parameter and the session signs.
    assert_eq!(
        moto.caller_arn(provider.clone()).await,
        "arn:aws:sts::123456789012:assumed-role/s3-reader/all-parameters"
    );
    let sent = http.bodies().remove(0);
    for name in [
        "DurationSeconds=7200",
        "ExternalId=",
        "Policy=",
        "PolicyArns.member.1.arn=",
        "Tags.member.2.Key=Team",
        "TransitiveTagKeys.member.1=Project",
        "SourceIdentity=alice%40example.com",
        "SerialNumber=",
        "TokenCode=123456",
    ] {
        assert!(sent.contains(name), "{name} not in {sent}");
    }
    assert!(moto.bucket_names(provider).await.contains(&moto.bucket));
}

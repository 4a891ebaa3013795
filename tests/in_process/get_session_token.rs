//! Without a role ARN the provider calls GetSessionToken: temporary credentials for the base
//! principal itself.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::ManualTimeSource;
use std::time::Duration;
use support::{FakeSts, fake_builder, t0};

#[tokio::test]
async fn no_role_arn_means_get_session_token_with_the_duration() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let mut builder = fake_builder(&sts, &clock).duration(Duration::from_secs(129_600));
    builder.set_role_arn(None);
    builder.set_role_session_name(None);
    let provider = builder.build().unwrap();
    assert_eq!(provider.role_arn(), None);
    let creds = provider.provide_credentials().await.unwrap();
    assert!(creds.session_token().is_some());
    let body = &sts.bodies()[0];
    assert!(body.contains("Action=GetSessionToken"), "{body}");
    assert!(body.contains("DurationSeconds=129600"), "{body}");
    assert!(!body.contains("RoleArn"), "{body}");
    assert!(format!("{provider:?}").contains("GetSessionToken"));
}

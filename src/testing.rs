//! What the adapters' unit tests share: a provider on a fake STS that gives one answer.

use crate::ChainableTemporaryCredentials;
use aws_credential_types::Credentials;
use aws_smithy_async::test_util::ManualTimeSource;
use aws_smithy_http_client::test_util::infallible_client_fn;
use std::time::{Duration, UNIX_EPOCH};

/// An `AssumeRole` answer: a session of an hour from [`NOW`].
pub(crate) const ASSUMED: &str = "<AssumeRoleResponse><AssumeRoleResult><Credentials>\
    <AccessKeyId>ASIATESTING</AccessKeyId><SecretAccessKey>testing-secret</SecretAccessKey>\
    <SessionToken>testing-token</SessionToken><Expiration>2023-11-14T22:13:20Z</Expiration>\
    </Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>\
    <AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>";

/// A refusal, with status 403.
pub(crate) const ACCESS_DENIED: &str =
    "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>";

/// The injected clock's time: an hour before [`ASSUMED`]'s expiry.
pub(crate) const NOW: u64 = 1_699_996_400;

/// A provider assuming a role through an STS that always answers `answer` with `status`, on a
/// manual clock at [`NOW`], without a background task.
pub(crate) fn provider_answering(
    answer: &'static str,
    status: u16,
) -> ChainableTemporaryCredentials {
    let clock = ManualTimeSource::new(UNIX_EPOCH + Duration::from_secs(NOW));
    let http = infallible_client_fn(move |_| {
        http::Response::builder()
            .status(status)
            .body(aws_smithy_types::body::SdkBody::from(answer))
            .unwrap()
    });
    ChainableTemporaryCredentials::builder()
        .base_credentials(Credentials::for_tests())
        .role_arn("arn:aws:iam::123456789012:role/r")
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(http)
        .time_source(clock)
        .background_refresh(false)
        .build()
        .unwrap()
}

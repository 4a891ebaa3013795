//! Every AssumeRole parameter reaches STS as STS expects it; MFA codes are asked for at each
//! refresh and checked; chained sessions are limited to one hour.

use crate::support;

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::ManualTimeSource;
use chainable_credentials::{FetchError, fetch_error};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{FakeSts, Reply, fake_builder, t0};

/// Decodes one form-encoded request body into (name, value) pairs.
fn form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn every_parameter_is_sent() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock)
        .duration(Duration::from_secs(7200))
        .external_id("ext-id:1/2")
        .policy(r#"{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" } ] }"#)
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .policy_arns(["arn:aws:iam::123456789012:policy/team/extra"])
        .tag("Project", "Apollo 11")
        .tags([("Team", "ops"), ("CostCenter", "42")])
        .transitive_tag_key("Project")
        .source_identity("alice@example.com")
        .mfa("arn:aws:iam::123456789012:mfa/alice", || async {
            Ok::<_, std::io::Error>("123456".to_owned())
        })
        .build()
        .unwrap();
    provider.provide_credentials().await.unwrap();
    let body = form(&sts.bodies()[0]);
    let expect = [
        ("Action", "AssumeRole"),
        ("RoleArn", support::ROLE_ARN),
        ("RoleSessionName", "test-session"),
        ("DurationSeconds", "7200"),
        ("ExternalId", "ext-id:1/2"),
        (
            "Policy",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
        ),
        (
            "PolicyArns.member.1.arn",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ),
        (
            "PolicyArns.member.2.arn",
            "arn:aws:iam::123456789012:policy/team/extra",
        ),
        ("Tags.member.1.Key", "Project"),
        ("Tags.member.1.Value", "Apollo 11"),
        ("Tags.member.2.Key", "Team"),
        ("Tags.member.3.Key", "CostCenter"),
        ("Tags.member.3.Value", "42"),
        ("TransitiveTagKeys.member.1", "Project"),
        ("SourceIdentity", "alice@example.com"),
        ("SerialNumber", "arn:aws:iam::123456789012:mfa/alice"),
        ("TokenCode", "123456"),
    ];
    for (name, want) in expect {
        assert_eq!(value(&body, name), Some(want), "{name} in {body:?}");
    }
}

#[tokio::test]
async fn the_mfa_code_is_asked_for_at_each_refresh_and_never_on_cache_hits() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let provider = fake_builder(&sts, &clock)
        .mfa("GAHT12345678", move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, std::io::Error>(format!("{:06}", 100_000 + n)) }
        })
        .build()
        .unwrap();
    for _ in 0..20 {
        provider.provide_credentials().await.unwrap();
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(2 * 3600));
    provider.provide_credentials().await.unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    let bodies = sts.bodies();
    assert_eq!(value(&form(&bodies[0]), "TokenCode"), Some("100000"));
    assert_eq!(value(&form(&bodies[1]), "TokenCode"), Some("100001"));
    assert_eq!(
        value(&form(&bodies[1]), "SerialNumber"),
        Some("GAHT12345678")
    );
}

#[tokio::test]
async fn mfa_works_with_get_session_token() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let mut builder = fake_builder(&sts, &clock)
        .mfa("arn:aws:iam::123456789012:mfa/bob", || async {
            Ok::<_, std::io::Error>("654321".to_owned())
        });
    builder.set_role_arn(None);
    builder.set_role_session_name(None);
    builder
        .build()
        .unwrap()
        .provide_credentials()
        .await
        .unwrap();
    let body = form(&sts.bodies()[0]);
    assert_eq!(value(&body, "Action"), Some("GetSessionToken"));
    assert_eq!(value(&body, "TokenCode"), Some("654321"));
}

#[tokio::test]
async fn a_bad_or_failing_mfa_code_is_a_typed_error_without_an_sts_call() {
    for (code, problem) in [
        ("12345", "exactly 6 digits"),
        ("12a456", "exactly 6 digits"),
        ("", "exactly 6 digits"),
    ] {
        let clock = ManualTimeSource::new(t0());
        let sts = FakeSts::new(clock.clone());
        let provider = fake_builder(&sts, &clock)
            .mfa("GAHT12345678", move || async move {
                Ok::<_, std::io::Error>(code.to_owned())
            })
            .build()
            .unwrap();
        let err = provider.provide_credentials().await.unwrap_err();
        let cause = fetch_error(&err).unwrap();
        assert!(matches!(cause, FetchError::MfaToken { .. }), "{cause:?}");
        assert!(cause.to_string().contains(problem), "{cause}");
        assert_eq!(sts.calls(), 0);
    }
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock)
        .mfa("GAHT12345678", || async {
            Err::<String, _>(std::io::Error::other("the prompt was closed"))
        })
        .build()
        .unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    let text = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
    assert!(
        text.contains("the token provider failed") && text.contains("the prompt was closed"),
        "{text}"
    );
}

fn temporary_base() -> Credentials {
    Credentials::new(
        "ASIABASE",
        "base-secret",
        Some("base-token".into()),
        None,
        "chained",
    )
}

#[tokio::test]
async fn a_chained_session_is_requested_for_at_most_one_hour() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock)
        .base_credentials(temporary_base())
        .duration(Duration::from_secs(4 * 3600))
        .build()
        .unwrap();
    provider.provide_credentials().await.unwrap();
    assert_eq!(
        value(&form(&sts.bodies()[0]), "DurationSeconds"),
        Some("3600")
    );

    // Long-lived base keys are not clamped.
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock)
        .duration(Duration::from_secs(4 * 3600))
        .build()
        .unwrap();
    provider.provide_credentials().await.unwrap();
    assert_eq!(
        value(&form(&sts.bodies()[0]), "DurationSeconds"),
        Some("14400")
    );
}

/// A provider asking for two-hour sessions from an STS that answers `ValidationError` with
/// `message` (once, or `always`).
fn two_hour_session_refused_with(
    message: &'static str,
    always: bool,
) -> (
    FakeSts,
    chainable_credentials::ChainableTemporaryCredentials,
) {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let refusal = Reply::ErrorMessage {
        status: 400,
        code: "ValidationError",
        message,
    };
    if always {
        sts.always(refusal);
    } else {
        sts.then(refusal);
    }
    let provider = fake_builder(&sts, &clock)
        .duration(Duration::from_secs(2 * 3600))
        .build()
        .unwrap();
    (sts, provider)
}

#[tokio::test]
async fn when_sts_still_refuses_a_chained_duration_the_refresh_retries_once_at_one_hour() {
    let (sts, provider) = two_hour_session_refused_with(
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        false,
    );
    provider.provide_credentials().await.unwrap();
    let bodies = sts.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(value(&form(&bodies[0]), "DurationSeconds"), Some("7200"));
    assert_eq!(value(&form(&bodies[1]), "DurationSeconds"), Some("3600"));

    // Any other ValidationError is not retried: it is a configuration error.
    let (sts, provider) = two_hour_session_refused_with(
        "1 validation error detected: Value at 'roleArn' failed",
        true,
    );
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(matches!(
        err,
        aws_credential_types::provider::error::CredentialsError::InvalidConfiguration(_)
    ));
    assert_eq!(sts.calls(), 1);
}

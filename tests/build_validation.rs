//! Every parameter STS would refuse is a `BuildError` at `build()` naming the field and the
//! rule; none panics.

mod support;

use chainable_credentials::{BuildError, Builder, ChainableTemporaryCredentials};
use std::time::Duration;

fn base() -> Builder {
    ChainableTemporaryCredentials::builder()
        .base_credentials(aws_credential_types::Credentials::new(
            "A", "B", None, None, "t",
        ))
        .region(aws_types::region::Region::new("us-east-1"))
}

fn role() -> Builder {
    base().role_arn(support::ROLE_ARN)
}

fn expect_err(builder: Builder, field: &str, rule_part: &str) {
    let err = builder.build().expect_err("must be refused");
    assert_eq!(err.field(), Some(field), "{err}");
    let text = err.to_string();
    assert!(text.contains(field), "names the field: {text}");
    assert!(
        text.contains(rule_part),
        "states the rule ({rule_part}): {text}"
    );
}

#[test]
fn role_arns() {
    for (arn, rule) in [
        ("", "20 to 2048"),
        (
            "arn:aws:iam::123456789012:user/someone",
            "must start with `role/`",
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/r/s",
            "service must be `iam`",
        ),
        ("arn:aws:iam::12345678901:role/short-account", "12 digits"),
        ("arn:aws:iam:us-east-1:123456789012:role/r", "no region"),
        (
            "arn:aws:iam::123456789012:role/",
            "role name must be 1 to 64",
        ),
        (
            "arn:aws:iam::123456789012:role/bad name",
            "role name must be 1 to 64",
        ),
        ("arn:aws:iam::123456789012:role//double", "path segment"),
        (
            "nope:aws:iam::123456789012:role/r",
            "must start with `arn:`",
        ),
        ("arn:AWS:iam::123456789012:role/r", "partition"),
        ("arn:aws:iam::123456789012", "six ':'-separated parts"),
    ] {
        expect_err(base().role_arn(arn), "role_arn", rule);
    }
    let long = format!("arn:aws:iam::123456789012:role/{}", "a".repeat(10_000));
    expect_err(base().role_arn(long), "role_arn", "2048");
}

#[test]
fn session_names() {
    expect_err(
        role().role_session_name("a"),
        "role_session_name",
        "2 to 64 characters",
    );
    expect_err(
        role().role_session_name("a".repeat(65)),
        "role_session_name",
        "got 65",
    );
    expect_err(
        role().role_session_name("has space"),
        "role_session_name",
        "character 4 is ' '",
    );
    expect_err(
        role().role_session_name("naïve"),
        "role_session_name",
        "character 3 is 'ï'",
    );
    assert!(role().role_session_name("ok_+=,.@-name").build().is_ok());
}

#[test]
fn durations() {
    expect_err(
        role().duration(Duration::from_secs(899)),
        "duration",
        "900 to 43200 for AssumeRole",
    );
    expect_err(
        role().duration(Duration::from_secs(43_201)),
        "duration",
        "43200",
    );
    expect_err(
        base().duration(Duration::from_secs(129_601)),
        "duration",
        "900 to 129600 for GetSessionToken",
    );
    expect_err(
        role().duration(Duration::from_millis(1_000_500)),
        "duration",
        "whole seconds",
    );
    assert!(
        base()
            .duration(Duration::from_secs(129_600))
            .build()
            .is_ok()
    );
    assert!(role().duration(Duration::from_secs(43_200)).build().is_ok());
}

#[test]
fn external_ids_are_checked_and_never_echoed() {
    expect_err(role().external_id("x"), "external_id", "2 to 1224");
    expect_err(
        role().external_id("y".repeat(1225)),
        "external_id",
        "2 to 1224",
    );
    let err = role()
        .external_id("secret id!")
        .build()
        .unwrap_err()
        .to_string();
    assert!(!err.contains("secret id"), "{err}");
    assert!(err.contains("character 7 is a character"), "{err}");
    assert!(role().external_id("a:b/c=d").build().is_ok());
}

#[test]
fn parameters_that_need_a_role() {
    let err = base().role_session_name("s1").build().unwrap_err();
    assert!(
        matches!(
            err,
            BuildError::Conflict {
                field: "role_session_name",
                ..
            }
        ),
        "{err}"
    );
    let err = base().external_id("e1").build().unwrap_err();
    assert!(
        matches!(
            err,
            BuildError::Conflict {
                field: "external_id",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn endpoints_and_timeouts() {
    for (url, rule) in [
        ("", "absolute URL"),
        ("127.0.0.1:5000", "absolute URL"),
        ("ftp://example.com", "absolute URL"),
        ("http://", "must name a host"),
        ("http://host:99999", "port"),
        ("http://exa mple.com", "whitespace"),
    ] {
        expect_err(role().endpoint_url(url), "endpoint_url", rule);
    }
    expect_err(
        role().load_timeout(Duration::ZERO),
        "load_timeout",
        "more than zero",
    );
}

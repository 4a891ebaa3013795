//! A table of malformed builder inputs: each is a `BuildError` naming the field, none panics
//! (reliability scenario 8).

mod support;

use support::{offline_builder as base, offline_role_builder as role};

use chainable_credentials::Builder;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

/// One row: what the input is, the field the error must name, and how to make the builder.
type Case = (&'static str, &'static str, Box<dyn FnOnce() -> Builder>);

#[test]
fn every_malformed_input_is_a_build_error_naming_its_field() {
    let ten_kb = "x".repeat(10 * 1024);
    let token = || async { Ok::<_, std::io::Error>("123456".to_owned()) };
    let cases: Vec<Case> = vec![
        (
            "empty role ARN",
            "role_arn",
            Box::new(|| base().role_arn("")),
        ),
        (
            "user ARN",
            "role_arn",
            Box::new(|| base().role_arn("arn:aws:iam::123456789012:user/u")),
        ),
        (
            "non-ASCII role name",
            "role_arn",
            Box::new(|| base().role_arn("arn:aws:iam::123456789012:role/rôle")),
        ),
        (
            "10 KB role ARN",
            "role_arn",
            Box::new({
                let s = ten_kb.clone();
                move || base().role_arn(s)
            }),
        ),
        (
            "account of letters",
            "role_arn",
            Box::new(|| base().role_arn("arn:aws:iam::abcdefghijkl:role/r")),
        ),
        (
            "empty session name",
            "role_session_name",
            Box::new(|| role().role_session_name("")),
        ),
        (
            "non-ASCII session name",
            "role_session_name",
            Box::new(|| role().role_session_name("sessión")),
        ),
        (
            "10 KB session name",
            "role_session_name",
            Box::new({
                let s = ten_kb.clone();
                move || role().role_session_name(s)
            }),
        ),
        (
            "session name with a slash",
            "role_session_name",
            Box::new(|| role().role_session_name("a/b")),
        ),
        (
            "zero duration",
            "duration",
            Box::new(|| role().duration(Duration::ZERO)),
        ),
        (
            "huge duration",
            "duration",
            Box::new(|| role().duration(Duration::from_secs(u64::MAX))),
        ),
        (
            "sub-second duration",
            "duration",
            Box::new(|| role().duration(Duration::from_nanos(900_000_000_001))),
        ),
        (
            "empty external id",
            "external_id",
            Box::new(|| role().external_id("")),
        ),
        (
            "10 KB external id",
            "external_id",
            Box::new({
                let s = ten_kb.clone();
                move || role().external_id(s)
            }),
        ),
        (
            "external id with a space",
            "external_id",
            Box::new(|| role().external_id("a b")),
        ),
        ("empty policy", "policy", Box::new(|| role().policy(""))),
        (
            "truncated policy",
            "policy",
            Box::new(|| role().policy("{\"Version\":")),
        ),
        (
            "10 KB policy",
            "policy",
            Box::new({
                let s = ten_kb.clone();
                move || role().policy(format!("{{\"a\":\"{s}\"}}"))
            }),
        ),
        (
            "non-Latin-1 policy",
            "policy",
            Box::new(|| role().policy("{\"a\":\"政策\"}")),
        ),
        (
            "malformed policy ARN",
            "policy_arns",
            Box::new(|| role().policy_arn("arn:aws:iam::123:policy/p")),
        ),
        ("empty tag key", "tags", Box::new(|| role().tag("", "v"))),
        (
            "10 KB tag key",
            "tags",
            Box::new({
                let s = ten_kb.clone();
                move || role().tag(s, "v")
            }),
        ),
        (
            "10 KB transitive key",
            "transitive_tag_keys",
            Box::new({
                let s = ten_kb.clone();
                move || role().tag("k", "v").transitive_tag_key(s)
            }),
        ),
        (
            "10 KB tag value",
            "tags",
            Box::new({
                let s = ten_kb.clone();
                move || role().tag("k", s)
            }),
        ),
        (
            "duplicate tag keys",
            "tags",
            Box::new(|| role().tag("K", "1").tag("k", "2")),
        ),
        (
            "transitive key without tag",
            "transitive_tag_keys",
            Box::new(|| role().transitive_tag_key("k")),
        ),
        (
            "empty source identity",
            "source_identity",
            Box::new(|| role().source_identity("")),
        ),
        (
            "reserved source identity",
            "source_identity",
            Box::new(|| role().source_identity("aws:x")),
        ),
        (
            "short MFA serial",
            "mfa_serial_number",
            Box::new(move || role().mfa("1234", token)),
        ),
        (
            "empty endpoint",
            "endpoint_url",
            Box::new(|| role().endpoint_url("")),
        ),
        (
            "endpoint without scheme",
            "endpoint_url",
            Box::new(|| role().endpoint_url("sts.amazonaws.com")),
        ),
        (
            "non-ASCII endpoint with space",
            "endpoint_url",
            Box::new(|| role().endpoint_url("https://stś .example")),
        ),
        (
            "10 KB endpoint",
            "endpoint_url",
            Box::new({
                let s = ten_kb.clone();
                move || role().endpoint_url(format!("https://{s}"))
            }),
        ),
        (
            "zero load timeout",
            "load_timeout",
            Box::new(|| role().load_timeout(Duration::ZERO)),
        ),
        (
            "session name without a role",
            "role_session_name",
            Box::new(|| base().role_session_name("name")),
        ),
    ];
    assert!(cases.len() >= 25);
    for (what, field, make) in cases {
        let outcome = catch_unwind(AssertUnwindSafe(|| make().build()));
        let result = outcome.unwrap_or_else(|_| panic!("{what}: build() panicked"));
        let err = result.err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(err.field(), Some(field), "{what}: {err}");
        let message = err.to_string();
        assert!(
            message.contains(field),
            "{what}: the message names the field: {message}"
        );
        assert!(
            message.len() < 600,
            "{what}: the message stays short ({} bytes)",
            message.len()
        );
    }
}

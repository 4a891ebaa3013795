//! Every parameter STS would refuse is a `BuildError` at `build()` naming the field and the
//! rule; none panics — one rule at a time, then a table of malformed inputs (reliability
//! scenario 8).

use crate::support;

use support::{offline_builder as base, offline_role_builder as role};

use chainable_credentials::{BuildError, Builder, Field};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

fn expect_err(builder: Builder, field: &str, rule_part: &str) {
    let err = builder.build().expect_err("must be refused");
    assert_eq!(err.field().map(Field::setter), Some(field), "{err}");
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
        "character 4 is a space",
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
    assert!(err.contains("character 7 is a space"), "{err}");
    let err = role()
        .external_id("secret!id")
        .build()
        .unwrap_err()
        .to_string();
    assert!(!err.contains("secret!id"), "{err}");
    assert!(
        err.contains("character 7 is a symbol outside that set"),
        "{err}"
    );
    assert!(role().external_id("a:b/c=d").build().is_ok());
}

#[test]
fn parameters_that_need_a_role() {
    let err = base().role_session_name("s1").build().unwrap_err();
    assert!(
        matches!(
            err,
            BuildError::Conflict {
                field: Field::RoleSessionName,
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
                field: Field::ExternalId,
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

#[test]
fn clear_text_endpoints_are_for_loopback_unless_allowed() {
    expect_err(
        role().endpoint_url("http://sts.example.com"),
        "endpoint_url",
        "loopback hosts only",
    );
    expect_err(
        role().endpoint_url("http://192.0.2.10:8080"),
        "endpoint_url",
        "allow_insecure_endpoint(true)",
    );
    for url in [
        "http://127.0.0.1:5000",
        "http://localhost",
        "http://[::1]:1",
    ] {
        role().endpoint_url(url).build().expect(url);
    }
    let allowed = role()
        .endpoint_url("http://sts.example.com")
        .allow_insecure_endpoint(true)
        .build()
        .unwrap();
    // A hop chained on it calls the same endpoint, so it inherits the permission.
    allowed.chain().role_arn(support::ROLE_ARN).build().unwrap();
    role()
        .endpoint_url("https://sts.example.com")
        .build()
        .unwrap();
}

#[test]
fn web_identity_hops() {
    expect_err(
        base().web_identity_token_file("/var/run/token"),
        "web_identity_token",
        "a web identity token assumes a role",
    );
    for (builder, field) in [
        (
            role()
                .web_identity_token_file("/var/run/token")
                .external_id("e1"),
            "external_id",
        ),
        (
            role()
                .web_identity_token_file("/var/run/token")
                .tag("k", "v"),
            "tags",
        ),
        (
            role()
                .web_identity_token_file("/var/run/token")
                .source_identity("alice"),
            "source_identity",
        ),
    ] {
        expect_err(builder, field, "come from the token");
    }
    expect_err(
        role().web_identity_provider_id("www.amazon.com"),
        "web_identity_provider_id",
        "no web identity token is set",
    );
    expect_err(
        role()
            .web_identity_token_file("/var/run/token")
            .web_identity_provider_id("abc"),
        "web_identity_provider_id",
        "4 to 2048",
    );
    let provider = role()
        .web_identity_token_file("/var/run/token")
        .role_session_name("pod")
        .policy("{}")
        .duration(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert!(format!("{provider:?}").contains("AssumeRoleWithWebIdentity"));

    // From the environment, as the SDKs read it on EKS: the file, the role, the name.
    use aws_types::os_shim_internal::Env;
    let provider = base()
        .env(Env::from_slice(&[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token"),
            ("AWS_ROLE_ARN", support::ROLE_ARN),
            ("AWS_ROLE_SESSION_NAME", "pod-1"),
        ]))
        .web_identity_from_environment()
        .build()
        .unwrap();
    assert_eq!(provider.role_arn(), Some(support::ROLE_ARN));
    assert_eq!(provider.role_session_name(), Some("pod-1"));
    // What is set on the builder wins.
    let provider = role()
        .role_session_name("mine")
        .env(Env::from_slice(&[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token"),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/other"),
            ("AWS_ROLE_SESSION_NAME", "pod-1"),
        ]))
        .web_identity_from_environment()
        .build()
        .unwrap();
    assert_eq!(provider.role_arn(), Some(support::ROLE_ARN));
    assert_eq!(provider.role_session_name(), Some("mine"));
    expect_err(
        role()
            .env(Env::from_slice(&[]))
            .web_identity_from_environment(),
        "web_identity_token",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    );
}

#[test]
fn saml_hops() {
    let assertions = || async { Ok::<_, std::io::Error>("PHNhbWw+".to_owned()) };
    expect_err(
        base().saml_assertion("arn:aws:iam::123456789012:saml-provider/idp", assertions),
        "saml_assertion",
        "a SAML assertion assumes a role",
    );
    expect_err(
        role().saml_assertion("arn:aws:iam::123456789012:role/not-a-provider", assertions),
        "saml_assertion",
        "saml-provider/NAME",
    );
    expect_err(
        role()
            .saml_assertion("arn:aws:iam::123456789012:saml-provider/idp", assertions)
            .external_id("e1"),
        "external_id",
        "SAML assertion",
    );
    role()
        .saml_assertion("arn:aws:iam::123456789012:saml-provider/idp", assertions)
        .duration(Duration::from_secs(3600))
        .build()
        .unwrap();
}

#[test]
fn federation_tokens() {
    expect_err(
        base().federation_token("a"),
        "federation_token",
        "2 to 32 characters",
    );
    expect_err(
        role().federation_token("partner"),
        "federation_token",
        "`role_arn` is set too",
    );
    for (builder, field) in [
        (
            base().federation_token("partner").external_id("e1"),
            "external_id",
        ),
        (
            base().federation_token("partner").source_identity("alice"),
            "source_identity",
        ),
        (
            base()
                .federation_token("partner")
                .mfa("arn:aws:iam::123456789012:mfa/m", || async {
                    Ok::<_, std::io::Error>("123456".to_owned())
                }),
            "mfa",
        ),
    ] {
        expect_err(builder, field, "GetFederationToken takes a name");
    }
    base()
        .federation_token("partner")
        .policy("{}")
        .tag("tenant", "t1")
        .duration(Duration::from_secs(129_600))
        .build()
        .unwrap();
    // A chained hop's base credentials are temporary: STS would refuse them.
    let first = role().build().unwrap();
    expect_err(
        first.chain().federation_token("partner"),
        "federation_token",
        "long-term IAM user keys only",
    );
}

#[test]
fn policies() {
    expect_err(
        role().policy("not json"),
        "policy",
        "must be a JSON policy document",
    );
    expect_err(role().policy("[1,2]"), "policy", "must be a JSON object");
    expect_err(
        role().policy("{\"a\":\"\u{0100}\"}"),
        "policy",
        "U+0020 to U+00FF",
    );
    let big = format!("{{\"Statement\":\"{}\"}}", "x".repeat(2040));
    expect_err(
        role().policy(big),
        "policy",
        "at most 2048 characters packed",
    );
    // Whitespace does not count: 2,000 spaces around a small policy are fine.
    let padded = format!(
        "{}{{\"Version\":\"2012-10-17\"}}{}",
        " ".repeat(1000),
        "\n".repeat(1000)
    );
    assert!(role().policy(padded).build().is_ok());
}

#[test]
fn policy_arns() {
    let eleven: Vec<String> = (0..11)
        .map(|i| format!("arn:aws:iam::123456789012:policy/p{i}"))
        .collect();
    expect_err(role().policy_arns(eleven), "policy_arns", "at most 10");
    for bad in [
        "arn:aws:iam::123456789012:role/not-a-policy",
        "arn:aws:s3:::bucket-not-a-policy",
        "arn:aws:iam::notanaccount:policy/p",
        "policy/p",
    ] {
        expect_err(
            role().policy_arn(bad),
            "policy_arns",
            "ARN 1 must have the form",
        );
    }
    assert!(
        role()
            .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
            .build()
            .is_ok()
    );
}

#[test]
fn tags() {
    let fifty_one: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    expect_err(role().tags(fifty_one), "tags", "at most 50");
    expect_err(role().tag("", "v"), "tags", "1 to 128 characters");
    expect_err(
        role().tag("k".repeat(129), "v"),
        "tags",
        "1 to 128 characters",
    );
    expect_err(role().tag("bad*key", "v"), "tags", "1 to 128 characters");
    expect_err(
        role().tag("k", "v".repeat(257)),
        "tags",
        "0 to 256 characters",
    );
    expect_err(role().tag("k", "semi;colon"), "tags", "0 to 256 characters");
    expect_err(
        role().tag("aws:reserved", "v"),
        "tags",
        "may not start with `aws:`",
    );
    expect_err(
        role().tag("Team", "a").tag("team", "b"),
        "tags",
        "appears twice",
    );
    assert!(
        role()
            .tag("Équipe ünïcode 42", "välue @ home/x=y+z")
            .tag("k", "")
            .build()
            .is_ok()
    );
}

#[test]
fn transitive_tag_keys_must_be_tags() {
    expect_err(
        role().tag("a", "1").transitive_tag_key("b"),
        "transitive_tag_keys",
        "must be the key of one of the session tags",
    );
    assert!(
        role()
            .tag("Project", "1")
            .transitive_tag_key("project")
            .build()
            .is_ok()
    );
}

#[test]
fn source_identity() {
    expect_err(role().source_identity("a"), "source_identity", "2 to 64");
    expect_err(
        role().source_identity("aws:me"),
        "source_identity",
        "may not start with `aws:`",
    );
    expect_err(
        role().source_identity("AWS:me"),
        "source_identity",
        "may not start with `aws:`",
    );
    expect_err(
        role().source_identity("with space"),
        "source_identity",
        "character 5 is a space",
    );
    assert!(role().source_identity("alice@example.com").build().is_ok());
}

#[test]
fn mfa_serial_numbers() {
    let token = || async { Ok::<_, std::io::Error>("123456".to_owned()) };
    expect_err(role().mfa("short", token), "mfa", "9 to 256");
    expect_err(role().mfa("x".repeat(257), token), "mfa", "9 to 256");
    expect_err(
        role().mfa("arn:aws:iam::123456789012:mfa/has space", token),
        "mfa",
        "is a space",
    );
    assert!(
        role()
            .mfa("arn:aws:iam::123456789012:mfa/alice", token)
            .build()
            .is_ok()
    );
    assert!(
        base().mfa("GAHT12345678", token).build().is_ok(),
        "MFA with GetSessionToken"
    );
}

#[test]
fn assume_role_only_parameters_need_a_role() {
    for (builder, field) in [
        (base().policy("{}"), "policy"),
        (
            base().policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess"),
            "policy_arns",
        ),
        (base().tag("a", "b"), "tags"),
        (base().source_identity("alice"), "source_identity"),
    ] {
        let err = builder.build().unwrap_err();
        assert!(
            matches!(err, BuildError::Conflict { field: f, .. } if f.setter() == field),
            "{err}"
        );
    }
}

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
            "mfa",
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
        assert_eq!(err.field().map(Field::setter), Some(field), "{what}: {err}");
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

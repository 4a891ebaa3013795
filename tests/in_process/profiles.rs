//! Providers built from named profiles (`build_from_profile`), against the in-process STS on a
//! manual clock: one cached hop per `role_arn`, an MFA code asked once per refresh of its hop,
//! and the selected profile's region and endpoint settings on the STS requests. Each builder
//! reads an injected, empty environment: the `AWS_*` variables of the shell running the tests
//! (which would override the files' settings) do not reach it.

use crate::support;

use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::test_util::ManualTimeSource;
use aws_types::os_shim_internal::Env;
use chainable_credentials::{BuildError, Builder, ChainableTemporaryCredentials};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{FakeSts, Reply, t0};

const MIN: Duration = Duration::from_secs(60);

/// Config and credentials files in a temporary directory.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(config: &str) -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config"), config).unwrap();
        std::fs::write(
            dir.path().join("credentials"),
            "[keys]\naws_access_key_id = AKIDKEYS\naws_secret_access_key = keys-secret\n",
        )
        .unwrap();
        Files { dir }
    }

    /// A builder reading these files, on the fake STS and the manual clock, refreshing only
    /// when asked (so call counts follow the clock the test moves).
    fn builder(&self, sts: &FakeSts, clock: &ManualTimeSource, profile: &str) -> Builder {
        ChainableTemporaryCredentials::builder()
            .env(Env::from_slice(&[]))
            .profile(profile)
            .profile_config_file(self.dir.path().join("config"))
            .profile_credentials_file(self.dir.path().join("credentials"))
            .http_client(sts.clone())
            .time_source(clock.clone())
            .sleep_impl(TokioSleep::new())
            .background_refresh(false)
            .configure(&support::no_sdk_retries())
    }
}

const CHAIN: &str = "\
[profile a]
role_arn = arn:aws:iam::111111111111:role/first
source_profile = keys
mfa_serial = arn:aws:iam::111111111111:mfa/laptop
role_session_name = first
region = us-east-1
[profile b]
role_arn = arn:aws:iam::222222222222:role/second
source_profile = a
role_session_name = second
[profile c]
role_arn = arn:aws:iam::333333333333:role/third
source_profile = b
role_session_name = third
region = us-east-1
";

/// Counts the codes asked for, and the device each was for.
#[derive(Clone, Default)]
struct Codes(Arc<(AtomicUsize, std::sync::Mutex<Vec<String>>)>);

impl chainable_credentials::ProvideMfaToken for Codes {
    fn mfa_token(&self) -> chainable_credentials::TokenFuture<'_> {
        self.mfa_token_for("unknown")
    }

    fn mfa_token_for(&self, serial_number: &str) -> chainable_credentials::TokenFuture<'_> {
        self.0.0.fetch_add(1, Ordering::SeqCst);
        self.0.1.lock().unwrap().push(serial_number.to_owned());
        Box::pin(async { Ok("123456".to_owned()) })
    }
}

impl Codes {
    fn asked(&self) -> usize {
        self.0.0.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_three_profile_chain_with_mfa_asks_once_per_refresh_of_its_hop() {
    let files = Files::new(CHAIN);
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    // Hops a and b get one-hour sessions, c a 20-minute one.
    sts.then(Reply::Session(60 * MIN))
        .then(Reply::Session(60 * MIN))
        .then(Reply::Session(20 * MIN))
        .always(Reply::Session(60 * MIN));
    let codes = Codes::default();
    let provider = files
        .builder(&sts, &clock, "c")
        .mfa_tokens(codes.clone())
        .build_from_profile()
        .await
        .unwrap();
    assert_eq!(
        provider.role_arn(),
        Some("arn:aws:iam::333333333333:role/third")
    );
    assert_eq!(provider.role_session_name(), Some("third"));

    provider.credentials().await.unwrap();
    assert_eq!(sts.calls(), 3, "one AssumeRole per hop");
    assert_eq!(codes.asked(), 1, "one code, for the first hop");
    assert_eq!(
        codes.0.1.lock().unwrap()[0],
        "arn:aws:iam::111111111111:mfa/laptop"
    );
    let bodies = sts.bodies();
    assert!(bodies[0].contains("SerialNumber=") && bodies[0].contains("TokenCode=123456"));
    assert!(!bodies[1].contains("TokenCode") && !bodies[2].contains("TokenCode"));
    assert!(bodies[2].contains("RoleSessionName=third"));
    for _ in 0..100 {
        provider.credentials().await.unwrap();
    }
    assert_eq!((sts.calls(), codes.asked()), (3, 1), "cache hits");

    // The last hop expired, the others did not: one STS call, no code.
    clock.set_time(t0() + 19 * MIN + Duration::from_secs(30));
    provider.credentials().await.unwrap();
    assert_eq!((sts.calls(), codes.asked()), (4, 1));

    // Past the first two hops' hour, the last hop still answers from its cache.
    clock.set_time(t0() + 61 * MIN);
    provider.credentials().await.unwrap();
    assert_eq!((sts.calls(), codes.asked()), (4, 1));

    // When the last hop needs its next session, the expired hops below refresh too: the
    // MFA hop once, with one code.
    clock.set_time(t0() + 79 * MIN);
    provider.credentials().await.unwrap();
    assert_eq!((sts.calls(), codes.asked()), (7, 2));
}

#[tokio::test]
async fn the_selected_profiles_region_and_endpoints_reach_the_sts_requests() {
    let clock = ManualTimeSource::new(t0());
    let host_and_signing_region = |config: &'static str| {
        let clock = clock.clone();
        async move {
            let files = Files::new(config);
            let sts = FakeSts::new(clock.clone());
            let provider = files
                .builder(&sts, &clock, "p")
                .build_from_profile()
                .await
                .unwrap();
            provider.credentials().await.unwrap();
            let (uri, authorization) = sts.requests().pop().unwrap();
            let host = uri
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap()
                .to_owned();
            let region = authorization
                .split("Credential=")
                .nth(1)
                .and_then(|c| c.split('/').nth(2))
                .unwrap()
                .to_owned();
            (host, region)
        }
    };
    const ROLE: &str = "role_arn = arn:aws:iam::111111111111:role/r\nsource_profile = keys\n";
    let cases: [(String, (&str, &str)); 7] = [
        (
            format!("[profile p]\n{ROLE}region = eu-west-2\n"),
            ("sts.eu-west-2.amazonaws.com", "eu-west-2"),
        ),
        (
            format!("[profile p]\n{ROLE}region = us-east-1\nuse_fips_endpoint = true\n"),
            ("sts-fips.us-east-1.amazonaws.com", "us-east-1"),
        ),
        (
            format!("[profile p]\n{ROLE}region = us-east-1\nuse_dualstack_endpoint = true\n"),
            ("sts.us-east-1.api.aws", "us-east-1"),
        ),
        (
            format!("[profile p]\n{ROLE}region = eu-west-1\nsts_regional_endpoints = legacy\n"),
            ("sts.amazonaws.com", "us-east-1"),
        ),
        (
            format!("[profile p]\n{ROLE}region = eu-west-1\nendpoint_url = http://127.0.0.1:9\n"),
            ("127.0.0.1:9", "eu-west-1"),
        ),
        // A configured endpoint wins over `legacy`.
        (
            format!(
                "[profile p]\n{ROLE}region = eu-west-1\nsts_regional_endpoints = legacy\n\
                 endpoint_url = http://127.0.0.1:9\n"
            ),
            ("127.0.0.1:9", "eu-west-1"),
        ),
        (
            format!(
                "[profile p]\n{ROLE}region = eu-west-1\nendpoint_url = http://127.0.0.1:9\n\
                 services = local\n[services local]\nsts =\n  endpoint_url = http://127.0.0.1:8\n"
            ),
            ("127.0.0.1:8", "eu-west-1"),
        ),
    ];
    for (config, (host, region)) in cases {
        let config: &'static str = Box::leak(config.into_boxed_str());
        assert_eq!(
            host_and_signing_region(config).await,
            (host.to_owned(), region.to_owned()),
            "{config}"
        );
    }
}

#[tokio::test]
async fn settings_made_here_win_over_the_profiles() {
    let files = Files::new(CHAIN);
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = files
        .builder(&sts, &clock, "c")
        .mfa_tokens(Codes::default())
        .role_session_name("mine")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#)
        .region(aws_types::region::Region::new("eu-central-1"))
        .build_from_profile()
        .await
        .unwrap();
    provider.credentials().await.unwrap();
    let bodies = sts.bodies();
    assert!(bodies[2].contains("RoleSessionName=mine"), "{}", bodies[2]);
    assert!(
        bodies[2].contains("Policy="),
        "the last hop's own parameters"
    );
    assert!(!bodies[1].contains("Policy="), "not the inner hops'");
    assert!(bodies[1].contains("RoleSessionName=second"));
    let (uri, _) = &sts.requests()[0];
    assert!(uri.contains("sts.eu-central-1.amazonaws.com"), "{uri}");
}

#[tokio::test]
async fn what_cannot_work_is_a_build_error_naming_profile_key_and_file() {
    let files = Files::new(CHAIN);
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let error = files
        .builder(&sts, &clock, "c")
        .build_from_profile()
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("profile `a`") && text.contains("`mfa_serial`") && text.contains("config"),
        "{text}"
    );
    assert!(matches!(error, BuildError::Profile { .. }));

    let error = files
        .builder(&sts, &clock, "nobody")
        .build_from_profile()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("profile `nobody`") && error.contains("not defined"),
        "{error}"
    );

    let error = files.builder(&sts, &clock, "c").build().unwrap_err();
    assert_eq!(error.field(), Some(chainable_credentials::Field::Profile));
    assert!(error.to_string().contains("build_from_profile"), "{error}");

    let region = Files::new(
        "[profile p]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = keys\nregion = us east\n",
    );
    let error = region
        .builder(&sts, &clock, "p")
        .build_from_profile()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`region`") && error.contains("character 3 is a space"),
        "{error}"
    );
    assert_eq!(sts.calls(), 0, "nothing was called");

    let error = files
        .builder(&sts, &clock, "c")
        .base_credentials(aws_credential_types::Credentials::for_tests())
        .build_from_profile()
        .await
        .unwrap_err();
    assert_eq!(
        error.field(),
        Some(chainable_credentials::Field::BaseCredentials)
    );
}

#[tokio::test]
async fn hops_with_mfa_and_those_above_them_refresh_only_when_asked() {
    let files = Files::new(CHAIN);
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let mut builder = files
        .builder(&sts, &clock, "c")
        .mfa_tokens(Codes::default());
    builder.set_background_refresh(None);
    let provider = builder.build_from_profile().await.unwrap();
    provider.credentials().await.unwrap();
    assert!(
        !provider.status().background_refresh_running,
        "no code asked at a refresh point with nobody there"
    );
    let without_mfa = Files::new(
        "[profile p]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = keys\nregion = us-east-1\n",
    );
    let mut builder = without_mfa.builder(&sts, &clock, "p");
    builder.set_background_refresh(None);
    let provider = builder.build_from_profile().await.unwrap();
    provider.credentials().await.unwrap();
    assert!(provider.status().background_refresh_running);
}

#[tokio::test]
async fn a_web_identity_profile_is_a_cached_hop_of_this_crate_and_reads_its_token_per_refresh() {
    let token_dir = tempfile::tempdir().unwrap();
    let token_file = token_dir.path().join("token");
    std::fs::write(&token_file, "token-one\n").unwrap();
    let files = Files::new(&format!(
        "\
[profile eks]
role_arn = arn:aws:iam::111111111111:role/pod
web_identity_token_file = {}
role_session_name = pod
[profile cross]
role_arn = arn:aws:iam::222222222222:role/cross
source_profile = eks
role_session_name = cross
source_identity = alice
session_tags = Project=alpha,Team=data
transitive_session_tags = Project
region = us-east-1
",
        token_file.display()
    ));
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    // The web identity hop gets an hour, the cross-account hop 20 minutes.
    sts.then(Reply::Session(60 * MIN))
        .then(Reply::Session(20 * MIN))
        .always(Reply::Session(60 * MIN));
    let provider = files
        .builder(&sts, &clock, "cross")
        .build_from_profile()
        .await
        .unwrap();
    provider.credentials().await.unwrap();
    let bodies = sts.bodies();
    assert_eq!(bodies.len(), 2, "one call per hop");
    assert!(bodies[0].contains("Action=AssumeRoleWithWebIdentity&"));
    assert!(
        bodies[0].contains("WebIdentityToken=token-one"),
        "{}",
        bodies[0]
    );
    assert!(bodies[0].contains("RoleSessionName=pod"));
    assert!(bodies[1].contains("Action=AssumeRole&"));
    for sent in [
        "SourceIdentity=alice",
        "Tags.member.1.Key=Project",
        "Tags.member.1.Value=alpha",
        "Tags.member.2.Key=Team",
        "TransitiveTagKeys.member.1=Project",
    ] {
        assert!(bodies[1].contains(sent), "{sent} in {}", bodies[1]);
    }
    let requests = sts.requests();
    assert_eq!(requests[0].1, "", "the web identity call is unsigned");
    assert!(
        requests[1].1.starts_with("AWS4-HMAC-SHA256"),
        "the next one is signed"
    );

    // The issuer rotates the token. The last hop expires first: one STS call, no token read.
    std::fs::write(&token_file, "token-two").unwrap();
    clock.set_time(t0() + 19 * MIN + Duration::from_secs(30));
    provider.credentials().await.unwrap();
    assert_eq!(sts.calls(), 3);
    assert!(sts.bodies()[2].contains("Action=AssumeRole&"));

    // When the last hop needs a session after the first hop's hour, the first hop refreshes
    // too, with the rotated token.
    clock.set_time(t0() + 79 * MIN);
    provider.credentials().await.unwrap();
    let bodies = sts.bodies();
    assert_eq!(bodies.len(), 5);
    assert!(
        bodies[3].contains("WebIdentityToken=token-two"),
        "{}",
        bodies[3]
    );
    assert!(!format!("{provider:?}").contains("token-"));
}

#[tokio::test]
async fn a_profile_without_role_arn_is_served_as_its_own_credentials_read_once_per_lifetime() {
    // A credential_process that counts its runs and prints a session of 20 minutes.
    let files = Files::new("");
    let runs = files.dir.path().join("runs");
    let clock = ManualTimeSource::new(t0());
    let expiry = aws_smithy_types::DateTime::from(t0() + 20 * MIN)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    let script = files.dir.path().join("process.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{runs}'\n\
             printf '{{\"Version\":1,\"AccessKeyId\":\"ASIAPROCESS\",\"SecretAccessKey\":\"s\",\"SessionToken\":\"t\",\"Expiration\":\"{expiry}\"}}'\n",
            runs = runs.display()
        ),
    )
    .unwrap();
    std::fs::write(
        files.dir.path().join("config"),
        format!(
            "[profile scripted]\ncredential_process = sh {}\nregion = eu-west-1\n",
            script.display()
        ),
    )
    .unwrap();
    let sts = FakeSts::new(clock.clone());
    let provider = files
        .builder(&sts, &clock, "scripted")
        .build_from_profile()
        .await
        .unwrap();
    let ran = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    for _ in 0..50 {
        let credentials = provider.credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "ASIAPROCESS");
        assert_eq!(credentials.session_token(), Some("t"));
    }
    assert_eq!((ran(), sts.calls()), (1, 0), "read once, no STS call");
    assert_eq!(provider.role_arn(), None);
    // Within the last minute before its expiry, it is read again.
    clock.set_time(t0() + 19 * MIN + Duration::from_secs(30));
    provider.credentials().await.unwrap();
    assert_eq!((ran(), sts.calls()), (2, 0));

    // Keys without role_arn: served as they are (the SDKs use them so too), with an expiry
    // 15 minutes on so that they are read again.
    let keys = Files::new("[profile keys]\nregion = eu-west-1\n");
    let provider = keys
        .builder(&sts, &clock, "keys")
        .build_from_profile()
        .await
        .unwrap();
    let credentials = provider.credentials().await.unwrap();
    assert_eq!(credentials.access_key_id(), "AKIDKEYS");
    assert_eq!(sts.calls(), 0);

    // STS parameters have no call to go into: refused, naming the profile.
    let error = keys
        .builder(&sts, &clock, "keys")
        .duration(Duration::from_secs(900))
        .build_from_profile()
        .await
        .unwrap_err();
    assert_eq!(error.field(), Some(chainable_credentials::Field::Profile));
    assert!(error.to_string().contains("no `role_arn`"), "{error}");
}

#[tokio::test]
async fn mfa_process_of_a_profile_gives_the_code_without_a_token_provider() {
    let files = Files::new(
        "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/first\nsource_profile = keys\n\
         mfa_serial = arn:aws:iam::111111111111:mfa/laptop\nmfa_process = echo 246810\n\
         region = us-east-1\n\
         [profile b]\nrole_arn = arn:aws:iam::222222222222:role/second\nsource_profile = a\n\
         region = us-east-1\n\
         [profile lonely]\nrole_arn = arn:aws:iam::111111111111:role/first\nsource_profile = keys\n\
         mfa_process = echo 246810\n",
    );
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    for selected in ["a", "b"] {
        let provider = files
            .builder(&sts, &clock, selected)
            .build_from_profile()
            .await
            .unwrap();
        provider.credentials().await.unwrap();
    }
    let bodies = sts.bodies();
    assert!(bodies[0].contains("TokenCode=246810"), "{}", bodies[0]);
    assert!(bodies[1].contains("TokenCode=246810"), "{}", bodies[1]);
    assert!(
        !bodies[2].contains("TokenCode"),
        "the hop chained on it needs none"
    );

    let error = files
        .builder(&sts, &clock, "lonely")
        .build_from_profile()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`mfa_process`") && error.contains("`mfa_serial` is not"),
        "{error}"
    );
}

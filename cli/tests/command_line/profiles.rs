//! Named profiles, as people keep them in `~/.aws/config`, read by the reference tools and by
//! this crate against the local server with enforcement: the AWS CLI's own assume-role profile
//! support, boto3, the library (`build_from_profile`) and the command (`--profile`) end up as
//! the same assumed role. The command caches each hop of the chain on disk.

use crate::BINARY;
use crate::support;

use chainable_credentials::ChainableTemporaryCredentials;
use support::cli::{Home, credentials_json, finish, stderr, stdout, venv_bin};
use support::moto::Moto;

/// A three-profile chain (`hop3` → `hop2` → `hop1` → the base user's keys in `base`), each
/// profile naming its session so that the next role's trust policy matches, with the local
/// server as every service's endpoint.
fn chain_home(moto: &Moto) -> Home {
    let home = Home::new();
    home.write_credentials(&[(
        "base",
        &moto.base_access_key_id,
        &moto.base_secret_access_key,
    )]);
    let [hop1, hop2, hop3] = &moto.chain_hop_arns;
    home.write_config(&format!(
        "[profile hop1]\nrole_arn = {hop1}\nsource_profile = base\nrole_session_name = hop-1\n\
         region = {region}\nendpoint_url = {endpoint}\n\n\
         [profile hop2]\nrole_arn = {hop2}\nsource_profile = hop1\nrole_session_name = hop-2\n\
         region = {region}\nendpoint_url = {endpoint}\n\n\
         [profile hop3]\nrole_arn = {hop3}\nsource_profile = hop2\nrole_session_name = hop-3\n\
         region = {region}\nendpoint_url = {endpoint}\ns3 =\n    addressing_style = path\n",
        region = moto.region,
        endpoint = moto.endpoint,
    ));
    home
}

const HOP3_SESSION: &str = "assumed-role/chain-hop-3/hop-3";

#[tokio::test]
async fn the_aws_cli_boto3_the_library_and_the_command_assume_the_same_role() {
    let moto = Moto::enforcing();
    let home = chain_home(&moto);
    let expected = format!("arn:aws:sts::123456789012:{HOP3_SESSION}");

    // The AWS CLI's own assume-role profile support.
    let mut aws = home.command(venv_bin("aws"));
    aws.args([
        "sts",
        "get-caller-identity",
        "--profile",
        "hop3",
        "--output",
        "json",
    ]);
    let output = finish(aws).await;
    assert!(output.status.success(), "the AWS CLI: {}", stderr(&output));
    let cli: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cli["Arn"], expected.as_str(), "{cli}");

    // boto3.
    let mut python = home.command(venv_bin("python"));
    python.args([
        "-c",
        "import boto3; print(boto3.Session(profile_name='hop3').client('sts').get_caller_identity()['Arn'])",
    ]);
    let output = finish(python).await;
    assert!(output.status.success(), "boto3: {}", stderr(&output));
    assert_eq!(stdout(&output).trim(), expected);

    // The library, reading the same files, in an environment of its own (none of the
    // shell's AWS_* variables).
    let provider = ChainableTemporaryCredentials::builder()
        .env(aws_types::os_shim_internal::Env::from_slice(&[]))
        .profile("hop3")
        .profile_config_file(home.config_file())
        .profile_credentials_file(home.credentials_file())
        .build_from_profile()
        .await
        .unwrap();
    assert_eq!(moto.caller_arn(provider.clone()).await, expected);
    assert!(
        moto.bucket_names(provider).await.contains(&moto.bucket),
        "the session works for S3 too"
    );

    // The command.
    let json = credentials_json(
        &home
            .run(BINARY, &["credential-process", "--profile", "hop3"])
            .await,
    );
    assert_eq!(json["AccountId"], "123456789012");
    let printed = support::cli::printed_credentials(&json);
    assert_eq!(moto.caller_arn(printed).await, expected);
}

#[tokio::test]
async fn the_command_caches_each_hop_of_a_profile_chain() {
    let moto = Moto::enforcing();
    let home = chain_home(&moto);
    let first = credentials_json(
        &home
            .run(BINARY, &["credential-process", "--profile", "hop3"])
            .await,
    );
    let entries = || {
        std::fs::read_dir(home.cache_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count()
    };
    assert_eq!(entries(), 3, "one entry per hop");
    for _ in 0..3 {
        let again = credentials_json(
            &home
                .run(BINARY, &["credential-process", "--profile", "hop3"])
                .await,
        );
        assert_eq!(again["AccessKeyId"], first["AccessKeyId"], "from the cache");
    }
    assert_eq!(entries(), 3);
}

#[tokio::test]
async fn the_commands_profile_and_parameter_errors_say_what_to_change() {
    let moto = Moto::enforcing();
    let home = chain_home(&moto);
    let mut config = std::fs::read_to_string(home.config_file()).unwrap();
    config.push_str(
        "\n[profile loop-a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = loop-b\n\
         [profile loop-b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = loop-a\n",
    );
    home.write_config(&config);
    let fails_with = |code: i32, output: std::process::Output| {
        assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
        assert!(output.stdout.is_empty());
        let text = stderr(&output);
        assert_eq!(text.lines().count(), 1, "one line: {text}");
        text
    };
    // A profile that cannot work is about a file (1); a bad flag value is a bad command line (2).
    let fails = |output| fails_with(1, output);
    let text = fails(
        home.run(BINARY, &["credential-process", "--profile", "loop-a"])
            .await,
    );
    assert!(
        text.contains("cycle: loop-a -> loop-b -> loop-a") && text.contains(".aws/config"),
        "{text}"
    );
    // The same cycle reached as a source profile: the same error, in the same format.
    let as_source = fails(
        home.run(
            BINARY,
            &[
                "credential-process",
                "--source-profile",
                "loop-a",
                "--role-arn",
                &moto.role_arn,
            ],
        )
        .await,
    );
    assert!(
        as_source.contains("profile `loop-a` (")
            && as_source.contains("`source_profile` closes a cycle: loop-a -> loop-b -> loop-a"),
        "{as_source}"
    );
    assert!(!as_source.contains("infinite loop"), "{as_source}");
    let text = fails_with(
        2,
        home.run(
            BINARY,
            &[
                "credential-process",
                "--profile",
                "hop3",
                "--external-id",
                "bad id",
            ],
        )
        .await,
    );
    assert!(
        text.contains("--external-id") && text.contains("a space"),
        "{text}"
    );

    // No base credentials anywhere: which sources were tried, and what to pass.
    let empty = Home::new();
    let text = fails(
        empty
            .run(
                BINARY,
                &[
                    "credential-process",
                    "--role-arn",
                    &moto.role_arn,
                    "--region",
                    &moto.region,
                    "--endpoint-url",
                    &moto.endpoint,
                    "--no-cache",
                ],
            )
            .await,
    );
    for part in [
        "no base credentials",
        "AWS_ACCESS_KEY_ID",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "instance metadata",
        "--source-profile",
        "--profile",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    let text = fails_with(
        2,
        empty
            .run(
                BINARY,
                &[
                    "credential-process",
                    "--role-arn",
                    &moto.role_arn,
                    "--region",
                    "us east",
                ],
            )
            .await,
    );
    assert!(
        text.contains("--region") && text.contains("a space"),
        "{text}"
    );
}

#[tokio::test]
async fn the_commands_session_parameters_reach_sts() {
    let moto = Moto::enforcing();
    let home = Home::new();
    home.write_credentials(&[(
        "base",
        &moto.base_access_key_id,
        &moto.base_secret_access_key,
    )]);
    let policy_file = home.config_file().with_file_name("policy.json");
    std::fs::write(
        &policy_file,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    )
    .unwrap();
    let output = home
        .run(
            BINARY,
            &[
                "credential-process",
                "--source-profile",
                "base",
                "--role-arn",
                &moto.role_arn,
                "--session-name",
                "scoped",
                "--region",
                &moto.region,
                "--endpoint-url",
                &moto.endpoint,
                "--policy",
                &format!("@{}", policy_file.display()),
                "--policy-arn",
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                "--tag",
                "project=reports",
                "--transitive-tag-key",
                "project",
                "--source-identity",
                "alice",
                "--no-cache",
            ],
        )
        .await;
    let json = credentials_json(&output);
    assert_eq!(json["AccountId"], "123456789012");
    let printed = support::cli::printed_credentials(&json);
    assert!(
        moto.caller_arn(printed)
            .await
            .ends_with("assumed-role/s3-reader/scoped"),
        "the session with every parameter was issued"
    );
    let output = home
        .run(
            BINARY,
            &[
                "credential-process",
                "--source-profile",
                "base",
                "--role-arn",
                &moto.role_arn,
                "--tag",
                "novalue",
            ],
        )
        .await;
    assert_eq!(output.status.code(), Some(2), "a bad command line");
    assert!(stderr(&output).contains("KEY=VALUE"), "{}", stderr(&output));
}

#[tokio::test]
async fn the_command_asks_the_terminal_for_the_code_of_each_mfa_hop_once() {
    let moto = Moto::enforcing();
    let home = chain_home(&moto);
    let mut config = std::fs::read_to_string(home.config_file()).unwrap();
    config = config.replacen(
        "role_session_name = hop-1\n",
        "role_session_name = hop-1\nmfa_serial = arn:aws:iam::123456789012:mfa/laptop\n",
        1,
    );
    home.write_config(&config);
    // `script` gives the command a terminal (the AWS CLI captures a credential_process's
    // output, so the prompt goes to the terminal); the code is typed on it.
    let line = support::cli::shell_words([
        BINARY,
        "credential-process",
        "--profile",
        "hop3",
        "--allow-terminal",
    ]);
    let run = || async {
        let mut script = home.command("script");
        script
            .args(["--quiet", "--return", "--command", &line, "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = script.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stdin, b"123456\n")
            .await
            .unwrap();
        let output =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("finished")
                .unwrap();
        drop(stdin);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let first = run().await;
    assert_eq!(
        first
            .matches("MFA code for arn:aws:iam::123456789012:mfa/laptop: ")
            .count(),
        1,
        "asked once, naming the device: {first:?}"
    );
    assert!(first.contains("\"AccessKeyId\""), "{first:?}");
    // The next run is answered from the cache: no code asked.
    let second = run().await;
    assert!(!second.contains("MFA code"), "{second:?}");
    assert!(second.contains("\"AccessKeyId\""), "{second:?}");
}

#[tokio::test]
async fn a_web_identity_profile_chain_is_cached_on_disk_hop_by_hop_per_token() {
    // The non-enforcing server: the first call is unsigned (moto does not check the token).
    let moto = Moto::open();
    let proxy = support::fault_proxy::FaultProxy::start(&moto.endpoint).await;
    let home = Home::new();
    let token_file = home.config_file().with_file_name("eks-token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.pod-token-one.signature").unwrap();
    home.write_config(&format!(
        "[profile eks]\nrole_arn = {pod}\nweb_identity_token_file = {token}\n\
         role_session_name = eks-pod\nregion = {region}\nendpoint_url = {endpoint}\n\n\
         [profile data]\nrole_arn = {data}\nsource_profile = eks\nrole_session_name = data\n\
         source_identity = ci-job\nregion = {region}\nendpoint_url = {endpoint}\n",
        pod = moto.role_arn,
        token = token_file.display(),
        data = moto.chain_hop_arns[0],
        region = moto.region,
        endpoint = proxy.endpoint,
    ));
    let run = || async {
        credentials_json(
            &home
                .run(BINARY, &["credential-process", "--profile", "data"])
                .await,
        )
    };
    let first = run().await;
    let printed = support::cli::printed_credentials(&first);
    assert!(moto.bucket_names(printed).await.contains(&moto.bucket));
    let bodies = proxy.sts_bodies();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies[0].contains("Action=AssumeRoleWithWebIdentity&"));
    assert!(
        bodies[1].contains("Action=AssumeRole&") && bodies[1].contains("SourceIdentity=ci-job")
    );
    for _ in 0..3 {
        assert_eq!(
            run().await["AccessKeyId"],
            first["AccessKeyId"],
            "from the cache"
        );
    }
    assert_eq!(
        proxy.sts_bodies().len(),
        2,
        "no STS call for the next processes"
    );

    // The kubelet rotates the token: a process holding the new one does not use the entry
    // made with the old one.
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.pod-token-two.signature").unwrap();
    let rotated = run().await;
    assert_ne!(rotated["AccessKeyId"], first["AccessKeyId"]);
    let bodies = proxy.sts_bodies();
    assert_eq!(bodies.len(), 4, "{bodies:?}");
    assert!(bodies[2].contains("pod-token-two"));
    for entry in std::fs::read_dir(home.cache_dir()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains("pod-token"), "no token on disk");
    }
}

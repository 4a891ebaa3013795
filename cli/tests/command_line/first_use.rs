//! `exec` and `serve` as a new user meets them, with the built command, real shells and real
//! clients (the AWS CLI, boto3, aws-config, JS v3) against moto with enforcement: the README's
//! `eval` line returns with a server that answers, the child gets the served session (keys in
//! `[default]`, a shell with keys and `AWS_PROFILE`, a profile's region, a `credential_process`
//! profile), one token file per server, the hints mistakes get, MFA codes from a command or
//! typed once for a server in the background, no credentials within the timeout, and a flood
//! of connections under a low open-files limit.

use crate::BINARY;
use crate::support;

use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use std::time::Duration;
use support::cli::{Home, client, example_binary, finish, node_modules, stderr, stdout, venv_bin};
use support::fault_proxy::FaultProxy;
use support::moto::Moto;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

const SESSION_NAME: &str = "first-use";

/// The role's session ARN, as `get-caller-identity` says it.
fn assumed_role_arn(moto: &Moto) -> String {
    let role = moto.role_arn.rsplit('/').next().unwrap();
    let account = moto.role_arn.split(':').nth(4).unwrap();
    format!("arn:aws:sts::{account}:assumed-role/{role}/{SESSION_NAME}")
}

/// A home whose credentials file has the base user's keys as `[base]` (and, with
/// `in_default`, as `[default]` too, the most common set-up) and the other user's as
/// `[other]`.
fn home_with_keys(moto: &Moto, in_default: bool) -> Home {
    let home = Home::new();
    let mut profiles = vec![
        (
            "base",
            moto.base_access_key_id.as_str(),
            moto.base_secret_access_key.as_str(),
        ),
        (
            "other",
            moto.other_access_key_id.as_str(),
            moto.other_secret_access_key.as_str(),
        ),
    ];
    if in_default {
        profiles.push((
            "default",
            moto.base_access_key_id.as_str(),
            moto.base_secret_access_key.as_str(),
        ));
    }
    home.write_credentials(&profiles);
    home
}

/// The session flags of every run here: the base profile, the role, STS through `proxy`.
fn session_flags(moto: &Moto, proxy: &FaultProxy) -> Vec<String> {
    [
        "--source-profile",
        "base",
        "--role-arn",
        &moto.role_arn,
        "--session-name",
        SESSION_NAME,
        "--region",
        &moto.region,
        "--endpoint-url",
        &proxy.endpoint,
        "--timeout",
        "30s",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// `sh -c script` in `home`, with the clients' S3 and STS calls going to moto, the command as
/// `$CC` and the AWS CLI as `$AWS`.
fn shell(home: &Home, moto: &Moto, script: &str) -> tokio::process::Command {
    let mut command = home.command("sh");
    command
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("CC", BINARY)
        .env("AWS", venv_bin("aws"))
        .env("PYTHON", venv_bin("python"))
        .env("NODE_PATH", node_modules())
        .env("NODE_NO_WARNINGS", "1")
        .args(["-c", script]);
    command
}

/// Words for a shell script, single-quoted.
fn quoted(words: &[String]) -> String {
    support::cli::shell_words(words.iter().map(String::as_str))
}

/// The real time (the clock is read through `SystemTimeSource` everywhere).
fn now() -> std::time::SystemTime {
    use aws_smithy_async::time::TimeSource;
    aws_smithy_async::time::SystemTimeSource::new().now()
}

/// What the AWS CLI says the caller is, its credentials from the server at `url` with the token
/// in `token` (`AWS_CONTAINER_AUTHORIZATION_TOKEN` or `_FILE`, and its value).
pub(crate) async fn aws_cli_caller(
    home: &Home,
    moto: &Moto,
    url: &str,
    token: (&str, &str),
) -> String {
    let mut aws = home.command(venv_bin("aws"));
    aws.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", url)
        .env(token.0, token.1)
        .env("AWS_DEFAULT_REGION", &moto.region)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .args([
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ]);
    let output = finish(aws).await;
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).trim().to_owned()
}

/// Stops a server in the background (SIGTERM) when dropped: a failing test leaves none
/// running (it is in a session of its own, which no `kill_on_drop` reaches).
struct StopOnDrop(u32);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if running(self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &self.0.to_string()])
                .status();
        }
    }
}

/// What a script that starts a server in the background runs first: the server is stopped
/// when the script ends, however it ends.
const STOP_AT_EXIT: &str = "trap 'test -n \"$CHAINABLE_CREDENTIALS_PID\" && kill \"$CHAINABLE_CREDENTIALS_PID\" 2>/dev/null' EXIT\n";

/// Whether process `pid` runs (a zombie has ended).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| rest.to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z'))
}

#[tokio::test]
async fn the_readmes_eval_line_returns_with_a_server_that_answers_and_serve_stop_ends_it() {
    let moto = Moto::enforcing();
    let home = home_with_keys(&moto, false);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let token_file = home.config_file().with_file_name("cc-token");
    // The README's line, in a shell whose output is a pipe the test reads to its end: it
    // returns only if nothing holds that pipe once `serve` has printed.
    let script = format!(
        "set -e\n\
         eval \"$(\"$CC\" serve {flags} --token-file '{token}')\"\n\
         echo \"pid $CHAINABLE_CREDENTIALS_PID\"\n\
         echo \"arn $(\"$AWS\" sts get-caller-identity --query Arn --output text)\"\n\
         echo \"mode $(stat -c %a \"$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE\")\"\n",
        flags = quoted(&session_flags(&moto, &proxy)),
        token = token_file.display()
    );
    let started = now();
    let output = finish(shell(&home, &moto, &script)).await;
    let took = now().duration_since(started).unwrap_or_default();
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        took < Duration::from_secs(60),
        "the eval line returned ({took:?})"
    );
    let said = stdout(&output);
    let value = |key: &str| {
        said.lines()
            .find_map(|line| line.strip_prefix(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in {said}"))
            .to_owned()
    };
    assert_eq!(value("arn"), assumed_role_arn(&moto));
    assert_eq!(value("mode"), "600");
    let pid: u32 = value("pid").parse().unwrap();
    let _stop = StopOnDrop(pid);
    assert!(
        running(pid),
        "the server runs after the shell that started it ended"
    );
    assert!(token_file.exists());

    // `serve --stop` in a shell that has the variable: the server ends, its token file goes,
    // and the lines it prints unset the variables.
    let script = format!(
        "export CHAINABLE_CREDENTIALS_PID={pid} AWS_CONTAINER_CREDENTIALS_FULL_URI=x\n\
         eval \"$(\"$CC\" serve --stop)\"\n\
         echo \"left ${{AWS_CONTAINER_CREDENTIALS_FULL_URI:-none}} ${{CHAINABLE_CREDENTIALS_PID:-none}}\""
    );
    let output = finish(shell(&home, &moto, &script)).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "left none none");
    assert!(!running(pid), "the server stopped");
    assert!(!token_file.exists(), "its token file was removed");
    assert_eq!(proxy.sts_requests(), 1);

    // Its lines (the token among them) into a file the shell creates 0644: made 0600 before
    // they are written.
    let script = format!(
        "{STOP_AT_EXIT}umask 022; \"$CC\" serve {flags} > lines && . ./lines && \
         stat -c %a lines",
        flags = quoted(&session_flags(&moto, &proxy))
    );
    let mut command = shell(&home, &moto, &script);
    command.current_dir(home.config_file().parent().unwrap());
    let output = finish(command).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "600");
}

#[tokio::test]
async fn after_eval_the_shells_own_keys_and_profile_no_longer_win() {
    let moto = Moto::enforcing();
    let home = home_with_keys(&moto, false);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    // The shell already has the other user's keys and a profile: both would come before the
    // container endpoint in every SDK's chain.
    let script = format!(
        "{STOP_AT_EXIT}export AWS_ACCESS_KEY_ID='{key}' AWS_SECRET_ACCESS_KEY='{secret}' AWS_PROFILE=other\n\
         eval \"$(\"$CC\" serve {flags})\"\n\
         \"$AWS\" sts get-caller-identity --query Arn --output text\n\
         \"$PYTHON\" -c 'import boto3; print(boto3.client(\"sts\").get_caller_identity()[\"Arn\"])'",
        key = moto.other_access_key_id,
        secret = moto.other_secret_access_key,
        flags = quoted(&session_flags(&moto, &proxy)),
    );
    let mut command = shell(&home, &moto, &script);
    command.env("AWS_DEFAULT_REGION", &moto.region);
    let output = finish(command).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stdout(&output);
    let arns: Vec<&str> = said.lines().collect();
    assert_eq!(arns, [assumed_role_arn(&moto), assumed_role_arn(&moto)]);
}

/// Every client under `exec`: the AWS CLI, boto3, the Rust program (aws-config's default
/// chain and `EcsCredentialsProvider`), JS v3 (its default chain and `fromHttp`); then the AWS
/// CLI on another profile, which must still be there.
fn every_client_and_another_profile() -> String {
    format!(
        "set -e\n\
         echo \"aws-cli $(\"$AWS\" sts get-caller-identity --query Arn --output text)\"\n\
         \"$PYTHON\" -c 'import boto3; print(\"boto3\", boto3.client(\"sts\").get_caller_identity()[\"Arn\"])'\n\
         '{rust}'\n\
         node '{js}'\n\
         echo \"other $(\"$AWS\" --profile other sts get-caller-identity --query Arn --output text)\"\n",
        rust = example_binary("caller_identity").display(),
        js = client("caller_identity.cjs").display(),
    )
}

#[tokio::test]
async fn exec_with_keys_in_default_serves_the_role_to_every_client_and_keeps_the_other_profiles() {
    let moto = Moto::enforcing();
    let home = home_with_keys(&moto, true);
    home.write_config(&format!("[default]\nregion = {}\n", moto.region));
    let proxy = FaultProxy::start(&moto.endpoint).await;
    // The base from the default chain: the very keys in `[default]`.
    let mut exec = home.command(BINARY);
    exec.env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS", venv_bin("aws"))
        .env("PYTHON", venv_bin("python"))
        .env("NODE_PATH", node_modules())
        .env("NODE_NO_WARNINGS", "1")
        .args([
            "-v",
            "exec",
            "--role-arn",
            &moto.role_arn,
            "--session-name",
            SESSION_NAME,
            "--endpoint-url",
            &proxy.endpoint,
            "--",
            "sh",
            "-c",
            &every_client_and_another_profile(),
        ]);
    let output = finish(exec).await;
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let said = stdout(&output);
    let mut clients = Vec::new();
    for line in said.lines() {
        let (client, arn) = line.rsplit_once(' ').unwrap();
        if client == "other" {
            assert!(arn.ends_with(":user/other-user"), "{line}");
        } else {
            assert_eq!(
                arn,
                assumed_role_arn(&moto),
                "{client} got the served session"
            );
            clients.push(client.to_owned());
        }
    }
    assert_eq!(
        clients,
        [
            "aws-cli",
            "boto3",
            "default-chain",
            "EcsCredentialsProvider",
            "default-chain",
            "fromHttp",
            "fromContainerMetadata"
        ]
    );
    // `-v` says what was done about it, naming the file, the profile and the key.
    let log = stderr(&output);
    assert!(
        log.contains("[default] has `aws_access_key_id`")
            && log.contains("chainable-credentials-exec"),
        "{log}"
    );
    assert!(!log.contains(&moto.base_secret_access_key));
    assert_eq!(proxy.sts_requests(), 1);

    // `serve` cannot change the shell's files: it warns, without -v.
    let script = format!(
        "{STOP_AT_EXIT}eval \"$(\"$CC\" serve {flags})\"",
        flags = quoted(&session_flags(&moto, &proxy))
    );
    let output = finish(shell(&home, &moto, &script)).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let warning = stderr(&output);
    assert!(
        warning.contains("WARN") && warning.contains("[default] has `aws_access_key_id`"),
        "{warning}"
    );
    assert!(
        !warning.contains("INFO"),
        "nothing but warnings without -v: {warning}"
    );
}

#[tokio::test]
async fn exec_profile_gives_command_the_profiles_region() {
    let moto = Moto::enforcing();
    let home = home_with_keys(&moto, false);
    home.write_config(&format!(
        "[profile admin]\nrole_arn = {role}\nsource_profile = base\nrole_session_name = {SESSION_NAME}\nregion = {region}\n",
        role = moto.role_arn,
        region = moto.region,
    ));
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let mut exec = home.command(BINARY);
    exec.env("AWS_ENDPOINT_URL", &moto.endpoint).args([
        "exec",
        "--profile",
        "admin",
        "--endpoint-url",
        &proxy.endpoint,
        "--",
        "sh",
        "-c",
        &format!(
            "echo \"$AWS_REGION $AWS_DEFAULT_REGION\"; '{aws}' sts get-caller-identity --query Arn --output text",
            aws = venv_bin("aws").display()
        ),
    ]);
    let output = finish(exec).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stdout(&output);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(
        lines[0],
        format!("{0} {0}", moto.region),
        "the profile's region"
    );
    assert_eq!(lines[1], assumed_role_arn(&moto));

    // A region COMMAND already has is left alone.
    let mut exec = home.command(BINARY);
    exec.env("AWS_REGION", "eu-central-1").args([
        "exec",
        "--profile",
        "admin",
        "--endpoint-url",
        &proxy.endpoint,
        "--",
        "sh",
        "-c",
        "echo \"$AWS_REGION ${AWS_DEFAULT_REGION:-unset}\"",
    ]);
    let output = finish(exec).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "eu-central-1 unset");
}

#[tokio::test]
async fn the_readmes_credential_process_profile_works_under_exec_and_source_profile_is_told() {
    let moto = Moto::enforcing();
    let home = home_with_keys(&moto, false);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    // The README's profile: this command as the credential_process of `s3-reader`.
    home.write_config(&format!(
        "[profile s3-reader]\ncredential_process = {BINARY} credential-process --source-profile base --role-arn {role} --session-name {SESSION_NAME} --region {region} --endpoint-url {proxy}\nregion = {region}\n",
        role = moto.role_arn,
        region = moto.region,
        proxy = proxy.endpoint,
    ));
    let mut exec = home.command(BINARY);
    exec.env("AWS_ENDPOINT_URL", &moto.endpoint).args([
        "exec",
        "--profile",
        "s3-reader",
        "--",
        venv_bin("aws").to_str().unwrap(),
        "s3",
        "ls",
    ]);
    let output = finish(exec).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&moto.bucket),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        proxy.sts_requests(),
        1,
        "the profile's credential_process, once"
    );

    // As a source profile, without a role: GetSessionToken on a role's session, which STS
    // refuses. Refused here, before any call, saying what to pass instead.
    let output = home
        .run(
            BINARY,
            &[
                "credential-process",
                "--source-profile",
                "s3-reader",
                "--endpoint-url",
                &proxy.endpoint,
            ],
        )
        .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains("GetSessionToken cannot be called")
            && said.contains("pass --profile s3-reader"),
        "{said}"
    );
    assert_eq!(said.lines().count(), 1, "{said}");
    assert_eq!(
        proxy.sts_requests(),
        1,
        "nothing sent to STS for the refused run"
    );
}

/// `serve --foreground --token-file PATH`, running: its child and its shell lines.
async fn serve_in_foreground(
    home: &Home,
    moto: &Moto,
    proxy: &FaultProxy,
    extra: &[&str],
) -> (tokio::process::Child, Vec<String>) {
    let mut command = home.command(BINARY);
    command
        .arg("serve")
        .arg("--foreground")
        .args(session_flags(moto, proxy))
        .args(extra)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await
    {
        let last = line.starts_with("export CHAINABLE_CREDENTIALS_PID=");
        printed.push(line);
        if last {
            break;
        }
    }
    (child, printed)
}

#[tokio::test]
async fn one_token_file_one_server() {
    let moto = Moto::enforcing();
    let home = home_with_keys(&moto, false);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let path = token_file.to_str().unwrap();
    let (mut first, lines) =
        serve_in_foreground(&home, &moto, &proxy, &["--token-file", path]).await;
    // unset, the URL, the token file, the region (the shell has none), the process id.
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert!(
        lines.contains(&format!("export AWS_REGION='{}'", moto.region)),
        "{lines:?}"
    );
    let token = std::fs::read_to_string(&token_file).unwrap();
    let calls = proxy.sts_requests();

    // A second server on the same file: refused, as a bad command line, before any STS call;
    // the first one's file is untouched.
    let mut second = home.command(BINARY);
    second
        .args(["serve", "--foreground"])
        .args(session_flags(&moto, &proxy))
        .args(["--token-file", path]);
    let output = finish(second).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("a running chainable-credentials server uses it"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), token);
    assert_eq!(
        proxy.sts_requests(),
        calls,
        "no STS call for a refused server"
    );

    // The first one still serves with it.
    let url = lines[1]
        .strip_prefix("export AWS_CONTAINER_CREDENTIALS_FULL_URI='")
        .unwrap()
        .trim_end_matches('\'');
    let caller = aws_cli_caller(
        &home,
        &moto,
        url,
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path),
    )
    .await;
    assert_eq!(caller, assumed_role_arn(&moto));

    let pid = first.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(20), first.wait()).await;
    assert!(!token_file.exists(), "removed by the server that wrote it");
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_told_what_the_header_holds_through_the_aws_cli() {
    let moto = Moto::enforcing();
    let home = home_with_keys(&moto, false);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let (mut server, lines) = serve_in_foreground(&home, &moto, &proxy, &[]).await;
    let value = |name: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("export {name}='")))
            .unwrap()
            .trim_end_matches('\'')
            .to_owned()
    };
    let (url, token) = (
        value("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    );
    for (sent, code) in [
        (Some(format!("Bearer {token}")), "InvalidToken"),
        (Some("0".repeat(64)), "InvalidToken"),
        (None, "MissingToken"),
    ] {
        let mut aws = home.command(venv_bin("aws"));
        aws.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url)
            .env("AWS_DEFAULT_REGION", &moto.region)
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .args(["sts", "get-caller-identity"]);
        if let Some(sent) = &sent {
            aws.env("AWS_CONTAINER_AUTHORIZATION_TOKEN", sent);
        }
        let output = finish(aws).await;
        assert!(!output.status.success());
        let said = stderr(&output);
        assert!(
            said.contains(code) && said.contains("no `Bearer` prefix"),
            "{said}"
        );
        assert!(
            !said.contains(&token),
            "the token is never in an answer: {said}"
        );
    }
    let _ = server.start_kill();
}

#[tokio::test]
async fn mistakes_on_the_command_line_get_hints_with_the_real_binary() {
    let home = Home::new();
    let role = "arn:aws:iam::123456789012:role/reader";
    let cases: [(&[&str], &str); 6] = [
        (
            &["exec", "--role-rn", role, "--", "true"],
            "did you mean '--role-arn'?",
        ),
        (&["exce", "--role-arn", role], "did you mean 'exec'?"),
        (
            &["exec", "--role-arn", role, "aws", "sts"],
            "put `--` before COMMAND",
        ),
        (
            &["exec", "--role-arn", role, "--chain", role, "aws", "sts"],
            "put `--` before COMMAND",
        ),
        (
            &["credential-process", "--role-arn", &format!("{role} ")],
            "ends with a space",
        ),
        (
            &[
                "serve",
                "--foreground",
                "--role-arn",
                role,
                "--token-file",
                "/no/such/dir/token",
            ],
            "--token-file",
        ),
    ];
    for (args, hint) in cases {
        let output = home.run(BINARY, args).await;
        let said = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {said}");
        assert!(said.contains(hint), "{args:?}: {said}");
        assert_eq!(said.lines().count(), 1, "{args:?}: {said}");
    }
    // -v before the subcommand is taken (the failure is then the missing credentials).
    let output = home
        .run(
            BINARY,
            &[
                "-v",
                "credential-process",
                "--role-arn",
                role,
                "--timeout",
                "2s",
            ],
        )
        .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no base credentials"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn mfa_codes_from_a_command_serve_a_background_server_across_refreshes() {
    let moto = Moto::enforcing();
    let home = home_with_keys(&moto, false);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.shorten_sessions(Duration::from_secs(10));
    let counter = home.config_file().with_file_name("codes-given");
    let code_script = home.config_file().with_file_name("code.sh");
    std::fs::write(
        &code_script,
        format!("echo given >> '{}'\necho 123456\n", counter.display()),
    )
    .unwrap();
    let mfa_process = format!("sh {}", code_script.display());
    let mut flags = session_flags(&moto, &proxy);
    flags.extend([
        "--mfa-serial".to_owned(),
        format!(
            "arn:aws:iam::{}:mfa/laptop",
            moto.role_arn.split(':').nth(4).unwrap()
        ),
        "--mfa-process".to_owned(),
        mfa_process,
        "--no-cache".to_owned(),
    ]);
    // Three calls over about 13 seconds: the session is 10 seconds long, so the server needs
    // a new one, and a new code, on the way.
    let script = format!(
        "{STOP_AT_EXIT}set -e\n\
         eval \"$(\"$CC\" serve {flags})\"\n\
         for i in 1 2 3; do \"$AWS\" sts get-caller-identity --query Arn --output text; sleep 6; done",
        flags = quoted(&flags)
    );
    let mut command = shell(&home, &moto, &script);
    command.env("AWS_DEFAULT_REGION", &moto.region);
    let output = finish(command).await;
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    for arn in stdout(&output).lines() {
        assert_eq!(arn, assumed_role_arn(&moto));
    }
    let given = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert!(given >= 2, "a code per session: {given}");
    let bodies = proxy.sts_bodies();
    assert!(
        bodies.iter().all(|b| b.contains("TokenCode=123456")),
        "{bodies:?}"
    );
    assert!(
        !stderr(&output).contains("123456"),
        "the code is never logged"
    );
}

#[tokio::test]
async fn a_code_typed_once_serves_the_background_server_and_a_refresh_needing_another_says_what_to_run()
 {
    let moto = Moto::enforcing();
    let home = home_with_keys(&moto, false);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.shorten_sessions(Duration::from_secs(8));
    let mut flags = session_flags(&moto, &proxy);
    flags.extend([
        "--mfa-serial".to_owned(),
        format!(
            "arn:aws:iam::{}:mfa/laptop",
            moto.role_arn.split(':').nth(4).unwrap()
        ),
        "--no-cache".to_owned(),
    ]);
    let out = home.config_file().with_file_name("lines");
    // A terminal (script(1)'s), on which the code is typed once; the lines go to a file.
    let inner = format!(
        "\"$CC\" serve {flags} --token-file > '{out}'",
        flags = quoted(&flags),
        out = out.display()
    );
    let mut typed = home.command("script");
    typed
        .env("CC", BINARY)
        .args(["-qec", &inner, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut terminal = typed.spawn().unwrap();
    let mut keyboard = terminal.stdin.take().unwrap();
    keyboard.write_all(b"123456\n").await.unwrap();
    let mut screen = String::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        terminal
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut screen)
            .await
    })
    .await
    .expect("serve returned")
    .unwrap();
    let status = terminal.wait().await.unwrap();
    assert!(status.success(), "{screen}");
    assert!(
        screen.contains("MFA code for arn:aws:iam::"),
        "prompted on the terminal: {screen}"
    );
    let lines = std::fs::read_to_string(&out).unwrap();
    let value = |name: &str| {
        lines
            .lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}='")))
            .unwrap_or_else(|| panic!("{name} in {lines}"))
            .trim_end_matches('\'')
            .to_owned()
    };
    let url = value("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    let token = std::fs::read_to_string(value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")).unwrap();
    let pid: u32 = value("CHAINABLE_CREDENTIALS_PID").parse().unwrap();
    let _stop = StopOnDrop(pid);
    let address = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let get = || async {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let request = format!(
            "GET /credentials HTTP/1.1\r\nHost: {address}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    };
    assert!(
        get().await.starts_with("HTTP/1.1 200"),
        "served with the typed code"
    );
    // Past the session's end, a refresh needs a new code, which nobody can type: 503, saying
    // what to run; the server did not stop (on a terminal read, SIGTTIN would have).
    TokioSleep::new().sleep(Duration::from_secs(9)).await;
    let answer = get().await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("runs in the background") && answer.contains("--mfa-process"),
        "{answer}"
    );
    assert!(running(pid));
    assert_eq!(proxy.sts_requests(), 1, "one code, one call");
}

/// A stand-in for the instance metadata service: it answers every request 500, or accepts
/// connections and never answers.
async fn metadata_service(answers: bool) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            if answers {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
                    )
                    .await;
            } else {
                held.push(stream);
            }
        }
    });
    (url, task)
}

#[tokio::test]
async fn no_credentials_on_a_laptop_gets_the_hint_within_the_timeout() {
    for answers in [true, false] {
        let (url, service) = metadata_service(answers).await;
        let home = Home::new();
        let mut command = home.command(BINARY);
        command
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url)
            .args([
                "credential-process",
                "--role-arn",
                "arn:aws:iam::123456789012:role/reader",
                "--endpoint-url",
                "http://127.0.0.1:9",
                "--timeout",
                "5s",
            ]);
        let started = now();
        let output = finish(command).await;
        let took = now().duration_since(started).unwrap_or_default();
        service.abort();
        let said = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{said}");
        assert!(
            said.contains("no base credentials") && said.contains("pass --source-profile NAME"),
            "metadata answers errors: {answers}; {said}"
        );
        assert!(!said.contains("timed out after 5"), "{said}");
        if answers {
            // It retries with backoff until the chain's part of the timeout ends.
            assert!(said.contains("no source answered within 3.8 s"), "{said}");
        }
        assert!(took < Duration::from_secs(5), "{took:?}");
        println!("metadata service answering errors: {answers}: {took:?}");
    }
}

/// CPU seconds process `pid` has used (user and system), from `/proc`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime, fields 14 and 15 of the line: 11 and 12 after the state.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_under_ulimit_64_keeps_the_cpu_low_and_a_real_client_is_served() {
    let moto = Moto::enforcing();
    let home = home_with_keys(&moto, false);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let script = format!(
        "ulimit -n 64 && exec \"$CC\" serve --foreground {flags}",
        flags = quoted(&session_flags(&moto, &proxy))
    );
    let mut command = shell(&home, &moto, &script);
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut server = command.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let last = line.starts_with("export CHAINABLE_CREDENTIALS_PID=");
        printed.push(line);
        if last {
            break;
        }
    }
    let value = |name: &str| {
        printed
            .iter()
            .find_map(|l| l.strip_prefix(&format!("export {name}='")))
            .unwrap()
            .trim_end_matches('\'')
            .to_owned()
    };
    let url = value("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    let token = value("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    let pid = server.id().unwrap();
    let address = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    // 300 connections that never finish their headers, more than the process has descriptors.
    let before = cpu_seconds(pid);
    let started = now();
    let mut stalled = Vec::new();
    for _ in 0..300 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await {
            let _ = stream
                .write_all(b"GET /credentials HTTP/1.1\r\nHost: ")
                .await;
            stalled.push(stream);
        }
    }
    let caller = aws_cli_caller(
        &home,
        &moto,
        &url,
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", &token),
    )
    .await;
    assert_eq!(caller, assumed_role_arn(&moto));
    // Held a few seconds more: a server spinning on `accept` would burn a core meanwhile.
    TokioSleep::new().sleep(Duration::from_secs(3)).await;
    let wall = now()
        .duration_since(started)
        .unwrap_or_default()
        .as_secs_f64();
    let cpu = cpu_seconds(pid) - before;
    println!(
        "{} connections held open; server CPU {cpu:.2} s over {wall:.1} s",
        stalled.len()
    );
    assert!(
        cpu < wall * 0.5,
        "the server used {cpu:.2} s of CPU in {wall:.1} s"
    );
    drop(stalled);
    let _ = server.start_kill();
}

#[tokio::test]
async fn a_second_eval_of_env_in_the_same_shell_says_it_chains_onto_the_first() {
    let moto = Moto::enforcing();
    let home = Home::new();
    let [hop1, hop2, _] = &moto.chain_hop_arns;
    // The first eval puts hop 1's session in the shell; the second assumes hop 2 with it (hop
    // 2 trusts it): it works, and says so.
    let script = format!(
        "set -e\n\
         export AWS_ACCESS_KEY_ID='{key}' AWS_SECRET_ACCESS_KEY='{secret}' AWS_REGION='{region}' AWS_DEFAULT_REGION='{region}'\n\
         eval \"$(\"$CC\" env --role-arn {hop1} --session-name hop-1 --endpoint-url {endpoint})\"\n\
         eval \"$(\"$CC\" env --role-arn {hop2} --session-name hop-2 --endpoint-url {endpoint})\"\n\
         \"$AWS\" sts get-caller-identity --query Arn --output text",
        key = moto.base_access_key_id,
        secret = moto.base_secret_access_key,
        region = moto.region,
        endpoint = moto.endpoint,
    );
    let output = finish(shell(&home, &moto, &script)).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("assumed-role/chain-hop-2/hop-2"),
        "{}",
        stdout(&output)
    );
    let said = stderr(&output);
    assert_eq!(
        said.lines().count(),
        1,
        "one warning, by the second run: {said}"
    );
    assert!(
        said.contains("WARN") && said.contains("role chaining, at most 1 hour"),
        "{said}"
    );
}

//! `chainable-credentials exec` and `serve` as real processes, against moto with enforcement:
//! the container-credentials server read by the real clients — the AWS CLI, boto3, a Rust
//! program on aws-config (its default chain and `EcsCredentialsProvider`), the JavaScript SDK
//! v3 (its default chain, `fromHttp`, `fromContainerMetadata`) — with the token in a variable
//! or in a file; ten AWS CLI processes at once on one `AssumeRole`; a long-running boto3
//! program across refreshes with STS slowed down; and every kind of bad request refused while
//! a real client is still served.
//!
//! STS is reached through the counting fault proxy (`--endpoint-url`); the clients' own S3 and
//! STS calls go to moto directly (`AWS_ENDPOINT_URL`). The base user's keys are in `exec`'s
//! environment, where COMMAND must not see them: a client that used them would be the base
//! user, which S3 refuses.

use crate::BINARY;
use crate::support;

use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use std::collections::HashSet;
use std::time::Duration;
use support::cli::{Home, client, example_binary, finish, node_modules, stderr, stdout, venv_bin};
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

const SESSION_NAME: &str = "exec-test";

/// The binary with `args` first (`exec` or `serve` and theirs), the role's flags, STS through
/// `proxy`; the base user's keys, the region and moto's endpoint in its environment.
fn command(home: &Home, moto: &Moto, proxy: &FaultProxy, args: &[&str]) -> tokio::process::Command {
    let mut command = home.command(BINARY);
    command
        .env("AWS_ACCESS_KEY_ID", &moto.base_access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &moto.base_secret_access_key)
        .env("AWS_REGION", &moto.region)
        .env("AWS_DEFAULT_REGION", &moto.region)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("NODE_PATH", node_modules())
        .env("NODE_NO_WARNINGS", "1")
        .args(args)
        .args([
            "--role-arn",
            &moto.role_arn,
            "--session-name",
            SESSION_NAME,
            "--endpoint-url",
            &proxy.endpoint,
            "--timeout",
            "30s",
        ]);
    command
}

/// `exec [extra] -- sh -c script`.
fn exec(
    home: &Home,
    moto: &Moto,
    proxy: &FaultProxy,
    extra: &[&str],
    script: &str,
) -> tokio::process::Command {
    let mut args = vec!["exec"];
    args.extend_from_slice(extra);
    let mut command = command(home, moto, proxy, &args);
    command.args(["--", "sh", "-c", script]);
    command
}

fn assumed_role_arn(moto: &Moto) -> String {
    let role = moto.role_arn.rsplit('/').next().unwrap();
    format!(
        "arn:aws:sts::{}:assumed-role/{role}/{SESSION_NAME}",
        moto.role_arn.split(':').nth(4).unwrap()
    )
}

/// The lines `CLIENT ARN` a script printed, as (client, arn).
fn identities(output: &std::process::Output) -> Vec<(String, String)> {
    stdout(output)
        .lines()
        .filter_map(|line| line.rsplit_once(' '))
        .map(|(client, arn)| (client.to_owned(), arn.to_owned()))
        .collect()
}

/// Every client, one after another under one `exec`: the AWS CLI, boto3, the Rust program's
/// two providers, the JavaScript SDK's three.
fn every_client_script(token_in_file: bool) -> String {
    let aws = venv_bin("aws");
    let python = venv_bin("python");
    let rust = example_binary("caller_identity");
    let js = client("caller_identity.cjs");
    format!(
        "set -e\n\
         echo \"aws-cli $('{aws}' sts get-caller-identity --query Arn --output text)\"\n\
         '{python}' -c 'import boto3; print(\"boto3\", boto3.client(\"sts\").get_caller_identity()[\"Arn\"])'\n\
         '{rust}'\n\
         node '{js}'\n\
         {check}",
        aws = aws.display(),
        python = python.display(),
        rust = rust.display(),
        js = js.display(),
        check = if token_in_file {
            "test -n \"$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE\" && test -z \"$AWS_CONTAINER_AUTHORIZATION_TOKEN\"\n\
             test \"$(stat -c %a \"$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE\")\" = 600\n"
        } else {
            "test -n \"$AWS_CONTAINER_AUTHORIZATION_TOKEN\"\n"
        },
    )
}

#[tokio::test]
async fn exec_serves_the_aws_cli_boto3_aws_config_and_js_v3_one_session() {
    let moto = Moto::enforcing();
    for token_in_file in [false, true] {
        let home = Home::new();
        let proxy = FaultProxy::start(&moto.endpoint).await;
        let extra: &[&str] = if token_in_file {
            &["--token-file"]
        } else {
            &[]
        };
        let output = finish(exec(
            &home,
            &moto,
            &proxy,
            extra,
            &every_client_script(token_in_file),
        ))
        .await;
        assert!(
            output.status.success(),
            "token in a file: {token_in_file}; {}\n{}",
            stdout(&output),
            stderr(&output)
        );
        let seen = identities(&output);
        let clients: Vec<&str> = seen.iter().map(|(c, _)| c.as_str()).collect();
        let mut expected = vec![
            "aws-cli",
            "boto3",
            "default-chain",
            "EcsCredentialsProvider",
            "default-chain",
            "fromHttp",
        ];
        if !token_in_file {
            // JS v3's `fromContainerMetadata` reads no token file.
            expected.push("fromContainerMetadata");
        }
        assert_eq!(clients, expected, "{}", stdout(&output));
        for (client, arn) in &seen {
            assert_eq!(
                arn,
                &assumed_role_arn(&moto),
                "{client} is the assumed role, not the base user"
            );
        }
        assert_eq!(proxy.sts_requests(), 1, "one AssumeRole for every client");
        assert!(!stderr(&output).contains(&moto.base_secret_access_key));
    }
}

#[tokio::test]
async fn commands_environment_has_the_server_and_none_of_what_would_win_over_it() {
    let moto = Moto::enforcing();
    let home = Home::new();
    home.write_credentials(&[(
        "base",
        &moto.base_access_key_id,
        &moto.base_secret_access_key,
    )]);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    // The base from a profile, so that the environment can hold what a shell may have left
    // there: another session's keys, a profile, another container endpoint, a web identity.
    let mut command = home.command(BINARY);
    command
        .env("AWS_ACCESS_KEY_ID", "ASIAINHERITED")
        .env("AWS_SECRET_ACCESS_KEY", "inherited-secret")
        .env("AWS_SESSION_TOKEN", "inherited-token")
        .env("AWS_PROFILE", "inherited-profile")
        .env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/inherited")
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/inherited/token")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", "/inherited/token")
        .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/inherited")
        // The aliases Go v2 and Java read before the container endpoint, and JS v2's.
        .env("AWS_ACCESS_KEY", "AKIAINHERITEDALIAS")
        .env("AWS_SECRET_KEY", "inherited-alias-secret")
        .env("AWS_CREDENTIAL_FILE", "/inherited/ec2-credentials")
        .env(
            "AWS_CREDENTIAL_PROFILES_FILE",
            "/inherited/java-v1-credentials",
        )
        .env("AMAZON_ACCESS_KEY_ID", "AKIAINHERITEDAMAZON")
        .env("AMAZON_SECRET_ACCESS_KEY", "inherited-amazon-secret")
        .env("BOTO_CONFIG", "/inherited/boto.cfg")
        .env("AWS_ACCOUNT_ID", "999999999999")
        .args([
            "exec",
            "--source-profile",
            "base",
            "--region",
            &moto.region,
            "--role-arn",
            &moto.role_arn,
            "--endpoint-url",
            &proxy.endpoint,
            "--",
            "env",
        ]);
    let output = finish(command).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let env = stdout(&output);
    let names: HashSet<&str> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, _)| n)
        .collect();
    for removed in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ACCESS_KEY",
        "AWS_SECRET_KEY",
        "AWS_CREDENTIAL_FILE",
        "AWS_CREDENTIAL_PROFILES_FILE",
        "AMAZON_ACCESS_KEY_ID",
        "AMAZON_SECRET_ACCESS_KEY",
        "BOTO_CONFIG",
        "AWS_ACCOUNT_ID",
        "CHAINABLE_CREDENTIALS_STACK",
    ] {
        assert!(!names.contains(removed), "{removed} reached COMMAND");
    }
    for set in [
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    ] {
        assert!(names.contains(set), "{set} is not set");
    }
    let uri = env
        .lines()
        .find_map(|l| l.strip_prefix("AWS_CONTAINER_CREDENTIALS_FULL_URI="))
        .unwrap();
    assert!(
        uri.starts_with("http://127.0.0.1:") && uri.ends_with("/credentials"),
        "{uri}"
    );
    // (The test harness's own fixture variables, CC_*, pass through: only AWS_* are looked at.)
    let aws_lines: Vec<&str> = env.lines().filter(|l| l.starts_with("AWS_")).collect();
    assert!(
        !aws_lines
            .iter()
            .any(|l| l.contains(&moto.base_secret_access_key) || l.contains("inherited")),
        "{aws_lines:?}"
    );
    // The first session was fetched before COMMAND started, though COMMAND asked for nothing.
    assert_eq!(proxy.sts_requests(), 1);
}

#[tokio::test]
async fn ten_aws_cli_processes_started_at_once_make_one_assume_role() {
    let moto = Moto::enforcing();
    let home = Home::new();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let aws = venv_bin("aws");
    let script = format!(
        "for i in 1 2 3 4 5 6 7 8 9 10; do \
           '{aws}' s3 ls > \"$OUT/ls.$i\" 2>&1 & \
         done; wait",
        aws = aws.display()
    );
    let out = tempfile::tempdir().unwrap();
    let mut command = exec(&home, &moto, &proxy, &[], &script);
    command.env("OUT", out.path());
    let output = finish(command).await;
    assert!(output.status.success(), "{}", stderr(&output));
    for i in 1..=10 {
        let listed = std::fs::read_to_string(out.path().join(format!("ls.{i}"))).unwrap();
        assert!(listed.contains(&moto.bucket), "run {i}: {listed}");
    }
    assert_eq!(proxy.sts_requests(), 1, "10 processes, 1 AssumeRole");
}

#[tokio::test]
async fn exit_codes_signals_and_a_command_that_cannot_run() {
    let moto = Moto::enforcing();
    let home = Home::new();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    for (script, code) in [("exit 7", 7), ("kill -TERM $$", 128 + 15), ("true", 0)] {
        let output = finish(exec(&home, &moto, &proxy, &[], script)).await;
        assert_eq!(
            output.status.code(),
            Some(code),
            "{script}: {}",
            stderr(&output)
        );
    }
    let mut missing = command(&home, &moto, &proxy, &["exec"]);
    missing.args(["--", "/nonexistent/command"]);
    let output = finish(missing).await;
    assert_eq!(output.status.code(), Some(127), "{}", stderr(&output));
    assert!(stderr(&output).contains("cannot run /nonexistent/command"));

    // SIGTERM to `exec` reaches COMMAND, which ends as it chooses; `exec` exits with its code.
    let marker = tempfile::tempdir().unwrap();
    let ready = marker.path().join("ready");
    let script = format!(
        "trap 'echo got-term; exit 3' TERM; touch '{}'; while true; do sleep 0.1; done",
        ready.display()
    );
    let child = exec(&home, &moto, &proxy, &[], &script)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..300 {
        if ready.exists() {
            break;
        }
        TokioSleep::new().sleep(Duration::from_millis(100)).await;
    }
    assert!(ready.exists(), "COMMAND started");
    send(&child, "-TERM");
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("exec ends after COMMAND")
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "got-term");

    // No session: COMMAND never runs, and the reason is one line.
    let ran = marker.path().join("ran");
    let mut refused = home.command(BINARY);
    refused.args([
        "exec",
        "--role-arn",
        &moto.role_arn,
        "--endpoint-url",
        &proxy.endpoint,
        "--",
        "touch",
        ran.to_str().unwrap(),
    ]);
    let output = finish(refused).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no base credentials"),
        "{}",
        stderr(&output)
    );
    assert!(!ran.exists(), "COMMAND did not run without a session");
}

/// Sends `signal` (`-TERM`, `-INT`) to `child` with the real `kill`, as a shell or a service
/// manager would.
fn send(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("still running").to_string();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}

/// Sends `signal` to `child` and waits (20 s at most) for its exit code.
async fn stop(child: &mut tokio::process::Child, signal: &str) -> Option<i32> {
    send(child, signal);
    tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("it exits after the signal")
        .unwrap()
        .code()
}

/// How long the slowed STS takes to answer a refresh: a request that waited for one would
/// take at least this long.
const STS_LATENCY: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_running_child_works_across_refreshes_and_no_request_waits_for_sts() {
    let moto = Moto::enforcing();
    let home = Home::new();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.then(Fault::Pass);
    proxy.always(Fault::Latency(STS_LATENCY));
    // 30-second sessions: refreshed in the background every 10 to 20 seconds or so.
    proxy.shorten_sessions(Duration::from_secs(30));
    let script = format!(
        "'{python}' '{program}' 50 0.5",
        python = venv_bin("python").display(),
        program = client("boto3_loop.py").display()
    );
    let output = finish(exec(
        &home,
        &moto,
        &proxy,
        &["--verbose", "--no-cache"],
        &script,
    ))
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let calls: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(calls.len() >= 40, "{} calls", calls.len());
    let failed: Vec<_> = calls.iter().filter(|c| c["ok"] != true).collect();
    assert!(failed.is_empty(), "failed calls: {failed:?}");
    let keys: HashSet<&str> = calls.iter().filter_map(|c| c["key"].as_str()).collect();
    assert!(
        keys.len() >= 2,
        "the program moved to a refreshed session: {keys:?}"
    );
    assert!(
        proxy.sts_requests() >= 3,
        "{} STS calls",
        proxy.sts_requests()
    );
    // The server's log line of every request it answered: none took as long as STS does.
    let log = stderr(&output);
    let took: Vec<u64> = log
        .lines()
        .filter(|line| line.contains(" request ") && line.contains("outcome=\"served\""))
        .filter_map(|line| {
            line.split("took_us=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(
        took.len() >= calls.len() / 2,
        "{} served requests logged",
        took.len()
    );
    let slowest = Duration::from_micros(*took.iter().max().unwrap());
    println!(
        "{} calls, {} sessions seen by the program, {} STS calls, {} served requests, slowest {slowest:?}",
        calls.len(),
        keys.len(),
        proxy.sts_requests(),
        took.len()
    );
    assert!(
        slowest < STS_LATENCY,
        "a request waited for STS: {slowest:?}"
    );
    assert!(!log.contains(&moto.base_secret_access_key));
}

/// `serve`, running: its variables, and its standard error once it has ended.
struct Serving {
    child: tokio::process::Child,
    url: String,
    token: String,
    errors: tokio::task::JoinHandle<String>,
}

/// `serve --foreground -v`, its shell lines read: `unset ...`, the two variables, the process
/// id.
async fn serve(home: &Home, moto: &Moto, proxy: &FaultProxy) -> Serving {
    let mut child = command(home, moto, proxy, &["serve", "--foreground", "--verbose"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut errors = child.stderr.take().unwrap();
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = errors.read_to_string(&mut text).await;
        text
    });
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut variables = Vec::new();
    for index in 0..4 {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("serve prints its variables")
            .unwrap()
            .expect("a line");
        if index == 0 {
            assert!(line.starts_with("unset AWS_ACCESS_KEY_ID "), "{line}");
            continue;
        }
        let (name, value) = line
            .strip_prefix("export ")
            .and_then(|rest| rest.split_once('='))
            .unwrap_or_else(|| panic!("not an export line: {line:?}"));
        variables.push((name.to_owned(), value.trim_matches('\'').to_owned()));
    }
    let value = |name: &str| variables.iter().find(|(n, _)| n == name).unwrap().1.clone();
    Serving {
        url: value("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        token: value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        child,
        errors,
    }
}

/// Sends `request` on a new connection and reads the status line of the answer (`None`: the
/// server closed the connection without one).
async fn status_of(address: &str, request: &[u8]) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_every_bad_request_while_a_real_client_is_served() {
    let moto = Moto::enforcing();
    let home = Home::new();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let serving = serve(&home, &moto, &proxy).await;
    let address = serving
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let token = serving.token.clone();
    assert_eq!(token.len(), 64, "32 random bytes, hex");
    let get = |host: &str, authorization: Option<&str>, method: &str, path: &str| {
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if let Some(value) = authorization {
            request.push_str(&format!("Authorization: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.into_bytes()
    };
    let shorter = &token[..token.len() - 1];
    let longer = format!("{token}0");
    let cases: Vec<(&str, Vec<u8>, Option<u16>)> = vec![
        (
            "served",
            get(&address, Some(&token), "GET", "/credentials"),
            Some(200),
        ),
        (
            "no token",
            get(&address, None, "GET", "/credentials"),
            Some(401),
        ),
        (
            "a wrong token",
            get(&address, Some(&"0".repeat(64)), "GET", "/credentials"),
            Some(403),
        ),
        (
            "a shorter token",
            get(&address, Some(shorter), "GET", "/credentials"),
            Some(403),
        ),
        (
            "a longer token",
            get(&address, Some(&longer), "GET", "/credentials"),
            Some(403),
        ),
        (
            "a foreign Host",
            get("attacker.example", Some(&token), "GET", "/credentials"),
            Some(421),
        ),
        (
            "POST",
            get(&address, Some(&token), "POST", "/credentials"),
            Some(405),
        ),
        (
            "another path",
            get(&address, Some(&token), "GET", "/"),
            Some(404),
        ),
        (
            "a query",
            get(&address, Some(&token), "GET", "/credentials?role=admin"),
            Some(404),
        ),
    ];
    for (what, request, expected) in &cases {
        assert_eq!(status_of(&address, request).await, *expected, "{what}");
    }
    // A 1 MiB header: refused (431) or cut off, never served.
    let mut huge = format!(
        "GET /credentials HTTP/1.1\r\nHost: {address}\r\nAuthorization: {token}\r\nX-Padding: "
    )
    .into_bytes();
    huge.extend(std::iter::repeat_n(b'a', 1 << 20));
    huge.extend_from_slice(b"\r\n\r\n");
    let status = status_of(&address, &huge).await;
    assert!(
        matches!(status, None | Some(431)),
        "a 1 MiB header: {status:?}"
    );

    // 500 connections that never finish their headers; then a real client, still served.
    let mut stalled = Vec::new();
    for _ in 0..500 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /credentials HTTP/1.1\r\nHost: ")
            .await
            .unwrap();
        stalled.push(stream);
    }
    let caller = tokio::time::timeout(
        Duration::from_secs(60),
        crate::first_use::aws_cli_caller(
            &home,
            &moto,
            &serving.url,
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", &token),
        ),
    )
    .await
    .expect("the AWS CLI was served");
    assert_eq!(caller, assumed_role_arn(&moto));
    // The cap held: the server closed most of the stalled connections to make room.
    let mut closed = 0;
    for stream in &mut stalled {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(20), stream.read(&mut byte)).await
        {
            closed += 1;
        }
    }
    println!("{closed} of 500 stalled connections closed by the server to make room");
    assert!(
        closed >= 500 - 256,
        "{closed} of 500 stalled connections closed"
    );
    drop(stalled);

    let Serving {
        mut child, errors, ..
    } = serving;
    assert_eq!(stop(&mut child, "-TERM").await, Some(0));
    let log = errors.await.unwrap();
    for outcome in [
        "served",
        "no token",
        "wrong token",
        "another host",
        "not GET",
        "another path",
    ] {
        assert!(
            log.contains(&format!("outcome=\"{outcome}\"")),
            "{outcome} not logged:\n{log}"
        );
    }
    assert!(!log.contains(&token), "the token is in the log");
    assert!(!log.contains(&moto.base_secret_access_key));
    assert!(
        !log.contains("SecretAccessKey") && !log.contains("Token\":"),
        "{log}"
    );
    assert_eq!(proxy.sts_requests(), 1);
}

#[tokio::test]
async fn serve_prints_its_shell_lines_and_with_a_token_file_no_token() {
    let moto = Moto::enforcing();
    let home = Home::new();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let mut child = command(
        &home,
        &moto,
        &proxy,
        &[
            "serve",
            "--foreground",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
    )
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for _ in 0..4 {
        printed.push(
            tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
        );
    }
    // What would win over the server is unset first, in one line (the list is the code's).
    assert!(
        printed[0].starts_with("unset ")
            && printed[0].contains(" AWS_PROFILE ")
            && printed[0].contains(" AWS_ACCESS_KEY ")
            && printed[0].contains(" AWS_SECRET_KEY "),
        "{printed:?}"
    );
    assert!(
        printed[1].starts_with("export AWS_CONTAINER_CREDENTIALS_FULL_URI='http://127.0.0.1:"),
        "{printed:?}"
    );
    assert_eq!(
        printed[2],
        format!(
            "export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE='{}'",
            token_file.display()
        )
    );
    assert_eq!(
        printed[3],
        format!("export CHAINABLE_CREDENTIALS_PID='{}'", child.id().unwrap())
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().len(), 64);
    assert_eq!(stop(&mut child, "-INT").await, Some(0));
    assert_eq!(
        lines.next_line().await.unwrap(),
        None,
        "nothing else on standard output"
    );
    assert!(!token_file.exists(), "the token file is removed at the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_valid_session_the_server_answers_503_and_serves_again_once_sts_is_back() {
    let moto = Moto::enforcing();
    let home = Home::new();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    // The first session lasts 8 seconds; every refresh fails until STS is back.
    proxy.then(Fault::Pass);
    proxy.always(Fault::Status(503, "ServiceUnavailable"));
    proxy.shorten_sessions(Duration::from_secs(8));
    let serving = serve(&home, &moto, &proxy).await;
    let address = serving
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let request = format!(
        "GET /credentials HTTP/1.1\r\nHost: {address}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        serving.token
    );
    let answer = || async {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        text
    };
    let until = |wanted: &'static str| async move {
        for _ in 0..900 {
            let text = answer().await;
            if text.starts_with(wanted) {
                return text;
            }
            TokioSleep::new().sleep(Duration::from_millis(100)).await;
        }
        panic!("no {wanted:?} answer within 90 s");
    };
    let unavailable = until("HTTP/1.1 503").await;
    let body = &unavailable[unavailable.find("\r\n\r\n").unwrap() + 4..];
    let error: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["code"], "CredentialsUnavailable");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("ServiceUnavailable"),
        "{error}"
    );
    let calls_while_down = proxy.sts_requests();
    proxy.always(Fault::Pass);
    let served = until("HTTP/1.1 200").await;
    assert!(served.contains("\"AccessKeyId\":\"ASIA"), "a session again");
    assert!(
        proxy.sts_requests() > calls_while_down,
        "STS was asked again"
    );
    let Serving {
        mut child, errors, ..
    } = serving;
    let _ = child.start_kill();
    let log = errors.await.unwrap();
    assert!(log.contains("outcome=\"no session\""), "{log}");
}

//! The `chainable-credentials` binary as the AWS CLI runs it — a separate process each time —
//! against moto with enforcement: the exact `credential_process` JSON, one STS call for eight
//! processes starting together, a private cache that survives damage and separates source
//! users, `env` lines, chains, one-line errors, recursion detection, and aws-config's own
//! `credential_process` provider reading it.
//!
//! STS is reached through the fault proxy (passing everything through) to count the calls.

use crate::BINARY;
use crate::support;

use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use support::cli::{Home, credentials_json, finish, shell_words, stderr, stdout};
use support::fault_proxy::FaultProxy;
use support::moto::Moto;

/// A home whose credentials file has the base user (profile `base`) and the other user
/// (profile `other`), with STS behind a counting proxy.
async fn setup() -> (Moto, Home, FaultProxy) {
    let moto = Moto::enforcing();
    let home = Home::new();
    home.write_credentials(&[
        (
            "base",
            &moto.base_access_key_id,
            &moto.base_secret_access_key,
        ),
        (
            "other",
            &moto.other_access_key_id,
            &moto.other_secret_access_key,
        ),
    ]);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    (moto, home, proxy)
}

/// `credential-process` for the S3 role with the given source profile, via the proxy.
fn role_args<'a>(moto: &'a Moto, proxy: &'a FaultProxy, profile: &'a str) -> Vec<&'a str> {
    vec![
        "credential-process",
        "--source-profile",
        profile,
        "--role-arn",
        &moto.role_arn,
        "--session-name",
        "cli-test",
        "--region",
        &moto.region,
        "--endpoint-url",
        &proxy.endpoint,
        // Generous: a process that waits for another's STS call waits up to half of it, and
        // moto answers slowly while other tests load it.
        "--timeout",
        "30s",
    ]
}

/// `args` with `extra` (flags and their values): a flag `args` already has gets the new value
/// (clap refuses most flags twice), others are added.
fn with_flags<'a>(mut args: Vec<&'a str>, extra: &[&'a str]) -> Vec<&'a str> {
    let mut rest = extra.iter().copied().peekable();
    while let Some(flag) = rest.next() {
        let value = rest.next_if(|next| !next.starts_with("--"));
        match (args.iter().position(|a| *a == flag), value) {
            (Some(at), Some(value)) if flag != "--tag" => args[at + 1] = value,
            (_, value) => {
                args.push(flag);
                args.extend(value);
            }
        }
    }
    args
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn prints_exactly_the_credential_process_json_and_the_credentials_work() {
    let (moto, home, proxy) = setup().await;
    let output = home.run(BINARY, &role_args(&moto, &proxy, "base")).await;
    let json = credentials_json(&output);
    assert!(stderr(&output).is_empty(), "stderr: {}", stderr(&output));
    assert_eq!(
        stdout(&output).lines().count(),
        1,
        "one line of JSON and nothing else"
    );

    let object = json.as_object().unwrap();
    let mut keys: Vec<_> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "AccessKeyId",
            "AccountId",
            "Expiration",
            "SecretAccessKey",
            "SessionToken",
            "Version"
        ]
    );
    assert_eq!(json["Version"], 1);
    assert_eq!(
        json["AccountId"], "123456789012",
        "from the assumed role's ARN"
    );
    assert!(json["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    let expiration = aws_smithy_types::DateTime::from_str(
        json["Expiration"].as_str().unwrap(),
        aws_smithy_types::date_time::Format::DateTime,
    )
    .expect("Expiration is RFC 3339");
    // Measured to the millisecond: truncating both ends to whole seconds made it read 3601
    // once.
    let left = expiration.as_secs_f64()
        - aws_smithy_types::DateTime::from(SystemTimeSource::new().now()).as_secs_f64();
    let lead = 0.02;
    assert!(
        left > 3500.0 && left <= 3600.0 + lead,
        "about an hour left: {left} s"
    );

    // Under enforcement the base user may not list buckets; the printed session may.
    let buckets = moto
        .bucket_names(support::cli::printed_credentials(&json))
        .await;
    assert!(buckets.contains(&moto.bucket), "{buckets:?}");
    assert_eq!(proxy.sts_requests(), 1);
}

#[tokio::test]
async fn eight_processes_starting_together_make_one_sts_call_and_share_a_private_entry() {
    let (moto, home, proxy) = setup().await;
    let args = role_args(&moto, &proxy, "base");
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let mut command = home.command(BINARY);
            command.args(&args);
            tokio::spawn(finish(command))
        })
        .collect();
    let mut key_ids = Vec::new();
    for run in runs {
        let json = credentials_json(&run.await.unwrap());
        key_ids.push(json["AccessKeyId"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        proxy.sts_requests(),
        1,
        "one AssumeRole for eight processes"
    );
    assert!(key_ids.iter().all(|k| *k == key_ids[0]), "{key_ids:?}");

    let dir = home.cache_dir();
    assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    for path in fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
        assert_eq!(
            fs::metadata(&path).unwrap().mode() & 0o777,
            0o600,
            "{}",
            path.display()
        );
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&moto.base_secret_access_key),
            "no base secret on disk"
        );
        assert!(
            !path.to_string_lossy().contains(&moto.base_access_key_id),
            "the key is hashed into the name"
        );
    }
    assert_eq!(entries(&dir).len(), 1);
}

#[tokio::test]
async fn a_corrupted_entry_is_replaced_without_an_error() {
    let (moto, home, proxy) = setup().await;
    let args = role_args(&moto, &proxy, "base");
    let first = credentials_json(&home.run(BINARY, &args).await);
    let entry = entries(&home.cache_dir()).remove(0);
    let text = fs::read_to_string(&entry).unwrap();
    fs::write(&entry, &text[..text.len() / 3]).unwrap();

    let output = home.run(BINARY, &args).await;
    let second = credentials_json(&output);
    assert!(
        stderr(&output).is_empty(),
        "no complaint: {}",
        stderr(&output)
    );
    assert_ne!(second["AccessKeyId"], first["AccessKeyId"]);
    assert_eq!(proxy.sts_requests(), 2);
    let replaced: serde_json::Value = serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
    assert_eq!(replaced["AccessKeyId"], second["AccessKeyId"]);
    assert_eq!(fs::metadata(&entry).unwrap().mode() & 0o777, 0o600);

    let third = credentials_json(&home.run(BINARY, &args).await);
    assert_eq!(third["AccessKeyId"], second["AccessKeyId"]);
    assert_eq!(proxy.sts_requests(), 2);
}

#[tokio::test]
async fn another_source_users_entry_is_not_used() {
    let (moto, home, proxy) = setup().await;
    let mine = credentials_json(&home.run(BINARY, &role_args(&moto, &proxy, "base")).await);
    let theirs = credentials_json(&home.run(BINARY, &role_args(&moto, &proxy, "other")).await);
    assert_ne!(mine["AccessKeyId"], theirs["AccessKeyId"]);
    assert_eq!(
        proxy.sts_requests(),
        2,
        "the other user got its own session"
    );
    assert_eq!(
        entries(&home.cache_dir()).len(),
        2,
        "one entry per source user"
    );
    // Each keeps using its own.
    let mine_again = credentials_json(&home.run(BINARY, &role_args(&moto, &proxy, "base")).await);
    assert_eq!(mine_again["AccessKeyId"], mine["AccessKeyId"]);
    assert_eq!(proxy.sts_requests(), 2);
}

#[tokio::test]
async fn no_cache_calls_sts_every_time_and_writes_nothing() {
    let (moto, home, proxy) = setup().await;
    let mut args = role_args(&moto, &proxy, "base");
    args.push("--no-cache");
    let a = credentials_json(&home.run(BINARY, &args).await);
    let b = credentials_json(&home.run(BINARY, &args).await);
    assert_ne!(a["AccessKeyId"], b["AccessKeyId"]);
    assert_eq!(proxy.sts_requests(), 2);
    assert!(!home.cache_dir().exists());
}

#[tokio::test]
async fn env_prints_export_lines_that_a_shell_can_use() {
    let (moto, home, proxy) = setup().await;
    let mut args = role_args(&moto, &proxy, "base");
    args[0] = "env";
    let output = home.run(BINARY, &args).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let lines = stdout(&output);
    let names: Vec<_> = lines
        .lines()
        .map(|l| l.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "export AWS_ACCESS_KEY_ID",
            "export AWS_SECRET_ACCESS_KEY",
            "export AWS_SESSION_TOKEN",
            "export AWS_CREDENTIAL_EXPIRATION"
        ]
    );
    // A shell evaluates them: the same session the cache now holds.
    let mut shell = home.command("sh");
    shell
        .arg("-c")
        .arg(format!("{lines}\nprintf %s \"$AWS_ACCESS_KEY_ID\""));
    let evaluated = finish(shell).await;
    let cached = credentials_json(&home.run(BINARY, &role_args(&moto, &proxy, "base")).await);
    assert_eq!(stdout(&evaluated), cached["AccessKeyId"].as_str().unwrap());
    assert_eq!(proxy.sts_requests(), 1);
}

#[tokio::test]
async fn a_chain_of_two_roles_is_cached_hop_by_hop() {
    let (moto, home, proxy) = setup().await;
    let [hop1, hop2, _] = &moto.chain_hop_arns;
    let args = [
        "credential-process",
        "--source-profile",
        "base",
        "--role-arn",
        hop1,
        "--chain",
        hop2,
        // Hop 2 trusts the session of hop 1 named `hop-1`.
        "--session-name",
        "hop-1",
        "--region",
        &moto.region,
        "--endpoint-url",
        &proxy.endpoint,
    ];
    let json = credentials_json(&home.run(BINARY, &args).await);
    assert_eq!(proxy.sts_requests(), 2, "one AssumeRole per hop");
    let arn = moto
        .caller_arn(support::cli::printed_credentials(&json))
        .await;
    assert!(arn.ends_with(":assumed-role/chain-hop-2/hop-1"), "{arn}");
    let again = credentials_json(&home.run(BINARY, &args).await);
    assert_eq!(again["AccessKeyId"], json["AccessKeyId"]);
    assert_eq!(proxy.sts_requests(), 2, "both hops came from the cache");
}

/// Every failure: exit code non-zero, nothing on stdout, one line on stderr without secrets.
fn assert_failed_with(output: &std::process::Output, code: i32, needle: &str, moto: &Moto) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {err}");
    assert!(output.stdout.is_empty(), "stdout: {}", stdout(output));
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("chainable-credentials: "), "{err}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    assert!(!err.contains(&moto.base_secret_access_key));
}

#[tokio::test]
async fn failures_are_one_line_on_stderr_with_a_non_zero_exit() {
    let (moto, home, proxy) = setup().await;

    let mut bad_duration = role_args(&moto, &proxy, "base");
    bad_duration.extend(["--duration", "10m"]);
    // A flag's value the builder refuses is a bad command line (exit 2), as clap's are.
    assert_failed_with(
        &home.run(BINARY, &bad_duration).await,
        2,
        "--duration",
        &moto,
    );

    let mut zero_timeout = role_args(&moto, &proxy, "base");
    *zero_timeout.last_mut().unwrap() = "0";
    assert_failed_with(
        &home.run(BINARY, &zero_timeout).await,
        2,
        "--timeout",
        &moto,
    );

    let mut bad_flag = role_args(&moto, &proxy, "base");
    bad_flag.push("--no-such-flag");
    assert_failed_with(
        &home.run(BINARY, &bad_flag).await,
        2,
        "--no-such-flag",
        &moto,
    );

    let missing_profile = role_args(&moto, &proxy, "no-such-profile");
    assert_failed_with(
        &home.run(BINARY, &missing_profile).await,
        1,
        "no-such-profile",
        &moto,
    );

    // STS refuses: chain-hop-2 does not trust the base user.
    let mut refused = role_args(&moto, &proxy, "base");
    refused[4] = &moto.chain_hop_arns[1];
    assert_failed_with(&home.run(BINARY, &refused).await, 1, "AccessDenied", &moto);

    // STS rejects the signature of a wrong secret.
    home.write_credentials(&[("base", &moto.base_access_key_id, "not-the-secret-key")]);
    let output = home.run(BINARY, &role_args(&moto, &proxy, "base")).await;
    assert_failed_with(&output, 1, "AssumeRole", &moto);
    assert!(!stderr(&output).contains("not-the-secret-key"));
    assert!(!home.cache_dir().exists() || entries(&home.cache_dir()).is_empty());
}

#[tokio::test]
async fn a_profile_whose_credential_process_calls_itself_fails_with_one_line() {
    let (moto, home, proxy) = setup().await;
    // `loop`'s credential_process asks for `loop`'s credentials again.
    let looping = format!(
        "{BINARY} credential-process --source-profile loop --role-arn {} --region {} \
         --endpoint-url {}",
        moto.role_arn, moto.region, proxy.endpoint
    );
    home.write_config(&format!("[profile loop]\ncredential_process = {looping}\n"));
    let output = home.run(BINARY, &role_args(&moto, &proxy, "loop")).await;
    assert_failed_with(&output, 1, "recursion", &moto);
    assert!(
        stderr(&output).contains("profile loop"),
        "{}",
        stderr(&output)
    );
    assert_eq!(proxy.sts_requests(), 0);
}

#[tokio::test]
async fn secrets_are_not_printed_to_a_terminal_unless_asked() {
    let (moto, home, proxy) = setup().await;
    let mut args = role_args(&moto, &proxy, "base");
    args.push("--no-cache");
    // `script` runs the command with its standard output on a pseudo-terminal.
    let in_terminal = |extra: &[&str]| {
        let line = shell_words(
            std::iter::once(BINARY)
                .chain(args.iter().copied())
                .chain(extra.iter().copied()),
        );
        let mut script = home.command("script");
        script.args(["--quiet", "--return", "--command", &line, "/dev/null"]);
        finish(script)
    };
    let refused = in_terminal(&[]).await;
    assert!(!refused.status.success());
    let text = stdout(&refused);
    assert!(text.contains("standard output is a terminal"), "{text}");
    assert!(!text.contains("SecretAccessKey"), "{text}");
    assert_eq!(proxy.sts_requests(), 0, "refused before calling STS");

    let allowed = in_terminal(&["--allow-terminal"]).await;
    assert!(allowed.status.success(), "{}", stdout(&allowed));
    assert!(stdout(&allowed).contains("\"SecretAccessKey\""));
}

#[tokio::test]
async fn aws_sdk_rusts_own_credential_process_provider_reads_it() {
    let (moto, home, proxy) = setup().await;
    // aws-config runs the command line with `sh -c`, in this process's environment: `env -u`
    // takes the shell's AWS_* variables out of it, and the home's files are passed on the
    // command line.
    let unset: String = support::environment::aws_variables()
        .iter()
        .map(|var| format!("-u {} ", var.to_string_lossy()))
        .collect();
    let command = format!(
        "env {unset}AWS_CONFIG_FILE='{}' AWS_SHARED_CREDENTIALS_FILE='{}' XDG_CACHE_HOME='{}' \
         {BINARY} {}",
        home.config_file().display(),
        home.credentials_file().display(),
        home.cache_dir().parent().unwrap().display(),
        shell_words(role_args(&moto, &proxy, "base")),
    );
    for _ in 0..2 {
        let provider =
            aws_config::credential_process::CredentialProcessProvider::new(command.clone());
        assert!(moto.bucket_names(provider).await.contains(&moto.bucket));
    }
    assert_eq!(
        proxy.sts_requests(),
        1,
        "the second provider read the disk cache"
    );
}

#[tokio::test]
async fn without_source_profile_the_default_chain_supplies_the_base_credentials() {
    let (moto, home, proxy) = setup().await;
    let args = [
        "credential-process",
        "--role-arn",
        &moto.role_arn,
        "--region",
        &moto.region,
        "--endpoint-url",
        &proxy.endpoint,
        "--no-cache",
    ];
    // Keys in the environment (the chain's first link).
    let mut from_env = home.command(BINARY);
    from_env
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &moto.base_access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &moto.base_secret_access_key);
    credentials_json(&finish(from_env).await);
    // No keys in the environment: the chain goes on to the profile named by AWS_PROFILE.
    let mut from_profile = home.command(BINARY);
    from_profile.args(args).env("AWS_PROFILE", "other");
    credentials_json(&finish(from_profile).await);
    // Neither: a one-line error.
    let output = home.run(BINARY, &args).await;
    assert_failed_with(&output, 1, "credentials", &moto);
    assert_eq!(proxy.sts_requests(), 2);
}

/// Runs `command` with a standard input that is open but never sends, and waits at most
/// `bound` for it to end: `None` if it was still running then (it is killed on drop).
async fn with_silent_stdin(
    mut command: tokio::process::Command,
    bound: std::time::Duration,
) -> Option<std::process::Output> {
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    let output = tokio::time::timeout(bound, child.wait_with_output()).await;
    drop(stdin);
    output.ok().map(Result::unwrap)
}

/// MFA role arguments with a short `--timeout`, so that a prompt nobody answers times out.
fn mfa_args<'a>(moto: &'a Moto, proxy: &'a FaultProxy) -> Vec<&'a str> {
    let mut args = role_args(moto, proxy, "base");
    let timeout = args.iter().position(|a| *a == "--timeout").unwrap();
    args[timeout + 1] = "2s";
    args.extend([
        "--mfa-serial",
        "arn:aws:iam::123456789012:mfa/laptop",
        "--no-cache",
    ]);
    args
}

#[tokio::test]
async fn without_a_terminal_an_mfa_code_is_not_waited_for() {
    let (moto, home, proxy) = setup().await;
    // `setsid` runs it without a controlling terminal; its standard input is a pipe that never
    // sends: nobody is there to type, so it fails at once instead of reading the pipe.
    let mut command = home.command("setsid");
    command
        .arg("--wait")
        .arg(BINARY)
        .args(mfa_args(&moto, &proxy));
    let output = with_silent_stdin(command, std::time::Duration::from_secs(60))
        .await
        .expect("the command ended");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("no terminal to ask for the MFA code"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(!text.contains("MFA code for"), "no prompt: {text}");
    assert_eq!(proxy.sts_requests(), 0);
}

#[tokio::test]
async fn a_prompt_nobody_answers_ends_the_command_at_its_timeout() {
    let (moto, home, proxy) = setup().await;
    // `script` gives it a terminal on which nobody types. Before the fix the process printed
    // its timeout error and then stayed, its runtime waiting for the blocked read.
    let line = shell_words(
        std::iter::once(BINARY)
            .chain(mfa_args(&moto, &proxy))
            .chain(["--allow-terminal"]),
    );
    let mut command = home.command("script");
    command.args(["--quiet", "--return", "--command", &line, "/dev/null"]);
    let output = with_silent_stdin(command, std::time::Duration::from_secs(60))
        .await
        .expect("the command ended after its 2 s timeout, not when its input closed");
    assert_eq!(output.status.code(), Some(1));
    // `script` puts the command's standard error on the terminal, i.e. its own output.
    let text = stdout(&output);
    assert!(
        text.contains("MFA code for arn:aws:iam::123456789012:mfa/laptop"),
        "{text}"
    );
    assert!(
        text.contains("timed out") || text.contains("timeout"),
        "{text}"
    );
    // The error starts on a line of its own, not after the unanswered prompt.
    let error_line = text
        .lines()
        .find(|line| line.contains("chainable-credentials:"))
        .unwrap_or_else(|| panic!("no error line in {text:?}"));
    assert!(!error_line.contains("MFA code for"), "{text:?}");
    assert_eq!(proxy.sts_requests(), 0);
}

#[tokio::test]
async fn every_invalid_flag_value_is_exit_code_2_and_anything_else_1() {
    let (moto, home, proxy) = setup().await;
    let policy_file = home.config_file().with_file_name("missing.json");
    let missing_policy = format!("@{}", policy_file.display());
    let cases: &[(&[&str], &str)] = &[
        (&["--duration", "1hour"], "--duration"),
        (&["--duration", "13h"], "--duration"),
        (&["--duration", "0"], "--duration"),
        (&["--tag", "K"], "--tag"),
        (&["--tag", "a=1", "--tag", "a=2"], "--tag"),
        (&["--timeout", "1x"], "--timeout"),
        (&["--timeout", "0"], "--timeout"),
        (&["--region", "us east"], "--region"),
        (&["--endpoint-url", "127.0.0.1:33563"], "--endpoint-url"),
        (&["--role-arn", "not-an-arn"], "--role-arn"),
        (&["--policy", &missing_policy], "--policy"),
        (&["--session-name", "bad name"], "--session-name"),
    ];
    for (extra, flag) in cases {
        let args = with_flags(role_args(&moto, &proxy, "base"), extra);
        let output = home.run(BINARY, &args).await;
        assert_failed_with(&output, 2, flag, &moto);
        assert!(
            !stderr(&output).contains("cannot be used multiple times"),
            "{}",
            stderr(&output)
        );
    }
    let zero = home
        .run(
            BINARY,
            &with_flags(role_args(&moto, &proxy, "base"), &["--duration", "0"]),
        )
        .await;
    assert!(stderr(&zero).contains("got 0 seconds"), "{}", stderr(&zero));
    assert_eq!(proxy.sts_requests(), 0, "refused before any STS call");
    // Not the command line: STS refuses (the base user may not assume chain-hop-2).
    let mut refused = role_args(&moto, &proxy, "base");
    refused[4] = &moto.chain_hop_arns[1];
    assert_failed_with(&home.run(BINARY, &refused).await, 1, "AccessDenied", &moto);
}

#[tokio::test]
async fn clap_s_whole_message_is_kept_on_one_line() {
    let (moto, home, proxy) = setup().await;
    let output = home
        .run(
            BINARY,
            &["credential-process", "--chain", &moto.chain_hop_arns[0]],
        )
        .await;
    assert_failed_with(&output, 2, "--role-arn", &moto);
    let output = home.run(BINARY, &[]).await;
    assert_failed_with(&output, 2, "a subcommand is required", &moto);
    assert!(
        !stderr(&output).contains("Temporary AWS credentials"),
        "not the tool's description: {}",
        stderr(&output)
    );
    let help = home.run(BINARY, &["credential-process", "--help"]).await;
    assert!(help.status.success());
    assert!(stdout(&help).contains("Exit codes: 0"), "{}", stdout(&help));
    assert!(
        stdout(&help).contains("give --region on the credential_process line"),
        "the region rule is in --help: {}",
        stdout(&help)
    );
    assert_eq!(proxy.sts_requests(), 0);
}

#[tokio::test]
async fn verbose_shows_a_cache_hit_and_warnings_show_without_it() {
    let (moto, home, proxy) = setup().await;
    let mut args = role_args(&moto, &proxy, "base");
    args.push("-v");
    let first = home.run(BINARY, &args).await;
    credentials_json(&first);
    assert!(
        stderr(&first).contains("obtained a new session from STS"),
        "{}",
        stderr(&first)
    );
    let second = home.run(BINARY, &args).await;
    credentials_json(&second);
    let text = stderr(&second);
    assert!(
        text.contains("reusing the session from the session store"),
        "{text}"
    );
    assert!(
        text.contains("took the session from the session store (no STS call)"),
        "{text}"
    );
    assert!(!text.contains("from STS"), "{text}");
    assert_eq!(proxy.sts_requests(), 1);
    // An unusable cache directory is a warning whether or not -v is given.
    let mut unusable = role_args(&moto, &proxy, "base");
    unusable.extend(["--cache-dir", "/proc/nope"]);
    let output = home.run(BINARY, &unusable).await;
    credentials_json(&output);
    assert!(
        stderr(&output).contains("the session store is not usable"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains(&moto.base_secret_access_key));
}

#[tokio::test]
async fn an_unreachable_endpoint_is_one_line_of_sentences() {
    let (moto, home, proxy) = setup().await;
    let args = with_flags(
        role_args(&moto, &proxy, "base"),
        &["--endpoint-url", "http://127.0.0.1:9", "--no-cache"],
    );
    let output = home.run(BINARY, &args).await;
    assert_failed_with(&output, 1, "Connection refused", &moto);
    let text = stderr(&output);
    for dump in ["{", "DispatchFailure(", "ConnectorError", "Some("] {
        assert!(!text.contains(dump), "{dump:?} in {text:?}");
    }
}

/// Answers every request with `403 Forbidden`, as instance metadata does on machines that
/// block it; serves until the test ends.
async fn forbidding_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut connection, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut request = [0u8; 4096];
                let _ = connection.read(&mut request).await;
                let _ = connection
                    .write_all(
                        b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    url
}

#[tokio::test]
async fn no_base_credentials_is_explained_whichever_source_failed_last() {
    let (moto, home, proxy) = setup().await;
    let metadata = forbidding_server().await;
    let mut command = home.command(BINARY);
    command
        .args([
            "credential-process",
            "--role-arn",
            &moto.role_arn,
            "--region",
            &moto.region,
            "--endpoint-url",
            &proxy.endpoint,
            "--no-cache",
        ])
        // Instance metadata on, at a loopback server that refuses it.
        .env("AWS_EC2_METADATA_DISABLED", "false")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata);
    let output = finish(command).await;
    assert_failed_with(&output, 1, "no base credentials to call STS with", &moto);
    let text = stderr(&output);
    assert!(text.contains("pass --source-profile NAME"), "{text}");
    assert!(text.contains("the last source tried failed"), "{text}");
    assert_eq!(proxy.sts_requests(), 0);
}

#[tokio::test]
async fn a_role_asked_to_assume_itself_from_an_earlier_eval_gets_a_hint() {
    let (moto, home, proxy) = setup().await;
    let mut args = role_args(&moto, &proxy, "base");
    args[0] = "env";
    args.extend(["--no-cache", "--allow-terminal"]);
    let first = home.run(BINARY, &args).await;
    assert!(first.status.success(), "{}", stderr(&first));
    // The shell after `eval "$(chainable-credentials env ...)"`: the role's session in its
    // environment, and the same command again without --source-profile.
    let exports: Vec<(String, String)> = stdout(&first)
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|assignment| assignment.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.trim_matches('\'').to_owned()))
        .collect();
    assert!(exports.iter().any(|(name, _)| name == "AWS_SESSION_TOKEN"));
    let mut again = home.command(BINARY);
    again.args([
        "credential-process",
        "--role-arn",
        &moto.role_arn,
        "--region",
        &moto.region,
        "--endpoint-url",
        &proxy.endpoint,
        "--no-cache",
    ]);
    again.envs(exports);
    let output = finish(again).await;
    assert_failed_with(&output, 1, "AccessDenied", &moto);
    assert!(
        stderr(&output).contains("perhaps from an earlier `eval"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn a_bad_value_from_the_environment_is_not_blamed_on_a_flag() {
    let (moto, home, proxy) = setup().await;
    // role_args without its --region: the region comes from AWS_REGION.
    let mut args = role_args(&moto, &proxy, "base");
    let at = args.iter().position(|a| *a == "--region").unwrap();
    args.drain(at..at + 2);
    let mut command = home.command(BINARY);
    command.args(&args).env("AWS_REGION", "us east");
    let output = finish(command).await;
    assert_failed_with(&output, 1, "invalid `region`", &moto);
    assert!(
        !stderr(&output).contains("--region:"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn a_web_identity_token_file_is_the_first_hop_without_base_credentials() {
    // The non-enforcing server: the call is unsigned (moto does not check the token).
    let moto = Moto::open();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let home = Home::new();
    let token_file = home.config_file().with_file_name("web-identity-token");
    fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.command-token.signature").unwrap();
    let token_path = token_file.display().to_string();
    let output = home
        .run(
            BINARY,
            &[
                "credential-process",
                "--web-identity-token-file",
                &token_path,
                "--role-arn",
                &moto.role_arn,
                "--chain",
                &moto.chain_hop_arns[0],
                // Both for the role chained on (STS takes neither with a web identity token).
                "--external-id",
                "agreed-1234",
                "--tag",
                "Project=alpha",
                "--region",
                &moto.region,
                "--endpoint-url",
                &proxy.endpoint,
                "--no-cache",
                "-v",
            ],
        )
        .await;
    let json = credentials_json(&output);
    let printed = support::cli::printed_credentials(&json);
    assert!(moto.bucket_names(printed).await.contains(&moto.bucket));
    let bodies = proxy.sts_bodies();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies[0].contains("Action=AssumeRoleWithWebIdentity"));
    assert!(!bodies[0].contains("ExternalId") && !bodies[0].contains("Tags."));
    assert!(bodies[1].contains("Action=AssumeRole&"));
    assert!(
        bodies[1].contains("ExternalId=agreed-1234")
            && bodies[1].contains("Tags.member.1.Key=Project")
    );
    assert!(
        !stderr(&output).contains("command-token"),
        "the token is in no log line: {}",
        stderr(&output)
    );
}

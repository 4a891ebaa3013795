//! `chainable-credentials`: temporary credentials from STS for the AWS CLI, the SDKs and shells,
//! cached on disk and shared between processes.
//!
//! ```text
//! chainable-credentials credential-process --role-arn ARN [--source-profile NAME] ...
//! chainable-credentials env --role-arn ARN ...
//! chainable-credentials exec --role-arn ARN ... -- COMMAND [ARGS...]
//! chainable-credentials serve --role-arn ARN ... [--port N] [--token-file [PATH]]
//! ```
//!
//! Standard output carries the credentials (or `serve`'s variables) and nothing else; every
//! failure is one line on standard error and a non-zero exit code (2 for a bad command line, 1
//! for anything else; `exec` exits with COMMAND's code).
#![forbid(unsafe_code)]

mod args;
mod container_endpoint;
mod container_server;
mod exec;
mod output;
mod provider;
mod recursion;
mod serve;
mod terminal_mfa;
mod token;

use args::{Cli, Command};
use aws_types::os_shim_internal::Env;
use chainable_credentials::FetchError;
use clap::Parser;
use std::error::Error;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

/// STS region used when none is given or configured anywhere: STS serves every account there.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// `--timeout` with `--mfa-serial`: time to read the code off a device and type it.
pub(crate) const DEFAULT_MFA_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let args = cli.command.session();
    log_to_stderr(args.verbose, matches!(cli.command, Command::Serve(_)));
    if std::io::stdout().is_terminal() && !args.allow_terminal {
        match &cli.command {
            Command::CredentialProcess(_) | Command::Env(_) => {
                return fail(
                    "standard output is a terminal: the credentials would be shown on screen; \
                     use it as a credential_process, with eval \"$(chainable-credentials env \
                     ...)\", or pass --allow-terminal",
                );
            }
            Command::Serve(serve) if serve.server.token_file.is_none() => {
                return fail(
                    "standard output is a terminal: the server's token would be shown on \
                     screen; pass --token-file (the token goes to a file only you can read), \
                     use eval \"$(chainable-credentials serve ...)\", or pass --allow-terminal",
                );
            }
            _ => {}
        }
    }

    let roles: Vec<&str> = args
        .role_arn
        .iter()
        .chain(&args.chain)
        .map(String::as_str)
        .collect();
    // The one place the process's environment is taken; everything below reads it from here.
    let env = Env::real();
    let env_profile = env.get("AWS_PROFILE").ok();
    let identity = recursion::identity(
        args.profile.as_deref(),
        args.source_profile.as_deref(),
        env_profile.as_deref(),
        &roles,
    );
    let inherited = env.get(recursion::STACK_VAR).ok();
    let marker = env.get(recursion::REEXEC_VAR).ok();
    match recursion::guard(
        inherited.as_deref(),
        marker.as_deref(),
        std::process::id(),
        &identity,
    ) {
        Ok(None) => {}
        #[cfg(unix)]
        Ok(Some(stack)) if may_run_itself(&env, args, env_profile.as_deref()) => {
            return fail(&recursion::reexec(&stack));
        }
        #[cfg(unix)]
        Ok(Some(_)) => {}
        // Without `exec`, no guard: the children inherit no stack.
        #[cfg(not(unix))]
        Ok(Some(_)) => {}
        Err(reason) => return fail(&reason),
    }

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let long_running = match &cli.command {
        Command::Exec(exec) => Some(runtime.block_on(run_exec(exec, &env))),
        Command::Serve(serve) => Some(runtime.block_on(run_serve(serve, &env))),
        Command::CredentialProcess(_) | Command::Env(_) => None,
    };
    if let Some(ended) = long_running {
        runtime.shutdown_background();
        return match ended {
            Ok(code) => code,
            Err(failure) => {
                terminal_mfa::end_unanswered_prompt();
                report(&env, args, failure)
            }
        };
    }
    let fetched = runtime.block_on(provider::credentials(args));
    // A thread of the runtime's blocking pool may still be inside a read no timeout can
    // interrupt — an MFA prompt nobody answers, a DNS lookup that hangs — and dropping the
    // runtime would wait for it: the process would outlive `--timeout`, and the AWS CLI, which
    // waits for its credential_process to exit, with it. Let it go; exiting ends it.
    runtime.shutdown_background();
    if fetched.is_err() {
        terminal_mfa::end_unanswered_prompt();
    }
    let credentials = match fetched {
        Ok(credentials) => credentials,
        Err(failure) => return report(&env, args, failure),
    };
    let text = match &cli.command {
        Command::Env(_) => output::export_lines(&credentials),
        _ => output::credential_process_json(&credentials),
    };
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("cannot write to standard output: {e}")),
    }
}

/// Whether this run may end up running a `credential_process` (and so, maybe, itself): the
/// profile it reads for its base credentials reaches one in the shared files.
fn may_run_itself(env: &Env, args: &args::SessionArgs, env_profile: Option<&str>) -> bool {
    let profile = args
        .profile
        .as_deref()
        .or(args.source_profile.as_deref())
        .or(env_profile)
        .unwrap_or("default");
    let home = env.get("HOME").ok();
    // As aws-config reads them: the variable (`~/` expanded), else the file under HOME. A file
    // named but unreadable here may still be read by aws-config: then guard anyway.
    let read = |var: &str, default: &str| -> Option<String> {
        let named = env.get(var).ok();
        let path = match &named {
            Some(path) => match (path.strip_prefix("~/"), &home) {
                (Some(rest), Some(home)) => format!("{home}/{rest}"),
                _ => path.clone(),
            },
            None => match &home {
                Some(home) => format!("{home}/.aws/{default}"),
                // No HOME, no variable: aws-config reads no file either.
                None => return Some(String::new()),
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(_) if named.is_none() => Some(String::new()),
            Err(_) => None,
        }
    };
    match (
        read("AWS_CONFIG_FILE", "config"),
        read("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    ) {
        (Some(config), Some(credentials)) => {
            recursion::may_run_credential_process(profile, &config, &credentials)
        }
        _ => true,
    }
}

/// No session to print or serve: one line, and the exit code (2 for a bad flag).
fn report(env: &Env, args: &args::SessionArgs, failure: provider::Failure) -> ExitCode {
    match failure {
        provider::Failure::Usage(reason) => usage(&reason),
        provider::Failure::Failed(error) => {
            let hint = temporary_base_hint(env, args, error.as_ref());
            fail(&format!("{}{hint}", explain(error.as_ref())))
        }
    }
}

/// `exec`: the first session (an MFA code is asked now, before COMMAND has the terminal), the
/// server, then COMMAND; its exit code.
async fn run_exec(exec: &args::ExecArgs, env: &Env) -> Result<ExitCode, provider::Failure> {
    let server = start_server(&exec.session, &exec.server, env).await?;
    let code = exec::run(&exec.command, &server.variables()).await;
    drop(server);
    Ok(code)
}

/// `serve`: the first session, the server, its variables on standard output; then it serves
/// until SIGINT or SIGTERM.
async fn run_serve(serve: &args::ServeArgs, env: &Env) -> Result<ExitCode, provider::Failure> {
    // Installed first: a signal sent once the variables are printed must stop the server
    // gracefully, not find the default action still in place.
    let stopped = stop_signal().map_err(|e| failed(format!("cannot listen for signals: {e}")))?;
    let server = start_server(&serve.session, &serve.server, env).await?;
    let lines: Vec<String> = server
        .variables()
        .iter()
        .map(|(name, value)| output::export(name, value))
        .collect();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", lines.join("\n"))
        .and_then(|()| stdout.flush())
        .map_err(|e| failed(format!("cannot write to standard output: {e}")))?;
    drop(stdout);
    let signal = stopped.await;
    tracing::info!(signal, token_file = ?server.token_file(), "stopping the credential server");
    drop(server);
    Ok(ExitCode::SUCCESS)
}

/// The provider, its first session, and the server on it.
async fn start_server(
    session: &args::SessionArgs,
    server: &args::ServerArgs,
    env: &Env,
) -> Result<serve::RunningServer, provider::Failure> {
    let provider = provider::build(session).await?;
    provider.credentials().await?;
    let temp_dir = env
        .get("TMPDIR")
        .ok()
        .filter(|dir| !dir.is_empty())
        .unwrap_or_else(|| "/tmp".to_owned());
    // Absolute: COMMAND may run in another directory.
    let temp_dir =
        std::path::absolute(&temp_dir).map_err(|e| failed(format!("TMPDIR {temp_dir}: {e}")))?;
    serve::RunningServer::start(provider, server, &temp_dir)
        .await
        .map_err(failed)
}

fn failed(reason: String) -> provider::Failure {
    provider::Failure::Failed(reason.into())
}

/// SIGINT, SIGTERM or SIGHUP (the handlers installed now); its name.
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = &'static str>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        // The terminal closing: stop as for the others (the token file is removed then).
        let mut hangup = signal(SignalKind::hangup())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
                _ = hangup.recv() => "SIGHUP",
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    })
}

/// What to print for a failure: one line, and for missing base credentials what to pass.
fn explain(error: &(dyn Error + 'static)) -> String {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(FetchError::NoBaseCredentials {
            profile,
            imds_disabled,
            last_error,
            ..
        }) = e.downcast_ref::<FetchError>()
        {
            return format!(
                "no base credentials to call STS with: none in the environment \
                 (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), the profile `{profile}` \
                 (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and \
                 ~/.aws/credentials), a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE), the ECS \
                 container endpoint or the EC2 instance metadata{}{}; pass --source-profile NAME \
                 (a profile with keys) or --profile NAME (a profile that assumes a role), or set \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                if *imds_disabled {
                    " (disabled by AWS_EC2_METADATA_DISABLED)"
                } else {
                    ""
                },
                last_error
                    .as_deref()
                    .map(|e| format!(" (the last source tried failed: {e})"))
                    .unwrap_or_default()
            );
        }
        next = e.source();
    }
    one_line(error)
}

/// When STS refused a role to base credentials that are a temporary session from the
/// environment, the likeliest cause: an earlier `eval "$(chainable-credentials env ...)"` in
/// this shell put the role's own session there, and the role is now asked to assume itself.
fn temporary_base_hint(
    env: &Env,
    args: &args::SessionArgs,
    error: &(dyn Error + 'static),
) -> &'static str {
    let mut next = Some(error);
    let mut access_denied = false;
    while let Some(e) = next {
        access_denied |= e
            .downcast_ref::<FetchError>()
            .is_some_and(|f| f.code() == Some("AccessDenied"));
        next = e.source();
    }
    let from_environment = args.profile.is_none() && args.source_profile.is_none();
    let temporary = env
        .get("AWS_SESSION_TOKEN")
        .is_ok_and(|token| !token.trim().is_empty());
    if access_denied && from_environment && temporary {
        "; the base credentials are a temporary session from the environment \
         (AWS_SESSION_TOKEN is set), perhaps from an earlier `eval \"$(chainable-credentials env \
         ...)\"` in this shell: unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
         (or open a new shell), or pass --source-profile"
    } else {
        ""
    }
}

/// The error and its causes on one line, without repeating a cause its parent already quotes.
fn one_line(error: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts
        .join(": ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn fail(reason: &str) -> ExitCode {
    eprintln!("chainable-credentials: {reason}");
    ExitCode::FAILURE
}

/// Help and version go to standard output as usual; a bad command line is clap's whole
/// message on one line and exit 2.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            usage("a subcommand is required: credential-process, env, exec or serve")
        }
        _ => {
            let rendered = error.render().to_string();
            let reason = rendered
                .lines()
                .map(str::trim)
                .filter(|line| {
                    !line.is_empty() && !line.starts_with("Usage:") && !line.starts_with("For more")
                })
                .collect::<Vec<_>>()
                .join(" ");
            usage(reason.strip_prefix("error: ").unwrap_or(&reason))
        }
    }
}

/// A bad command line: one line and exit code 2.
fn usage(reason: &str) -> ExitCode {
    eprintln!("chainable-credentials: {reason} (see --help)");
    ExitCode::from(2)
}

/// Warnings always, on standard error: the file cache's (an unusable cache directory), the
/// command's own (no cache directory at all), STS's (a clamped chained duration, an expiry
/// bounded against a lying `Date`). With `--verbose` this crate's events too (file cache hits,
/// STS calls, failed refreshes) and other crates' warnings. Without it, a failed refresh is
/// the one line the command prints, not a warning before it.
///
/// `serve -v` also logs the server's requests (never a token or a secret).
fn log_to_stderr(verbose: bool, serving: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    let filter = if verbose {
        tracing_subscriber::filter::Targets::new()
            .with_target("chainable_credentials", tracing::Level::DEBUG)
            .with_default(tracing::Level::WARN)
    } else {
        // The library and this binary are both `chainable_credentials`: `provider` is the
        // binary's module, the others the library's.
        tracing_subscriber::filter::Targets::new()
            .with_target("chainable_credentials::file_cache", tracing::Level::WARN)
            .with_target("chainable_credentials::sts", tracing::Level::WARN)
            .with_target("chainable_credentials::provider", tracing::Level::WARN)
            .with_target(
                "chainable_credentials::container_server",
                tracing::Level::WARN,
            )
            .with_target(
                "chainable_credentials::serve",
                if serving {
                    tracing::Level::INFO
                } else {
                    tracing::Level::WARN
                },
            )
    };
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_target(false),
        )
        .with(filter);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

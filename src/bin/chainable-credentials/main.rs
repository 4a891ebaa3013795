//! `chainable-credentials`: temporary credentials from STS for the AWS CLI, the SDKs and shells,
//! cached on disk and shared between processes.
//!
//! ```text
//! chainable-credentials credential-process --role-arn ARN [--source-profile NAME] ...
//! chainable-credentials env --role-arn ARN ...
//! ```
//!
//! Standard output carries the credentials and nothing else; every failure is one line on
//! standard error and a non-zero exit code (2 for a bad command line, 1 for anything else).

mod args;
mod output;
mod provider;
mod recursion;
mod terminal_mfa;

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
    log_to_stderr(args.verbose);
    if std::io::stdout().is_terminal() && !args.allow_terminal {
        return fail(
            "standard output is a terminal: the credentials would be shown on screen; use it as \
             a credential_process, with eval \"$(chainable-credentials env ...)\", or pass \
             --allow-terminal",
        );
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
    match recursion::enter(inherited.as_deref(), &identity) {
        // SAFETY: no other thread exists yet (the runtime is created below), so nothing can
        // read the environment while it changes.
        Ok(stack) => unsafe { std::env::set_var(recursion::STACK_VAR, stack) },
        Err(reason) => return fail(&reason),
    }

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
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
        Err(provider::Failure::Usage(reason)) => return usage(&reason),
        Err(provider::Failure::Failed(error)) => {
            let hint = temporary_base_hint(&env, args, error.as_ref());
            return fail(&format!("{}{hint}", explain(error.as_ref())));
        }
    };
    let text = match &cli.command {
        Command::CredentialProcess(_) => output::credential_process_json(&credentials),
        Command::Env(_) => output::export_lines(&credentials),
    };
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("cannot write to standard output: {e}")),
    }
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
            usage("a subcommand is required: credential-process or env")
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
fn log_to_stderr(verbose: bool) {
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

//! `chainable-credentials`: temporary credentials from STS for the AWS CLI, the SDKs and shells,
//! cached on disk and shared between processes.
//!
//! ```text
//! chainable-credentials credential-process --role-arn ARN [--source-profile NAME] ...
//! chainable-credentials env --role-arn ARN ...
//! chainable-credentials exec --role-arn ARN ... -- COMMAND [ARGS...]
//! eval "$(chainable-credentials serve --role-arn ARN ... [--port N] [--token-file [PATH]])"
//! ```
//!
//! Standard output carries the credentials (or `serve`'s shell lines) and nothing else; every
//! failure is one line on standard error and a non-zero exit code (2 for a bad command line, 1
//! for anything else; `exec` exits with COMMAND's code).
//!
//! This library is the command's, split from its `main` so that its log lines are its own
//! (`chainable_credentials_cli::...`, apart from the library's `chainable_credentials::...`);
//! it is not meant to be used from other programs.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

mod args;
mod background;
mod commands;
mod container_endpoint;
mod container_server;
mod exec;
mod logging;
mod mfa_codes;
mod output;
mod private_dir;
mod provider;
mod recursion;
mod report;
mod serve;
mod shared_files;
mod token;
mod variables;

use args::{Cli, Command};
use aws_types::os_shim_internal::Env;
use clap::Parser;
use provider::Failure;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

/// STS region used when none is given or configured anywhere: STS serves every account there.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// `--timeout` with `--mfa-serial`: time to read the code off a device and type it.
pub(crate) const DEFAULT_MFA_TIMEOUT: Duration = Duration::from_secs(120);

/// The command: parses the command line and runs the subcommand; its exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return report::usage_error(error),
    };
    logging::log_to_stderr(cli.verbose);
    if let Some(refusal) = terminal_refusal(&cli.command) {
        return report::fail(refusal);
    }
    // The one place the process's environment is taken; everything below reads it from here.
    let env = Env::real();
    let outer_stack = match guard_recursion(&cli.command, &env) {
        Ok(stack) => stack,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return report::fail(&format!("cannot start the async runtime: {e}")),
    };
    let ended = runtime.block_on(run_command(&cli.command, &env, outer_stack.as_deref()));
    // A thread of the runtime's blocking pool may still be inside a read no timeout can
    // interrupt — an MFA prompt nobody answers, a DNS lookup that hangs — and dropping the
    // runtime would wait for it: the process would outlive `--timeout`, and the AWS CLI, which
    // waits for its credential_process to exit, with it. Let it go; exiting ends it.
    runtime.shutdown_background();
    match ended {
        Ok(code) => code,
        Err(failure) => {
            mfa_codes::end_unanswered_prompt();
            report::report(&env, cli.command.session(), failure)
        }
    }
}

/// The subcommand.
async fn run_command(
    command: &Command,
    env: &Env,
    outer_stack: Option<&str>,
) -> Result<ExitCode, Failure> {
    match command {
        Command::CredentialProcess(args) | Command::Env(args) => {
            commands::print_credentials(command, args, env).await
        }
        Command::Exec(exec) => commands::run_exec(exec, env).await,
        Command::Serve(serve) if serve.stop => background::stop(env).await,
        Command::Serve(serve) if serve.detached_child => {
            commands::run_serve(serve, env, true).await
        }
        Command::Serve(serve) if serve.foreground => commands::run_serve(serve, env, false).await,
        Command::Serve(serve) => {
            background::start(outer_stack, provider::timeout(&serve.session)).await
        }
    }
}

/// Why not to print to a terminal, if standard output is one: the credentials, or the
/// server's token, would be shown on screen.
fn terminal_refusal(command: &Command) -> Option<&'static str> {
    if !std::io::stdout().is_terminal() || command.session().allow_terminal {
        return None;
    }
    match command {
        Command::CredentialProcess(_) | Command::Env(_) => Some(
            "standard output is a terminal: the credentials would be shown on screen; use it \
             as a credential_process, with eval \"$(chainable-credentials env ...)\", or pass \
             --allow-terminal",
        ),
        Command::Serve(serve)
            if serve.server.token_file.is_none() && !serve.stop && !serve.detached_child =>
        {
            Some(
                "standard output is a terminal: the server's token would be shown on screen; \
                 use eval \"$(chainable-credentials serve ...)\", pass --token-file (the token \
                 goes to a file only you can read), or pass --allow-terminal",
            )
        }
        _ => None,
    }
}

/// The `credential_process` loop guard: `Ok` with the stack this run was nested in (for a
/// server started in the background, which is not nested in this run), or the exit code.
fn guard_recursion(command: &Command, env: &Env) -> Result<Option<String>, ExitCode> {
    let args = command.session();
    let roles: Vec<&str> = args
        .role_arn
        .iter()
        .chain(&args.chain)
        .map(String::as_str)
        .collect();
    let env_profile = env.get("AWS_PROFILE").ok();
    let identity = recursion::identity(
        args.profile.as_deref(),
        args.source_profile.as_deref(),
        env_profile.as_deref(),
        &roles,
    );
    let inherited = env.get(recursion::STACK_VAR).ok();
    let marker = env.get(recursion::REEXEC_VAR).ok();
    let pid = std::process::id();
    let outer = recursion::outer_stack(inherited.as_deref(), marker.as_deref(), pid);
    match recursion::guard(inherited.as_deref(), marker.as_deref(), pid, &identity) {
        Ok(None) => Ok(outer),
        #[cfg(unix)]
        Ok(Some(stack)) if may_run_itself(env, args, env_profile.as_deref()) => {
            Err(report::fail(&recursion::reexec(&stack)))
        }
        // Without `exec`, no guard: the children inherit no stack.
        Ok(Some(_)) => Ok(outer),
        Err(reason) => Err(report::fail(&reason)),
    }
}

/// Whether this run may end up running a `credential_process` (and so, maybe, itself): the
/// profile it reads for its base credentials reaches one in the shared files. A file named
/// but unreadable here may still be read by aws-config: then guard anyway.
fn may_run_itself(env: &Env, args: &args::SessionArgs, env_profile: Option<&str>) -> bool {
    let profile = args
        .profile
        .as_deref()
        .or(args.source_profile.as_deref())
        .or(env_profile)
        .unwrap_or("default");
    let files = shared_files::SharedFiles::read(env);
    match (&files.config.text, &files.credentials.text) {
        (Some(config), Some(credentials)) => {
            recursion::may_run_credential_process(profile, config, credentials)
        }
        _ => true,
    }
}

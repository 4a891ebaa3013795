//! The four subcommands, once the command line is parsed and the recursion guard has let the
//! run go on: print the credentials (`credential-process`, `env`), run COMMAND with a server
//! (`exec`), serve (`serve`, in the background or with `--foreground`).

use crate::args::{Command, ExecArgs, ServeArgs, ServerArgs, SessionArgs};
use crate::mfa_codes::CodeSource;
use crate::private_dir::PrivateDir;
use crate::provider::{self, Failure};
use crate::serve::RunningServer;
use crate::shared_files::{EXEC_PROFILE, SharedFiles};
use crate::{background, output};
use aws_types::os_shim_internal::Env;
use std::process::ExitCode;

/// `credential-process` and `env`: one session, printed.
pub(crate) async fn print_credentials(
    command: &Command,
    args: &SessionArgs,
    env: &Env,
) -> Result<ExitCode, Failure> {
    let credentials = provider::credentials(args).await?;
    warn_if_chaining_onto_a_printed_session(args, env);
    let text = match command {
        Command::Env(_) => output::export_lines(&credentials),
        _ => output::credential_process_json(&credentials),
    };
    output::write_secret_lines(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `exec`: the server (its first session fetched now, an MFA code asked now, before COMMAND
/// has the terminal), then COMMAND; its exit code.
pub(crate) async fn run_exec(exec: &ExecArgs, env: &Env) -> Result<ExitCode, Failure> {
    let codes = provider::code_source(&exec.session, CodeSource::Terminal);
    let server = start_server(&exec.session, &exec.server, env, &codes).await?;
    warn_if_chaining_onto_a_printed_session(&exec.session, env);
    let mut set = server.variables();
    let config_dir = exec_config(env, &mut set)?;
    if let Some(region) = region_for_command(&exec.session, env) {
        set.push(("AWS_REGION", region.clone()));
        set.push(("AWS_DEFAULT_REGION", region));
    }
    let code = crate::exec::run(&exec.command, &set).await;
    drop(config_dir);
    drop(server);
    Ok(code)
}

/// `serve --foreground`, and the server `serve` starts in the background (`detached`): the
/// first session, the server, its shell lines on standard output; then it serves until
/// SIGINT, SIGTERM or SIGHUP.
pub(crate) async fn run_serve(
    serve: &ServeArgs,
    env: &Env,
    detached: bool,
) -> Result<ExitCode, Failure> {
    if detached {
        background::detach().map_err(failed)?;
    }
    // Installed first: a signal sent once the lines are printed must stop the server
    // gracefully, not find the default action still in place.
    let stopped = stop_signal().map_err(|e| failed(format!("cannot listen for signals: {e}")))?;
    let codes = provider::code_source(
        &serve.session,
        if detached {
            CodeSource::Parent
        } else {
            CodeSource::Terminal
        },
    );
    let server = start_server(&serve.session, &serve.server, env, &codes).await?;
    warn_if_chaining_onto_a_printed_session(&serve.session, env);
    warn_if_default_profile_wins(env);
    let region = region_for_command(&serve.session, env);
    let mut lines = server.shell_lines(std::process::id(), region.as_deref());
    if detached {
        lines.push(background::READY.to_owned());
    }
    output::write_secret_lines(&lines.join("\n"))?;
    if detached {
        background::let_go();
    }
    let signal = stopped.await;
    tracing::info!(signal, token_file = ?server.token_file(), "stopping the credential server");
    drop(server);
    Ok(ExitCode::SUCCESS)
}

/// The provider, the server on it (its port bound, its token file written: a path in use is
/// refused before any STS call), then its first session.
async fn start_server(
    session: &SessionArgs,
    server: &ServerArgs,
    env: &Env,
    codes: &CodeSource,
) -> Result<RunningServer, Failure> {
    let provider = provider::build(session, codes).await?;
    let running = RunningServer::start(provider.clone(), server, env).await?;
    provider.credentials().await?;
    Ok(running)
}

fn failed(reason: String) -> Failure {
    Failure::Failed(reason.into())
}

/// When the shared files' `default` profile has credentials of its own, every SDK in COMMAND
/// would use them before the server's: COMMAND gets a copy of the config file with a profile
/// that has none, selected with `AWS_PROFILE` (its other profiles are all still there). The
/// copy's directory is removed when COMMAND ends.
fn exec_config(
    env: &Env,
    set: &mut Vec<(&'static str, String)>,
) -> Result<Option<PrivateDir>, Failure> {
    let files = SharedFiles::read(env);
    let Some(found) = files.default_credentials() else {
        return Ok(None);
    };
    let base =
        crate::private_dir::default_dir(env, chainable_credentials::file_cache::default_dir())
            .map_err(failed)?;
    let dir = PrivateDir::new(&base, "exec").map_err(failed)?;
    let config = files
        .write_exec_config(&dir.path)
        .map_err(|e| failed(format!("cannot write COMMAND's config file: {e}")))?;
    tracing::info!(
        "{} {} has `{}`, which the SDKs in COMMAND would use before the served session: \
         COMMAND gets AWS_PROFILE={EXEC_PROFILE}, a profile without credentials, in a copy of \
         the config file ({})",
        found.file,
        found.section,
        found.key,
        config.display()
    );
    set.push(("AWS_CONFIG_FILE", config.display().to_string()));
    set.push(("AWS_PROFILE", EXEC_PROFILE.to_owned()));
    Ok(Some(dir))
}

/// `serve` cannot change what a shell's SDKs read first: it says so.
fn warn_if_default_profile_wins(env: &Env) {
    if let Some(found) = SharedFiles::read(env).default_credentials() {
        tracing::warn!(
            "{} {} has `{}`: a program that selects no profile uses it before this server \
             (every SDK reads the default profile first); run such programs with \
             `chainable-credentials exec`, or move those credentials to a named profile",
            found.file,
            found.section,
            found.key
        );
    }
}

/// The region COMMAND (or the shell `serve` prints for) needs where its environment names
/// none: `--region`, else the region of the profile this run read (`--profile`,
/// `--source-profile`, `AWS_PROFILE`, `default`), which it would not find itself
/// (`AWS_PROFILE` is removed from its environment, or unset).
fn region_for_command(args: &SessionArgs, env: &Env) -> Option<String> {
    let var = |name: &str| env.get(name).ok().filter(|v| !v.trim().is_empty());
    if var("AWS_REGION").is_some() || var("AWS_DEFAULT_REGION").is_some() {
        return None;
    }
    if let Some(region) = &args.region {
        return Some(region.clone());
    }
    let profile = args
        .profile
        .clone()
        .or_else(|| args.source_profile.clone())
        .or_else(|| var("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_owned());
    SharedFiles::read(env)
        .profile(&profile)
        .into_iter()
        .find(|(key, value)| key == "region" && !value.is_empty())
        .map(|(_, region)| region)
}

/// A role assumed with the environment's keys, when those are a session this command printed
/// (`AWS_CREDENTIAL_EXPIRATION` is set too, as `env` sets it): the role was assumed by that
/// session — role chaining, at most an hour — not by the user. Said once it worked (when STS
/// refuses it, the failure says so), not refused: it may be meant.
fn warn_if_chaining_onto_a_printed_session(args: &SessionArgs, env: &Env) {
    let printed = env
        .get("AWS_CREDENTIAL_EXPIRATION")
        .is_ok_and(|v| !v.trim().is_empty());
    if printed && args.role_arn.is_some() && crate::report::session_in_environment(env, args) {
        tracing::warn!(
            "the environment's keys are a temporary session (AWS_SESSION_TOKEN and \
             AWS_CREDENTIAL_EXPIRATION are set), perhaps printed by an earlier `eval \
             \"$(chainable-credentials env ...)\"`: the role is assumed with that session \
             (role chaining, at most 1 hour); to start from your own credentials, unset \
             AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
             AWS_CREDENTIAL_EXPIRATION, or pass --source-profile"
        );
    }
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

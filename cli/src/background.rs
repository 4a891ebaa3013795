//! `serve` as ssh-agent does it: the server runs in a process of its own, in a session of its
//! own (no terminal: a closing terminal, Ctrl-C or job control do not reach it), while the
//! `serve` the user ran prints the shell lines and exits — so `eval "$(chainable-credentials
//! serve ...)"` returns at once with a server running.
//!
//! The two talk over the server's standard input and output, one line at a time, until the
//! server holds its first session: `mfa DEVICE` asks the `serve` process for a code (it asks
//! on the terminal and answers with the code on the server's standard input); any other line
//! is a shell line to print; `ready` ends it. The server's standard error is shown as it comes
//! until then; then the server lets go of all three (they become `/dev/null`), so nothing
//! holds the user's pipe open. A server that fails before `ready` exits with its one-line
//! reason, which `serve` shows, and its exit code, which `serve` exits with.

use crate::mfa_codes;
use crate::provider::Failure;
use crate::recursion::{REEXEC_VAR, STACK_VAR};
use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The line that ends the start-up talk.
pub(crate) const READY: &str = "ready";

/// How long `serve` waits for its server beyond the session's own timeout (a code typed at
/// the prompt counts against that timeout): binding and printing take milliseconds.
const MARGIN: Duration = Duration::from_secs(30);

/// Starts the server in the background with the same command line, and prints its shell lines
/// once it holds its first session. `stack` is the recursion guard's stack as this process
/// inherited it (the server is not nested in this run: it replaces it).
pub(crate) async fn start(stack: Option<&str>, timeout: Duration) -> Result<ExitCode, Failure> {
    let failed = |reason: String| Failure::Failed(reason.into());
    let program = std::env::current_exe().map_err(|e| {
        failed(format!(
            "cannot find its own program to start the server: {e}"
        ))
    })?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(std::env::args_os().skip(1))
        .arg("--detached-child")
        .env_remove(REEXEC_VAR)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match stack {
        Some(stack) => command.env(STACK_VAR, stack),
        None => command.env_remove(STACK_VAR),
    };
    let mut server = command
        .spawn()
        .map_err(|e| failed(format!("cannot start the server: {e}")))?;
    let errors = server.stderr.take().map(relay_errors);
    let talk = talk(&mut server);
    // The server refuses a timeout over a day itself; this wait must not overflow first.
    let bound = timeout.min(Duration::from_secs(24 * 3600)) + MARGIN;
    let ended = tokio::select! {
        ended = talk => ended,
        () = TokioSleep::new().sleep(bound) => Err(failed(format!(
            "the server did not start within {} s",
            bound.as_secs()
        ))),
    };
    let lines = match ended {
        Ok(Some(lines)) => lines,
        Ok(None) => return Ok(exit_code_of(&mut server, errors).await),
        Err(failure) => {
            let _ = server.start_kill();
            return Err(failure);
        }
    };
    // Its last words before it let go of standard error (warnings), then its lines.
    if let Some(errors) = errors {
        let _ = tokio::time::timeout(Duration::from_secs(2), errors).await;
    }
    if let Err(failure) = crate::output::write_secret_lines(&lines.join("\n")) {
        let _ = server.start_kill();
        return Err(failure);
    }
    Ok(ExitCode::SUCCESS)
}

/// The start-up talk: the shell lines once the server is ready, `None` if it ended first.
async fn talk(server: &mut tokio::process::Child) -> Result<Option<Vec<String>>, Failure> {
    let io = |e: std::io::Error| Failure::Failed(format!("lost the server: {e}").into());
    let mut input = server.stdin.take();
    let Some(output) = server.stdout.take() else {
        return Ok(None);
    };
    let mut output = BufReader::new(output).lines();
    let mut lines = Vec::new();
    while let Some(line) = output.next_line().await.map_err(io)? {
        if line == READY {
            return Ok(Some(lines));
        }
        let Some(device) = line.strip_prefix("mfa ") else {
            lines.push(line);
            continue;
        };
        // The server may give up (its timeout) while the user is at the prompt: then its
        // reason is what to show, at once.
        let code = tokio::select! {
            code = mfa_codes::ask_for(device.to_owned()) => code,
            said = output.next_line() => {
                mfa_codes::end_unanswered_prompt();
                match said.map_err(io)? {
                    None => return Ok(None),
                    Some(line) => return Err(Failure::Failed(
                        format!("the server said {line:?} while asked for a code").into(),
                    )),
                }
            }
        }
        .map_err(|e| Failure::Failed(e.to_string().into()))?;
        if let Some(input) = input.as_mut() {
            input
                .write_all(format!("{code}\n").as_bytes())
                .await
                .map_err(io)?;
            input.flush().await.map_err(io)?;
        }
    }
    Ok(None)
}

/// Copies the server's standard error to ours as it comes, until the server lets go of it.
fn relay_errors(errors: tokio::process::ChildStderr) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut errors = BufReader::new(errors).lines();
        while let Ok(Some(line)) = errors.next_line().await {
            eprintln!("{line}");
        }
    })
}

/// The exit code of a server that ended before it was ready, once its reason is shown.
async fn exit_code_of(
    server: &mut tokio::process::Child,
    errors: Option<tokio::task::JoinHandle<()>>,
) -> ExitCode {
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait()).await;
    if let Some(errors) = errors {
        let _ = tokio::time::timeout(Duration::from_secs(2), errors).await;
    }
    match status {
        Ok(Ok(status)) => status
            .code()
            .and_then(|code| u8::try_from(code).ok())
            .map_or(ExitCode::FAILURE, ExitCode::from),
        _ => {
            let _ = server.start_kill();
            ExitCode::FAILURE
        }
    }
}

/// In the server: leaves the terminal's session, so that nothing the terminal does (closing,
/// Ctrl-C, job control) reaches it, and it can never open the terminal (an MFA prompt would
/// stop it with SIGTTIN while every client waits).
pub(crate) fn detach() -> Result<(), String> {
    #[cfg(unix)]
    rustix::process::setsid().map_err(|e| format!("cannot leave the terminal's session: {e}"))?;
    mfa_codes::set_parent_link(true);
    Ok(())
}

/// In the server, once its lines and `ready` are written: lets go of standard input, output
/// and error (`/dev/null` from now on), so that `serve`, and the shell's `$(...)` around it,
/// are not kept waiting; asks no more codes of the parent.
pub(crate) fn let_go() {
    mfa_codes::set_parent_link(false);
    #[cfg(unix)]
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
}

/// `serve --stop`: stops the background server `CHAINABLE_CREDENTIALS_PID` names (SIGTERM: it
/// removes its token file), waits for it to end (10 s at most), and prints the `unset` line
/// of the variables `serve` printed, for `eval`.
pub(crate) async fn stop(env: &aws_types::os_shim_internal::Env) -> Result<ExitCode, Failure> {
    use crate::variables::{SERVER_PID, unset_line};
    let pid = env
        .get(SERVER_PID)
        .ok()
        .filter(|pid| !pid.trim().is_empty());
    let Some(pid) = pid else {
        return Err(Failure::Usage(format!(
            "{SERVER_PID} is not set: no server was started from this shell (it is set by \
             eval \"$(chainable-credentials serve ...)\")"
        )));
    };
    let pid = pid
        .trim()
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| Failure::Usage(format!("{SERVER_PID}={pid} is not a process id")))?;
    if is_ours(pid)? {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        wait_until_gone(pid).await?;
    } else {
        eprintln!("chainable-credentials: the server {pid:?} had already stopped");
    }
    println!(
        "{}",
        unset_line(&[
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            SERVER_PID,
        ])
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether `pid` runs, as this program (where the system says which program a process runs,
/// on Linux): a process id left in a shell may since have gone to another program.
fn is_ours(pid: rustix::process::Pid) -> Result<bool, Failure> {
    if has_ended(pid) {
        return Ok(false);
    }
    let Ok(program) = std::fs::read_link(format!("/proc/{}/exe", pid.as_raw_nonzero())) else {
        // No /proc (macOS): as ssh-agent -k, trust the variable.
        return Ok(true);
    };
    // A program replaced since it started (an upgrade) reads "PATH (deleted)".
    let program = PathBuf::from(
        program
            .to_string_lossy()
            .trim_end_matches(" (deleted)")
            .to_owned(),
    );
    let ours = std::env::current_exe().ok();
    if ours.as_ref() == Some(&program) {
        Ok(true)
    } else {
        Err(Failure::Failed(
            format!(
                "process {} is not a chainable-credentials server (it runs {}): nothing stopped",
                pid.as_raw_nonzero(),
                program.display()
            )
            .into(),
        ))
    }
}

/// Waits (10 s at most) until `pid` has ended.
async fn wait_until_gone(pid: rustix::process::Pid) -> Result<(), Failure> {
    for _ in 0..200 {
        if has_ended(pid) {
            return Ok(());
        }
        TokioSleep::new().sleep(Duration::from_millis(50)).await;
    }
    Err(Failure::Failed(
        format!(
            "the server {} did not stop within 10 s of SIGTERM",
            pid.as_raw_nonzero()
        )
        .into(),
    ))
}

/// Whether `pid` has ended: gone, or a zombie nobody has reaped yet (its parent, `serve`, has
/// exited, and where no init reaps orphans — some containers — it stays one).
fn has_ended(pid: rustix::process::Pid) -> bool {
    if rustix::process::test_kill_process(pid).is_err() {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero()))
        .ok()
        .and_then(|stat| {
            // `PID (COMMAND) STATE ...`: the command may hold spaces and parentheses.
            let after = stat.rsplit_once(") ")?.1;
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

//! `exec`'s child: COMMAND with the server's variables set and the variables that would win
//! over them removed, the signals that stop us passed on to it, and its exit code ours.

use std::ffi::OsString;
use std::process::ExitCode;

/// This command's own variables, removed from COMMAND's environment too: the loop guard of
/// `credential_process` runs (COMMAND's own runs of this command, a profile's
/// `credential_process`, are not nested in this one), and a `serve` of the parent shell.
const OWN_VARIABLES: &[&str] = &[
    crate::recursion::STACK_VAR,
    crate::recursion::REEXEC_VAR,
    crate::variables::SERVER_PID,
];

/// Runs `command` with `set` added to its environment (after the variables that would win
/// over the server, [`WINNING_VARIABLES`](crate::variables::WINNING_VARIABLES), and this
/// command's own are removed), passes SIGINT, SIGTERM and SIGHUP on to it, and returns its exit code, or 128 +
/// the signal that ended it (as a shell does). 127 when it cannot be found, 126 when it cannot
/// be run.
pub(crate) async fn run(command: &[OsString], set: &[(&str, String)]) -> ExitCode {
    let Some((program, arguments)) = command.split_first() else {
        return ExitCode::from(2);
    };
    let mut child = tokio::process::Command::new(program);
    child.args(arguments);
    for name in crate::variables::WINNING_VARIABLES
        .iter()
        .chain(OWN_VARIABLES)
    {
        child.env_remove(name);
    }
    for (name, value) in set {
        child.env(name, value);
    }
    // Installed before COMMAND starts: a signal in between must not kill us and leave it
    // without its server.
    let signals = match Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("chainable-credentials: cannot listen for signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut child = match child.spawn() {
        Ok(child) => child,
        Err(error) => {
            let shown = program.to_string_lossy();
            let code = if error.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            eprintln!("chainable-credentials: cannot run {shown}: {error}");
            return ExitCode::from(code);
        }
    };
    let status = signals.wait_passing_on(&mut child).await;
    match status {
        Ok(status) => exit_code(status),
        Err(error) => {
            eprintln!("chainable-credentials: lost track of the command: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The signals passed on to COMMAND.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for `child`, passing each signal on. SIGINT and SIGHUP are not passed on while
    /// we are the terminal's foreground process group: the terminal sent them to COMMAND as
    /// well (it is in our group), and a second Ctrl-C makes many programs quit at once.
    async fn wait_passing_on(
        mut self,
        child: &mut tokio::process::Child,
    ) -> std::io::Result<std::process::ExitStatus> {
        use rustix::process::Signal;
        loop {
            let (passed, from_terminal) = tokio::select! {
                status = child.wait() => return status,
                _ = self.interrupt.recv() => (Signal::INT, true),
                _ = self.terminate.recv() => (Signal::TERM, false),
                _ = self.hangup.recv() => (Signal::HUP, true),
            };
            if from_terminal && in_terminal_foreground() {
                continue;
            }
            // `id()` is `None` once the child is reaped: a recycled id is never signalled.
            let pid = child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .and_then(rustix::process::Pid::from_raw);
            if let Some(pid) = pid {
                let _ = rustix::process::kill_process(pid, passed);
            }
        }
    }
}

/// Whether this process's group is the foreground group of the terminal on standard input.
#[cfg(unix)]
fn in_terminal_foreground() -> bool {
    rustix::termios::tcgetpgrp(std::io::stdin())
        .is_ok_and(|foreground| foreground == rustix::process::getpgrp())
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn wait_passing_on(
        self,
        child: &mut tokio::process::Child,
    ) -> std::io::Result<std::process::ExitStatus> {
        child.wait().await
    }
}

/// The child's exit code as ours: its code, or 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    if let Some(code) = status.code() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return ExitCode::from(u8::try_from(128 + signal).unwrap_or(255));
        }
    }
    ExitCode::FAILURE
}

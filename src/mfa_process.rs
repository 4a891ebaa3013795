//! MFA codes from a command that prints one — `mfa_process` of a profile, as aws-vault reads
//! it: `pass otp aws`, `ykman oath accounts code --single aws`, `op item get aws --otp` — so
//! that a script, a CI job or a detached server gets codes without a terminal.
//!
//! The command runs through the shell (`sh -c`; `cmd.exe /C` on Windows), as aws-config runs
//! a `credential_process`, with no standard input; its standard error is the caller's (a
//! token that asks to be touched says so there). Its first line is the code; what it prints is
//! never logged or quoted in an error. It runs in a process group of its own, ended once its
//! first line is read or the refresh asking for the code gives up (its load timeout): nothing
//! it started outlives the wait for it.

use crate::mfa::ProvideMfaToken;
use crate::provided::{TokenError, TokenFuture};
use std::fmt;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// The most a code command may print: a code is 6 digits; more is not a code.
const MAX_OUTPUT_BYTES: u64 = 4096;

/// Asks a command for the current MFA code: its first line of output. Give it to
/// [`Builder::mfa`](crate::Builder::mfa) or [`Builder::mfa_tokens`](crate::Builder::mfa_tokens);
/// a profile's `mfa_process` key makes one for that profile's role (cargo feature `profile`).
///
/// ```no_run
/// use chainable_credentials::{ChainableTemporaryCredentials, MfaProcess};
///
/// # fn example() -> Result<(), chainable_credentials::BuildError> {
/// let provider = ChainableTemporaryCredentials::builder()
///     .role_arn("arn:aws:iam::123456789012:role/admin")
///     .mfa(
///         "arn:aws:iam::123456789012:mfa/laptop",
///         MfaProcess::new("ykman oath accounts code --single aws"),
///     )
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MfaProcess {
    command: String,
}

impl MfaProcess {
    /// The command line, run by the shell.
    pub fn new(command: impl Into<String>) -> Self {
        MfaProcess {
            command: command.into(),
        }
    }

    async fn code(&self) -> Result<String, TokenError> {
        let mut command = shell(&self.command);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        // A group of its own: a pipeline's other commands are ended with the shell.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command
            .spawn()
            .map_err(|e| failed(format!("cannot be started: {e}")))?;
        let _group = ProcessGroup(child.id());
        let Some(stdout) = child.stdout.take() else {
            return Err(failed("has no output".into()));
        };
        // The first line only: a helper it leaves running may hold its output open.
        let mut line = Vec::new();
        BufReader::new(stdout.take(MAX_OUTPUT_BYTES + 1))
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| failed(format!("its output cannot be read: {e}")))?;
        if line.len() as u64 > MAX_OUTPUT_BYTES {
            return Err(failed(format!(
                "printed more than {MAX_OUTPUT_BYTES} bytes on its first line: not a code"
            )));
        }
        let status = child
            .wait()
            .await
            .map_err(|e| failed(format!("was lost: {e}")))?;
        if !status.success() {
            return Err(failed(format!("failed ({status})")));
        }
        let text = String::from_utf8(line).map_err(|_| failed("printed no text".into()))?;
        // The code itself is checked where it is used (6 digits); never quoted here.
        Ok(text.trim().to_owned())
    }
}

/// The command's process group, ended when the wait for the code ends (a code arrived, or
/// the refresh gave up): whatever it started goes with it.
struct ProcessGroup(Option<u32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self
            .0
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// The command as the platform's shell runs it.
fn shell(command: &str) -> tokio::process::Command {
    #[cfg(windows)]
    {
        let mut shell = tokio::process::Command::new("cmd.exe");
        shell.args(["/C", command]);
        shell
    }
    #[cfg(not(windows))]
    {
        let mut shell = tokio::process::Command::new("sh");
        shell.args(["-c", command]);
        shell
    }
}

fn failed(problem: String) -> TokenError {
    format!("the MFA code command (mfa_process) {problem}").into()
}

impl ProvideMfaToken for MfaProcess {
    fn mfa_token(&self) -> TokenFuture<'_> {
        Box::pin(self.code())
    }
}

impl fmt::Debug for MfaProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The command line may carry what unlocks a store of codes: not shown.
        f.debug_struct("MfaProcess").finish_non_exhaustive()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    async fn code_of(command: &str) -> Result<String, String> {
        MfaProcess::new(command)
            .mfa_token()
            .await
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn the_first_line_is_the_code_and_failures_never_quote_the_output() {
        assert_eq!(code_of("echo 123456").await.unwrap(), "123456");
        assert_eq!(
            code_of("printf ' 654321 \\nsecond line\\n'").await.unwrap(),
            "654321"
        );
        let failed = code_of("echo 111111; exit 3").await.unwrap_err();
        assert!(
            failed.contains("failed") && failed.contains('3'),
            "{failed}"
        );
        assert!(!failed.contains("111111"), "{failed}");
        let huge = code_of("head -c 10000 /dev/zero | tr '\\0' 7")
            .await
            .unwrap_err();
        assert!(huge.contains("more than 4096 bytes"), "{huge}");
        assert!(!huge.contains("7777"), "{huge}");
        let missing = code_of("/nonexistent/otp-tool").await.unwrap_err();
        assert!(missing.contains("failed"), "{missing}");
        assert_eq!(
            format!("{:?}", MfaProcess::new("pass otp secret-store")),
            "MfaProcess { .. }"
        );
    }

    #[tokio::test]
    async fn a_helper_left_running_with_the_output_open_does_not_hold_the_code() {
        let code = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            code_of("echo 123456; sleep 600 &"),
        )
        .await
        .expect("the first line is enough");
        assert_eq!(code.unwrap(), "123456");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_command_that_hangs_is_killed_when_the_wait_for_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let process = MfaProcess::new(format!(
            "echo $$ > '{}'; exec sleep 600",
            pid_file.display()
        ));
        let asking = process.mfa_token();
        let waited = tokio::time::timeout(std::time::Duration::from_secs(1), asking).await;
        assert!(waited.is_err(), "still waiting after a second");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.trim();
        // Reaped by tokio in the background: give it a moment.
        let mut alive = true;
        for _ in 0..50 {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting to be reaped: either way, no longer running.
            if state.is_empty() || state.split_whitespace().nth(2) == Some("Z") {
                alive = false;
                break;
            }
            // A 20 ms pause (sleeping is injected in the library; a timeout on nothing is not).
            let _ = tokio::time::timeout(
                std::time::Duration::from_millis(20),
                std::future::pending::<()>(),
            )
            .await;
        }
        assert!(!alive, "the command {pid} was killed");
    }
}

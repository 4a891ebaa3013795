//! MFA codes typed by the user. Under the AWS CLI, a `credential_process`'s standard output and
//! error are captured, so the prompt goes to the controlling terminal when there is one.
//! Without one, standard input is read only if it is a terminal itself: a pipe or a file is
//! not someone typing (and may never send), so the command fails at once instead of waiting.

use chainable_credentials::{MfaTokenFuture, ProvideMfaToken};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Asks for the current code of an MFA device: the one given with `--mfa-serial`, or those the
/// profiles of `--profile` name.
pub(crate) struct TerminalMfa {
    pub(crate) serial_number: Option<String>,
}

impl ProvideMfaToken for TerminalMfa {
    fn mfa_token(&self) -> MfaTokenFuture<'_> {
        ask_for(
            self.serial_number
                .clone()
                .unwrap_or_else(|| "the MFA device".into()),
        )
    }

    fn mfa_token_for(&self, serial_number: &str) -> MfaTokenFuture<'_> {
        ask_for(serial_number.to_owned())
    }
}

/// Prompts for the code of `device` and reads it.
fn ask_for(device: String) -> MfaTokenFuture<'static> {
    let prompt = format!("MFA code for {device}: ");
    Box::pin(async move {
        // Reading a terminal blocks: keep it off the async worker.
        let line = tokio::task::spawn_blocking(move || ask(&prompt)).await??;
        Ok(line.trim().to_owned())
    })
}

/// A prompt was written to the terminal and not answered (yet): the command's error then
/// starts on a line of its own.
static WAITING_AT_PROMPT: AtomicBool = AtomicBool::new(false);

/// Ends the line of a prompt nobody answered (it timed out), so that what follows is not
/// printed after the prompt's text.
pub(crate) fn end_unanswered_prompt() {
    if WAITING_AT_PROMPT.swap(false, Ordering::Relaxed)
        && let Ok(mut tty) = OpenOptions::new().write(true).open("/dev/tty")
    {
        let _ = tty.write_all(b"\n");
    }
}

fn ask(prompt: &str) -> std::io::Result<String> {
    let mut line = String::new();
    match OpenOptions::new().read(true).write(true).open("/dev/tty") {
        Ok(mut tty) => {
            tty.write_all(prompt.as_bytes())?;
            tty.flush()?;
            WAITING_AT_PROMPT.store(true, Ordering::Relaxed);
            let read = BufReader::new(tty).read_line(&mut line);
            WAITING_AT_PROMPT.store(false, Ordering::Relaxed);
            read?;
        }
        Err(_) if std::io::stdin().is_terminal() => {
            eprint!("{prompt}");
            std::io::stderr().flush()?;
            std::io::stdin().lock().read_line(&mut line)?;
        }
        Err(_) => {
            return Err(std::io::Error::other(
                "no terminal to ask for the MFA code on (neither a controlling terminal nor a \
                 standard input that is one); run the command from a terminal once, and the \
                 session is then read from the cache",
            ));
        }
    }
    Ok(line)
}

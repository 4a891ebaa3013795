//! Where the command's MFA codes come from: typed on the terminal, printed by a command
//! (`--mfa-process`), or — for `serve`'s server in the background, which has no terminal —
//! asked of the `serve` process that started it, once, for the first session.
//!
//! Under the AWS CLI, a `credential_process`'s standard output and error are captured, so the
//! prompt goes to the controlling terminal when there is one. Without one, standard input is
//! read only if it is a terminal itself: a pipe or a file is not someone typing (and may never
//! send), so the command fails at once instead of waiting.

use chainable_credentials::{MfaProcess, ProvideMfaToken, TokenFuture};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Where codes come from.
#[derive(Clone)]
pub(crate) enum CodeSource {
    /// Typed by the user on the terminal.
    Terminal,
    /// Printed by `--mfa-process`'s command.
    Process(MfaProcess),
    /// Asked of the parent `serve` over standard input and output, while that link is open.
    Parent,
}

/// Asks for the current code of an MFA device: the one given with `--mfa-serial`, or those the
/// profiles of `--profile` name.
pub(crate) struct MfaCodes {
    pub(crate) serial_number: Option<String>,
    pub(crate) source: CodeSource,
}

impl ProvideMfaToken for MfaCodes {
    fn mfa_token(&self) -> TokenFuture<'_> {
        let device = self
            .serial_number
            .clone()
            .unwrap_or_else(|| "the MFA device".into());
        self.code_for(device)
    }

    fn mfa_token_for(&self, serial_number: &str) -> TokenFuture<'_> {
        self.code_for(serial_number.to_owned())
    }
}

impl MfaCodes {
    fn code_for(&self, device: String) -> TokenFuture<'_> {
        match &self.source {
            CodeSource::Terminal => ask_for(device),
            CodeSource::Process(process) => process.mfa_token(),
            CodeSource::Parent => ask_parent(device),
        }
    }
}

/// Whether the link to the parent `serve` is open: until the background server has printed
/// its variables.
static PARENT_LINK_OPEN: AtomicBool = AtomicBool::new(false);

/// Opens (the background server starts) or closes (it has printed its variables) the link to
/// the parent `serve`.
pub(crate) fn set_parent_link(open: bool) {
    PARENT_LINK_OPEN.store(open, Ordering::SeqCst);
}

/// What the background server says when a refresh needs a code: the clients' 503 carries it.
const NO_CODE_IN_BACKGROUND: &str = "this server runs in the background and has no \
     terminal to ask for an MFA code: stop it (kill $CHAINABLE_CREDENTIALS_PID, or eval \
     \"$(chainable-credentials serve --stop)\") and start it again to type a code, or give \
     --mfa-process (or `mfa_process` in the profile) so that it gets codes itself";

/// One line to the parent, `mfa DEVICE`; its answer, the code, on standard input.
fn ask_parent(device: String) -> TokenFuture<'static> {
    Box::pin(async move {
        if !PARENT_LINK_OPEN.load(Ordering::SeqCst) {
            return Err(NO_CODE_IN_BACKGROUND.into());
        }
        let line = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "mfa {}", device.replace(['\n', '\r'], " "))?;
            stdout.flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            Ok(line)
        })
        .await??;
        Ok(line.trim().to_owned())
    })
}

/// Prompts for the code of `device` on the terminal and reads it.
pub(crate) fn ask_for(device: String) -> TokenFuture<'static> {
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

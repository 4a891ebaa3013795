//! The command line.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// What `--help` says of exit codes and standard error, for `credential-process` and `env`.
const EXIT_CODES: &str = "Exit codes: 0 the credentials were printed; 2 a bad command line (an \
                          unknown flag, or a flag's value STS or the command would refuse); 1 \
                          anything else (no base credentials, STS refused, a profile that \
                          cannot work, ...). Every failure is one line on standard error; an \
                          unusable cache directory is a warning there, and -v logs what \
                          happens (file cache hits, STS calls).";

/// What the tool's own `--help` says of exit codes: each subcommand's.
const TOOL_EXIT_CODES: &str = "Exit codes: 2 a bad command line (an unknown flag, or a flag's \
                               value STS or the command would refuse); 1 no session could be \
                               had (one line on standard error); 0 credential-process and env \
                               printed the credentials, serve started its server; exec exits \
                               with COMMAND's code. -v (before or after the subcommand) logs \
                               what happens, never a secret.";

/// Temporary AWS credentials from STS (AssumeRole, role chains, GetSessionToken), cached on
/// disk and shared between processes, for the AWS CLI, the SDKs and shells.
#[derive(Debug, Parser)]
#[command(name = "chainable-credentials", version, after_help = TOOL_EXIT_CODES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,

    /// Log what happens (file cache hits, STS calls, the server's requests) to standard
    /// error; warnings (an unusable cache directory, say) are logged without it too. Never
    /// secrets.
    #[arg(long, short, global = true)]
    pub(crate) verbose: bool,
}

/// What `exec --help` says of its exit code.
const EXEC_EXIT_CODES: &str = "Exit codes: COMMAND's own, or 128 + the signal that ended it; \
                               before COMMAND runs, 2 for a bad command line (a --token-file \
                               that cannot be used included) and 1 when no session can be had \
                               (one line on standard error); 127 when COMMAND cannot be found, \
                               126 when it cannot be run.";

/// What `serve --help` says of its output.
const SERVE_OUTPUT: &str = "Standard output: shell lines and nothing else, once the first \
                            session is held: `unset` of the variables that would win over the \
                            server, the `export` lines that point the SDKs at it, and its \
                            process id (CHAINABLE_CREDENTIALS_PID). Then it serves in the \
                            background until `kill $CHAINABLE_CREDENTIALS_PID` (or `eval \
                            \"$(chainable-credentials serve --stop)\"`), and removes its token \
                            file; with --foreground it serves in this process until SIGINT, \
                            SIGTERM or SIGHUP. Exit codes: 0 the server runs (with \
                            --foreground: it stopped after a signal); 2 a bad command line (a \
                            --token-file that cannot be used included); 1 no session can be \
                            had at start, or the port cannot be bound.";

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the credentials as the JSON a `credential_process` prints (for ~/.aws/config).
    #[command(after_help = EXIT_CODES)]
    CredentialProcess(SessionArgs),
    /// Print `export` lines for a POSIX shell: eval "$(chainable-credentials env ...)".
    #[command(after_help = EXIT_CODES)]
    Env(SessionArgs),
    /// Run COMMAND with credentials served to it (and to everything it starts) on the
    /// container-credentials protocol every SDK and the AWS CLI read: one session, refreshed in
    /// the background, for every process, however long they run.
    #[command(after_help = EXEC_EXIT_CODES)]
    Exec(ExecArgs),
    /// Serve credentials on the container-credentials protocol until stopped, for an IDE or
    /// several shells: prints the variables that point the SDKs at it.
    #[command(after_help = SERVE_OUTPUT)]
    Serve(ServeArgs),
}

impl Command {
    pub(crate) fn session(&self) -> &SessionArgs {
        match self {
            Command::CredentialProcess(args) | Command::Env(args) => args,
            Command::Exec(exec) => &exec.session,
            Command::Serve(serve) => &serve.session,
        }
    }
}

/// `exec`: the session flags, the server's, and the command to run.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    #[command(flatten)]
    pub(crate) session: SessionArgs,

    #[command(flatten)]
    pub(crate) server: ServerArgs,

    /// The command to run, and its arguments (after `--`).
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<std::ffi::OsString>,
}

/// `serve`: the session flags and the server's.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) session: SessionArgs,

    #[command(flatten)]
    pub(crate) server: ServerArgs,

    /// Serve in this process instead of in the background: for an IDE, systemd or a
    /// container, which keep the process and read its output as it goes.
    #[arg(long)]
    pub(crate) foreground: bool,

    /// Stop the server started in this shell (the process CHAINABLE_CREDENTIALS_PID names)
    /// and print the `unset` lines of its variables: eval "$(chainable-credentials serve
    /// --stop)".
    #[arg(long, exclusive = true)]
    pub(crate) stop: bool,

    /// The server in the background, started by `serve`: asks its parent for the first MFA
    /// code and hands it the variables over its standard input and output.
    #[arg(long, hide = true)]
    pub(crate) detached_child: bool,
}

/// How the credential server listens and hands out its token.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Port on 127.0.0.1 to listen on [default: a free one]. The server never listens beyond
    /// loopback.
    #[arg(long, value_name = "N")]
    pub(crate) port: Option<u16>,

    /// Hand the token out in a file (mode 0600) named by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
    /// instead of in AWS_CONTAINER_AUTHORIZATION_TOKEN: PATH, or without it a file in a new
    /// private directory (under XDG_RUNTIME_DIR, else the cache directory). One server per
    /// file: a path a running server uses is refused. Removed when the command ends.
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    pub(crate) token_file: Option<Option<PathBuf>>,
}

/// The session to obtain, and how.
#[derive(Debug, Args)]
pub(crate) struct SessionArgs {
    /// Profile of ~/.aws/config (AWS_CONFIG_FILE) whose role chain to assume: its `role_arn`,
    /// `source_profile`s (or `credential_source`), `mfa_serial`, `external_id`,
    /// `duration_seconds`, `role_session_name`, `region` and endpoint settings, as the AWS CLI
    /// reads them. Each role of the chain is cached on its own.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["role_arn", "source_profile", "mfa_serial"])]
    pub(crate) profile: Option<String>,

    /// Role to assume. Without it (and without --profile): GetSessionToken for the base
    /// credentials.
    #[arg(long, value_name = "ARN")]
    pub(crate) role_arn: Option<String>,

    /// Further roles, each assumed with the previous role's session (role chaining); the
    /// credentials printed are the last role's.
    #[arg(long, value_name = "ARN", num_args = 1.., requires = "role_arn")]
    pub(crate) chain: Vec<String>,

    /// RoleSessionName of every role session given by flags; with --profile, of the last role
    /// [default: the profile's, else chainable-credentials-<unix millis>].
    #[arg(long, value_name = "NAME")]
    pub(crate) session_name: Option<String>,

    /// Session duration: seconds, or with units as in 1h, 15m, 1h30m, 900s [default: 1h].
    /// Chained roles are limited to 1h by STS.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,

    /// ExternalId for every role given by flags; with --profile, for the last role.
    #[arg(long, value_name = "ID")]
    pub(crate) external_id: Option<String>,

    /// Serial number (or ARN) of an MFA device; the code is asked for on the terminal, only when
    /// STS is called (not when the cache answers). Applies to the first role, or to
    /// GetSessionToken.
    #[arg(long, value_name = "SERIAL")]
    pub(crate) mfa_serial: Option<String>,

    /// A command whose first line of output is the MFA code (run by the shell, with no
    /// standard input; its output never logged): `pass otp aws`, `ykman oath accounts code
    /// --single aws`. For --mfa-serial's device, and with --profile for the profiles'
    /// devices that have no `mfa_process` of their own. Without it the code is asked on the
    /// terminal.
    #[arg(long, value_name = "COMMAND")]
    pub(crate) mfa_process: Option<String>,

    /// Assume --role-arn with the web identity (OIDC) token in this file (EKS, GitHub Actions,
    /// any OIDC issuer), read again at every refresh: AssumeRoleWithWebIdentity, no base
    /// credentials. The first role; --chain hops onto it.
    #[arg(
        long,
        value_name = "PATH",
        requires = "role_arn",
        conflicts_with_all = ["source_profile", "mfa_serial"]
    )]
    pub(crate) web_identity_token_file: Option<PathBuf>,

    /// Inline session policy for the last role: JSON, or @FILE to read it from a file.
    #[arg(long, value_name = "JSON|@FILE")]
    pub(crate) policy: Option<String>,

    /// Managed session policy for the last role (repeatable, at most 10).
    #[arg(long = "policy-arn", value_name = "ARN")]
    pub(crate) policy_arns: Vec<String>,

    /// Session tag for the last role, KEY=VALUE (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub(crate) tags: Vec<(String, String)>,

    /// A session tag key that passes on to sessions chained from the last role (repeatable).
    #[arg(long = "transitive-tag-key", value_name = "KEY")]
    pub(crate) transitive_tag_keys: Vec<String>,

    /// Source identity of the last role's session (kept through later role chaining).
    #[arg(long, value_name = "ID")]
    pub(crate) source_identity: Option<String>,

    /// Profile whose credentials (its keys, or its own chain: source_profile, role_arn,
    /// credential_process, SSO) sign the first STS call. Read from the usual files, honouring
    /// AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE [default: the environment's default
    /// credentials chain].
    #[arg(long, value_name = "NAME")]
    pub(crate) source_profile: Option<String>,

    /// Region of the STS endpoint [default: AWS_REGION, AWS_DEFAULT_REGION, the region of
    /// --source-profile's profile (of AWS_PROFILE's without it; with --profile, that
    /// profile's), else us-east-1]. The command does not know which profile the AWS CLI runs it
    /// for: give --region on the credential_process line to call STS in that region.
    #[arg(long, value_name = "REGION")]
    pub(crate) region: Option<String>,

    /// STS endpoint to call instead of the regional one [default: AWS_ENDPOINT_URL_STS or
    /// AWS_ENDPOINT_URL if set].
    #[arg(long, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,

    /// Allow a plain http:// endpoint on a host other than loopback (the credentials then
    /// cross the network in clear text).
    #[arg(long)]
    pub(crate) allow_insecure_endpoint: bool,

    /// How long to wait for the credentials, another process's STS call for the same session
    /// included (a process waits for it up to half this time, then calls STS itself)
    /// [default: 5s; 2m with --mfa-serial or --profile, to type a code].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,

    /// Always call STS; do not read or write the cache directory.
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// Cache directory [default: $XDG_CACHE_HOME/chainable-credentials or
    /// ~/.cache/chainable-credentials].
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub(crate) cache_dir: Option<PathBuf>,

    /// Share sessions through Valkey/Redis instead of the cache directory, so that processes
    /// on different machines (CI runners, developers behind one bastion) make one STS call:
    /// redis://[USER[:PASSWORD]@]HOST[:PORT][/DB], or rediss:// for TLS. Entries are sealed
    /// with the key of --session-store-key-file.
    #[arg(
        long,
        value_name = "URL",
        requires = "session_store_key_file",
        conflicts_with_all = ["no_cache", "cache_dir"]
    )]
    pub(crate) session_store: Option<String>,

    /// The sealing keys of --session-store: 64 hexadecimal characters (32 bytes) a line, the
    /// first seals, the others are older keys still read; the file must not be readable by
    /// others.
    #[arg(long, value_name = "PATH", requires = "session_store")]
    pub(crate) session_store_key_file: Option<PathBuf>,

    /// Print the secret even when standard output is a terminal (by default the command
    /// refuses, so that it does not end up on screen or in a scrollback buffer).
    #[arg(long)]
    pub(crate) allow_terminal: bool,
}

/// `KEY=VALUE` (the value may be empty or contain `=`).
pub(crate) fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err("expected KEY=VALUE, e.g. --tag project=reports".into()),
    }
}

/// `3600`, `3600s`, `60m`, `1h`, `1h30m`, `2h15m10s`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut seen_unit = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("unknown unit {c:?} (use h, m or s, e.g. 1h30m)")),
        };
        let value: u64 = digits
            .parse()
            .map_err(|_| format!("a number must come before {c:?} (e.g. 1h30m)"))?;
        total = value
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or("too long")?;
        digits.clear();
        seen_unit = true;
    }
    if !digits.is_empty() || !seen_unit {
        return Err("expected seconds or a duration like 1h, 15m, 1h30m".into());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("900"), Ok(900));
        assert_eq!(secs("900s"), Ok(900));
        assert_eq!(secs("15m"), Ok(900));
        assert_eq!(secs("1h"), Ok(3600));
        assert_eq!(secs("1h30m"), Ok(5400));
        assert_eq!(secs("2h15m10s"), Ok(8110));
        for bad in ["", "h", "1x", "1h30", "-5", "1.5h", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tags() {
        assert_eq!(parse_tag("a=b"), Ok(("a".into(), "b".into())));
        assert_eq!(parse_tag("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_tag("a="), Ok(("a".into(), String::new())));
        assert!(parse_tag("=b").is_err() && parse_tag("ab").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

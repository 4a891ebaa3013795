//! The service's settings: its flags (parsed by clap), else their environment variables, else
//! the defaults, checked before the service starts so that a bad one stops it with one line
//! that names the flag — or the variable, when the value came from there.

use crate::users::{UserPrefix, Users};
use crate::{app, server};
use clap::Parser;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::Duration;

/// What `--help` says after the flags.
const AFTER_HELP: &str = "\
Every flag falls back to its environment variable (named in parentheses); flags win. Base \
credentials come from the environment's default chain (AWS_ACCESS_KEY_ID/\
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance or container credentials).

SECURITY: without --users the service does not authenticate anyone. Whoever can reach its \
port can upload to and download from its buckets with the role's permissions. Keep the \
default loopback address, or give it --users, or put a proxy that authenticates users (and \
terminates TLS) in front of it; bound to any other address without --users it logs a warning \
at start.";

/// The command line. Values are taken as text and read by [`Config::from_flags`], which reads
/// a variable's value the same way and names the variable when it is wrong.
#[derive(Debug, Parser)]
#[command(
    name = "upload-service",
    about = "An upload/download backend on one assumed role (chainable-credentials example)",
    after_help = AFTER_HELP
)]
pub struct Flags {
    /// Role to assume (env UPLOAD_ROLE_ARN; required).
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// The buckets served, the first for requests that name none; repeatable or
    /// comma-separated (env UPLOAD_BUCKET; required). Requests naming any other bucket are
    /// refused (403).
    #[arg(long = "bucket", value_name = "NAME[,NAME...]")]
    pub buckets: Vec<String>,
    /// Listen address (env UPLOAD_BIND; default 127.0.0.1:8080; 127.0.0.1:0 picks a free port).
    /// See SECURITY below before binding anything but loopback.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// A name clients reach the service by (its DNS name, the Host a proxy forwards);
    /// repeatable or comma-separated (env UPLOAD_ALLOWED_HOSTS). Requests whose Host is neither
    /// one of these nor the address they came in on (or localhost, on loopback) get 421.
    #[arg(long = "allowed-host", value_name = "NAME[,NAME...]")]
    pub allowed_hosts: Vec<String>,
    /// AWS region [AWS_REGION, or the profile's].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// S3 and STS endpoint, e.g. a local server (env AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Role session name, seen in CloudTrail (env UPLOAD_SESSION_NAME; default upload-service).
    #[arg(long, value_name = "NAME")]
    pub session_name: Option<String>,
    /// Presigned URL lifetime, at most what is left of the session [UPLOAD_PRESIGN_SECONDS;
    /// default 2400].
    #[arg(long, value_name = "N")]
    pub presign_seconds: Option<String>,
    /// Largest upload (env UPLOAD_MAX_UPLOAD_BYTES; default 10485760).
    #[arg(long, value_name = "N")]
    pub max_upload_bytes: Option<String>,
    /// Uploads held in memory at once (env UPLOAD_MAX_CONCURRENT_UPLOADS; default 16).
    #[arg(long, value_name = "N")]
    pub max_concurrent_uploads: Option<String>,
    /// Longest a request may run (env UPLOAD_REQUEST_TIMEOUT_SECONDS; default 60).
    #[arg(long, value_name = "N")]
    pub request_timeout_seconds: Option<String>,
    /// How long a client may take to send a request's headers, and how long an idle
    /// connection is kept; then it is closed (env UPLOAD_HEADER_READ_TIMEOUT_SECONDS; default 10).
    #[arg(long, value_name = "N")]
    pub header_read_timeout_seconds: Option<String>,
    /// Connections served at once; more wait in the listen backlog until one closes
    /// (env UPLOAD_MAX_CONNECTIONS; default 256).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<String>,
    /// How long in-flight requests may finish after Ctrl-C/SIGTERM
    /// (env UPLOAD_SHUTDOWN_TIMEOUT_SECONDS; default 30).
    #[arg(long, value_name = "N")]
    pub shutdown_timeout_seconds: Option<String>,
    /// /healthz also shows the role ARN, refresh counters and the last error's text
    /// (env UPLOAD_HEALTHZ_DETAILS=true; default: only whether a session is held and until when).
    #[arg(long)]
    pub healthz_details: bool,
    /// Log format, text or json (env UPLOAD_LOG_FORMAT; default text); RUST_LOG sets the level.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// The service's users: a file of `TOKEN USER` lines (`#` comments), read at start
    /// (env UPLOAD_USERS_FILE). With it every endpoint but / and /healthz needs
    /// `Authorization: Bearer TOKEN`, and each user works under its own prefix on a session
    /// scoped to it; GET /credentials hands that session to the user's browser.
    #[arg(long = "users", value_name = "FILE")]
    pub users_file: Option<String>,
    /// A user's key prefix, `{user}` standing for its name, ending with `/`
    /// (env UPLOAD_USER_PREFIX; default users/{user}/; only with --users).
    #[arg(long, value_name = "TEMPLATE")]
    pub user_prefix: Option<String>,
    /// A Valkey/Redis server (redis://[USER:PASSWORD@]HOST[:PORT][/DB], or rediss:// for TLS)
    /// where the instances behind one address share their sessions and every user's: one STS
    /// call per session for all of them (env UPLOAD_SESSION_STORE; needs
    /// --session-store-key-file).
    #[arg(long, value_name = "URL")]
    pub session_store: Option<String>,
    /// The store's sealing keys: 64 hexadecimal characters (32 bytes) on the first line, older
    /// keys (still read) on the next; readable by its owner only (env
    /// UPLOAD_SESSION_STORE_KEY_FILE; only with --session-store).
    #[arg(long, value_name = "PATH")]
    pub session_store_key_file: Option<String>,
    /// Serve metrics in the Prometheus text format at http://ADDR/metrics, on a listener of
    /// their own: the credentials' refreshes, STS calls and time to expiry, and the S3
    /// client's calls (env UPLOAD_METRICS_BIND; default: no metrics). Keep it on loopback.
    #[arg(long, value_name = "ADDR")]
    pub metrics_bind: Option<String>,
}

/// Everything the command line and the environment set.
#[derive(Debug)]
pub struct Config {
    pub bind: SocketAddr,
    pub role_arn: String,
    pub session_name: String,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub settings: app::Settings,
    pub limits: server::Limits,
    pub shutdown_timeout: Duration,
    pub json_logs: bool,
    /// With `--users`: the users and where their keys live.
    pub users: Option<(Users, UserPrefix)>,
    /// With `--session-store`: where the instances share their sessions.
    pub session_store: Option<StoreSetting>,
    /// With `--metrics-bind`: where `/metrics` is served.
    pub metrics_bind: Option<SocketAddr>,
}

/// The Valkey/Redis store the instances share, as given.
pub struct StoreSetting {
    pub url: String,
    pub key_file: std::path::PathBuf,
    /// `--session-store` or `UPLOAD_SESSION_STORE`, whichever gave the URL: for errors.
    pub named: String,
}

/// One setting: the flag's value, else its variable's, with where it came from for errors.
struct Source {
    flag: &'static str,
    var: &'static str,
    value: Option<String>,
    from_flag: bool,
}

impl Source {
    /// `--flag` when the value came from the flag, else the variable's name.
    fn name(&self) -> String {
        if self.from_flag {
            format!("--{}", self.flag)
        } else {
            self.var.to_owned()
        }
    }

    fn number(&self, default: u64) -> Result<u64, String> {
        match &self.value {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("{}: {text:?} is not a whole number", self.name())),
        }
    }
}

impl Config {
    /// The configuration the flags give, with `env` (a variable lookup) for what they leave
    /// out. Flags win over the environment.
    pub fn from_flags(
        mut flags: Flags,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let reader = Reader {
            env,
            from_variables: RefCell::default(),
        };
        let bind = address(reader.setting("bind", "UPLOAD_BIND", flags.bind.take()))?
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let metrics_bind = address(reader.setting(
            "metrics-bind",
            "UPLOAD_METRICS_BIND",
            flags.metrics_bind.take(),
        ))?;
        let role_arn = reader
            .setting("role-arn", "UPLOAD_ROLE_ARN", flags.role_arn.take())
            .value
            .ok_or("no role to assume: set --role-arn or UPLOAD_ROLE_ARN")?;
        let settings = reader.app_settings(&mut flags)?;
        let limits = reader.limits(&mut flags)?;
        let json_logs =
            json_logs(reader.setting("log-format", "UPLOAD_LOG_FORMAT", flags.log_format.take()))?;
        let users = users(
            reader.setting("users", "UPLOAD_USERS_FILE", flags.users_file.take()),
            reader.setting(
                "user-prefix",
                "UPLOAD_USER_PREFIX",
                flags.user_prefix.take(),
            ),
        )?;
        let session_store = store_setting(
            reader.setting(
                "session-store",
                "UPLOAD_SESSION_STORE",
                flags.session_store.take(),
            ),
            reader.setting(
                "session-store-key-file",
                "UPLOAD_SESSION_STORE_KEY_FILE",
                flags.session_store_key_file.take(),
            ),
        )?;
        let shutdown_timeout = reader.setting(
            "shutdown-timeout-seconds",
            "UPLOAD_SHUTDOWN_TIMEOUT_SECONDS",
            flags.shutdown_timeout_seconds.take(),
        );
        Ok(Config {
            users,
            session_store,
            metrics_bind,
            bind,
            role_arn,
            session_name: reader
                .setting("session-name", "UPLOAD_SESSION_NAME", flags.session_name)
                .value
                .unwrap_or_else(|| "upload-service".into()),
            region: reader.setting("region", "AWS_REGION", flags.region).value,
            endpoint_url: reader
                .setting("endpoint-url", "AWS_ENDPOINT_URL", flags.endpoint_url)
                .value,
            settings,
            limits,
            shutdown_timeout: Duration::from_secs(shutdown_timeout.number(30)?),
            json_logs,
        })
    }
}

/// Reads each setting from its flag, else its variable, and remembers the settings whose
/// values came from a variable: a rule `validate` states under the flag's name is then
/// reported under the variable's.
struct Reader<E> {
    env: E,
    from_variables: RefCell<Vec<(&'static str, &'static str)>>,
}

impl<E: Fn(&str) -> Option<String>> Reader<E> {
    /// One setting: the flag's value if given, else the variable's; blank is unset.
    fn setting(&self, flag: &'static str, var: &'static str, given: Option<String>) -> Source {
        let value = given.clone().or_else(|| (self.env)(var));
        if given.is_none() && value.is_some() {
            self.from_variables.borrow_mut().push((flag, var));
        }
        Source {
            flag,
            var,
            from_flag: given.is_some(),
            value: value.filter(|v| !v.trim().is_empty()),
        }
    }

    /// A list setting: the flags given (repeated or comma-separated), else the variable's.
    fn list(
        &self,
        flag: &'static str,
        var: &'static str,
        given: Vec<String>,
    ) -> Result<Vec<String>, String> {
        if !given.is_empty() {
            return split_list(&format!("--{flag}"), &given);
        }
        // A blank variable is unset (as templated deployments leave them).
        let value = (self.env)(var).filter(|v| !v.trim().is_empty());
        if value.is_some() {
            self.from_variables.borrow_mut().push((flag, var));
        }
        split_list(var, value.as_slice())
    }

    /// `error` (which names a flag) naming the variable instead, if that is what set it.
    fn named(&self, error: String) -> String {
        for (flag, var) in self.from_variables.borrow().iter() {
            if let Some(rule) = error.strip_prefix(&format!("--{flag}:")) {
                return format!("{var}:{rule}");
            }
        }
        error
    }

    /// What the application serves and how (buckets, hosts, presigning, uploads), checked.
    fn app_settings(&self, flags: &mut Flags) -> Result<app::Settings, String> {
        let buckets = self.list(
            "bucket",
            "UPLOAD_BUCKET",
            std::mem::take(&mut flags.buckets),
        )?;
        if buckets.is_empty() {
            return Err("no bucket to serve: set --bucket or UPLOAD_BUCKET".into());
        }
        let healthz_details = switch(self.setting(
            "healthz-details",
            "UPLOAD_HEALTHZ_DETAILS",
            flags.healthz_details.then(|| "true".to_owned()),
        ))?;
        let allowed_hosts = std::mem::take(&mut flags.allowed_hosts);
        let defaults = app::Settings::default();
        let number = |flag, var, given: &mut Option<String>, default| {
            self.setting(flag, var, given.take()).number(default)
        };
        let count = |flag, var, given: &mut Option<String>, default| {
            usize_of(self.setting(flag, var, given.take()), default)
        };
        let settings = app::Settings {
            buckets,
            allowed_hosts: self.list("allowed-host", "UPLOAD_ALLOWED_HOSTS", allowed_hosts)?,
            healthz_details,
            presign_lifetime: Duration::from_secs(number(
                "presign-seconds",
                "UPLOAD_PRESIGN_SECONDS",
                &mut flags.presign_seconds,
                app::DEFAULT_PRESIGN_LIFETIME.as_secs(),
            )?),
            max_upload_bytes: count(
                "max-upload-bytes",
                "UPLOAD_MAX_UPLOAD_BYTES",
                &mut flags.max_upload_bytes,
                defaults.max_upload_bytes,
            )?,
            max_concurrent_uploads: count(
                "max-concurrent-uploads",
                "UPLOAD_MAX_CONCURRENT_UPLOADS",
                &mut flags.max_concurrent_uploads,
                defaults.max_concurrent_uploads,
            )?,
            request_timeout: Duration::from_secs(number(
                "request-timeout-seconds",
                "UPLOAD_REQUEST_TIMEOUT_SECONDS",
                &mut flags.request_timeout_seconds,
                defaults.request_timeout.as_secs(),
            )?),
            // Known once the SDK's configuration is loaded (`main.rs`).
            s3_endpoint: None,
            region: None,
        };
        settings.validate().map_err(|e| self.named(e))?;
        Ok(settings)
    }

    /// The server's limits on clients, checked.
    fn limits(&self, flags: &mut Flags) -> Result<server::Limits, String> {
        let defaults = server::Limits::default();
        let limits = server::Limits {
            header_read_timeout: Duration::from_secs(
                self.setting(
                    "header-read-timeout-seconds",
                    "UPLOAD_HEADER_READ_TIMEOUT_SECONDS",
                    flags.header_read_timeout_seconds.take(),
                )
                .number(defaults.header_read_timeout.as_secs())?,
            ),
            max_connections: usize_of(
                self.setting(
                    "max-connections",
                    "UPLOAD_MAX_CONNECTIONS",
                    flags.max_connections.take(),
                ),
                defaults.max_connections,
            )?,
        };
        limits.validate().map_err(|e| self.named(e))?;
        Ok(limits)
    }
}

/// A yes/no setting: `true`/`1` or `false`/`0`, unset meaning no.
fn switch(source: Source) -> Result<bool, String> {
    match source.value.as_deref().map(str::trim) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(format!(
            "{}: {other:?} is neither true nor false",
            source.name()
        )),
    }
}

/// Whether logs are JSON (`json`) rather than text (`text`, the default).
fn json_logs(log_format: Source) -> Result<bool, String> {
    match log_format.value.as_deref() {
        None | Some("text") => Ok(false),
        Some("json") => Ok(true),
        Some(other) => Err(format!(
            "{}: {other:?} is neither text nor json",
            log_format.name()
        )),
    }
}

/// The users file, read, and the prefix template: both, only the file, or neither.
fn users(users_file: Source, user_prefix: Source) -> Result<Option<(Users, UserPrefix)>, String> {
    match (&users_file.value, &user_prefix.value) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(format!(
            "{}: a user prefix needs users: set --users or UPLOAD_USERS_FILE",
            user_prefix.name()
        )),
        (Some(path), prefix) => {
            let users = Users::read(std::path::Path::new(path))
                .map_err(|e| format!("{}: {e}", users_file.name()))?;
            let prefix = match prefix {
                Some(template) => UserPrefix::parse(template)
                    .map_err(|e| format!("{}: {e}", user_prefix.name()))?,
                None => UserPrefix::default(),
            };
            Ok(Some((users, prefix)))
        }
    }
}

/// A listening address with a port, if set.
fn address(source: Source) -> Result<Option<SocketAddr>, String> {
    let Some(text) = &source.value else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|_| {
        format!(
            "{}: {text:?} is not an address with a port, e.g. 127.0.0.1:8080",
            source.name()
        )
    })
}

/// The store of `url` sealed with the keys in `key_file`: both, or neither.
fn store_setting(url: Source, key_file: Source) -> Result<Option<StoreSetting>, String> {
    match (url.value.clone(), key_file.value.clone()) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(format!(
            "{}: the store needs its sealing key: set --session-store-key-file or \
             UPLOAD_SESSION_STORE_KEY_FILE",
            url.name()
        )),
        (None, Some(_)) => Err(format!(
            "{}: a sealing key needs a store: set --session-store or UPLOAD_SESSION_STORE",
            key_file.name()
        )),
        (Some(address), Some(path)) => Ok(Some(StoreSetting {
            url: address,
            key_file: path.into(),
            named: url.name(),
        })),
    }
}

/// Without the URL: it may hold the store's password.
impl std::fmt::Debug for StoreSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSetting")
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

/// A count that must fit this machine's `usize`.
fn usize_of(source: Source, default: usize) -> Result<usize, String> {
    usize::try_from(source.number(default as u64)?)
        .map_err(|_| format!("{}: too large for this machine", source.name()))
}

/// The names in comma-separated `texts` (blanks around them ignored); an empty one is an
/// error naming `what` (the flag or the variable).
fn split_list(what: &str, texts: &[String]) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for text in texts {
        for name in text.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(format!("{what}: an empty name in {text:?}"));
            }
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
        let flags =
            Flags::try_parse_from(std::iter::once("upload-service").chain(args.iter().copied()))
                .map_err(|e| e.to_string())?;
        Config::from_flags(flags, |name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    const ARN: &str = "arn:aws:iam::123456789012:role/uploader";

    #[test]
    fn flags_win_over_the_environment() {
        let config = parse_with(
            &["--bucket", "from-flag", "--presign-seconds=60"],
            &[
                ("UPLOAD_ROLE_ARN", ARN),
                ("UPLOAD_BUCKET", "from-env"),
                ("UPLOAD_PRESIGN_SECONDS", "120"),
            ],
        )
        .unwrap();
        assert_eq!(config.role_arn, ARN);
        assert_eq!(config.settings.buckets, ["from-flag"]);
        assert_eq!(config.settings.presign_lifetime, Duration::from_secs(60));
        assert_eq!(config.bind, SocketAddr::from(([127, 0, 0, 1], 8080)));
    }

    #[test]
    fn the_served_buckets_and_host_names_are_lists() {
        let env = [
            ("UPLOAD_ROLE_ARN", ARN),
            ("UPLOAD_BUCKET", "env-one, env-two"),
            ("UPLOAD_ALLOWED_HOSTS", "uploads.example.com"),
        ];
        let from_env = parse_with(&[], &env).unwrap();
        assert_eq!(from_env.settings.buckets, ["env-one", "env-two"]);
        assert_eq!(from_env.settings.allowed_hosts, ["uploads.example.com"]);
        assert!(!from_env.settings.healthz_details, "off by default");

        let from_flags = parse_with(
            &[
                "--bucket",
                "first,second",
                "--healthz-details",
                "--bucket=third",
                "--allowed-host",
                "a.example",
                "--allowed-host",
                "b.example,[::1]",
            ],
            &env,
        )
        .unwrap();
        assert_eq!(
            from_flags.settings.buckets,
            ["first", "second", "third"],
            "every --bucket, in order (the first is the default); none from the environment"
        );
        assert_eq!(
            from_flags.settings.allowed_hosts,
            ["a.example", "b.example", "[::1]"]
        );
        assert!(
            from_flags.settings.healthz_details,
            "a switch takes no value"
        );
    }

    #[test]
    fn connection_limits_have_defaults_and_flags() {
        let env = [("UPLOAD_ROLE_ARN", ARN), ("UPLOAD_BUCKET", "uploads")];
        let defaults = parse_with(&[], &env).unwrap();
        assert_eq!(defaults.limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(defaults.limits.max_connections, 256);
        let set = parse_with(
            &["--header-read-timeout-seconds", "3", "--max-connections=8"],
            &env,
        )
        .unwrap();
        assert_eq!(set.limits.header_read_timeout, Duration::from_secs(3));
        assert_eq!(set.limits.max_connections, 8);
    }

    #[test]
    fn bad_settings_are_named() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "--role-arn or UPLOAD_ROLE_ARN"),
            (&["--role-arn", ARN, "--bind", "localhost"], "--bind"),
            (
                &["--role-arn", ARN, "--metrics-bind", "localhost:9100x"],
                "--metrics-bind",
            ),
            (
                &["--role-arn", ARN, "--presign-seconds", "abc"],
                "--presign-seconds",
            ),
            (
                &["--role-arn", ARN, "--presign-seconds", "0"],
                "--presign-seconds",
            ),
            (
                &["--role-arn", ARN, "--presign-seconds", "604801"],
                "7 days",
            ),
            (
                &["--role-arn", ARN, "--max-upload-bytes", "0"],
                "--max-upload-bytes",
            ),
            (&["--role-arn", ARN, "--bucket", "Not_A_Bucket"], "--bucket"),
            (
                &["--role-arn", ARN, "--bucket", "a-b,,c-d"],
                "an empty name",
            ),
            (
                &["--role-arn", ARN, "--allowed-host", "evil.example:80"],
                "--allowed-host",
            ),
            (
                &["--role-arn", ARN, "--allowed-host", "http://a.example"],
                "--allowed-host",
            ),
            (
                &["--role-arn", ARN, "--header-read-timeout-seconds", "0"],
                "--header-read-timeout-seconds",
            ),
            (
                &["--role-arn", ARN, "--max-connections", "0"],
                "--max-connections",
            ),
            (
                &["--role-arn", ARN, "--healthz-details=maybe"],
                "unexpected value 'maybe' for '--healthz-details'",
            ),
            (&["--role-arn", ARN, "--log-format", "xml"], "--log-format"),
            (
                &["--role-arn", ARN, "--colour", "red"],
                "unexpected argument '--colour'",
            ),
            (
                &["--role-arn"],
                "a value is required for '--role-arn <ARN>'",
            ),
            (&["stray"], "unexpected argument 'stray'"),
        ];
        for (args, expected) in cases {
            let error = parse_with(args, &[("UPLOAD_BUCKET", "uploads")])
                .err()
                .unwrap_or_else(|| {
                    panic!("{args:?} was accepted");
                });
            assert!(error.contains(expected), "{args:?}: {error}");
        }
        let error = parse_with(&["--role-arn", ARN], &[]).err().unwrap();
        assert!(
            error.contains("no bucket to serve: set --bucket or UPLOAD_BUCKET"),
            "{error}"
        );
    }

    #[test]
    fn users_come_from_a_file_with_a_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users");
        std::fs::write(&file, "0123456789abcdef0123456789abcdef alice\n").unwrap();
        let file = file.to_str().unwrap();
        let env = [("UPLOAD_ROLE_ARN", ARN), ("UPLOAD_BUCKET", "uploads")];
        assert!(
            parse_with(&[], &env).unwrap().users.is_none(),
            "none by default"
        );
        let (users, prefix) = parse_with(&["--users", file], &env).unwrap().users.unwrap();
        assert_eq!(users.names().len(), 1);
        assert_eq!(prefix.for_user("alice"), "users/alice/");
        let (_, prefix) = parse_with(&["--users", file, "--user-prefix", "t/{user}/"], &env)
            .unwrap()
            .users
            .unwrap();
        assert_eq!(prefix.for_user("alice"), "t/alice/");
        let from_env = [
            ("UPLOAD_ROLE_ARN", ARN),
            ("UPLOAD_BUCKET", "uploads"),
            ("UPLOAD_USERS_FILE", file),
        ];
        assert!(parse_with(&[], &from_env).unwrap().users.is_some());

        for (args, expected) in [
            (
                vec!["--user-prefix", "t/{user}/"],
                "--user-prefix: a user prefix needs users",
            ),
            (
                vec!["--users", file, "--user-prefix", "t/"],
                "--user-prefix: \"t/\" must hold",
            ),
            (
                vec!["--users", "/nonexistent/users"],
                "--users: cannot open /nonexistent/users",
            ),
        ] {
            let error = parse_with(&args, &env).unwrap_err();
            assert!(error.starts_with(expected), "{args:?}: {error}");
        }
        std::fs::write(dir.path().join("short"), "short alice\n").unwrap();
        let short = dir.path().join("short");
        let error = parse_with(
            &[],
            &[
                ("UPLOAD_ROLE_ARN", ARN),
                ("UPLOAD_BUCKET", "uploads"),
                ("UPLOAD_USERS_FILE", short.to_str().unwrap()),
            ],
        )
        .unwrap_err();
        assert!(error.starts_with("UPLOAD_USERS_FILE: "), "{error}");
        assert!(
            error.contains("line 1: the token is 5 characters long"),
            "{error}"
        );
    }
}

#[cfg(test)]
mod environment_tests {
    use super::*;

    /// A bad value from a variable is reported under the variable's name, not the flag's.
    #[test]
    fn a_bad_variable_is_named_as_such() {
        let flags = Flags::try_parse_from(["upload-service"]).unwrap();
        let env = [
            ("UPLOAD_ROLE_ARN", "arn:aws:iam::123456789012:role/uploader"),
            ("UPLOAD_BUCKET", "uploads"),
            ("UPLOAD_PRESIGN_SECONDS", "abc"),
        ];
        let error = Config::from_flags(flags, |name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap_err();
        assert!(
            error.starts_with("UPLOAD_PRESIGN_SECONDS: \"abc\" is not a whole number"),
            "{error}"
        );
        let flags = Flags::try_parse_from(["upload-service"]).unwrap();
        let error = Config::from_flags(flags, |name| match name {
            "UPLOAD_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/uploader".into()),
            "UPLOAD_BUCKET" => Some("uploads".into()),
            "UPLOAD_HEALTHZ_DETAILS" => Some("maybe".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(error.starts_with("UPLOAD_HEALTHZ_DETAILS"), "{error}");
        // A rule broken by a variable's value names the variable too.
        let flags = Flags::try_parse_from(["upload-service"]).unwrap();
        let error = Config::from_flags(flags, |name| match name {
            "UPLOAD_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/uploader".into()),
            "UPLOAD_BUCKET" => Some("uploads".into()),
            "UPLOAD_PRESIGN_SECONDS" => Some("0".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(
            error.starts_with("UPLOAD_PRESIGN_SECONDS: 0 is out of range"),
            "{error}"
        );
        let flags = Flags::try_parse_from(["upload-service", "--presign-seconds", "0"]).unwrap();
        let error = Config::from_flags(flags, |name| match name {
            "UPLOAD_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/uploader".into()),
            "UPLOAD_BUCKET" => Some("uploads".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(
            error.starts_with("--presign-seconds: 0 is out of range"),
            "{error}"
        );
        // A blank list variable is unset, as a blank single value is.
        let flags = Flags::try_parse_from(["upload-service"]).unwrap();
        let config = Config::from_flags(flags, |name| match name {
            "UPLOAD_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/uploader".into()),
            "UPLOAD_BUCKET" => Some("uploads".into()),
            "UPLOAD_ALLOWED_HOSTS" => Some(" ".into()),
            _ => None,
        })
        .unwrap();
        assert!(config.settings.allowed_hosts.is_empty());
    }
}

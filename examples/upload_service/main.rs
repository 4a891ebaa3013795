//! An upload/download backend on one assumed role: users upload files to S3 through the
//! service and download them through presigned URLs; the service itself signs with one
//! `ChainableTemporaryCredentials` — one STS call per session lifetime, refreshed in the
//! background — instead of calling `AssumeRole` on every request.
//!
//! ```text
//! cargo run --example upload_service -- --role-arn ARN --bucket BUCKET
//! ```
//!
//! Endpoints: `GET /` (a page: upload, list, download), `POST /item` (multipart `file`, `key`,
//! `bucket`), `GET /item?bucket=&key=` (a presigned download URL), `GET /items?bucket=&prefix=`
//! (a page of objects), `GET /healthz` (the session's status; 503 without a valid session).
//! Requests may name only the `--bucket`s given; requests for another `Host`, and
//! state-changing requests from another site's page, are refused (see `app::router`).
//!
//! The service has no authentication of its own: whoever reaches its port may upload to and
//! download from its buckets. It listens on loopback by default; on any other address it
//! warns at start, and belongs behind a proxy that authenticates users.
//!
//! Settings come from flags, else the environment (flags win); `--help` lists them. The base
//! credentials (the identity allowed to assume the role), region and endpoint come from the
//! environment's default chain as in every SDK program (`AWS_ACCESS_KEY_ID`, a profile,
//! instance metadata, ...; `AWS_REGION`, `AWS_ENDPOINT_URL`). The listening URL is printed on
//! standard output as one line, `listening on http://ADDR`; logs go to standard error.
//! Ctrl-C or SIGTERM stops accepting connections and lets in-flight requests finish.

mod app;
mod server;

use aws_config::BehaviorVersion;
use aws_types::region::Region;
use chainable_credentials::ChainableTemporaryCredentials;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: upload_service [FLAGS]

  --role-arn ARN                 role to assume (env UPLOAD_ROLE_ARN; required)
  --bucket NAME[,NAME...]        the buckets served, the first for requests that name none;
                                 repeatable (env UPLOAD_BUCKET, comma-separated; required).
                                 Requests naming any other bucket are refused (403)
  --bind ADDR                    listen address (env UPLOAD_BIND; default 127.0.0.1:8080;
                                 127.0.0.1:0 picks a free port). See SECURITY below before
                                 binding anything but loopback
  --allowed-host NAME[,NAME...]  a name clients reach the service by (its DNS name, the Host a
                                 proxy forwards); repeatable (env UPLOAD_ALLOWED_HOSTS).
                                 Requests whose Host is neither one of these nor the address
                                 they came in on (or localhost, on loopback) get 421
  --region REGION                AWS region (env AWS_REGION, or the profile's)
  --endpoint-url URL             S3 and STS endpoint, e.g. a local server (env AWS_ENDPOINT_URL)
  --session-name NAME            role session name, seen in CloudTrail
                                 (env UPLOAD_SESSION_NAME; default upload-service)
  --presign-seconds N            presigned URL lifetime, at most what is left of the session
                                 (env UPLOAD_PRESIGN_SECONDS; default 2400)
  --max-upload-bytes N           largest upload (env UPLOAD_MAX_UPLOAD_BYTES; default 10485760)
  --max-concurrent-uploads N     uploads held in memory at once (env UPLOAD_MAX_CONCURRENT_UPLOADS;
                                 default 16)
  --request-timeout-seconds N    longest a request may run (env UPLOAD_REQUEST_TIMEOUT_SECONDS;
                                 default 60)
  --header-read-timeout-seconds N
                                 how long a client may take to send a request's headers, and
                                 how long an idle connection is kept; then it is closed
                                 (env UPLOAD_HEADER_READ_TIMEOUT_SECONDS; default 10)
  --max-connections N            connections served at once; more wait in the listen backlog
                                 until one closes (env UPLOAD_MAX_CONNECTIONS; default 256)
  --shutdown-timeout-seconds N   how long in-flight requests may finish after Ctrl-C/SIGTERM
                                 (env UPLOAD_SHUTDOWN_TIMEOUT_SECONDS; default 30)
  --healthz-details              /healthz also shows the role ARN, refresh counters and the last
                                 error's text (env UPLOAD_HEALTHZ_DETAILS=true; default: only
                                 whether a session is held and until when)
  --log-format text|json         (env UPLOAD_LOG_FORMAT; default text); RUST_LOG sets the level
  -h, --help                     this help

Base credentials come from the environment's default chain (AWS_ACCESS_KEY_ID/
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance or container credentials).

SECURITY: the service does not authenticate anyone. Whoever can reach its port can upload to
and download from its buckets with the role's permissions. Keep the default loopback address,
or put a proxy that authenticates users (and terminates TLS) in front of it; bound to any
other address it logs a warning at start.";

/// Everything the command line and the environment set.
#[derive(Debug)]
struct Config {
    bind: SocketAddr,
    role_arn: String,
    session_name: String,
    region: Option<String>,
    endpoint_url: Option<String>,
    settings: app::Settings,
    limits: server::Limits,
    shutdown_timeout: Duration,
    json_logs: bool,
}

/// A start-up failure: the message, and the exit code (2: bad configuration, 1: otherwise).
struct Fatal(String, u8);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fatal(message, code)) => {
            eprintln!("upload_service: {message}");
            ExitCode::from(code)
        }
    }
}

fn run() -> Result<(), Fatal> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    // The process's environment, read through the same `Env` the library is given.
    let env = aws_types::os_shim_internal::Env::real();
    let config = parse(&args, |name| env.get(name).ok())
        .map_err(|e| Fatal(format!("{e}\n(--help lists the settings)"), 2))?;
    init_logs(config.json_logs);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal(format!("cannot start the runtime: {e}"), 1))?
        .block_on(serve(config))
}

async fn serve(config: Config) -> Result<(), Fatal> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &config.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let sdk_config = loader.load().await;
    if sdk_config.region().is_none() {
        return Err(Fatal(
            "no AWS region: set --region or AWS_REGION (or a profile's region)".into(),
            2,
        ));
    }
    let provider = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .role_arn(&config.role_arn)
        .role_session_name(&config.session_name)
        // The first session is fetched at start, so the first request does not wait for it
        // and a role that cannot be assumed shows in the log (and /healthz) at once.
        .prefetch(true)
        .on_refresh(app::log_refresh)
        .build()
        .map_err(|e| Fatal(format!("invalid credentials settings: {e}"), 2))?;
    let s3 = app::s3_client(&sdk_config, provider.clone());
    let state = app::AppState::new(provider, s3, config.settings.clone());

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| Fatal(format!("cannot listen on {}: {e}", config.bind), 1))?;
    let address = listener
        .local_addr()
        .map_err(|e| Fatal(format!("cannot read the listening address: {e}"), 1))?;
    tracing::info!(
        %address,
        role_arn = config.role_arn,
        region = sdk_config.region().map(|r| r.to_string()),
        endpoint = sdk_config.endpoint_url(),
        buckets = ?config.settings.buckets,
        allowed_hosts = ?config.settings.allowed_hosts,
        presign_seconds = config.settings.presign_lifetime.as_secs(),
        max_upload_bytes = config.settings.max_upload_bytes,
        header_read_timeout_seconds = config.limits.header_read_timeout.as_secs(),
        max_connections = config.limits.max_connections,
        "upload service started"
    );
    if !address.ip().is_loopback() {
        warn_unauthenticated(address);
    }
    // The one line scripts and tests read.
    println!("listening on http://{address}");
    let _ = std::io::stdout().flush();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(
        listener,
        app::router(state),
        config.limits.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => {
            return result.map_err(|e| Fatal(format!("the server task failed: {e}"), 1));
        }
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down: no new connections; in-flight requests finish");
        }
    }
    let _ = stop.send(());
    match tokio::time::timeout(config.shutdown_timeout, &mut server).await {
        Ok(Ok(())) => {
            tracing::info!("shut down");
            Ok(())
        }
        Ok(Err(e)) => Err(Fatal(format!("the server task failed: {e}"), 1)),
        Err(_) => Err(Fatal(
            format!(
                "requests still running {} s after the shutdown signal; stopped without them",
                config.shutdown_timeout.as_secs()
            ),
            1,
        )),
    }
}

/// The service authenticates nobody: on loopback only this machine's users reach it, on any
/// other address everyone who can route to it may use the role's access to the buckets.
/// People copy examples into production, so this is said loudly, at every start.
fn warn_unauthenticated(address: SocketAddr) {
    tracing::warn!(
        %address,
        "LISTENING BEYOND LOOPBACK WITHOUT AUTHENTICATION: anyone who can reach {address} can \
         upload to and download from the served buckets with the role's permissions; put a \
         proxy that authenticates users (and terminates TLS) in front of this service, and \
         name the host clients use with --allowed-host"
    );
}

/// Ctrl-C (SIGINT) or SIGTERM (what `docker stop`, Kubernetes and systemd send).
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.with_ansi(false).init();
    }
}

/// Flags win over the environment (`env` looks a variable up).
fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
    let flags = read_flags(args)?;
    let env_of = |flag: &str| {
        FLAGS
            .iter()
            .find(|(known, _, _)| *known == flag)
            .and_then(|(_, var, _)| env(var))
    };
    // A flag's last value, else its variable's.
    let get = |flag: &str| -> Option<String> {
        flags
            .iter()
            .rev()
            .find(|(name, _)| name == flag)
            .map(|(_, value)| value.clone())
            .or_else(|| env_of(flag))
            .filter(|v| !v.trim().is_empty())
    };
    // Every value of a repeatable flag, each comma-separated, else its variable's.
    let list = |flag: &str| -> Result<Vec<String>, String> {
        let given: Vec<String> = flags
            .iter()
            .filter(|(name, _)| name == flag)
            .map(|(_, value)| value.clone())
            .collect();
        let texts = if given.is_empty() {
            env_of(flag).into_iter().collect()
        } else {
            given
        };
        split_list(flag, &texts)
    };
    let switch = |flag: &str| -> Result<bool, String> {
        match get(flag).as_deref().map(str::trim) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(other) => Err(format!("--{flag}: {other:?} is neither true nor false")),
        }
    };
    let number = |flag: &str, default: u64| -> Result<u64, String> {
        match get(flag) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("--{flag}: {text:?} is not a whole number")),
        }
    };
    let bind = match get("bind") {
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        Some(text) => text.parse().map_err(|_| {
            format!("--bind: {text:?} is not an address with a port, e.g. 127.0.0.1:8080")
        })?,
    };
    let role_arn = get("role-arn").ok_or("no role to assume: set --role-arn or UPLOAD_ROLE_ARN")?;
    let buckets = list("bucket")?;
    if buckets.is_empty() {
        return Err("no bucket to serve: set --bucket or UPLOAD_BUCKET".into());
    }
    let defaults = app::Settings::default();
    let settings = app::Settings {
        buckets,
        allowed_hosts: list("allowed-host")?,
        healthz_details: switch("healthz-details")?,
        presign_lifetime: Duration::from_secs(number(
            "presign-seconds",
            app::DEFAULT_PRESIGN_LIFETIME.as_secs(),
        )?),
        max_upload_bytes: usize::try_from(number(
            "max-upload-bytes",
            defaults.max_upload_bytes as u64,
        )?)
        .map_err(|_| "--max-upload-bytes: too large for this machine".to_owned())?,
        max_concurrent_uploads: usize::try_from(number(
            "max-concurrent-uploads",
            defaults.max_concurrent_uploads as u64,
        )?)
        .map_err(|_| "--max-concurrent-uploads: too large".to_owned())?,
        request_timeout: Duration::from_secs(number(
            "request-timeout-seconds",
            defaults.request_timeout.as_secs(),
        )?),
    };
    settings.validate()?;
    let default_limits = server::Limits::default();
    let limits = server::Limits {
        header_read_timeout: Duration::from_secs(number(
            "header-read-timeout-seconds",
            default_limits.header_read_timeout.as_secs(),
        )?),
        max_connections: usize::try_from(number(
            "max-connections",
            default_limits.max_connections as u64,
        )?)
        .map_err(|_| "--max-connections: too large".to_owned())?,
    };
    limits.validate()?;
    let json_logs = match get("log-format").as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => return Err(format!("--log-format: {other:?} is neither text nor json")),
    };
    Ok(Config {
        bind,
        role_arn,
        session_name: get("session-name").unwrap_or_else(|| "upload-service".into()),
        region: get("region"),
        endpoint_url: get("endpoint-url"),
        settings,
        limits,
        shutdown_timeout: Duration::from_secs(number("shutdown-timeout-seconds", 30)?),
        json_logs,
    })
}

/// The flags given, in order, as (name, value): `--name value`, `--name=value`, or a switch's
/// bare `--name` (which is `true`).
fn read_flags(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut flags = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (flag, None),
        };
        let Some((_, _, takes)) = FLAGS.iter().find(|(known, _, _)| *known == name) else {
            return Err(format!("unknown flag --{name}"));
        };
        let value = match (inline, takes) {
            (Some(value), _) => value,
            (None, Takes::Switch) => "true".to_owned(),
            (None, Takes::Value) => rest
                .next()
                .ok_or_else(|| format!("--{flag} needs a value"))?
                .clone(),
        };
        flags.push((name.to_owned(), value));
    }
    Ok(flags)
}

/// The names in comma-separated `texts` (blanks around them ignored); an empty one is an error.
fn split_list(flag: &str, texts: &[String]) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for text in texts {
        for name in text.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(format!("--{flag}: an empty name in {text:?}"));
            }
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Whether a flag takes a value (`--name value`) or is a switch (`--name` alone).
#[derive(Debug, Clone, Copy)]
enum Takes {
    Value,
    Switch,
}

/// Every flag, the environment variable it falls back to, and what it takes. `--bucket` and
/// `--allowed-host` may be repeated (their variables hold comma-separated lists).
const FLAGS: &[(&str, &str, Takes)] = &[
    ("bind", "UPLOAD_BIND", Takes::Value),
    ("role-arn", "UPLOAD_ROLE_ARN", Takes::Value),
    ("bucket", "UPLOAD_BUCKET", Takes::Value),
    ("allowed-host", "UPLOAD_ALLOWED_HOSTS", Takes::Value),
    ("region", "AWS_REGION", Takes::Value),
    ("endpoint-url", "AWS_ENDPOINT_URL", Takes::Value),
    ("session-name", "UPLOAD_SESSION_NAME", Takes::Value),
    ("presign-seconds", "UPLOAD_PRESIGN_SECONDS", Takes::Value),
    ("max-upload-bytes", "UPLOAD_MAX_UPLOAD_BYTES", Takes::Value),
    (
        "max-concurrent-uploads",
        "UPLOAD_MAX_CONCURRENT_UPLOADS",
        Takes::Value,
    ),
    (
        "request-timeout-seconds",
        "UPLOAD_REQUEST_TIMEOUT_SECONDS",
        Takes::Value,
    ),
    (
        "header-read-timeout-seconds",
        "UPLOAD_HEADER_READ_TIMEOUT_SECONDS",
        Takes::Value,
    ),
    ("max-connections", "UPLOAD_MAX_CONNECTIONS", Takes::Value),
    (
        "shutdown-timeout-seconds",
        "UPLOAD_SHUTDOWN_TIMEOUT_SECONDS",
        Takes::Value,
    ),
    ("healthz-details", "UPLOAD_HEALTHZ_DETAILS", Takes::Switch),
    ("log-format", "UPLOAD_LOG_FORMAT", Takes::Value),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        parse(&args, |name| {
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
                "--healthz-details",
            ),
            (&["--role-arn", ARN, "--log-format", "xml"], "--log-format"),
            (
                &["--role-arn", ARN, "--colour", "red"],
                "unknown flag --colour",
            ),
            (&["--role-arn"], "--role-arn needs a value"),
            (&["stray"], "unexpected argument"),
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
    fn presigned_urls_end_before_the_session_does() {
        use axum::response::IntoResponse;
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let configured = Duration::from_secs(2400);
        let cap = |left: Option<i64>, configured| {
            let expiry = left.map(|s| {
                if s >= 0 {
                    now + Duration::from_secs(s as u64)
                } else {
                    now - Duration::from_secs(s.unsigned_abs())
                }
            });
            app::presign_lifetime(configured, expiry, now)
                .map(|d| d.as_secs())
                .map_err(|e| e.into_response().status().as_u16())
        };
        assert_eq!(cap(Some(3600), configured), Ok(2400));
        assert_eq!(
            cap(Some(3600), app::MAX_PRESIGN_LIFETIME),
            Ok(3590),
            "10 s margin"
        );
        assert_eq!(cap(Some(100), configured), Ok(90));
        assert_eq!(cap(Some(11), configured), Ok(1));
        assert_eq!(cap(Some(10), configured), Err(503), "too little left");
        assert_eq!(cap(Some(-5), configured), Err(503), "expired");
        assert_eq!(
            cap(None, configured),
            Ok(2400),
            "credentials that never expire"
        );
    }

    #[test]
    fn keys_prefixes_and_buckets() {
        for good in [
            "a",
            "uploads/report(1).pdf",
            "a/b/c.d",
            "x!-_.*'()",
            &"k".repeat(1024),
        ] {
            assert_eq!(app::validate_key(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "./a",
            "a/../b",
            "..",
            "a b",
            "a%20",
            "a?b",
            "a#b",
            "a\\b",
            "é",
            "a\nb",
            &"k".repeat(1025),
        ] {
            assert!(app::validate_key(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["", "uploads/", "uploads/2024", "a/b/"] {
            assert_eq!(app::validate_prefix(good), Ok(()), "{good}");
        }
        for bad in ["/", "/a", "a//", "../", "a b"] {
            assert!(app::validate_prefix(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["abc", "my-bucket.2024", &"b".repeat(63)] {
            assert_eq!(app::validate_bucket(good), Ok(()), "{good}");
        }
        for bad in ["ab", "-abc", "abc-", "a..b", "ABC", "a_b", &"b".repeat(64)] {
            assert!(app::validate_bucket(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "uploads.example.com",
            "Uploads.Example.COM",
            "10.0.0.5",
            "[::1]",
            "a",
        ] {
            assert_eq!(app::validate_host_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "a.example:80",
            "http://a.example",
            "a.example/",
            "user@a.example",
            "-a.example",
            ".a.example",
            "a b",
            "[not-ipv6]",
            &"h".repeat(254),
        ] {
            assert!(app::validate_host_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}

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
//!
//! Settings come from flags, else the environment (flags win); `--help` lists them. The base
//! credentials (the identity allowed to assume the role), region and endpoint come from the
//! environment's default chain as in every SDK program (`AWS_ACCESS_KEY_ID`, a profile,
//! instance metadata, ...; `AWS_REGION`, `AWS_ENDPOINT_URL`). The listening URL is printed on
//! standard output as one line, `listening on http://ADDR`; logs go to standard error.
//! Ctrl-C or SIGTERM stops accepting connections and lets in-flight requests finish.

mod app;

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
  --bucket NAME                  default bucket for requests that name none (env UPLOAD_BUCKET)
  --bind ADDR                    listen address (env UPLOAD_BIND; default 127.0.0.1:8080;
                                 127.0.0.1:0 picks a free port)
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
  --shutdown-timeout-seconds N   how long in-flight requests may finish after Ctrl-C/SIGTERM
                                 (env UPLOAD_SHUTDOWN_TIMEOUT_SECONDS; default 30)
  --log-format text|json         (env UPLOAD_LOG_FORMAT; default text); RUST_LOG sets the level
  -h, --help                     this help

Base credentials come from the environment's default chain (AWS_ACCESS_KEY_ID/
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance or container credentials).";

/// Everything the command line and the environment set.
#[derive(Debug)]
struct Config {
    bind: SocketAddr,
    role_arn: String,
    session_name: String,
    region: Option<String>,
    endpoint_url: Option<String>,
    settings: app::Settings,
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
    let config = parse(&args, |name| std::env::var(name).ok())
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
        default_bucket = config.settings.default_bucket,
        presign_seconds = config.settings.presign_lifetime.as_secs(),
        max_upload_bytes = config.settings.max_upload_bytes,
        "upload service started"
    );
    // The one line scripts and tests read.
    println!("listening on http://{address}");
    let _ = std::io::stdout().flush();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, app::router(state))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => {
            return match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Fatal(format!("the server failed: {e}"), 1)),
                Err(e) => Err(Fatal(format!("the server task failed: {e}"), 1)),
            };
        }
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down: no new connections; in-flight requests finish");
        }
    }
    let _ = stop.send(());
    match tokio::time::timeout(config.shutdown_timeout, &mut server).await {
        Ok(Ok(Ok(()))) => {
            tracing::info!("shut down");
            Ok(())
        }
        Ok(Ok(Err(e))) => Err(Fatal(format!("the server failed: {e}"), 1)),
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
    let mut flags: Vec<(String, String)> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => {
                let value = rest
                    .next()
                    .ok_or_else(|| format!("--{flag} needs a value"))?;
                (flag.to_owned(), value.clone())
            }
        };
        if !FLAGS.iter().any(|(known, _)| *known == name) {
            return Err(format!("unknown flag --{name}"));
        }
        flags.push((name, value));
    }
    let get = |flag: &str| -> Option<String> {
        let env_name = FLAGS
            .iter()
            .find(|(known, _)| *known == flag)
            .map(|(_, env)| *env)?;
        flags
            .iter()
            .rev()
            .find(|(name, _)| name == flag)
            .map(|(_, value)| value.clone())
            .or_else(|| env(env_name))
            .filter(|v| !v.trim().is_empty())
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
    let settings = app::Settings {
        default_bucket: get("bucket"),
        presign_lifetime: Duration::from_secs(number(
            "presign-seconds",
            app::DEFAULT_PRESIGN_LIFETIME.as_secs(),
        )?),
        max_upload_bytes: usize::try_from(number(
            "max-upload-bytes",
            app::Settings::default().max_upload_bytes as u64,
        )?)
        .map_err(|_| "--max-upload-bytes: too large for this machine".to_owned())?,
        max_concurrent_uploads: usize::try_from(number(
            "max-concurrent-uploads",
            app::Settings::default().max_concurrent_uploads as u64,
        )?)
        .map_err(|_| "--max-concurrent-uploads: too large".to_owned())?,
        request_timeout: Duration::from_secs(number(
            "request-timeout-seconds",
            app::Settings::default().request_timeout.as_secs(),
        )?),
    };
    settings.validate()?;
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
        shutdown_timeout: Duration::from_secs(number("shutdown-timeout-seconds", 30)?),
        json_logs,
    })
}

/// Every flag and the environment variable it falls back to.
const FLAGS: &[(&str, &str)] = &[
    ("bind", "UPLOAD_BIND"),
    ("role-arn", "UPLOAD_ROLE_ARN"),
    ("bucket", "UPLOAD_BUCKET"),
    ("region", "AWS_REGION"),
    ("endpoint-url", "AWS_ENDPOINT_URL"),
    ("session-name", "UPLOAD_SESSION_NAME"),
    ("presign-seconds", "UPLOAD_PRESIGN_SECONDS"),
    ("max-upload-bytes", "UPLOAD_MAX_UPLOAD_BYTES"),
    ("max-concurrent-uploads", "UPLOAD_MAX_CONCURRENT_UPLOADS"),
    ("request-timeout-seconds", "UPLOAD_REQUEST_TIMEOUT_SECONDS"),
    (
        "shutdown-timeout-seconds",
        "UPLOAD_SHUTDOWN_TIMEOUT_SECONDS",
    ),
    ("log-format", "UPLOAD_LOG_FORMAT"),
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
        assert_eq!(config.settings.default_bucket.as_deref(), Some("from-flag"));
        assert_eq!(config.settings.presign_lifetime, Duration::from_secs(60));
        assert_eq!(config.bind, SocketAddr::from(([127, 0, 0, 1], 8080)));
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
            (&["--role-arn", ARN, "--log-format", "xml"], "--log-format"),
            (
                &["--role-arn", ARN, "--colour", "red"],
                "unknown flag --colour",
            ),
            (&["--role-arn"], "--role-arn needs a value"),
            (&["stray"], "unexpected argument"),
        ];
        for (args, expected) in cases {
            let error = parse_with(args, &[]).err().unwrap_or_else(|| {
                panic!("{args:?} was accepted");
            });
            assert!(error.contains(expected), "{args:?}: {error}");
        }
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
    }
}

//! An upload/download backend on one assumed role: users upload files to S3 through the
//! service and download them through presigned URLs; the service itself signs with one
//! `ChainableTemporaryCredentials` — one STS call per session lifetime, refreshed in the
//! background — instead of calling `AssumeRole` on every request.
//!
//! ```text
//! cargo run -p upload-service -- --role-arn ARN --bucket BUCKET
//! ```
//!
//! Endpoints: `GET /` (a page: upload, list, download), `POST /item` (multipart `file`, `key`,
//! `bucket`), `GET /item?bucket=&key=` (a presigned download URL), `GET /items?bucket=&prefix=`
//! (a page of objects), `GET /healthz` (the session's status; 503 without a valid session);
//! with `--metrics-bind ADDR`, `GET /metrics` on that address (Prometheus text: the
//! credentials' metrics and the S3 client's).
//! Requests may name only the `--bucket`s given; requests for another `Host`, and
//! state-changing requests from another site's page, are refused (see `app::router`).
//!
//! Without `--users` the service has no authentication of its own: whoever reaches its port
//! may upload to and download from its buckets. It listens on loopback by default; on any
//! other address it warns at start, and belongs behind a proxy that authenticates users.
//!
//! With `--users FILE` (lines `TOKEN USER`), every endpoint but `/` and `/healthz` takes
//! `Authorization: Bearer TOKEN`; each user's keys are relative to its prefix (`--user-prefix`,
//! default `users/{user}/`), its S3 calls run on a session scoped to that prefix (one
//! `ScopedSessions` for all users: one STS call per user per session lifetime), and
//! `GET /credentials` hands that session to the user's browser for uploads straight to S3.
//!
//! With `--session-store URL --session-store-key-file PATH` (Valkey/Redis), the instances
//! behind one address share the role's session and every user's: one STS call per session for
//! all of them.
//!
//! Settings come from flags, else the environment (flags win); `--help` lists them. The base
//! credentials (the identity allowed to assume the role), region and endpoint come from the
//! environment's default chain as in every SDK program (`AWS_ACCESS_KEY_ID`, a profile,
//! instance metadata, ...; `AWS_REGION`, `AWS_ENDPOINT_URL`). The listening URL is printed on
//! standard output as one line, `listening on http://ADDR`; logs go to standard error.
//! Ctrl-C or SIGTERM stops accepting connections and lets in-flight requests finish.
#![forbid(unsafe_code)]

use aws_config::BehaviorVersion;
use aws_types::region::Region;
use chainable_credentials::ChainableTemporaryCredentials;
use chainable_credentials::session_store::SessionStore;
use chainable_credentials::session_store::redis::RedisStoreBuilder;
use clap::Parser;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use upload_service::access::UserAccess;
use upload_service::config::{Config, Flags};
use upload_service::{app, server};

/// A start-up failure: the message, and the exit code (2: bad configuration, 1: otherwise).
struct Fatal(String, u8);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fatal(message, code)) => {
            eprintln!("upload-service: {message}");
            ExitCode::from(code)
        }
    }
}

fn run() -> Result<(), Fatal> {
    let flags = match Flags::try_parse() {
        Ok(flags) => flags,
        Err(error) => return usage_error(error),
    };
    // The process's environment, read through the same `Env` the library is given.
    let env = aws_types::os_shim_internal::Env::real();
    let config = Config::from_flags(flags, |name| env.get(name).ok())
        .map_err(|e| Fatal(format!("{e} (--help lists the settings)"), 2))?;
    init_logs(config.json_logs);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal(format!("cannot start the runtime: {e}"), 1))?
        .block_on(serve(config))
}

/// Help goes to standard output as usual; a bad command line is clap's message and exit 2.
fn usage_error(error: clap::Error) -> Result<(), Fatal> {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return Ok(());
    }
    let rendered = error.render().to_string();
    let message = rendered
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty() && !line.starts_with("Usage:") && !line.starts_with("For more")
        })
        .collect::<Vec<_>>()
        .join(" ");
    Err(Fatal(
        message
            .strip_prefix("error: ")
            .unwrap_or(&message)
            .to_owned(),
        2,
    ))
}

async fn serve(config: Config) -> Result<(), Fatal> {
    // Before any client or provider is built: they take the global telemetry provider then.
    let metrics = match config.metrics_bind {
        Some(bind) => Some(metrics_listener(bind, &config).await?),
        None => None,
    };
    let sdk_config = sdk_config(&config).await?;
    let (state, users) = app_state(&config, &sdk_config)?;

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| Fatal(format!("cannot listen on {}: {e}", config.bind), 1))?;
    let address = listener
        .local_addr()
        .map_err(|e| Fatal(format!("cannot read the listening address: {e}"), 1))?;
    log_start(&config, &sdk_config, address, users);
    // The one line scripts and tests read.
    // Installed before the line that tells scripts and tests the service is up.
    let shutdown = shutdown_signal();
    println!("listening on http://{address}");
    if let Some(metrics) = &metrics {
        println!("metrics on http://{metrics}/metrics");
    }
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
        signal = shutdown => {
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

/// The start-up log line, and the warning a bind beyond loopback deserves.
fn log_start(
    config: &Config,
    sdk_config: &aws_types::SdkConfig,
    address: SocketAddr,
    users: Option<usize>,
) {
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
        users,
        session_store = config.session_store.is_some(),
        "upload service started"
    );
    if !address.ip().is_loopback() {
        if users.is_none() {
            warn_unauthenticated(address);
        } else {
            tracing::warn!(
                %address,
                "listening beyond loopback over plain HTTP: bearer tokens and the credentials \
                 /credentials hands out cross the network unencrypted; put a proxy that \
                 terminates TLS in front of this service"
            );
        }
    }
}

/// Installs the metrics (the global telemetry provider) and serves `/metrics` on `bind`, with
/// the service's connection limits; its address.
async fn metrics_listener(bind: SocketAddr, config: &Config) -> Result<SocketAddr, Fatal> {
    let metrics =
        std::sync::Arc::new(upload_service::metrics::Metrics::install().map_err(|e| Fatal(e, 1))?);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| Fatal(format!("cannot listen on {bind} (--metrics-bind): {e}"), 1))?;
    let address = listener
        .local_addr()
        .map_err(|e| Fatal(format!("cannot read the metrics address: {e}"), 1))?;
    if !address.ip().is_loopback() {
        tracing::warn!(
            %address,
            "serving metrics beyond loopback: anyone who can reach {address} sees the service's \
             call rates and errors (no secrets); keep it on loopback or behind a proxy"
        );
    }
    let router = upload_service::metrics::router(metrics, config.settings.allowed_hosts.clone());
    // Ends with the process.
    tokio::spawn(server::serve(
        listener,
        router,
        config.limits.clone(),
        std::future::pending::<()>(),
    ));
    Ok(address)
}

/// The SDK's configuration: the region and endpoint given, else the environment's; a region
/// is needed.
async fn sdk_config(config: &Config) -> Result<aws_types::SdkConfig, Fatal> {
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
            "no AWS region: set --region or AWS_REGION (or a profile's region) (--help lists \
             the settings)"
                .into(),
            2,
        ));
    }
    Ok(sdk_config)
}

/// The service's state: the role's provider, the S3 client on it, the settings, and with
/// `--users` each user's scoped session; all on one session store with `--session-store`.
/// Also the number of users, for the start-up log line.
fn app_state(
    config: &Config,
    sdk_config: &aws_types::SdkConfig,
) -> Result<(app::AppState, Option<usize>), Fatal> {
    let store = session_store(config)?;
    let builder = || {
        let mut builder = ChainableTemporaryCredentials::builder()
            .configure(sdk_config)
            .role_arn(&config.role_arn)
            .role_session_name(&config.session_name);
        builder.set_session_store(store.clone());
        builder
    };
    let provider = builder()
        .metrics_name("role")
        // The first session is fetched at start, so the first request does not wait for it
        // and a role that cannot be assumed shows in the log (and /healthz) at once.
        .prefetch(true)
        .on_refresh(app::log_refresh)
        .build()
        .map_err(|e| Fatal(setting_error(&e), 2))?;
    let s3 = app::s3_client(sdk_config, provider.clone());
    let mut settings = config.settings.clone();
    settings.region = sdk_config.region().map(|r| r.to_string());
    settings.s3_endpoint = Some(match sdk_config.endpoint_url() {
        Some(url) => url.to_owned(),
        None => format!(
            "https://s3.{}.amazonaws.com",
            settings.region.as_deref().unwrap_or_default()
        ),
    });
    settings
        .validate()
        .map_err(|e| Fatal(format!("{e} (--help lists the settings)"), 2))?;
    let Some((users, prefix)) = &config.users else {
        return Ok((app::AppState::new(provider, s3, settings), None));
    };
    // One cache of scoped sessions for all users, over the same base, role and store.
    let sessions = builder()
        .metrics_name("users")
        .scoped_sessions()
        .on_refresh(app::log_user_refresh)
        .build()
        .map_err(|e| Fatal(setting_error(&e), 2))?;
    let count = users.names().len();
    let access = UserAccess::new(
        users.clone(),
        prefix,
        sessions,
        &config.settings.buckets,
        &config.session_name,
    )
    .map_err(|e| Fatal(format!("--users: {e}"), 2))?;
    Ok((
        app::AppState::with_users(provider, s3, settings, access),
        Some(count),
    ))
}

/// The Valkey/Redis store of `--session-store`, sealed with the keys of its key file.
fn session_store(config: &Config) -> Result<Option<SessionStore>, Fatal> {
    let Some(setting) = &config.session_store else {
        return Ok(None);
    };
    RedisStoreBuilder::new(&setting.url)
        .sealing_key_file(&setting.key_file)
        .build()
        .map(Some)
        .map_err(|e| {
            Fatal(
                format!("{}: {e} (--help lists the settings)", setting.named),
                2,
            )
        })
}

/// A setting the provider refused, named as the flag (and variable) that set it, on one line.
fn setting_error(error: &chainable_credentials::BuildError) -> String {
    use chainable_credentials::Field;
    let setting = match error.field() {
        Some(Field::RoleArn) => "--role-arn (UPLOAD_ROLE_ARN)",
        Some(Field::RoleSessionName) => "--session-name (UPLOAD_SESSION_NAME)",
        Some(Field::Region) => "--region (AWS_REGION)",
        Some(Field::EndpointUrl) => "--endpoint-url (AWS_ENDPOINT_URL)",
        _ => "the credentials settings",
    };
    format!("{setting}: {error} (--help lists the settings)")
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

/// Ctrl-C (SIGINT) or SIGTERM (what `docker stop`, Kubernetes and systemd send). The
/// handlers are installed when this is called, not when the future is first polled: a signal
/// sent as soon as the service says it listens must not find the default action (exit)
/// still in place.
fn shutdown_signal() -> impl std::future::Future<Output = &'static str> {
    #[cfg(unix)]
    let term = {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::terminate())
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the service");
            })
            .ok()
    };
    let interrupt = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            return tokio::select! {
                _ = interrupt => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
        let _ = interrupt.await;
        "SIGINT"
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

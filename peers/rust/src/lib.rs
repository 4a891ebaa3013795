//! What the Rust peers share: the settings from the environment (`PEER_*`, see
//! `peers/README.md`) and the loop that calls each client every `PEER_INTERVAL` seconds for
//! `PEER_DURATION` seconds, printing one JSON line a call.
#![forbid(unsafe_code)]

use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use std::future::Future;
use std::io::Write as _;
use std::time::{Duration, UNIX_EPOCH};

/// The workload's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub role_arn: String,
    pub session_name: String,
    pub base_key_id: String,
    pub base_secret: String,
    pub sts_endpoint: String,
    pub s3_endpoint: String,
    pub region: String,
    pub clients: usize,
    pub duration: Duration,
    pub interval: Duration,
}

impl Settings {
    /// From the `PEER_*` variables; a missing one is named.
    pub fn from_env() -> Result<Settings, String> {
        let env = aws_types::os_shim_internal::Env::real();
        let var = |name: &str| env.get(name).map_err(|_| format!("{name} is not set"));
        let number = |name: &str, default: &str| -> Result<f64, String> {
            let text = env.get(name).unwrap_or_else(|_| default.to_owned());
            text.parse()
                .map_err(|_| format!("{name}: {text:?} is not a number"))
        };
        Ok(Settings {
            role_arn: var("PEER_ROLE_ARN")?,
            session_name: var("PEER_SESSION_NAME")?,
            base_key_id: var("PEER_BASE_ACCESS_KEY_ID")?,
            base_secret: var("PEER_BASE_SECRET_ACCESS_KEY")?,
            sts_endpoint: var("PEER_STS_ENDPOINT")?,
            s3_endpoint: var("PEER_S3_ENDPOINT")?,
            region: var("PEER_REGION")?,
            clients: number("PEER_CLIENTS", "1")? as usize,
            duration: Duration::from_secs_f64(number("PEER_DURATION", "")?),
            interval: Duration::from_secs_f64(number("PEER_INTERVAL", "2")?),
        })
    }
}

/// Calls `call(client)` for each of `clients` on its own schedule until the duration is over.
pub async fn run<F, Fut, E>(settings: &Settings, clients: usize, call: F)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display + Send,
{
    let clock = SystemTimeSource::new();
    let end = clock.now() + settings.duration;
    let interval = settings.interval;
    let took_ms: std::sync::Arc<std::sync::Mutex<Vec<(u64, bool)>>> = Default::default();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let call = call.clone();
            let took_ms = took_ms.clone();
            tokio::spawn(async move {
                let clock = SystemTimeSource::new();
                while clock.now() < end {
                    let started = clock.now();
                    let ok = match call(client).await {
                        Ok(()) => true,
                        Err(error) => {
                            eprintln!("client {client}: {error}");
                            false
                        }
                    };
                    let took = clock.now().duration_since(started).unwrap_or_default();
                    if let Ok(mut took_ms) = took_ms.lock() {
                        took_ms.push((took.as_millis() as u64, ok));
                    }
                    let t = started
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis();
                    let line = serde_json::json!({
                        "client": client, "t": t as u64, "ms": took.as_millis() as u64, "ok": ok
                    });
                    {
                        let mut stdout = std::io::stdout().lock();
                        let _ = writeln!(stdout, "{line}");
                        let _ = stdout.flush();
                    }
                    TokioSleep::new().sleep(interval.saturating_sub(took)).await;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let calls = took_ms
        .lock()
        .map(|calls| calls.clone())
        .unwrap_or_default();
    println!("{}", summary(&calls));
}

/// The run's summary line, the same in every peer: requests, failures, latency (ms).
fn summary(calls: &[(u64, bool)]) -> serde_json::Value {
    let mut took: Vec<u64> = calls.iter().map(|(ms, _)| *ms).collect();
    took.sort_unstable();
    let at = |p: f64| {
        took.get(((took.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    serde_json::json!({ "summary": {
        "requests": took.len(),
        "failures": calls.iter().filter(|(_, ok)| !ok).count(),
        "p50_ms": at(0.5),
        "p99_ms": at(0.99),
        "max_ms": took.last().copied().unwrap_or(0),
        "over_1s": took.iter().filter(|ms| **ms > 1000).count(),
    }})
}

/// `settings.clients` S3 clients on `sdk_config` (so sharing its identity cache, as clients made
/// from one `SdkConfig` do), each calling `ListBuckets` on the run's schedule.
pub async fn list_buckets(settings: &Settings, sdk_config: &aws_types::SdkConfig) {
    let clients: Vec<aws_sdk_s3::Client> = (0..settings.clients)
        .map(|_| {
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk_config)
                    .force_path_style(true)
                    .build(),
            )
        })
        .collect();
    run(settings, settings.clients, move |i| {
        let s3 = clients[i].clone();
        async move {
            s3.list_buckets()
                .send()
                .await
                .map(drop)
                .map_err(|e| chain(&e))
        }
    })
    .await;
}

/// The error and its causes on one line.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut next = error.source();
    while let Some(e) = next {
        parts.push(e.to_string());
        next = e.source();
    }
    parts.join(": ")
}

//! What the benches share: an in-process STS (and S3) that answers like the real ones and
//! counts calls, optionally after a delay; static base credentials; result files.
#![allow(dead_code)]

pub mod counting;
pub mod sdk_cache;
pub mod sts_server;

use aws_credential_types::Credentials;
use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::date_time::{DateTime, Format};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// An STS that issues `lifetime` sessions stamped by `clock`, after `delay`, counting calls;
/// and answers anything else (S3) with an empty `ListAllMyBucketsResult`.
#[derive(Debug, Clone)]
pub struct BenchAws {
    clock: SharedTimeSource,
    lifetime: Duration,
    delay: Duration,
    sts_calls: Arc<AtomicUsize>,
    other_calls: Arc<AtomicUsize>,
    sts_in_flight: Arc<AtomicUsize>,
    /// When each STS call came, on `clock`.
    sts_call_times: Arc<std::sync::Mutex<Vec<std::time::SystemTime>>>,
    /// Session tokens are padded to this many characters (real ones run to about 1,000).
    token_len: usize,
    /// Whether `sts_call_times` is kept (a million calls' times are 16 MB of the bench's own).
    record_times: bool,
}

impl BenchAws {
    pub fn new(clock: impl TimeSource + 'static, lifetime: Duration, delay: Duration) -> Self {
        BenchAws {
            clock: SharedTimeSource::new(clock),
            lifetime,
            delay,
            sts_calls: Arc::default(),
            other_calls: Arc::default(),
            sts_in_flight: Arc::default(),
            sts_call_times: Arc::default(),
            token_len: 0,
            record_times: true,
        }
    }

    /// Keeps no call times: for runs whose heap is measured.
    pub fn without_call_times(mut self) -> Self {
        self.record_times = false;
        self
    }

    /// Issues session tokens of `len` characters, as long as real STS tokens run.
    pub fn with_session_tokens_of(mut self, len: usize) -> Self {
        self.token_len = len;
        self
    }

    /// STS calls received (AssumeRole and GetSessionToken).
    pub fn sts_calls(&self) -> usize {
        self.sts_calls.load(Ordering::SeqCst)
    }

    /// When each STS call came, on the clock the STS was given.
    pub fn sts_call_times(&self) -> Vec<std::time::SystemTime> {
        self.sts_call_times.lock().unwrap().clone()
    }

    /// STS calls being answered right now.
    pub fn sts_in_flight(&self) -> usize {
        self.sts_in_flight.load(Ordering::SeqCst)
    }

    /// Other requests received (S3).
    pub fn other_calls(&self) -> usize {
        self.other_calls.load(Ordering::SeqCst)
    }
}

impl HttpConnector for BenchAws {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().unwrap_or_default();
        let is_sts = body.starts_with(b"Action=");
        let n = if is_sts {
            if self.record_times {
                self.sts_call_times.lock().unwrap().push(self.clock.now());
            }
            self.sts_calls.fetch_add(1, Ordering::SeqCst) + 1
        } else {
            self.other_calls.fetch_add(1, Ordering::SeqCst) + 1
        };
        let this = self.clone();
        HttpConnectorFuture::new(async move {
            if is_sts {
                this.sts_in_flight.fetch_add(1, Ordering::SeqCst);
            }
            if is_sts && !this.delay.is_zero() {
                TokioSleep::new().sleep(this.delay).await;
            }
            if is_sts {
                this.sts_in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            let now = this.clock.now();
            let xml = if is_sts {
                let expiration = DateTime::from(now + this.lifetime)
                    .fmt(Format::DateTime)
                    .unwrap();
                let mut token = format!("bench-token-{n}-");
                while token.len() < this.token_len {
                    token.push('x');
                }
                format!(
                    "<AssumeRoleResponse><AssumeRoleResult><AssumedRoleUser>\
                     <AssumedRoleId>AROABENCH:s</AssumedRoleId>\
                     <Arn>arn:aws:sts::123456789012:assumed-role/bench/s</Arn></AssumedRoleUser>\
                     <Credentials><AccessKeyId>ASIABENCH{n}</AccessKeyId>\
                     <SecretAccessKey>bench-secret-{n}</SecretAccessKey>\
                     <SessionToken>{token}</SessionToken>\
                     <Expiration>{expiration}</Expiration></Credentials>\
                     </AssumeRoleResult></AssumeRoleResponse>"
                )
            } else {
                "<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>".to_owned()
            };
            let mut response = HttpResponse::new(200.try_into().unwrap(), SdkBody::from(xml));
            let date = DateTime::from(now).fmt(Format::HttpDate).unwrap();
            response.headers_mut().insert("date", date);
            Ok(response)
        })
    }
}

impl HttpClient for BenchAws {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

pub const ROLE: &str = "arn:aws:iam::123456789012:role/bench";

pub fn base_credentials() -> Credentials {
    Credentials::new("AKIDBENCH", "bench-base-secret", None, None, "bench")
}

/// The benches' provider builder: the static base keys assuming [`ROLE`] in us-east-1
/// through `aws` (the in-process STS); each bench adds its own settings.
pub fn role(aws: &BenchAws) -> chainable_credentials::Builder {
    chainable_credentials::ChainableTemporaryCredentials::builder()
        .base_credentials(base_credentials())
        .role_arn(ROLE)
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(aws.clone())
}

/// The benches' multi-thread runtime: two workers, the reference machine's cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Polls a future that should be ready at once (a cache hit), without a runtime round trip.
pub fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("expected a cache hit, ready at once"),
    }
}

/// Writes a result file under `target/bench-results/` (for BENCHMARKS.md) and prints it.
pub fn report(name: &str, text: &str) {
    println!("\n{text}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("{name}.md")), text);
    }
}

/// Whether this run is a test run (`cargo test --benches`, nextest) rather than `cargo bench`
/// (which passes `--bench`): the benches then run a reduced workload once.
pub fn test_mode() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// Writes line series for a chart to `target/bench-results/NAME.series.json`: the bench
/// workspace member `tools/bench-plots` (`cargo run -p bench-plots`) draws it as `svg` (a
/// path relative to the repository), so the benches themselves build without a plotting
/// library.
pub fn write_series(
    name: &str,
    svg: &str,
    title: &str,
    (x_label, y_label): (&str, &str),
    series: &[(&str, &[(f64, f64)])],
    log_y: bool,
) {
    let chart = serde_json::json!({
        "svg": svg,
        "title": title,
        "x_label": x_label,
        "y_label": y_label,
        "log_y": log_y,
        "series": series
            .iter()
            .map(|(label, points)| serde_json::json!({ "label": label, "points": points }))
            .collect::<Vec<_>>(),
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results");
    let path = dir.join(format!("{name}.series.json"));
    if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&path, chart.to_string()).is_ok() {
        println!(
            "wrote {} (draw it with `cargo run -p bench-plots`)",
            path.display()
        );
    }
}

/// An `SdkConfig` for the fake AWS: region, HTTP client, system clock, Tokio sleep (what
/// `aws_config::load_defaults` would give, minus the environment).
pub fn sdk_config(aws: &BenchAws) -> aws_types::SdkConfig {
    sdk_config_on(
        aws,
        aws_smithy_async::time::SystemTimeSource::new(),
        TokioSleep::new(),
    )
}

/// [`sdk_config`] on another clock and sleep (a test clock that the bench moves).
pub fn sdk_config_on(
    aws: &BenchAws,
    time: impl TimeSource + 'static,
    sleep: impl AsyncSleep + 'static,
) -> aws_types::SdkConfig {
    aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(aws.clone())
        .time_source(SharedTimeSource::new(time))
        .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(sleep))
        .build()
}

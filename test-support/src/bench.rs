//! What the benches share: the provider builder on the in-process STS ([`FakeSts`]), static
//! base credentials, a runtime of the reference machine's size, result files and series for
//! the charts.

use crate::FakeSts;
use aws_credential_types::Credentials;
use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use std::time::Duration;

/// The in-process STS the benches use: every call a session of `lifetime` stamped by `clock`,
/// answered after `delay` (real time).
pub fn fake_aws(clock: impl TimeSource + 'static, lifetime: Duration, delay: Duration) -> FakeSts {
    let aws = FakeSts::new(clock);
    aws.always(crate::Reply::Session(lifetime));
    if !delay.is_zero() {
        aws.slow(TokioSleep::new(), delay);
    }
    aws
}

pub const ROLE: &str = "arn:aws:iam::123456789012:role/bench";

pub fn base_credentials() -> Credentials {
    Credentials::new("AKIDBENCH", "bench-base-secret", None, None, "bench")
}

/// The benches' provider builder: the static base keys assuming [`ROLE`] in us-east-1
/// through `aws` (the in-process STS); each bench adds its own settings.
pub fn role(aws: &FakeSts) -> chainable_credentials::Builder {
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
    let dir = results_dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("{name}.md")), text);
    }
}

/// `target/bench-results/` of the checkout, where BENCHMARKS.md's figures are read from.
fn results_dir() -> std::path::PathBuf {
    crate::repo_root().join("target/bench-results")
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
    let dir = results_dir();
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
pub fn sdk_config(aws: &FakeSts) -> aws_types::SdkConfig {
    sdk_config_on(
        aws,
        aws_smithy_async::time::SystemTimeSource::new(),
        TokioSleep::new(),
    )
}

/// [`sdk_config`] on another clock and sleep (a test clock that the bench moves).
pub fn sdk_config_on(
    aws: &FakeSts,
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

//! Latency of S3 requests across a session refresh, with an STS that takes 300 ms to answer,
//! each request made through an S3 client built as the README shows — so the client's own
//! identity cache (`IdentityCache::lazy()`, the default) sits in front of the provider:
//! - ours, as configured by default (background refresh on);
//! - ours with `background_refresh(false)`, what the background refresh exists for;
//! - aws-config's `AssumeRoleProvider`, the SDK's own way (baseline).
//!
//! p50, p99 and max of the requests' real latency. Target: our p99 under 1 ms while a valid
//! session exists.
//!
//! Time: the clients, the caches and the providers run on aws-smithy-async's tick-advance
//! clock, which the driver moves from 40 to 62 minutes into a one-hour session in about two
//! seconds of real time, so every cache meets its refresh point while requests keep coming.
//! STS answers in 300 ms of *real* time — what a waiting request feels — and the clock stands
//! still while an STS call is in flight, so no timeout fires that would not in real time.
//!
//! `cargo bench --bench refresh_latency` (also draws docs/refresh_latency.svg)

use test_support::FakeSts;
use test_support::bench as support;

use aws_config::sts::AssumeRoleProvider;
use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use aws_smithy_async::test_util::tick_advance_sleep::{
    TickAdvanceSleep, TickAdvanceTime, tick_advance_time_and_sleep,
};
use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use aws_types::SdkConfig;
use chainable_credentials::ChainableTemporaryCredentials;
use criterion::{Criterion, criterion_group, criterion_main};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STS_LATENCY: Duration = Duration::from_millis(300);
/// Requests started per millisecond of real time.
const CALLS_PER_STEP: usize = 5;
const T0_SECS: u64 = 1_700_000_000;

type Call = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// One caller sample: (real milliseconds since the start, latency in milliseconds).
type Samples = Arc<Mutex<Vec<(f64, f64)>>>;

/// Makes `CALLS_PER_STEP` requests per millisecond step, each in its own task (requests
/// arrive whether or not earlier ones are done, as in a service), while the clock moves from
/// 40 to 62 minutes into the session in `steps` steps (standing still while STS answers);
/// returns every request's real latency.
async fn across_the_boundary(
    time: TickAdvanceTime,
    aws: FakeSts,
    call: Call,
    steps: u32,
) -> Vec<(f64, f64)> {
    let real = SystemTimeSource::new();
    let start = real.now();
    let samples: Samples = Arc::default();
    let mut calls = Vec::new();
    let t0 = time.now();
    let (from, to) = (
        t0 + Duration::from_secs(40 * 60),
        t0 + Duration::from_secs(62 * 60),
    );
    time.tick(from.duration_since(t0).unwrap()).await;
    let step = (to.duration_since(from).unwrap()) / steps;
    while time.now() < to {
        if aws.in_flight() == 0 {
            time.tick(step).await;
        }
        for _ in 0..CALLS_PER_STEP {
            let (call, samples) = (call.clone(), samples.clone());
            calls.push(tokio::spawn(async move {
                let real = SystemTimeSource::new();
                let before = real.now();
                let ok = call().await;
                let after = real.now();
                assert!(ok, "a request failed");
                samples.lock().unwrap().push((
                    before
                        .duration_since(start)
                        .unwrap_or_default()
                        .as_secs_f64()
                        * 1e3,
                    after
                        .duration_since(before)
                        .unwrap_or_default()
                        .as_secs_f64()
                        * 1e3,
                ));
            }));
        }
        TokioSleep::new().sleep(Duration::from_millis(1)).await;
    }
    for call in calls {
        call.await.unwrap();
    }
    let mut samples = samples.lock().unwrap().clone();
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    samples
}

/// The slowest call started in each `width_ms` of real time (keeps the plot small).
fn slowest_per_bucket(samples: &[(f64, f64)], width_ms: f64) -> Vec<(f64, f64)> {
    let mut buckets: std::collections::BTreeMap<u64, f64> = Default::default();
    for &(at, latency) in samples {
        let slot = buckets.entry((at / width_ms) as u64).or_insert(0.0);
        *slot = slot.max(latency);
    }
    buckets
        .into_iter()
        .map(|(b, l)| (b as f64 * width_ms, l))
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(name: &str, samples: &[(f64, f64)]) -> (String, f64) {
    let mut latencies: Vec<f64> = samples.iter().map(|s| s.1).collect();
    latencies.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        *latencies.last().unwrap(),
    );
    (
        format!(
            "| {name} | {} | {p50:.4} | {p99:.4} | {max:.1} |",
            latencies.len()
        ),
        p99,
    )
}

/// A tick-advance clock at the bench's start, an STS on it, and the configuration a program
/// would load (region, HTTP client, time, sleep).
async fn setting() -> (TickAdvanceTime, FakeSts, SdkConfig) {
    let (time, sleep): (TickAdvanceTime, TickAdvanceSleep) = tick_advance_time_and_sleep();
    time.tick(Duration::from_secs(T0_SECS)).await;
    let aws = support::fake_aws(time.clone(), Duration::from_secs(3600), STS_LATENCY);
    let sdk_config = support::sdk_config_on(&aws, time.clone(), sleep);
    (time, aws, sdk_config)
}

/// `ListBuckets` through a client built as the README shows, on `provider`.
fn s3_call(
    sdk_config: &SdkConfig,
    provider: impl aws_credential_types::provider::ProvideCredentials + 'static,
) -> Call {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk_config)
            .credentials_provider(provider)
            .build(),
    );
    Arc::new(move || {
        let s3 = s3.clone();
        Box::pin(async move { s3.list_buckets().send().await.is_ok() })
    })
}

/// Our provider behind a README client, with the background refresh on or off.
async fn ours(steps: u32, background_refresh: bool) -> Vec<(f64, f64)> {
    let (time, aws, sdk_config) = setting().await;
    let provider = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .base_credentials(support::base_credentials())
        .role_arn(support::ROLE)
        .background_refresh(background_refresh)
        .build()
        .unwrap();
    let call = s3_call(&sdk_config, provider);
    assert!(call().await, "the first request loads a session");
    let samples = across_the_boundary(time, aws.clone(), call, steps).await;
    assert_eq!(aws.calls(), 2, "one refresh");
    samples
}

/// aws-config's `AssumeRoleProvider` behind a README client.
async fn assume_role_provider(steps: u32) -> Vec<(f64, f64)> {
    let (time, aws, sdk_config) = setting().await;
    let provider = AssumeRoleProvider::builder(support::ROLE)
        .configure(&sdk_config)
        .build_from_provider(support::base_credentials())
        .await;
    let call = s3_call(&sdk_config, provider);
    assert!(call().await, "the first request loads a session");
    let samples = across_the_boundary(time, aws.clone(), call, steps).await;
    assert_eq!(aws.calls(), 2, "one refresh");
    samples
}

fn refresh_latency(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let steps = if support::test_mode() { 400 } else { 2_000 };
    let (ours, unscheduled, sdk) = runtime.block_on(async {
        (
            ours(steps, true).await,
            ours(steps, false).await,
            assume_role_provider(steps).await,
        )
    });
    let (ours_row, ours_p99) = summary("ChainableTemporaryCredentials (default)", &ours);
    let (unscheduled_row, _) = summary(
        "ChainableTemporaryCredentials, background_refresh(false)",
        &unscheduled,
    );
    let (sdk_row, sdk_p99) = summary("aws-config AssumeRoleProvider (baseline)", &sdk);
    support::report(
        "refresh_latency",
        &format!(
            "| {CALLS_PER_STEP} S3 requests/ms through a README client across a refresh, STS answering in {} ms | requests | p50 ms | p99 ms | max ms |\n\
             |---|---|---|---|---|\n{ours_row}\n{unscheduled_row}\n{sdk_row}\n\
             | p99 ratio (baseline / ours) | | | {:.0}x | |",
            STS_LATENCY.as_millis(),
            sdk_p99 / ours_p99
        ),
    );
    if !support::test_mode() {
        assert!(ours_p99 < 1.0, "target: p99 under 1 ms, got {ours_p99} ms");
        support::write_series(
            "refresh_latency",
            "docs/refresh_latency.svg",
            "S3 request latency across a refresh, through the client's identity cache (STS: 300 ms)",
            (
                "real time since start (ms)",
                "slowest request in each 5 ms (ms, log scale)",
            ),
            &[
                (
                    "ChainableTemporaryCredentials",
                    &slowest_per_bucket(&ours, 5.0),
                ),
                (
                    "AssumeRoleProvider (baseline)",
                    &slowest_per_bucket(&sdk, 5.0),
                ),
            ],
            true,
        );
    }
    // The figures are latency distributions, not criterion timings: nothing to iterate.
    let _ = c;
}

criterion_group!(benches, refresh_latency);
criterion_main!(benches);

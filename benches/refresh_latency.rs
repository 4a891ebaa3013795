//! Latency of `provide_credentials` for many concurrent callers across a refresh boundary, with
//! an STS that takes 300 ms to answer: ours vs aws-config's `AssumeRoleProvider` inside the
//! SDK's `IdentityCache::lazy()` (what an SDK client does with it). p50, p99 and max.
//! Target: our p99 under 1 ms while a valid session exists.
//!
//! The injected clock runs from 40 to 62 minutes into a one-hour session in about two seconds,
//! so both caches meet their refresh point while the callers keep calling.
//!
//! `cargo bench --bench refresh_latency` (also draws docs/refresh_latency.svg)

mod support;

use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, TokioSleep};
use aws_smithy_async::test_util::ManualTimeSource;
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource, TimeSource};
use aws_smithy_runtime::client::identity::IdentityCache;
use aws_smithy_runtime_api::client::identity::{ResolveCachedIdentity, SharedIdentityResolver};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_types::config_bag::ConfigBag;
use chainable_credentials::ChainableTemporaryCredentials;
use criterion::{Criterion, criterion_group, criterion_main};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use support::BenchAws;

const STS_LATENCY: Duration = Duration::from_millis(300);
/// Requests started per millisecond of real time.
const CALLS_PER_STEP: usize = 5;

type Call = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// One caller sample: (real milliseconds since the start, latency in milliseconds).
type Samples = Arc<Mutex<Vec<(f64, f64)>>>;

/// Calls `call` `CALLS_PER_STEP` times per millisecond step, each call in its own task (requests
/// arrive whether or not earlier ones are done, as in a service), while the clock moves from 40
/// to 62 minutes into the session over `steps` steps; returns every call's latency.
async fn across_the_boundary(
    clock: ManualTimeSource,
    t0: std::time::SystemTime,
    call: Call,
    steps: u32,
) -> Vec<(f64, f64)> {
    let real = SystemTimeSource::new();
    let start = real.now();
    let samples: Samples = Arc::default();
    let mut calls = Vec::new();
    let from = t0 + Duration::from_secs(40 * 60);
    let span = Duration::from_secs(22 * 60);
    for step in 0..=steps {
        clock.set_time(from + span * step / steps);
        for _ in 0..CALLS_PER_STEP {
            let (call, samples) = (call.clone(), samples.clone());
            calls.push(tokio::spawn(async move {
                let real = SystemTimeSource::new();
                let before = real.now();
                let ok = call().await;
                let after = real.now();
                assert!(ok, "a call failed");
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

async fn run(steps: u32) -> (Vec<(f64, f64)>, Vec<(f64, f64)>) {
    let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);

    // Ours.
    let clock = ManualTimeSource::new(t0);
    let aws = BenchAws::new(clock.clone(), Duration::from_secs(3600), STS_LATENCY);
    let provider = ChainableTemporaryCredentials::builder()
        .base_credentials(support::base_credentials())
        .role_arn(support::ROLE)
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(aws.clone())
        .time_source(clock.clone())
        .build()
        .unwrap();
    provider.provide_credentials().await.unwrap();
    let call: Call = Arc::new(move || {
        let provider = provider.clone();
        Box::pin(async move { provider.provide_credentials().await.is_ok() })
    });
    let ours = across_the_boundary(clock, t0, call, steps).await;

    // AssumeRoleProvider inside the SDK's lazy identity cache.
    let clock = ManualTimeSource::new(t0);
    let aws = BenchAws::new(clock.clone(), Duration::from_secs(3600), STS_LATENCY);
    let sdk_config = aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(aws.clone())
        .time_source(clock.clone())
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .build();
    let assume_role = AssumeRoleProvider::builder(support::ROLE)
        .configure(&sdk_config)
        .build_from_provider(support::base_credentials())
        .await;
    let resolver = SharedIdentityResolver::new(SharedCredentialsProvider::new(assume_role));
    let cache = IdentityCache::lazy().build();
    let components = Arc::new(
        RuntimeComponentsBuilder::for_tests()
            .with_time_source(Some(SharedTimeSource::new(clock.clone())))
            .with_sleep_impl(Some(SharedAsyncSleep::new(TokioSleep::new())))
            .build()
            .unwrap(),
    );
    let bag = Arc::new(ConfigBag::base());
    let call: Call = Arc::new(move || {
        let (cache, resolver, components, bag) = (
            cache.clone(),
            resolver.clone(),
            components.clone(),
            bag.clone(),
        );
        Box::pin(async move {
            cache
                .resolve_cached_identity(resolver, &components, &bag)
                .await
                .is_ok()
        })
    });
    call().await;
    let sdk = across_the_boundary(clock, t0, call, steps).await;
    (ours, sdk)
}

fn refresh_latency(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let steps = if support::test_mode() { 400 } else { 2_000 };
    let (ours, sdk) = runtime.block_on(run(steps));
    let (ours_row, ours_p99) = summary("ChainableTemporaryCredentials", &ours);
    let (sdk_row, sdk_p99) = summary("AssumeRoleProvider in IdentityCache::lazy()", &sdk);
    support::report(
        "refresh_latency",
        &format!(
            "| {CALLS_PER_STEP} requests/ms across a refresh, STS answering in {} ms | calls | p50 ms | p99 ms | max ms |\n\
             |---|---|---|---|---|\n{ours_row}\n{sdk_row}\n\
             | p99 ratio (SDK path / ours) | | | {:.0}x | |",
            STS_LATENCY.as_millis(),
            sdk_p99 / ours_p99
        ),
    );
    if !support::test_mode() {
        assert!(ours_p99 < 1.0, "target: p99 under 1 ms, got {ours_p99} ms");
        support::plot_svg(
            "docs/refresh_latency.svg",
            "provide_credentials latency across a refresh (STS answers in 300 ms)",
            "real time since start (ms)",
            "slowest call in each 5 ms (ms, log scale)",
            &[
                (
                    "ChainableTemporaryCredentials",
                    &slowest_per_bucket(&ours, 5.0),
                ),
                (
                    "AssumeRoleProvider + IdentityCache::lazy()",
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

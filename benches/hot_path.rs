//! The cost of a cache hit, `provide_credentials().await` on a warm provider, against
//! - the floor: an `ArcSwap` load plus a clone of the same `Credentials` (the least it can cost
//!   to hand out an owned `Credentials`), and
//! - the SDK's path: a hit in the SDK's `LazyCache` (`IdentityCache::lazy()`,
//!   `resolve_cached_identity`), which is what every SDK request pays,
//!
//! at 1 thread and at 2 threads (a second thread calling the same cache all along).
//! Target: ours cheaper than the SDK cache's hit, which every SDK request pays anyway. (The
//! crate once went further — a coarse clock and per-thread copies of the credentials, for
//! about 60 ns — and gave that up: no request feels the difference; see the S3 request below.)
//!
//! Then the same hit where users meet it: one `ListBuckets` through an S3 client built as the
//! README shows (the client's identity cache in front of ours; the in-process S3 answers at
//! once), against the same client with `IdentityCache::no_cache()` (every request asks the
//! provider, so an `invalidate()` takes effect at once). The difference is what skipping the
//! SDK's cache costs or saves per request.
//!
//! `cargo bench --bench hot_path`

use test_support::FakeSts;
use test_support::bench as support;

use arc_swap::ArcSwap;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::time::SystemTimeSource;
use chainable_credentials::ChainableTemporaryCredentials;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Runs `work` on another thread until the returned guard is dropped: the contention.
fn contend(work: impl Fn() + Send + 'static) -> impl Drop {
    // The SDK's cache starts a Tokio timer on every call, hits included: run inside the runtime.
    let runtime = tokio::runtime::Handle::current();
    struct Stop(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
            if let Some(t) = self.1.take() {
                let _ = t.join();
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let _runtime = runtime.enter();
        while !flag.load(Ordering::Relaxed) {
            for _ in 0..64 {
                work();
            }
        }
    });
    Stop(stop, Some(thread))
}

fn hot_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The SDK's cache starts a Tokio timer on every call, hits included: stay in the runtime.
    let _runtime = runtime.enter();
    let aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(43_200),
        Duration::ZERO,
    );
    let provider = support::role(&aws).build().unwrap();
    let warm = runtime.block_on(provider.provide_credentials()).unwrap();
    let floor = Arc::new(ArcSwap::from_pointee(warm.clone()));

    // The SDK's identity cache, holding the same credentials.
    let sdk_hit = test_support::sdk_cache::hit(warm.clone());
    let _ = sdk_hit();

    let floor_hit = {
        let floor = floor.clone();
        move || floor.load().as_ref().clone()
    };
    let ours_hit = {
        let provider = provider.clone();
        move || support::ready(provider.provide_credentials()).unwrap()
    };

    for threads in [1, 2] {
        let mut group = c.benchmark_group(format!(
            "hot_path/{threads}_thread{}",
            if threads > 1 { "s" } else { "" }
        ));
        {
            let _other = (threads > 1).then(|| {
                contend({
                    let f = floor_hit.clone();
                    move || {
                        black_box(f());
                    }
                })
            });
            group.bench_function("floor_arcswap_load_clone", |b| {
                b.iter(|| black_box(floor_hit()))
            });
        }
        {
            let _other = (threads > 1).then(|| {
                contend({
                    let f = ours_hit.clone();
                    move || {
                        black_box(f());
                    }
                })
            });
            group.bench_function("chainable_provide_credentials", |b| {
                b.iter(|| black_box(ours_hit()))
            });
        }
        {
            let _other = (threads > 1).then(|| {
                contend({
                    let f = sdk_hit.clone();
                    move || {
                        black_box(f());
                    }
                })
            });
            group.bench_function("sdk_lazy_cache_hit", |b| b.iter(|| black_box(sdk_hit())));
        }
        group.finish();
    }
    through_a_client(c, &runtime, &aws, &provider);
    assert_eq!(aws.calls(), 1, "every call above was a cache hit");
}

/// One S3 request through a README client, with the SDK's identity cache and without.
fn through_a_client(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    aws: &FakeSts,
    provider: &ChainableTemporaryCredentials,
) {
    let sdk_config = aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(aws.clone())
        .build();
    let client = |cache: Option<aws_smithy_runtime_api::client::identity::SharedIdentityCache>| {
        let mut config =
            aws_sdk_s3::config::Builder::from(&sdk_config).credentials_provider(provider.clone());
        if let Some(cache) = cache {
            config = config.identity_cache(cache);
        }
        aws_sdk_s3::Client::from_conf(config.build())
    };
    let readme = client(None);
    let uncached = client(Some(aws_sdk_s3::config::IdentityCache::no_cache()));
    let mut group = c.benchmark_group("hot_path/s3_request");
    for (name, s3) in [
        ("readme_client_sdk_identity_cache", readme),
        ("client_with_no_cache", uncached),
    ] {
        runtime.block_on(s3.list_buckets().send()).unwrap();
        group.bench_function(name, |b| {
            b.to_async(runtime)
                .iter(|| async { black_box(s3.list_buckets().send().await.unwrap()) })
        });
    }
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);

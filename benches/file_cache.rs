//! Short-lived processes (each AWS CLI command runs its `credential_process` anew): the first
//! credentials of a brand-new provider, from the disk cache vs from STS answering in 50 ms, and
//! the STS calls of 100 such providers in a row. Targets: a disk hit costs under 1% of an STS
//! call; 1 STS call for 100 providers instead of 100.
//!
//! `cargo bench --features file-cache --bench file_cache`

use test_support::FakeSts;
use test_support::bench as support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::time::SystemTimeSource;
use chainable_credentials::ChainableTemporaryCredentials;
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;
use std::time::Duration;

const STS_LATENCY: Duration = Duration::from_millis(50);

fn new_provider(aws: &FakeSts, cache: Option<&Path>) -> ChainableTemporaryCredentials {
    let mut builder = ChainableTemporaryCredentials::builder()
        .configure(&support::sdk_config(aws))
        .base_credentials(support::base_credentials())
        .role_arn(support::ROLE)
        .role_session_name("bench");
    builder.set_file_cache(cache.map(Path::to_path_buf));
    builder.build().unwrap()
}

fn file_cache(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        STS_LATENCY,
    );
    let providers = if support::test_mode() { 10 } else { 100 };
    let calls_for = |cache: Option<&Path>| {
        let before = aws.calls();
        for _ in 0..providers {
            runtime
                .block_on(new_provider(&aws, cache).provide_credentials())
                .unwrap();
        }
        aws.calls() - before
    };
    let cached_calls = calls_for(Some(dir.path()));
    let uncached_calls = calls_for(None);
    assert_eq!(cached_calls, 1, "one STS call, then the disk");
    assert_eq!(uncached_calls, providers);

    let mut group = c.benchmark_group("new_provider_first_credentials");
    group.sample_size(20);
    group.bench_function("sts_50ms", |b| {
        b.to_async(&runtime).iter(|| async {
            new_provider(&aws, None)
                .provide_credentials()
                .await
                .unwrap()
        })
    });
    let before_hits = aws.calls();
    group.bench_function("file_cache_hit", |b| {
        b.to_async(&runtime).iter(|| async {
            new_provider(&aws, Some(dir.path()))
                .provide_credentials()
                .await
                .unwrap()
        })
    });
    group.finish();
    assert_eq!(aws.calls(), before_hits, "no disk hit called STS");
    support::report(
        "file_cache",
        &format!(
            "| {providers} new providers in a row, STS {} ms | STS calls |\n|---|---|\n\
             | with `file_cache(dir)` | {cached_calls} |\n\
             | without | {uncached_calls} |",
            STS_LATENCY.as_millis()
        ),
    );
}

criterion_group!(benches, file_cache);
criterion_main!(benches);

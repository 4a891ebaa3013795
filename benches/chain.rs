//! A three-hop role chain whose last hop alone has expired: STS calls and wall time of the
//! refresh, ours (each hop caches its session) vs aws-config's `AssumeRoleProvider` chained with
//! `build_from_provider` (no hop caches, so the refresh re-assumes every hop). STS answers in
//! 50 ms. Target: 1 call vs 3.
//!
//! `cargo bench --bench chain`

use test_support::bench as support;

use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::time::SystemTimeSource;
use chainable_credentials::ChainableTemporaryCredentials;
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

const STS_LATENCY: Duration = Duration::from_millis(50);

fn chain(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Ours: three hops, each caching.
    let ours_aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        STS_LATENCY,
    );
    let hop1 = ChainableTemporaryCredentials::builder()
        .configure(&support::sdk_config(&ours_aws))
        .base_credentials(support::base_credentials())
        .role_arn("arn:aws:iam::123456789012:role/hop-1")
        .build()
        .unwrap();
    let hop2 = hop1
        .chain()
        .role_arn("arn:aws:iam::123456789012:role/hop-2")
        .build()
        .unwrap();
    let hop3 = hop2
        .chain()
        .role_arn("arn:aws:iam::123456789012:role/hop-3")
        .build()
        .unwrap();
    runtime.block_on(hop3.provide_credentials()).unwrap();
    let before = ours_aws.calls();
    // The last hop's session expires (as if): the next call refreshes it.
    hop3.invalidate();
    runtime.block_on(hop3.provide_credentials()).unwrap();
    let ours_calls = ours_aws.calls() - before;

    // AssumeRoleProvider: three hops chained with build_from_provider.
    let theirs_aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        STS_LATENCY,
    );
    let config = support::sdk_config(&theirs_aws);
    let theirs = runtime.block_on(async {
        let hop1 = AssumeRoleProvider::builder("arn:aws:iam::123456789012:role/hop-1")
            .configure(&config)
            .build_from_provider(support::base_credentials())
            .await;
        let hop2 = AssumeRoleProvider::builder("arn:aws:iam::123456789012:role/hop-2")
            .configure(&config)
            .build_from_provider(hop1)
            .await;
        AssumeRoleProvider::builder("arn:aws:iam::123456789012:role/hop-3")
            .configure(&config)
            .build_from_provider(hop2)
            .await
    });
    // What the SDK's identity cache does when the last hop's session expires.
    let before = theirs_aws.calls();
    runtime.block_on(theirs.provide_credentials()).unwrap();
    let theirs_calls = theirs_aws.calls() - before;
    assert_eq!(ours_calls, 1, "only the expired hop calls STS");

    let mut group = c.benchmark_group("chain_last_hop_expired");
    group.sample_size(20);
    group.bench_function("chainable", |b| {
        b.to_async(&runtime).iter(|| async {
            hop3.invalidate();
            hop3.provide_credentials().await.unwrap()
        })
    });
    group.bench_function("assume_role_provider", |b| {
        b.to_async(&runtime).iter(|| theirs.provide_credentials())
    });
    group.finish();
    support::report(
        "chain",
        &format!(
            "| 3-hop chain, last hop expired, STS {} ms | STS calls per refresh |\n|---|---|\n\
             | ChainableTemporaryCredentials | {ours_calls} |\n\
             | AssumeRoleProvider chained with build_from_provider | {theirs_calls} |",
            STS_LATENCY.as_millis()
        ),
    );
}

criterion_group!(benches, chain);
criterion_main!(benches);

//! STS calls made by 10 separately configured S3 clients x 1,000 concurrent requests, counted at
//! the HTTP layer: ours (clones of one provider) vs aws-config's `AssumeRoleProvider` (which
//! calls STS on every `provide_credentials`, so its caching is per client identity cache).
//! Target: ours, 1 call per session lifetime. Also the wall time of the 10,000 requests.
//!
//! `cargo bench --bench sts_calls`

use test_support::FakeSts;
use test_support::bench as support;

use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::time::SystemTimeSource;
use chainable_credentials::ChainableTemporaryCredentials;
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

const CLIENTS: usize = 10;

/// Sends `per_client` concurrent ListBuckets on each of 10 separately configured S3 clients
/// signing with `provider`.
async fn fleet_of_clients(
    aws: &FakeSts,
    provider: impl ProvideCredentials + Clone + 'static,
    per_client: usize,
) {
    let mut requests = Vec::with_capacity(CLIENTS * per_client);
    for _ in 0..CLIENTS {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version_latest()
                .region(aws_types::region::Region::new("us-east-1"))
                .http_client(aws.clone())
                .credentials_provider(provider.clone())
                .build(),
        );
        for _ in 0..per_client {
            let s3 = s3.clone();
            requests.push(tokio::spawn(async move { s3.list_buckets().send().await }));
        }
    }
    for request in requests {
        request.await.unwrap().expect("the fake S3 answers");
    }
}

async fn ours(per_client: usize) -> usize {
    let aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        Duration::ZERO,
    );
    let provider = ChainableTemporaryCredentials::builder()
        .configure(&support::sdk_config(&aws))
        .base_credentials(support::base_credentials())
        .role_arn(support::ROLE)
        .build()
        .unwrap();
    fleet_of_clients(&aws, provider, per_client).await;
    aws.calls()
}

async fn assume_role_provider(per_client: usize) -> usize {
    let aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        Duration::ZERO,
    );
    let provider = AssumeRoleProvider::builder(support::ROLE)
        .configure(&support::sdk_config(&aws))
        .build_from_provider(support::base_credentials())
        .await;
    fleet_of_clients(
        &aws,
        aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        per_client,
    )
    .await;
    aws.calls()
}

fn sts_calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let per_client = if support::test_mode() { 100 } else { 1_000 };
    let ours_calls = runtime.block_on(ours(per_client));
    let theirs_calls = runtime.block_on(assume_role_provider(per_client));
    assert_eq!(ours_calls, 1, "one STS call for the whole fleet of clients");
    support::report(
        "sts_calls",
        &format!(
            "| {CLIENTS} S3 clients x {per_client} concurrent requests | STS calls |\n\
             |---|---|\n\
             | ChainableTemporaryCredentials (clones of one provider) | {ours_calls} |\n\
             | aws_config::sts::AssumeRoleProvider | {theirs_calls} |\n\
             | ratio (AssumeRoleProvider / ours) | {:.0}x |",
            theirs_calls as f64 / ours_calls as f64
        ),
    );

    let mut group = c.benchmark_group("sts_calls");
    group.sample_size(10);
    group.bench_function("chainable_10_clients_x_1000", |b| {
        b.to_async(&runtime).iter(|| ours(per_client))
    });
    group.bench_function("assume_role_provider_10_clients_x_1000", |b| {
        b.to_async(&runtime)
            .iter(|| assume_role_provider(per_client))
    });
    group.finish();
}

criterion_group!(benches, sts_calls);
criterion_main!(benches);

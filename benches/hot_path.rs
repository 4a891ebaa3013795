//! The cost of a cache hit: `provide_credentials().await` on a warm provider, against the floor
//! of handing out an owned `Credentials` at all (an `ArcSwap` load plus a clone).
//!
//! `cargo bench --bench hot_path`. The ratio `ours / floor` is the figure that matters; the
//! target is at most 2x.

use arc_swap::ArcSwap;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_async::time::TimeSource;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::date_time::{DateTime, Format};
use chainable_credentials::ChainableTemporaryCredentials;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

/// Answers every AssumeRole with a 12-hour session: the bench only needs the first one.
#[derive(Debug, Clone)]
struct OneSessionSts;

impl HttpConnector for OneSessionSts {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        let now = SystemTimeSource::new().now();
        let expiration = DateTime::from(now + Duration::from_secs(43_200))
            .fmt(Format::DateTime)
            .unwrap();
        let body = format!(
            "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIABENCH</AccessKeyId>\
             <SecretAccessKey>bench-secret</SecretAccessKey><SessionToken>bench-token</SessionToken>\
             <Expiration>{expiration}</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>"
        );
        HttpConnectorFuture::ready(Ok(HttpResponse::new(
            200.try_into().unwrap(),
            SdkBody::from(body),
        )))
    }
}

impl HttpClient for OneSessionSts {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn hot_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = ChainableTemporaryCredentials::builder()
        .base_credentials(Credentials::new("AKID", "secret", None, None, "bench"))
        .role_arn("arn:aws:iam::123456789012:role/bench")
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(OneSessionSts)
        .sleep_impl(TokioSleep::new())
        .build()
        .unwrap();
    let warm = runtime.block_on(provider.provide_credentials()).unwrap();
    let floor = Arc::new(ArcSwap::from_pointee(warm.clone()));

    let mut group = c.benchmark_group("hot_path");
    group.bench_function("floor_arcswap_load_clone", |b| {
        b.iter(|| black_box(floor.load().as_ref().clone()))
    });
    group.bench_function("chainable_provide_credentials", |b| {
        b.iter(|| {
            // A warm provider's future is ready at once: poll it without a runtime round trip.
            let creds = futures_lite_block_on(provider.provide_credentials());
            black_box(creds)
        })
    });
    let shared_time = aws_smithy_async::time::SharedTimeSource::new(SystemTimeSource::new());
    group.bench_function("probe_shared_time_source_now", |b| {
        b.iter(|| black_box(shared_time.now()))
    });
    group.bench_function("probe_clone_credentials", |b| {
        b.iter(|| black_box(warm.clone()))
    });
    let coarse = aws_smithy_async::time::SharedTimeSource::new(
        chainable_credentials::clock::CoarseSystemTimeSource::new(),
    );
    group.bench_function("probe_coarse_now", |b| b.iter(|| black_box(coarse.now())));
    group.bench_function("probe_ready_future", |b| {
        b.iter(|| {
            black_box(futures_lite_block_on(
                aws_credential_types::provider::future::ProvideCredentials::ready(Ok(floor
                    .load()
                    .as_ref()
                    .clone())),
            ))
        })
    });
    eprintln!(
        "size_of Result = {}",
        std::mem::size_of::<aws_credential_types::provider::Result>()
    );
    eprintln!(
        "size_of future = {}",
        std::mem::size_of::<aws_credential_types::provider::future::ProvideCredentials<'static>>()
    );
    group.finish();
}

/// Polls a future that is expected to be ready at once.
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("a warm provider must answer at once"),
    }
}

criterion_group!(benches, hot_path);
criterion_main!(benches);

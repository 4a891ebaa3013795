//! object_store's credential path, against the in-process STS:
//! 1. The adapter patterns Rust data projects ship — datafusion-cli's (an aws-config
//!    `AssumeRoleProvider` asked on every request) and delta-rs's (the same, its credentials
//!    reused until the instant they expire) — against this crate's provider: STS calls for
//!    1,000 requests over two session lifetimes (a manual clock, 7.2 s a request; STS answering
//!    in 10 ms), and the requests that waited (their credential future not ready when first
//!    polled).
//! 2. The hit as object_store makes it on every request (`get_credential()` through its
//!    `Arc<dyn CredentialProvider>`): this crate's provider against object_store's own
//!    `StaticCredentialProvider` and against the delta-rs-style adapter (a cached SDK
//!    provider, its credentials converted on every request); then the same through a whole
//!    request (`head` against an S3 stand-in on loopback that answers at once): target within
//!    1.5x of the static credentials.
//!
//! `cargo bench -p s3-clients --bench object_store` (`cargo test --benches` runs a reduced
//! workload once).

use test_support::FakeSts;
use test_support::bench as support;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::test_util::ManualTimeSource;
use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use chainable_credentials::ChainableTemporaryCredentials;
use criterion::{Criterion, criterion_group, criterion_main};
use object_store::aws::{AwsCredential, AwsCredentialProvider};
use object_store::{CredentialProvider, StaticCredentialProvider};
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const LIFETIME: Duration = Duration::from_secs(3600);
/// Long enough that a request calling STS is not ready when first polled.
const STS_LATENCY: Duration = Duration::from_millis(10);

fn converted(credentials: &Credentials) -> AwsCredential {
    AwsCredential {
        key_id: credentials.access_key_id().to_owned(),
        secret_key: credentials.secret_access_key().to_owned(),
        token: credentials.session_token().map(str::to_owned),
    }
}

fn failed(error: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
    object_store::Error::Generic {
        store: "S3",
        source: Box::new(error),
    }
}

/// datafusion-cli's adapter: the SDK provider asked on every request, its answer converted.
#[derive(Debug)]
struct PerRequest(SharedCredentialsProvider);

#[async_trait::async_trait]
impl CredentialProvider for PerRequest {
    type Credential = AwsCredential;
    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let credentials = self.0.provide_credentials().await.map_err(failed)?;
        Ok(Arc::new(converted(&credentials)))
    }
}

/// delta-rs's adapter: the same, with the last credentials reused until the instant they
/// expire (then the request that finds them expired waits for STS).
#[derive(Debug)]
struct UntilExpiry {
    provider: SharedCredentialsProvider,
    clock: ManualTimeSource,
    last: Mutex<Option<(Arc<AwsCredential>, SystemTime)>>,
}

#[async_trait::async_trait]
impl CredentialProvider for UntilExpiry {
    type Credential = AwsCredential;
    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        if let Some((credential, expiry)) = self.last.lock().unwrap().clone()
            && self.clock.now() < expiry
        {
            return Ok(credential);
        }
        let credentials = self.provider.provide_credentials().await.map_err(failed)?;
        let credential = Arc::new(converted(&credentials));
        let expiry = credentials.expiry().unwrap_or(SystemTime::UNIX_EPOCH);
        *self.last.lock().unwrap() = Some((credential.clone(), expiry));
        Ok(credential)
    }
}

/// An aws-config `AssumeRoleProvider` on the in-process STS and `clock`.
async fn assume_role_provider(
    aws: &FakeSts,
    clock: &ManualTimeSource,
) -> SharedCredentialsProvider {
    let config = support::sdk_config_on(aws, clock.clone(), TokioSleep::new());
    SharedCredentialsProvider::new(
        aws_config::sts::AssumeRoleProvider::builder(support::ROLE)
            .session_name("bench")
            .configure(&config)
            .build_from_provider(support::base_credentials())
            .await,
    )
}

fn ours(aws: &FakeSts, clock: &ManualTimeSource) -> ChainableTemporaryCredentials {
    support::role(aws)
        .time_source(clock.clone())
        .role_session_name("bench")
        .build()
        .unwrap()
}

/// `requests` requests through `provider`, 7.2 s apart on `clock`: the STS calls, and the
/// requests whose credential was not ready when first polled.
fn over_two_lifetimes(
    runtime: &tokio::runtime::Runtime,
    aws: &FakeSts,
    clock: &ManualTimeSource,
    provider: AwsCredentialProvider,
    requests: u32,
) -> (usize, u32) {
    let calls = aws.calls();
    let step = (LIFETIME * 2) / requests;
    let mut waited = 0;
    for _ in 0..requests {
        let mut future = provider.get_credential();
        let first = futures_util::FutureExt::now_or_never(&mut future);
        match first {
            Some(answer) => drop(answer.unwrap()),
            None => {
                waited += 1;
                runtime.block_on(future).unwrap();
            }
        }
        // A refresh started in the background ends before the next request, as it does
        // when requests are 7.2 s apart in real time.
        runtime.block_on(settle());
        clock.advance(step);
    }
    (aws.calls() - calls, waited)
}

/// Real time for a refresh started in the background to end: more than an STS call.
async fn settle() {
    use aws_smithy_async::rt::sleep::AsyncSleep;
    TokioSleep::new()
        .sleep(STS_LATENCY + Duration::from_millis(5))
        .await;
}

fn adapters(runtime: &tokio::runtime::Runtime) {
    let requests = if support::test_mode() { 100 } else { 1_000 };
    let mut rows = Vec::new();
    for name in [
        "datafusion-cli (per request)",
        "delta-rs (until expiry)",
        "ours",
    ] {
        let clock = ManualTimeSource::new(SystemTimeSource::new().now());
        let aws = support::fake_aws(clock.clone(), LIFETIME, STS_LATENCY);
        let _inside = runtime.enter();
        let provider: AwsCredentialProvider = match name {
            "ours" => Arc::new(ours(&aws, &clock)),
            "delta-rs (until expiry)" => Arc::new(UntilExpiry {
                provider: runtime.block_on(assume_role_provider(&aws, &clock)),
                clock: clock.clone(),
                last: Mutex::new(None),
            }),
            _ => Arc::new(PerRequest(
                runtime.block_on(assume_role_provider(&aws, &clock)),
            )),
        };
        let (calls, waited) = over_two_lifetimes(runtime, &aws, &clock, provider, requests);
        rows.push(format!("| {name} | {calls} | {waited} |"));
        if name == "ours" {
            assert_eq!(waited, 1, "only the first request waits");
            assert!(calls <= 3, "{calls} STS calls");
        }
    }
    support::report(
        "object_store_adapters",
        &format!(
            "| {requests} object_store requests over two one-hour sessions | STS calls | requests that waited |\n|---|---|---|\n{}",
            rows.join("\n")
        ),
    );
}

/// ns per `get_credential()` hit, through object_store's `Arc<dyn CredentialProvider>`.
fn per_hit(provider: &AwsCredentialProvider) -> f64 {
    let rounds = if support::test_mode() {
        1_000
    } else {
        2_000_000
    };
    let started = SystemTimeSource::new().now();
    for _ in 0..rounds {
        black_box(support::ready(provider.get_credential()).unwrap());
    }
    let took = SystemTimeSource::new()
        .now()
        .duration_since(started)
        .unwrap_or_default();
    took.as_secs_f64() * 1e9 / f64::from(rounds)
}

fn hits(c: &mut Criterion) {
    let runtime = support::runtime();
    adapters(&runtime);
    let _inside = runtime.enter();
    let aws = support::fake_aws(SystemTimeSource::new(), LIFETIME, Duration::ZERO);
    let provider = support::role(&aws).build().unwrap();
    let credentials = runtime.block_on(provider.provide_credentials()).unwrap();
    let candidates: [(&str, AwsCredentialProvider); 3] = [
        (
            "object_store StaticCredentialProvider (baseline)",
            Arc::new(StaticCredentialProvider::new(converted(&credentials))),
        ),
        ("ours", Arc::new(provider.clone())),
        (
            "delta-rs-style adapter (a cached provider, converted per request)",
            Arc::new(PerRequest(SharedCredentialsProvider::new(provider.clone()))),
        ),
    ];
    let mut group = c.benchmark_group("object_store_get_credential");
    for (name, candidate) in &candidates {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(support::ready(candidate.get_credential()).unwrap()))
        });
    }
    group.finish();
    let timed: Vec<(&str, f64)> = candidates
        .iter()
        .map(|(name, candidate)| (*name, per_hit(candidate)))
        .collect();
    let baseline = timed[0].1;
    let rows: Vec<String> = timed
        .iter()
        .map(|(name, ns)| format!("| {name} | {ns:.0} ns | {:.2}x |", ns / baseline))
        .collect();
    support::report(
        "object_store_hit",
        &format!(
            "| `get_credential()` hit, as object_store makes it per request | time | / static |\n|---|---|---|\n{}",
            rows.join("\n")
        ),
    );
}

/// An S3 stand-in on loopback: every request answered at once, with what a `HEAD` needs.
async fn instant_s3() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    hyper::Response::builder()
                        .header("content-length", "0")
                        .header("etag", "\"bench\"")
                        .header("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT")
                        .body(http_body_util::Empty::<bytes::Bytes>::new())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

/// One `head` through object_store's whole request path, signed by each provider.
fn requests(c: &mut Criterion) {
    use object_store::ObjectStoreExt;
    let runtime = support::runtime();
    let aws = support::fake_aws(SystemTimeSource::new(), LIFETIME, Duration::ZERO);
    let provider = support::role(&aws).build().unwrap();
    let credentials = runtime.block_on(provider.provide_credentials()).unwrap();
    let s3 = runtime.block_on(instant_s3());
    let store = |credentials: AwsCredentialProvider| {
        object_store::aws::AmazonS3Builder::new()
            .with_bucket_name("bench")
            .with_region("us-east-1")
            .with_endpoint(&s3)
            .with_allow_http(true)
            .with_credentials(credentials)
            .build()
            .unwrap()
    };
    let static_store = store(Arc::new(StaticCredentialProvider::new(converted(
        &credentials,
    ))));
    let our_store = store(Arc::new(provider));
    let path = object_store::path::Path::from("key");
    let mut group = c.benchmark_group("object_store_head_request");
    group.bench_function("static credentials (baseline)", |b| {
        b.to_async(&runtime)
            .iter(|| async { static_store.head(&path).await.unwrap() })
    });
    group.bench_function("ours", |b| {
        b.to_async(&runtime)
            .iter(|| async { our_store.head(&path).await.unwrap() })
    });
    group.finish();
    let timed = |store: &object_store::aws::AmazonS3| {
        let rounds = if support::test_mode() { 20 } else { 20_000 };
        let started = SystemTimeSource::new().now();
        runtime.block_on(async {
            for _ in 0..rounds {
                store.head(&path).await.unwrap();
            }
        });
        let took = SystemTimeSource::new()
            .now()
            .duration_since(started)
            .unwrap_or_default();
        took.as_secs_f64() * 1e6 / f64::from(rounds)
    };
    // Alternated, so that drift in the machine's speed falls on both.
    let (mut baseline, mut ours) = (0.0, 0.0);
    for _ in 0..3 {
        baseline += timed(&static_store) / 3.0;
        ours += timed(&our_store) / 3.0;
    }
    support::report(
        "object_store_request",
        &format!(
            "| one `head` through object_store (an S3 stand-in on loopback answering at once) | per request | ratio |\n|---|---|---|\n\
             | static credentials (baseline) | {baseline:.1} µs | |\n\
             | ours | {ours:.1} µs | {:.2}x |",
            ours / baseline
        ),
    );
}

criterion_group!(benches, hits, requests);
criterion_main!(benches);

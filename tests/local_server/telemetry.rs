//! Metrics on the path users take: the global telemetry provider set as for the SDK's own
//! metrics (OpenTelemetry through aws-smithy-observability's bridge, here its in-memory
//! exporter), a provider built without one, an S3 client with its identity cache in front,
//! requests against the enforcing local server. The crate's refresh and STS metrics arrive
//! beside the SDK's `smithy.client.call.duration` in the same meter provider.

use crate::support;

use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use support::fault_proxy::FaultProxy;
use support::metrics::{InMemoryMetrics, sum, value};
use support::moto::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crates_metrics_reach_the_global_meter_provider_beside_the_sdks_own() {
    let metrics = InMemoryMetrics::new();
    metrics.set_global();
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let provider = moto
        .s3_role_via(&proxy.endpoint)
        .metrics_name("s3-reader")
        .build()
        .unwrap();
    let s3 = moto.s3(provider.clone());
    for _ in 0..3 {
        s3.list_objects_v2()
            .bucket(&moto.bucket)
            .send()
            .await
            .expect("S3 lists the bucket with the role's session");
    }
    let points = metrics.collect();
    let ours = [("aws.credentials.provider", "s3-reader")];
    let success = [
        ("aws.credentials.provider", "s3-reader"),
        ("aws.credentials.outcome", "success"),
        ("rpc.method", "AssumeRole"),
    ];
    assert_eq!(proxy.sts_requests(), 1);
    assert_eq!(sum(&points, "aws.credentials.refreshes", &success), 1.0);
    assert_eq!(sum(&points, "aws.credentials.sts.calls", &success), 1.0);
    assert_eq!(
        sum(&points, "aws.credentials.refresh.duration", &success),
        1.0
    );
    let left = value(&points, "aws.credentials.session.time_to_expiry", &ours).unwrap();
    let expected = provider
        .expiry()
        .unwrap()
        .duration_since(SystemTimeSource::new().now())
        .unwrap()
        .as_secs_f64();
    assert!(
        (left - expected).abs() < 5.0,
        "{left} s left, {expected} expected"
    );
    assert_eq!(
        value(&points, "aws.credentials.session.stale", &ours),
        Some(0.0)
    );
    // The SDK's own call metrics, in the same meter provider: S3's three calls.
    assert_eq!(
        sum(
            &points,
            "smithy.client.call.duration",
            &[("rpc.method", "ListObjectsV2")]
        ),
        3.0
    );
}

//! `--metrics-bind`: the built binary serves Prometheus text on a listener of its own, read
//! with a plain HTTP GET after a few requests against the enforcing local server: the role's
//! refreshes and STS calls, its session's time to expiry, and the S3 client's own call
//! metrics, with no secret, token or role ARN in it.

use crate::service::{Http, Running};
use crate::support;

use support::fault_proxy::FaultProxy;
use support::moto::Moto;

/// The value of the sample line `name{...labels...}` holding every label of `having`.
fn sample(text: &str, name: &str, having: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| having.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// No key, role ARN or session name in the metrics.
fn assert_no_secret(text: &str, moto: &Moto) {
    for secret in [
        moto.base_secret_access_key.as_str(),
        moto.base_access_key_id.as_str(),
        moto.role_arn.as_str(),
        "upload-service",
    ] {
        assert!(!text.contains(secret), "the metrics show {secret}");
    }
}

/// A valid exposition: each family's `TYPE` once (the S3 and STS clients report the same
/// names under two scopes).
fn assert_valid_exposition(text: &str) {
    let mut families = std::collections::HashSet::new();
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        assert!(families.insert(line.to_owned()), "{line} twice");
    }
}

/// Only `GET /metrics`, only for the listener's own names (DNS rebinding), as on the
/// service's listener.
async fn assert_only_metrics_for_its_own_names(metrics_url: &str) {
    let base = metrics_url.trim_end_matches("/metrics");
    let address = base.trim_start_matches("http://");
    let port = address.rsplit(':').next().unwrap();
    for (head, expected) in [
        (
            format!("GET /metrics HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n"),
            "200 OK",
        ),
        (
            "GET /metrics HTTP/1.1\r\nHost: rebind.attacker.example\r\n\r\n".to_owned(),
            "421 Misdirected Request",
        ),
        (
            format!(
                "GET http://rebind.attacker.example/metrics HTTP/1.1\r\nHost: {address}\r\n\r\n"
            ),
            "421 Misdirected Request",
        ),
        (
            format!("POST /metrics HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n"),
            "405 Method Not Allowed",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n"),
            "404 Not Found",
        ),
    ] {
        let mut stream = crate::service::raw_connection(base, &head).await;
        let status =
            crate::service::read_answer(&mut stream, std::time::Duration::from_secs(10)).await;
        assert_eq!(
            status.as_deref(),
            Some(format!("HTTP/1.1 {expected}").as_str()),
            "{head}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_roles_refresh_its_expiry_and_the_s3_calls_without_secrets() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let vars = crate::service::moto_vars(&moto, &proxy.endpoint);
    let mut running = Running::start(
        &vars,
        &["--bind", "127.0.0.1:0", "--metrics-bind", "127.0.0.1:0"],
    )
    .await;
    let line = running.stdout.next_line().await.unwrap().unwrap();
    let metrics_url = line
        .strip_prefix("metrics on ")
        .unwrap_or_else(|| panic!("unexpected second line {line:?}"))
        .to_owned();
    let http = Http::new();
    let prefix = crate::service::unique_prefix("metrics");
    for n in 0..3 {
        http.upload(&running.url, &format!("{prefix}file-{n}"), b"metrics")
            .await;
    }
    let answer = http.get(&metrics_url).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4"))
    );
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    assert_valid_exposition(&text);
    let role = "aws_credentials_provider=\"role\"";
    assert_eq!(
        sample(
            &text,
            "aws_credentials_refreshes_total",
            &[
                role,
                "aws_credentials_outcome=\"success\"",
                "rpc_method=\"AssumeRole\""
            ]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(proxy.sts_requests(), 1);
    assert_eq!(
        sample(&text, "aws_credentials_sts_calls_total", &[role]),
        Some(1.0),
        "{text}"
    );
    let left = sample(
        &text,
        "aws_credentials_session_time_to_expiry_seconds",
        &[role],
    )
    .unwrap();
    assert!(left > 3000.0 && left <= 3600.0, "{left}");
    assert_eq!(
        sample(&text, "aws_credentials_session_stale", &[role]),
        Some(0.0)
    );
    assert!(text.contains("# TYPE aws_credentials_refresh_duration_seconds histogram"));
    // Buckets in seconds, not OpenTelemetry's default (made for milliseconds).
    assert!(
        text.lines().any(
            |l| l.starts_with("aws_credentials_refresh_duration_seconds_bucket")
                && l.contains("le=\"0.05\"")
        ),
        "{text}"
    );
    // The SDK's own call metrics beside them: the three uploads.
    assert_eq!(
        sample(
            &text,
            "smithy_client_call_duration_seconds_count",
            &["rpc_method=\"PutObject\""]
        ),
        Some(3.0),
        "{text}"
    );
    assert_no_secret(&text, &moto);
    assert_only_metrics_for_its_own_names(&metrics_url).await;
    let (code, logs) = running.stop().await;
    assert_eq!(code, Some(0), "{logs}");
}

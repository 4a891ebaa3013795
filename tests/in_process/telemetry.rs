//! Metrics (cargo feature `telemetry`) through aws-smithy-observability's OpenTelemetry bridge
//! into OpenTelemetry's in-memory exporter: after a scripted sequence of refreshes — a
//! success, an STS refusal while the session is valid (served stale, with backoff),
//! throttling, a panic, a success again — and, for scoped sessions, evictions and the limit on
//! STS refusing a fetch, every instrument agrees with `status()`, every refresh is recorded
//! with its operation and outcome, and no attribute holds a secret.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::ManualTimeSource;
use aws_smithy_async::time::TimeSource;
use chainable_credentials::scoped::{Scope, ScopedSessions};
use chainable_credentials::{
    BuildError, ChainableTemporaryCredentials, FetchError, Field, fetch_error,
};
use std::time::Duration;
use support::metrics::{InMemoryMetrics, Point, sum, value};
use support::{FakeSts, Reply, fake_builder, t0};

const HOUR: Duration = Duration::from_secs(3600);

/// Every attribute value of every point, with the secrets and identifiers it must not hold.
fn assert_no_attribute_holds(points: &[Point], forbidden: &[&str]) {
    for point in points {
        for (key, value) in &point.attributes {
            for secret in forbidden {
                assert!(
                    !value.contains(secret),
                    "{}: attribute {key}={value} holds {secret}",
                    point.name
                );
            }
        }
    }
}

/// The in-memory meter provider, a manual clock at [`t0`], the fake STS issuing one-hour
/// sessions on it.
struct Rig {
    metrics: InMemoryMetrics,
    clock: ManualTimeSource,
    sts: FakeSts,
}

impl Rig {
    fn new() -> Self {
        let clock = ManualTimeSource::new(t0());
        let sts = FakeSts::new(clock.clone());
        sts.always(Reply::Session(HOUR));
        Rig {
            metrics: InMemoryMetrics::new(),
            clock,
            sts,
        }
    }

    /// A provider's builder on the fake STS, reporting to the in-memory meter provider,
    /// refreshing only when asked (no background task on a real-time sleep).
    fn builder(&self) -> chainable_credentials::Builder {
        fake_builder(&self.sts, &self.clock)
            .background_refresh(false)
            .telemetry_provider(self.metrics.telemetry())
    }
}

/// The count of `orders`' AssumeRole refreshes with this outcome.
fn refreshes(points: &[Point], outcome: &str) -> f64 {
    sum(
        points,
        "aws.credentials.refreshes",
        &[
            ("aws.credentials.outcome", outcome),
            ("rpc.method", "AssumeRole"),
            ("aws.credentials.provider", "orders"),
        ],
    )
}

/// The gauges against the provider's status: time to expiry, stale serving, failures.
fn assert_gauges_agree(
    points: &[Point],
    status: &chainable_credentials::ProviderStatus,
    now: std::time::SystemTime,
) {
    let left = status.expires_at.unwrap().duration_since(now).unwrap();
    let orders = [("aws.credentials.provider", "orders")];
    assert_eq!(
        value(points, "aws.credentials.session.time_to_expiry", &orders),
        Some(left.as_secs_f64())
    );
    assert_eq!(
        value(points, "aws.credentials.session.stale", &orders),
        Some(f64::from(u8::from(status.serving_cached_after_failure)))
    );
    assert_eq!(
        value(points, "aws.credentials.refresh.failures_in_a_row", &orders),
        Some(f64::from(status.failures_in_a_row))
    );
}

/// In the advisory window, one refresh after another (past each backoff) fails: STS refuses,
/// throttles, the HTTP client panics. The cached session (returned) is served all along.
async fn fail_three_ways(
    provider: &ChainableTemporaryCredentials,
    rig: &Rig,
) -> aws_credential_types::Credentials {
    let first = provider.provide_credentials().await.unwrap();
    let script = [
        Reply::Error {
            status: 503,
            code: "ServiceUnavailable",
        },
        Reply::Error {
            status: 400,
            code: "Throttling",
        },
        Reply::Panic,
    ];
    rig.clock.set_time(provider.status().refresh_at.unwrap());
    for reply in script {
        rig.sts.always(reply);
        if let Some(next) = provider.status().next_attempt_at {
            rig.clock.set_time(next);
        }
        let served = provider.provide_credentials().await.unwrap();
        assert_eq!(served.access_key_id(), first.access_key_id());
        support::eventually("the refresh ended", || !provider.status().refreshing).await;
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instrument_agrees_with_status_after_failures_stale_serving_throttling_and_a_panic() {
    let rig = Rig::new();
    let provider = rig.builder().metrics_name("orders").build().unwrap();
    let first = fail_three_ways(&provider, &rig).await;
    let status = provider.status();
    assert_eq!(status.failures_in_a_row, 3);
    assert!(status.serving_cached_after_failure);
    let points = rig.metrics.collect();
    for outcome in ["success", "sts_refused", "throttled", "panic"] {
        assert_eq!(refreshes(&points, outcome), 1.0, "{outcome}");
    }
    let all = sum(&points, "aws.credentials.refreshes", &[]);
    assert_eq!(all, status.refreshes_started as f64);
    assert_eq!(
        all - refreshes(&points, "success"),
        status.refreshes_failed as f64
    );
    // The first session: a caller waited; the others started in the advisory window.
    let by_callers = [("aws.credentials.trigger", "caller")];
    assert_eq!(sum(&points, "aws.credentials.refreshes", &by_callers), 1.0);
    // A panic is not counted as a call that reached STS.
    assert_eq!(sum(&points, "aws.credentials.sts.calls", &[]), 3.0);
    assert_eq!(sum(&points, "aws.credentials.refresh.duration", &[]), 4.0);
    assert_gauges_agree(&points, &status, rig.clock.now());

    // STS is back: the next refresh succeeds and the gauges follow.
    rig.sts.always(Reply::Session(HOUR));
    rig.clock.set_time(status.next_attempt_at.unwrap());
    provider.provide_credentials().await.unwrap();
    support::eventually("the refresh ended", || !provider.status().refreshing).await;
    let status = provider.status();
    let points = rig.metrics.collect();
    assert_eq!(refreshes(&points, "success"), 2.0);
    assert!(!status.serving_cached_after_failure);
    assert_gauges_agree(&points, &status, rig.clock.now());
    let current = provider.provide_credentials().await.unwrap();
    assert_ne!(current.access_key_id(), first.access_key_id());
    assert_no_attribute_holds(
        &points,
        &[
            first.secret_access_key(),
            first.session_token().unwrap(),
            current.secret_access_key(),
            current.session_token().unwrap(),
            current.access_key_id(),
            "base-secret-value",
            "AKIDBASE",
            support::ROLE_ARN,
            "test-session",
        ],
    );
}

fn tenant(name: &str) -> Scope {
    Scope::new()
        .label(name)
        .role_session_name(format!("tenant-{name}"))
}

async fn credentials_of(
    sessions: &ScopedSessions,
    name: &str,
) -> aws_credential_types::Credentials {
    sessions.credentials(&tenant(name)).await.unwrap()
}

/// Two fetches while STS holds its answers: `hooli`'s call in flight, `umbrella`'s fetch
/// waiting for the limit (one call at a time, one waiting).
async fn one_in_flight_one_waiting(
    sessions: &ScopedSessions,
) -> (
    tokio::task::JoinHandle<aws_credential_types::Credentials>,
    tokio::task::JoinHandle<aws_credential_types::Credentials>,
) {
    let spawn = |name: &'static str| {
        let sessions = sessions.clone();
        tokio::spawn(async move { credentials_of(&sessions, name).await })
    };
    let in_flight = spawn("hooli");
    support::eventually("a call in flight", || {
        sessions.status().sts_calls_in_flight == 1
    })
    .await;
    let waiting = spawn("umbrella");
    support::eventually("a fetch waiting", || sessions.status().waiting_for_sts == 1).await;
    (in_flight, waiting)
}

/// The scoped sessions' instruments against their status: scopes, evictions, STS calls.
fn assert_scope_counts_agree(
    points: &[Point],
    status: &chainable_credentials::scoped::ScopedSessionsStatus,
) {
    let named = [("aws.credentials.provider", "tenants")];
    let evicted = |reason| {
        let having = [("aws.credentials.reason", reason)];
        value(points, "aws.credentials.scopes.evicted", &having)
    };
    assert_eq!(
        value(points, "aws.credentials.scopes.cached", &named),
        Some(status.scopes_cached as f64)
    );
    assert_eq!(evicted("capacity"), Some(status.evicted_at_capacity as f64));
    assert_eq!(evicted("idle"), Some(status.evicted_idle as f64));
    assert_eq!(
        sum(points, "aws.credentials.sts.calls", &named),
        status.sts_calls as f64
    );
}

/// Scope labels: the first two as they are; the refreshes of the four later tenants only
/// marked as beyond the cap.
fn assert_labels_capped(points: &[Point]) {
    let refreshes = |having: &[(&str, &str)]| sum(points, "aws.credentials.refreshes", having);
    assert_eq!(refreshes(&[("aws.credentials.scope", "acme")]), 1.0);
    assert_eq!(refreshes(&[("aws.credentials.scope", "globex")]), 1.0);
    assert_eq!(
        refreshes(&[("aws.credentials.scope.overflow", "true")]),
        4.0
    );
    assert!(
        points
            .iter()
            .filter_map(|p| p.attributes.get("aws.credentials.scope"))
            .all(|label| label == "acme" || label == "globex")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_sessions_report_scopes_evictions_and_the_limit_refusing_with_capped_labels() {
    let Rig {
        metrics,
        clock,
        sts,
    } = Rig::new();
    let mut builder = fake_builder(&sts, &clock)
        .telemetry_provider(metrics.telemetry())
        .metrics_name("tenants")
        .scoped_sessions()
        .sweep_interval(HOUR)
        .capacity(2)
        .max_sts_calls_in_flight(1)
        .max_waiting_for_sts(1)
        .metrics_scope_labels(2);
    builder.set_sts_calls_per_second(None);
    let sessions = builder.build().unwrap();
    let mut secrets = Vec::new();
    for name in ["acme", "globex", "initech"] {
        secrets.push(credentials_of(&sessions, name).await);
    }
    assert_eq!(sessions.status().evicted_at_capacity, 1);

    // STS holds its answers: one call in flight, one fetch waiting, the next refused.
    let gate = sts.hold();
    let (in_flight, waiting) = one_in_flight_one_waiting(&sessions).await;
    let refused = sessions.credentials(&tenant("wayne")).await.unwrap_err();
    assert!(
        matches!(fetch_error(&refused), Some(FetchError::StsLimit { .. })),
        "{refused:?}"
    );
    let points = metrics.collect();
    let status = sessions.status();
    let named = [("aws.credentials.provider", "tenants")];
    assert_eq!(
        value(&points, "aws.credentials.sts.in_flight", &named),
        Some(1.0)
    );
    assert_eq!(
        value(&points, "aws.credentials.sts.waiting", &named),
        Some(1.0)
    );
    assert_eq!(
        value(&points, "aws.credentials.sts.refused", &named),
        Some(status.refused_by_sts_limit as f64)
    );
    assert_eq!(status.refused_by_sts_limit, 1);
    drop(gate);
    sts.release();
    secrets.push(in_flight.await.unwrap());
    secrets.push(waiting.await.unwrap());

    let points = metrics.collect();
    let status = sessions.status();
    assert_scope_counts_agree(&points, &status);
    assert_eq!(status.sts_calls, 5);
    let outcome = |outcome| {
        let having = [("aws.credentials.outcome", outcome)];
        sum(&points, "aws.credentials.refreshes", &having)
    };
    assert_eq!(outcome("limit"), 1.0);
    assert_eq!(outcome("success"), 5.0);
    assert_labels_capped(&points);
    let mut forbidden: Vec<&str> = vec![support::ROLE_ARN, "tenant-acme", "base-secret-value"];
    for credentials in &secrets {
        forbidden.push(credentials.secret_access_key());
        forbidden.push(credentials.session_token().unwrap());
    }
    assert_no_attribute_holds(&points, &forbidden);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_opting_in_no_scope_label_is_recorded_and_an_unnamed_source_has_no_name() {
    let Rig {
        metrics,
        clock,
        sts,
    } = Rig::new();
    let sessions = fake_builder(&sts, &clock)
        .telemetry_provider(metrics.telemetry())
        .scoped_sessions()
        .sweep_interval(HOUR)
        .build()
        .unwrap();
    credentials_of(&sessions, "acme").await;
    let provider = fake_builder(&sts, &clock)
        .telemetry_provider(metrics.telemetry())
        .metrics_name("short-lived")
        .build()
        .unwrap();
    provider.provide_credentials().await.unwrap();
    let points = metrics.collect();
    assert!(
        points
            .iter()
            .all(|p| !p.attributes.contains_key("aws.credentials.scope"))
    );
    // No name given: no provider attribute.
    assert_eq!(
        value(&points, "aws.credentials.scopes.cached", &[]),
        Some(1.0)
    );
    let short_lived = [("aws.credentials.provider", "short-lived")];
    assert!(
        value(
            &points,
            "aws.credentials.session.time_to_expiry",
            &short_lived
        )
        .unwrap()
            > 0.0
    );

    // (A dropped provider leaves the meter's sources at the next collection — tested next to
    // the registry; OpenTelemetry 0.26 goes on exporting its gauges' last values.)
}

#[test]
fn a_bad_metrics_name_or_label_cap_is_refused_naming_the_field() {
    let error = support::fake_builder(
        &FakeSts::new(ManualTimeSource::new(t0())),
        &ManualTimeSource::new(t0()),
    )
    .metrics_name("orders service")
    .build()
    .unwrap_err();
    assert!(
        matches!(
            &error,
            BuildError::InvalidParameter {
                field: Field::MetricsName,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("a space"), "{error}");
    for cap in [0, 1_001] {
        let clock = ManualTimeSource::new(t0());
        let error = support::fake_builder(&FakeSts::new(clock.clone()), &clock)
            .scoped_sessions()
            .metrics_scope_labels(cap)
            .build()
            .unwrap_err();
        assert!(
            error.to_string().contains("metrics_scope_labels"),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidated_refresh_is_counted_with_its_sts_call_so_counts_match_status() {
    let rig = Rig::new();
    let provider = rig.builder().build().unwrap();
    let Rig { metrics, sts, .. } = rig;
    let gate = sts.hold();
    let caller = tokio::spawn({
        let provider = provider.clone();
        async move { provider.provide_credentials().await }
    });
    support::eventually("the call reached STS", || sts.in_flight() == 1).await;
    // Invalidated while in flight: what it fetched is not kept; the waiting caller starts
    // another.
    provider.invalidate();
    drop(gate);
    sts.release();
    caller.await.unwrap().unwrap();
    support::eventually("the refresh ended", || !provider.status().refreshing).await;
    let status = provider.status();
    let points = metrics.collect();
    let refreshes = |outcome: &str| {
        sum(
            &points,
            "aws.credentials.refreshes",
            &[
                ("aws.credentials.outcome", outcome),
                ("aws.credentials.trigger", "caller"),
            ],
        )
    };
    assert_eq!(refreshes("invalidated"), 1.0);
    assert_eq!(refreshes("success"), 1.0);
    assert_eq!(
        sum(&points, "aws.credentials.refreshes", &[]),
        status.refreshes_started as f64
    );
    assert_eq!(sum(&points, "aws.credentials.sts.calls", &[]), 2.0);
    assert_eq!(sts.calls(), 2);
}

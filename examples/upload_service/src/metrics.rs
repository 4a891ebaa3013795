//! The service's metrics (`--metrics-bind`): an OpenTelemetry meter provider read when asked
//! (a manual reader), made aws-smithy-observability's global telemetry provider before any
//! client or provider is built, so that the S3 client's call metrics
//! (`smithy.client.call.duration`, ...) and the credentials' (`aws.credentials.*`) both land in
//! it; served as Prometheus text by [`Metrics::render`].

use aws_smithy_observability::TelemetryProvider;
use aws_smithy_observability_otel::meter::OtelMeterProvider;
use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::data::{
    Gauge, Histogram, Metric, ResourceMetrics, Sum, Temporality,
};
use opentelemetry_sdk::metrics::reader::{MetricReader, TemporalitySelector};
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, SdkMeterProvider};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Weak};

/// The meter provider and the reader the `/metrics` endpoint collects with.
pub struct Metrics {
    reader: Arc<ManualReader>,
    // Kept alive: the global telemetry provider holds the bridge, the bridge this.
    _provider: SdkMeterProvider,
}

/// The manual reader, shared between the meter provider (which owns its reader) and the
/// endpoint (which collects through it).
#[derive(Debug)]
struct SharedReader(Arc<ManualReader>);

impl TemporalitySelector for SharedReader {
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry::metrics::Result<()> {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> opentelemetry::metrics::Result<()> {
        self.0.force_flush()
    }
    fn shutdown(&self) -> opentelemetry::metrics::Result<()> {
        self.0.shutdown()
    }
}

impl Metrics {
    /// Starts the meter provider and makes it the global telemetry provider. Call it before
    /// building SDK clients and providers: they take the global one when built.
    pub fn install() -> Result<Metrics, String> {
        let reader = Arc::new(ManualReader::builder().build());
        let provider = SdkMeterProvider::builder()
            .with_reader(SharedReader(reader.clone()))
            .with_view(seconds_buckets()?)
            .build();
        let telemetry = TelemetryProvider::builder()
            .meter_provider(Arc::new(OtelMeterProvider::new(provider.clone())))
            .build();
        aws_smithy_observability::global::set_telemetry_provider(telemetry)
            .map_err(|e| format!("cannot set the telemetry provider: {e}"))?;
        Ok(Metrics {
            reader,
            _provider: provider,
        })
    }

    /// Every metric now, in the Prometheus text format.
    #[must_use]
    pub fn render(&self) -> String {
        let mut collected = ResourceMetrics {
            resource: Resource::empty(),
            scope_metrics: Vec::new(),
        };
        if let Err(error) = self.reader.collect(&mut collected) {
            tracing::warn!(%error, "collecting the metrics failed");
        }
        prometheus_text(&collected)
    }
}

/// Bucket bounds in seconds for the duration histograms (the credentials' refreshes, the SDK's
/// calls and attempts): OpenTelemetry's default bounds (0, 5, 10, ... 10,000) are made for
/// milliseconds, and would put every call in the first bucket.
fn seconds_buckets() -> Result<Box<dyn opentelemetry_sdk::metrics::View>, String> {
    use opentelemetry_sdk::metrics::{Aggregation, Instrument, Stream, new_view};
    let boundaries = vec![
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    new_view(
        Instrument::new().name("*duration"),
        Stream::new().aggregation(Aggregation::ExplicitBucketHistogram {
            boundaries,
            record_min_max: true,
        }),
    )
    .map_err(|e| format!("cannot make the metrics' histogram view: {e}"))
}

/// The metrics listener's routes: `GET /metrics`, for requests addressed to this listener
/// (its address, `localhost` on loopback, or one of `allowed_hosts`); any other `Host` gets
/// 421, as on the service's own listener: a page on another name that DNS rebinding points
/// here cannot read the metrics.
pub fn router(metrics: Arc<Metrics>, allowed_hosts: Vec<String>) -> axum::Router {
    let allowed_hosts = Arc::new(allowed_hosts);
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |request: axum::extract::Request| {
            let (metrics, allowed_hosts) = (metrics.clone(), allowed_hosts.clone());
            async move { metrics_answer(&metrics, &allowed_hosts, &request) }
        }),
    )
}

fn metrics_answer(
    metrics: &Metrics,
    allowed_hosts: &[String],
    request: &axum::extract::Request,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let local = request
        .extensions()
        .get::<crate::server::ConnectionInfo>()
        .map(|c| c.local);
    let served = crate::app::request_host(request)
        .is_some_and(|host| crate::app::host_is_served(&host, local, allowed_hosts));
    if !served {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this listener does not answer for that host name\n",
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// One metric family of the exposition: its type, help and sample lines, gathered across
/// instrumentation scopes (the S3 and STS clients each report `smithy.client.call.duration`
/// under their own scope; a name's `TYPE` may appear once).
#[derive(Default)]
struct Family {
    kind: &'static str,
    help: String,
    samples: String,
}

/// `collected` in the Prometheus text exposition format (version 0.0.4): names with `_` for
/// `.`, the unit as a suffix (`_seconds`), counters with `_total`, histograms as buckets, sum
/// and count; each sample labelled with its instrumentation scope (`otel_scope_name`).
pub fn prometheus_text(collected: &ResourceMetrics) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for scope in &collected.scope_metrics {
        let scope_label = KeyValue::new("otel_scope_name", scope.scope.name.clone());
        for metric in &scope.metrics {
            add_metric(&mut families, metric, &scope_label);
        }
    }
    let mut out = String::new();
    for (name, family) in &families {
        let _ = writeln!(out, "# HELP {name} {}", family.help);
        let _ = writeln!(out, "# TYPE {name} {}", family.kind);
        out.push_str(&family.samples);
    }
    out
}

/// Adds one metric's points to its family. A name already taken by another kind (another
/// scope's instrument of the same name) keeps its first kind; the later points are left out
/// rather than mixed under a wrong `TYPE`.
fn add_metric(families: &mut BTreeMap<String, Family>, metric: &Metric, scope: &KeyValue) {
    let data = metric.data.as_any();
    let base = metric_name(&metric.name, &metric.unit);
    let help = metric
        .description
        .replace('\\', "\\\\")
        .replace('\n', "\\n");
    let (kind, name) = match kind_of(data) {
        Some(Kind::Counter) => ("counter", format!("{base}_total")),
        Some(Kind::Gauge) => ("gauge", base),
        Some(Kind::Histogram) => ("histogram", base),
        None => return,
    };
    let Some(out) = family(families, kind, &name, &help) else {
        tracing::debug!(name, "a metric of another kind has this name; left out");
        return;
    };
    let labelled = |attributes: &[KeyValue]| -> Vec<KeyValue> {
        attributes.iter().cloned().chain([scope.clone()]).collect()
    };
    for (attributes, value) in number_points(data) {
        sample(out, &name, &labelled(attributes), None, value);
    }
    if let Some(histogram) = data.downcast_ref::<Histogram<f64>>() {
        for p in &histogram.data_points {
            let buckets = (p.bounds.as_slice(), p.bucket_counts.as_slice(), p.count);
            histogram_samples(out, &name, &labelled(&p.attributes), buckets, p.sum);
        }
    } else if let Some(histogram) = data.downcast_ref::<Histogram<u64>>() {
        for p in &histogram.data_points {
            let buckets = (p.bounds.as_slice(), p.bucket_counts.as_slice(), p.count);
            histogram_samples(out, &name, &labelled(&p.attributes), buckets, p.sum as f64);
        }
    }
}

enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// The Prometheus kind of an aggregation this exposition renders (monotonic sums are
/// counters, other sums and gauges gauges); `None` for the others (exponential histograms).
fn kind_of(data: &dyn std::any::Any) -> Option<Kind> {
    let monotonic = if let Some(sum) = data.downcast_ref::<Sum<u64>>() {
        Some(sum.is_monotonic)
    } else if let Some(sum) = data.downcast_ref::<Sum<i64>>() {
        Some(sum.is_monotonic)
    } else {
        data.downcast_ref::<Sum<f64>>().map(|sum| sum.is_monotonic)
    };
    match monotonic {
        Some(true) => Some(Kind::Counter),
        Some(false) => Some(Kind::Gauge),
        None if data.is::<Gauge<f64>>() || data.is::<Gauge<i64>>() || data.is::<Gauge<u64>>() => {
            Some(Kind::Gauge)
        }
        None if data.is::<Histogram<f64>>() || data.is::<Histogram<u64>>() => Some(Kind::Histogram),
        None => None,
    }
}

/// The points of a sum or a gauge, of any number type, as `f64`.
fn number_points(data: &dyn std::any::Any) -> Vec<(&[KeyValue], f64)> {
    macro_rules! points {
        ($($kind:ident<$t:ty>),*) => {
            $(if let Some(found) = data.downcast_ref::<$kind<$t>>() {
                return found.data_points.iter().map(|p| (p.attributes.as_slice(), p.value as f64)).collect();
            })*
        };
    }
    points!(
        Sum<u64>,
        Sum<i64>,
        Sum<f64>,
        Gauge<u64>,
        Gauge<i64>,
        Gauge<f64>
    );
    Vec::new()
}

/// The sample lines of the family `name`, made if new; `None` if the name is another kind's.
fn family<'a>(
    families: &'a mut BTreeMap<String, Family>,
    kind: &'static str,
    name: &str,
    help: &str,
) -> Option<&'a mut String> {
    let family = families.entry(name.to_owned()).or_insert_with(|| Family {
        kind,
        help: help.to_owned(),
        samples: String::new(),
    });
    (family.kind == kind).then_some(&mut family.samples)
}

/// A histogram point: its cumulative buckets (bounds, counts, total count), sum and count.
fn histogram_samples(
    out: &mut String,
    name: &str,
    labels: &[KeyValue],
    (bounds, bucket_counts, count): (&[f64], &[u64], u64),
    sum: f64,
) {
    let mut cumulative = 0;
    for (bound, in_bucket) in bounds.iter().zip(bucket_counts) {
        cumulative += in_bucket;
        let le = bound.to_string();
        sample(
            out,
            &format!("{name}_bucket"),
            labels,
            Some(&le),
            cumulative as f64,
        );
    }
    let count = count as f64;
    sample(out, &format!("{name}_bucket"), labels, Some("+Inf"), count);
    sample(out, &format!("{name}_sum"), labels, None, sum);
    sample(out, &format!("{name}_count"), labels, None, count);
}

/// The Prometheus name of an OpenTelemetry metric: `[a-zA-Z0-9_]`, the unit as a suffix
/// (seconds and bytes spelled out; annotations such as `{refresh}` and `1` dropped).
fn metric_name(name: &str, unit: &str) -> String {
    let mut base = sanitized(name);
    let suffix = match unit {
        "s" => Some("seconds"),
        "By" => Some("bytes"),
        "ms" => Some("milliseconds"),
        _ => None,
    };
    if let Some(suffix) = suffix {
        base.push('_');
        base.push_str(suffix);
    }
    base
}

/// A Prometheus name: `[a-zA-Z0-9_]`, other characters as `_`, not starting with a digit.
fn sanitized(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

/// One sample line: `name{labels} value`. A label name appears once: the first attribute
/// that sanitizes to it wins, and `le` is the bucket's own.
fn sample(out: &mut String, name: &str, attributes: &[KeyValue], le: Option<&str>, value: f64) {
    let mut names: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for kv in attributes {
        let key = sanitized(kv.key.as_str());
        if key == "le" || names.contains(&key) {
            continue;
        }
        labels.push(format!("{key}=\"{}\"", escaped(&kv.value.to_string())));
        names.push(key);
    }
    if let Some(le) = le {
        labels.push(format!("le=\"{le}\""));
    }
    let _ = if labels.is_empty() {
        writeln!(out, "{name} {value}")
    } else {
        writeln!(out, "{name}{{{}}} {value}", labels.join(","))
    };
}

/// A label value with `\`, `"` and newlines escaped.
fn escaped(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::metrics::MeterProvider as _;

    #[test]
    fn one_family_per_name_across_scopes_with_the_scope_as_a_label() {
        let reader = Arc::new(ManualReader::builder().build());
        let provider = SdkMeterProvider::builder()
            .with_reader(SharedReader(reader.clone()))
            .build();
        for scope in ["aws-sdk-s3", "aws-sdk-sts"] {
            let counter = provider
                .meter(scope)
                .u64_counter("smithy.client.calls")
                .with_unit("{call}")
                .init();
            counter.add(2, &[KeyValue::new("rpc.method", "Get")]);
            let histogram = provider
                .meter(scope)
                .f64_histogram("call.duration")
                .with_unit("s")
                .init();
            histogram.record(0.2, &[]);
        }
        let mut collected = ResourceMetrics {
            resource: Resource::empty(),
            scope_metrics: Vec::new(),
        };
        reader.collect(&mut collected).unwrap();
        let text = prometheus_text(&collected);
        assert_eq!(
            text.matches("# TYPE smithy_client_calls_total counter")
                .count(),
            1,
            "{text}"
        );
        assert!(
            text.contains(
                "smithy_client_calls_total{rpc_method=\"Get\",otel_scope_name=\"aws-sdk-sts\"} 2\n"
            ),
            "{text}"
        );
        assert_eq!(
            text.matches("# TYPE call_duration_seconds histogram")
                .count(),
            1,
            "{text}"
        );
        assert!(
            text.contains(
                "call_duration_seconds_bucket{otel_scope_name=\"aws-sdk-s3\",le=\"+Inf\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("call_duration_seconds_sum{otel_scope_name=\"aws-sdk-s3\"} 0.2\n"),
            "{text}"
        );
    }

    #[test]
    fn names_take_their_unit_and_labels_are_escaped() {
        assert_eq!(
            metric_name("aws.credentials.session.time_to_expiry", "s"),
            "aws_credentials_session_time_to_expiry_seconds"
        );
        assert_eq!(
            metric_name("aws.credentials.refreshes", "{refresh}"),
            "aws_credentials_refreshes"
        );
        assert_eq!(escaped("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(sanitized("2xx.count"), "_2xx_count");
        let mut clashing = String::new();
        sample(
            &mut clashing,
            "x",
            &[
                KeyValue::new("a.b", "1"),
                KeyValue::new("a_b", "2"),
                KeyValue::new("le", "3"),
            ],
            Some("0.5"),
            1.0,
        );
        assert_eq!(clashing, "x{a_b=\"1\",le=\"0.5\"} 1\n");
        let mut out = String::new();
        sample(
            &mut out,
            "x_total",
            &[opentelemetry::KeyValue::new("rpc.method", "Put\"Object")],
            None,
            2.0,
        );
        assert_eq!(out, "x_total{rpc_method=\"Put\\\"Object\"} 2\n");
    }
}

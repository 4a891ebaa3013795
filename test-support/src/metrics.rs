//! Reading the crate's metrics in tests: an OpenTelemetry meter provider with the in-memory
//! exporter, bridged to aws-smithy-observability as a user would bridge it
//! (`aws_smithy_observability_otel::meter::OtelMeterProvider`), and its points flattened.

use aws_smithy_observability::TelemetryProvider;
use aws_smithy_observability_otel::meter::OtelMeterProvider;
use opentelemetry_sdk::metrics::data::{Gauge, Histogram, Sum};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::testing::metrics::InMemoryMetricsExporter;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One data point: its metric's name, its attributes, and its value (a sum's or gauge's
/// value; a histogram's count).
#[derive(Debug, Clone)]
pub struct Point {
    pub name: String,
    pub unit: String,
    pub attributes: BTreeMap<String, String>,
    pub value: f64,
}

/// A meter provider whose metrics a test reads ([`InMemoryMetrics::collect`]). Needs a
/// multi-thread Tokio runtime (the reader exports on it).
pub struct InMemoryMetrics {
    exporter: InMemoryMetricsExporter,
    bridge: Arc<OtelMeterProvider>,
    telemetry: Arc<TelemetryProvider>,
}

impl InMemoryMetrics {
    pub fn new() -> Self {
        let exporter = InMemoryMetricsExporter::default();
        // Exports only when flushed: the test decides when.
        let reader = PeriodicReader::builder(exporter.clone(), Tokio)
            .with_interval(Duration::from_secs(24 * 3600))
            .build();
        let provider = SdkMeterProvider::builder().with_reader(reader).build();
        let bridge = Arc::new(OtelMeterProvider::new(provider));
        let telemetry = Arc::new(
            TelemetryProvider::builder()
                .meter_provider(bridge.clone())
                .build(),
        );
        InMemoryMetrics {
            exporter,
            bridge,
            telemetry,
        }
    }

    /// The telemetry provider to give a builder (or to set as the global one).
    pub fn telemetry(&self) -> Arc<TelemetryProvider> {
        self.telemetry.clone()
    }

    /// Makes this the global telemetry provider (aws-smithy-observability's), which the SDK's
    /// clients report their call metrics to and builders without a provider of their own
    /// use. For the whole process: a test binary's other tests then report here too.
    pub fn set_global(&self) {
        aws_smithy_observability::global::set_telemetry_provider(
            TelemetryProvider::builder()
                .meter_provider(self.bridge.clone())
                .build(),
        )
        .expect("the global telemetry provider is set");
    }

    /// Every point now (cumulative sums, the gauges' current values).
    pub fn collect(&self) -> Vec<Point> {
        self.exporter.reset();
        self.bridge.flush().expect("the metric pipeline flushes");
        let exported = self
            .exporter
            .get_finished_metrics()
            .expect("the in-memory exporter holds the export");
        let Some(last) = exported.last() else {
            return Vec::new();
        };
        last.scope_metrics
            .iter()
            .flat_map(|scope| &scope.metrics)
            .flat_map(|metric| {
                let data = metric.data.as_any();
                let name = metric.name.to_string();
                let unit = metric.unit.to_string();
                let mut points = Vec::new();
                let mut push = |attributes: &[opentelemetry::KeyValue], value: f64| {
                    points.push(Point {
                        name: name.clone(),
                        unit: unit.clone(),
                        attributes: attributes
                            .iter()
                            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                            .collect(),
                        value,
                    })
                };
                if let Some(sum) = data.downcast_ref::<Sum<u64>>() {
                    sum.data_points
                        .iter()
                        .for_each(|p| push(&p.attributes, p.value as f64));
                } else if let Some(sum) = data.downcast_ref::<Sum<i64>>() {
                    sum.data_points
                        .iter()
                        .for_each(|p| push(&p.attributes, p.value as f64));
                } else if let Some(sum) = data.downcast_ref::<Sum<f64>>() {
                    sum.data_points
                        .iter()
                        .for_each(|p| push(&p.attributes, p.value));
                } else if let Some(gauge) = data.downcast_ref::<Gauge<f64>>() {
                    gauge
                        .data_points
                        .iter()
                        .for_each(|p| push(&p.attributes, p.value));
                } else if let Some(histogram) = data.downcast_ref::<Histogram<f64>>() {
                    histogram
                        .data_points
                        .iter()
                        .for_each(|p| push(&p.attributes, p.count as f64));
                }
                points
            })
            .collect()
    }
}

impl Default for InMemoryMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `point` is of `name` and carries every attribute of `having`.
fn matches(point: &Point, name: &str, having: &[(&str, &str)]) -> bool {
    point.name == name
        && having
            .iter()
            .all(|(k, v)| point.attributes.get(*k).map(String::as_str) == Some(*v))
}

/// The sum of the points of `name` that carry `having` (a counter's total over the other
/// attributes; a histogram's count).
pub fn sum(points: &[Point], name: &str, having: &[(&str, &str)]) -> f64 {
    points
        .iter()
        .filter(|p| matches(p, name, having))
        .map(|p| p.value)
        .sum()
}

/// The value of the one point of `name` that carries `having`; `None` without one. Panics if
/// several match (a gauge reported twice for the same attributes).
pub fn value(points: &[Point], name: &str, having: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<_> = points.iter().filter(|p| matches(p, name, having)).collect();
    assert!(found.len() <= 1, "{name} {having:?}: {found:?}");
    found.first().map(|p| p.value)
}

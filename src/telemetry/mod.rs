//! Metrics through aws-smithy-observability (cargo feature `telemetry`), so that they reach
//! the OpenTelemetry meter provider the SDK's own call metrics go to: refreshes by outcome,
//! their duration, STS calls, the cached session's time to expiry and stale serving, scoped
//! sessions' scopes and limits, session stores' hits and errors. The guide's "Metrics" section
//! lists every instrument.
//!
//! Nothing here runs on a cached call: the refresh instruments are updated when a refresh
//! ends ([`RefreshMetrics::record`]), the others are read from status snapshots when the
//! meter provider collects ([`observed`]).

mod labels;
mod observed;
mod outcome;

pub(crate) use labels::MAX_SCOPE_LABELS;
#[cfg(feature = "session-store")]
pub(crate) use observed::StoreGauges;
pub(crate) use observed::{Observe, ScopeGauges, SessionGauges, Snapshot};
pub(crate) use outcome::{Ended, RefreshRecord, Trigger};

use aws_smithy_observability::TelemetryProvider;
use aws_smithy_observability::instruments::{Histogram, MonotonicCounter};
use aws_smithy_observability::meter::Meter;
use labels::ScopeLabels;
use std::sync::{Arc, Weak};

/// The instrumentation scope of every instrument.
const METER_SCOPE: &str = "chainable-credentials";

/// The most characters of a provider's metrics name.
pub(crate) const MAX_NAME_LEN: usize = 64;

/// Metric attributes: the provider's name, when it has one.
mod attributes {
    use aws_smithy_observability::{AttributeValue, Attributes};
    use std::sync::Arc;

    pub(super) fn provider(name: &Option<Arc<str>>) -> Attributes {
        let mut attributes = Attributes::new();
        if let Some(name) = name {
            attributes.set("aws.credentials.provider", text(name));
        }
        attributes
    }

    /// A string attribute value.
    pub(super) fn text(value: &str) -> AttributeValue {
        AttributeValue::String(value.to_owned())
    }
}

/// The metrics settings a builder was given.
#[derive(Clone, Default)]
pub(crate) struct MetricsSettings {
    /// The meter provider given on the builder; else the global one at `build()`.
    pub(crate) telemetry: Option<Arc<TelemetryProvider>>,
    /// The `aws.credentials.provider` attribute.
    pub(crate) name: Option<Arc<str>>,
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("telemetry_provider", &self.telemetry.is_some())
            .field("name", &self.name)
            .finish()
    }
}

impl MetricsSettings {
    /// The meter provider to report to: the one given, else the global one
    /// (aws-smithy-observability's, which the SDK's clients read too).
    fn telemetry(&self) -> Option<Arc<TelemetryProvider>> {
        if let Some(telemetry) = &self.telemetry {
            return Some(telemetry.clone());
        }
        match aws_smithy_observability::global::get_telemetry_provider() {
            Ok(global) => Some(global),
            Err(error) => {
                // Only if the global provider's lock was poisoned (a panic while setting it).
                tracing::warn!(%error, "no telemetry provider: this provider records no metrics");
                None
            }
        }
    }

    /// The refresh instruments; `scope_labels` is the opted-in cap on scope labels (scoped
    /// sessions).
    pub(crate) fn instruments(&self, scope_labels: Option<usize>) -> Option<Arc<RefreshMetrics>> {
        let telemetry = self.telemetry()?;
        let meter = telemetry.meter_provider().get_meter(METER_SCOPE, None);
        Some(Arc::new(RefreshMetrics::new(
            Arc::downgrade(&telemetry),
            meter,
            self.name.clone(),
            scope_labels.map(ScopeLabels::new),
        )))
    }
}

/// The instruments a refresh updates when it ends, for one provider or one set of scoped
/// sessions (all its scopes).
pub(crate) struct RefreshMetrics {
    refreshes: Arc<dyn MonotonicCounter>,
    duration: Arc<dyn Histogram>,
    sts_calls: Arc<dyn MonotonicCounter>,
    name: Option<Arc<str>>,
    scope_labels: Option<ScopeLabels>,
    /// Where the collected instruments are registered. Weak: a provider dropped while the
    /// meter provider collects (it held the last reference) must not drop the meter provider
    /// inside its own collection.
    telemetry: Weak<TelemetryProvider>,
    meter: Meter,
}

impl std::fmt::Debug for RefreshMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshMetrics")
            .field("name", &self.name)
            .field("scope_labels", &self.scope_labels)
            .finish_non_exhaustive()
    }
}

impl RefreshMetrics {
    fn new(
        telemetry: Weak<TelemetryProvider>,
        meter: Meter,
        name: Option<Arc<str>>,
        scope_labels: Option<ScopeLabels>,
    ) -> Self {
        RefreshMetrics {
            refreshes: meter
                .create_monotonic_counter("aws.credentials.refreshes")
                .set_units("{refresh}")
                .set_description("Session refreshes, by operation, outcome, trigger and source")
                .build(),
            duration: meter
                .create_histogram("aws.credentials.refresh.duration")
                .set_units("s")
                .set_description("How long a refresh took (base credentials, store and STS)")
                .build(),
            sts_calls: meter
                .create_monotonic_counter("aws.credentials.sts.calls")
                .set_units("{call}")
                .set_description("STS calls made, by operation and outcome")
                .build(),
            name,
            scope_labels,
            telemetry,
            meter,
        }
    }

    /// Has the meter provider read `observed` at each collection (the gauges and the counts
    /// status snapshots keep), under this provider's name, for as long as it lives.
    pub(crate) fn observe(&self, observed: Weak<dyn Observe>) {
        if let Some(telemetry) = self.telemetry.upgrade() {
            observed::register(&telemetry, &self.meter, self.name.clone(), observed);
        }
    }

    /// Records one ended refresh attempt.
    pub(crate) fn record(&self, refresh: &RefreshRecord<'_>) {
        use attributes::text;
        let mut attributes = attributes::provider(&self.name);
        attributes.set("rpc.method", text(refresh.operation.unwrap_or("none")));
        attributes.set("aws.credentials.outcome", text(refresh.outcome()));
        self.duration
            .record(refresh.took.as_secs_f64(), Some(&attributes), None);
        if refresh.called_sts() {
            self.sts_calls.add(1, Some(&attributes), None);
        }
        attributes.set("aws.credentials.trigger", text(refresh.trigger.as_str()));
        if let Some(source) = refresh.source() {
            attributes.set("aws.credentials.source", text(source));
        }
        // The tenant only on the counter: its series multiply with every attribute.
        if let (Some(labels), Some(label)) = (&self.scope_labels, refresh.scope_label) {
            if labels.admits(label) {
                attributes.set("aws.credentials.scope", text(label));
            } else {
                attributes.set(
                    "aws.credentials.scope.overflow",
                    aws_smithy_observability::AttributeValue::Bool(true),
                );
            }
        }
        self.refreshes.add(1, Some(&attributes), None);
    }
}

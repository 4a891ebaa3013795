//! The builder's metrics settings (cargo feature `telemetry`).

use super::Builder;
use aws_smithy_observability::TelemetryProvider;
use std::sync::Arc;

impl Builder {
    /// The telemetry provider whose meter provider the crate's metrics go to (see the guide,
    /// "Metrics"). Without one, the global provider of aws-smithy-observability at `build()`
    /// — the one the SDK's clients report their own call metrics to, set with
    /// `aws_smithy_observability::global::set_telemetry_provider` — so set that first.
    pub fn telemetry_provider(mut self, telemetry: Arc<TelemetryProvider>) -> Self {
        self.set_telemetry_provider(Some(telemetry));
        self
    }

    /// Sets or clears the telemetry provider; see
    /// [`telemetry_provider`](Self::telemetry_provider).
    pub fn set_telemetry_provider(
        &mut self,
        telemetry: Option<Arc<TelemetryProvider>>,
    ) -> &mut Self {
        self.cache.metrics.telemetry = telemetry;
        self
    }

    /// The provider's name in its metrics (the `aws.credentials.provider` attribute): to tell
    /// apart the providers of one process. 1 to 64 characters of letters, digits, `_`, `-`
    /// and `.`; never a role ARN or session name unless you put one here.
    pub fn metrics_name(mut self, name: impl Into<String>) -> Self {
        self.set_metrics_name(Some(name.into()));
        self
    }

    /// Sets or clears the metrics name; see [`metrics_name`](Self::metrics_name).
    pub fn set_metrics_name(&mut self, name: Option<String>) -> &mut Self {
        self.cache.metrics.name = name.map(Arc::from);
        self
    }
}

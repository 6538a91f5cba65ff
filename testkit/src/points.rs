//! Reading back what an in-memory exporter received: one export as (name, attributes) → value,
//! on `contextd_metrics::testing`.

use std::collections::BTreeMap;

use contextd_metrics::testing::Recording;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};

/// (name, sorted `key=value` attributes) → sum value, gauge value or histogram count.
pub type Points = BTreeMap<(String, String), f64>;

/// Flushes `provider` and returns every point of that one export.
pub fn export_points(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> Points {
    contextd_metrics::testing::read(provider, exporter)
        .all()
        .map(|(name, labels, recording)| {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let value = match recording {
                Recording::Value(value) => value,
                Recording::Histogram { count, .. } => count as f64,
            };
            ((name.to_owned(), labels.join(",")), value)
        })
        .collect()
}

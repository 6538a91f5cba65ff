//! Cardinality overflow: when an instrument exceeds the SDK's limit (2 000 series per
//! instrument by default), further label combinations merge into one series marked
//! `otel.metric.overflow="true"`. The SDK says nothing about it; we warn once per instrument,
//! because the usual cause is a bug: a label fed with unbounded values.

use std::collections::BTreeSet;
use std::sync::Mutex;

// The attribute the SDK (and the striped series) put on the overflow series.
use contextd_metrics::striped::OVERFLOW_KEY;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};

/// Instruments seen overflowing, each warned about once.
#[derive(Debug, Default)]
pub(crate) struct OverflowWatch {
    warned: Mutex<BTreeSet<String>>,
}

fn is_overflow<'a>(mut attributes: impl Iterator<Item = &'a KeyValue>) -> bool {
    attributes.any(|kv| kv.key.as_str() == OVERFLOW_KEY)
}

fn overflowed<T>(data: &MetricData<T>) -> bool {
    match data {
        MetricData::Gauge(g) => g.data_points().any(|p| is_overflow(p.attributes())),
        MetricData::Sum(s) => s.data_points().any(|p| is_overflow(p.attributes())),
        MetricData::Histogram(h) => h.data_points().any(|p| is_overflow(p.attributes())),
        MetricData::ExponentialHistogram(h) => h.data_points().any(|p| is_overflow(p.attributes())),
    }
}

impl OverflowWatch {
    /// Looks for overflow series in one collection and warns about new offenders.
    pub(crate) fn check(&self, metrics: &ResourceMetrics) {
        for scope in metrics.scope_metrics() {
            for metric in scope.metrics() {
                let overflow = match metric.data() {
                    AggregatedMetrics::F64(data) => overflowed(data),
                    AggregatedMetrics::U64(data) => overflowed(data),
                    AggregatedMetrics::I64(data) => overflowed(data),
                };
                if overflow {
                    self.warn(metric.name());
                }
            }
        }
    }

    /// Warns about `name`, once.
    pub(crate) fn warn(&self, name: &str) {
        let Ok(mut warned) = self.warned.lock() else { return };
        if warned.insert(name.to_owned()) {
            tracing::warn!(
                instrument = name,
                "{name} exceeded its cardinality limit; further label combinations are merged into one \
                 series with otel.metric.overflow=\"true\". A label is probably fed with unbounded values \
                 (ids, paths, user input)."
            );
        }
    }

    /// The instruments that overflowed so far.
    pub(crate) fn instruments(&self) -> Vec<String> {
        self.warned.lock().map(|w| w.iter().cloned().collect()).unwrap_or_default()
    }
}

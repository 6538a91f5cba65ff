//! Reading back what an in-memory exporter received: one export as (name, attributes) → value.

use std::collections::BTreeMap;

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};

/// (name, sorted `key=value` attributes) → sum value, gauge value or histogram count.
pub type Points = BTreeMap<(String, String), f64>;

fn put<'a>(out: &mut Points, name: &str, attributes: impl Iterator<Item = &'a KeyValue>, value: f64) {
    let mut attributes: Vec<String> = attributes.map(|kv| format!("{}={}", kv.key, kv.value)).collect();
    attributes.sort();
    out.insert((name.to_owned(), attributes.join(",")), value);
}

/// The three number types the SDK exports, as f64 (exact for the test values used).
trait AsF64: Copy {
    fn as_f64(self) -> f64;
}
impl AsF64 for f64 {
    fn as_f64(self) -> f64 {
        self
    }
}
impl AsF64 for u64 {
    fn as_f64(self) -> f64 {
        self as f64
    }
}
impl AsF64 for i64 {
    fn as_f64(self) -> f64 {
        self as f64
    }
}

fn points_of<T: AsF64>(out: &mut Points, name: &str, data: &MetricData<T>) {
    match data {
        MetricData::Sum(s) => {
            s.data_points().for_each(|p| put(out, name, p.attributes(), p.value().as_f64()))
        }
        MetricData::Gauge(g) => {
            g.data_points().for_each(|p| put(out, name, p.attributes(), p.value().as_f64()))
        }
        MetricData::Histogram(h) => {
            h.data_points().for_each(|p| put(out, name, p.attributes(), p.count() as f64))
        }
        MetricData::ExponentialHistogram(_) => {}
    }
}

/// Flushes `provider` and returns every point of that one export.
pub fn export_points(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> Points {
    exporter.reset();
    provider.force_flush().unwrap();
    let mut out = Points::new();
    for resource in exporter.get_finished_metrics().unwrap() {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                match metric.data() {
                    AggregatedMetrics::F64(data) => points_of(&mut out, metric.name(), data),
                    AggregatedMetrics::U64(data) => points_of(&mut out, metric.name(), data),
                    AggregatedMetrics::I64(data) => points_of(&mut out, metric.name(), data),
                }
            }
        }
    }
    out
}

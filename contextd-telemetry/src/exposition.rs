//! Collected metrics as Prometheus text exposition (format 0.0.4): what the console exporter
//! prints and what the pull endpoint serves. Names follow [`crate::naming`], so they are the
//! series names VictoriaMetrics stores.
//!
//! For scrapers the text also follows OpenTelemetry's Prometheus compatibility rules: the
//! resource becomes one `target_info` sample, and every sample carries its instrumentation
//! scope as `otel_scope_name` (and `otel_scope_version` when the scope has one). The console
//! leaves both out, to stay readable.

use std::fmt::{Display, Write as _};

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};

use crate::naming::{SeriesKind, prometheus_name, sanitize_label_name};

/// Writes every metric of `metrics` to `out` in Prometheus text format, for people to read.
pub(crate) fn render(metrics: &ResourceMetrics, out: &mut String) {
    render_scopes(metrics, false, out);
}

/// Writes `target_info` and every metric of `metrics`, with scope labels, for scrapers.
#[cfg(feature = "prometheus")]
pub(crate) fn render_for_pull(metrics: &ResourceMetrics, out: &mut String) {
    let mut resource: Vec<KeyValue> =
        metrics.resource().iter().map(|(key, value)| KeyValue::new(key.clone(), value.clone())).collect();
    resource.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    if !resource.is_empty() {
        header(out, "target_info", "Target metadata", "gauge");
        sample(out, "target_info", "", &resource.iter().collect::<Vec<_>>(), &[], None, 1u64);
    }
    render_scopes(metrics, true, out);
}

fn render_scopes(metrics: &ResourceMetrics, scope_labels: bool, out: &mut String) {
    for scope_metrics in metrics.scope_metrics() {
        let scope = scope_metrics.scope();
        let mut labels = Vec::new();
        if scope_labels {
            labels.push(("otel_scope_name", scope.name()));
            if let Some(version) = scope.version().filter(|v| !v.is_empty()) {
                labels.push(("otel_scope_version", version));
            }
        }
        for metric in scope_metrics.metrics() {
            match metric.data() {
                AggregatedMetrics::F64(data) => render_metric(metric, data, &labels, out),
                AggregatedMetrics::U64(data) => render_metric(metric, data, &labels, out),
                AggregatedMetrics::I64(data) => render_metric(metric, data, &labels, out),
            }
        }
    }
}

/// A recorded number, written the way Prometheus parses it.
trait Sample: Copy + Display {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}
impl Sample for u64 {}
impl Sample for i64 {}
impl Sample for f64 {
    fn write(self, out: &mut String) {
        if self.is_nan() {
            out.push_str("NaN");
        } else if self.is_infinite() {
            out.push_str(if self > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            let _ = write!(out, "{self}");
        }
    }
}

/// Labels added after a point's own attributes (the scope's).
type Extra<'a> = [(&'static str, &'a str)];

fn render_metric<T: Sample>(metric: &Metric, data: &MetricData<T>, extra: &Extra<'_>, out: &mut String) {
    let unit = metric.unit();
    match data {
        MetricData::Sum(sum) => {
            let kind = if sum.is_monotonic() { SeriesKind::Counter } else { SeriesKind::Gauge };
            let name = prometheus_name(metric.name(), unit, kind);
            header(out, &name, metric.description(), if sum.is_monotonic() { "counter" } else { "gauge" });
            for point in sum.data_points() {
                sample(out, &name, "", &sorted(point.attributes()), extra, None, point.value());
            }
        }
        MetricData::Gauge(gauge) => {
            let name = prometheus_name(metric.name(), unit, SeriesKind::Gauge);
            header(out, &name, metric.description(), "gauge");
            for point in gauge.data_points() {
                sample(out, &name, "", &sorted(point.attributes()), extra, None, point.value());
            }
        }
        MetricData::Histogram(histogram) => {
            let name = prometheus_name(metric.name(), unit, SeriesKind::Histogram);
            header(out, &name, metric.description(), "histogram");
            for point in histogram.data_points() {
                let attributes = sorted(point.attributes());
                let mut cumulative = 0u64;
                let mut buf = String::new();
                for (bound, count) in point.bounds().zip(point.bucket_counts()) {
                    cumulative += count;
                    buf.clear();
                    bound.write(&mut buf);
                    sample(out, &name, "_bucket", &attributes, extra, Some(&buf), cumulative);
                }
                sample(out, &name, "_bucket", &attributes, extra, Some("+Inf"), point.count());
                sample(out, &name, "_sum", &attributes, extra, None, point.sum());
                sample(out, &name, "_count", &attributes, extra, None, point.count());
            }
        }
        MetricData::ExponentialHistogram(_) => {
            // Never configured by this crate; Prometheus text has no native form for it.
            let _ = writeln!(out, "# {} is an exponential histogram and is not shown here", metric.name());
        }
    }
}

fn header(out: &mut String, name: &str, description: &str, kind: &str) {
    if !description.is_empty() {
        let _ = writeln!(out, "# HELP {name} {}", description.replace('\\', "\\\\").replace('\n', "\\n"));
    }
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A data point's attributes sorted by key: the SDK hands them over in either order, and stable
/// output is easier to read and to test. Sorted once per point, not once per line.
fn sorted<'a>(attributes: impl Iterator<Item = &'a KeyValue>) -> Vec<&'a KeyValue> {
    let mut attributes: Vec<&KeyValue> = attributes.collect();
    attributes.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    attributes
}

fn sample<T: Sample>(
    out: &mut String,
    name: &str,
    suffix: &str,
    attributes: &[&KeyValue],
    extra: &Extra<'_>,
    le: Option<&str>,
    value: T,
) {
    out.push_str(name);
    out.push_str(suffix);
    let mut first = true;
    let mut label = |out: &mut String, key: &str, value: &str| {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(key);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    };
    for kv in attributes {
        label(out, &sanitize_label_name(kv.key.as_str()), &kv.value.as_str());
    }
    for (key, value) in extra {
        label(out, key, value);
    }
    if let Some(le) = le {
        label(out, "le", le);
    }
    if !first {
        out.push('}');
    }
    out.push(' ');
    value.write(out);
    out.push('\n');
}

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
use crate::striped::{Collected, Total};

/// Writes every metric of `metrics` to `out` in Prometheus text format, for people to read.
pub(crate) fn render(metrics: &ResourceMetrics, striped: &Collected, out: &mut String) {
    render_scopes(metrics, striped, false, out);
}

/// Writes `target_info` and every metric of `metrics`, with scope labels, for scrapers.
#[cfg(feature = "prometheus")]
pub(crate) fn render_for_pull(metrics: &ResourceMetrics, striped: &Collected, out: &mut String) {
    let mut resource: Vec<KeyValue> =
        metrics.resource().iter().map(|(key, value)| KeyValue::new(key.clone(), value.clone())).collect();
    resource.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    if !resource.is_empty() {
        header(out, "target_info", "Target metadata", "gauge");
        sample(out, "target_info", "", &resource.iter().collect::<Vec<_>>(), &[], None, 1u64);
    }
    render_scopes(metrics, striped, true, out);
}

/// The SDK's metrics scope by scope, the striped series with the scope they belong to.
fn render_scopes(metrics: &ResourceMetrics, striped: &Collected, scope_labels: bool, out: &mut String) {
    let mut striped_scopes = striped.scopes.clone();
    for scope_metrics in metrics.scope_metrics() {
        let scope = scope_metrics.scope();
        let labels = scope_labels_of(scope_labels, scope.name(), scope.version());
        for metric in scope_metrics.metrics() {
            match metric.data() {
                AggregatedMetrics::F64(data) => render_metric(metric, data, &labels, out),
                AggregatedMetrics::U64(data) => render_metric(metric, data, &labels, out),
                AggregatedMetrics::I64(data) => render_metric(metric, data, &labels, out),
            }
        }
        if let Some(at) = striped_scopes.iter().position(|s| *s == scope.name()) {
            render_striped(striped, striped_scopes.remove(at), &labels, out);
        }
    }
    for scope in striped_scopes {
        render_striped(striped, scope, &scope_labels_of(scope_labels, scope, None), out);
    }
}

fn scope_labels_of<'a>(
    wanted: bool,
    name: &'a str,
    version: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let mut labels = Vec::new();
    if wanted {
        labels.push(("otel_scope_name", name));
        if let Some(version) = version.filter(|v| !v.is_empty()) {
            labels.push(("otel_scope_version", version));
        }
    }
    labels
}

/// The striped series of `scope`, as the SDK's series of the same instruments would be written.
fn render_striped(striped: &Collected, scope: &str, extra: &Extra<'_>, out: &mut String) {
    for family in striped.counters.iter().filter(|f| f.family.scope == scope) {
        let spec = family.family.spec;
        let name = prometheus_name(spec.name, &family.unit(SeriesKind::Counter), SeriesKind::Counter);
        header(out, &name, spec.description, "counter");
        for point in &family.points {
            let attributes: Vec<&KeyValue> = point.series.attributes.iter().collect();
            match point.value {
                Total::U64(n) => sample(out, &name, "", &attributes, extra, None, n),
                Total::F64(x) => sample(out, &name, "", &attributes, extra, None, x),
            }
        }
    }
    for family in striped.histograms.iter().filter(|f| f.family.scope == scope) {
        let spec = family.family.spec;
        let name = prometheus_name(spec.name, &family.unit(SeriesKind::Histogram), SeriesKind::Histogram);
        header(out, &name, spec.description, "histogram");
        for point in &family.points {
            let attributes: Vec<&KeyValue> = point.series.attributes.iter().collect();
            let totals = point.value.totals;
            let point = Point {
                bounds: family.bounds(),
                bucket_counts: striped.buckets(&point.value, family.bounds()),
                count: totals.count,
                sum: totals.sum,
            };
            histogram_point(out, &name, &attributes, extra, &point);
        }
    }
}

/// One histogram point, from the SDK or ours.
struct Point<'a, T> {
    bounds: &'a [f64],
    bucket_counts: &'a [u64],
    count: u64,
    sum: T,
}

fn histogram_point<T: Sample>(
    out: &mut String,
    name: &str,
    attributes: &[&KeyValue],
    extra: &Extra<'_>,
    point: &Point<'_, T>,
) {
    let mut cumulative = 0u64;
    let mut buf = String::new();
    for (bound, count) in point.bounds.iter().zip(point.bucket_counts) {
        cumulative += count;
        buf.clear();
        bound.write(&mut buf);
        sample(out, name, "_bucket", attributes, extra, Some(&buf), cumulative);
    }
    sample(out, name, "_bucket", attributes, extra, Some("+Inf"), point.count);
    sample(out, name, "_sum", attributes, extra, None, point.sum);
    sample(out, name, "_count", attributes, extra, None, point.count);
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
                let bounds: Vec<f64> = point.bounds().collect();
                let bucket_counts: Vec<u64> = point.bucket_counts().collect();
                let point_data = Point {
                    bounds: &bounds,
                    bucket_counts: &bucket_counts,
                    count: point.count(),
                    sum: point.sum(),
                };
                histogram_point(out, &name, &sorted(point.attributes()), extra, &point_data);
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

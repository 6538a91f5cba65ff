//! Testing a service's own instrumentation (cargo feature `testing`, for `[dev-dependencies]`):
//! capture what the calls made on this thread recorded, then assert on names, labels and values.
//!
//! A capture binds every catalog's `meters()` and every `#[instrument_op]` call site to a
//! private in-memory pipeline for the current thread only, so tests running in parallel in one
//! process (cargo's default) each see exactly their own recordings, with or without
//! `contextd_telemetry::init()` elsewhere. Async tests work on a current-thread runtime
//! (`#[tokio::test]`'s default), where the future stays on the test's thread.
//!
//! ```
//! use contextd_metrics::testing::Capture;
//!
//! #[contextd_metrics::instrument_op("checkpoint", "create")]
//! fn create(summary: &str) -> Result<u64, String> {
//!     if summary.is_empty() { Err("empty".into()) } else { Ok(1) }
//! }
//!
//! let capture = Capture::start();
//! let _ = create("");
//! let recorded = capture.finish();
//! let labels = [("operation", "create"), ("status", "error")];
//! assert_eq!(recorded.value("contextd_checkpoint_operations_total", &labels), Some(1.0));
//! assert_eq!(recorded.count("contextd_checkpoint_duration_seconds", &[("operation", "create")]), Some(1));
//! ```
//!
//! The feature adds one thread-local read to every recording; enable it in
//! `[dev-dependencies]` only, where cargo builds it for tests alone.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

use crate::global::{self, ThreadBinding};

/// One recorded series: the sum of a counter, the last value of a gauge, or a histogram's count
/// and sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Recording {
    /// A counter's sum or a gauge's value.
    Value(f64),
    /// A histogram's number of recordings and their sum.
    Histogram {
        /// How many values were recorded.
        count: u64,
        /// Their sum.
        sum: f64,
    },
}

/// What a capture recorded: series by instrument name and sorted `(label, value)` pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    series: BTreeMap<(String, Vec<(String, String)>), Recording>,
}

impl Recorded {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<Recording> {
        let mut labels: Vec<(String, String)> =
            labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        labels.sort();
        self.series.get(&(name.to_owned(), labels)).copied()
    }

    /// The sum (counters) or value (gauges) of the series with exactly these labels.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        match self.get(name, labels)? {
            Recording::Value(value) => Some(value),
            Recording::Histogram { .. } => None,
        }
    }

    /// How many values the histogram series with exactly these labels recorded.
    pub fn count(&self, name: &str, labels: &[(&str, &str)]) -> Option<u64> {
        match self.get(name, labels)? {
            Recording::Histogram { count, .. } => Some(count),
            Recording::Value(_) => None,
        }
    }

    /// Every series: name, sorted labels and what it recorded.
    pub fn all(&self) -> impl Iterator<Item = (&str, &[(String, String)], Recording)> {
        self.series.iter().map(|((name, labels), r)| (name.as_str(), labels.as_slice(), *r))
    }

    /// Every series of `name`: its sorted labels and what it recorded.
    pub fn series(&self, name: &str) -> Vec<(Vec<(String, String)>, Recording)> {
        self.series
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, labels), r)| (labels.clone(), *r))
            .collect()
    }

    fn insert<'a, T: AsF64>(&mut self, name: &str, data: &'a MetricData<T>) {
        let key = |attributes: &mut dyn Iterator<Item = &'a opentelemetry::KeyValue>| {
            let mut labels: Vec<(String, String)> =
                attributes.map(|kv| (kv.key.to_string(), kv.value.to_string())).collect();
            labels.sort();
            (name.to_owned(), labels)
        };
        match data {
            MetricData::Sum(sum) => sum.data_points().for_each(|p| {
                self.series.insert(key(&mut p.attributes()), Recording::Value(p.value().as_f64()));
            }),
            MetricData::Gauge(gauge) => gauge.data_points().for_each(|p| {
                self.series.insert(key(&mut p.attributes()), Recording::Value(p.value().as_f64()));
            }),
            MetricData::Histogram(histogram) => histogram.data_points().for_each(|p| {
                let recording = Recording::Histogram { count: p.count(), sum: p.sum().as_f64() };
                self.series.insert(key(&mut p.attributes()), recording);
            }),
            MetricData::ExponentialHistogram(_) => {}
        }
    }
}

/// The number types the SDK aggregates, as f64 (exact for the values tests use).
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

/// Recording on this thread goes to a private pipeline until [`finish`](Self::finish) (or drop).
#[derive(Debug)]
#[must_use = "a capture records until it is finished"]
pub struct Capture {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
    binding: Option<ThreadBinding>,
    /// A capture belongs to the thread it started on.
    _thread: PhantomData<*const ()>,
}

impl Capture {
    /// Starts capturing what this thread records.
    pub fn start() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let binding = global::bind_thread(&provider.meter("testing"));
        Self { provider, exporter, binding: Some(binding), _thread: PhantomData }
    }

    /// Stops capturing and returns what was recorded.
    pub fn finish(mut self) -> Recorded {
        drop(self.binding.take());
        read(&self.provider, &self.exporter)
    }
}

/// Flushes `provider` and reads what that one export sent to `exporter`: for tests that build
/// their own pipeline (a provider with a `PeriodicReader` over an `InMemoryMetricExporter`).
pub fn read(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> Recorded {
    exporter.reset();
    let mut recorded = Recorded::default();
    if provider.force_flush().is_err() {
        return recorded;
    }
    for resource in exporter.get_finished_metrics().unwrap_or_default() {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                match metric.data() {
                    AggregatedMetrics::F64(data) => recorded.insert(metric.name(), data),
                    AggregatedMetrics::U64(data) => recorded.insert(metric.name(), data),
                    AggregatedMetrics::I64(data) => recorded.insert(metric.name(), data),
                }
            }
        }
    }
    recorded
}

impl Drop for Capture {
    fn drop(&mut self) {
        drop(self.binding.take());
        let _ = self.provider.shutdown();
    }
}

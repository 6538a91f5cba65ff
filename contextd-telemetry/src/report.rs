//! Export outcomes: counted always, reported as a `tracing` warning (target `contextd_telemetry::report`)
//! at most once a minute per signal, so a dead collector produces a readable trickle of
//! messages, not a flood, wherever the service sends its logs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// The shortest time between two logged export errors of one signal.
const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// A telemetry signal, named as the catalog's `signal` label names it (`metrics`, `traces`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Signal {
    #[default]
    Metrics,
    Traces,
}

impl Signal {
    pub(crate) const fn as_str(self) -> &'static str {
        contextd_metrics::model::self_metrics::labels::SIGNAL.values.listed()[self as usize]
    }
}

/// Export counts of one signal, and what a person needs to read about its failures.
#[derive(Debug, Default)]
pub(crate) struct ExportReport {
    signal: Signal,
    /// Where exports go, credentials masked (`None` for the console and the pull endpoint).
    destination: Option<String>,
    succeeded: AtomicU64,
    failed: AtomicU64,
    /// Failed exports given up on for good (a full backlog).
    dropped: AtomicU64,
    /// Why the last request failed, in words (`connection refused`, `HTTP 503 …`): the OTLP
    /// exporter itself only says "network error" or quotes a status code.
    last_failure: Mutex<Option<String>>,
    /// When the last error was logged, and how many failures went unlogged since.
    log: Mutex<(Option<Instant>, u64)>,
}

/// A snapshot of the export outcomes of one signal since `init`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Exports that the backend accepted.
    pub succeeded: u64,
    /// Exports that failed (after the exporter's own retries) or timed out.
    pub failed: u64,
    /// Failed delta exports dropped unsent because the backlog kept for resending them was
    /// full (each failed export is in `failed` too).
    pub dropped: u64,
}

impl ExportReport {
    pub(crate) fn new(signal: Signal, destination: Option<String>) -> Self {
        Self { signal, destination, ..Self::default() }
    }

    /// The signal's name, for messages and labels.
    pub(crate) fn signal(&self) -> &'static str {
        self.signal.as_str()
    }

    /// Remembers why a request failed (called by the HTTP client for every attempt).
    #[cfg(feature = "otlp-http")]
    pub(crate) fn note_failure(&self, cause: String) {
        if let Ok(mut last) = self.last_failure.lock() {
            *last = Some(cause);
        }
    }

    /// `error` of an export, flush or shutdown, said with the destination and the cause of the
    /// last failed request when they are known.
    pub(crate) fn explain(&self, error: &dyn std::fmt::Display) -> String {
        match (&self.destination, self.last_cause()) {
            (Some(destination), Some(cause)) => format!("export to {destination} failed: {cause}"),
            (Some(destination), None) => format!("export to {destination} failed: {error}"),
            (None, _) => format!("export failed: {error}"),
        }
    }

    fn last_cause(&self) -> Option<String> {
        self.last_failure.lock().ok().and_then(|last| last.clone())
    }

    /// The destination and the last failure, for a missed deadline.
    pub(crate) fn context(&self) -> String {
        match (&self.destination, self.last_cause()) {
            (Some(destination), Some(cause)) => {
                format!(" while exporting to {destination} (last failure: {cause})")
            }
            (Some(destination), None) => format!(" while exporting to {destination}"),
            (None, _) => String::new(),
        }
    }

    pub(crate) fn record(&self, result: &OTelSdkResult) {
        let Err(error) = result else {
            self.succeeded.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = self.last_failure.lock() {
                *last = None;
            }
            return;
        };
        self.failed.fetch_add(1, Ordering::Relaxed);
        let Ok(mut log) = self.log.lock() else { return };
        let (last, unlogged) = &mut *log;
        if last.is_some_and(|at| at.elapsed() < LOG_INTERVAL) {
            *unlogged += 1;
            return;
        }
        let also = if *unlogged > 0 {
            format!(" ({unlogged} more failures since the last message)")
        } else {
            String::new()
        };
        // Destinations are masked and causes are the client's words; header values never reach it.
        tracing::warn!(signal = self.signal(), "{} {}{also}", self.signal(), self.explain(error));
        *last = Some(Instant::now());
        *unlogged = 0;
    }

    pub(crate) fn stats(&self) -> ExportStats {
        ExportStats {
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    /// Counts exports given up on for good.
    #[cfg_attr(not(any(feature = "otlp-http", feature = "grpc")), allow(dead_code, reason = "OTLP only"))]
    pub(crate) fn note_dropped(&self, exports: u64) {
        self.dropped.fetch_add(exports, Ordering::Relaxed);
        tracing::warn!(
            signal = self.signal(),
            "{} export backlog full: {exports} failed export(s) dropped unsent, their data lost",
            self.signal()
        );
    }
}

/// A metric exporter that records every export's outcome and checks it for cardinality overflow.
#[derive(Debug)]
pub(crate) struct ReportingMetrics<E> {
    pub(crate) inner: E,
    pub(crate) report: Arc<ExportReport>,
    pub(crate) overflow: Arc<crate::overflow::OverflowWatch>,
}

impl<E: PushMetricExporter> PushMetricExporter for ReportingMetrics<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.overflow.check(metrics);
        let result = self.inner.export(metrics).await;
        self.report.record(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// A span exporter that records every export's outcome and tells the span queue how many spans
/// each finished batch held.
#[derive(Debug)]
pub(crate) struct ReportingSpans<E> {
    pub(crate) inner: E,
    pub(crate) report: Arc<ExportReport>,
    pub(crate) queue: Arc<crate::span_queue::SpanQueue>,
}

impl<E: SpanExporter> SpanExporter for ReportingSpans<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        self.report.record(&result);
        self.queue.done(spans);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

//! `TelemetryGuard`: flush and shutdown with a deadline that is really kept.
//!
//! The SDK's own shutdown ignores its timeout and `force_flush` has none, so each operation
//! runs on a helper thread and the caller waits for it at most until the deadline. On a
//! missed deadline the helper is left to finish in the background; the caller goes on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::error::ShutdownError;
use crate::globals::Globals;
#[cfg(feature = "prometheus")]
use crate::prometheus::{PrometheusEndpoint, PrometheusHandler};
use crate::report::{ExportReport, ExportStats};
use crate::transport::Transport;
#[cfg(not(feature = "prometheus"))]
use crate::unavailable::Unavailable as PrometheusEndpoint;

/// What a running telemetry instance owns.
pub(crate) struct Parts {
    /// The process-wide state it installed; dropped first at shutdown.
    pub(crate) globals: Globals,
    pub(crate) meter_provider: SdkMeterProvider,
    pub(crate) tracer_provider: SdkTracerProvider,
    pub(crate) prometheus: Option<PrometheusEndpoint>,
    pub(crate) transport: Transport,
    pub(crate) metrics_report: Arc<ExportReport>,
    pub(crate) traces_report: Arc<ExportReport>,
    pub(crate) overflow: Arc<crate::overflow::OverflowWatch>,
    pub(crate) span_queue: Arc<crate::span_queue::SpanQueue>,
}

/// Keeps telemetry running; [`shutdown`](Self::shutdown) or drop it to flush and stop.
///
/// Shutdown never takes longer than its deadline (5 s unless
/// [`TelemetryConfig::with_shutdown_timeout`](crate::TelemetryConfig::with_shutdown_timeout)
/// says otherwise), whatever state the backend is in.
#[must_use = "dropping the guard shuts telemetry down at once"]
pub struct TelemetryGuard {
    parts: Option<Parts>,
    prometheus_address: Option<SocketAddr>,
    #[cfg(feature = "prometheus")]
    prometheus_handler: Option<PrometheusHandler>,
    deadline: Duration,
    metrics_report: Arc<ExportReport>,
    traces_report: Arc<ExportReport>,
    overflow: Arc<crate::overflow::OverflowWatch>,
    span_queue: Arc<crate::span_queue::SpanQueue>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("running", &self.parts.is_some())
            .field("prometheus_address", &self.prometheus_address)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl TelemetryGuard {
    pub(crate) fn running(parts: Parts, deadline: Duration) -> Self {
        Self {
            prometheus_address: parts.prometheus.as_ref().and_then(PrometheusEndpoint::address),
            #[cfg(feature = "prometheus")]
            prometheus_handler: parts.prometheus.as_ref().map(|endpoint| endpoint.handler.clone()),
            metrics_report: parts.metrics_report.clone(),
            traces_report: parts.traces_report.clone(),
            overflow: parts.overflow.clone(),
            span_queue: parts.span_queue.clone(),
            parts: Some(parts),
            deadline,
        }
    }

    /// The guard of a disabled SDK (`OTEL_SDK_DISABLED=true`): owns nothing.
    pub(crate) fn disabled() -> Self {
        Self {
            parts: None,
            prometheus_address: None,
            #[cfg(feature = "prometheus")]
            prometheus_handler: None,
            deadline: Duration::ZERO,
            metrics_report: Arc::default(),
            traces_report: Arc::default(),
            overflow: Arc::default(),
            span_queue: Arc::default(),
        }
    }

    /// The address the Prometheus endpoint listens on, when that exporter is in use.
    pub fn prometheus_address(&self) -> Option<SocketAddr> {
        self.prometheus_address
    }

    /// What answers Prometheus scrapes, when that exporter is in use: mount it on your own
    /// router (see [`PrometheusHandler`]).
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn prometheus_handler(&self) -> Option<PrometheusHandler> {
        self.prometheus_handler.clone()
    }

    /// A `tracing` layer that turns `tracing` spans into spans of this telemetry's traces, for the
    /// service's own subscriber:
    ///
    /// ```no_run
    /// use tracing_subscriber::layer::SubscriberExt as _;
    /// use tracing_subscriber::util::SubscriberInitExt as _;
    ///
    /// let telemetry = contextd_telemetry::init()?;
    /// tracing_subscriber::registry()
    ///     .with(telemetry.tracing_layer())
    ///     // .with(tracing_subscriber::fmt::layer()) and any other layers of the service
    ///     .init();
    /// # Ok::<(), contextd_telemetry::TelemetryError>(())
    /// ```
    ///
    /// Entering a `tracing` span also makes it the current OpenTelemetry context, so spans of
    /// either API (and of `#[instrument_op]`) nest into one trace.
    pub fn tracing_layer<S>(&self) -> impl tracing_subscriber::Layer<S>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        let provider = match &self.parts {
            Some(parts) => parts.tracer_provider.clone(),
            // A disabled SDK: spans go nowhere.
            None => SdkTracerProvider::builder().build(),
        };
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, crate::globals::scope());
        tracing_opentelemetry::layer().with_tracer(tracer)
    }

    /// Export outcomes of metrics since `init` (each Prometheus scrape counts as one export).
    pub fn metrics_export_stats(&self) -> ExportStats {
        self.metrics_report.stats()
    }

    /// Export outcomes of spans since `init`.
    pub fn traces_export_stats(&self) -> ExportStats {
        self.traces_report.stats()
    }

    /// Spans dropped so far because the export queue was full (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub fn spans_dropped(&self) -> u64 {
        self.span_queue.dropped()
    }

    /// Instruments that exceeded their cardinality limit so far (each was warned about once, as a
    /// `tracing` warning); their extra label combinations are merged into an
    /// `otel.metric.overflow` series.
    pub fn overflowed_instruments(&self) -> Vec<String> {
        self.overflow.instruments()
    }

    /// Exports everything recorded so far, waiting at most for the shutdown deadline.
    ///
    /// Do not call it from a current-thread runtime's own thread with the SDK's providers in
    /// hand; this method is safe there because the work runs on a helper thread.
    ///
    /// # Errors
    /// Which signal failed or missed the deadline.
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let Some(parts) = &self.parts else { return Ok(()) };
        let (meters, tracers) = (parts.meter_provider.clone(), parts.tracer_provider.clone());
        let (metrics_report, traces_report) = (self.metrics_report.clone(), self.traces_report.clone());
        run_with_deadline(
            "force_flush",
            self.deadline,
            vec![
                task(&self.metrics_report, move || {
                    meters.force_flush().map_err(|e| metrics_report.explain(&e))
                }),
                task(&self.traces_report, move || {
                    tracers.force_flush().map_err(|e| traces_report.explain(&e))
                }),
            ],
            Box::new(|| {}),
        )
    }

    /// Flushes and stops every exporter, waiting at most for the deadline. Recording after
    /// shutdown is a no-op, and `init` may be called again.
    ///
    /// # Errors
    /// Which signal failed or missed the deadline; the rest was shut down regardless.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<(), ShutdownError> {
        let Some(parts) = self.parts.take() else { return Ok(()) };
        let Parts { globals, meter_provider, tracer_provider, mut prometheus, transport, .. } = parts;
        // Recording goes nowhere from here on; the claim is released once the exporters stop.
        let claim = globals.uninstall();
        let (metrics_report, traces_report) = (self.metrics_report.clone(), self.traces_report.clone());
        let result = run_with_deadline(
            "shutdown",
            self.deadline,
            vec![
                task(&self.metrics_report, move || {
                    let result = meter_provider.shutdown().map_err(|e| metrics_report.explain(&e));
                    if let Some(endpoint) = prometheus.as_mut() {
                        endpoint.stop();
                    }
                    result
                }),
                task(&self.traces_report, move || {
                    tracer_provider.shutdown().map_err(|e| traces_report.explain(&e))
                }),
            ],
            // Dropped once both are done, on a helper thread: HTTP clients and runtimes must not
            // be dropped on the caller's async runtime threads, nor while an export uses them.
            // (Without the gRPC runtime the transport holds only a client, not `Drop` itself.)
            #[allow(clippy::drop_non_drop, reason = "owns a runtime with the `grpc` feature")]
            Box::new(move || drop(transport)),
        );
        drop(claim);
        result
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown_inner() {
            tracing::warn!("dropping the telemetry guard: {error}");
        }
    }
}

/// One part of a flush or shutdown: its signal, what to add to a missed deadline (where the
/// signal was exporting to), and the work.
type Task = (&'static str, Arc<ExportReport>, Box<dyn FnOnce() -> Result<(), String> + Send>);

/// An export that failed while `work` ran fails the task too, with the report's words (the
/// destination and the cause): the SDK's batch span processor, for one, answers its shutdown
/// with `Ok` even when the last batch could not be sent, and every signal is to be reported
/// alike.
fn task(report: &Arc<ExportReport>, work: impl FnOnce() -> Result<(), String> + Send + 'static) -> Task {
    let failed_before = report.stats().failed;
    let watched = report.clone();
    let work = move || {
        work()?;
        if watched.stats().failed > failed_before {
            return Err(watched.explain(&"its last export failed"));
        }
        Ok(())
    };
    (report.signal(), report.clone(), Box::new(work))
}

/// Runs each task on a helper thread and waits for them together until `deadline`; `after`
/// runs once every task has finished, however late.
fn run_with_deadline(
    operation: &'static str,
    deadline: Duration,
    tasks: Vec<Task>,
    after: Box<dyn FnOnce() + Send>,
) -> Result<(), ShutdownError> {
    let until = Instant::now() + deadline;
    let (done, outcomes) = mpsc::channel();
    let mut failures = Vec::new();
    let mut pending: Vec<(&'static str, Arc<ExportReport>)> = Vec::new();
    let mut workers = Vec::new();
    for (signal, report, task) in tasks {
        let done = done.clone();
        let worker = std::thread::Builder::new()
            .name(format!("telemetry-{operation}-{signal}"))
            .spawn(move || drop(done.send((signal, task()))));
        match worker {
            Ok(worker) => {
                workers.push(worker);
                pending.push((signal, report));
            }
            Err(e) => failures.push(format!("{signal}: cannot start a helper thread: {e}")),
        }
    }
    drop(done);
    let reaper = std::thread::Builder::new().name(format!("telemetry-{operation}-reaper")).spawn(move || {
        for worker in workers {
            let _ = worker.join();
        }
        after();
    });
    if let Err(e) = reaper {
        failures.push(format!("cannot start the cleanup thread: {e}"));
    }
    while !pending.is_empty() {
        let left = until.saturating_duration_since(Instant::now());
        match outcomes.recv_timeout(left) {
            Ok((signal, result)) => {
                pending.retain(|(s, _)| *s != signal);
                if let Err(e) = result {
                    failures.push(format!("{signal}: {e}"));
                }
            }
            Err(_) => {
                failures.extend(
                    pending
                        .drain(..)
                        .map(|(signal, report)| ShutdownError::deadline(signal, deadline, &report.context())),
                );
            }
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(ShutdownError { operation, failures }) }
}

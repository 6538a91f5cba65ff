//! One-call OpenTelemetry setup for contextd services.
//!
//! [`init()`] reads the standard `OTEL_*` environment variables, starts the metric and span
//! exporters (OTLP over HTTP or gRPC, console, Prometheus pull), sets the global providers,
//! binds [`contextd_metrics::contextd::meters()`] to them and bridges `tracing` spans into the same traces.
//! The returned [`TelemetryGuard`] flushes and shuts everything down within a deadline.
//!
//! ```no_run
//! use opentelemetry::KeyValue;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // e.g. OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://127.0.0.1:8428/opentelemetry/v1/metrics
//!     let telemetry = contextd_telemetry::init()?;
//!
//!     contextd_metrics::contextd::meters().checkpoint_operations.add(
//!         1,
//!         &[KeyValue::new("operation", "create"), KeyValue::new("status", "success")],
//!     );
//!
//!     telemetry.shutdown()?; // flushes; never takes longer than 5 s
//!     Ok(())
//! }
//! ```
//!
//! Where things live: [`config`] parses every variable, `metrics.rs` and `traces.rs` build the
//! providers, [`naming`] translates names the way Prometheus backends do, and `guard.rs` keeps
//! shutdown within its deadline.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod config;
mod console;
mod error;
mod exposition;
mod globals;
mod guard;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
mod masking;
mod metrics;
pub mod naming;
#[cfg(feature = "otlp-proto")]
mod otlp_encode;
#[cfg(any(feature = "otlp-http", feature = "grpc"))]
mod otlp_metrics;
mod overflow;
#[cfg(feature = "profiling")]
#[cfg_attr(docsrs, doc(cfg(feature = "profiling")))]
pub mod profiling;
#[cfg(feature = "prometheus")]
mod prometheus;
mod report;
mod resource;
#[cfg(feature = "runtime-metrics")]
mod runtime;
#[cfg(feature = "http-server")]
mod serve;
#[cfg(any(feature = "prometheus", all(test, any(feature = "otlp-http", feature = "grpc"))))]
mod shared_reader;
mod span_queue;
mod striped;
mod traces;
mod transport;
mod unavailable;

use std::sync::Arc;

use opentelemetry::metrics::MeterProvider as _;

pub use config::{
    BatchSpanConfig, MetricsExporter, OtlpCompression, OtlpProtocol, OtlpSignalConfig, Propagator,
    SamplerConfig, TelemetryConfig, TracesExporter,
};
pub use error::{ShutdownError, TelemetryError};
pub use guard::TelemetryGuard;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub use prometheus::PrometheusHandler;
pub use report::ExportStats;

/// Starts telemetry as the environment describes; see [`TelemetryConfig::from_env`].
///
/// # Errors
/// A malformed variable, a second `init` while a guard is alive, or an exporter that cannot
/// be built (e.g. the Prometheus port is taken).
pub fn init() -> Result<TelemetryGuard, TelemetryError> {
    TelemetryConfig::from_env()?.init()
}

impl TelemetryConfig {
    /// Starts telemetry with this configuration: exporters, global providers, the global
    /// [`contextd_metrics::contextd::meters()`] and the `tracing` bridge.
    ///
    /// Works the same from a plain `fn main` and inside any tokio runtime: the SDK exports on
    /// its own threads and gRPC runs on a private runtime.
    ///
    /// # Errors
    /// As for [`init()`].
    pub fn init(self) -> Result<TelemetryGuard, TelemetryError> {
        self.validate()?;
        if self.disabled {
            return Ok(TelemetryGuard::disabled());
        }
        // Released again if starting fails (the claim undoes itself when dropped).
        let claim = globals::Claim::take()?;
        start(&self, claim)
    }
}

fn start(config: &TelemetryConfig, claim: globals::Claim) -> Result<TelemetryGuard, TelemetryError> {
    let transport = transport::Transport::default();
    let otlp_destination =
        |otlp: bool, signal: &config::OtlpSignalConfig| otlp.then(|| masking::masked_url(&signal.endpoint));
    let metrics_report = Arc::new(report::ExportReport::new(
        report::Signal::Metrics,
        otlp_destination(config.metrics_exporter == MetricsExporter::Otlp, &config.otlp_metrics),
    ));
    let traces_report = Arc::new(report::ExportReport::new(
        report::Signal::Traces,
        otlp_destination(config.traces_exporter == TracesExporter::Otlp, &config.otlp_traces),
    ));
    let overflow = Arc::new(overflow::OverflowWatch::default());
    let metrics = metrics::build(config, &transport, &metrics_report, &overflow)?;
    let span_queue = Arc::new(span_queue::SpanQueue::default());
    let tracer_provider = traces::build(config, &transport, &traces_report, &span_queue)?;

    // Wrapped operations start spans on the SDK tracer directly; with no span exporter they start none.
    let globals = claim.install(
        config.catalog.namespace,
        &metrics.provider,
        &metrics.striped,
        &tracer_provider,
        config.traces_exporter != TracesExporter::None,
        &config.propagators,
    );
    register_self_metrics(
        config.catalog,
        &metrics.provider.meter(config.catalog.namespace),
        &metrics_report,
        &traces_report,
        &span_queue,
    );
    #[cfg(feature = "runtime-metrics")]
    if config.runtime_metrics {
        let meter = metrics.provider.meter(config.catalog.namespace);
        runtime::register_process(&meter);
        if let Some(handle) =
            config.tokio_runtime.clone().or_else(|| tokio::runtime::Handle::try_current().ok())
        {
            runtime::register_tokio(&meter, handle);
        }
    }
    if config.install_tracing_subscriber {
        install_tracing_subscriber();
    }
    let parts = guard::Parts {
        globals,
        meter_provider: metrics.provider,
        tracer_provider,
        prometheus: metrics.prometheus,
        transport,
        metrics_report,
        traces_report,
        overflow,
        span_queue,
    };
    Ok(TelemetryGuard::running(parts, config.shutdown_timeout))
}

/// The pipeline's self-metrics under the catalog's namespace: export attempts, failures and
/// dropped exports by signal, dropped spans, and the values the checked float instruments
/// refused. (The
/// gauge-source failures are registered by `contextd-gauges`.)
fn register_self_metrics(
    catalog: &'static contextd_metrics::Catalog,
    meter: &opentelemetry::metrics::Meter,
    metrics: &Arc<report::ExportReport>,
    traces: &Arc<report::ExportReport>,
    span_queue: &Arc<span_queue::SpanQueue>,
) {
    use contextd_metrics::SelfMetric;
    use contextd_metrics::model::self_metrics::labels;
    use opentelemetry::KeyValue;
    let counter = |metric: SelfMetric| {
        let spec = catalog.self_metric(metric);
        meter.u64_observable_counter(spec.name).with_unit(spec.unit).with_description(spec.description)
    };
    let queue = span_queue.clone();
    counter(SelfMetric::SpansDropped)
        .with_callback(move |observer| observer.observe(queue.dropped(), &[]))
        .build();
    let reports: Vec<(&'static str, Arc<report::ExportReport>)> =
        [metrics, traces].map(|report| (report.signal(), report.clone())).to_vec();
    let attempts = reports.clone();
    counter(SelfMetric::Exports)
        .with_callback(move |observer| {
            for (signal, report) in &attempts {
                let stats = report.stats();
                observer
                    .observe(stats.succeeded + stats.failed, &[KeyValue::new(labels::SIGNAL.name, *signal)]);
            }
        })
        .build();
    counter(SelfMetric::InvalidMeasurements)
        .with_callback(|observer| {
            for (instrument, reason, count) in contextd_metrics::refused_measurements() {
                observer.observe(
                    count,
                    &[
                        KeyValue::new(labels::INSTRUMENT.name, instrument),
                        KeyValue::new(labels::REFUSED_REASON.name, reason),
                    ],
                );
            }
        })
        .build();
    let failures = reports.clone();
    counter(SelfMetric::ExportFailures)
        .with_callback(move |observer| {
            for (signal, report) in &failures {
                observer.observe(report.stats().failed, &[KeyValue::new(labels::SIGNAL.name, *signal)]);
            }
        })
        .build();
    counter(SelfMetric::ExportsDropped)
        .with_callback(move |observer| {
            for (signal, report) in &reports {
                observer.observe(report.stats().dropped, &[KeyValue::new(labels::SIGNAL.name, *signal)]);
            }
        })
        .build();
}

/// A `tracing` layer that turns `tracing` spans into OpenTelemetry spans of the global tracer
/// provider as it is when the layer is built (build it after `init`). Prefer
/// [`TelemetryGuard::tracing_layer`], bound to one telemetry instance.
///
/// Entering a `tracing` span also makes it the current OpenTelemetry context, so spans created
/// through either API nest into one trace.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let subscriber = tracing_subscriber::registry().with(contextd_telemetry::tracing_layer());
/// # drop(subscriber);
/// ```
pub fn tracing_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(opentelemetry::global::tracer(globals::scope()))
}

/// Installs `registry + tracing_layer()` as the global `tracing` subscriber unless the process
/// already has one (then the service's own subscriber stays, and it may add `tracing_layer`).
fn install_tracing_subscriber() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::registry().with(tracing_layer());
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The README's adoption example, compiled as a doctest so it cannot rot.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Not public API: what the benchmarks and fuzz targets drive of the crate's internals.
#[doc(hidden)]
#[cfg(feature = "otlp-proto")]
pub mod __private {
    use std::sync::Arc;

    use contextd_metrics::striped::SeriesStore;
    use opentelemetry_sdk::metrics::data::ResourceMetrics;

    /// The OTLP metrics exporter's request path without the network: the striped series of a
    /// cumulative pipeline, collected with the SDK's collection and encoded as the exporter does.
    #[derive(Debug)]
    pub struct ExportPath(crate::striped::StripedSeries);

    impl ExportPath {
        /// A path with up to `limit` series per instrument.
        pub fn new(limit: usize) -> Self {
            let store = SeriesStore::new().with_cardinality_limit(limit);
            Self(crate::striped::StripedSeries::on(store, Arc::default()))
        }

        /// The store to record into (`Meters::on` with it as the destination's store).
        pub fn store(&self) -> Arc<SeriesStore> {
            self.0.store()
        }

        /// The encoded OTLP request of `metrics` plus the striped series.
        pub fn encode(&self, metrics: &ResourceMetrics) -> Vec<u8> {
            crate::otlp_encode::encode(metrics, &self.0)
        }
    }
}

//! `TelemetryConfig`: every setting, read from the environment in this one place.
//!
//! Each variable is parsed exactly once, here, and the result is handed to the SDK explicitly.
//! The SDK would read some of these variables itself, but it ignores a malformed value
//! silently; we turn it into an error that names the variable, the value and what is valid.

use std::fmt;
use std::time::Duration;

use crate::error::TelemetryError;
use crate::masking;
use parse::{URL, check_http_url, is_header_name};

mod env;
mod parse;

pub use env::{UNSUPPORTED, VARIABLES};

/// Where metrics go (`OTEL_METRICS_EXPORTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExporter {
    /// OTLP push to a collector or straight to VictoriaMetrics (the default).
    Otlp,
    /// Readable text on standard output, one line per series (the embedded default).
    Console,
    /// A pull endpoint in Prometheus text format on `OTEL_EXPORTER_PROMETHEUS_HOST`/`PORT`.
    Prometheus,
    /// No metrics export; instruments record into nothing.
    None,
}

/// Where spans go (`OTEL_TRACES_EXPORTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracesExporter {
    /// OTLP push (the default).
    Otlp,
    /// One line per finished span on standard output.
    Console,
    /// No span export.
    None,
}

/// OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// Protobuf over HTTP/1.1, port 4318 (the default).
    HttpProtobuf,
    /// gRPC, port 4317; needs the `grpc` cargo feature.
    Grpc,
}

/// OTLP payload compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpCompression {
    /// No compression (the default).
    None,
    /// gzip.
    Gzip,
}

/// Which spans are recorded (`OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    /// Every span.
    AlwaysOn,
    /// No span.
    AlwaysOff,
    /// This share of traces, by trace id.
    TraceIdRatio(f64),
    /// Follow the parent's decision; root spans always sampled (the default).
    ParentBasedAlwaysOn,
    /// Follow the parent's decision; root spans never sampled.
    ParentBasedAlwaysOff,
    /// Follow the parent's decision; root spans sampled at this ratio.
    ParentBasedTraceIdRatio(f64),
}

/// A context propagation format (`OTEL_PROPAGATORS`): how the trace (and baggage) travel in the
/// headers of requests between services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    /// W3C Trace Context: `traceparent` and `tracestate`.
    TraceContext,
    /// W3C Baggage: `baggage`.
    Baggage,
}

/// The batch span processor's bounds (`OTEL_BSP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSpanConfig {
    /// Delay between two exports (`OTEL_BSP_SCHEDULE_DELAY`, ms; default 5000).
    pub schedule_delay: Duration,
    /// Spans held at most; beyond it new spans are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`; 2048).
    pub max_queue_size: usize,
    /// Spans per export at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`; 512).
    pub max_export_batch_size: usize,
    /// Time allowed for one export (`OTEL_BSP_EXPORT_TIMEOUT`, ms; default 30000). It caps the
    /// OTLP traces timeout, since the SDK's thread-based processor has no timeout of its own.
    pub export_timeout: Duration,
}

impl Default for BatchSpanConfig {
    fn default() -> Self {
        Self {
            schedule_delay: Duration::from_millis(5000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
            export_timeout: Duration::from_millis(30_000),
        }
    }
}

/// OTLP settings for one signal, resolved from the generic and per-signal variables.
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpSignalConfig {
    /// The full URL (HTTP: including `/v1/metrics` or `/v1/traces`).
    pub endpoint: String,
    /// Transport.
    pub protocol: OtlpProtocol,
    /// Extra request headers (e.g. authentication); never printed by `Debug`.
    pub headers: Vec<(String, String)>,
    /// Time allowed for one export, retries included.
    pub timeout: Duration,
    /// Payload compression.
    pub compression: OtlpCompression,
    /// Extra trusted root certificates (PEM) for `https` endpoints, besides the system's.
    pub ca_certificate: Option<Vec<u8>>,
    /// The client's certificate (chain) and private key, PEM, for endpoints that ask for one
    /// (mTLS): `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and `OTEL_EXPORTER_OTLP_CLIENT_KEY`.
    pub client_identity: Option<Vec<u8>>,
}

impl fmt::Debug for OtlpSignalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("OtlpSignalConfig")
            .field("endpoint", &masking::masked_url(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("headers", &format_args!("{header_names:?} (values redacted)"))
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field(
                "ca_certificate",
                &self.ca_certificate.as_ref().map(|pem| format!("{} bytes of PEM", pem.len())),
            )
            // The key is a secret: only whether there is one.
            .field("client_identity", &self.client_identity.as_ref().map(|_| "set (redacted)"))
            .finish()
    }
}

/// The complete telemetry configuration: read it with [`TelemetryConfig::from_env`], adjust it
/// with the `with_*` methods, then start everything with [`TelemetryConfig::init`].
///
/// ```no_run
/// use contextd_telemetry::{MetricsExporter, TelemetryConfig};
///
/// let _telemetry = TelemetryConfig::from_env()?
///     .with_service_name("contextd")
///     .with_service_version(env!("CARGO_PKG_VERSION"))
///     .with_metrics_exporter(MetricsExporter::Console)
///     .init()?;
/// # Ok::<(), contextd_telemetry::TelemetryError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    pub(crate) catalog: &'static contextd_metrics::Catalog,
    /// Whether `with_catalog` chose the catalog (else it is contextd's, the default).
    pub(crate) catalog_chosen: bool,
    /// What set the metrics and traces endpoints: a variable, a builder method or the default.
    pub(crate) endpoint_origins: [&'static str; 2],
    pub(crate) disabled: bool,
    pub(crate) service_name: String,
    pub(crate) service_version: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) metrics_exporter: MetricsExporter,
    pub(crate) traces_exporter: TracesExporter,
    pub(crate) otlp_metrics: OtlpSignalConfig,
    pub(crate) otlp_traces: OtlpSignalConfig,
    pub(crate) metric_export_interval: Duration,
    /// `OTEL_SPAN_*_LIMIT`, `OTEL_ATTRIBUTE_COUNT_LIMIT`, `OTEL_{EVENT,LINK}_ATTRIBUTE_COUNT_LIMIT`.
    pub(crate) span_limits: opentelemetry_sdk::trace::SpanLimits,
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: what OTLP exports send.
    #[cfg_attr(not(any(feature = "otlp-http", feature = "grpc")), allow(dead_code, reason = "OTLP only"))]
    pub(crate) metrics_temporality: opentelemetry_sdk::metrics::Temporality,
    pub(crate) prometheus_host: String,
    pub(crate) prometheus_port: u16,
    pub(crate) prometheus_server: bool,
    pub(crate) sampler: SamplerConfig,
    pub(crate) propagators: Vec<Propagator>,
    pub(crate) batch: BatchSpanConfig,
    pub(crate) shutdown_timeout: Duration,
    /// See [`with_delta_backlog`](Self::with_delta_backlog).
    #[cfg_attr(not(any(feature = "otlp-http", feature = "grpc")), allow(dead_code, reason = "OTLP only"))]
    pub(crate) delta_backlog_bytes: usize,
    pub(crate) install_tracing_subscriber: bool,
    pub(crate) runtime_metrics: bool,
    #[cfg(feature = "runtime-metrics")]
    pub(crate) tokio_runtime: Option<tokio::runtime::Handle>,
}

/// The default of [`TelemetryConfig::with_delta_backlog`]: 16 MiB. A service whose delta request
/// is 20 KiB keeps about 800 of them, more than 13 hours of outage at the default 60 s interval.
pub const DEFAULT_DELTA_BACKLOG_BYTES: usize = 16 << 20;

/// The default time [`TelemetryGuard::shutdown`](crate::TelemetryGuard::shutdown) may take.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl TelemetryConfig {
    /// Sets the service's catalog (the `CATALOG` that `contextd_metrics::catalog!` generated):
    /// its namespace names the instrumentation scope of metrics and spans and prefixes the
    /// pipeline's self-metrics (`<namespace>_telemetry_exports_total` …), and its units are sent
    /// so that backends keep its names. The default is contextd's catalog.
    ///
    /// ```
    /// mod telemetry {
    ///     // Relative to this source file, as with `include_str!`.
    ///     contextd_metrics::catalog!("../../../contextd-metrics-macros/contextd.yaml");
    /// }
    /// let config = contextd_telemetry::TelemetryConfig::from_env()?.with_catalog(&telemetry::CATALOG);
    /// # Ok::<(), contextd_telemetry::TelemetryError>(())
    /// ```
    pub fn with_catalog(mut self, catalog: &'static contextd_metrics::Catalog) -> Self {
        self.catalog = catalog;
        self.catalog_chosen = true;
        self
    }

    /// The catalog telemetry runs with.
    pub fn catalog(&self) -> &'static contextd_metrics::Catalog {
        self.catalog
    }

    /// Sets `service.name` (overrides `OTEL_SERVICE_NAME`).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Sets `service.version`, typically `env!("CARGO_PKG_VERSION")`.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Sets `deployment.environment.name` (overrides `OTEL_ENVIRONMENT`).
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Adds a resource attribute (after those of `OTEL_RESOURCE_ATTRIBUTES`, so it wins).
    pub fn with_resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.resource_attributes.push((key.into(), value.into()));
        self
    }

    /// Chooses the metrics exporter (overrides `OTEL_METRICS_EXPORTER`).
    pub fn with_metrics_exporter(mut self, exporter: MetricsExporter) -> Self {
        self.metrics_exporter = exporter;
        self
    }

    /// Chooses the span exporter (overrides `OTEL_TRACES_EXPORTER`).
    pub fn with_traces_exporter(mut self, exporter: TracesExporter) -> Self {
        self.traces_exporter = exporter;
        self
    }

    /// Sets the OTLP metrics endpoint, used exactly as given (for HTTP include `/v1/metrics`).
    pub fn with_otlp_metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        self.otlp_metrics.endpoint = url.into();
        self.endpoint_origins[0] = "with_otlp_metrics_endpoint";
        self
    }

    /// Sets the OTLP traces endpoint, used exactly as given (for HTTP include `/v1/traces`).
    pub fn with_otlp_traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.otlp_traces.endpoint = url.into();
        self.endpoint_origins[1] = "with_otlp_traces_endpoint";
        self
    }

    /// Sets the OTLP transport for both signals.
    pub fn with_otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.otlp_metrics.protocol = protocol;
        self.otlp_traces.protocol = protocol;
        self
    }

    /// Sets the time one OTLP export may take, retries included, for both signals.
    pub fn with_otlp_timeout(mut self, timeout: Duration) -> Self {
        self.otlp_metrics.timeout = timeout;
        self.otlp_traces.timeout = timeout;
        self
    }

    /// Adds an OTLP request header for both signals (e.g. an API key); its value is never logged.
    pub fn with_otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        for signal in [&mut self.otlp_metrics, &mut self.otlp_traces] {
            signal.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
            signal.headers.push((name.clone(), value.clone()));
        }
        self
    }

    /// Trusts these root certificates (PEM) for `https` OTLP endpoints of both signals, besides
    /// the system's (overrides `OTEL_EXPORTER_OTLP_CERTIFICATE`).
    pub fn with_otlp_ca_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        let pem = pem.into();
        self.otlp_metrics.ca_certificate = Some(pem.clone());
        self.otlp_traces.ca_certificate = Some(pem);
        self
    }

    /// Sets the time between two metric exports (overrides `OTEL_METRIC_EXPORT_INTERVAL`).
    pub fn with_metric_export_interval(mut self, interval: Duration) -> Self {
        self.metric_export_interval = interval;
        self
    }

    /// Sets the Prometheus pull endpoint's address (overrides `OTEL_EXPORTER_PROMETHEUS_HOST`/`PORT`).
    /// Port 0 picks a free port; [`TelemetryGuard::prometheus_address`](crate::TelemetryGuard::prometheus_address)
    /// tells which.
    pub fn with_prometheus_address(mut self, host: impl Into<String>, port: u16) -> Self {
        self.prometheus_host = host.into();
        self.prometheus_port = port;
        self
    }

    /// Whether the Prometheus exporter opens a port of its own (default yes). Without it, serve
    /// scrapes from your own router with
    /// [`TelemetryGuard::prometheus_handler`](crate::TelemetryGuard::prometheus_handler).
    pub fn with_prometheus_server(mut self, listen: bool) -> Self {
        self.prometheus_server = listen;
        self
    }

    /// Sets the propagation formats installed as the global text-map propagator at `init`
    /// (overrides `OTEL_PROPAGATORS`; default W3C Trace Context and Baggage; empty: none).
    pub fn with_propagators(mut self, propagators: impl Into<Vec<Propagator>>) -> Self {
        self.propagators = propagators.into();
        self
    }

    /// Chooses the span sampler (overrides `OTEL_TRACES_SAMPLER`).
    pub fn with_sampler(mut self, sampler: SamplerConfig) -> Self {
        self.sampler = sampler;
        self
    }

    /// Sets the batch span processor's bounds (overrides `OTEL_BSP_*`).
    pub fn with_batch_span_config(mut self, batch: BatchSpanConfig) -> Self {
        self.batch = batch;
        self
    }

    /// With delta temporality (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta`), the
    /// most bytes of failed OTLP metrics requests kept to be resent (default 16 MiB): a delta
    /// export that fails would otherwise lose its counts. Past it the oldest request is dropped
    /// and counted in `<namespace>_telemetry_exports_dropped_total`.
    pub fn with_delta_backlog(mut self, bytes: usize) -> Self {
        self.delta_backlog_bytes = bytes;
        self
    }

    /// Sets the deadline of [`TelemetryGuard::shutdown`](crate::TelemetryGuard::shutdown) and
    /// of the shutdown on drop (default 5 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether `init` installs a global `tracing` subscriber that sends `tracing` spans to
    /// OpenTelemetry, if the process has none yet (default no: a library does not take the
    /// process's subscriber unless asked). Services compose their own with
    /// [`TelemetryGuard::tracing_layer`](crate::TelemetryGuard::tracing_layer).
    pub fn with_tracing_subscriber(mut self, install: bool) -> Self {
        self.install_tracing_subscriber = install;
        self
    }

    /// Whether process metrics (and tokio runtime metrics, when a runtime is known) are
    /// observed (default yes, with the `runtime-metrics` feature).
    pub fn with_runtime_metrics(mut self, enabled: bool) -> Self {
        self.runtime_metrics = enabled;
        self
    }

    /// The tokio runtime whose metrics to observe; by default the runtime `init` is called in,
    /// if any.
    #[cfg(feature = "runtime-metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "runtime-metrics")))]
    pub fn with_tokio_runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.tokio_runtime = Some(handle);
        self
    }

    /// Turns the whole SDK off, as `OTEL_SDK_DISABLED=true` does: nothing is exported and
    /// instruments record into nothing.
    pub fn with_disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    /// The metrics exporter that `init` will start.
    pub fn metrics_exporter(&self) -> MetricsExporter {
        self.metrics_exporter
    }

    /// The span exporter that `init` will start.
    pub fn traces_exporter(&self) -> TracesExporter {
        self.traces_exporter
    }

    /// The resolved OTLP settings for metrics.
    pub fn otlp_metrics(&self) -> &OtlpSignalConfig {
        &self.otlp_metrics
    }

    /// The resolved OTLP settings for traces.
    pub fn otlp_traces(&self) -> &OtlpSignalConfig {
        &self.otlp_traces
    }

    /// The `service.name` resource attribute.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The time between two metric exports.
    pub fn metric_export_interval(&self) -> Duration {
        self.metric_export_interval
    }

    /// The propagation formats `init` installs globally.
    pub fn propagators(&self) -> &[Propagator] {
        &self.propagators
    }

    /// The span sampler.
    pub fn sampler(&self) -> SamplerConfig {
        self.sampler
    }

    /// The batch span processor's bounds.
    pub fn batch_span_config(&self) -> BatchSpanConfig {
        self.batch
    }

    /// Whether the SDK is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Checks values given through builder methods, which bypass the environment parser.
    pub(crate) fn validate(&self) -> Result<(), TelemetryError> {
        let bad = |setting, value: String, expected: &str| {
            Err(TelemetryError::InvalidConfig { setting, value, expected: expected.to_owned() })
        };
        let [metrics_origin, traces_origin] = self.endpoint_origins;
        #[cfg_attr(all(feature = "tls", feature = "gzip"), allow(unused_variables))]
        for (setting, signal, used) in [
            (metrics_origin, &self.otlp_metrics, self.metrics_exporter == MetricsExporter::Otlp),
            (traces_origin, &self.otlp_traces, self.traces_exporter == TracesExporter::Otlp),
        ] {
            if let Err(problem) = check_http_url(&signal.endpoint) {
                return bad(setting, masking::masked_url(&signal.endpoint), &format!("{URL} ({problem})"));
            }
            // What this build cannot do for a signal that exports over OTLP, said before anything starts.
            #[cfg(not(feature = "tls"))]
            if used
                && (signal.endpoint.starts_with("https://")
                    || signal.ca_certificate.is_some()
                    || signal.client_identity.is_some())
            {
                return bad(
                    setting,
                    masking::masked_url(&signal.endpoint),
                    "an http:// endpoint: https:// and CA certificates need contextd-telemetry's `tls` feature",
                );
            }
            #[cfg(not(feature = "gzip"))]
            if used && signal.compression == OtlpCompression::Gzip {
                return bad(
                    "OTEL_EXPORTER_OTLP_COMPRESSION",
                    "gzip".into(),
                    "`none`: gzip needs contextd-telemetry's `gzip` feature",
                );
            }
            if signal.timeout.is_zero() {
                return bad("with_otlp_timeout", "0s".into(), "a duration greater than 0");
            }
            if signal.protocol == OtlpProtocol::Grpc
                && (signal.endpoint.starts_with("https://")
                    || signal.ca_certificate.is_some()
                    || signal.client_identity.is_some())
            {
                return bad(
                    setting,
                    masking::masked_url(&signal.endpoint),
                    "an http:// endpoint without a CA certificate for gRPC (TLS is supported with http/protobuf)",
                );
            }
            if let Some((name, _)) = signal.headers.iter().find(|(name, _)| !is_header_name(name)) {
                return bad(
                    "with_otlp_header",
                    format!("{name:?}"),
                    "an HTTP header name (token characters)",
                );
            }
        }
        if self.metric_export_interval.is_zero() {
            return bad("with_metric_export_interval", "0s".into(), "a duration greater than 0");
        }
        if let SamplerConfig::TraceIdRatio(r) | SamplerConfig::ParentBasedTraceIdRatio(r) = self.sampler
            && !(0.0..=1.0).contains(&r)
        {
            return bad("with_sampler", r.to_string(), "a ratio between 0 and 1");
        }
        let batch = self.batch;
        if batch.max_queue_size == 0 || batch.max_export_batch_size == 0 {
            return bad(
                "with_batch_span_config",
                format!("{batch:?}"),
                "queue and batch sizes greater than 0",
            );
        }
        if batch.max_export_batch_size > batch.max_queue_size {
            return bad(
                "with_batch_span_config",
                format!("{batch:?}"),
                "max_export_batch_size at most max_queue_size",
            );
        }
        if self.service_name.is_empty() {
            return bad("with_service_name", "\"\"".into(), "a non-empty name");
        }
        Ok(())
    }
}

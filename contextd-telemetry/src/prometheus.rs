//! The Prometheus pull endpoint: `GET /metrics` collects on demand and answers in text format,
//! so VictoriaMetrics or Prometheus can scrape a service with no collector at all.
//!
//! The endpoint is a [`PrometheusHandler`] served on its own port by the crate's one HTTP
//! serving path (`serve.rs`), or mounted on the service's own router instead
//! ([`TelemetryConfig::with_prometheus_server`](crate::TelemetryConfig::with_prometheus_server)).
//! Every scrape counts as one metrics export in `contextd_telemetry_exports_total`.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_sdk::metrics::ManualReader;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;

use crate::error::TelemetryError;
use crate::overflow::OverflowWatch;
use crate::report::ExportReport;
use crate::serve::{HttpServer, Limits};
use crate::shared_reader::SharedReader;
use crate::striped::StripedSeries;

/// Scrapes are small; these bounds only stop clients that never finish a request.
const LIMITS: Limits =
    Limits { connections: 64, request_head: Duration::from_secs(5), exchange: Duration::from_secs(30) };

/// Answers Prometheus scrapes: collects every instrument now and renders the text exposition
/// (format 0.0.4) with `target_info` for the resource and `otel_scope_name` on every sample.
///
/// Get it from [`TelemetryGuard::prometheus_handler`](crate::TelemetryGuard::prometheus_handler)
/// to serve scrapes from a router you already run:
///
/// ```no_run
/// # #[cfg(feature = "axum")] {
/// use axum::{Router, routing::get};
/// use contextd_telemetry::{MetricsExporter, TelemetryConfig};
///
/// let telemetry = TelemetryConfig::from_env()?
///     .with_metrics_exporter(MetricsExporter::Prometheus)
///     .with_prometheus_server(false) // no port of its own
///     .init()?;
/// let scrape = telemetry.prometheus_handler().expect("the Prometheus exporter is configured");
/// let app: Router = Router::new().route("/metrics", get(move || async move { scrape.respond() }));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PrometheusHandler {
    reader: SharedReader,
    striped: Arc<StripedSeries>,
    overflow: Arc<OverflowWatch>,
    report: Arc<ExportReport>,
}

impl PrometheusHandler {
    /// Collects now and renders the exposition text.
    ///
    /// Collection runs the gauges' callbacks, which only copy snapshots, so it is quick enough
    /// for an async handler.
    ///
    /// # Errors
    /// When the meter provider cannot collect (e.g. it has been shut down).
    pub fn render(&self) -> Result<String, String> {
        let mut metrics = ResourceMetrics::default();
        let collected = self.reader.collect(&mut metrics);
        self.report.record(&collected);
        collected.map_err(|e| format!("collecting metrics failed: {e}"))?;
        self.overflow.check(&metrics);
        let mut text = String::new();
        crate::exposition::render_for_pull(&metrics, &self.striped.collect(&self.striped.read()), &mut text);
        Ok(text)
    }

    /// The HTTP answer to a scrape: 200 with the exposition, or 500 saying why not.
    pub fn respond(&self) -> http::Response<String> {
        let (status, body) = match self.render() {
            Ok(text) => (http::StatusCode::OK, text),
            Err(message) => (http::StatusCode::INTERNAL_SERVER_ERROR, message + "\n"),
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        response
    }
}

impl crate::serve::Handler for PrometheusHandler {
    fn handle(&self, request: &http::request::Parts) -> http::Response<Bytes> {
        use http::StatusCode;
        match (&request.method, request.uri.path()) {
            (&http::Method::GET, "/metrics") => self.respond().map(Bytes::from),
            (&http::Method::GET, _) => {
                crate::serve::text(StatusCode::NOT_FOUND, "only /metrics is served here\n")
            }
            _ => crate::serve::text(StatusCode::METHOD_NOT_ALLOWED, "only GET is supported\n"),
        }
    }
}

/// The pull reader's handler, and the server that serves it on its own port (if any).
#[derive(Debug)]
pub(crate) struct PrometheusEndpoint {
    pub(crate) handler: PrometheusHandler,
    server: Option<HttpServer>,
}

impl PrometheusEndpoint {
    /// The reader to register, and the endpoint serving it on `host:port` (no port when `listen`
    /// is false).
    pub(crate) fn start(
        host: &str,
        port: u16,
        listen: bool,
        striped: Arc<StripedSeries>,
        overflow: Arc<OverflowWatch>,
        report: Arc<ExportReport>,
    ) -> Result<(SharedReader, Self), TelemetryError> {
        let reader = SharedReader(Arc::new(ManualReader::builder().build()));
        let handler = PrometheusHandler { reader: reader.clone(), striped, overflow, report };
        if !listen {
            return Ok((reader, Self { handler, server: None }));
        }
        let address = format!("{host}:{port}");
        let bind_error = |source| TelemetryError::PrometheusBind { address: address.clone(), source };
        let listener = TcpListener::bind(&address).map_err(bind_error)?;
        let server = HttpServer::start(listener, "telemetry-prometheus", Arc::new(handler.clone()), LIMITS)
            .map_err(|source| TelemetryError::Runtime { what: "the Prometheus endpoint", source })?;
        Ok((reader, Self { handler, server: Some(server) }))
    }

    pub(crate) fn address(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(HttpServer::address)
    }

    /// Closes the port, if it has one.
    pub(crate) fn stop(&mut self) {
        if let Some(server) = self.server.as_mut() {
            server.stop();
        }
    }
}

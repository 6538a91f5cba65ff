//! The OTLP metrics exporter is ours (it carries the striped series): what it sends over each
//! protocol, with headers and gzip as configured, decoded by real receivers.

mod common;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, serial};
use contextd_telemetry::TelemetryConfig;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message as _;

#[contextd_metrics::instrument_op("checkpoint", "create")]
fn create(fail: bool) -> Result<(), String> {
    if fail { Err("no".into()) } else { Ok(()) }
}

/// One request: the headers that matter and the decoded body.
type Request = (BTreeMap<String, String>, ExportMetricsServiceRequest);

/// What a receiver saw.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Request>>>);

impl Seen {
    fn push(&self, headers: BTreeMap<String, String>, request: ExportMetricsServiceRequest) {
        self.0.lock().unwrap().push((headers, request));
    }

    /// Waits for a request holding the wrapped call's histogram, and returns it.
    fn with_histogram(&self) -> Request {
        eventually(Duration::from_secs(10), "the striped histogram at the receiver", || {
            self.0.lock().unwrap().iter().find(|(_, request)| histogram_count(request).is_some()).cloned()
        })
    }
}

/// The count of `contextd_checkpoint_duration_seconds{operation="create"}`, if sent.
fn histogram_count(request: &ExportMetricsServiceRequest) -> Option<u64> {
    let metrics = request.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics);
    metrics.filter(|m| m.name == "contextd_checkpoint_duration_seconds").find_map(|m| match &m.data {
        Some(Data::Histogram(h)) => Some(h.data_points.iter().map(|p| p.count).sum()),
        _ => None,
    })
}

fn operations_total(request: &ExportMetricsServiceRequest) -> f64 {
    let metrics = request.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics);
    metrics
        .filter(|m| m.name == "contextd_checkpoint_operations_total")
        .filter_map(|m| match &m.data {
            Some(Data::Sum(s)) => Some(s.data_points.iter().map(number).sum::<f64>()),
            _ => None,
        })
        .sum()
}

fn number(point: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint) -> f64 {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
    match point.value {
        Some(Value::AsInt(n)) => n as f64,
        Some(Value::AsDouble(x)) => x,
        None => 0.0,
    }
}

fn config(vars: &'static [(&'static str, &'static str)], endpoint: String) -> TelemetryConfig {
    TelemetryConfig::from_lookup(move |name| {
        if name == "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" {
            return Some(endpoint.clone());
        }
        vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    })
    .unwrap()
    .with_tracing_subscriber(false)
}

fn record_and_flush(telemetry: &contextd_telemetry::TelemetryGuard) {
    create(false).unwrap();
    create(true).unwrap_err();
    create(false).unwrap();
    telemetry.force_flush().expect("the export is accepted");
}

#[test]
fn over_http_with_gzip_and_headers() {
    let _serial = serial();
    let seen = Seen::default();
    let sink = seen.clone();
    let app = axum::Router::new().route(
        "/v1/metrics",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let header =
                    |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let kept: BTreeMap<String, String> = ["content-encoding", "content-type", "x-api-key"]
                    .into_iter()
                    .map(|name| (name.to_owned(), header(name)))
                    .collect();
                let mut raw = Vec::new();
                if kept["content-encoding"] == "gzip" {
                    flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut raw).unwrap();
                } else {
                    raw = body.to_vec();
                }
                sink.push(kept, ExportMetricsServiceRequest::decode(raw.as_slice()).unwrap());
                ExportMetricsServiceResponse::default().encode_to_vec()
            }
        }),
    );
    let address = common::serve_axum(app);
    let telemetry = config(
        &[
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cret"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ],
        format!("http://{address}/v1/metrics"),
    )
    .init()
    .unwrap();
    record_and_flush(&telemetry);
    let (headers, request) = seen.with_histogram();
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["x-api-key"], "s3cret");
    assert_eq!(histogram_count(&request), Some(3));
    assert_eq!(operations_total(&request), 3.0);
    telemetry.shutdown().unwrap();
}

/// A MetricsService that keeps what it is sent, with the request's metadata.
struct MetricsSink(Seen);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsService
    for MetricsSink
{
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let metadata =
            |name: &str| request.metadata().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let kept = ["grpc-encoding", "x-api-key"].into_iter().map(|n| (n.to_owned(), metadata(n))).collect();
        self.0.push(kept, request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[test]
fn over_grpc_with_gzip_and_headers() {
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsServiceServer;
    let _serial = serial();
    let seen = Seen::default();
    let service = MetricsServiceServer::new(MetricsSink(seen.clone()))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let (address, _runtime) = common::serve_grpc(tonic::service::Routes::new(service));
    let telemetry = config(
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cret"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ],
        format!("http://{address}"),
    )
    .init()
    .unwrap();
    record_and_flush(&telemetry);
    let (metadata, request) = seen.with_histogram();
    assert_eq!(metadata["grpc-encoding"], "gzip");
    assert_eq!(metadata["x-api-key"], "s3cret");
    assert_eq!(histogram_count(&request), Some(3));
    assert_eq!(operations_total(&request), 3.0);
    telemetry.shutdown().unwrap();
}

#[test]
fn a_grpc_endpoint_that_is_down_is_a_failed_export_not_a_hang() {
    let _serial = serial();
    let port = common::free_port();
    let telemetry = config(
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ],
        format!("http://127.0.0.1:{port}"),
    )
    .init()
    .unwrap();
    create(false).unwrap();
    let started = std::time::Instant::now();
    assert!(telemetry.force_flush().is_err(), "nothing listens on {port}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(telemetry.metrics_export_stats().failed >= 1);
    let _ = telemetry.shutdown();
}

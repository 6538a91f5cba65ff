//! The OTLP metrics exporter: the SDK's collection and the striped histograms in one request,
//! sent over HTTP/protobuf or gRPC.
//!
//! Ours rather than `opentelemetry_otlp::MetricExporter` because that one can only send what the
//! SDK aggregated. The request is `opentelemetry-proto`'s conversion of the SDK's collection with
//! our histogram series added to the catalog's scope; the sending keeps the contract of the
//! exporter it replaces: the endpoint used verbatim, headers, gzip, the per-request timeout, and
//! retries with backoff of throttled or unavailable answers, all within that timeout.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue as ProtoKeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ScopeMetrics, Sum,
    metric::Data, number_data_point,
};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

use crate::config::{OtlpSignalConfig, TelemetryConfig};
use crate::error::TelemetryError;
use crate::naming::SeriesKind;
use crate::report::ExportReport;
use crate::striped::{Collected, StripedSeries, Total};
use crate::transport::Transport;

/// The signal's name in messages.
const SIGNAL: &str = crate::report::Signal::Metrics.as_str();

/// Attempts after the first, for answers that say "try again" (as the exporter this replaces).
const RETRIES: u32 = 3;
/// The first backoff; it doubles per attempt.
const BACKOFF: Duration = Duration::from_millis(100);

/// The OTLP metrics exporter of one pipeline.
#[derive(Debug)]
pub(crate) struct OtlpMetricExporter {
    sender: Sender,
    series: Arc<StripedSeries>,
    temporality: Temporality,
    timeout: Duration,
}

#[derive(Debug)]
enum Sender {
    #[cfg(feature = "otlp-http")]
    Http(HttpSender),
    #[cfg(feature = "grpc")]
    Grpc(GrpcSender),
}

impl OtlpMetricExporter {
    pub(crate) fn new(
        config: &TelemetryConfig,
        transport: &Transport,
        report: &Arc<ExportReport>,
        series: Arc<StripedSeries>,
    ) -> Result<Self, TelemetryError> {
        let signal = &config.otlp_metrics;
        let sender = match signal.protocol {
            #[cfg(feature = "otlp-http")]
            crate::config::OtlpProtocol::HttpProtobuf => {
                Sender::Http(HttpSender::new(signal, transport, report)?)
            }
            #[cfg(not(feature = "otlp-http"))]
            crate::config::OtlpProtocol::HttpProtobuf => {
                let _ = (transport, report);
                return Err(crate::error::feature_needed(SIGNAL, "OTLP over HTTP", "otlp-http"));
            }
            #[cfg(feature = "grpc")]
            crate::config::OtlpProtocol::Grpc => Sender::Grpc(GrpcSender::new(signal, transport)?),
            #[cfg(not(feature = "grpc"))]
            crate::config::OtlpProtocol::Grpc => {
                return Err(crate::error::feature_needed(SIGNAL, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "grpc"));
            }
        };
        Ok(Self { sender, series, temporality: config.metrics_temporality, timeout: signal.timeout })
    }
}

impl PushMetricExporter for OtlpMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let request = request(metrics, self.series.collect());
        let deadline = Instant::now() + self.timeout;
        let mut attempt = 0;
        loop {
            let failure = match self.sender.send(&request, deadline) {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            let backoff = BACKOFF * 2u32.pow(attempt);
            if !failure.retry || attempt == RETRIES || Instant::now() + backoff >= deadline {
                return Err(OTelSdkError::InternalFailure(failure.cause));
            }
            std::thread::sleep(backoff);
            attempt += 1;
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

/// The SDK's collection as an OTLP request, with the striped series in the catalog's scope.
pub(crate) fn request(metrics: &ResourceMetrics, striped: Collected) -> ExportMetricsServiceRequest {
    let mut request = ExportMetricsServiceRequest::from(metrics);
    if striped.is_empty() {
        return request;
    }
    let temporality: i32 = match striped.temporality {
        Temporality::Cumulative => AggregationTemporality::Cumulative,
        _ => AggregationTemporality::Delta,
    }
    .into();
    let time = nanos(striped.time);
    let counters = striped.counters.iter().map(|family| {
        let data_points = family
            .series
            .iter()
            .map(|(series, total)| NumberDataPoint {
                attributes: series.attributes.iter().map(ProtoKeyValue::from).collect(),
                start_time_unix_nano: nanos(family.start),
                time_unix_nano: time,
                exemplars: Vec::new(),
                flags: 0,
                value: Some(match *total {
                    Total::U64(n) => number_data_point::Value::from(n),
                    Total::F64(x) => number_data_point::Value::from(x),
                }),
            })
            .collect();
        let data = Data::Sum(Sum { data_points, aggregation_temporality: temporality, is_monotonic: true });
        metric(family.family.spec, family.unit(SeriesKind::Counter), data)
    });
    let histograms = striped.histograms.iter().map(|family| {
        let data_points = family
            .series
            .iter()
            .map(|(series, snapshot)| HistogramDataPoint {
                attributes: series.attributes.iter().map(ProtoKeyValue::from).collect(),
                start_time_unix_nano: nanos(family.start),
                time_unix_nano: time,
                count: snapshot.count,
                sum: Some(snapshot.sum),
                bucket_counts: snapshot.bucket_counts.clone(),
                explicit_bounds: series.data.bounds().to_vec(),
                exemplars: Vec::new(),
                flags: 0,
                // A point with no values yet carries the SDK's starting extremes
                // (f64::MAX, f64::MIN), so the request stays the one the SDK sent.
                min: Some(snapshot.min_max.map_or(f64::MAX, |(min, _)| min)),
                max: Some(snapshot.min_max.map_or(f64::MIN, |(_, max)| max)),
            })
            .collect();
        let data = Data::Histogram(Histogram { data_points, aggregation_temporality: temporality });
        metric(family.family.spec, family.unit(SeriesKind::Histogram), data)
    });
    let added: Vec<Metric> = counters.chain(histograms).collect();
    let Some(resource) = request.resource_metrics.first_mut() else { return request };
    let scope = resource
        .scope_metrics
        .iter_mut()
        .find(|s| s.scope.as_ref().is_some_and(|scope| scope.name == striped.scope));
    match scope {
        Some(scope) => scope.metrics.extend(added),
        None => resource.scope_metrics.push(ScopeMetrics {
            scope: Some(InstrumentationScope { name: striped.scope.to_owned(), ..Default::default() }),
            metrics: added,
            schema_url: String::new(),
        }),
    }
    request
}

fn metric(spec: &contextd_metrics::InstrumentSpec, unit: String, data: Data) -> Metric {
    Metric {
        name: spec.name.to_owned(),
        description: spec.description.to_owned(),
        unit,
        metadata: Vec::new(),
        data: Some(data),
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Why an attempt failed, and whether another may succeed.
struct Failure {
    cause: String,
    retry: bool,
}

impl Sender {
    fn send(&self, request: &ExportMetricsServiceRequest, deadline: Instant) -> Result<(), Failure> {
        match self {
            #[cfg(feature = "otlp-http")]
            Self::Http(http) => http.send(request, deadline),
            #[cfg(feature = "grpc")]
            Self::Grpc(grpc) => grpc.send(request, deadline),
        }
    }
}

/// OTLP over HTTP/protobuf on the blocking client.
#[cfg(feature = "otlp-http")]
#[derive(Debug)]
struct HttpSender {
    client: reqwest::blocking::Client,
    endpoint: String,
    headers: reqwest::header::HeaderMap,
    gzip: bool,
    report: Arc<ExportReport>,
}

#[cfg(feature = "otlp-http")]
impl HttpSender {
    fn new(
        signal: &OtlpSignalConfig,
        transport: &Transport,
        report: &Arc<ExportReport>,
    ) -> Result<Self, TelemetryError> {
        use reqwest::header::{HeaderName, HeaderValue};
        let client = transport.http_client(signal.timeout, signal.ca_certificate.as_deref())?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &signal.headers {
            let invalid = |what: &str| TelemetryError::Exporter {
                signal: SIGNAL,
                // Never the value itself: it is usually a secret.
                message: format!("header {name:?} is not a valid HTTP header {what}"),
            };
            let key = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid("name"))?;
            let mut value = HeaderValue::from_str(value).map_err(|_| invalid("value"))?;
            value.set_sensitive(true);
            headers.insert(key, value);
        }
        headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        let gzip = signal.compression == crate::config::OtlpCompression::Gzip;
        if gzip {
            headers.insert(reqwest::header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(Self { client, endpoint: signal.endpoint.clone(), headers, gzip, report: report.clone() })
    }

    fn send(&self, request: &ExportMetricsServiceRequest, deadline: Instant) -> Result<(), Failure> {
        use prost::Message as _;
        let body = request.encode_to_vec();
        let body = if self.gzip { gzip(&body)? } else { body };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let answer = self
            .client
            .post(&self.endpoint)
            .headers(self.headers.clone())
            .timeout(remaining.max(Duration::from_millis(1)))
            .body(body)
            .send();
        match answer {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => {
                let status = response.status();
                let cause = format!("the endpoint answered HTTP {status}");
                self.report.note_failure(cause.clone());
                Err(Failure { cause, retry: matches!(status.as_u16(), 429 | 502 | 503 | 504) })
            }
            Err(error) => {
                let cause = crate::masking::scrub_url(&crate::transport::cause(&error), &self.endpoint);
                self.report.note_failure(cause.clone());
                Err(Failure { cause, retry: error.is_connect() || error.is_timeout() })
            }
        }
    }
}

#[cfg(all(feature = "otlp-http", feature = "gzip"))]
fn gzip(body: &[u8]) -> Result<Vec<u8>, Failure> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map_err(|e| Failure { cause: format!("compressing the request: {e}"), retry: false })
}

/// Refused at validation without the `gzip` feature; never reached.
#[cfg(all(feature = "otlp-http", not(feature = "gzip")))]
fn gzip(_: &[u8]) -> Result<Vec<u8>, Failure> {
    Err(Failure { cause: "gzip compression needs the `gzip` feature".into(), retry: false })
}

/// OTLP over gRPC on the private runtime.
#[cfg(feature = "grpc")]
#[derive(Debug)]
struct GrpcSender {
    client: opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient<
        tonic::transport::Channel,
    >,
    metadata: tonic::metadata::MetadataMap,
    runtime: tokio::runtime::Handle,
}

#[cfg(feature = "grpc")]
impl GrpcSender {
    fn new(signal: &OtlpSignalConfig, transport: &Transport) -> Result<Self, TelemetryError> {
        use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
        let runtime = transport.enter_grpc()?;
        let failed = |message: String| TelemetryError::Exporter {
            signal: SIGNAL,
            message: crate::masking::scrub_url(&message, &signal.endpoint),
        };
        let channel = tonic::transport::Endpoint::from_shared(signal.endpoint.clone())
            .map_err(|e| failed(format!("the endpoint is not a valid URL: {e}")))?
            .timeout(signal.timeout)
            .connect_timeout(signal.timeout.min(Duration::from_secs(5)))
            .connect_lazy();
        #[cfg_attr(not(feature = "gzip"), allow(unused_mut))]
        let mut client = MetricsServiceClient::new(channel);
        // Without the `gzip` feature, gzip is refused at validation.
        #[cfg(feature = "gzip")]
        if signal.compression == crate::config::OtlpCompression::Gzip {
            client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        let metadata = crate::transport::grpc_metadata(&signal.headers, SIGNAL)?;
        drop(runtime);
        Ok(Self { client, metadata, runtime: transport.grpc_handle()? })
    }

    fn send(&self, request: &ExportMetricsServiceRequest, deadline: Instant) -> Result<(), Failure> {
        let mut call = tonic::Request::new(request.clone());
        *call.metadata_mut() = self.metadata.clone();
        call.set_timeout(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        let mut client = self.client.clone();
        match self.runtime.block_on(client.export(call)) {
            Ok(_) => Ok(()),
            Err(status) => {
                use tonic::Code;
                let retry = matches!(
                    status.code(),
                    Code::Unavailable | Code::ResourceExhausted | Code::Aborted | Code::DeadlineExceeded
                );
                Err(Failure {
                    cause: format!("the endpoint answered gRPC {:?}: {}", status.code(), status.message()),
                    retry,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use contextd_metrics::Destination;
    use contextd_metrics::contextd::Meters;
    use opentelemetry::KeyValue;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_sdk::metrics::reader::MetricReader as _;
    use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

    use super::*;

    /// A reader the test keeps a handle on while the provider owns it.
    #[derive(Debug, Clone)]
    struct Shared(Arc<ManualReader>);

    impl opentelemetry_sdk::metrics::reader::MetricReader for Shared {
        fn register_pipeline(&self, pipeline: std::sync::Weak<opentelemetry_sdk::metrics::Pipeline>) {
            self.0.register_pipeline(pipeline);
        }
        fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
            self.0.collect(rm)
        }
        fn force_flush(&self) -> OTelSdkResult {
            self.0.force_flush()
        }
        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.0.shutdown_with_timeout(timeout)
        }
        fn temporality(&self, kind: opentelemetry_sdk::metrics::InstrumentKind) -> Temporality {
            self.0.temporality(kind)
        }
    }

    /// The same recordings on a meter provider with the catalog's view, histograms in the SDK
    /// (as before the striped histograms) or in `store`.
    fn record(
        striped: Option<&StripedSeries>,
        temporality: Temporality,
    ) -> (ResourceMetrics, Option<Collected>) {
        let catalog = &contextd_metrics::contextd::CATALOG;
        let reader = Arc::new(ManualReader::builder().with_temporality(temporality).build());
        let provider = SdkMeterProvider::builder()
            .with_resource(opentelemetry_sdk::Resource::builder_empty().with_service_name("orders").build())
            .with_view(crate::metrics::catalog_unit_view(catalog))
            .with_reader(Shared(reader.clone()))
            .build();
        let meter = provider.meter(catalog.namespace);
        let store = striped.map(StripedSeries::store);
        let meters = Meters::on(&Destination { meter: &meter, store: store.as_deref() });
        let create = [KeyValue::new("operation", "create")];
        for value in [0.0, 0.0005, 0.003, 0.012, 0.25, 1.0, 7.5, 100.0] {
            meters.checkpoint_duration.record(value, &create);
        }
        let bound = meters.checkpoint_duration.bind(&[KeyValue::new("operation", "resume")]);
        bound.record(0.02);
        bound.record(0.04);
        let _never_recorded = meters.checkpoint_duration.bind(&[KeyValue::new("operation", "list")]);
        // Attributes given out of order land in the sorted series.
        let two = [KeyValue::new("status", "success"), KeyValue::new("operation", "search")];
        meters.remediation_duration.record(0.5, &two);
        meters.remediation_duration.record(0.125, &[two[1].clone(), two[0].clone()]);
        meters
            .checkpoint_operations
            .add(3, &[KeyValue::new("operation", "create"), KeyValue::new("status", "success")]);
        let resume = [KeyValue::new("status", "error"), KeyValue::new("operation", "resume")];
        meters.checkpoint_operations.bind(&resume).add(2);
        let _never_added = meters
            .checkpoint_operations
            .bind(&[KeyValue::new("operation", "list"), KeyValue::new("status", "success")]);
        let model = [KeyValue::new("model", "text-embedding-3-small")];
        meters.embedding_cost.add(0.125, &model);
        meters.embedding_cost.bind(&model).add(0.5);
        let mut collected = ResourceMetrics::default();
        reader.collect(&mut collected).unwrap();
        (collected, striped.map(StripedSeries::collect))
    }

    /// The request with timestamps zeroed and metrics, points and attributes in a stable order
    /// (in delta collections the SDK gives a point's attributes in the order of whichever key of
    /// its hash map it meets first).
    fn normalised(mut request: ExportMetricsServiceRequest) -> ExportMetricsServiceRequest {
        for resource in &mut request.resource_metrics {
            for scope in &mut resource.scope_metrics {
                scope.metrics.sort_by(|a, b| a.name.cmp(&b.name));
                for metric in &mut scope.metrics {
                    match metric.data.as_mut() {
                        Some(Data::Histogram(h)) => {
                            h.data_points
                                .iter_mut()
                                .for_each(|p| p.attributes.sort_by(|a, b| a.key.cmp(&b.key)));
                            h.data_points.sort_by_key(|p| format!("{:?}", p.attributes));
                            for point in &mut h.data_points {
                                (point.start_time_unix_nano, point.time_unix_nano) = (0, 0);
                            }
                        }
                        Some(Data::Sum(s)) => {
                            s.data_points
                                .iter_mut()
                                .for_each(|p| p.attributes.sort_by(|a, b| a.key.cmp(&b.key)));
                            s.data_points.sort_by_key(|p| format!("{:?}", p.attributes));
                            for point in &mut s.data_points {
                                (point.start_time_unix_nano, point.time_unix_nano) = (0, 0);
                            }
                        }
                        other => panic!("the test records no {other:?}"),
                    }
                }
            }
        }
        request
    }

    #[test]
    fn the_request_is_the_one_the_sdk_histograms_gave_but_for_timestamps() {
        for temporality in [Temporality::Cumulative, Temporality::Delta] {
            let (sdk, _) = record(None, temporality);
            let before = normalised(ExportMetricsServiceRequest::from(&sdk));
            let delta = temporality == Temporality::Delta;
            let striped =
                StripedSeries::new(contextd_metrics::contextd::CATALOG.namespace, delta, Arc::default());
            let (rest, histograms) = record(Some(&striped), temporality);
            let after = normalised(request(&rest, histograms.unwrap()));
            let points = |kind: fn(&Data) -> Option<usize>| -> usize {
                before.resource_metrics[0].scope_metrics[0]
                    .metrics
                    .iter()
                    .filter_map(|m| m.data.as_ref().and_then(kind))
                    .sum()
            };
            let histogram_points = points(|d| match d {
                Data::Histogram(h) => Some(h.data_points.len()),
                _ => None,
            });
            let sum_points = points(|d| match d {
                Data::Sum(s) => Some(s.data_points.len()),
                _ => None,
            });
            // Delta leaves out the points bound and never recorded.
            let expected = if temporality == Temporality::Delta { (3, 3) } else { (4, 4) };
            assert_eq!(
                (histogram_points, sum_points),
                expected,
                "{temporality:?}: what the SDK's request holds"
            );
            assert_eq!(before, after, "{temporality:?}");
        }
    }

    #[cfg(feature = "prometheus")]
    #[test]
    fn the_pull_text_is_the_one_the_sdk_histograms_gave() {
        let empty = StripedSeries::new(contextd_metrics::contextd::CATALOG.namespace, false, Arc::default());
        let (sdk, _) = record(None, Temporality::Cumulative);
        let mut before = String::new();
        crate::exposition::render_for_pull(&sdk, &empty.collect(), &mut before);
        let striped =
            StripedSeries::new(contextd_metrics::contextd::CATALOG.namespace, false, Arc::default());
        let (rest, histograms) = record(Some(&striped), Temporality::Cumulative);
        let mut after = String::new();
        crate::exposition::render_for_pull(&rest, &histograms.unwrap(), &mut after);
        assert!(
            before.contains("contextd_checkpoint_duration_seconds_bucket{operation=\"create\""),
            "{before}"
        );
        let lines = |text: &str| {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        assert_eq!(lines(&before), lines(&after));
    }
}

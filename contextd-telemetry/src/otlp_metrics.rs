//! The OTLP metrics exporter: the SDK's collection and the striped histograms in one request,
//! sent over HTTP/protobuf or gRPC.
//!
//! Ours rather than `opentelemetry_otlp::MetricExporter` because that one can only send what the
//! SDK aggregated. The request is encoded once (`otlp_encode`) and sent as bytes over either
//! protocol; the sending keeps the contract of the exporter it replaces: the endpoint used
//! verbatim, headers, gzip, the per-request timeout, and retries with backoff of throttled or
//! unavailable answers, all within that timeout.
//!
//! With delta temporality a collection resets what it read, so an export that fails takes its
//! deltas with it unless they are kept: a failed delta request whose failure may pass (the
//! endpoint refused, timed out, or said to retry) goes into a backlog, and every later export
//! first resends the backlog, oldest first, then its own request. The backlog holds at most
//! `TelemetryConfig::with_delta_backlog` bytes of request bodies as sent (16 MiB by default); past that the oldest is dropped, counted
//! (`<namespace>_telemetry_exports_dropped_total`) and warned about. A request is resent only
//! after a failed attempt, so the receiver sees a value twice only if it stored a request whose
//! answer never arrived (a timeout after the body was sent): OTLP carries no request id to
//! deduplicate by. Cumulative exports keep nothing: the next one carries the totals.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

use crate::config::{OtlpSignalConfig, TelemetryConfig};
use crate::error::TelemetryError;
use crate::report::ExportReport;
use crate::striped::StripedSeries;
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
    /// Failed delta requests to resend, oldest first (`None` for cumulative exports).
    backlog: Option<Mutex<Backlog>>,
    report: Arc<ExportReport>,
}

/// Request bodies kept for resending, and their total size.
#[derive(Debug, Default)]
struct Backlog {
    requests: VecDeque<Bytes>,
    bytes: usize,
    limit: usize,
}

impl Backlog {
    /// Keeps `body` for later, dropping the oldest past the limit; returns how many were dropped.
    fn keep(&mut self, body: Bytes) -> u64 {
        self.bytes += body.len();
        self.requests.push_back(body);
        let mut dropped = 0;
        while self.bytes > self.limit {
            let Some(oldest) = self.requests.pop_front() else { break };
            self.bytes -= oldest.len();
            dropped += 1;
        }
        dropped
    }
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
        let delta = config.metrics_temporality != Temporality::Cumulative;
        let backlog =
            delta.then(|| Mutex::new(Backlog { limit: config.delta_backlog_bytes, ..Backlog::default() }));
        Ok(Self {
            sender,
            series,
            temporality: config.metrics_temporality,
            timeout: signal.timeout,
            backlog,
            report: report.clone(),
        })
    }

    /// Sends `body`, retrying answers that say "try again" with backoff, until `deadline`.
    fn send_with_retries(&self, body: &Bytes, deadline: Instant) -> Result<(), Failure> {
        let mut attempt = 0;
        loop {
            let failure = match self.sender.send(body, deadline) {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            let backoff = BACKOFF * 2u32.pow(attempt);
            if !failure.retry || attempt == RETRIES || Instant::now() + backoff >= deadline {
                return Err(failure);
            }
            std::thread::sleep(backoff);
            attempt += 1;
        }
    }

    /// A delta export: the backlog first, oldest first, then `body`; whatever is not sent (and
    /// may be accepted later) stays in the backlog.
    fn send_delta(&self, backlog: &Mutex<Backlog>, body: Bytes, deadline: Instant) -> Result<(), Failure> {
        let mut backlog = backlog.lock().unwrap_or_else(PoisonError::into_inner);
        let mut outcome = Ok(());
        while let Some(oldest) = backlog.requests.front().cloned() {
            if let Err(failure) = self.send_with_retries(&oldest, deadline) {
                let transient = failure.transient;
                outcome = Err(failure);
                if transient {
                    break;
                }
            }
            // Sent, or refused for good (resending cannot help): out of the backlog.
            backlog.bytes -= oldest.len();
            backlog.requests.pop_front();
        }
        if backlog.requests.is_empty() {
            match self.send_with_retries(&body, deadline) {
                Ok(()) => return outcome,
                Err(failure) if !failure.transient => return Err(failure),
                Err(failure) => outcome = Err(failure),
            }
        }
        let dropped = backlog.keep(body);
        drop(backlog);
        if dropped > 0 {
            self.report.note_dropped(dropped);
        }
        outcome
    }
}

impl PushMetricExporter for OtlpMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let encoded = crate::otlp_encode::encode(metrics, &self.series);
        // Compressed once, whatever the retries.
        let body =
            self.sender.body(encoded).map_err(|failure| OTelSdkError::InternalFailure(failure.cause))?;
        let deadline = Instant::now() + self.timeout;
        let sent = match &self.backlog {
            Some(backlog) => self.send_delta(backlog, body, deadline),
            None => self.send_with_retries(&body, deadline),
        };
        sent.map_err(|failure| OTelSdkError::InternalFailure(failure.cause))
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

/// Why an attempt failed, and whether another may succeed.
struct Failure {
    cause: String,
    /// The answer asks to try again (throttled, unavailable): retried within the export.
    retry: bool,
    /// No answer, or one that may change (refused, timed out, a server error, and every answer
    /// that asks to retry): a delta request is kept for the next export rather than given up.
    transient: bool,
}

impl Sender {
    /// The request body as this transport sends it: gzipped for HTTP when configured (gRPC
    /// compresses in its own framing).
    fn body(&self, encoded: Vec<u8>) -> Result<Bytes, Failure> {
        match self {
            #[cfg(feature = "otlp-http")]
            Self::Http(http) if http.gzip => gzip(&encoded).map(Bytes::from),
            _ => Ok(Bytes::from(encoded)),
        }
    }

    fn send(&self, body: &Bytes, deadline: Instant) -> Result<(), Failure> {
        match self {
            #[cfg(feature = "otlp-http")]
            Self::Http(http) => http.send(body, deadline),
            #[cfg(feature = "grpc")]
            Self::Grpc(grpc) => grpc.send(body, deadline),
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
        let client = transport.http_client(
            signal.timeout,
            signal.ca_certificate.as_deref(),
            signal.client_identity.as_deref(),
        )?;
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

    fn send(&self, body: &Bytes, deadline: Instant) -> Result<(), Failure> {
        let body = body.clone();
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
                let retry = matches!(status.as_u16(), 429 | 502 | 503 | 504);
                Err(Failure { cause, retry, transient: retry || status.is_server_error() })
            }
            Err(error) => {
                let cause = crate::masking::scrub_url(&crate::transport::cause(&error), &self.endpoint);
                self.report.note_failure(cause.clone());
                // No answer: the request may not have arrived, or arrived unanswered.
                Err(Failure { cause, retry: error.is_connect() || error.is_timeout(), transient: true })
            }
        }
    }
}

#[cfg(all(feature = "otlp-http", feature = "gzip"))]
fn gzip(body: &[u8]) -> Result<Vec<u8>, Failure> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).and_then(|()| encoder.finish()).map_err(|e| Failure {
        cause: format!("compressing the request: {e}"),
        retry: false,
        transient: false,
    })
}

/// Refused at validation without the `gzip` feature; never reached.
#[cfg(all(feature = "otlp-http", not(feature = "gzip")))]
fn gzip(_: &[u8]) -> Result<Vec<u8>, Failure> {
    Err(Failure { cause: "gzip compression needs the `gzip` feature".into(), retry: false, transient: false })
}

/// OTLP over gRPC on the private runtime, sending the encoded request as it is.
#[cfg(feature = "grpc")]
#[derive(Debug)]
struct GrpcSender {
    client: tonic::client::Grpc<tonic::transport::Channel>,
    metadata: tonic::metadata::MetadataMap,
    runtime: tokio::runtime::Handle,
}

#[cfg(feature = "grpc")]
impl GrpcSender {
    const EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

    fn new(signal: &OtlpSignalConfig, transport: &Transport) -> Result<Self, TelemetryError> {
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
        let mut client = tonic::client::Grpc::new(channel);
        // Without the `gzip` feature, gzip is refused at validation.
        #[cfg(feature = "gzip")]
        if signal.compression == crate::config::OtlpCompression::Gzip {
            client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        let metadata = crate::transport::grpc_metadata(&signal.headers, SIGNAL)?;
        drop(runtime);
        Ok(Self { client, metadata, runtime: transport.grpc_handle()? })
    }

    fn send(&self, body: &Bytes, deadline: Instant) -> Result<(), Failure> {
        let mut call = tonic::Request::new(body.clone());
        *call.metadata_mut() = self.metadata.clone();
        call.set_timeout(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        let mut client = self.client.clone();
        let path = http::uri::PathAndQuery::from_static(Self::EXPORT);
        let answer = self.runtime.block_on(async move {
            client.ready().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            client.unary(call, path, RawCodec).await
        });
        match answer {
            Ok(_) => Ok(()),
            Err(status) => {
                use tonic::Code;
                let retry = matches!(
                    status.code(),
                    Code::Unavailable | Code::ResourceExhausted | Code::Aborted | Code::DeadlineExceeded
                );
                let transient =
                    retry || matches!(status.code(), Code::Internal | Code::Unknown | Code::Cancelled);
                let cause = format!("the endpoint answered gRPC {:?}: {}", status.code(), status.message());
                Err(Failure { cause, retry, transient })
            }
        }
    }
}

/// Sends an already encoded message and reads the answer's bytes without decoding them (an
/// `ExportMetricsServiceResponse` only reports partial success, which the OTLP exporter this
/// replaces did not act on either).
#[cfg(feature = "grpc")]
#[derive(Debug, Clone, Copy)]
struct RawCodec;

#[cfg(feature = "grpc")]
impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

#[cfg(feature = "grpc")]
impl tonic::codec::Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), Self::Error> {
        use bytes::BufMut as _;
        dst.put_slice(&item);
        Ok(())
    }
}

#[cfg(feature = "grpc")]
impl tonic::codec::Decoder for RawCodec {
    type Item = ();
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<()>, Self::Error> {
        use bytes::Buf as _;
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

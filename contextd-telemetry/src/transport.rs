//! What the OTLP exporters run on: a blocking HTTP client, and for gRPC a private tokio runtime.
//!
//! Neither depends on the caller: the SDK exports from its own threads, so a plain `fn main`
//! works, and nothing here is created or dropped on a runtime thread of the caller's, which
//! would panic (blocking clients and runtimes refuse to be dropped inside async contexts).

#[cfg(feature = "otlp-http")]
use std::collections::HashMap;
#[cfg(feature = "otlp-http")]
use std::future::Future;
#[cfg(feature = "otlp-http")]
use std::pin::Pin;
#[cfg(feature = "otlp-http")]
use std::sync::Arc;
#[cfg(feature = "otlp-http")]
use std::time::Duration;

#[cfg(feature = "otlp-http")]
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
#[cfg(any(feature = "otlp-http", feature = "grpc"))]
use opentelemetry_otlp::WithExportConfig;
#[cfg(feature = "otlp-http")]
use opentelemetry_otlp::WithHttpConfig;

#[cfg(any(feature = "otlp-http", feature = "grpc"))]
use crate::config::{OtlpCompression, OtlpSignalConfig};
#[cfg(any(feature = "otlp-http", feature = "grpc"))]
use crate::error::TelemetryError;
#[cfg(feature = "otlp-http")]
use crate::report::ExportReport;

#[cfg(not(any(feature = "otlp-http", feature = "grpc")))]
pub(crate) use crate::unavailable::Unavailable as OtlpSpanExporter;
/// The OTLP exporters, or stand-ins when the build has no OTLP transport (`init` then refuses
/// `OTEL_*_EXPORTER=otlp` and names the feature).
#[cfg(any(feature = "otlp-http", feature = "grpc"))]
pub(crate) use opentelemetry_otlp::SpanExporter as OtlpSpanExporter;

/// Applies one signal's OTLP/HTTP settings to an exporter builder (metrics and spans alike).
#[cfg(feature = "otlp-http")]
pub(crate) fn configure_http<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    signal: &OtlpSignalConfig,
    transport: &Transport,
    report: &Arc<ExportReport>,
) -> Result<B, TelemetryError> {
    let client = transport.http_client(
        signal.timeout,
        signal.ca_certificate.as_deref(),
        signal.client_identity.as_deref(),
    )?;
    let builder = builder
        .with_endpoint(&signal.endpoint)
        .with_timeout(signal.timeout)
        .with_headers(signal.headers.iter().cloned().collect::<HashMap<_, _>>())
        .with_http_client(ExplainingClient {
            inner: client,
            report: report.clone(),
            endpoint: signal.endpoint.clone(),
        });
    Ok(match signal.compression {
        OtlpCompression::Gzip => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        OtlpCompression::None => builder,
    })
}

/// Applies one signal's OTLP/gRPC settings to an exporter builder; build it while
/// [`Transport::enter_grpc`]'s guard is held.
#[cfg(feature = "grpc")]
pub(crate) fn configure_grpc<B: WithExportConfig + opentelemetry_otlp::WithTonicConfig>(
    builder: B,
    signal: &OtlpSignalConfig,
    name: &'static str,
) -> Result<B, TelemetryError> {
    let builder = builder
        .with_endpoint(&signal.endpoint)
        .with_timeout(signal.timeout)
        .with_metadata(grpc_metadata(&signal.headers, name)?);
    Ok(match signal.compression {
        OtlpCompression::Gzip => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        OtlpCompression::None => builder,
    })
}

/// The exporter's HTTP client: the blocking reqwest client, telling the signal's report why each
/// failed request failed (the OTLP exporter itself reduces every network failure to "network
/// error").
#[cfg(feature = "otlp-http")]
#[derive(Debug)]
pub(crate) struct ExplainingClient {
    inner: reqwest::blocking::Client,
    report: Arc<ExportReport>,
    /// Masked out of causes that quote it.
    endpoint: String,
}

// The trait is declared with `#[async_trait]`; this is that expansion, written out.
#[cfg(feature = "otlp-http")]
impl HttpClient for ExplainingClient {
    fn send_bytes<'client, 'future>(
        &'client self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'future>>
    where
        'client: 'future,
        Self: 'future,
    {
        Box::pin(async move {
            let result = self.inner.send_bytes(request).await;
            match &result {
                Ok(response) if !response.status().is_success() => {
                    let status = response.status();
                    self.report.note_failure(format!("the endpoint answered HTTP {status}"));
                }
                Ok(_) => {}
                Err(error) => {
                    let cause = cause(error.as_ref());
                    self.report.note_failure(crate::masking::scrub_url(&cause, &self.endpoint));
                }
            }
            result
        })
    }
}

/// A failed request in words: refused, timed out, or the innermost error's own text.
#[cfg(feature = "otlp-http")]
pub(crate) fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    let mut timed_out = false;
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(e) = e.downcast_ref::<reqwest::Error>() {
            timed_out |= e.is_timeout();
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::TimedOut => timed_out = true,
                _ => {}
            }
        }
        innermost = e;
        current = e.source();
    }
    if timed_out { "timed out".into() } else { innermost.to_string() }
}

/// The shared transport resources of one telemetry instance.
#[derive(Debug, Default)]
pub(crate) struct Transport {
    #[cfg(feature = "grpc")]
    runtime: std::sync::OnceLock<tokio::runtime::Runtime>,
}

impl Transport {
    /// A blocking HTTP client with `timeout` per request, trusting `ca_certificate` (PEM) besides
    /// the system's roots and presenting `client_identity` (certificate and key, PEM) to servers
    /// that ask, built on a helper thread so that calling from inside a tokio runtime cannot
    /// panic.
    #[cfg(feature = "otlp-http")]
    pub(crate) fn http_client(
        &self,
        timeout: Duration,
        ca_certificate: Option<&[u8]>,
        client_identity: Option<&[u8]>,
    ) -> Result<reqwest::blocking::Client, TelemetryError> {
        let connect_timeout = timeout.min(Duration::from_secs(5));
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut builder =
            reqwest::blocking::Client::builder().timeout(timeout).connect_timeout(connect_timeout);
        #[cfg(not(feature = "tls"))]
        let _ = (ca_certificate, client_identity); // refused at validation without the `tls` feature
        #[cfg(feature = "tls")]
        if let Some(pem) = client_identity {
            let identity = reqwest::Identity::from_pem(pem).map_err(|e| TelemetryError::Exporter {
                signal: "otlp",
                message: format!("the client certificate and key are not a usable PEM pair: {e}"),
            })?;
            builder = builder.identity(identity);
        }
        #[cfg(feature = "tls")]
        if let Some(pem) = ca_certificate {
            let certificates =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| TelemetryError::Exporter {
                    signal: "otlp",
                    message: format!("the CA certificate is not valid PEM: {e}"),
                })?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        std::thread::Builder::new()
            .name("telemetry-otlp-client".into())
            .spawn(move || builder.build())
            .map_err(|source| TelemetryError::Runtime { what: "the HTTP client thread", source })?
            .join()
            .map_err(|_| TelemetryError::Exporter {
                signal: "otlp",
                message: "building the HTTP client panicked".into(),
            })?
            .map_err(|e| TelemetryError::Exporter {
                signal: "otlp",
                message: format!("building the HTTP client: {e}"),
            })
    }

    /// The private gRPC runtime's handle, to run requests on from the SDK's threads.
    #[cfg(feature = "grpc")]
    pub(crate) fn grpc_handle(&self) -> Result<tokio::runtime::Handle, TelemetryError> {
        drop(self.enter_grpc()?);
        self.runtime.get().map(|runtime| runtime.handle().clone()).ok_or_else(|| TelemetryError::Runtime {
            what: "the gRPC runtime",
            source: std::io::Error::other("the runtime was not stored"),
        })
    }

    /// Enters the private gRPC runtime (started on first use) while an exporter is built.
    #[cfg(feature = "grpc")]
    pub(crate) fn enter_grpc(&self) -> Result<tokio::runtime::EnterGuard<'_>, TelemetryError> {
        if self.runtime.get().is_none() {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("telemetry-otlp-grpc")
                .enable_all()
                .build()
                .map_err(|source| TelemetryError::Runtime { what: "the gRPC runtime", source })?;
            let _ = self.runtime.set(runtime);
        }
        self.runtime.get().map(tokio::runtime::Runtime::enter).ok_or_else(|| TelemetryError::Runtime {
            what: "the gRPC runtime",
            source: std::io::Error::other("the runtime was not stored"),
        })
    }
}

/// gRPC metadata from header pairs, each key and value validated.
#[cfg(feature = "grpc")]
pub(crate) fn grpc_metadata(
    headers: &[(String, String)],
    signal: &'static str,
) -> Result<opentelemetry_otlp::tonic_types::metadata::MetadataMap, TelemetryError> {
    use tonic::metadata::{MetadataKey, MetadataValue};
    let mut map = opentelemetry_otlp::tonic_types::metadata::MetadataMap::new();
    for (name, value) in headers {
        let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| {
            TelemetryError::Exporter {
                signal,
                message: format!("header name {name:?} is not valid gRPC metadata"),
            }
        })?;
        let value = MetadataValue::try_from(value.as_str()).map_err(|_| TelemetryError::Exporter {
            signal,
            // Never the value itself: it is usually a secret.
            message: format!("the value of header {name:?} is not valid gRPC metadata (visible ASCII only)"),
        })?;
        map.insert(key, value);
    }
    Ok(map)
}

/// Builds an OTLP exporter (`MetricExporter` or `SpanExporter`) for one signal over HTTP or
/// gRPC. A macro because the two exporter builders share methods but no trait for `build`.
#[cfg(any(feature = "otlp-http", feature = "grpc"))]
macro_rules! otlp_exporter {
    ($exporter:path, $name:expr, $signal:expr, $transport:expr, $report:expr) => {{
        let (signal, transport): (&$crate::config::OtlpSignalConfig, &$crate::transport::Transport) =
            ($signal, $transport);
        // The exporter's messages quote the endpoint verbatim, credentials included.
        let failed = |e: opentelemetry_otlp::ExporterBuildError| $crate::error::TelemetryError::Exporter {
            signal: $name,
            message: $crate::masking::scrub_url(&e.to_string(), &signal.endpoint),
        };
        let builder = <$exporter>::builder();
        match signal.protocol {
            #[cfg(feature = "otlp-http")]
            $crate::config::OtlpProtocol::HttpProtobuf => {
                $crate::transport::configure_http(builder.with_http(), signal, transport, $report)?
                    .build()
                    .map_err(failed)
            }
            #[cfg(not(feature = "otlp-http"))]
            $crate::config::OtlpProtocol::HttpProtobuf => {
                let _ = ($report, failed);
                Err($crate::error::feature_needed($name, "OTLP over HTTP", "otlp-http"))
            }
            #[cfg(feature = "grpc")]
            $crate::config::OtlpProtocol::Grpc => {
                // tonic spawns its connection tasks on the runtime current while building.
                let _runtime = transport.enter_grpc()?;
                $crate::transport::configure_grpc(builder.with_tonic(), signal, $name)?
                    .build()
                    .map_err(failed)
            }
            #[cfg(not(feature = "grpc"))]
            $crate::config::OtlpProtocol::Grpc => {
                Err($crate::error::feature_needed($name, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "grpc"))
            }
        }
    }};
}
/// Without an OTLP transport in the build, every OTLP exporter is refused.
#[cfg(not(any(feature = "otlp-http", feature = "grpc")))]
macro_rules! otlp_exporter {
    ($exporter:path, $name:expr, $signal:expr, $transport:expr, $report:expr) => {{
        let _ = ($signal, $transport, $report);
        Err::<$exporter, _>($crate::error::feature_needed($name, "OTLP export", "otlp-http"))
    }};
}
pub(crate) use otlp_exporter;

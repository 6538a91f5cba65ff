//! What the OTLP exporters run on: a blocking HTTP client, and for gRPC a private tokio runtime.
//!
//! Neither depends on the caller: the SDK exports from its own threads, so a plain `fn main`
//! works, and nothing here is created or dropped on a runtime thread of the caller's, which
//! would panic (blocking clients and runtimes refuse to be dropped inside async contexts).

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};

use crate::config::{OtlpCompression, OtlpSignalConfig};
use crate::error::TelemetryError;

/// Applies one signal's OTLP/HTTP settings to an exporter builder (metrics and spans alike).
pub(crate) fn configure_http<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    signal: &OtlpSignalConfig,
    transport: &Transport,
) -> Result<B, TelemetryError> {
    let builder = builder
        .with_endpoint(&signal.endpoint)
        .with_timeout(signal.timeout)
        .with_headers(signal.headers.iter().cloned().collect::<HashMap<_, _>>())
        .with_http_client(transport.http_client(signal.timeout, signal.ca_certificate.as_deref())?);
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

/// The shared transport resources of one telemetry instance.
#[derive(Debug, Default)]
pub(crate) struct Transport {
    #[cfg(feature = "grpc")]
    runtime: std::sync::OnceLock<tokio::runtime::Runtime>,
}

impl Transport {
    /// A blocking HTTP client with `timeout` per request, trusting `ca_certificate` (PEM) besides
    /// the system's roots, built on a helper thread so that calling from inside a tokio runtime
    /// cannot panic.
    pub(crate) fn http_client(
        &self,
        timeout: Duration,
        ca_certificate: Option<&[u8]>,
    ) -> Result<reqwest::blocking::Client, TelemetryError> {
        let connect_timeout = timeout.min(Duration::from_secs(5));
        let mut builder =
            reqwest::blocking::Client::builder().timeout(timeout).connect_timeout(connect_timeout);
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
            .name("contextd-otlp-client".into())
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

    /// Enters the private gRPC runtime (started on first use) while an exporter is built.
    #[cfg(feature = "grpc")]
    pub(crate) fn enter_grpc(&self) -> Result<tokio::runtime::EnterGuard<'_>, TelemetryError> {
        if self.runtime.get().is_none() {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("contextd-otlp-grpc")
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

/// The error for `grpc` without the `grpc` cargo feature.
#[cfg(not(feature = "grpc"))]
pub(crate) fn grpc_unavailable(signal: &'static str) -> TelemetryError {
    TelemetryError::Exporter {
        signal,
        message: "OTLP protocol `grpc` needs contextd-telemetry's `grpc` cargo feature; \
                  enable it or use `http/protobuf`"
            .into(),
    }
}

/// Builds an OTLP exporter (`MetricExporter` or `SpanExporter`) for one signal over HTTP or
/// gRPC. A macro because the two exporter builders share methods but no trait for `build`.
macro_rules! otlp_exporter {
    ($exporter:path, $name:literal, $signal:expr, $transport:expr) => {{
        let (signal, transport): (&$crate::config::OtlpSignalConfig, &$crate::transport::Transport) =
            ($signal, $transport);
        let failed = |e: opentelemetry_otlp::ExporterBuildError| $crate::error::TelemetryError::Exporter {
            signal: $name,
            message: e.to_string(),
        };
        let builder = <$exporter>::builder();
        match signal.protocol {
            $crate::config::OtlpProtocol::HttpProtobuf => {
                $crate::transport::configure_http(builder.with_http(), signal, transport)?
                    .build()
                    .map_err(failed)
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
            $crate::config::OtlpProtocol::Grpc => Err($crate::transport::grpc_unavailable($name)),
        }
    }};
}
pub(crate) use otlp_exporter;

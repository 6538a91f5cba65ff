//! The meter provider: the configured exporter behind a reader, plus the catalog unit view.

use std::sync::Arc;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{
    Instrument, InstrumentKind, PeriodicReader, SdkMeterProvider, Stream, Temporality,
};

use crate::config::{MetricsExporter, TelemetryConfig};
use crate::console::ConsoleMetricExporter;
use crate::error::TelemetryError;
use crate::naming::{SeriesKind, catalog_wire_unit};
#[cfg(any(feature = "otlp-http", feature = "grpc"))]
use crate::otlp_metrics::OtlpMetricExporter;
use crate::overflow::OverflowWatch;
#[cfg(feature = "prometheus")]
use crate::prometheus::PrometheusEndpoint;
use crate::report::{ExportReport, ReportingMetrics};
use crate::striped::StripedSeries;
use crate::transport::Transport;
#[cfg(not(any(feature = "otlp-http", feature = "grpc")))]
use crate::unavailable::Unavailable as OtlpMetricExporter;
#[cfg(not(feature = "prometheus"))]
use crate::unavailable::Unavailable as PrometheusEndpoint;

/// The meter provider, the striped series recorded beside it, and what serves both.
pub(crate) struct MetricsPipeline {
    pub(crate) provider: SdkMeterProvider,
    pub(crate) striped: Arc<StripedSeries>,
    pub(crate) prometheus: Option<PrometheusEndpoint>,
}

pub(crate) fn build(
    config: &TelemetryConfig,
    transport: &Transport,
    report: &Arc<ExportReport>,
    overflow: &Arc<OverflowWatch>,
) -> Result<MetricsPipeline, TelemetryError> {
    let builder = SdkMeterProvider::builder()
        .with_resource(crate::resource::metrics_resource(config))
        .with_view(catalog_unit_view(config.catalog));
    let interval = config.metric_export_interval;
    // Delta OTLP resets the series at each export (`lowmemory` is delta for counters and
    // histograms, as the SDK applies it); every other reader collects them cumulatively.
    let delta = config.metrics_exporter == MetricsExporter::Otlp
        && config.metrics_temporality != Temporality::Cumulative;
    let striped = Arc::new(StripedSeries::new(delta, overflow.clone()));
    if !config.catalog_chosen {
        striped.warn_unnamed_catalogs(config.catalog.namespace);
    }
    let (provider, prometheus) = match config.metrics_exporter {
        MetricsExporter::Otlp | MetricsExporter::Console => {
            let inner = match config.metrics_exporter {
                MetricsExporter::Otlp => {
                    MetricExporterKind::Otlp(otlp_exporter(config, transport, report, &striped)?)
                }
                _ => MetricExporterKind::Console(ConsoleMetricExporter { striped: striped.clone() }),
            };
            let exporter = ReportingMetrics { inner, report: report.clone(), overflow: overflow.clone() };
            (
                builder
                    .with_reader(PeriodicReader::builder(exporter).with_interval(interval).build())
                    .build(),
                None,
            )
        }
        #[cfg(not(feature = "prometheus"))]
        MetricsExporter::Prometheus => {
            return Err(crate::error::feature_needed(
                crate::report::Signal::Metrics.as_str(),
                "OTEL_METRICS_EXPORTER=prometheus",
                "prometheus",
            ));
        }
        #[cfg(feature = "prometheus")]
        MetricsExporter::Prometheus => {
            let (reader, endpoint) = PrometheusEndpoint::start(
                &config.prometheus_host,
                config.prometheus_port,
                config.prometheus_server,
                striped.clone(),
                overflow.clone(),
                report.clone(),
            )?;
            (builder.with_reader(reader).build(), Some(endpoint))
        }
        MetricsExporter::None => (builder.build(), None),
    };
    Ok(MetricsPipeline { provider, striped, prometheus })
}

/// The push exporters, as one type so one reader chain serves both.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "one value per meter provider, never moved on a hot path")]
enum MetricExporterKind {
    Otlp(OtlpMetricExporter),
    Console(ConsoleMetricExporter),
}

impl PushMetricExporter for MetricExporterKind {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        match self {
            Self::Otlp(exporter) => exporter.export(metrics).await,
            Self::Console(exporter) => exporter.export(metrics).await,
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self {
            Self::Otlp(exporter) => exporter.force_flush(),
            Self::Console(exporter) => exporter.force_flush(),
        }
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        match self {
            Self::Otlp(exporter) => exporter.shutdown_with_timeout(timeout),
            Self::Console(exporter) => exporter.shutdown_with_timeout(timeout),
        }
    }

    fn temporality(&self) -> Temporality {
        match self {
            Self::Otlp(exporter) => exporter.temporality(),
            Self::Console(exporter) => exporter.temporality(),
        }
    }
}

/// Sends catalog units in the form that keeps catalog names exact on every Prometheus-style
/// backend (see [`crate::naming::catalog_wire_unit`]); every other instrument is untouched.
pub(crate) fn catalog_unit_view(
    catalog: &'static contextd_metrics::Catalog,
) -> impl Fn(&Instrument) -> Option<Stream> + Send + Sync + 'static {
    move |instrument| {
        let spec = catalog.find_any(instrument.name())?;
        let kind = match instrument.kind() {
            InstrumentKind::Counter | InstrumentKind::ObservableCounter => SeriesKind::Counter,
            InstrumentKind::Histogram => SeriesKind::Histogram,
            _ => SeriesKind::Gauge,
        };
        let unit = catalog_wire_unit(spec.name, instrument.unit(), kind)?;
        Stream::builder().with_unit(unit).build().ok()
    }
}

#[cfg(any(feature = "otlp-http", feature = "grpc"))]
fn otlp_exporter(
    config: &TelemetryConfig,
    transport: &Transport,
    report: &Arc<ExportReport>,
    striped: &Arc<StripedSeries>,
) -> Result<OtlpMetricExporter, TelemetryError> {
    OtlpMetricExporter::new(config, transport, report, striped.clone())
}

#[cfg(not(any(feature = "otlp-http", feature = "grpc")))]
fn otlp_exporter(
    _: &TelemetryConfig,
    _: &Transport,
    _: &Arc<ExportReport>,
    _: &Arc<StripedSeries>,
) -> Result<OtlpMetricExporter, TelemetryError> {
    Err(crate::error::feature_needed(crate::report::Signal::Metrics.as_str(), "OTLP export", "otlp-http"))
}

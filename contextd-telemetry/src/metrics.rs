//! The meter provider: the configured exporter behind a reader, plus the catalog unit view.

use std::sync::Arc;

use opentelemetry_sdk::metrics::{Instrument, InstrumentKind, PeriodicReader, SdkMeterProvider, Stream};

use crate::config::{MetricsExporter, OtlpSignalConfig, TelemetryConfig};
use crate::console::ConsoleMetricExporter;
use crate::error::TelemetryError;
use crate::naming::{SeriesKind, catalog_wire_unit};
use crate::overflow::OverflowWatch;
use crate::prometheus::PrometheusEndpoint;
use crate::report::{ExportReport, Reporting};
use crate::transport::Transport;

/// The meter provider and what serves it.
pub(crate) struct MetricsPipeline {
    pub(crate) provider: SdkMeterProvider,
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
        .with_view(catalog_unit_view);
    let interval = config.metric_export_interval;
    let (provider, prometheus) = match config.metrics_exporter {
        MetricsExporter::Otlp => {
            let exporter = otlp_exporter(&config.otlp_metrics, transport)?;
            let exporter = Reporting {
                inner: exporter,
                report: report.clone(),
                overflow: Some(overflow.clone()),
                span_queue: None,
            };
            (
                builder
                    .with_reader(PeriodicReader::builder(exporter).with_interval(interval).build())
                    .build(),
                None,
            )
        }
        MetricsExporter::Console => {
            let exporter = ConsoleMetricExporter { report: report.clone(), overflow: overflow.clone() };
            (
                builder
                    .with_reader(PeriodicReader::builder(exporter).with_interval(interval).build())
                    .build(),
                None,
            )
        }
        MetricsExporter::Prometheus => {
            let (reader, endpoint) =
                PrometheusEndpoint::start(&config.prometheus_host, config.prometheus_port, overflow.clone())?;
            (builder.with_reader(reader).build(), Some(endpoint))
        }
        MetricsExporter::None => (builder.build(), None),
    };
    Ok(MetricsPipeline { provider, prometheus })
}

/// Sends catalog units in the form that keeps catalog names exact on every Prometheus-style
/// backend (see [`crate::naming::catalog_wire_unit`]); every other instrument is untouched.
fn catalog_unit_view(instrument: &Instrument) -> Option<Stream> {
    let spec = contextd_metrics::find(instrument.name())?;
    let kind = match instrument.kind() {
        InstrumentKind::Counter | InstrumentKind::ObservableCounter => SeriesKind::Counter,
        InstrumentKind::Histogram => SeriesKind::Histogram,
        _ => SeriesKind::Gauge,
    };
    let unit = catalog_wire_unit(spec.name, instrument.unit(), kind)?;
    Stream::builder().with_unit(unit).build().ok()
}

fn otlp_exporter(
    signal: &OtlpSignalConfig,
    transport: &Transport,
) -> Result<opentelemetry_otlp::MetricExporter, TelemetryError> {
    crate::transport::otlp_exporter!(opentelemetry_otlp::MetricExporter, "metrics", signal, transport)
}

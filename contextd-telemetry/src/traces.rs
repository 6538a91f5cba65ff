//! The tracer provider: sampler, bounded batch span processor and the configured exporter.

use std::sync::Arc;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};

use crate::config::{OtlpSignalConfig, SamplerConfig, TelemetryConfig, TracesExporter};
use crate::console::ConsoleSpanExporter;
use crate::error::TelemetryError;
use crate::report::{ExportReport, ReportingSpans};
use crate::span_queue::{Bounded, SpanQueue};
use crate::transport::{OtlpSpanExporter, Transport};

pub(crate) fn build(
    config: &TelemetryConfig,
    transport: &Transport,
    report: &Arc<ExportReport>,
    queue: &Arc<SpanQueue>,
) -> Result<SdkTracerProvider, TelemetryError> {
    let builder = SdkTracerProvider::builder()
        .with_resource(crate::resource::traces_resource(config))
        .with_sampler(sampler(config.sampler))
        .with_span_limits(config.span_limits);
    let batch = BatchConfigBuilder::default()
        .with_scheduled_delay(config.batch.schedule_delay)
        .with_max_queue_size(config.batch.max_queue_size)
        .with_max_export_batch_size(config.batch.max_export_batch_size)
        .build();
    // Spans beyond the queue bound are dropped and counted in front of the batch processor.
    let bounded = |exporter: ReportingSpans<_>| Bounded {
        inner: BatchSpanProcessor::builder(exporter).with_batch_config(batch).build(),
        queue: queue.clone(),
        capacity: config.batch.max_queue_size,
    };
    let reporting = |inner| ReportingSpans { inner, report: report.clone(), queue: queue.clone() };
    let provider = match config.traces_exporter {
        TracesExporter::Otlp => {
            // The thread-based batch processor has no export timeout of its own: OTEL_BSP_EXPORT_TIMEOUT
            // caps the exporter's timeout instead, which bounds every export the same way.
            let mut signal = config.otlp_traces.clone();
            signal.timeout = signal.timeout.min(config.batch.export_timeout);
            let exporter = SpanExporterKind::Otlp(otlp_exporter(&signal, transport, report)?);
            builder.with_span_processor(bounded(reporting(exporter))).build()
        }
        TracesExporter::Console => builder
            .with_span_processor(bounded(reporting(SpanExporterKind::Console(ConsoleSpanExporter))))
            .build(),
        TracesExporter::None => builder.build(),
    };
    Ok(provider)
}

/// The span exporters, as one type so one processor chain serves both.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "one value per tracer provider, never moved on a hot path")]
enum SpanExporterKind {
    Otlp(OtlpSpanExporter),
    Console(ConsoleSpanExporter),
}

impl SpanExporter for SpanExporterKind {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self {
            Self::Otlp(exporter) => exporter.export(batch).await,
            Self::Console(exporter) => exporter.export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        match self {
            Self::Otlp(exporter) => exporter.shutdown_with_timeout(timeout),
            Self::Console(exporter) => exporter.shutdown_with_timeout(timeout),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self {
            Self::Otlp(exporter) => exporter.force_flush(),
            Self::Console(exporter) => exporter.force_flush(),
        }
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        match self {
            Self::Otlp(exporter) => exporter.set_resource(resource),
            Self::Console(exporter) => exporter.set_resource(resource),
        }
    }
}

fn sampler(config: SamplerConfig) -> Sampler {
    match config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(ratio),
        SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerConfig::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerConfig::ParentBasedTraceIdRatio(ratio) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
        }
    }
}

fn otlp_exporter(
    signal: &OtlpSignalConfig,
    transport: &Transport,
    report: &Arc<ExportReport>,
) -> Result<OtlpSpanExporter, TelemetryError> {
    crate::transport::otlp_exporter!(
        OtlpSpanExporter,
        crate::report::Signal::Traces.as_str(),
        signal,
        transport,
        report
    )
}

//! The tracer provider: sampler, bounded batch span processor and the configured exporter.

use std::sync::Arc;

use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider};

use crate::config::{OtlpSignalConfig, SamplerConfig, TelemetryConfig, TracesExporter};
use crate::console::ConsoleSpanExporter;
use crate::error::TelemetryError;
use crate::report::{ExportReport, Reporting};
use crate::transport::Transport;

pub(crate) fn build(
    config: &TelemetryConfig,
    transport: &Transport,
    report: &Arc<ExportReport>,
) -> Result<SdkTracerProvider, TelemetryError> {
    let builder = SdkTracerProvider::builder()
        .with_resource(crate::resource::traces_resource(config))
        .with_sampler(sampler(config.sampler));
    let batch = BatchConfigBuilder::default()
        .with_scheduled_delay(config.batch.schedule_delay)
        .with_max_queue_size(config.batch.max_queue_size)
        .with_max_export_batch_size(config.batch.max_export_batch_size)
        .build();
    let provider = match config.traces_exporter {
        TracesExporter::Otlp => {
            // The thread-based batch processor has no export timeout of its own: OTEL_BSP_EXPORT_TIMEOUT
            // caps the exporter's timeout instead, which bounds every export the same way.
            let mut signal = config.otlp_traces.clone();
            signal.timeout = signal.timeout.min(config.batch.export_timeout);
            let exporter = Reporting {
                inner: otlp_exporter(&signal, transport)?,
                report: report.clone(),
                overflow: None,
            };
            builder
                .with_span_processor(BatchSpanProcessor::builder(exporter).with_batch_config(batch).build())
                .build()
        }
        TracesExporter::Console => {
            let exporter = ConsoleSpanExporter { report: report.clone() };
            builder
                .with_span_processor(BatchSpanProcessor::builder(exporter).with_batch_config(batch).build())
                .build()
        }
        TracesExporter::None => builder.build(),
    };
    Ok(provider)
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
) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    crate::transport::otlp_exporter!(opentelemetry_otlp::SpanExporter, "traces", signal, transport)
}

//! The console exporters: metrics as Prometheus text lines, spans as one line each, on stdout.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::Status;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Prints each export as Prometheus text, preceded by a line naming the service and time.
/// (Its outcomes and overflow checks are the `Reporting` wrapper's job, as for OTLP.)
#[derive(Debug)]
pub(crate) struct ConsoleMetricExporter {
    pub(crate) striped: std::sync::Arc<crate::striped::StripedSeries>,
}

impl PushMetricExporter for ConsoleMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let mut text = String::new();
        let service = metrics
            .resource()
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .map(|v| v.to_string())
            .unwrap_or_default();
        let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let _ = writeln!(text, "# metrics of {service} at unix time {}", since_epoch.as_secs());
        crate::exposition::render(metrics, &self.striped.collect(&self.striped.read()), &mut text);
        std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| {
            opentelemetry_sdk::error::OTelSdkError::InternalFailure(format!("writing to stdout: {e}"))
        })
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// Prints one line per finished span: name, ids, parent, duration, status and attributes.
/// (Its outcomes are recorded by the `Reporting` wrapper around it.)
#[derive(Debug)]
pub(crate) struct ConsoleSpanExporter;

impl SpanExporter for ConsoleSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut text = String::new();
        for span in &batch {
            let duration = span.end_time.duration_since(span.start_time).unwrap_or_default();
            let _ = write!(
                text,
                "span {} trace={} span={} parent={} duration={duration:?}",
                span.name,
                span.span_context.trace_id(),
                span.span_context.span_id(),
                span.parent_span_id,
            );
            match &span.status {
                Status::Unset => {}
                Status::Ok => text.push_str(" status=ok"),
                Status::Error { description } => {
                    let _ = write!(text, " status=error({description})");
                }
            }
            for kv in &span.attributes {
                let _ = write!(text, " {}={}", kv.key, kv.value);
            }
            text.push('\n');
        }
        std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| {
            opentelemetry_sdk::error::OTelSdkError::InternalFailure(format!("writing to stdout: {e}"))
        })
    }
}

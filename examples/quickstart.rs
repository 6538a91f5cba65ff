//! Quickstart: instrument a few checkpoint operations and print the metrics.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Needs nothing running: metrics go to the console (the embedded default) unless
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_METRICS_EXPORTER`) says otherwise.

use std::time::{Duration, Instant};

use contextd_telemetry::{MetricsExporter, TelemetryConfig, TracesExporter};
use opentelemetry::KeyValue;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = TelemetryConfig::from_env()?.with_service_name("contextd-quickstart");
    let configured = |name| std::env::var_os(name).is_some();
    if !configured("OTEL_EXPORTER_OTLP_ENDPOINT") && !configured("OTEL_METRICS_EXPORTER") {
        config =
            config.with_metrics_exporter(MetricsExporter::Console).with_traces_exporter(TracesExporter::None);
    }
    let telemetry = config.init()?;

    for i in 0..20u32 {
        let (operation, work) = if i % 4 == 0 { ("search", 3) } else { ("create", 1) };
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(work));
        let status = if i % 7 == 6 { "error" } else { "success" };
        let meters = contextd_metrics::meters();
        meters
            .checkpoint_operations
            .add(1, &[KeyValue::new("operation", operation), KeyValue::new("status", status)]);
        meters
            .checkpoint_duration
            .record(started.elapsed().as_secs_f64(), &[KeyValue::new("operation", operation)]);
        if operation == "search" {
            meters.checkpoint_search_results.record(3, &[]);
            meters.checkpoint_search_score.record(0.82, &[]);
        }
    }

    // Shutdown flushes: the console exporter prints every series once more on the way out.
    telemetry.shutdown()?;
    Ok(())
}

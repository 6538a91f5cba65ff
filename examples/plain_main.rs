//! No async runtime at all: a plain `fn main`, telemetry exported by the SDK's own threads.
//!
//! ```text
//! cargo run --example plain_main
//! OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://127.0.0.1:8428/opentelemetry/v1/metrics cargo run --example plain_main
//! ```

#[path = "support/report.rs"]
mod report;
use report::Report;

use contextd_metrics::instrument_op;
use contextd_telemetry::{MetricsExporter, TelemetryConfig, TracesExporter};

#[derive(Debug)]
struct NotFound;

#[instrument_op("skill", "search")]
fn search(skills: &[&str], query: &str) -> Result<usize, NotFound> {
    skills.iter().position(|s| s.contains(query)).ok_or(NotFound)
}

fn main() -> Result<(), Report> {
    let mut config = TelemetryConfig::from_env()?.with_service_name("contextd-plain-main");
    if std::env::var_os("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").is_none()
        && std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
    {
        config =
            config.with_metrics_exporter(MetricsExporter::Console).with_traces_exporter(TracesExporter::None);
    }
    let telemetry = config.init()?;
    let skills = ["retry flaky test", "bump dependency", "rollback deploy"];
    for query in ["flaky", "deploy", "missing"] {
        match search(&skills, query) {
            Ok(index) => println!("{query}: skill #{index}"),
            Err(NotFound) => println!("{query}: no skill"),
        }
    }
    telemetry.shutdown()?; // flushes; the console exporter prints the series
    Ok(())
}

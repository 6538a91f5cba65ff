//! Quickstart: instrument a few checkpoint operations, export their metrics, print a summary.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Needs nothing running: metrics go to the console (the embedded default) unless
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_METRICS_EXPORTER`) says otherwise. It ends with a
//! table per operation — calls, errors, p50/p95 latency — and a bar of the p95.

#[path = "support/report.rs"]
mod report;
use report::Report;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use contextd_metrics::instrument_ops;
use contextd_telemetry::{MetricsExporter, TelemetryConfig, TracesExporter};

#[derive(Debug)]
struct StoreError;

/// A toy checkpoint store; `#[instrument_ops]` records every method as a catalog operation.
struct Checkpoints {
    saved: Vec<String>,
}

#[instrument_ops("checkpoint")]
impl Checkpoints {
    fn create(&mut self, summary: &str) -> Result<usize, StoreError> {
        std::thread::sleep(Duration::from_millis(2 + summary.len() as u64 % 5));
        if summary.contains("conflict") {
            return Err(StoreError);
        }
        self.saved.push(summary.to_owned());
        Ok(self.saved.len())
    }

    fn search(&self, query: &str) -> Vec<&str> {
        std::thread::sleep(Duration::from_millis(6 + query.len() as u64 % 7));
        self.saved.iter().filter(|s| s.contains(query)).map(String::as_str).collect()
    }

    fn list(&self) -> usize {
        std::thread::sleep(Duration::from_millis(1));
        self.saved.len()
    }
}

/// What the summary needs per operation: durations and errors.
#[derive(Default)]
struct Tally {
    durations: Vec<Duration>,
    errors: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn main() -> Result<(), Report> {
    let mut config = TelemetryConfig::from_env()?.with_service_name("contextd-quickstart");
    let configured = |name| std::env::var_os(name).is_some();
    if !configured("OTEL_EXPORTER_OTLP_ENDPOINT") && !configured("OTEL_METRICS_EXPORTER") {
        config =
            config.with_metrics_exporter(MetricsExporter::Console).with_traces_exporter(TracesExporter::None);
    }
    let telemetry = config.init()?;

    let mut store = Checkpoints { saved: Vec::new() };
    let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut timed = |operation: &'static str, ok: bool, started: Instant| {
        let entry = tally.entry(operation).or_default();
        entry.durations.push(started.elapsed());
        entry.errors += usize::from(!ok);
    };
    for i in 0..40 {
        let summary =
            if i % 9 == 8 { format!("merge conflict {i}") } else { format!("fixed flaky test {i}") };
        let started = Instant::now();
        let created = store.create(&summary);
        timed("create", created.is_ok(), started);
        if i % 3 == 0 {
            let started = Instant::now();
            let _ = store.search("flaky");
            timed("search", true, started);
        }
        if i % 5 == 0 {
            let started = Instant::now();
            let _ = store.list();
            timed("list", true, started);
        }
    }

    // Shutdown flushes: the console exporter prints every series, as a backend would store it.
    telemetry.shutdown()?;

    println!("\ncheckpoint operations (the same calls as contextd_checkpoint_* above)\n");
    println!("{:<8} {:>6} {:>7} {:>9} {:>9}  p95", "op", "calls", "errors", "p50", "p95");
    let slowest = tally.values().map(|t| {
        let mut d = t.durations.clone();
        d.sort();
        percentile(&d, 0.95)
    });
    let scale = slowest.max().unwrap_or(Duration::from_millis(1)).as_secs_f64();
    for (operation, t) in &tally {
        let mut durations = t.durations.clone();
        durations.sort();
        let (p50, p95) = (percentile(&durations, 0.5), percentile(&durations, 0.95));
        let bar = "█".repeat(((p95.as_secs_f64() / scale) * 30.0).round().max(1.0) as usize);
        println!(
            "{operation:<8} {:>6} {:>7} {:>7.1}ms {:>7.1}ms  {bar}",
            durations.len(),
            t.errors,
            p50.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

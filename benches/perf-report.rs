//! `cargo run -p contextd-benches --bin perf-report`: rewrites the tables of
//! `docs/performance.md` and the chart `docs/performance.svg` from criterion's results of the
//! last `cargo bench -p contextd-benches` run (`target/criterion`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const BEGIN: &str = "<!-- perf-report:begin -->";
const END: &str = "<!-- perf-report:end -->";

/// Median nanoseconds by (group, benchmark).
type Medians = BTreeMap<(String, String), f64>;

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every `<group>/<bench>/new/{benchmark,estimates}.json` under `root`.
fn medians(root: &Path) -> Result<Medians, String> {
    let mut out = Medians::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "new") {
                    let benchmark = read_json(&path.join("benchmark.json"))?;
                    let estimates = read_json(&path.join("estimates.json"))?;
                    let group = benchmark["group_id"].as_str().unwrap_or_default().to_owned();
                    let mut name = benchmark["function_id"].as_str().unwrap_or_default().to_owned();
                    if let Some(value) = benchmark["value_str"].as_str() {
                        name = if name.is_empty() { value.to_owned() } else { format!("{name}/{value}") };
                    }
                    let median = estimates["median"]["point_estimate"]
                        .as_f64()
                        .ok_or_else(|| format!("{}: no median", path.display()))?;
                    out.insert((group, name), median);
                } else {
                    stack.push(path);
                }
            }
        }
    }
    Ok(out)
}

struct Report<'a> {
    medians: &'a Medians,
    missing: Vec<String>,
}

impl Report<'_> {
    fn get(&mut self, group: &str, name: &str) -> f64 {
        match self.medians.get(&(group.to_owned(), name.to_owned())) {
            Some(ns) => *ns,
            None => {
                self.missing.push(format!("{group} / {name}"));
                f64::NAN
            }
        }
    }
}

fn ns(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} ms", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} µs", value / 1e3)
    } else {
        format!("{value:.1} ns")
    }
}

fn cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = info.lines().filter(|l| l.starts_with("processor")).count();
    format!("{model}, {cores} logical cores")
}

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    match run(&root) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("perf-report: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(root: &Path) -> Result<(), String> {
    let criterion = root.join("target/criterion");
    let medians = medians(&criterion)?;
    let mut r = Report { medians: &medians, missing: Vec::new() };
    let mut out = String::new();
    let _ = writeln!(out, "Measured on {} by one `cargo bench -p contextd-benches` run; medians.\n", cpu());

    // Per call.
    let per_call = [
        ("bare", "an empty function (the floor)"),
        ("clock: Instant pair", "`Instant::now()` + `elapsed()`"),
        ("clock: quanta pair", "a quanta clock pair (what `#[instrument_op]` uses)"),
        ("instrument_op (metrics only)", "`#[instrument_op]`, metrics"),
        (
            "instrument_op (+ span in an unsampled trace)",
            "`#[instrument_op]`, metrics + span, trace not sampled",
        ),
        ("prometheus-client handles", "prometheus-client counter + histogram handles, `Instant` timing"),
        ("hand-written OTel", "OTel SDK `add` + `record` with static `[KeyValue]`, `Instant` timing"),
    ];
    let otel = r.get("per call", "hand-written OTel");
    let prometheus = r.get("per call", "prometheus-client handles");
    out.push_str("### One instrumented call\n\n| approach | per call | vs hand-written OTel | vs prometheus-client |\n|---|---:|---:|---:|\n");
    let mut chart = Vec::new();
    for (name, label) in per_call {
        let value = r.get("per call", name);
        chart.push((label, value));
        let _ =
            writeln!(out, "| {label} | {} | {:.2}× | {:.2}× |", ns(value), value / otel, value / prometheus);
    }
    let wrapped = r.get("per call", "instrument_op (metrics only)");
    out.push_str("\n### Two threads on one call site (time per op)\n\n| approach | 1 thread | 2 threads | 2 threads / 1 thread |\n|---|---:|---:|---:|\n");
    for (two, one, label) in [
        (
            "2 threads: instrument_op, one call site (per op)",
            "instrument_op (metrics only)",
            "`#[instrument_op]`",
        ),
        (
            "2 threads: prometheus-client handles (per op)",
            "prometheus-client handles",
            "prometheus-client handles",
        ),
        ("2 threads: hand-written OTel (per op)", "hand-written OTel", "hand-written OTel"),
    ] {
        let (t2, t1) = (r.get("per call", two), r.get("per call", one));
        let _ = writeln!(out, "| {label} | {} | {} | {:.2}× |", ns(t1), ns(t2), t2 / t1);
    }
    // The histograms alone, where the contention was: ours against the SDK's and the peers'.
    for (name, label) in [
        ("AtomicHistogram alone", "histogram alone: striped (`contextd_metrics::striped`)"),
        ("Meters, bound", "histogram alone: OTel SDK bound"),
        ("metrics-rs handle", "histogram alone: metrics-rs handle"),
        ("prometheus-client handle", "histogram alone: prometheus-client handle"),
    ] {
        let (t1, t2) =
            (r.get("histogram record", name), r.get("histogram record", &format!("2 threads: {name}")));
        let _ = writeln!(out, "| {label} | {} | {} | {:.2}× |", ns(t1), ns(t2), t2 / t1);
    }
    let two_thread = r.get("per call", "2 threads: instrument_op, one call site (per op)");
    let two_thread_ratio = two_thread / wrapped;
    let two_thread_prometheus = r.get("per call", "2 threads: prometheus-client handles (per op)");
    let striped_two = r.get("histogram record", "2 threads: AtomicHistogram alone");
    let peers_two = ["metrics-rs handle", "prometheus-client handle"]
        .map(|name| r.get("histogram record", &format!("2 threads: {name}")));

    // The default configuration: every root call starts a sampled span.
    let peer_name = "tracing::instrument + tracing-opentelemetry + OTel metrics";
    let sampled = r.get("sampled span", "instrument_op");
    let peer = r.get("sampled span", peer_name);
    let span_alone = r.get("sampled span", "the SDK's span alone");
    let sampled_two = r.get("sampled span", "2 threads: instrument_op (per op)");
    let peer_two =
        r.get("sampled span", "2 threads: tracing + tracing-opentelemetry + OTel metrics (per op)");
    out.push_str("\n### Sampled spans (the default configuration)\n\n| approach | 1 thread | 2 threads (per op) | 2 threads / 1 thread | vs the peer |\n|---|---:|---:|---:|---:|\n");
    for (label, one, two) in [
        ("`#[instrument_op]`, metrics + sampled span", sampled, sampled_two),
        (
            "peer: `#[tracing::instrument]` + tracing-opentelemetry + OTel counter and histogram",
            peer,
            peer_two,
        ),
    ] {
        let _ =
            writeln!(out, "| {label} | {} | {} | {:.2}× | {:.2}× |", ns(one), ns(two), two / one, one / peer);
    }
    let _ = writeln!(
        out,
        "| the SDK's span alone (built, made current, ended: no clock, no metrics) | {} | | | {:.2}× |",
        ns(span_alone),
        span_alone / peer
    );
    let _ = writeln!(
        out,
        "\nA sampled wrapped call costs the SDK's span plus {} (timing, metrics, the span's start and end times, its status).",
        ns(sampled - span_alone)
    );

    for (group, title) in [("counter add", "Counter add"), ("histogram record", "Histogram record")] {
        let _ = write!(out, "\n### {title}\n\n| approach | 1 thread | 2 threads |\n|---|---:|---:|\n");
        let names: Vec<String> = medians
            .keys()
            .filter(|(g, n)| g == group && !n.starts_with("2 threads: "))
            .map(|(_, n)| n.clone())
            .collect();
        for name in names {
            let one = r.get(group, &name);
            let two = r.get(group, &format!("2 threads: {name}"));
            let _ = writeln!(out, "| {name} | {} | {} |", ns(one), ns(two));
        }
    }

    let memory = read_json(&criterion.join("contextd-export-memory.json"))?;
    out.push_str("\n### One export (collect + encode OTLP protobuf)\n\n| series | time | request size | heap per series (after one export) |\n|---:|---:|---:|---:|\n");
    let mut per_series = Vec::new();
    for entry in memory.as_array().into_iter().flatten() {
        let series = entry["series"].as_u64().unwrap_or(0);
        let time = r.get("export: collect + encode OTLP", &series.to_string());
        let heap = entry["heap_bytes_per_series"].as_u64().unwrap_or(0);
        per_series.push((series, time, heap));
        let _ = writeln!(
            out,
            "| {series} | {} | {} KiB | {heap} B |",
            ns(time),
            entry["request_bytes"].as_u64().unwrap_or(0) / 1024
        );
    }
    let linearity =
        match (per_series.iter().find(|s| s.0 == 1_000), per_series.iter().find(|s| s.0 == 10_000)) {
            (Some(small), Some(large)) => large.1 / small.1,
            _ => f64::NAN,
        };
    let _ =
        writeln!(out, "\n10 000 series take {linearity:.1}× the time of 1 000 (linear growth would be 10×).");

    out.push_str("\n### Report parsing (what the testing gauges do every refresh)\n\n| report | 10 000 elements | 100 000 | 1 000 000 | growth per 10× input |\n|---|---:|---:|---:|---:|\n");
    let mut worst_growth: f64 = 0.0;
    let mut junit_100k = f64::NAN;
    for format in ["junit", "cobertura"] {
        let [small, medium, large] =
            ["10000", "100000", "1000000"].map(|n| r.get("report parsing", &format!("{format}/{n}")));
        let growth = (medium / small).max(large / medium);
        worst_growth = worst_growth.max(growth);
        if format == "junit" {
            junit_100k = medium;
        }
        let _ = writeln!(
            out,
            "| {format} | {} | {} | {} | {:.1}× and {:.1}× |",
            ns(small),
            ns(medium),
            ns(large),
            medium / small,
            large / medium
        );
    }

    out.push_str("\n### Start-up and shutdown\n\n| operation | time |\n|---|---:|\n");
    for name in ["init()", "shutdown(), live endpoint", "shutdown(), dead endpoint"] {
        let _ = writeln!(out, "| `{name}` | {} |", ns(r.get("lifecycle", name)));
    }

    let export_10k = per_series.iter().find(|s| s.0 == 10_000);
    let mark = |ok: bool| if ok { "met" } else { "**not met**" };
    out.push_str("\n### Targets\n\n| target | measured | |\n|---|---|---|\n");
    let ratios = [
        ("`#[instrument_op]` ≤ 0.20× hand-written OTel", wrapped / otel, 0.20),
        ("`#[instrument_op]` ≤ 0.75× prometheus-client handles", wrapped / prometheus, 0.75),
        ("2 threads on one call site ≤ 1.3× one thread, per op", two_thread_ratio, 1.3),
        (
            "2 threads: `#[instrument_op]` ahead of prometheus-client handles (ours / theirs ≤ 1)",
            two_thread / two_thread_prometheus,
            1.0,
        ),
        (
            "2 threads: striped histogram ahead of metrics-rs and prometheus-client handles (ours / the faster ≤ 1)",
            striped_two / peers_two[0].min(peers_two[1]),
            1.0,
        ),
        ("sampled span: ≤ 0.2× the tracing peer", sampled / peer, 0.2),
        ("sampled span: 2 threads ≤ 1.5× one thread", sampled_two / sampled, 1.5),
        ("export of 10 000 series ≤ 11× the time of 1 000", linearity, 11.0),
    ];
    for (target, measured, limit) in ratios {
        let _ = writeln!(out, "| {target} | {measured:.2}× | {} |", mark(measured <= limit));
    }
    if let Some((_, time, heap)) = export_10k {
        let _ = writeln!(out, "| export of 10 000 series < 50 ms | {} | {} |", ns(*time), mark(*time < 50e6));
        let _ = writeln!(out, "| < 2 KiB of memory per series | {heap} B | {} |", mark(*heap < 2048));
    }
    let _ = writeln!(
        out,
        "| report parsing grows ≤ 12× per 10× input | {worst_growth:.1}× at most | {} |",
        mark(worst_growth <= 12.0)
    );
    let _ = writeln!(
        out,
        "| 100 000 JUnit test cases parsed well inside the gauge's 10 s timeout | {} | {} |",
        ns(junit_100k),
        mark(junit_100k < 1e9)
    );
    out.push_str("| 0 allocations per warm call | checked by `contextd-metrics/tests/no_alloc.rs` | see `scripts/test` |\n");

    if !r.missing.is_empty() {
        return Err(format!(
            "no results for: {}; run `cargo bench -p contextd-benches` first",
            r.missing.join(", ")
        ));
    }
    let doc_path = root.join("docs/performance.md");
    let doc = std::fs::read_to_string(&doc_path).map_err(|e| format!("{}: {e}", doc_path.display()))?;
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        return Err(format!("{} lacks the {BEGIN} … {END} markers", doc_path.display()));
    };
    let updated = format!("{}{BEGIN}\n{out}{}", &doc[..begin], &doc[end..]);
    std::fs::write(&doc_path, updated).map_err(|e| format!("{}: {e}", doc_path.display()))?;
    std::fs::write(root.join("docs/performance.svg"), svg(&chart))
        .map_err(|e| format!("docs/performance.svg: {e}"))?;
    println!("rewrote docs/performance.md and docs/performance.svg");
    Ok(())
}

/// A horizontal bar chart of nanoseconds per call.
fn svg(bars: &[(&str, f64)]) -> String {
    let (label_width, bar_width, row, top) = (430.0, 360.0, 30.0, 40.0);
    let max = bars.iter().map(|(_, v)| *v).fold(1.0, f64::max);
    let height = top + row * bars.len() as f64 + 30.0;
    let width = label_width + bar_width + 90.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"13\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"24\" font-size=\"15\" font-weight=\"bold\">Nanoseconds per instrumented call (median, lower is better)</text>\n"
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let w = (value / max * bar_width).max(1.0);
        let color = if label.contains("instrument_op") { "#2b7bba" } else { "#9aa5b1" };
        let label = label.replace('&', "&amp;").replace('<', "&lt;").replace('`', "");
        let _ = writeln!(
            out,
            "<text x=\"10\" y=\"{:.0}\">{label}</text><rect x=\"{label_width}\" y=\"{:.0}\" width=\"{w:.1}\" height=\"18\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.0}\">{}</text>",
            y + 14.0,
            y + 1.0,
            label_width + w + 6.0,
            y + 14.0,
            ns(*value)
        );
    }
    out.push_str("</svg>\n");
    out
}

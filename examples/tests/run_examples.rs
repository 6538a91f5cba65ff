//! The examples run as a newcomer runs them, and the demo's telemetry lands in a real
//! VictoriaMetrics: every catalog instrument, the HTTP and the process metrics.

use std::process::{Command, Output};
use std::time::Duration;

use contextd_metrics::InstrumentKind;
use contextd_metrics::contextd::INSTRUMENTS;
use contextd_testkit::{VictoriaMetrics, eventually, example_binary};

/// An example binary, freshly built.
fn example(name: &str) -> Command {
    let mut command = Command::new(example_binary(name));
    // The examples read the OTEL_* environment; start from none of it.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command
}

fn run(command: &mut Command) -> (String, String) {
    let Output { status, stdout, stderr } = command.output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned());
    assert!(status.success(), "{command:?} failed: {status}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn quickstart_prints_the_series_and_a_summary_with_nothing_running() {
    let (stdout, _) = run(&mut example("quickstart"));
    assert!(
        stdout.contains("contextd_checkpoint_operations_total{operation=\"create\",status=\"error\"} 4\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("contextd_checkpoint_duration_seconds_bucket{operation=\"search\",le=\"0.025\"}"),
        "{stdout}"
    );
    let summary = stdout.split("checkpoint operations").nth(1).expect("the summary table");
    for row in ["create       40       4", "search       14       0", "list          8       0"] {
        assert!(summary.contains(row), "{summary}");
    }
}

#[test]
fn plain_main_runs_without_a_runtime() {
    let (stdout, _) = run(&mut example("plain_main"));
    assert!(stdout.contains("flaky: skill #0") && stdout.contains("missing: no skill"), "{stdout}");
    assert!(
        stdout.contains("contextd_skill_operations_total{operation=\"search\",status=\"error\"} 1\n"),
        "{stdout}"
    );
}

#[test]
fn demo_rejects_bad_flags_and_takes_both_flag_forms() {
    for bad in [
        &["--duration", "soon"][..],
        &["--duration=soon"],
        &["--operations", "0"],
        &["--serve", "--duration=3"],
    ] {
        let output = example("contextd_demo").args(bad).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(stderr.contains("--duration") || stderr.contains("--operations"), "{bad:?}: {stderr}");
    }
    for good in [&["--operations=2"][..], &["--operations", "2"]] {
        let mut demo = example("contextd_demo");
        let (_, stderr) =
            run(demo.args(good).env("OTEL_METRICS_EXPORTER", "none").env("OTEL_TRACES_EXPORTER", "none"));
        assert!(stderr.contains("2 rounds"), "{good:?}: {stderr}");
    }
}

#[test]
fn demo_fills_every_catalog_series_in_victoriametrics() {
    let vm = VictoriaMetrics::start();
    run(example("contextd_demo")
        .args(["--operations", "25"])
        .env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", vm.otlp_metrics_endpoint())
        .env("OTEL_TRACES_EXPORTER", "none")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000"));
    let mut expected: Vec<String> = INSTRUMENTS
        .as_slice()
        .iter()
        .map(|s| {
            if s.kind == InstrumentKind::Histogram { format!("{}_count", s.name) } else { s.name.to_owned() }
        })
        .collect();
    expected.extend(
        [
            "http_server_request_duration_seconds_count",
            "http_server_active_requests",
            "process_memory_usage_bytes",
        ]
        .map(String::from),
    );
    let names = eventually(Duration::from_secs(20), "the demo's series", || {
        let names = vm.metric_names();
        expected.iter().all(|e| names.contains(e)).then_some(names)
    });
    for name in &expected {
        assert!(names.contains(name), "{name} missing; stored: {names:?}");
    }
    // The demo records errors too, so error ratios have something to show.
    let errors = vm.query("sum(contextd_skill_operations_total{status=\"error\"})");
    assert!(!errors.is_empty(), "no failed skill applications recorded");
}

#[test]
fn heap_profile_writes_a_profile_of_a_service_on_jemalloc() {
    let dir = std::env::temp_dir().join(format!("contextd-heap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (stdout, _) = run(example("heap_profile").current_dir(&dir));
    assert!(stdout.contains("wrote heap.pb.gz") && stdout.contains("holding 32 MiB"), "{stdout}");
    let profile = std::fs::read(dir.join("heap.pb.gz")).unwrap();
    assert!(
        profile.len() > 100 && profile.starts_with(&[0x1f, 0x8b]),
        "a gzipped profile: {} bytes",
        profile.len()
    );
    let _ = std::fs::remove_dir_all(dir);
}

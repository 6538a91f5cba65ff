//! The 9 observable gauges through a real `SdkMeterProvider`: values from fixture reports and
//! sources, and a failing, slow or panicking source costing only its own point.

use contextd_testkit::points as common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use contextd_gauges::{
    CacheStats, CountGauge, CoverageFormat, GaugeSources, SkillSuccessTracker, TestTypeRules, TestsByType,
    read_coverage, read_junit, scan_regression_tree,
};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Gauge points of one export: (name, sorted attributes) → value (other kinds left out).
fn gauge_points(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> common::Points {
    let gauges = [
        "contextd_checkpoints_total",
        "contextd_remediations_total",
        "contextd_skills_total",
        "contextd_skill_success_rate",
        "contextd_test_coverage_percent",
        "contextd_tests_total",
        "contextd_bugs_total",
        "contextd_regression_tests_total",
        "contextd_embedding_cache_hit_ratio",
    ];
    common::export_points(provider, exporter)
        .into_iter()
        .filter(|((name, _), _)| gauges.contains(&name.as_str()))
        .collect()
}

fn provider() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let provider =
        SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
    (provider, exporter)
}

/// Waits until the first reads have landed.
fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn fixture_reports_parse_to_the_numbers_their_tools_report() {
    let lcov = read_coverage(&fixture("lcov.info")).unwrap();
    assert_eq!((lcov.format, lcov.covered, lcov.total, lcov.percent), (CoverageFormat::Lcov, 5, 8, 62.5));
    let cobertura = read_coverage(&fixture("cobertura.xml")).unwrap();
    assert_eq!((cobertura.format, cobertura.percent), (CoverageFormat::Cobertura, 81.25));
    let llvm = read_coverage(&fixture("llvm-cov.json")).unwrap();
    assert_eq!((llvm.format, llvm.percent), (CoverageFormat::LlvmCovJson, 75.0));
    // Real cargo-nextest output (`cargo nextest run` with a JUnit path configured).
    let junit = read_junit(&fixture("nextest-junit.xml"), &TestTypeRules::cargo_nextest()).unwrap();
    assert_eq!(junit, TestsByType { unit: 1, integration: 6, e2e: 0 });
    let (bugs, tests) = scan_regression_tree(&fixture("regression")).unwrap();
    assert_eq!(bugs.counts[0][0], 1, "critical/open");
    assert_eq!(bugs.counts[1][1], 2, "high/fixed");
    assert_eq!(bugs.by_label().iter().map(|(_, _, n)| n).sum::<i64>(), 3);
    assert_eq!(tests.counts, [2, 1, 1]);
}

#[test]
fn real_cargo_llvm_cov_reports_agree_across_formats() {
    // Both written by one `cargo llvm-cov -p contextd-metrics --lib` run (cargo-llvm-cov 0.9.1):
    // `--json`, then `report --lcov`. The tool's own JSON totals say 568 of 1715 lines.
    let json = read_coverage(&fixture("cargo-llvm-cov.json")).unwrap();
    let lcov = read_coverage(&fixture("cargo-llvm-cov.lcov")).unwrap();
    assert_eq!((json.format, json.covered, json.total), (CoverageFormat::LlvmCovJson, 568, 1715));
    assert_eq!((lcov.format, lcov.covered, lcov.total), (CoverageFormat::Lcov, 568, 1715));
    assert!((json.percent - 33.119533527696795).abs() < 1e-9);
}

#[test]
fn malformed_reports_name_file_and_line() {
    let dir = std::env::temp_dir().join(format!("contextd-gauges-bad-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("bugs")).unwrap();
    std::fs::write(dir.join("bugs/BUG-9.md"), "# no fields\nstatus: open\n").unwrap();
    let error = scan_regression_tree(&dir).unwrap_err().to_string();
    assert!(error.contains("BUG-9.md") && error.contains("no `severity:` line"), "{error}");
    let truncated = dir.join("junit.xml");
    std::fs::write(&truncated, "<testsuites>\n<testsuite name=\"a\">\n<testcase name=\"x\"/>\n").unwrap();
    let error = read_junit(&truncated, &TestTypeRules::cargo_nextest()).unwrap_err().to_string();
    assert!(error.contains("junit.xml:4:") && error.contains("truncated"), "{error}");
    let empty = dir.join("lcov.info");
    std::fs::write(&empty, "").unwrap();
    assert!(read_coverage(&empty).unwrap_err().to_string().contains("empty"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn all_nine_gauges_export_their_sources_values() {
    let (provider, exporter) = provider();
    let tracker: &'static SkillSuccessTracker =
        Box::leak(Box::new(SkillSuccessTracker::new(Duration::from_secs(60), 10)));
    tracker.record("fix-build", true);
    tracker.record("fix-build", true);
    tracker.record("fix-build", false);
    tracker.record("rollback", true);
    let _running = GaugeSources::new()
        .refresh_interval(Duration::from_millis(100))
        .count(CountGauge::Checkpoints, || Ok::<_, String>(42))
        .count_async(CountGauge::Remediations, || async { Ok::<_, String>(7) })
        .count(CountGauge::Skills, || Ok::<_, String>(3))
        .coverage_report(fixture("lcov.info"))
        .junit_report(fixture("nextest-junit.xml"), TestTypeRules::cargo_nextest())
        .regression_tree(fixture("regression"))
        .embedding_cache(|| {
            Ok::<_, String>(vec![
                CacheStats { model: "text-embedding-3-small".into(), hits: 3, misses: 1 },
                CacheStats { model: "unused".into(), hits: 0, misses: 0 },
            ])
        })
        .skill_success(tracker)
        .start_on(&provider.meter(contextd_metrics::contextd::CATALOG.namespace))
        .unwrap();
    settle();
    let points = gauge_points(&provider, &exporter);
    let get = |name: &str, attrs: &str| points.get(&(name.to_owned(), attrs.to_owned())).copied();
    assert_eq!(get("contextd_checkpoints_total", ""), Some(42.0));
    assert_eq!(get("contextd_remediations_total", ""), Some(7.0));
    assert_eq!(get("contextd_skills_total", ""), Some(3.0));
    assert_eq!(get("contextd_test_coverage_percent", ""), Some(62.5));
    assert_eq!(get("contextd_tests_total", "type=integration"), Some(6.0));
    assert_eq!(get("contextd_tests_total", "type=unit"), Some(1.0));
    assert_eq!(get("contextd_bugs_total", "severity=high,status=fixed"), Some(2.0));
    assert_eq!(get("contextd_bugs_total", "severity=low,status=verified"), Some(0.0));
    assert_eq!(get("contextd_regression_tests_total", "category=bugs"), Some(2.0));
    assert_eq!(get("contextd_embedding_cache_hit_ratio", "model=text-embedding-3-small"), Some(0.75));
    assert_eq!(get("contextd_embedding_cache_hit_ratio", "model=unused"), None, "0/0 is not a ratio");
    let rate = get("contextd_skill_success_rate", "skill_id=fix-build").unwrap();
    assert!((rate - 2.0 / 3.0).abs() < 1e-12);
    let names: std::collections::BTreeSet<&str> = points.keys().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 9, "{names:?}");
}

#[test]
fn failing_slow_and_panicking_sources_lose_only_their_own_point() {
    let (provider, exporter) = provider();
    let running = GaugeSources::new()
        .refresh_interval(Duration::from_millis(100))
        .source_timeout(Duration::from_millis(200))
        .count(CountGauge::Checkpoints, || Err::<i64, _>("vector store unreachable"))
        .count_async(CountGauge::Remediations, std::future::pending::<Result<i64, String>>)
        .count(CountGauge::Skills, || -> Result<i64, String> { panic!("source bug") })
        .coverage(|| Ok::<_, String>(55.0))
        .start_on(&provider.meter(contextd_metrics::contextd::CATALOG.namespace))
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let points = gauge_points(&provider, &exporter);
    let names: Vec<&str> = points.keys().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["contextd_test_coverage_percent"], "only the healthy gauge reports");
    let failures = |gauge| running.failures(gauge).unwrap();
    assert!(failures("contextd_checkpoints_total").errors >= 1);
    assert!(failures("contextd_remediations_total").timeouts >= 1);
    assert!(failures("contextd_skills_total").panics >= 1);
    assert_eq!(failures("contextd_test_coverage_percent").errors, 0);
    // The export path itself keeps working across many collections.
    for _ in 0..3 {
        assert!(
            gauge_points(&provider, &exporter)
                .contains_key(&("contextd_test_coverage_percent".into(), String::new()))
        );
    }
}

#[test]
fn a_reading_older_than_the_max_age_is_not_reported() {
    let (provider, exporter) = provider();
    let calls = std::sync::atomic::AtomicU32::new(0);
    let _running = GaugeSources::new()
        .refresh_interval(Duration::from_millis(50))
        .max_age(Duration::from_millis(300))
        .source_timeout(Duration::from_secs(5))
        .count(CountGauge::Checkpoints, move || {
            // Answers once, then hangs (a sync source cannot be interrupted).
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
                std::thread::sleep(Duration::from_secs(3600));
            }
            Ok::<_, String>(5)
        })
        .start_on(&provider.meter(contextd_metrics::contextd::CATALOG.namespace))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        gauge_points(&provider, &exporter).get(&("contextd_checkpoints_total".into(), String::new())),
        Some(&5.0)
    );
    std::thread::sleep(Duration::from_millis(400));
    assert!(gauge_points(&provider, &exporter).is_empty(), "a stale value is not reported as fresh");
}

#[test]
fn invalid_schedules_and_duplicate_sources_are_errors() {
    let meter = provider().0.meter("x");
    let error = GaugeSources::new().refresh_interval(Duration::ZERO).start_on(&meter).unwrap_err();
    assert!(error.to_string().contains("must be greater than 0"), "{error}");
    let error = GaugeSources::new()
        .count(CountGauge::Skills, || Ok::<_, String>(1))
        .count(CountGauge::Skills, || Ok::<_, String>(2))
        .start_on(&meter)
        .unwrap_err();
    assert!(error.to_string().contains("contextd_skills_total has two sources"), "{error}");
}

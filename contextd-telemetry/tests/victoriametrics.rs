//! Every catalog instrument, recorded through `meters()` and exported over OTLP/HTTP to a real
//! VictoriaMetrics, arrives under exactly its catalog name with its labels and values — and no
//! name gains a second suffix.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{VictoriaMetrics, eventually, serial};
use contextd_metrics::contextd::{INSTRUMENTS, Meters};
use contextd_metrics::{InstrumentKind, InstrumentSpec, LabelValues, ValueType};
use contextd_telemetry::{TelemetryConfig, TracesExporter};
use opentelemetry::KeyValue;

/// One label value per label: the first listed value, or a stand-in for open labels.
fn attributes(spec: &InstrumentSpec) -> Vec<KeyValue> {
    spec.labels
        .iter()
        .map(|label| {
            let value = match label.values {
                LabelValues::Closed(values) | LabelValues::Open(values) if !values.is_empty() => values[0],
                _ => "test-value",
            };
            KeyValue::new(label.name, value)
        })
        .collect()
}

const COUNT: u64 = 3;
const SECONDS: f64 = 0.3;
const GAUGE: i64 = 7;
const RATIO: f64 = 0.75;

/// Records one measurement on the `Meters` field of this catalog entry.
fn record(m: &Meters, name: &str, attrs: &[KeyValue]) {
    match name {
        "contextd_mcp_tool_calls_total" => m.mcp_tool_calls.add(COUNT, attrs),
        "contextd_checkpoint_operations_total" => m.checkpoint_operations.add(COUNT, attrs),
        "contextd_remediation_operations_total" => m.remediation_operations.add(COUNT, attrs),
        "contextd_skill_operations_total" => m.skill_operations.add(COUNT, attrs),
        "contextd_embedding_operations_total" => m.embedding_operations.add(COUNT, attrs),
        "contextd_embedding_tokens_total" => m.embedding_tokens.add(COUNT, attrs),
        "contextd_embedding_cost_total" => m.embedding_cost.add(COUNT as f64, attrs),
        "contextd_database_operations_total" => m.database_operations.add(COUNT, attrs),
        "contextd_database_errors_total" => m.database_errors.add(COUNT, attrs),
        "contextd_mcp_tool_duration_seconds" => m.mcp_tool_duration.record(SECONDS, attrs),
        "contextd_checkpoint_duration_seconds" => m.checkpoint_duration.record(SECONDS, attrs),
        "contextd_checkpoint_search_score" => m.checkpoint_search_score.record(SECONDS, attrs),
        "contextd_checkpoint_search_results" => m.checkpoint_search_results.record(COUNT, attrs),
        "contextd_remediation_duration_seconds" => m.remediation_duration.record(SECONDS, attrs),
        "contextd_remediation_match_score" => m.remediation_match_score.record(SECONDS, attrs),
        "contextd_skill_duration_seconds" => m.skill_duration.record(SECONDS, attrs),
        "contextd_embedding_duration_seconds" => m.embedding_duration.record(SECONDS, attrs),
        "contextd_embedding_batch_size" => m.embedding_batch_size.record(COUNT, attrs),
        "contextd_database_duration_seconds" => m.database_duration.record(SECONDS, attrs),
        "contextd_mcp_tool_response_bytes" => m.mcp_tool_response_bytes.record(COUNT, attrs),
        "contextd_agent_duration_seconds" => m.agent_duration.record(SECONDS, attrs),
        "contextd_test_duration_seconds" => m.test_duration.record(SECONDS, attrs),
        other => panic!("{other} has no Meters field in this test"),
    }
}

/// Registers the catalog's observable gauges on the global meter with fixed values.
fn register_gauges() -> Vec<Box<dyn std::any::Any>> {
    let meter = opentelemetry::global::meter(contextd_metrics::contextd::CATALOG.namespace);
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    for spec in INSTRUMENTS.as_slice().iter().filter(|s| s.kind == InstrumentKind::Gauge) {
        let attrs = attributes(spec);
        match spec.value_type {
            ValueType::F64 => keep.push(Box::new(
                meter
                    .f64_observable_gauge(spec.name)
                    .with_unit(spec.unit)
                    .with_callback(move |o| o.observe(RATIO, &attrs))
                    .build(),
            )),
            _ => keep.push(Box::new(
                meter
                    .i64_observable_gauge(spec.name)
                    .with_unit(spec.unit)
                    .with_callback(move |o| o.observe(GAUGE, &attrs))
                    .build(),
            )),
        }
    }
    keep
}

fn value_of(series: &serde_json::Value) -> f64 {
    series["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn every_catalog_instrument_arrives_in_victoriametrics_under_its_exact_name() {
    let _serial = serial();
    let vm = VictoriaMetrics::start();
    let endpoint = vm.otlp_metrics_endpoint();
    // The same parser as the process environment, fed with the variables a deployment sets.
    let env: BTreeMap<&str, String> = [
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint),
        ("OTEL_SERVICE_NAME", "contextd-vm-test".to_owned()),
        ("OTEL_ENVIRONMENT", "ci".to_owned()),
    ]
    .into();
    let telemetry = TelemetryConfig::from_lookup(|name| env.get(name).cloned())
        .unwrap()
        .with_traces_exporter(TracesExporter::None)
        .with_tracing_subscriber(false)
        .init()
        .unwrap();

    let meters = contextd_metrics::contextd::meters();
    for spec in INSTRUMENTS.as_slice().iter().filter(|s| s.is_synchronous()) {
        record(meters, spec.name, &attributes(spec));
    }
    let _gauges = register_gauges();
    telemetry.force_flush().expect("export to VictoriaMetrics");
    assert_eq!(telemetry.metrics_export_stats().failed, 0);

    // Exactly the expected series names: the catalog names, histograms with their three series.
    let mut expected = BTreeSet::new();
    for spec in INSTRUMENTS.as_slice() {
        match spec.kind {
            InstrumentKind::Histogram => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    expected.insert(format!("{}{suffix}", spec.name));
                }
            }
            _ => {
                expected.insert(spec.name.to_owned());
            }
        }
    }
    // Catalog series only: process, runtime and contextd_telemetry_* self-metrics come along too.
    let stored = eventually(Duration::from_secs(30), "all series in VictoriaMetrics", || {
        let names: BTreeSet<String> = vm
            .metric_names()
            .into_iter()
            .filter(|n| n.starts_with("contextd_") && !n.starts_with("contextd_telemetry_"))
            .collect();
        (names.len() >= expected.len()).then_some(names)
    });
    assert_eq!(stored, expected, "series names in VictoriaMetrics differ from the catalog");
    let all = vm.metric_names();
    for self_metric in
        ["contextd_telemetry_exports_total", "process_memory_usage_bytes", "process_cpu_time_seconds_total"]
    {
        assert!(all.iter().any(|n| n == self_metric), "{self_metric} missing: {all:?}");
    }

    for spec in INSTRUMENTS.as_slice() {
        let series_name = match spec.kind {
            InstrumentKind::Histogram => format!("{}_count", spec.name),
            _ => spec.name.to_owned(),
        };
        let result = eventually(Duration::from_secs(10), &series_name, || {
            let result = vm.query(&series_name);
            (!result.is_empty()).then_some(result)
        });
        assert_eq!(result.len(), 1, "{series_name}: {result:?}");
        let series = &result[0];
        let labels = series["metric"].as_object().unwrap();
        for kv in attributes(spec) {
            assert_eq!(labels[kv.key.as_str()], kv.value.as_str().as_ref(), "{series_name} label {}", kv.key);
        }
        assert_eq!(labels["service_name"], "contextd-vm-test", "{series_name}");
        assert_eq!(labels["deployment_environment_name"], "ci", "{series_name}");
        let expected_value = match (spec.kind, spec.value_type) {
            (InstrumentKind::Counter, _) => COUNT as f64,
            (InstrumentKind::Histogram, _) => 1.0, // the _count of one recording
            (InstrumentKind::Gauge, ValueType::F64) => RATIO,
            (InstrumentKind::Gauge, _) => GAUGE as f64,
            (InstrumentKind::ObservedCounter, _) => unreachable!("the catalog holds no self-metric"),
        };
        assert_eq!(value_of(series), expected_value, "{series_name}");
        if spec.kind == InstrumentKind::Histogram {
            let sum = value_of(&vm.query(&format!("{}_sum", spec.name))[0]);
            let recorded = if spec.value_type == ValueType::U64 { COUNT as f64 } else { SECONDS };
            assert!((sum - recorded).abs() < 1e-9, "{}_sum = {sum}", spec.name);
            // Catalog buckets, not the SDK's millisecond defaults: one `le` per bound plus +Inf.
            let buckets = vm.query(&format!("{}_bucket", spec.name));
            assert_eq!(buckets.len(), spec.buckets.unwrap().len() + 1, "{}", spec.name);
        }
    }
    telemetry.shutdown().unwrap();
}

#[test]
fn the_nine_gauges_reach_victoriametrics_with_their_fixture_values() {
    use contextd_gauges::{CacheStats, CountGauge, GaugeSources, TestTypeRules};
    use contextd_metrics::SkillSuccessTracker;

    let _serial = serial();
    let vm = VictoriaMetrics::start();
    let telemetry = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_service_name("contextd-gauges-test")
        .with_otlp_metrics_endpoint(vm.otlp_metrics_endpoint())
        .with_traces_exporter(TracesExporter::None)
        .with_tracing_subscriber(false)
        .init()
        .unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contextd-gauges/tests/fixtures");
    let tracker: &'static SkillSuccessTracker =
        Box::leak(Box::new(SkillSuccessTracker::new(Duration::from_secs(60), 8)));
    for ok in [true, true, true, false] {
        tracker.record("fix-flaky-test", ok);
    }
    let _gauges = GaugeSources::new()
        .refresh_interval(Duration::from_millis(100))
        .count(CountGauge::Checkpoints, || Ok::<_, String>(1200))
        .count(CountGauge::Remediations, || Ok::<_, String>(85))
        .count_async(CountGauge::Skills, || async { Ok::<_, String>(12) })
        .coverage_report(fixtures.join("cobertura.xml"))
        .junit_report(fixtures.join("nextest-junit.xml"), TestTypeRules::cargo_nextest())
        .regression_tree(fixtures.join("regression"))
        .embedding_cache(|| {
            Ok::<_, String>(vec![CacheStats { model: "text-embedding-3-small".into(), hits: 9, misses: 1 }])
        })
        .skill_success(tracker)
        .start()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    telemetry.force_flush().expect("export to VictoriaMetrics");

    let expect = [
        ("contextd_checkpoints_total", 1200.0),
        ("contextd_remediations_total", 85.0),
        ("contextd_skills_total", 12.0),
        ("contextd_test_coverage_percent", 81.25),
        ("contextd_tests_total{type=\"integration\"}", 6.0),
        ("contextd_bugs_total{severity=\"high\",status=\"fixed\"}", 2.0),
        ("contextd_regression_tests_total{category=\"security\"}", 1.0),
        ("contextd_embedding_cache_hit_ratio{model=\"text-embedding-3-small\"}", 0.9),
        ("contextd_skill_success_rate{skill_id=\"fix-flaky-test\"}", 0.75),
    ];
    for (query, value) in expect {
        let result = eventually(Duration::from_secs(10), query, || {
            let result = vm.query(query);
            (!result.is_empty()).then_some(result)
        });
        assert_eq!(result.len(), 1, "{query}: {result:?}");
        assert!((value_of(&result[0]) - value).abs() < 1e-9, "{query} = {}", value_of(&result[0]));
        assert_eq!(result[0]["metric"]["service_name"], "contextd-gauges-test");
    }
    telemetry.shutdown().unwrap();
}

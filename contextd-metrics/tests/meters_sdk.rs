//! `Meters` on a real `SdkMeterProvider`: one value recorded on every synchronous instrument
//! arrives at the exporter with its catalog name, unit, description and bucket boundaries.

use std::collections::BTreeMap;

use contextd_metrics::InstrumentKind;
use contextd_metrics::contextd::{INSTRUMENTS, Meters};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

fn kv(key: &'static str, value: &'static str) -> KeyValue {
    KeyValue::new(key, value)
}

fn record_once_on_every_instrument(m: &Meters) {
    let tool = [kv("tool_name", "checkpoint_save")];
    m.mcp_tool_calls.add(1, &[tool[0].clone(), kv("status", "success")]);
    m.checkpoint_operations.add(1, &[kv("operation", "create"), kv("status", "success")]);
    m.remediation_operations.add(1, &[kv("operation", "save"), kv("status", "error")]);
    m.skill_operations.add(1, &[kv("operation", "apply"), kv("status", "success")]);
    let model = kv("model", "text-embedding-3-small");
    m.embedding_operations.add(1, &[kv("provider", "openai"), model.clone()]);
    m.embedding_tokens.add(812, std::slice::from_ref(&model));
    m.embedding_cost.add(0.00001624, std::slice::from_ref(&model));
    let db = [kv("operation", "search"), kv("database", "shared"), kv("collection", "checkpoints")];
    m.database_operations.add(1, &db);
    m.database_errors.add(1, &[kv("error_type", "not_found"), kv("database", "shared")]);
    m.mcp_tool_duration.record(0.042, &tool);
    m.checkpoint_duration.record(0.012, &[kv("operation", "create")]);
    m.checkpoint_search_score.record(0.83, &[]);
    m.checkpoint_search_results.record(7, &[]);
    m.remediation_duration.record(0.2, &[kv("operation", "save")]);
    m.remediation_match_score.record(0.65, &[]);
    m.skill_duration.record(3.0, &[kv("operation", "apply")]);
    m.embedding_duration.record(0.3, &[kv("provider", "openai"), model]);
    m.embedding_batch_size.record(16, &[kv("provider", "openai")]);
    m.database_duration.record(0.004, &db[..2]);
    m.mcp_tool_response_bytes.record(5000, &tool);
    m.agent_duration.record(42.0, &[kv("agent", "planner"), kv("status", "success")]);
    m.test_duration.record(0.5, &[kv("type", "unit")]);
}

/// Bucket bounds and total count of a histogram metric, whatever its value type.
fn histogram(metric: &Metric) -> Option<(Vec<f64>, u64)> {
    match metric.data() {
        AggregatedMetrics::F64(MetricData::Histogram(h)) => {
            let p = h.data_points().next()?;
            Some((p.bounds().collect(), p.count()))
        }
        AggregatedMetrics::U64(MetricData::Histogram(h)) => {
            let p = h.data_points().next()?;
            Some((p.bounds().collect(), p.count()))
        }
        _ => None,
    }
}

/// Whether a metric is a monotonic sum holding exactly one data point.
fn is_single_point_counter(metric: &Metric) -> bool {
    match metric.data() {
        AggregatedMetrics::F64(MetricData::Sum(s)) => s.is_monotonic() && s.data_points().count() == 1,
        AggregatedMetrics::U64(MetricData::Sum(s)) => s.is_monotonic() && s.data_points().count() == 1,
        _ => false,
    }
}

#[test]
fn every_instrument_arrives_with_its_catalog_name_unit_and_boundaries() {
    let exporter = InMemoryMetricExporter::default();
    let provider =
        SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
    let meters = Meters::new(&provider.meter(contextd_metrics::contextd::CATALOG.namespace));

    record_once_on_every_instrument(&meters);
    provider.force_flush().expect("flush");

    let exported = exporter.get_finished_metrics().expect("metrics");
    let mut by_name: BTreeMap<String, &Metric> = BTreeMap::new();
    for resource in &exported {
        for scope in resource.scope_metrics() {
            assert_eq!(scope.scope().name(), "contextd");
            for metric in scope.metrics() {
                by_name.insert(metric.name().to_owned(), metric);
            }
        }
    }

    let synchronous: Vec<_> = INSTRUMENTS.as_slice().iter().filter(|s| s.is_synchronous()).collect();
    assert_eq!(synchronous.len(), 22);
    assert_eq!(by_name.len(), 22, "exported: {:?}", by_name.keys());
    for spec in synchronous {
        let metric = by_name.get(spec.name).unwrap_or_else(|| panic!("{} not exported", spec.name));
        assert_eq!(metric.unit(), spec.unit, "{}", spec.name);
        assert_eq!(metric.description(), spec.description, "{}", spec.name);
        match spec.kind {
            InstrumentKind::Counter => assert!(is_single_point_counter(metric), "{}", spec.name),
            InstrumentKind::Histogram => {
                let (bounds, count) = histogram(metric).unwrap_or_else(|| panic!("{}", spec.name));
                assert_eq!(Some(bounds.as_slice()), spec.buckets, "{}", spec.name);
                assert_eq!(count, 1, "{}", spec.name);
            }
            InstrumentKind::Gauge | InstrumentKind::ObservedCounter => {
                unreachable!("observed instruments are not synchronous")
            }
        }
    }
    provider.shutdown().expect("shutdown");
}

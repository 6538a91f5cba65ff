//! Delta temporality across a backend outage loses nothing that the backlog can hold: a
//! receiver that answers 503 for a while mid-run still ends up with every call counted exactly
//! once; one that never comes back makes the backlog drop its oldest requests, counted.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use common::{serial, serve_axum};
use contextd_telemetry::TelemetryConfig;
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use prost::Message as _;

const COUNTER: &str = "contextd_checkpoint_operations_total";

/// An OTLP/HTTP metrics receiver that can be taken down (503) and sums the delta points of
/// one counter it accepted.
#[derive(Clone, Default)]
struct Receiver {
    down: Arc<AtomicBool>,
    total: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    temporalities: Arc<Mutex<Vec<i32>>>,
}

impl Receiver {
    fn start(&self) -> String {
        let state = self.clone();
        let app = Router::new().route(
            "/v1/metrics",
            post(move |body: Bytes| {
                let state = state.clone();
                async move {
                    if state.down.load(Ordering::SeqCst) {
                        state.refused.fetch_add(1, Ordering::SeqCst);
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let request = ExportMetricsServiceRequest::decode(body).unwrap();
                    let metrics = request
                        .resource_metrics
                        .iter()
                        .flat_map(|r| &r.scope_metrics)
                        .flat_map(|s| &s.metrics);
                    for metric in metrics.filter(|m| m.name == COUNTER) {
                        let Some(Data::Sum(sum)) = &metric.data else { continue };
                        state.temporalities.lock().unwrap().push(sum.aggregation_temporality);
                        for point in &sum.data_points {
                            if let Some(Value::AsInt(n)) = point.value {
                                state.total.fetch_add(n as u64, Ordering::SeqCst);
                            }
                        }
                    }
                    StatusCode::OK
                }
            }),
        );
        format!("http://{}/v1/metrics", serve_axum(app))
    }
}

fn delta_config(endpoint: String) -> TelemetryConfig {
    TelemetryConfig::from_lookup(|name| {
        (name == "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE").then(|| "delta".to_owned())
    })
    .unwrap()
    .with_otlp_metrics_endpoint(endpoint)
    .with_traces_exporter(contextd_telemetry::TracesExporter::None)
    .with_metric_export_interval(Duration::from_millis(200))
    .with_otlp_timeout(Duration::from_millis(400))
    .with_runtime_metrics(false)
}

#[test]
fn an_outage_mid_run_loses_no_delta() {
    let _serial = serial();
    let receiver = Receiver::default();
    let telemetry = delta_config(receiver.start()).init().unwrap();
    let attributes = [KeyValue::new("operation", "create"), KeyValue::new("status", "success")];
    let started = Instant::now();
    let mut calls = 0u64;
    let mut outage = (None, None);
    while started.elapsed() < Duration::from_secs(4) {
        contextd_metrics::contextd::meters().checkpoint_operations.add(1, &attributes);
        calls += 1;
        // Down from 1 s to 2.5 s: several exports fail after their retries.
        let elapsed = started.elapsed();
        if outage.0.is_none() && elapsed > Duration::from_secs(1) {
            receiver.down.store(true, Ordering::SeqCst);
            outage.0 = Some(elapsed);
        }
        if outage.1.is_none() && elapsed > Duration::from_millis(2500) {
            receiver.down.store(false, Ordering::SeqCst);
            outage.1 = Some(elapsed);
        }
        if calls.is_multiple_of(64) {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    let stats = telemetry.metrics_export_stats();
    telemetry.shutdown().unwrap();
    let refused = receiver.refused.load(Ordering::SeqCst);
    let total = receiver.total.load(Ordering::SeqCst);
    eprintln!(
        "{calls} calls, {refused} requests refused during the outage, {stats:?}, {total} counted by the receiver"
    );
    assert!(stats.failed >= 3, "the outage failed several exports: {stats:?}");
    assert!(receiver.temporalities.lock().unwrap().iter().all(|t| *t == 1), "every point was a delta");
    assert_eq!(total, calls, "every call counted exactly once");
    assert_eq!(stats.dropped, 0);
}

#[test]
fn a_receiver_down_longer_than_the_backlog_holds_costs_the_oldest_requests_counted() {
    let _serial = serial();
    let receiver = Receiver::default();
    receiver.down.store(true, Ordering::SeqCst);
    // Room for about two requests of this pipeline.
    let telemetry = delta_config(receiver.start()).with_delta_backlog(2_000).init().unwrap();
    let attributes = [KeyValue::new("operation", "create"), KeyValue::new("status", "success")];
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        contextd_metrics::contextd::meters().checkpoint_operations.add(1, &attributes);
        std::thread::sleep(Duration::from_millis(1));
    }
    let stats = telemetry.metrics_export_stats();
    eprintln!("{stats:?} with a 2 000-byte backlog and the receiver down throughout");
    assert!(stats.failed >= 4, "{stats:?}");
    assert!(
        stats.dropped >= 1 && stats.dropped < stats.failed,
        "the oldest dropped, the newest kept: {stats:?}"
    );
    let _ = telemetry.shutdown();
}

//! A dead, stalled or failing backend never blocks or crashes the service: recording goes on,
//! export failures are counted, and shutdown returns within its deadline (measured).

mod common;

use std::time::{Duration, Instant};

use common::{Fault, FaultyEndpoint, eventually, refusing_url, serial};
use contextd_telemetry::{SamplerConfig, TelemetryConfig};
use opentelemetry::KeyValue;
use opentelemetry::trace::Tracer as _;

const DEADLINE: Duration = Duration::from_secs(2);

/// Runs against a broken backend; a failed flush must name the endpoint and say
/// `cause` (refused, timed out, an HTTP status) in words.
fn run_against(metrics_url: String, traces_url: String, cause: &str) {
    let telemetry = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_otlp_metrics_endpoint(metrics_url.clone())
        .with_otlp_traces_endpoint(traces_url)
        .with_otlp_timeout(Duration::from_millis(500))
        .with_metric_export_interval(Duration::from_millis(200))
        .with_sampler(SamplerConfig::AlwaysOn)
        .with_shutdown_timeout(DEADLINE)
        .with_tracing_subscriber(false)
        .init()
        .unwrap();

    // The service keeps working while exports fail in the background.
    let rss_before = common::rss_bytes();
    let attrs = [KeyValue::new("operation", "create"), KeyValue::new("status", "success")];
    let tracer = opentelemetry::global::tracer("contextd");
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < Duration::from_millis(1500) {
        contextd_metrics::contextd::meters().checkpoint_operations.add(1, &attrs);
        if calls.is_multiple_of(1000) {
            tracer.in_span("checkpoint.create", |_| {});
        }
        calls += 1;
    }
    assert!(calls > 10_000, "recording was starved: {calls} calls in 1.5 s");
    eventually(Duration::from_secs(10), "a counted metrics export failure", || {
        (telemetry.metrics_export_stats().failed > 0).then_some(())
    });
    assert_eq!(telemetry.metrics_export_stats().succeeded, 0);
    let growth = common::rss_bytes().saturating_sub(rss_before);
    assert!(growth < 64 << 20, "resident memory grew by {growth} bytes while the backend was down");

    let flush_started = Instant::now();
    let flushed = telemetry.force_flush();
    let error = flushed.expect_err("a flush to a broken backend reports failure").to_string();
    eprintln!("flush: {error}");
    assert!(error.contains(&format!("metrics: export to {metrics_url} failed: {cause}")), "{error}");
    assert!(
        flush_started.elapsed() < DEADLINE + Duration::from_millis(500),
        "flush took {:?}",
        flush_started.elapsed()
    );

    let shutdown_started = Instant::now();
    let _ = telemetry.shutdown();
    let took = shutdown_started.elapsed();
    assert!(took < DEADLINE + Duration::from_millis(500), "shutdown took {took:?}, deadline {DEADLINE:?}");
    eprintln!("shutdown took {took:?}");
}

#[test]
fn endpoint_refusing_connections() {
    let _serial = serial();
    run_against(refusing_url("/v1/metrics"), refusing_url("/v1/traces"), "connection refused");
}

#[test]
fn endpoint_that_accepts_and_never_answers() {
    let _serial = serial();
    let metrics = FaultyEndpoint::start(Fault::Stall);
    let traces = FaultyEndpoint::start(Fault::Stall);
    run_against(metrics.url("/v1/metrics"), traces.url("/v1/traces"), "timed out");
    assert!(*metrics.requests.lock().unwrap() > 0, "the exporter reached the stalled endpoint");
}

#[test]
fn endpoint_answering_500() {
    let _serial = serial();
    let metrics = FaultyEndpoint::start(Fault::Status500);
    let traces = FaultyEndpoint::start(Fault::Status500);
    run_against(metrics.url("/v1/metrics"), traces.url("/v1/traces"), "the endpoint answered HTTP 500");
    assert!(*metrics.requests.lock().unwrap() > 0);
}

#[test]
fn endpoint_answering_429_with_retry_after() {
    let _serial = serial();
    let metrics = FaultyEndpoint::start(Fault::Status429);
    let traces = FaultyEndpoint::start(Fault::Status429);
    run_against(metrics.url("/v1/metrics"), traces.url("/v1/traces"), "the endpoint answered HTTP 429");
    // Retries stay within the 500 ms export timeout: a handful of requests per export at most
    // (about 12 exports happen in the 2.5 s of the test).
    let requests = *metrics.requests.lock().unwrap();
    eprintln!("429 endpoint: {requests} metric export requests in the run");
    assert!(requests > 0 && requests < 60, "{requests} requests");
}

#[test]
fn endpoint_slower_than_the_export_timeout() {
    let _serial = serial();
    // Answers after 1 s; the run's exporter timeout is 500 ms, so every export times out.
    let metrics = FaultyEndpoint::start(Fault::Slow);
    let traces = FaultyEndpoint::start(Fault::Slow);
    run_against(metrics.url("/v1/metrics"), traces.url("/v1/traces"), "timed out");
}

#[test]
fn endpoint_answering_garbage() {
    let _serial = serial();
    let metrics = FaultyEndpoint::start(Fault::Garbage);
    let traces = FaultyEndpoint::start(Fault::Garbage);
    run_against(metrics.url("/v1/metrics"), traces.url("/v1/traces"), "");
}

#[test]
fn shutdown_deadline_holds_when_export_hangs() {
    let _serial = serial();
    let stalled = FaultyEndpoint::start(Fault::Stall);
    // A long exporter timeout: without our deadline, shutdown would wait for it.
    let telemetry = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_otlp_metrics_endpoint(stalled.url("/v1/metrics"))
        .with_otlp_traces_endpoint(stalled.url("/v1/traces"))
        .with_otlp_timeout(Duration::from_secs(30))
        .with_shutdown_timeout(Duration::from_millis(800))
        .with_tracing_subscriber(false)
        .init()
        .unwrap();
    contextd_metrics::contextd::meters()
        .skill_operations
        .add(1, &[KeyValue::new("operation", "apply"), KeyValue::new("status", "success")]);
    let started = Instant::now();
    let error = telemetry.shutdown().expect_err("the export cannot finish");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_millis(1500),
        "shutdown took {took:?}"
    );
    assert!(error.to_string().contains("deadline of 800ms exceeded"), "{error}");
    let destination = format!("while exporting to {}", stalled.url("/v1/metrics"));
    assert!(error.to_string().contains(&destination), "{error}");
    // A new instance can start right away.
    let again = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_metrics_exporter(contextd_telemetry::MetricsExporter::None)
        .with_traces_exporter(contextd_telemetry::TracesExporter::None)
        .with_tracing_subscriber(false)
        .init()
        .expect("init after shutdown");
    again.shutdown().unwrap();
}

#[test]
fn a_backend_killed_and_restarted_loses_nothing_and_never_blocks_recording() {
    let _serial = serial();
    let mut vm = common::VictoriaMetrics::start();
    let telemetry = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_service_name("contextd-recovery-test")
        .with_otlp_metrics_endpoint(vm.otlp_metrics_endpoint())
        .with_traces_exporter(contextd_telemetry::TracesExporter::None)
        .with_otlp_timeout(Duration::from_millis(500))
        .with_metric_export_interval(Duration::from_millis(200))
        .with_tracing_subscriber(false)
        .init()
        .unwrap();
    let attrs = [KeyValue::new("operation", "create"), KeyValue::new("status", "success")];
    // Records for `duration`, pacing itself to ~1 increment per 10 µs; returns (increments, ns per add).
    let record_for = |duration: Duration| {
        let (started, mut increments, mut recording) = (Instant::now(), 0u64, Duration::ZERO);
        while started.elapsed() < duration {
            let t = Instant::now();
            contextd_metrics::contextd::meters().checkpoint_operations.add(1, &attrs);
            recording += t.elapsed();
            increments += 1;
            std::thread::sleep(Duration::from_micros(10));
        }
        (increments, recording.as_nanos() as f64 / increments as f64)
    };
    let (before, ns_up) = record_for(Duration::from_secs(1));
    vm.kill();
    let (during, ns_down) = record_for(Duration::from_secs(2));
    vm.restart();
    let (after, ns_back) = record_for(Duration::from_secs(1));
    let total = before + during + after;
    telemetry.force_flush().expect("export after recovery");
    let query = "sum(contextd_checkpoint_operations_total{service_name=\"contextd-recovery-test\"})";
    let stored = common::eventually(Duration::from_secs(20), "the final total", || {
        let result = vm.query(query);
        let value: f64 = result.first()?["value"][1].as_str()?.parse().ok()?;
        (value == total as f64).then_some(value)
    });
    assert_eq!(stored, total as f64);
    assert!(telemetry.metrics_export_stats().failed > 0, "exports failed while the backend was down");
    eprintln!(
        "recovery: {total} increments, all stored; ns per add: backend up {ns_up:.0}, down {ns_down:.0}, back {ns_back:.0}; \
         exports {:?}",
        telemetry.metrics_export_stats()
    );
    telemetry.shutdown().unwrap();
}

#[test]
fn two_threads_at_full_speed_for_30_s_keep_memory_flat_and_lose_nothing() {
    let _serial = serial();
    let vm = common::VictoriaMetrics::start();
    let telemetry = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_service_name("contextd-load-test")
        .with_otlp_metrics_endpoint(vm.otlp_metrics_endpoint())
        .with_traces_exporter(contextd_telemetry::TracesExporter::None)
        .with_metric_export_interval(Duration::from_secs(1))
        .with_tracing_subscriber(false)
        .init()
        .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut rss = Vec::new();
    let totals: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = ["create", "search"]
            .into_iter()
            .map(|operation| {
                let stop = &stop;
                scope.spawn(move || {
                    let attrs = [KeyValue::new("operation", operation), KeyValue::new("status", "success")];
                    let mut n = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        contextd_metrics::contextd::meters().checkpoint_operations.add(1, &attrs);
                        contextd_metrics::contextd::meters().checkpoint_duration.record(0.001, &attrs[..1]);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        for _ in 0..6 {
            std::thread::sleep(Duration::from_secs(5));
            rss.push(common::rss_bytes());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    telemetry.force_flush().expect("final export");
    for (operation, total) in ["create", "search"].into_iter().zip(&totals) {
        let query = format!(
            "sum(contextd_checkpoint_operations_total{{service_name=\"contextd-load-test\",operation=\"{operation}\"}})"
        );
        let stored = common::eventually(Duration::from_secs(20), &query, || {
            let value: f64 = vm.query(&query).first()?["value"][1].as_str()?.parse().ok()?;
            (value == *total as f64).then_some(value)
        });
        assert_eq!(stored, *total as f64, "{operation}");
    }
    let growth = rss.last().unwrap().saturating_sub(rss[0]);
    eprintln!(
        "load: {} increments in 30 s on 2 threads, {} exports; RSS every 5 s: {:?} MiB",
        totals.iter().sum::<u64>(),
        telemetry.metrics_export_stats().succeeded,
        rss.iter().map(|b| b >> 20).collect::<Vec<_>>()
    );
    assert!(growth < 16 << 20, "resident memory grew by {growth} bytes between 5 s and 30 s");
    telemetry.shutdown().unwrap();
}

#[test]
fn spans_beyond_the_queue_bound_are_dropped_and_counted() {
    let _serial = serial();
    let stalled = FaultyEndpoint::start(Fault::Stall);
    let telemetry = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_metrics_exporter(contextd_telemetry::MetricsExporter::None)
        .with_otlp_traces_endpoint(stalled.url("/v1/traces"))
        .with_otlp_timeout(Duration::from_millis(300))
        .with_sampler(SamplerConfig::AlwaysOn)
        .with_batch_span_config(contextd_telemetry::BatchSpanConfig {
            schedule_delay: Duration::from_millis(100),
            max_queue_size: 10,
            max_export_batch_size: 5,
            export_timeout: Duration::from_millis(300),
        })
        .with_shutdown_timeout(DEADLINE)
        .with_tracing_subscriber(false)
        .init()
        .unwrap();
    let tracer = opentelemetry::global::tracer("contextd");
    for _ in 0..200 {
        tracer.in_span("checkpoint.search", |_| {});
    }
    let dropped = telemetry.spans_dropped();
    assert!((180..=190).contains(&dropped), "{dropped} of 200 spans dropped with a queue of 10");
    eprintln!("queue of 10, 200 spans, stalled endpoint: {dropped} dropped and counted");
    let _ = telemetry.shutdown();
}

/// Each signal's failed exports are reported alike: counted, and named with their endpoint and
/// cause in the flush and the shutdown errors, whichever signal fails and wherever the other goes.
#[test]
fn a_failed_export_of_either_signal_is_counted_and_named_at_flush_and_shutdown() {
    let _serial = serial();
    for failing in ["metrics", "traces"] {
        let refused = refusing_url(&format!("/v1/{failing}"));
        let start = || {
            let config = TelemetryConfig::from_lookup(|_| None)
                .unwrap()
                .with_otlp_timeout(Duration::from_millis(500))
                .with_sampler(SamplerConfig::AlwaysOn)
                .with_shutdown_timeout(DEADLINE)
                .with_tracing_subscriber(false);
            let config = if failing == "traces" {
                // Metrics to the console: what a first run without a collector shows.
                config
                    .with_metrics_exporter(contextd_telemetry::MetricsExporter::Console)
                    .with_otlp_traces_endpoint(refused.clone())
            } else {
                config
                    .with_traces_exporter(contextd_telemetry::TracesExporter::Console)
                    .with_otlp_metrics_endpoint(refused.clone())
            };
            let telemetry = config.init().unwrap();
            contextd_metrics::contextd::meters()
                .checkpoint_operations
                .add(1, &[KeyValue::new("operation", "create"), KeyValue::new("status", "success")]);
            opentelemetry::global::tracer("contextd").in_span("checkpoint.create", |_| {});
            telemetry
        };
        let expected = format!("{failing}: export to {refused} failed: connection refused");

        let telemetry = start();
        let error = telemetry.shutdown().expect_err("the last export failed").to_string();
        eprintln!("{failing}, shutdown: {error}");
        assert!(error.contains(&expected), "{error}");

        let telemetry = start();
        let error = telemetry.force_flush().expect_err("the flush's export failed").to_string();
        assert!(error.contains(&expected), "{error}");
        let stats = if failing == "traces" {
            telemetry.traces_export_stats()
        } else {
            telemetry.metrics_export_stats()
        };
        assert!(stats.failed > 0 && stats.succeeded == 0, "{failing}: {stats:?}");
        let _ = telemetry.shutdown();
    }
}

//! init and shutdown: once at a time, from a plain thread or any tokio runtime, `meters()`
//! before and after, a disabled SDK, and the Prometheus pull endpoint scraped over HTTP.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::serial;
use contextd_telemetry::{MetricsExporter, TelemetryConfig, TelemetryError, TracesExporter};
use opentelemetry::KeyValue;

fn prometheus_config() -> TelemetryConfig {
    TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_service_name("contextd-lifecycle")
        .with_metrics_exporter(MetricsExporter::Prometheus)
        .with_prometheus_address("127.0.0.1", 0)
        .with_traces_exporter(TracesExporter::None)
        .with_tracing_subscriber(false)
}

/// A GET over a plain socket (usable from inside async code without a blocking client).
fn get(address: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

fn record_create(count: u64) {
    let attrs = [KeyValue::new("operation", "create"), KeyValue::new("status", "success")];
    contextd_metrics::contextd::meters().checkpoint_operations.add(count, &attrs);
}

#[test]
fn meters_record_nothing_before_init_and_everything_after() {
    let _serial = serial();
    record_create(5); // before init: goes nowhere
    let telemetry = prometheus_config().init().unwrap();
    record_create(1);
    let address = telemetry.prometheus_address().expect("prometheus endpoint");
    let (status, body) = get(address, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        body.contains("contextd_checkpoint_operations_total{operation=\"create\",status=\"success\",otel_scope_name=\"contextd\"} 1\n"),
        "{body}"
    );
    assert!(body.contains("# TYPE contextd_checkpoint_operations_total counter"), "{body}");
    let (status, _) = get(address, "/other");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    telemetry.shutdown().unwrap();
    assert!(TcpStream::connect(address).is_err(), "the endpoint stops with the guard");
}

#[test]
fn second_init_while_running_is_a_clear_error_and_init_after_shutdown_works() {
    let _serial = serial();
    let first = prometheus_config().init().unwrap();
    let error = prometheus_config().init().unwrap_err();
    assert!(matches!(error, TelemetryError::AlreadyInitialized));
    assert!(error.to_string().contains("already initialised"), "{error}");
    assert!(format!("{error:?}").contains("shut it down before initialising again"), "{error:?}");
    first.shutdown().unwrap();
    let second = prometheus_config().init().expect("init after shutdown");
    record_create(2);
    let (_, body) = get(second.prometheus_address().unwrap(), "/metrics");
    assert!(
        body.contains("status=\"success\",otel_scope_name=\"contextd\"} 2\n"),
        "records go to the new pipeline: {body}"
    );
    drop(second); // drop shuts down too
    prometheus_config().init().expect("init after drop").shutdown().unwrap();
}

#[test]
fn disabled_sdk_exports_nothing_and_claims_nothing() {
    let _serial = serial();
    let disabled = TelemetryConfig::from_lookup(|name| (name == "OTEL_SDK_DISABLED").then(|| "true".into()))
        .unwrap()
        .with_metrics_exporter(MetricsExporter::Prometheus)
        .init()
        .unwrap();
    assert_eq!(disabled.prometheus_address(), None);
    record_create(1);
    disabled.force_flush().unwrap();
    prometheus_config().init().expect("a disabled guard does not block init").shutdown().unwrap();
}

#[test]
fn taken_port_is_an_error_naming_the_address() {
    let _serial = serial();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let error = prometheus_config().with_prometheus_address("127.0.0.1", port).init().unwrap_err();
    assert!(error.to_string().contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.to_string().contains("OTEL_EXPORTER_PROMETHEUS_PORT"), "names the variable: {error}");
    // Through `?` from `main` (which prints `Debug`), the same words.
    assert_eq!(format!("{error:?}"), error.to_string());
    prometheus_config().init().expect("a failed init releases the claim").shutdown().unwrap();
}

#[test]
fn works_inside_a_multi_thread_runtime() {
    let _serial = serial();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        // OTLP/HTTP with its blocking client, built and dropped from async code: must not panic.
        let otlp = TelemetryConfig::from_lookup(|_| None)
            .unwrap()
            .with_otlp_metrics_endpoint(common::refusing_url("/v1/metrics"))
            .with_otlp_traces_endpoint(common::refusing_url("/v1/traces"))
            .with_otlp_timeout(std::time::Duration::from_millis(200))
            .with_tracing_subscriber(false)
            .init()
            .unwrap();
        record_create(1);
        let _ = otlp.force_flush();
        drop(otlp);
        let telemetry = prometheus_config().init().unwrap();
        tokio::spawn(async { record_create(3) }).await.unwrap();
        let (_, body) = get(telemetry.prometheus_address().unwrap(), "/metrics");
        assert!(body.contains("status=\"success\",otel_scope_name=\"contextd\"} 3\n"), "{body}");
        telemetry.shutdown().unwrap();
    });
}

#[test]
fn victoriametrics_scrapes_the_prometheus_endpoint_with_no_collector() {
    let _serial = serial();
    let telemetry = prometheus_config().init().unwrap();
    record_create(4);
    let address = telemetry.prometheus_address().unwrap();
    let config = std::env::temp_dir().join(format!("contextd-scrape-{}.yml", std::process::id()));
    std::fs::write(
        &config,
        format!(
            "scrape_configs:\n  - job_name: contextd\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{address}']\n"
        ),
    )
    .unwrap();
    let vm = common::VictoriaMetrics::start_with(&[format!("-promscrape.config={}", config.display())]);
    let query =
        "contextd_checkpoint_operations_total{job=\"contextd\",operation=\"create\",status=\"success\"}";
    let result = common::eventually(std::time::Duration::from_secs(20), "a scraped sample", || {
        let result = vm.query(query);
        (!result.is_empty()).then_some(result)
    });
    assert_eq!(result[0]["value"][1], "4", "{result:?}");
    telemetry.shutdown().unwrap();
    let _ = std::fs::remove_file(config);
}

/// The value of the first sample line of `name` (with any labels) in a scrape.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}

#[test]
fn process_and_tokio_metrics_are_present_and_plausible() {
    let _serial = serial();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let telemetry = prometheus_config().with_tokio_runtime(runtime.handle().clone()).init().unwrap();
    let address = telemetry.prometheus_address().unwrap();
    let (_, before) = get(address, "/metrics");
    let rss_before = sample(&before, "process_memory_usage_bytes").expect("process.memory.usage");
    assert!(rss_before > 0.0);
    assert!(sample(&before, "process_memory_virtual_bytes").unwrap() >= rss_before);
    assert!(sample(&before, "process_thread_count").unwrap() >= 2.0);
    assert!(sample(&before, "process_unix_file_descriptor_count").unwrap() >= 3.0);
    assert!(
        before.contains("process_cpu_time_seconds_total{cpu_mode=\"user\",otel_scope_name=\"contextd\"}"),
        "{before}"
    );
    assert!(
        before.contains("process_cpu_utilization_ratio{cpu_mode=\"system\",otel_scope_name=\"contextd\"}"),
        "{before}"
    );
    assert_eq!(sample(&before, "tokio_runtime_workers"), Some(2.0));
    assert!(sample(&before, "tokio_runtime_alive_tasks").is_some());
    assert!(sample(&before, "tokio_runtime_global_queue_depth").is_some());
    assert!(sample(&before, "tokio_runtime_worker_busy_time_seconds_total").is_some(), "{before}");

    // 50 MiB, every page touched, kept alive across the scrape.
    let mut block = vec![0u8; 50 << 20];
    for page in block.chunks_mut(4096) {
        page[0] = 1;
    }
    std::thread::sleep(std::time::Duration::from_millis(600)); // past the per-collection cache
    let (_, after) = get(address, "/metrics");
    let rss_after = sample(&after, "process_memory_usage_bytes").unwrap();
    assert!(rss_after - rss_before >= 45.0 * 1024.0 * 1024.0, "RSS {rss_before} -> {rss_after}");
    assert_eq!(std::hint::black_box(&block)[4096], 1);
    telemetry.shutdown().unwrap();
}

#[test]
fn an_unbounded_label_stays_within_the_cardinality_limit_and_is_named_once() {
    let _serial = serial();
    let telemetry = prometheus_config().init().unwrap();
    let address = telemetry.prometheus_address().unwrap();
    let rss_before = common::rss_bytes() as f64;
    for i in 0..100_000 {
        let attrs = [
            KeyValue::new("operation", "get"),
            KeyValue::new("database", format!("project_{i}")),
            KeyValue::new("collection", "checkpoints"),
        ];
        contextd_metrics::contextd::meters().database_operations.add(1, &attrs);
    }
    let growth = common::rss_bytes() as f64 - rss_before;
    let (_, body) = get(address, "/metrics");
    let series: Vec<(&str, f64)> = body
        .lines()
        .filter(|l| l.starts_with("contextd_database_operations_total{"))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series, value.parse().unwrap())
        })
        .collect();
    assert!(series.len() <= 2001, "{} series", series.len());
    let overflow: Vec<_> =
        series.iter().filter(|(s, _)| s.contains("otel_metric_overflow=\"true\"")).collect();
    assert_eq!(overflow.len(), 1, "one overflow series");
    assert!(overflow[0].1 >= 98_000.0, "{:?}", overflow[0]);
    assert_eq!(series.iter().map(|(_, v)| v).sum::<f64>(), 100_000.0, "every increment is accounted for");
    let _ = get(address, "/metrics");
    assert_eq!(telemetry.overflowed_instruments(), ["contextd_database_operations_total"]);
    assert!(growth < 64.0 * 1024.0 * 1024.0, "resident memory grew by {growth} bytes");
    eprintln!(
        "100 000 distinct label values: {} series, RSS growth {:.1} MiB",
        series.len(),
        growth / 1048576.0
    );
    telemetry.shutdown().unwrap();
}

#[test]
fn nan_infinite_and_negative_values_are_refused_and_counted() {
    let _serial = serial();
    let telemetry = prometheus_config().init().unwrap();
    let meters = contextd_metrics::contextd::meters();
    let op = [KeyValue::new("operation", "create")];
    meters.checkpoint_duration.record(0.25, &op);
    for bad in [f64::NAN, f64::INFINITY, -1.0] {
        meters.checkpoint_duration.record(bad, &op);
    }
    let model = [KeyValue::new("model", "text-embedding-3-small")];
    meters.embedding_cost.add(0.5, &model);
    meters.embedding_cost.add(-0.5, &model);
    meters.embedding_cost.bind(&model).add(f64::NAN);
    let (_, body) = get(telemetry.prometheus_address().unwrap(), "/metrics");
    assert!(body.contains("contextd_checkpoint_duration_seconds_count{operation=\"create\",otel_scope_name=\"contextd\"} 1\n"), "{body}");
    assert!(body.contains("contextd_checkpoint_duration_seconds_sum{operation=\"create\",otel_scope_name=\"contextd\"} 0.25\n"), "{body}");
    assert!(body.contains("contextd_embedding_cost_total{model=\"text-embedding-3-small\",otel_scope_name=\"contextd\"} 0.5\n"), "{body}");
    for (instrument, reason) in [
        ("contextd_checkpoint_duration_seconds", "nan"),
        ("contextd_checkpoint_duration_seconds", "infinite"),
        ("contextd_checkpoint_duration_seconds", "negative"),
        ("contextd_embedding_cost_total", "negative"),
        ("contextd_embedding_cost_total", "nan"),
    ] {
        let line = format!(
            "contextd_telemetry_invalid_measurements_total{{instrument=\"{instrument}\",reason=\"{reason}\",otel_scope_name=\"contextd\"}}"
        );
        assert!(body.lines().any(|l| l.starts_with(&line)), "{line} missing:\n{body}");
    }
    telemetry.shutdown().unwrap();
}

#[test]
fn empty_and_awkward_label_values_are_kept_and_escaped() {
    let _serial = serial();
    let telemetry = prometheus_config().init().unwrap();
    let awkward = "quote\" newline\n backslash\\ tab\t é";
    for model in ["", awkward] {
        contextd_metrics::contextd::meters().embedding_tokens.add(3, &[KeyValue::new("model", model)]);
    }
    let (_, body) = get(telemetry.prometheus_address().unwrap(), "/metrics");
    assert!(
        body.contains("contextd_embedding_tokens_total{model=\"\",otel_scope_name=\"contextd\"} 3\n"),
        "{body}"
    );
    let escaped = "contextd_embedding_tokens_total{model=\"quote\\\" newline\\n backslash\\\\ tab\t é\",otel_scope_name=\"contextd\"} 3\n";
    assert!(body.contains(escaped), "{body}");
    assert!(
        body.lines().all(|l| !l.starts_with(" backslash")),
        "a newline in a value must not break the line"
    );
    telemetry.shutdown().unwrap();
}

#[test]
fn the_pull_handler_mounts_on_a_services_own_router_without_a_port_of_its_own() {
    let _serial = serial();
    let telemetry = prometheus_config().with_prometheus_server(false).init().unwrap();
    assert_eq!(telemetry.prometheus_address(), None, "no port opened");
    let handler = telemetry.prometheus_handler().expect("the pull handler");
    record_create(6);
    let response = handler.respond();
    assert_eq!(response.status(), 200);
    assert!(
        response.body().contains("status=\"success\",otel_scope_name=\"contextd\"} 6\n"),
        "{}",
        response.body()
    );
    assert_eq!(telemetry.metrics_export_stats().succeeded, 1, "the scrape counts as an export");
    telemetry.shutdown().unwrap();
    assert_eq!(handler.respond().status(), 500, "a handler kept past shutdown says it cannot collect");
}

#[contextd_metrics::instrument_op("checkpoint", "list")]
fn list_checkpoints() -> usize {
    3
}

#[test]
fn reinitialising_rebinds_gauges_and_wrapped_operations_alike() {
    use contextd_gauges::{CountGauge, GaugeSources};
    let _serial = serial();
    let scope = "otel_scope_name=\"contextd\"";
    let gauge = format!("contextd_checkpoints_total{{{scope}}} 41\n");
    let wrapped =
        format!("contextd_checkpoint_operations_total{{operation=\"list\",status=\"success\",{scope}}} 1\n");
    let first = prometheus_config().init().unwrap();
    let _gauges = GaugeSources::new()
        .refresh_interval(std::time::Duration::from_millis(50))
        .count(CountGauge::Checkpoints, || Ok::<_, String>(41))
        .start()
        .unwrap();
    list_checkpoints();
    let address = first.prometheus_address().unwrap();
    common::eventually(std::time::Duration::from_secs(5), "the gauge and the wrapped call", || {
        let (_, body) = get(address, "/metrics");
        (body.contains(&gauge) && body.contains(&wrapped)).then_some(())
    });
    first.shutdown().unwrap();

    // A new pipeline: both the gauge and the call site bind to it without being told.
    let second = prometheus_config().init().unwrap();
    list_checkpoints();
    let address = second.prometheus_address().unwrap();
    let body = common::eventually(std::time::Duration::from_secs(5), "both again after re-init", || {
        let (_, body) = get(address, "/metrics");
        (body.contains(&gauge) && body.contains(&wrapped)).then_some(body)
    });
    assert_eq!(body.matches("contextd_checkpoints_total{").count(), 1, "registered once: {body}");
    second.shutdown().unwrap();
}

//! One process, two catalogs and an HTTP layer, rendered by the pull exporter: the orders
//! service's series carry its scope, contextd's typed handles (a library recording with
//! contextd's catalog) carry contextd's, and the HTTP layer records under the catalog the
//! pipeline was given — also when it was built before `init` and after telemetry is initialised
//! again. A pipeline where nothing records contextd's catalog names contextd nowhere.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use contextd_telemetry::http::HttpMetricsLayer;
use contextd_telemetry::{MetricsExporter, TelemetryConfig, TelemetryGuard, TracesExporter};
use opentelemetry::KeyValue;
use orders_service::{OrderService, telemetry::CATALOG};

fn start() -> TelemetryGuard {
    TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_catalog(&CATALOG)
        .with_service_name("orders")
        .with_metrics_exporter(MetricsExporter::Prometheus)
        .with_prometheus_server(false)
        .with_traces_exporter(TracesExporter::None)
        .with_runtime_metrics(false)
        .init()
        .unwrap()
}

/// Calls `app` in process `n` times on `/orders/{id}`.
fn requests(app: &Router, n: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        for id in 0..n {
            let request = axum::http::Request::get(format!("/orders/{id}")).body(Body::empty()).unwrap();
            let response = tower_service::Service::call(&mut app.clone(), request).await.unwrap();
            assert_eq!(response.status(), 200);
        }
    });
}

/// The sample lines of `text` whose metric name starts with `prefix`.
fn samples<'t>(text: &'t str, prefix: &str) -> Vec<&'t str> {
    text.lines().filter(|line| line.starts_with(prefix)).collect()
}

fn scope_of(line: &str) -> &str {
    let at = line.find("otel_scope_name=\"").map(|at| at + "otel_scope_name=\"".len()).unwrap_or(line.len());
    line[at..].split('"').next().unwrap_or("")
}

#[test]
fn each_catalog_exports_under_its_own_scope_and_the_http_layer_under_the_pipelines() {
    // Built before telemetry starts, as a service builds its router.
    let app = Router::new()
        .route("/orders/{id}", get(|| async { "order" }))
        .layer(HttpMetricsLayer::new().with_scheme("http"));

    let telemetry = start();
    let orders = OrderService::new("stripe");
    orders.place(2).unwrap();
    contextd_metrics::contextd::meters()
        .checkpoint_operations
        .add(1, &[KeyValue::new("operation", "create"), KeyValue::new("status", "success")]);
    requests(&app, 3);
    let text = telemetry.prometheus_handler().unwrap().render().unwrap();

    let ours = samples(&text, "orders_operations_total");
    assert!(!ours.is_empty(), "{text}");
    let contextd = samples(&text, "contextd_checkpoint_operations_total");
    assert_eq!(contextd.len(), 1, "{text}");
    let http = samples(&text, "http_server_request_duration_seconds_count");
    assert_eq!(http.len(), 1, "{text}");
    assert!(http[0].ends_with(" 3"), "three requests: {}", http[0]);
    for line in samples(&text, "orders_") {
        assert_eq!(scope_of(line), "orders", "{line}");
    }
    for line in samples(&text, "contextd_") {
        assert_eq!(scope_of(line), "contextd", "{line}");
    }
    for line in samples(&text, "http_server_") {
        assert_eq!(scope_of(line), "orders", "{line}");
    }
    telemetry.shutdown().unwrap();

    // Initialised again: the same layer records into the new pipeline, and with nothing
    // recording contextd's catalog nothing names it.
    let telemetry = start();
    orders.place(1).unwrap();
    requests(&app, 2);
    let text = telemetry.prometheus_handler().unwrap().render().unwrap();
    let http = samples(&text, "http_server_request_duration_seconds_count");
    assert_eq!(http.len(), 1, "{text}");
    assert!(http[0].ends_with(" 2"), "two requests since this init: {}", http[0]);
    assert!(!text.contains("contextd"), "the pull text names contextd:\n{text}");
    telemetry.shutdown().unwrap();
}

//! One process, two catalogs and an HTTP layer, rendered by the pull exporter: the orders
//! service's series carry its scope, contextd's typed handles (a library recording with
//! contextd's catalog) carry contextd's, and the HTTP layer records under the catalog the
//! pipeline was given — also when it was built before `init` and after telemetry is initialised
//! again. A pipeline where nothing records contextd's catalog names contextd nowhere. A service
//! that forgets `with_catalog` is told so.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use contextd_telemetry::http::HttpMetricsLayer;
use contextd_telemetry::{MetricsExporter, TelemetryConfig, TelemetryGuard, TracesExporter};
use opentelemetry::KeyValue;
use orders_service::{OrderService, telemetry::CATALOG};

/// One telemetry per process at a time: the tests of this file take turns.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

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
    let _serial = serial();
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

/// Keeps the messages of the warnings emitted on this thread.
#[derive(Clone, Default)]
struct Warnings(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        if *event.metadata().level() == tracing::Level::WARN {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }
}

#[test]
fn a_service_catalog_recording_into_a_pipeline_without_with_catalog_is_warned_about_once() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let _serial = serial();
    let warnings = Warnings::default();
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
    let telemetry = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_metrics_exporter(MetricsExporter::Prometheus)
        .with_prometheus_server(false)
        .with_traces_exporter(TracesExporter::None)
        .with_runtime_metrics(false)
        .init()
        .unwrap();
    let orders = OrderService::new("stripe");
    orders.place(1).unwrap();
    let handler = telemetry.prometheus_handler().unwrap();
    let text = handler.render().unwrap();
    handler.render().unwrap();
    // Recorded all the same, under its own scope.
    assert!(samples(&text, "orders_operations_total").iter().all(|l| scope_of(l) == "orders"), "{text}");
    let about: Vec<String> =
        warnings.0.lock().unwrap().iter().filter(|w| w.contains("with_catalog")).cloned().collect();
    assert_eq!(about.len(), 1, "one warning over two collections: {about:?}");
    assert!(about[0].contains("`orders` catalog") && about[0].contains("orders_telemetry_"), "{}", about[0]);
    telemetry.shutdown().unwrap();
}

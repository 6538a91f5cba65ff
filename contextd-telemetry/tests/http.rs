//! The HTTP layer in an axum app on a loopback port, driven by a real HTTP client: method,
//! route, status and duration arrive with the right values; path parameters never become
//! labels; unknown methods are `_OTHER`; a handler panic is a 500 with `error.type`; the server
//! span continues the caller's `traceparent`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::{HttpTraceReceiver, eventually, serial};
use contextd_telemetry::http::HttpMetricsLayer;
use contextd_telemetry::{MetricsExporter, SamplerConfig, TelemetryConfig};

/// Serves `app` on a loopback port from its own runtime; returns the base URL.
fn serve(app: Router) -> String {
    format!("http://{}", common::serve_axum(app))
}

/// Sample lines of the Prometheus endpoint whose name starts with `prefix`: line → value.
fn scrape(address: std::net::SocketAddr, prefix: &str) -> BTreeMap<String, f64> {
    let body = reqwest::blocking::get(format!("http://{address}/metrics")).unwrap().text().unwrap();
    common::samples(&body, prefix)
}

#[test]
fn requests_are_recorded_by_method_route_and_status_and_spans_continue_the_caller() {
    let _serial = serial();
    let receiver = HttpTraceReceiver::start();
    let telemetry = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_metrics_exporter(MetricsExporter::Prometheus)
        .with_prometheus_address("127.0.0.1", 0)
        .with_otlp_traces_endpoint(receiver.traces_endpoint())
        .with_sampler(SamplerConfig::ParentBasedAlwaysOn)
        .with_tracing_subscriber(false)
        .init()
        .unwrap();
    let app = Router::new()
        .route("/checkpoints/{id}", get(|| async { "checkpoint" }).post(|| async { StatusCode::CREATED }))
        .route("/boom", get(boom))
        .route("/unavailable", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .layer(HttpMetricsLayer::new().with_scheme("http"));
    let base = serve(app);
    let client = reqwest::blocking::Client::new();

    // 10 000 distinct paths, one route.
    for i in 0..10_000 {
        let response = client.get(format!("{base}/checkpoints/{i}")).send().unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(client.post(format!("{base}/checkpoints/7")).send().unwrap().status(), 201);
    let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
    assert_eq!(client.request(purge, format!("{base}/checkpoints/7")).send().unwrap().status(), 405);
    assert_eq!(client.get(format!("{base}/boom")).send().unwrap().status(), 500);
    assert_eq!(client.get(format!("{base}/unavailable")).send().unwrap().status(), 503);
    let traced = client
        .get(format!("{base}/checkpoints/traced"))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .send()
        .unwrap();
    assert_eq!(traced.status(), 200);

    let series =
        scrape(telemetry.prometheus_address().unwrap(), "http_server_request_duration_seconds_count");
    let count = |labels: &str| {
        // Scrapes carry the instrumentation scope after the point's own attributes.
        let key =
            format!("http_server_request_duration_seconds_count{{{labels},otel_scope_name=\"contextd\"}}");
        series.get(&key).copied()
    };
    assert_eq!(
        count(
            "http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/checkpoints/{id}\",url_scheme=\"http\""
        ),
        Some(10_001.0),
        "{series:#?}"
    );
    assert_eq!(
        count(
            "http_request_method=\"POST\",http_response_status_code=\"201\",http_route=\"/checkpoints/{id}\",url_scheme=\"http\""
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "http_request_method=\"_OTHER\",http_response_status_code=\"405\",http_route=\"/checkpoints/{id}\",url_scheme=\"http\""
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "error_type=\"panic\",http_request_method=\"GET\",http_response_status_code=\"500\",http_route=\"/boom\",url_scheme=\"http\""
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "error_type=\"503\",http_request_method=\"GET\",http_response_status_code=\"503\",http_route=\"/unavailable\",url_scheme=\"http\""
        ),
        Some(1.0)
    );
    assert_eq!(series.len(), 5, "no series per raw path: {series:#?}");
    let active = scrape(telemetry.prometheus_address().unwrap(), "http_server_active_requests");
    assert!(active.values().all(|v| *v == 0.0) && !active.is_empty(), "{active:?}");

    telemetry.force_flush().unwrap();
    let spans = eventually(Duration::from_secs(10), "the continued server span", || {
        let spans: Vec<_> =
            receiver.received.spans().into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans).collect();
        spans.into_iter().find(|s| s.trace_id == hex("4bf92f3577b34da6a3ce929d0e0e4736"))
    });
    assert_eq!(spans.name, "GET /checkpoints/{id}");
    assert_eq!(spans.parent_span_id, hex("00f067aa0ba902b7"));
    assert_eq!(spans.kind, opentelemetry_proto::tonic::trace::v1::span::SpanKind::Server as i32);
    telemetry.shutdown().unwrap();
}

async fn boom() -> &'static str {
    panic!("handler bug")
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// A one-request HTTP server that answers 200 and hands back the headers it received.
fn capture_one_request() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = String::new();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            head.push_str(&line);
            line.clear();
        }
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        sender.send(head).unwrap();
    });
    (format!("http://{address}/downstream"), received)
}

#[test]
fn the_trace_and_baggage_continue_through_an_outgoing_request() {
    let _serial = serial();
    let receiver = HttpTraceReceiver::start();
    let telemetry = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_metrics_exporter(MetricsExporter::None)
        .with_otlp_traces_endpoint(receiver.traces_endpoint())
        .with_sampler(SamplerConfig::ParentBasedAlwaysOn)
        .with_tracing_subscriber(false)
        .init()
        .unwrap();
    let (downstream, captured) = capture_one_request();
    let app = Router::new()
        .route(
            "/call",
            get(move || {
                let downstream = downstream.clone();
                async move {
                    // What a handler does before calling another service.
                    let mut headers = http::HeaderMap::new();
                    contextd_telemetry::http::inject_context(&mut headers);
                    tokio::task::spawn_blocking(move || {
                        reqwest::blocking::Client::new()
                            .get(downstream)
                            .headers(headers)
                            .send()
                            .unwrap()
                            .status()
                    })
                    .await
                    .unwrap()
                    .as_u16()
                    .to_string()
                }
            }),
        )
        .layer(HttpMetricsLayer::new());
    let base = serve(app);
    let answer = reqwest::blocking::Client::new()
        .get(format!("{base}/call"))
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .header("baggage", "tenant=acme")
        .send()
        .unwrap();
    assert_eq!(answer.text().unwrap(), "200");
    let head = captured.recv_timeout(Duration::from_secs(10)).unwrap().to_lowercase();
    let traceparent =
        head.lines().find_map(|l| l.strip_prefix("traceparent: ")).expect(&head).trim().to_owned();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts[1], "0af7651916cd43dd8448eb211c80319c", "the downstream call is in the caller's trace");
    assert_ne!(parts[2], "b7ad6b7169203331", "its parent is our server span, not the caller's");
    assert!(head.contains("baggage: tenant=acme"), "baggage travels on: {head}");
    // The parent the downstream sees is the server span we exported.
    telemetry.force_flush().unwrap();
    let server_span = eventually(Duration::from_secs(10), "the server span", || {
        receiver
            .received
            .spans()
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .find(|s| s.name == "GET /call")
    });
    assert_eq!(server_span.span_id, hex(parts[2]));
    telemetry.shutdown().unwrap();
}

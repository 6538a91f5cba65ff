//! Clients that disconnect, trickle or hog connections never hold our servers nor skew what
//! they report: the Prometheus endpoint and the profiling endpoints keep answering while slow
//! clients are connected, slow clients are cut off by the request-head deadline, connections
//! beyond the bound are closed at once, and requests dropped mid-flight leave the HTTP layer's
//! active-request count.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing;
use common::{eventually, serial};
use contextd_telemetry::http::HttpMetricsLayer;
use contextd_telemetry::{MetricsExporter, TelemetryConfig, TelemetryGuard, TracesExporter};

fn prometheus() -> TelemetryGuard {
    TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_service_name("contextd-hostile")
        .with_metrics_exporter(MetricsExporter::Prometheus)
        .with_prometheus_address("127.0.0.1", 0)
        .with_traces_exporter(TracesExporter::None)
        .with_tracing_subscriber(false)
        .init()
        .unwrap()
}

/// A GET with a client-side read timeout; `None` if the server closed or did not answer in time.
fn get(address: SocketAddr, path: &str, timeout: Duration) -> Option<(String, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

/// Connections that send a request one byte a second; each records how long the server kept
/// it open. Dropping the returned handles is not needed: the server cuts them.
fn tricklers(
    address: SocketAddr,
    count: usize,
) -> (Arc<AtomicUsize>, Vec<std::thread::JoinHandle<Duration>>) {
    let connected = Arc::new(AtomicUsize::new(0));
    let handles = (0..count)
        .map(|_| {
            let connected = connected.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut stream = TcpStream::connect(address).unwrap();
                stream.set_read_timeout(Some(Duration::from_millis(1000))).unwrap();
                connected.fetch_add(1, Ordering::SeqCst);
                let request = b"GET /metrics HTTP/1.1\r\nHost: a-very-slow-client.example\r\nX-Padding: ";
                for byte in request.iter().chain(std::iter::repeat(&b'x')) {
                    if stream.write_all(&[*byte]).is_err() {
                        break;
                    }
                    // A closed connection reads as end of file (or a reset); an open one times out.
                    match stream.read(&mut [0u8; 64]) {
                        Ok(_) => break,
                        Err(e)
                            if e.kind() == std::io::ErrorKind::WouldBlock
                                || e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => break,
                    }
                    if started.elapsed() > Duration::from_secs(60) {
                        break;
                    }
                }
                started.elapsed()
            })
        })
        .collect();
    (connected, handles)
}

/// Opens 20 trickling connections to `address`, then asks `path` with a client timeout well
/// under the request-head deadline (5 s): a server that served one connection at a time would
/// answer only after the tricklers were cut off. Returns the answer's status line.
fn answers_while_20_clients_trickle(address: SocketAddr, path: &str) -> String {
    let (connected, tricklers) = tricklers(address, 20);
    eventually(Duration::from_secs(10), "20 trickling connections", || {
        (connected.load(Ordering::SeqCst) == 20).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500)); // each has sent a byte or two
    let started = Instant::now();
    let (status, _) = get(address, path, Duration::from_secs(2)).expect("an answer while 20 clients trickle");
    eprintln!("{path}: answered in {:?} with 20 trickling connections open", started.elapsed());
    let held: Vec<Duration> = tricklers.into_iter().map(|t| t.join().unwrap()).collect();
    let longest = held.iter().max().unwrap();
    eprintln!("trickling connections were cut after {:?} at most", longest);
    // The deadline is for the whole request head (5 s), not per read: trickling does not extend it.
    assert!(*longest < Duration::from_secs(8), "a trickling client was held for {longest:?}");
    status
}

#[test]
fn a_scrape_answers_while_20_clients_trickle_and_they_are_cut_off() {
    let _serial = serial();
    let telemetry = prometheus();
    let status = answers_while_20_clients_trickle(telemetry.prometheus_address().unwrap(), "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    telemetry.shutdown().unwrap();
}

#[cfg(feature = "profiling")]
#[test]
fn the_profiling_endpoints_answer_while_20_clients_trickle() {
    use contextd_telemetry::profiling::{ProfilingConfig, serve};
    let server = serve(ProfilingConfig::loopback(0)).unwrap();
    let status = answers_while_20_clients_trickle(server.address(), "/debug/pprof/heap");
    assert_eq!(status, "HTTP/1.1 501 Not Implemented");
}

#[test]
fn connections_beyond_the_bound_are_closed_at_once() {
    let _serial = serial();
    let telemetry = prometheus();
    let address = telemetry.prometheus_address().unwrap();
    // 64 idle connections fill the bound (each would be cut at the 5 s head deadline).
    let idle: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(address).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect(address).unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let read = extra.read(&mut [0u8; 16]);
    assert!(
        matches!(read, Ok(0))
            || read.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the 65th connection is closed, not queued: {read:?}"
    );
    drop(idle);
    let (status, _) =
        eventually(Duration::from_secs(10), "a scrape once the idle connections are gone", || {
            get(address, "/metrics", Duration::from_secs(2))
        });
    assert_eq!(status, "HTTP/1.1 200 OK");
    telemetry.shutdown().unwrap();
}

/// Sample lines of a scrape whose name starts with `prefix`: line → value.
fn scrape(address: SocketAddr, prefix: &str) -> BTreeMap<String, f64> {
    let (_, body) = get(address, "/metrics", Duration::from_secs(5)).expect("a scrape");
    common::samples(&body, prefix)
}

#[test]
fn fifty_clients_disconnecting_mid_request_leave_no_active_request_behind() {
    let _serial = serial();
    let telemetry = prometheus();
    let metrics = telemetry.prometheus_address().unwrap();
    let app = Router::new()
        .route(
            "/slow",
            routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .layer(HttpMetricsLayer::new());
    let address = common::serve_axum(app);

    let active = |metrics| -> f64 { scrape(metrics, "http_server_active_requests{").values().sum() };
    let clients: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut stream = TcpStream::connect(address).unwrap();
            write!(stream, "GET /slow HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
            stream
        })
        .collect();
    eventually(Duration::from_secs(10), "50 requests in flight", || (active(metrics) == 50.0).then_some(()));
    drop(clients);
    let started = Instant::now();
    eventually(Duration::from_secs(10), "the active count back at 0", || {
        (active(metrics) == 0.0).then_some(())
    });
    eprintln!("50 disconnected requests left the active count in {:?}", started.elapsed());
    // Each dropped request ended through the same path as a finished one: duration recorded,
    // marked cancelled, no status code.
    let cancelled = scrape(metrics, "http_server_request_duration_seconds_count{");
    let cancelled: f64 = cancelled
        .iter()
        .filter(|(series, _)| series.contains("error_type=\"cancelled\""))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(cancelled, 50.0);
    telemetry.shutdown().unwrap();
}

#[test]
fn scrapes_carry_target_info_and_scope_labels_and_are_counted_as_exports() {
    let _serial = serial();
    let telemetry = prometheus();
    contextd_metrics::contextd::meters().skill_operations.add(
        1,
        &[
            opentelemetry::KeyValue::new("operation", "apply"),
            opentelemetry::KeyValue::new("status", "success"),
        ],
    );
    let before = telemetry.metrics_export_stats().succeeded;
    let (_, body) = get(telemetry.prometheus_address().unwrap(), "/metrics", Duration::from_secs(5)).unwrap();
    let target_info = body.lines().find(|l| l.starts_with("target_info{")).expect("target_info");
    assert!(
        target_info.contains("service_name=\"contextd-hostile\"") && target_info.ends_with("} 1"),
        "{target_info}"
    );
    assert!(body.contains("# TYPE target_info gauge"), "{body}");
    assert!(
        body.contains("contextd_skill_operations_total{operation=\"apply\",status=\"success\",otel_scope_name=\"contextd\"} 1\n"),
        "{body}"
    );
    assert_eq!(telemetry.metrics_export_stats().succeeded, before + 1, "one scrape, one export");
    telemetry.shutdown().unwrap();
}

//! Criterion benchmarks of the contextd telemetry crates.
//!
//! Start-up and shutdown: `init()` (OTLP/HTTP exporters, resource, global providers), and
//! `shutdown()` after recording, with a live endpoint (answers 200 at once) and a dead one
//! (connection refused). Shutdown is bounded by its deadline (5 s) in every case.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use contextd_telemetry::{TelemetryConfig, TelemetryGuard};
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::KeyValue;

/// A loopback OTLP/HTTP endpoint that accepts every request with an empty 200.
fn live_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buffer = vec![0u8; 1 << 20];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
                    if stream.write_all(reply.as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

fn dead_endpoint() -> String {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}

fn start(base: &str) -> TelemetryGuard {
    TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_otlp_metrics_endpoint(format!("{base}/v1/metrics"))
        .with_otlp_traces_endpoint(format!("{base}/v1/traces"))
        .with_otlp_timeout(Duration::from_secs(1))
        .with_tracing_subscriber(false)
        .init()
        .expect("init")
}

fn lifecycle(c: &mut Criterion) {
    let live = live_endpoint();
    let dead = dead_endpoint();
    let mut group = c.benchmark_group("lifecycle");
    group.sample_size(10);
    group.bench_function("init()", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let guard = start(&live);
                total += started.elapsed();
                let _ = guard.shutdown();
            }
            total
        })
    });
    for (name, endpoint) in [("shutdown(), live endpoint", &live), ("shutdown(), dead endpoint", &dead)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let guard = start(endpoint);
                    let attrs = [KeyValue::new("operation", "create"), KeyValue::new("status", "success")];
                    contextd_metrics::contextd::meters().checkpoint_operations.add(1, &attrs);
                    let started = Instant::now();
                    let _ = guard.shutdown();
                    total += started.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lifecycle);
criterion_main!(benches);

//! The profiling endpoints (feature `profiling`): a real CPU profile in pprof protobuf with
//! samples of a busy function, 409 while one runs, and no exposure beyond loopback without a
//! token.
#![cfg(feature = "profiling")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use contextd_telemetry::profiling::{ProfilingConfig, ProfilingError, serve};
use pprof::protos::Message as _;

fn get(address: SocketAddr, path: &str, headers: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).lines().next().unwrap().to_owned();
    (head, response[split + 4..].to_vec())
}

/// Burns CPU until `stop` is set (and for at least `min`), so a profile always overlaps it,
/// however the machine schedules threads.
#[inline(never)]
fn contextd_busy_spin(stop: &std::sync::atomic::AtomicBool, min: Duration) -> u64 {
    let started = Instant::now();
    let mut x = 0u64;
    while started.elapsed() < min || !stop.load(std::sync::atomic::Ordering::Relaxed) {
        for i in 0..10_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
    }
    x
}

#[test]
fn a_cpu_profile_contains_the_busy_function_and_a_second_request_gets_409() {
    let server = serve(ProfilingConfig::loopback(0)).unwrap();
    let address = server.address();
    static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let busy = std::thread::spawn(|| contextd_busy_spin(&STOP, Duration::from_millis(100)));
    let profile = std::thread::spawn(move || get(address, "/debug/pprof/profile?seconds=1", ""));
    std::thread::sleep(Duration::from_millis(300));
    let (status, _) = get(address, "/debug/pprof/profile?seconds=1", "");
    assert_eq!(status, "HTTP/1.1 409 Conflict");
    let (status, body) = profile.join().unwrap();
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
    busy.join().unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    let profile = pprof::protos::Profile::parse_from_bytes(&body).expect("pprof protobuf");
    assert!(!profile.sample.is_empty(), "no samples");
    assert!(
        profile.string_table.iter().any(|s| s.contains("contextd_busy_spin")),
        "the busy function is not in the profile"
    );
    static STOP_AGAIN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let busy = std::thread::spawn(|| contextd_busy_spin(&STOP_AGAIN, Duration::from_millis(100)));
    let (status, svg) = get(address, "/debug/pprof/flamegraph?seconds=1", "");
    STOP_AGAIN.store(true, std::sync::atomic::Ordering::Relaxed);
    busy.join().unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    let svg = String::from_utf8_lossy(&svg);
    assert!(svg.contains("<svg") && svg.contains("contextd_busy_spin"), "{}", &svg[..svg.len().min(300)]);
}

#[test]
fn bounds_heap_and_unknown_paths_answer_clearly() {
    let server = serve(ProfilingConfig::loopback(0).with_max_seconds(5)).unwrap();
    let (status, body) = get(server.address(), "/debug/pprof/profile?seconds=600", "");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    assert!(String::from_utf8_lossy(&body).contains("from 1 to 5"));
    assert_eq!(get(server.address(), "/debug/pprof/heap", "").0, "HTTP/1.1 501 Not Implemented");
    assert_eq!(get(server.address(), "/other", "").0, "HTTP/1.1 404 Not Found");
}

#[test]
fn non_loopback_needs_an_explicit_opt_in_and_a_token() {
    let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let error = serve(ProfilingConfig::loopback(0).at(any)).unwrap_err();
    assert!(matches!(error, ProfilingError::NotLoopback(_)));
    assert!(error.to_string().contains("refusing to serve profiles on 0.0.0.0:0"), "{error}");
    assert!(matches!(serve(ProfilingConfig::expose(any, "short")), Err(ProfilingError::WeakToken(5))));

    let token = "0123456789abcdef-secret";
    let server = serve(ProfilingConfig::expose("127.0.0.1:0".parse().unwrap(), token)).unwrap();
    assert_eq!(get(server.address(), "/debug/pprof/heap", "").0, "HTTP/1.1 401 Unauthorized");
    // A wrong token of the right length, and the right one with a byte missing.
    for wrong in ["0123456789abcdef-secreT", "0123456789abcdef-secre"] {
        let header = format!("Authorization: Bearer {wrong}\r\n");
        assert_eq!(get(server.address(), "/debug/pprof/heap", &header).0, "HTTP/1.1 401 Unauthorized");
    }
    let authorized = format!("Authorization: Bearer {token}\r\n");
    assert_eq!(get(server.address(), "/debug/pprof/heap", &authorized).0, "HTTP/1.1 501 Not Implemented");
}

//! Heap profiles (feature `heap-profiling`): a service on jemalloc with profiling on gets the live
//! heap in pprof at `/debug/pprof/heap`, with the function that allocated it by name.
#![cfg(feature = "heap-profiling")]

use std::io::{Read, Write};
use std::net::TcpStream;

use contextd_telemetry::profiling::{ProfilingConfig, serve};
use pprof::protos::Message as _;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at start-up: sample about every 1 KiB allocated.
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"prof:true,prof_active:true,lg_prof_sample:10\0";

/// Allocates 64 MiB in 1 024 blocks and keeps them.
#[inline(never)]
fn contextd_heap_hog() -> Vec<Vec<u8>> {
    (0..1024).map(|i| vec![i as u8; 64 * 1024]).collect()
}

#[test]
fn a_heap_profile_names_the_function_that_holds_the_memory() {
    let hog = std::hint::black_box(contextd_heap_hog());
    let server = serve(ProfilingConfig::loopback(0)).unwrap();
    let mut stream = TcpStream::connect(server.address()).unwrap();
    write!(stream, "GET /debug/pprof/heap HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{}", String::from_utf8_lossy(&response[split..]));
    let mut protobuf = Vec::new();
    flate2::read::GzDecoder::new(&response[split + 4..]).read_to_end(&mut protobuf).unwrap();
    let profile = pprof::protos::Profile::parse_from_bytes(&protobuf).expect("pprof protobuf");
    assert!(!profile.sample.is_empty(), "no samples");
    assert!(
        profile.string_table.iter().any(|s| s.contains("contextd_heap_hog")),
        "the allocating function is not in the profile"
    );
    let bytes: i64 = profile.sample.iter().map(|s| s.value.last().copied().unwrap_or(0)).sum();
    eprintln!(
        "heap profile: {} samples, {} bytes in use, {} bytes held by the test",
        profile.sample.len(),
        bytes,
        hog.len() * 64 * 1024
    );
    drop(hog);
}

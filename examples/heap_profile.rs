//! Heap profiles of a service on jemalloc: the allocator and its options (three lines a service
//! adds to its `main.rs`), the profiling endpoints, and one heap profile fetched and saved.
//!
//! ```text
//! cargo run --example heap_profile            # writes heap.pb.gz
//! go tool pprof -top heap.pb.gz               # or: -http=:8081 heap.pb.gz
//! ```

#[path = "support/report.rs"]
mod report;
use report::Report;

use std::io::{Read, Write};

use contextd_telemetry::profiling::{ProfilingConfig, serve};

// 1. jemalloc as the allocator, built with profiling (tikv-jemallocator's `profiling` feature).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// 2. Profiling on from the start, one sample about every 512 KiB allocated (jemalloc's default
///    rate: cheap enough for production).
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"prof:true,prof_active:true,lg_prof_sample:19\0";

/// Something worth seeing in the profile: 32 MiB kept in a cache.
#[inline(never)]
fn fill_embedding_cache() -> Vec<Vec<f32>> {
    (0..8192).map(|i| vec![i as f32; 1024]).collect()
}

fn main() -> Result<(), Report> {
    let cache = fill_embedding_cache();
    // 3. The endpoints (loopback; ProfilingConfig::expose with a token for other addresses).
    let server = serve(ProfilingConfig::loopback(0))?;
    println!("heap profile: http://{}/debug/pprof/heap", server.address());

    let mut stream = std::net::TcpStream::connect(server.address())?;
    write!(stream, "GET /debug/pprof/heap HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no HTTP response")?;
    let status = String::from_utf8_lossy(&response[..split]).lines().next().unwrap_or_default().to_owned();
    if !status.contains(" 200 ") {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&response[split + 4..])).into());
    }
    std::fs::write("heap.pb.gz", &response[split + 4..])?;
    println!(
        "wrote heap.pb.gz ({} bytes) while holding {} MiB; read it with `go tool pprof -top heap.pb.gz`",
        response.len() - split - 4,
        (cache.len() * 1024 * 4) >> 20
    );
    Ok(())
}

//! On-demand CPU profiles over HTTP (cargo feature `profiling`), the Rust counterpart of Go's
//! `net/http/pprof`:
//!
//! - `GET /debug/pprof/profile?seconds=N`: a CPU profile of N seconds (default 30, at most the
//!   configured maximum, 60 by default) in pprof protobuf, which `go tool pprof` and speedscope
//!   read;
//! - `GET /debug/pprof/flamegraph?seconds=N`: the same profile as a flame graph SVG;
//! - `GET /debug/pprof/heap`: answers 501 — heap profiles need jemalloc with profiling enabled,
//!   which this build does not link.
//!
//! Profiles reveal code and data, so the server listens on loopback unless
//! [`ProfilingConfig::expose`] opts in to another address, which also requires a bearer token on
//! every request. One profile runs at a time; a request during one gets 409, not a queue.
//!
//! ```no_run
//! let profiling = contextd_telemetry::profiling::serve(contextd_telemetry::profiling::ProfilingConfig::loopback(6060))?;
//! println!("go tool pprof http://{}/debug/pprof/profile?seconds=10", profiling.address());
//! # Ok::<(), contextd_telemetry::profiling::ProfilingError>(())
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use pprof::protos::Message as _;

/// Where and how the profiling server listens.
#[derive(Clone, PartialEq, Eq)]
pub struct ProfilingConfig {
    address: SocketAddr,
    token: Option<String>,
    max_seconds: u64,
}

impl std::fmt::Debug for ProfilingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfilingConfig")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "(redacted)"))
            .field("max_seconds", &self.max_seconds)
            .finish()
    }
}

/// Why the profiling server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ProfilingError {
    /// A non-loopback address without [`ProfilingConfig::expose`].
    #[error(
        "refusing to serve profiles on {0}: profiles reveal code and memory; listen on 127.0.0.1, \
         or opt in with ProfilingConfig::expose(address, token) (requests then need `Authorization: Bearer <token>`)"
    )]
    NotLoopback(SocketAddr),
    /// A token too short to protect an exposed server.
    #[error("the profiling token must be at least 16 characters, got {0}")]
    WeakToken(usize),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl ProfilingConfig {
    /// 127.0.0.1 on `port` (0: any free port), no token.
    pub fn loopback(port: u16) -> Self {
        Self { address: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port), token: None, max_seconds: 60 }
    }

    /// Any `address`, protected by `token` (at least 16 characters), sent by clients as
    /// `Authorization: Bearer <token>`.
    pub fn expose(address: SocketAddr, token: impl Into<String>) -> Self {
        Self { address, token: Some(token.into()), max_seconds: 60 }
    }

    /// This config at `address`, keeping the token rules: a non-loopback address still needs
    /// [`expose`](Self::expose).
    pub fn at(mut self, address: SocketAddr) -> Self {
        self.address = address;
        self
    }

    /// The longest profile a request may ask for (default 60 s).
    pub fn with_max_seconds(mut self, seconds: u64) -> Self {
        self.max_seconds = seconds.max(1);
        self
    }
}

/// The running server; dropping it stops accepting (a profile in progress finishes).
#[derive(Debug)]
pub struct ProfilingServer {
    address: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProfilingServer {
    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for ProfilingServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Shared state of the server's connections.
struct State {
    config: ProfilingConfig,
    profiling: AtomicBool,
    connections: AtomicUsize,
}

/// Connections served at once; more are answered 503 at once.
const MAX_CONNECTIONS: usize = 8;

/// Starts the profiling server.
///
/// # Errors
/// A non-loopback address without a token, a short token, or an address that cannot be bound.
pub fn serve(config: ProfilingConfig) -> Result<ProfilingServer, ProfilingError> {
    match &config.token {
        None if !config.address.ip().is_loopback() => {
            return Err(ProfilingError::NotLoopback(config.address));
        }
        Some(token) if token.len() < 16 => return Err(ProfilingError::WeakToken(token.len())),
        _ => {}
    }
    let listener = TcpListener::bind(config.address)
        .map_err(|source| ProfilingError::Bind { address: config.address, source })?;
    let address =
        listener.local_addr().map_err(|source| ProfilingError::Bind { address: config.address, source })?;
    let stopping = Arc::new(AtomicBool::new(false));
    let state =
        Arc::new(State { config, profiling: AtomicBool::new(false), connections: AtomicUsize::new(0) });
    let stop = stopping.clone();
    let thread = std::thread::Builder::new()
        .name("contextd-profiling".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                if state.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    state.connections.fetch_sub(1, Ordering::SeqCst);
                    let _ = respond(
                        &mut stream,
                        "503 Service Unavailable",
                        "text/plain",
                        b"too many connections\n",
                    );
                    continue;
                }
                let state = state.clone();
                let spawned =
                    std::thread::Builder::new().name("contextd-profiling-request".into()).spawn(move || {
                        let _ = handle(&mut stream, &state);
                        state.connections.fetch_sub(1, Ordering::SeqCst);
                    });
                drop(spawned);
            }
        })
        .map_err(|source| ProfilingError::Bind { address, source })?;
    Ok(ProfilingServer { address, stopping, thread: Some(thread) })
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

fn handle(stream: &mut TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_owned());
        }
        line.clear();
    }
    if let Some(token) = &state.config.token
        && authorization.as_deref() != Some(format!("Bearer {token}").as_str())
    {
        return respond(stream, "401 Unauthorized", "text/plain", b"a bearer token is required\n");
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" {
        return respond(stream, "405 Method Not Allowed", "text/plain", b"only GET is supported\n");
    }
    match path {
        "/debug/pprof/profile" | "/debug/pprof/flamegraph" => {
            let seconds = match seconds(query, state.config.max_seconds) {
                Ok(seconds) => seconds,
                Err(message) => return respond(stream, "400 Bad Request", "text/plain", message.as_bytes()),
            };
            if state.profiling.swap(true, Ordering::SeqCst) {
                return respond(stream, "409 Conflict", "text/plain", b"a profile is already running; retry when it ends\n");
            }
            let result = profile(seconds, path.ends_with("flamegraph"));
            state.profiling.store(false, Ordering::SeqCst);
            match result {
                Ok((content_type, body)) => respond(stream, "200 OK", content_type, &body),
                Err(message) => respond(stream, "500 Internal Server Error", "text/plain", message.as_bytes()),
            }
        }
        "/debug/pprof/heap" => respond(
            stream,
            "501 Not Implemented",
            "text/plain",
            b"heap profiles need jemalloc built with profiling (e.g. tikv-jemallocator + jemalloc_pprof); this build uses the system allocator\n",
        ),
        _ => respond(
            stream,
            "404 Not Found",
            "text/plain",
            b"endpoints: /debug/pprof/profile?seconds=N, /debug/pprof/flamegraph?seconds=N, /debug/pprof/heap\n",
        ),
    }
}

/// The `seconds` parameter: 1..=max, default min(30, max).
fn seconds(query: &str, max: u64) -> Result<u64, String> {
    let Some(value) = query.split('&').find_map(|kv| kv.strip_prefix("seconds=")) else {
        return Ok(30.min(max));
    };
    match value.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("seconds={value:?} is not valid: expected a whole number from 1 to {max}\n")),
    }
}

/// Samples every thread at 99 Hz for `seconds`.
fn profile(seconds: u64, flamegraph: bool) -> Result<(&'static str, Vec<u8>), String> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(99)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| format!("starting the profiler: {e}\n"))?;
    std::thread::sleep(Duration::from_secs(seconds));
    let report = guard.report().build().map_err(|e| format!("building the report: {e}\n"))?;
    if flamegraph {
        let mut svg = Vec::new();
        report.flamegraph(&mut svg).map_err(|e| format!("drawing the flame graph: {e}\n"))?;
        if svg.is_empty() {
            // No thread used CPU during the profile, so there is no stack to draw.
            svg = format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\"><text x=\"10\" y=\"25\">\
                 no samples: the process used no CPU during the {seconds} s profile</text></svg>\n"
            )
            .into_bytes();
        }
        Ok(("image/svg+xml", svg))
    } else {
        let profile = report.pprof().map_err(|e| format!("encoding the profile: {e}\n"))?;
        let bytes = profile.write_to_bytes().map_err(|e| format!("encoding the profile: {e}\n"))?;
        Ok(("application/octet-stream", bytes))
    }
}

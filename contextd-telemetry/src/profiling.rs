//! On-demand CPU profiles over HTTP (cargo feature `profiling`), the Rust counterpart of Go's
//! `net/http/pprof`:
//!
//! - `GET /debug/pprof/profile?seconds=N`: a CPU profile of N seconds (default 30, at most the
//!   configured maximum, 60 by default) in pprof protobuf, which `go tool pprof` and speedscope
//!   read;
//! - `GET /debug/pprof/flamegraph?seconds=N`: the same profile as a flame graph SVG;
//! - `GET /debug/pprof/heap`: the live heap in pprof protobuf, for services on jemalloc with
//!   profiling enabled (feature `heap-profiling`; see the `heap_profile` example); 501 otherwise,
//!   saying what is missing.
//!
//! Profiles reveal code and data, so the server listens on loopback unless
//! [`ProfilingConfig::expose`] opts in to another address, which also requires a bearer token on
//! every request (compared in constant time). One profile runs at a time; a request during one
//! gets 409, not a queue. The server is the crate's one HTTP serving path, so slow or idle
//! clients are cut off by their deadlines and never hold it; [`ProfilingHandler`] serves the same
//! endpoints from a service's own router.
//!
//! ```no_run
//! let profiling = contextd_telemetry::profiling::serve(contextd_telemetry::profiling::ProfilingConfig::loopback(6060))?;
//! println!("go tool pprof http://{}/debug/pprof/profile?seconds=10", profiling.address());
//! # Ok::<(), contextd_telemetry::profiling::ProfilingError>(())
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use pprof::protos::Message as _;
use subtle::ConstantTimeEq as _;

use crate::serve::{HttpServer, Limits, response, text};

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

/// The running server; dropping it closes the port (a profile in progress is abandoned).
#[derive(Debug)]
pub struct ProfilingServer {
    server: HttpServer,
}

impl ProfilingServer {
    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }
}

/// Answers the profiling endpoints; [`serve`] runs one on its own port, and a service can mount
/// one on its own router instead.
///
/// [`respond`](Self::respond) blocks for as long as the profile asked for: call it from a
/// blocking thread (`tokio::task::spawn_blocking`), never on an async worker.
#[derive(Debug)]
pub struct ProfilingHandler {
    config: ProfilingConfig,
    /// Set while a profile runs: one at a time, others get 409.
    profiling: AtomicBool,
}

impl ProfilingHandler {
    /// A handler with `config`'s token and maximum duration (its address is not used).
    pub fn new(config: ProfilingConfig) -> Self {
        Self { config, profiling: AtomicBool::new(false) }
    }

    /// The answer to one request: its method, path, query and `Authorization` header.
    pub fn respond(&self, request: &http::request::Parts) -> http::Response<Bytes> {
        if let Some(token) = &self.config.token {
            let presented = request
                .headers
                .get(http::header::AUTHORIZATION)
                .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
                .unwrap_or_default();
            if !bool::from(presented.ct_eq(token.as_bytes())) {
                return text(StatusCode::UNAUTHORIZED, "a bearer token is required\n");
            }
        }
        if request.method != http::Method::GET {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET is supported\n");
        }
        let path = request.uri.path();
        match path {
            "/debug/pprof/profile" | "/debug/pprof/flamegraph" => {
                let seconds = match seconds(request.uri.query().unwrap_or(""), self.config.max_seconds) {
                    Ok(seconds) => seconds,
                    Err(message) => return text(StatusCode::BAD_REQUEST, message),
                };
                if self.profiling.swap(true, Ordering::SeqCst) {
                    return text(StatusCode::CONFLICT, "a profile is already running; retry when it ends\n");
                }
                let result = profile(seconds, path.ends_with("flamegraph"));
                self.profiling.store(false, Ordering::SeqCst);
                match result {
                    Ok((content_type, body)) => response(StatusCode::OK, content_type, body.into()),
                    Err(message) => text(StatusCode::INTERNAL_SERVER_ERROR, message),
                }
            }
            "/debug/pprof/heap" => heap_profile(),
            _ => text(
                StatusCode::NOT_FOUND,
                "endpoints: /debug/pprof/profile?seconds=N, /debug/pprof/flamegraph?seconds=N, /debug/pprof/heap\n",
            ),
        }
    }
}

impl crate::serve::Handler for ProfilingHandler {
    fn handle(&self, request: &http::request::Parts) -> http::Response<Bytes> {
        self.respond(request)
    }
}

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
    let address = config.address;
    let listener = TcpListener::bind(address).map_err(|source| ProfilingError::Bind { address, source })?;
    // A request may sample for up to `max_seconds`; the exchange deadline leaves room for it.
    let limits = Limits {
        connections: 32,
        request_head: Duration::from_secs(5),
        exchange: Duration::from_secs(config.max_seconds + 30),
    };
    let server =
        HttpServer::start(listener, "telemetry-profiling", Arc::new(ProfilingHandler::new(config)), limits)
            .map_err(|source| ProfilingError::Bind { address, source })?;
    Ok(ProfilingServer { server })
}

/// The live heap as jemalloc sampled it, in pprof protobuf (gzipped, as `go tool pprof` reads it).
#[cfg(feature = "heap-profiling")]
fn heap_profile() -> http::Response<Bytes> {
    let Some(control) = jemalloc_pprof::PROF_CTL.as_ref() else {
        return text(
            StatusCode::NOT_IMPLEMENTED,
            "jemalloc heap profiling is off: run the service on tikv-jemallocator (feature `profiling`) with \
             `prof:true,prof_active:true` in `_rjem_malloc_conf`\n",
        );
    };
    let mut control = control.blocking_lock();
    if !control.activated() {
        return text(
            StatusCode::CONFLICT,
            "jemalloc profiling is enabled but not active (prof_active:false)\n",
        );
    }
    match control.dump_pprof() {
        Ok(profile) => response(StatusCode::OK, "application/octet-stream", profile.into()),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("dumping the heap profile: {e}\n")),
    }
}

/// Without the `heap-profiling` feature there is no heap profile to give.
#[cfg(not(feature = "heap-profiling"))]
fn heap_profile() -> http::Response<Bytes> {
    text(
        StatusCode::NOT_IMPLEMENTED,
        "heap profiles need contextd-telemetry's `heap-profiling` feature and a service running on jemalloc \
         with profiling (tikv-jemallocator)\n",
    )
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

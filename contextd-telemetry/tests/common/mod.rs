//! Real peers for the integration tests: a VictoriaMetrics process, OTLP trace receivers (HTTP
//! and gRPC) that decode what the exporter sent, and misbehaving endpoints.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message as _;

/// Telemetry is process-wide: tests of one binary that call `init` take turns.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits until `check` returns `Some`, or panics with `what` after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < until, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// A VictoriaMetrics process on a free loopback port with its own data directory.
pub struct VictoriaMetrics {
    child: Child,
    pub port: u16,
    data: PathBuf,
}

impl VictoriaMetrics {
    /// Starts VictoriaMetrics the way the project runs it: Prometheus naming for OTLP, and no
    /// query latency offset so fresh samples are visible. Fails (never skips) when the binary
    /// is missing, naming the command that installs it.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// As [`start`](Self::start), with extra command-line flags.
    pub fn start_with(extra: &[String]) -> Self {
        let binary = std::env::var_os("VICTORIA_METRICS_BIN").map(PathBuf::from).unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| "/root".into());
            home.join(".cache/contextd-tools/victoriametrics/bin/victoria-metrics")
        });
        assert!(
            binary.is_file(),
            "VictoriaMetrics is not installed at {}; install it with `scripts/install-victoriametrics` \
             (or run the whole suite with `scripts/test`), or point VICTORIA_METRICS_BIN at the binary",
            binary.display()
        );
        let port = free_port();
        let data = std::env::temp_dir().join(format!("contextd-vm-{}-{port}", std::process::id()));
        let child = Command::new(&binary)
            .arg(format!("-storageDataPath={}", data.display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg("-opentelemetry.usePrometheusNaming")
            .arg("-search.latencyOffset=0s")
            .arg("-loggerLevel=ERROR")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let vm = Self { child, port, data };
        eventually(Duration::from_secs(30), "VictoriaMetrics /health", || {
            let ok = http().get(vm.url("/health")).send().ok()?.text().ok()?;
            (ok.trim() == "OK").then_some(())
        });
        vm
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The OTLP/HTTP metrics endpoint, for `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`.
    pub fn otlp_metrics_endpoint(&self) -> String {
        self.url("/opentelemetry/v1/metrics")
    }

    /// Runs a PromQL instant query (after making fresh samples searchable) and returns the
    /// `data.result` array.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let client = http();
        client.get(self.url("/internal/force_flush")).send().expect("force_flush");
        let url = self.url(&format!("/api/v1/query?query={}", url_encode(promql)));
        let response: serde_json::Value =
            serde_json::from_str(&client.get(url).send().unwrap().text().unwrap()).unwrap();
        assert_eq!(response["status"], "success", "query {promql}: {response}");
        response["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Every metric name VictoriaMetrics has stored.
    pub fn metric_names(&self) -> Vec<String> {
        let client = http();
        client.get(self.url("/internal/force_flush")).send().expect("force_flush");
        let body = client.get(self.url("/api/v1/label/__name__/values")).send().unwrap().text().unwrap();
        let response: serde_json::Value = serde_json::from_str(&body).unwrap();
        response["data"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Spans received by a test receiver, in arrival order.
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<ResourceSpans>>>);

impl Received {
    pub fn spans(&self) -> Vec<ResourceSpans> {
        self.0.lock().unwrap().clone()
    }
    fn push(&self, request: ExportTraceServiceRequest) {
        self.0.lock().unwrap().extend(request.resource_spans);
    }
}

/// An OTLP/HTTP trace receiver on a loopback port: decodes each protobuf request body.
pub struct HttpTraceReceiver {
    pub address: SocketAddr,
    pub received: Received,
}

impl HttpTraceReceiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let received = Received::default();
        let sink = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || serve_otlp_http(stream, &sink));
            }
        });
        Self { address, received }
    }

    pub fn traces_endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.address)
    }
}

fn serve_otlp_http(stream: TcpStream, sink: &Received) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        assert!(request_line.starts_with("POST /v1/traces "), "unexpected request {request_line:?}");
        sink.push(
            ExportTraceServiceRequest::decode(body.as_slice()).expect("an OTLP protobuf trace request"),
        );
        let reply = ExportTraceServiceResponse::default().encode_to_vec();
        write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            reply.len()
        )
        .unwrap();
        writer.write_all(&reply).unwrap();
    }
}

/// An OTLP/gRPC trace receiver (tonic) on a loopback port, on its own runtime.
pub struct GrpcTraceReceiver {
    pub address: SocketAddr,
    pub received: Received,
    _runtime: tokio::runtime::Runtime,
}

struct TraceSink(Received);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService for TraceSink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl GrpcTraceReceiver {
    pub fn start() -> Self {
        use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let received = Received::default();
        let service = TraceServiceServer::new(TraceSink(received.clone()));
        runtime.spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        Self { address, received, _runtime: runtime }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// How a misbehaving endpoint treats a connection.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Accepts, reads, never answers.
    Stall,
    /// Answers every request with 500.
    Status500,
}

/// A loopback endpoint that misbehaves; counts the requests it saw.
pub struct FaultyEndpoint {
    pub address: SocketAddr,
    pub requests: Arc<Mutex<u32>>,
}

impl FaultyEndpoint {
    pub fn start(fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(0));
        let count = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let count = count.clone();
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut buffer = [0u8; 64 * 1024];
                    *count.lock().unwrap() += 1;
                    match fault {
                        Fault::Stall => {
                            // Hold the connection open, reading whatever comes, never replying.
                            while matches!(stream.read(&mut buffer), Ok(n) if n > 0) {}
                        }
                        Fault::Status500 => {
                            let _ = stream.read(&mut buffer);
                            let body = "collector exploded";
                            let _ = write!(
                                stream,
                                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            );
                        }
                    }
                });
            }
        });
        Self { address, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

/// A loopback URL where nothing listens: connections are refused.
pub fn refusing_url(path: &str) -> String {
    let port = free_port(); // bound and released: nothing listens there now
    format!("http://127.0.0.1:{port}{path}")
}

/// The attributes of a proto resource or span as `key=value` strings.
pub fn attributes(kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> Vec<(String, String)> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    kvs.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

//! Real peers for the integration tests: a VictoriaMetrics process, OTLP trace receivers (HTTP
//! and gRPC) that decode what the exporter sent, and misbehaving endpoints.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

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

#[allow(unused_imports)] // each test binary uses its own subset
pub use contextd_testkit::{VictoriaMetrics, eventually, free_port};

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

    /// Decodes and keeps one protobuf OTLP trace request body.
    pub fn push_bytes(&self, body: &[u8]) {
        self.push(ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf trace request"));
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
    while let Some((request_line, body)) = contextd_testkit::read_http_request(&mut reader) {
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
        let received = Received::default();
        let routes = tonic::service::Routes::new(TraceServiceServer::new(TraceSink(received.clone())));
        let (address, runtime) = serve_grpc(routes);
        Self { address, received, _runtime: runtime }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Serves `routes` over gRPC on a loopback port, on a runtime of its own (kept by the caller).
pub fn serve_grpc(routes: tonic::service::Routes) -> (SocketAddr, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(async move {
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    (address, runtime)
}

/// How a misbehaving endpoint treats a connection.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Accepts, reads, never answers.
    Stall,
    /// Answers every request with 500.
    Status500,
    /// Answers every request with 429 and `Retry-After: 1`.
    Status429,
    /// Answers with bytes that are not HTTP.
    Garbage,
    /// Answers 200, but only after a second.
    Slow,
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
                        Fault::Status429 => {
                            let _ = stream.read(&mut buffer);
                            let _ = write!(
                                stream,
                                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            );
                        }
                        Fault::Slow => {
                            let _ = stream.read(&mut buffer);
                            std::thread::sleep(std::time::Duration::from_secs(1));
                            let _ = write!(
                                stream,
                                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            );
                        }
                        Fault::Garbage => {
                            let _ = stream.read(&mut buffer);
                            let _ = stream.write_all(b"\x00\x01 definitely not HTTP \xff\r\n\r\n");
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

/// Resident set size of this process in bytes (`VmRSS` of /proc/self/status).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// The sample lines of a Prometheus text body whose name starts with `prefix`: series → value.
pub fn samples(body: &str, prefix: &str) -> std::collections::BTreeMap<String, f64> {
    body.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' ').map(|(series, value)| (series.to_owned(), value.parse().unwrap())))
        .collect()
}

/// Serves an axum app on a loopback port from a runtime of its own; returns the address.
pub fn serve_axum(app: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    address
}

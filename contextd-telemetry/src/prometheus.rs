//! The Prometheus pull endpoint: `GET /metrics` collects on demand and answers in text format,
//! so VictoriaMetrics or Prometheus can scrape a service with no collector at all.
//!
//! One plain thread serves one connection at a time with short socket timeouts: a scrape is
//! small and rare, and a stuck client can hold the endpoint for at most those timeouts.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

use crate::error::TelemetryError;

const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`ManualReader`] shared between the meter provider and the endpoint thread.
#[derive(Debug, Clone)]
pub(crate) struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// The running endpoint; stopped by [`PrometheusEndpoint::stop`].
#[derive(Debug)]
pub(crate) struct PrometheusEndpoint {
    address: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PrometheusEndpoint {
    /// Binds `host:port` and returns the reader to register plus the serving endpoint.
    pub(crate) fn start(
        host: &str,
        port: u16,
        overflow: Arc<crate::overflow::OverflowWatch>,
    ) -> Result<(SharedReader, Self), TelemetryError> {
        let address = format!("{host}:{port}");
        let listener = TcpListener::bind(&address)
            .map_err(|source| TelemetryError::PrometheusBind { address: address.clone(), source })?;
        let address = listener
            .local_addr()
            .map_err(|source| TelemetryError::PrometheusBind { address: address.clone(), source })?;
        let reader = SharedReader(Arc::new(ManualReader::builder().build()));
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("contextd-prometheus".into())
            .spawn({
                let (reader, stopping) = (reader.clone(), stopping.clone());
                move || serve(&listener, &reader, &stopping, &overflow)
            })
            .map_err(|source| TelemetryError::Runtime { what: "the Prometheus endpoint thread", source })?;
        Ok((reader, Self { address, stopping, thread: Some(thread) }))
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting and joins the thread (it finishes the scrape it is serving, if any).
    pub(crate) fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.address, SOCKET_TIMEOUT);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    listener: &TcpListener,
    reader: &SharedReader,
    stopping: &AtomicBool,
    overflow: &crate::overflow::OverflowWatch,
) {
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(stream) = stream {
            let _ = answer(stream, reader, overflow);
        }
    }
}

fn answer(
    mut stream: TcpStream,
    reader: &SharedReader,
    overflow: &crate::overflow::OverflowWatch,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    stream.set_write_timeout(Some(SOCKET_TIMEOUT))?;
    let mut request_line = String::new();
    let mut lines = BufReader::new(stream.try_clone()?);
    lines.read_line(&mut request_line)?;
    // Drain the headers so the client sees a clean response.
    let mut header = String::new();
    while lines.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, body) = match (method, path) {
        ("GET", "/metrics") => {
            let mut metrics = ResourceMetrics::default();
            match reader.collect(&mut metrics) {
                Ok(()) => {
                    overflow.check(&metrics);
                    let mut text = String::new();
                    crate::exposition::render(&metrics, &mut text);
                    ("200 OK", text)
                }
                Err(e) => ("500 Internal Server Error", format!("collecting metrics failed: {e}\n")),
            }
        }
        ("GET", _) => ("404 Not Found", "only /metrics is served here\n".to_owned()),
        _ => ("405 Method Not Allowed", "only GET is supported\n".to_owned()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

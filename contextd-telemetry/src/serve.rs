//! The one HTTP serving path of this crate, used by the Prometheus pull endpoint and the
//! profiling endpoints: hyper's HTTP/1.1 server on a private single-thread tokio runtime.
//!
//! Every connection is its own task, so a slow client holds only itself. Each connection has a
//! deadline for its request head (not per read: a client trickling a byte a second is cut off
//! all the same) and one for the whole exchange; connections beyond a bound are closed at once;
//! handlers run on the blocking pool, since collecting metrics or sampling a profile blocks.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, oneshot};

/// Answers one request. Runs on a blocking thread: it may take as long as its work needs,
/// within the server's [`Limits::exchange`].
pub(crate) trait Handler: Send + Sync + 'static {
    fn handle(&self, request: &http::request::Parts) -> http::Response<Bytes>;
}

/// Bounds that keep hostile or broken clients from holding a server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections served at once; more are closed as they arrive.
    pub(crate) connections: usize,
    /// Time from accepting a connection to having its whole request head.
    pub(crate) request_head: Duration,
    /// Time for the whole exchange: head, handler and response.
    pub(crate) exchange: Duration,
}

/// A running server; [`stop`](Self::stop) or drop it to close the port.
#[derive(Debug)]
pub(crate) struct HttpServer {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves `listener` with `handler` on a thread named `name`.
    pub(crate) fn start(
        listener: TcpListener,
        name: &str,
        handler: Arc<dyn Handler>,
        limits: Limits,
    ) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            runtime.block_on(accept(listener, handler, limits, stopped));
            // Connections still open are dropped; a handler still running finishes on its own.
            runtime.shutdown_background();
        })?;
        Ok(Self { address, stop: Some(stop), thread: Some(thread) })
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting, closes open connections and joins the serving thread.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    limits: Limits,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
    let permits = Arc::new(Semaphore::new(limits.connections));
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like: wait instead of spinning.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let handler = handler.clone();
                async move {
                    let (parts, _body) = request.into_parts();
                    let response =
                        tokio::task::spawn_blocking(move || handler.handle(&parts)).await.unwrap_or_else(
                            |_| text(http::StatusCode::INTERNAL_SERVER_ERROR, "the handler failed\n"),
                        );
                    Ok::<_, Infallible>(response.map(Full::new))
                }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.request_head)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limits.exchange, connection).await;
            drop(permit);
        });
    }
}

/// A plain-text response.
pub(crate) fn text(status: http::StatusCode, body: impl Into<Bytes>) -> http::Response<Bytes> {
    response(status, "text/plain; charset=utf-8", body.into())
}

/// A response with a body of `content_type`.
pub(crate) fn response(
    status: http::StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> http::Response<Bytes> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
}

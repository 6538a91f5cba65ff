//! HTTP server metrics and spans as a tower [`Layer`], for axum and hyper services.
//!
//! Per request: `http.server.request.duration` (seconds, [`REQUEST_DURATION_BUCKETS`]) with
//! `http.request.method` (unknown methods as `_OTHER`), `http.route` (the matched route template,
//! never the raw path), `http.response.status_code`, and `error.type` for 5xx responses and
//! panics; `http.server.active_requests` while it runs; and a server span named
//! `<METHOD> <route>` that continues the caller's trace, read with the propagators of
//! `OTEL_PROPAGATORS` (W3C Trace Context and Baggage by default). [`inject_context`] carries the
//! trace on in the headers of the requests a handler makes.
//!
//! The instruments belong to the running telemetry: they are created under the instrumentation
//! scope of the catalog it was given (`with_catalog`; contextd's by default) and follow it through
//! every `init`, so a layer built once keeps recording after telemetry is re-initialised.
//!
//! The duration ends when the response head is ready (not when a streamed body ends). A handler
//! panic is caught: the request is answered 500 and recorded with `error.type="panic"`. A
//! request whose future is dropped before it answers (the client disconnected, a timeout layer
//! gave up) leaves the active count and ends its span all the same, recorded with
//! `error.type="cancelled"` and no status code.
//!
//! ```no_run
//! # #[cfg(feature = "axum")] {
//! use axum::{Router, routing::get};
//!
//! let telemetry = contextd_telemetry::init()?;
//! let app: Router = Router::new()
//!     .route("/checkpoints/{id}", get(|| async { "ok" }))
//!     .layer(contextd_telemetry::http::HttpMetricsLayer::new());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use opentelemetry::metrics::{Histogram, UpDownCounter};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{FutureExt as _, SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context as OtelContext, KeyValue, global};
use opentelemetry_semantic_conventions::{attribute as attr, metric};
use tower_layer::Layer;
use tower_service::Service;

/// The route template of a request, for services that route without axum: insert it into the
/// request's extensions before this layer's service sees the request (axum's `MatchedPath` is
/// read directly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTemplate(pub Cow<'static, str>);

/// The bucket bounds of `http.server.request.duration`, in seconds: the semantic conventions'
/// advice for it.
pub const REQUEST_DURATION_BUCKETS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

/// The tower layer; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct HttpMetricsLayer {
    scheme: Option<&'static str>,
    server_address: Option<Cow<'static, str>>,
}

#[derive(Debug)]
struct Instruments {
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
}

impl Instruments {
    /// The running telemetry's instruments (no-op ones while it is not running), rebuilt on the
    /// first request after each `init`: one atomic load and a compare per request.
    fn current() -> &'static Self {
        static CELL: contextd_metrics::MetersCell<Instruments> = contextd_metrics::MetersCell::new();
        CELL.get_for_pipeline(|destination| {
            let meter = destination.meter;
            let duration = meter
                .f64_histogram(metric::HTTP_SERVER_REQUEST_DURATION)
                .with_unit("s")
                .with_description("Duration of HTTP server requests")
                .with_boundaries(REQUEST_DURATION_BUCKETS.to_vec())
                .build();
            let active = meter
                .i64_up_down_counter(metric::HTTP_SERVER_ACTIVE_REQUESTS)
                .with_unit("{request}")
                .with_description("Number of active HTTP server requests")
                .build();
            Instruments { duration, active }
        })
    }
}

impl HttpMetricsLayer {
    /// A layer recording into the running telemetry, whenever it is initialised.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `url.scheme` (`http` or `https`): the server knows it, the request usually does not say.
    pub fn with_scheme(mut self, scheme: &'static str) -> Self {
        self.scheme = Some(scheme);
        self
    }

    /// Records `server.address`, the name clients use for this server. Set from configuration,
    /// never from the `Host` header, which any client can fill with anything.
    pub fn with_server_address(mut self, address: impl Into<Cow<'static, str>>) -> Self {
        self.server_address = Some(address.into());
        self
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics { inner, layer: self.clone() }
    }
}

/// The service [`HttpMetricsLayer`] wraps around yours.
#[derive(Debug, Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    layer: HttpMetricsLayer,
}

/// `http.request.method` per the semantic conventions: the known methods, else `_OTHER`.
pub fn normalize_method(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::CONNECT => "CONNECT",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::TRACE => "TRACE",
        http::Method::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value))
        {
            self.0.insert(name, value);
        }
    }
}

/// Adds the current trace context (and baggage) to the headers of an outgoing request, in the
/// formats of `OTEL_PROPAGATORS`, so the service called continues the trace.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// contextd_telemetry::http::inject_context(&mut headers);
/// // e.g. reqwest: client.get(url).headers(headers)
/// ```
pub fn inject_context(headers: &mut http::HeaderMap) {
    let cx = OtelContext::current();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(headers)));
}

fn route_of<B>(request: &http::Request<B>) -> Option<Cow<'static, str>> {
    #[cfg(feature = "axum")]
    if let Some(matched) = request.extensions().get::<axum::extract::MatchedPath>() {
        return Some(Cow::Owned(matched.as_str().to_owned()));
    }
    request.extensions().get::<RouteTemplate>().map(|r| r.0.clone())
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for HttpMetrics<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let started = Instant::now();
        let method = normalize_method(request.method());
        let route = route_of(&request);
        let mut common = vec![KeyValue::new(attr::HTTP_REQUEST_METHOD, method)];
        if let Some(scheme) = self.layer.scheme {
            common.push(KeyValue::new(attr::URL_SCHEME, scheme));
        }
        let instruments = Instruments::current();
        instruments.active.add(1, &common);
        if let Some(address) = &self.layer.server_address {
            common.push(KeyValue::new(attr::SERVER_ADDRESS, address.clone()));
        }
        if let Some(route) = &route {
            common.push(KeyValue::new(attr::HTTP_ROUTE, route.clone()));
        }

        // The propagators `OTEL_PROPAGATORS` chose (installed globally by `init`).
        let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(request.headers())));
        let name = match &route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        let tracer = global::tracer(crate::globals::scope());
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(common.clone())
            .start_with_context(&tracer, &parent);
        let cx = parent.with_span(span);

        // Ends the request's accounting exactly once: when the response is ready, or when the
        // future is dropped first (the client went away, a timeout cancelled it).
        let mut in_flight = InFlight { instruments, attributes: common, started, cx: Some(cx.clone()) };

        // A panic while creating the future is caught like one while polling it.
        let future = catch_unwind(AssertUnwindSafe(|| cx.clone().attach_then(|| self.inner.call(request))));
        Box::pin(
            async move {
                let outcome = match future {
                    Ok(future) => CatchUnwind(Box::pin(future)).await,
                    Err(_) => Err(()),
                };
                let (status, error_type, result) = match outcome {
                    Ok(Ok(response)) => {
                        let status = response.status().as_u16();
                        (status, (status >= 500).then(|| status.to_string()), Ok(response))
                    }
                    // An error from the inner service: no response to read a status from.
                    Ok(Err(error)) => (500, Some("service_error".to_owned()), Err(error)),
                    Err(()) => {
                        let mut response = http::Response::new(ResBody::default());
                        *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                        (500, Some("panic".to_owned()), Ok(response))
                    }
                };
                in_flight.end(Some(status), error_type);
                result
            }
            .with_context(cx),
        )
    }
}

/// One request between its start and its end, whichever way it ends.
struct InFlight {
    instruments: &'static Instruments,
    /// Method, scheme, then server address and route.
    attributes: Vec<KeyValue>,
    started: Instant,
    /// The server span's context until the request ends.
    cx: Option<OtelContext>,
}

impl InFlight {
    /// Records the duration, ends the span and leaves the active count. A request dropped
    /// before its response has no status and `error.type="cancelled"`.
    fn end(&mut self, status: Option<u16>, error_type: Option<String>) {
        let Some(cx) = self.cx.take() else { return };
        let mut attributes = std::mem::take(&mut self.attributes);
        let active: Vec<KeyValue> = attributes
            .iter()
            .filter(|kv| kv.key.as_str() == attr::HTTP_REQUEST_METHOD || kv.key.as_str() == attr::URL_SCHEME)
            .cloned()
            .collect();
        let span = cx.span();
        if let Some(status) = status {
            attributes.push(KeyValue::new(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(status)));
            span.set_attribute(KeyValue::new(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(status)));
        }
        if let Some(error_type) = error_type {
            span.set_status(Status::error(error_type.clone()));
            attributes.push(KeyValue::new(attr::ERROR_TYPE, error_type));
        }
        span.end();
        self.instruments.duration.record(self.started.elapsed().as_secs_f64(), &attributes);
        self.instruments.active.add(-1, &active);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The catalog's word for a call whose future was dropped.
        self.end(None, Some(contextd_metrics::Status::Cancelled.as_str().to_owned()));
    }
}

/// Runs `f` with this context current.
trait AttachThen {
    fn attach_then<T>(self, f: impl FnOnce() -> T) -> T;
}

impl AttachThen for OtelContext {
    fn attach_then<T>(self, f: impl FnOnce() -> T) -> T {
        let _guard = self.attach();
        f()
    }
}

/// Polls the inner future, turning a panic into `Err(())`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

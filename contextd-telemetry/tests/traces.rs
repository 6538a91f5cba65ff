//! Spans exported over real sockets to OTLP receivers built on `opentelemetry-proto`, over
//! HTTP/protobuf and gRPC: names, parent/child links, status and resource attributes as sent.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{GrpcTraceReceiver, HttpTraceReceiver, attributes, eventually, serial};
use contextd_telemetry::{MetricsExporter, OtlpProtocol, SamplerConfig, TelemetryConfig};
use opentelemetry::trace::{Span as _, Status, TraceContextExt as _, Tracer as _};
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};

#[contextd_metrics::instrument_op("checkpoint", "search")]
fn search(query: &str) -> Result<usize, String> {
    // A tracing span inside a wrapped operation nests under the operation's span.
    let _scan = tracing::info_span!("vectorstore.scan").entered();
    if query.is_empty() { Err("empty query".to_owned()) } else { Ok(query.len()) }
}

fn config(endpoint: String) -> TelemetryConfig {
    TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_service_name("contextd-trace-test")
        .with_service_version("1.2.3")
        .with_metrics_exporter(MetricsExporter::None)
        .with_otlp_traces_endpoint(endpoint)
        .with_sampler(SamplerConfig::AlwaysOn)
}

fn spans_by_name(
    received: &common::Received,
    expected: usize,
) -> (BTreeMap<String, Span>, Vec<(String, String)>) {
    let resource_spans = eventually(Duration::from_secs(10), "spans at the receiver", || {
        let all = received.spans();
        let count: usize = all.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        (count >= expected).then_some(all)
    });
    let resource = attributes(&resource_spans[0].resource.as_ref().unwrap().attributes);
    let spans = resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| s.spans.clone())
        .map(|span| (span.name.clone(), span))
        .collect();
    (spans, resource)
}

#[test]
fn tracing_spans_and_otel_spans_form_one_trace_over_http() {
    let _serial = serial();
    let receiver = HttpTraceReceiver::start();
    let telemetry = config(receiver.traces_endpoint()).init().unwrap();

    {
        let request = tracing::info_span!("mcp.request", tool = "checkpoint_save");
        let _entered = request.enter();
        // An OpenTelemetry span started while the tracing span is entered becomes its child.
        let tracer = opentelemetry::global::tracer("contextd");
        tracer.in_span("checkpoint.create", |cx| {
            let span = cx.span();
            span.set_status(Status::error("vector store unavailable"));
            let _inner = tracing::info_span!("vectorstore.insert").entered();
        });
        assert!(search("").is_err());
    }
    telemetry.force_flush().expect("flush to the receiver");

    let (spans, resource) = spans_by_name(&receiver.received, 5);
    let request = &spans["mcp.request"];
    // The wrapped operation's span: child of the caller's tracing span, parent of the body's.
    let search = &spans["checkpoint.search"];
    assert_eq!(
        (search.trace_id.clone(), search.parent_span_id.clone()),
        (request.trace_id.clone(), request.span_id.clone())
    );
    assert_eq!(spans["vectorstore.scan"].parent_span_id, search.span_id);
    assert_eq!(search.status.as_ref().unwrap().code, StatusCode::Error as i32);
    let search_attributes = attributes(&search.attributes);
    assert!(
        search_attributes.contains(&("error.type".to_owned(), "other".to_owned())),
        "{search_attributes:?}"
    );
    let create = &spans["checkpoint.create"];
    let insert = &spans["vectorstore.insert"];
    assert_eq!(create.trace_id, request.trace_id, "one trace");
    assert_eq!(insert.trace_id, request.trace_id, "one trace");
    assert_eq!(create.parent_span_id, request.span_id, "otel span is a child of the tracing span");
    assert_eq!(insert.parent_span_id, create.span_id, "tracing span is a child of the otel span");
    assert!(request.parent_span_id.is_empty(), "the request is the root");
    let status = create.status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "vector store unavailable");

    let resource: BTreeMap<_, _> = resource.into_iter().collect();
    assert_eq!(resource["service.name"], "contextd-trace-test");
    assert_eq!(resource["service.version"], "1.2.3");
    assert_eq!(resource["process.pid"], std::process::id().to_string());
    assert_eq!(resource["telemetry.sdk.language"], "rust");
    assert!(resource.contains_key("host.name") && resource.contains_key("process.executable.name"));
    telemetry.shutdown().unwrap();
}

#[test]
fn spans_arrive_over_grpc_from_inside_a_current_thread_runtime() {
    let _serial = serial();
    let receiver = GrpcTraceReceiver::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Everything, shutdown included, is called from the runtime's only thread.
    runtime.block_on(async {
        let telemetry = config(receiver.endpoint())
            .with_otlp_protocol(OtlpProtocol::Grpc)
            .with_tracing_subscriber(false)
            .init()
            .unwrap();
        let tracer = opentelemetry::global::tracer("contextd");
        let mut parent = tracer.start("skill.apply");
        let parent_cx = opentelemetry::Context::new().with_remote_span_context(parent.span_context().clone());
        let mut child = tracer.start_with_context("embedding.generate", &parent_cx);
        child.set_status(Status::Ok);
        child.end();
        parent.end();
        telemetry.force_flush().expect("flush over gRPC");
        telemetry.shutdown().expect("shutdown inside a current-thread runtime");
    });
    let (spans, resource) = spans_by_name(&receiver.received, 2);
    assert_eq!(spans["embedding.generate"].parent_span_id, spans["skill.apply"].span_id);
    assert_eq!(spans["embedding.generate"].status.as_ref().unwrap().code, StatusCode::Ok as i32);
    assert!(resource.contains(&("service.name".to_owned(), "contextd-trace-test".to_owned())));
}

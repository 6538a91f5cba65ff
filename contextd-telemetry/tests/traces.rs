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
    // The service's own subscriber, with our layer: scoped to this thread, as a test must.
    let _subscriber = {
        use tracing_subscriber::layer::SubscriberExt as _;
        tracing::subscriber::set_default(tracing_subscriber::registry().with(telemetry.tracing_layer()))
    };

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

/// A certificate authority and an OTLP/HTTPS trace receiver whose certificate it signed; with
/// `client_auth`, the receiver accepts only clients presenting a certificate the CA signed, and
/// `client_pem` is one (certificate and key).
struct TlsReceiver {
    ca_pem: String,
    endpoint: String,
    received: common::Received,
    headers: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    client_pem: (String, String),
}

fn tls_receiver() -> TlsReceiver {
    tls_receiver_with(false)
}

fn tls_receiver_with(client_auth: bool) -> TlsReceiver {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use std::io::{BufRead, BufReader, Read, Write};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert = CertificateParams::new(vec!["contextd-client".to_owned()])
        .unwrap()
        .signed_by(&client_key, &issuer)
        .unwrap();
    let builder = rustls::ServerConfig::builder();
    let builder = if client_auth {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_cert.der().clone()).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder(std::sync::Arc::new(roots)).build().unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder
        .with_single_cert(
            vec![server_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = common::Received::default();
    let headers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (sink, seen) = (received.clone(), headers.clone());
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, sink, seen) = (config.clone(), sink.clone(), seen.clone());
            std::thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else { return };
                let mut reader = BufReader::new(rustls::StreamOwned::new(connection, tcp));
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap();
                            }
                            seen.lock().unwrap().push(format!(
                                "{}: {}",
                                name.to_ascii_lowercase(),
                                value.trim()
                            ));
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    sink.push_bytes(&body);
                    let stream = reader.get_mut();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
                    );
                    let _ = stream.flush();
                }
            });
        }
    });
    TlsReceiver {
        ca_pem: ca_cert.pem(),
        endpoint: format!("https://localhost:{port}/v1/traces"),
        received,
        headers,
        client_pem: (client_cert.pem(), client_key.serialize_pem()),
    }
}

#[test]
fn spans_arrive_over_tls_with_a_custom_ca_and_headers_from_the_environment() {
    let _serial = serial();
    let receiver = tls_receiver();
    let ca_path = std::env::temp_dir().join(format!("contextd-test-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_path, &receiver.ca_pem).unwrap();
    let env: BTreeMap<&str, String> = [
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint.clone()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_path.display().to_string()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret-token".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_TRACES_SAMPLER", "always_on".to_owned()),
    ]
    .into();
    let config = TelemetryConfig::from_lookup(|name| env.get(name).cloned()).unwrap();
    assert!(!format!("{config:?}").contains("s3cret-token"), "header values never printed");
    let telemetry = config.with_tracing_subscriber(false).init().unwrap();
    opentelemetry::global::tracer("contextd").in_span("remediation.search", |_| {});
    telemetry.force_flush().expect("export over TLS");
    let (spans, _) = spans_by_name(&receiver.received, 1);
    assert!(spans.contains_key("remediation.search"));
    assert!(receiver.headers.lock().unwrap().iter().any(|h| h == "authorization: Bearer s3cret-token"));
    telemetry.shutdown().unwrap();

    // Without the CA the server is not trusted: the export fails and is counted.
    let untrusted = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_metrics_exporter(MetricsExporter::None)
        .with_otlp_traces_endpoint(receiver.endpoint.clone())
        .with_sampler(SamplerConfig::AlwaysOn)
        .with_tracing_subscriber(false)
        .init()
        .unwrap();
    opentelemetry::global::tracer("contextd").in_span("remediation.save", |_| {});
    assert!(untrusted.force_flush().is_err(), "an untrusted certificate must fail the export");
    assert_eq!(untrusted.traces_export_stats().failed, 1);
    untrusted.shutdown().unwrap();
    let _ = std::fs::remove_file(ca_path);
}

/// The span limits of the environment take effect: `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` and
/// `OTEL_SPAN_EVENT_COUNT_LIMIT` cut what a span keeps and the export says how much it dropped;
/// `OTEL_ATTRIBUTE_COUNT_LIMIT` stands in for the events' own limit.
#[test]
fn span_limits_from_the_environment_cut_attributes_and_events() {
    let _serial = serial();
    let receiver = HttpTraceReceiver::start();
    let endpoint = receiver.traces_endpoint();
    let telemetry = TelemetryConfig::from_lookup(|name| match name {
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT" => Some("2".to_owned()),
        "OTEL_SPAN_EVENT_COUNT_LIMIT" => Some("1".to_owned()),
        "OTEL_ATTRIBUTE_COUNT_LIMIT" => Some("1".to_owned()),
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_METRICS_EXPORTER" => Some("none".to_owned()),
        _ => None,
    })
    .unwrap()
    .with_sampler(SamplerConfig::AlwaysOn)
    .init()
    .unwrap();
    let tracer = opentelemetry::global::tracer("contextd");
    tracer.in_span("limited", |cx| {
        let span = cx.span();
        for i in 0..5 {
            span.set_attribute(opentelemetry::KeyValue::new(format!("a{i}"), i));
        }
        for i in 0..3 {
            let attributes = vec![opentelemetry::KeyValue::new("x", i), opentelemetry::KeyValue::new("y", i)];
            span.add_event(format!("event {i}"), attributes);
        }
    });
    telemetry.force_flush().unwrap();
    let span = eventually(Duration::from_secs(10), "the span", || {
        receiver
            .received
            .spans()
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .find(|s| s.name == "limited")
            .cloned()
    });
    assert_eq!((span.attributes.len(), span.dropped_attributes_count), (2, 3), "{span:?}");
    assert_eq!((span.events.len(), span.dropped_events_count), (1, 2), "{span:?}");
    assert_eq!(span.events[0].attributes.len(), 1, "the general limit applies to events: {span:?}");
    telemetry.shutdown().unwrap();
}

/// mTLS: a receiver that asks for a client certificate gets spans from a client given one with
/// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and `OTEL_EXPORTER_OTLP_CLIENT_KEY`, and refuses one
/// without (the export fails and is counted); the key never shows in the configuration's
/// `Debug`; a certificate without its key is an error naming the variable.
#[test]
fn spans_arrive_over_mutual_tls_with_a_client_certificate_from_the_environment() {
    let _serial = serial();
    let receiver = tls_receiver_with(true);
    let dir = std::env::temp_dir().join(format!("contextd-test-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let ca = write("ca.pem", &receiver.ca_pem);
    let certificate = write("client.pem", &receiver.client_pem.0);
    let key = write("client-key.pem", &receiver.client_pem.1);
    let env = |with_key: bool, with_certificate: bool| {
        let mut env: BTreeMap<&str, String> = [
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint.clone()),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.clone()),
            ("OTEL_METRICS_EXPORTER", "none".to_owned()),
            ("OTEL_TRACES_SAMPLER", "always_on".to_owned()),
        ]
        .into();
        if with_certificate {
            env.insert("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", certificate.clone());
        }
        if with_key {
            env.insert("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.clone());
        }
        env
    };
    let with_identity = env(true, true);
    let config = TelemetryConfig::from_lookup(|name| with_identity.get(name).cloned()).unwrap();
    let secret_line = receiver.client_pem.1.lines().nth(1).unwrap().to_owned();
    assert!(!format!("{config:?}").contains(&secret_line), "the key never printed");
    let telemetry = config.with_tracing_subscriber(false).init().unwrap();
    opentelemetry::global::tracer("contextd").in_span("checkpoint.resume", |_| {});
    telemetry.force_flush().expect("export over mutual TLS");
    let (spans, _) = spans_by_name(&receiver.received, 1);
    assert!(spans.contains_key("checkpoint.resume"));
    telemetry.shutdown().unwrap();

    let without = env(false, false);
    let telemetry = TelemetryConfig::from_lookup(|name| without.get(name).cloned())
        .unwrap()
        .with_tracing_subscriber(false)
        .init()
        .unwrap();
    opentelemetry::global::tracer("contextd").in_span("checkpoint.save", |_| {});
    assert!(
        telemetry.force_flush().is_err(),
        "a receiver asking for a client certificate refuses one without"
    );
    assert_eq!(telemetry.traces_export_stats().failed, 1);
    telemetry.shutdown().unwrap();

    let half = env(false, true);
    let error = TelemetryConfig::from_lookup(|name| half.get(name).cloned()).unwrap_err().to_string();
    assert!(
        error.contains("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE") && error.contains("its key"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

//! Every environment variable: one valid value and its effect, one malformed value and an
//! error that names the variable, the value and what is valid.

use std::collections::BTreeMap;
use std::time::Duration;

use contextd_telemetry::config::{UNSUPPORTED, VARIABLES};
use contextd_telemetry::{
    MetricsExporter, OtlpCompression, OtlpProtocol, SamplerConfig, TelemetryConfig, TelemetryError,
    TracesExporter,
};

fn parse(vars: &[(&str, &str)]) -> Result<TelemetryConfig, TelemetryError> {
    let map: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    TelemetryConfig::from_lookup(|name| map.get(name).cloned())
}

/// Variable, a malformed value, and words the error must contain to say what is valid.
const MALFORMED: &[(&str, &str, &str)] = &[
    ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/nonexistent/key.pem", "private key"),
    ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "/etc/hostname", "private key"),
    ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/nonexistent/key.pem", "private key"),
    ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/nonexistent/client.pem", "client's certificate"),
    ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", "/etc/hostname", "client's certificate"),
    ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "/nonexistent/client.pem", "client's certificate"),
    ("OTEL_METRIC_EXPORT_TIMEOUT", "%%bogus%%", "milliseconds greater than 0"),
    ("OTEL_ATTRIBUTE_COUNT_LIMIT", "%%bogus%%", "whole number"),
    ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "-1", "whole number"),
    ("OTEL_SPAN_EVENT_COUNT_LIMIT", "many", "whole number"),
    ("OTEL_SPAN_LINK_COUNT_LIMIT", "1.5", "whole number"),
    ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "%%bogus%%", "whole number"),
    ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "%%bogus%%", "whole number"),
    ("OTEL_SDK_DISABLED", "yes", "`true` or `false`"),
    ("OTEL_RESOURCE_ATTRIBUTES", "team", "key=value"),
    ("OTEL_METRICS_EXPORTER", "stdout", "`otlp`, `console`, `prometheus` or `none`"),
    ("OTEL_TRACES_EXPORTER", "jaeger", "`otlp`, `console` or `none`"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318", "http:// or https:// URL"),
    ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "ftp://vm/v1/metrics", "http:// or https:// URL"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://", "http:// or https:// URL"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "`http/protobuf` or `grpc`"),
    ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "udp", "`http/protobuf` or `grpc`"),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift", "`http/protobuf` or `grpc`"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "authorization", "key=value"),
    ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "bad header=1", "HTTP header names"),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x=%zz", "percent-encoded"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "milliseconds"),
    ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0", "greater than 0"),
    ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-5", "milliseconds"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "`gzip` or `none`"),
    ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "br", "`gzip` or `none`"),
    ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "deflate", "`gzip` or `none`"),
    ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem", "PEM file"),
    ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", "/etc/hostname", "at least one certificate"),
    ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/nonexistent/ca.pem", "PEM file"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "1m", "milliseconds"),
    ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "monthly", "`cumulative`, `delta` or `lowmemory`"),
    ("OTEL_EXPORTER_PROMETHEUS_PORT", "70000", "TCP port"),
    ("OTEL_TRACES_SAMPLER", "sometimes", "`always_on`"),
    ("OTEL_TRACES_SAMPLER_ARG", "1.5", "ratio between 0 and 1"),
    ("OTEL_PROPAGATORS", "tracecontext,b3", "`tracecontext` and `baggage`, or `none`"),
    ("OTEL_BSP_SCHEDULE_DELAY", "soon", "milliseconds"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "0", "greater than 0"),
    ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "many", "greater than 0"),
    ("OTEL_BSP_EXPORT_TIMEOUT", "0", "greater than 0"),
];

#[test]
fn every_malformed_variable_is_an_error_naming_variable_value_and_what_is_valid() {
    for (variable, value, valid) in MALFORMED {
        let error = parse(&[(variable, value)]).expect_err(variable);
        let message = error.to_string();
        // Values that can carry credentials are shown masked (see tests of the examples crate).
        let shown = if variable.ends_with("_HEADERS") {
            value
                .split(',')
                .map(|pair| pair.split_once('=').map_or("***".into(), |(k, _)| format!("{k}=***")))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            value.to_string()
        };
        assert!(message.contains(&format!("{variable}={shown:?}")), "{message}");
        assert!(message.contains(valid), "{variable}: {message}");
        assert!(matches!(error, TelemetryError::InvalidEnv { .. }));
    }
}

#[test]
fn every_variable_with_a_free_form_value_is_covered_by_a_malformed_case() {
    // Names and environments accept any text, so they have no malformed case.
    let free_form = ["OTEL_SERVICE_NAME", "OTEL_ENVIRONMENT", "OTEL_EXPORTER_PROMETHEUS_HOST"];
    for variable in VARIABLES {
        assert!(
            free_form.contains(variable)
                || MALFORMED.iter().any(|(v, _, _)| v == variable)
                || UNSUPPORTED.iter().any(|(v, _, _)| v == variable),
            "{variable} has no malformed-value test"
        );
    }
}

/// Every variable of the SDK environment specification that this crate does not implement is
/// refused by name when set, saying why, unless set to the value that is its behaviour anyway;
/// and every variable set to a value none accepts is an error, but for the free-form ones.
#[test]
fn unsupported_variables_are_refused_by_name_and_none_is_ignored() {
    for (variable, accepted, why) in UNSUPPORTED {
        let error = parse(&[(variable, "%%bogus%%")]).expect_err(variable).to_string();
        assert!(error.contains(variable) && error.contains("not supported"), "{variable}: {error}");
        assert!(error.contains(why), "{variable}: {error}");
        if let Some(accepted) = accepted {
            parse(&[(variable, accepted)]).unwrap_or_else(|e| panic!("{variable}={accepted}: {e}"));
        }
    }
    let free_form = ["OTEL_SERVICE_NAME", "OTEL_ENVIRONMENT", "OTEL_EXPORTER_PROMETHEUS_HOST"];
    let accepted: Vec<&str> = VARIABLES
        .iter()
        .copied()
        .filter(|v| !free_form.contains(v) && parse(&[(v, "%%bogus%%")]).is_ok())
        .collect();
    assert!(accepted.is_empty(), "accepted %%bogus%% without a word: {accepted:?}");
}

#[test]
fn defaults_with_nothing_set() {
    let config = parse(&[]).unwrap();
    assert_eq!(config.metrics_exporter(), MetricsExporter::Otlp);
    assert_eq!(config.traces_exporter(), TracesExporter::Otlp);
    assert_eq!(config.otlp_metrics().endpoint, "http://localhost:4318/v1/metrics");
    assert_eq!(config.otlp_traces().endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(config.otlp_metrics().protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(config.otlp_metrics().timeout, Duration::from_secs(10));
    assert_eq!(config.metric_export_interval(), Duration::from_secs(60));
    assert_eq!(config.sampler(), SamplerConfig::ParentBasedAlwaysOn);
    let batch = config.batch_span_config();
    assert_eq!((batch.schedule_delay, batch.max_export_batch_size), (Duration::from_secs(5), 512));
    assert_eq!(batch.max_queue_size, 2048);
    assert!(config.service_name().starts_with("unknown_service:"));
    assert!(!config.is_disabled());
}

#[test]
fn valid_values_take_effect() {
    let config = parse(&[
        ("OTEL_SDK_DISABLED", "TRUE"),
        ("OTEL_SERVICE_NAME", "contextd"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.version=2.0,team=agents%2Cplatform"),
        ("OTEL_ENVIRONMENT", "production"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://vm:8428/opentelemetry/v1/metrics"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20abc,x-scope=1"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "X-Scope=2"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "1000"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
        ("OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "9999"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ("OTEL_BSP_SCHEDULE_DELAY", "1000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "2000"),
    ])
    .unwrap();
    assert!(config.is_disabled());
    assert_eq!(config.service_name(), "contextd");
    assert_eq!(config.metrics_exporter(), MetricsExporter::Prometheus);
    assert_eq!(config.traces_exporter(), TracesExporter::Console);
    // A per-signal endpoint is used as given; the generic one gets the signal path.
    assert_eq!(config.otlp_metrics().endpoint, "http://vm:8428/opentelemetry/v1/metrics");
    assert_eq!(config.otlp_traces().endpoint, "http://collector:4318/v1/traces");
    let header = |signal: &contextd_telemetry::OtlpSignalConfig, name: &str| {
        signal.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    assert_eq!(header(config.otlp_metrics(), "authorization").as_deref(), Some("Bearer abc"));
    assert_eq!(header(config.otlp_metrics(), "x-scope").as_deref(), Some("1"));
    assert_eq!(header(config.otlp_traces(), "x-scope").as_deref(), Some("2"), "per-signal wins");
    assert_eq!(config.otlp_metrics().timeout, Duration::from_millis(1000));
    assert_eq!(config.otlp_traces().timeout, Duration::from_millis(2500));
    assert_eq!(config.otlp_metrics().compression, OtlpCompression::Gzip);
    assert_eq!(config.otlp_traces().compression, OtlpCompression::None);
    assert_eq!(config.metric_export_interval(), Duration::from_secs(15));
    assert_eq!(config.sampler(), SamplerConfig::ParentBasedTraceIdRatio(0.25));
    let batch = config.batch_span_config();
    assert_eq!(batch.schedule_delay, Duration::from_secs(1));
    assert_eq!((batch.max_queue_size, batch.max_export_batch_size), (100, 50));
    assert_eq!(batch.export_timeout, Duration::from_secs(2));
    let debug = format!("{config:?}");
    assert!(!debug.contains("Bearer abc"), "header values must never be printed: {debug}");
    assert!(debug.contains("production") && debug.contains("agents,platform"), "{debug}");
}

#[test]
fn grpc_protocol_defaults_to_port_4317_without_a_path() {
    let config = parse(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap();
    assert_eq!(config.otlp_metrics().endpoint, "http://localhost:4317");
    assert_eq!(config.otlp_traces().protocol, OtlpProtocol::Grpc);
    let config =
        parse(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")])
            .unwrap();
    assert_eq!(config.otlp_traces().endpoint, "http://c:4317");
}

#[test]
fn batch_larger_than_queue_is_an_error() {
    let error =
        parse(&[("OTEL_BSP_MAX_QUEUE_SIZE", "10"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20")]).unwrap_err();
    assert!(error.to_string().contains("OTEL_BSP_MAX_EXPORT_BATCH_SIZE=\"20\""), "{error}");
    assert!(error.to_string().contains("at most OTEL_BSP_MAX_QUEUE_SIZE (10)"), "{error}");
}

#[test]
fn traceidratio_uses_its_argument_and_defaults_to_one() {
    let config =
        parse(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.1")]).unwrap();
    assert_eq!(config.sampler(), SamplerConfig::TraceIdRatio(0.1));
    let config = parse(&[("OTEL_TRACES_SAMPLER", "traceidratio")]).unwrap();
    assert_eq!(config.sampler(), SamplerConfig::TraceIdRatio(1.0));
}

#[test]
fn builder_values_are_validated_at_init() {
    let error = parse(&[]).unwrap().with_otlp_metrics_endpoint("vm:8428").init().unwrap_err();
    assert!(error.to_string().contains("with_otlp_metrics_endpoint = vm:8428"), "{error}");
    let error = parse(&[]).unwrap().with_sampler(SamplerConfig::TraceIdRatio(2.0)).init().unwrap_err();
    assert!(error.to_string().contains("with_sampler"), "{error}");
}

#[test]
fn propagators_default_to_trace_context_and_baggage_and_can_be_none() {
    use contextd_telemetry::Propagator::{Baggage, TraceContext};
    assert_eq!(parse(&[]).unwrap().propagators(), [TraceContext, Baggage]);
    assert_eq!(parse(&[("OTEL_PROPAGATORS", "baggage")]).unwrap().propagators(), [Baggage]);
    assert!(parse(&[("OTEL_PROPAGATORS", "none")]).unwrap().propagators().is_empty());
    let error = parse(&[("OTEL_PROPAGATORS", "none,tracecontext")]).unwrap_err().to_string();
    assert!(error.contains("`none` cannot be combined"), "{error}");
    let error = parse(&[("OTEL_PROPAGATORS", "tracecontext,b3")]).unwrap_err().to_string();
    assert!(error.contains("`b3` is not a supported propagator"), "{error}");
}

/// `OTEL_METRIC_EXPORT_TIMEOUT` bounds each metrics export: it caps the OTLP metrics timeout
/// (as `OTEL_BSP_EXPORT_TIMEOUT` caps the traces one), never raises it.
#[test]
fn the_metric_export_timeout_caps_the_otlp_metrics_timeout() {
    let capped = parse(&[("OTEL_METRIC_EXPORT_TIMEOUT", "300")]).unwrap();
    assert_eq!(capped.otlp_metrics().timeout, Duration::from_millis(300));
    assert_eq!(capped.otlp_traces().timeout, Duration::from_secs(10), "traces keep theirs");
    let shorter =
        parse(&[("OTEL_METRIC_EXPORT_TIMEOUT", "30000"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "500")]).unwrap();
    assert_eq!(shorter.otlp_metrics().timeout, Duration::from_millis(500));
}

/// `OTEL_EXPORTER_OTLP_[{METRICS,TRACES}_]TIMEOUT` → the four names it stands for.
fn expand(pattern: &str) -> Vec<String> {
    if let Some(start) = pattern.find('[') {
        let end = start + pattern[start..].find(']').expect("a closing ]");
        let (before, inner, after) = (&pattern[..start], &pattern[start + 1..end], &pattern[end + 1..]);
        let mut all = expand(&format!("{before}{after}"));
        all.extend(expand(&format!("{before}{inner}{after}")));
        return all;
    }
    if let Some(start) = pattern.find('{') {
        let end = start + pattern[start..].find('}').expect("a closing }");
        let (before, inner, after) = (&pattern[..start], &pattern[start + 1..end], &pattern[end + 1..]);
        return inner.split(',').flat_map(|choice| expand(&format!("{before}{choice}{after}"))).collect();
    }
    vec![pattern.to_owned()]
}

/// docs/configuration.md names every variable the crate reads or refuses, and no other.
#[test]
fn the_configuration_reference_names_every_variable_and_no_other() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md")).unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for token in doc.split('`').skip(1).step_by(2) {
        if token.starts_with("OTEL_") && !token.contains(['=', ' ', '*']) {
            documented.extend(expand(token));
        }
    }
    let known: std::collections::BTreeSet<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
    let missing: Vec<&String> = known.difference(&documented).collect();
    let unknown: Vec<&String> = documented.difference(&known).collect();
    assert!(missing.is_empty(), "read by the crate, not in docs/configuration.md: {missing:?}");
    assert!(unknown.is_empty(), "in docs/configuration.md, unknown to the crate: {unknown:?}");
}

//! A credential in the configuration never reaches an error message, a `Debug` dump or the
//! process's output: every malformed form of every variable that can carry one is fed through
//! the parser (checking `Display` and `Debug`) and through the quickstart (checking stdout and
//! stderr), with one known secret inside.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::process::Command;

use contextd_telemetry::TelemetryConfig;
use contextd_telemetry::config::VARIABLES;
use contextd_testkit::example_binary;

const SECRET: &str = "hunter2sekret";

/// Malformed header lists, `{S}` standing for the secret.
const MALFORMED_HEADERS: &[&str] = &[
    "authorization=Bearer%ZZ{S}",
    "authorization=Bearer {S},bad header=1",
    "{S}",
    "authorization:Bearer {S}",
    "authorization=Bearer%20{S}%",
    "x=%ff{S}",
    "={S}",
    "authorization=Bearer%20{S},={S}",
    "bad header={S}",
    "a=1,,{S}",
];

/// Malformed endpoints, `{S}` standing for the secret.
const MALFORMED_ENDPOINTS: &[&str] = &[
    "http://user:{S}@[::1",
    "http://user:{S}@host:99999/v1",
    "user:{S}@host:4318",
    "ftp://user:{S}@host/v1/metrics",
    "http://user:{S}@",
    "http://user:{S}@/v1/metrics",
    "http://host/v1?token={S} x",
    "http://user:{S}@host/ path",
    "https://[::1]x?key={S}",
    "http://a@b:{S}@[::1]:x",
    "http//user:{S}@host",
];

fn with_secret(template: &str) -> String {
    template.replace("{S}", SECRET)
}

/// Every variable that can carry a credential, and its malformed cases.
fn cases() -> Vec<(&'static str, String)> {
    let mut cases = Vec::new();
    let (mut headers, mut endpoints) = (0, 0);
    for variable in VARIABLES {
        let templates = if variable.ends_with("_HEADERS") {
            headers += 1;
            MALFORMED_HEADERS
        } else if variable.ends_with("_ENDPOINT") {
            endpoints += 1;
            MALFORMED_ENDPOINTS
        } else {
            continue;
        };
        cases.extend(templates.iter().map(|t| (*variable, with_secret(t))));
    }
    // Generic, metrics, traces, and logs (refused as unsupported, masked all the same).
    assert_eq!((headers, endpoints), (4, 4), "the generic and per-signal headers and endpoints");
    cases
}

fn parse(vars: &[(&str, String)]) -> Result<TelemetryConfig, contextd_telemetry::TelemetryError> {
    let map: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    TelemetryConfig::from_lookup(|name| map.get(name).cloned())
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the secret:\n{text}");
}

#[test]
fn malformed_values_are_errors_that_name_the_variable_without_the_secret() {
    for (variable, value) in cases() {
        let error = parse(&[(variable, value.clone())]).expect_err(&value);
        let (display, debug) = (error.to_string(), format!("{error:?}"));
        assert!(display.contains(variable) && display.contains("expected"), "{variable}={value}: {display}");
        assert_no_secret(&format!("Display of {variable}={value}"), &display);
        assert_no_secret(&format!("Debug of {variable}={value}"), &debug);
    }
}

#[test]
fn valid_values_with_credentials_are_masked_in_debug_and_in_builder_errors() {
    let config = parse(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", with_secret("https://user:{S}@collector:4318/?key={S}")),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", with_secret("http://user:{S}@vm:8428/v1/metrics#{S}")),
        ("OTEL_EXPORTER_OTLP_HEADERS", with_secret("authorization=Bearer%20{S}")),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", with_secret("x-api-key={S}")),
    ])
    .unwrap();
    assert_no_secret("Debug of the configuration", &format!("{config:?}"));
    let debug = format!("{config:?}");
    assert!(debug.contains("http://***@vm:8428/v1/metrics#***"), "{debug}");

    for endpoint in MALFORMED_ENDPOINTS.iter().map(|t| with_secret(t)) {
        let error = TelemetryConfig::from_lookup(|_| None)
            .unwrap()
            .with_otlp_metrics_endpoint(endpoint.clone())
            .with_tracing_subscriber(false)
            .init()
            .expect_err(&endpoint);
        assert_no_secret(&format!("Display of with_otlp_metrics_endpoint({endpoint})"), &error.to_string());
        assert_no_secret(&format!("Debug of with_otlp_metrics_endpoint({endpoint})"), &format!("{error:?}"));
    }
}

/// The quickstart with the OTEL_* environment replaced by `vars`: (success, stdout + stderr).
fn quickstart(vars: &[(&str, OsString)]) -> (bool, String) {
    let mut command = Command::new(example_binary("quickstart"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.envs(vars.iter().map(|(k, v)| (k, v)));
    let output = command.output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn a_service_printing_its_start_up_error_prints_no_secret() {
    for (variable, value) in cases() {
        let (ok, output) = quickstart(&[(variable, value.clone().into())]);
        assert!(!ok, "{variable}={value} was accepted");
        assert!(output.contains(variable), "{variable}={value}: {output}");
        assert!(!output.contains("InvalidEnv {"), "the error is printed as a struct: {output}");
        assert_no_secret(&format!("output with {variable}={value}"), &output);
    }
    // A value that is not UTF-8 is reported too, masked all the same.
    let mut raw = b"authorization=\xff".to_vec();
    raw.extend_from_slice(SECRET.as_bytes());
    let (ok, output) = quickstart(&[("OTEL_EXPORTER_OTLP_HEADERS", OsString::from_vec(raw))]);
    assert!(!ok && output.contains("UTF-8"), "{output}");
    assert_no_secret("output with a non-UTF-8 header list", &output);
}

#[test]
fn export_and_shutdown_failures_name_the_endpoint_without_its_credentials() {
    // Nothing listens on port 1: every export is refused.
    let (ok, output) = quickstart(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", with_secret("http://user:{S}@127.0.0.1:1").into()),
        ("OTEL_EXPORTER_OTLP_HEADERS", with_secret("authorization=Bearer%20{S}").into()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "100".into()),
    ]);
    assert!(!ok, "shutdown against a refusing endpoint reports failure: {output}");
    assert!(output.contains("http://***@127.0.0.1:1/v1/metrics failed: connection refused"), "{output}");
    assert_no_secret("output of a run against a refusing endpoint", &output);
}

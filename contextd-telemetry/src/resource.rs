//! The resource: who is sending (service, deployment, host, process, SDK).
//!
//! Metrics and spans get different resources on purpose. VictoriaMetrics turns every resource
//! attribute into a label on every series, so the metrics resource carries only attributes that
//! are stable across restarts; a process id there would start new series at every restart.
//! Spans carry the process attributes too.

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_semantic_conventions::resource as semconv;

use crate::config::TelemetryConfig;

/// The resource for metrics: service, deployment, host and SDK attributes.
pub(crate) fn metrics_resource(config: &TelemetryConfig) -> Resource {
    builder(config).build()
}

/// The resource for spans: the metrics resource plus process attributes.
pub(crate) fn traces_resource(config: &TelemetryConfig) -> Resource {
    let mut process = vec![KeyValue::new(semconv::PROCESS_PID, i64::from(std::process::id()))];
    if let Some(name) = std::env::current_exe().ok().and_then(|p| Some(p.file_name()?.to_str()?.to_owned())) {
        process.push(KeyValue::new(semconv::PROCESS_EXECUTABLE_NAME, name));
    }
    process.push(KeyValue::new(semconv::PROCESS_RUNTIME_NAME, "rust"));
    builder(config).with_attributes(process).build()
}

fn builder(config: &TelemetryConfig) -> opentelemetry_sdk::resource::ResourceBuilder {
    let mut attributes = Vec::new();
    if let Some(host) = host_name() {
        // Stable across restarts; several instances on one host set service.instance.id
        // themselves through OTEL_RESOURCE_ATTRIBUTES.
        attributes.push(KeyValue::new(semconv::SERVICE_INSTANCE_ID, host.clone()));
        attributes.push(KeyValue::new(semconv::HOST_NAME, host));
    }
    attributes.push(KeyValue::new(semconv::HOST_ARCH, host_arch()));
    attributes.push(KeyValue::new(semconv::OS_TYPE, std::env::consts::OS));
    if let Some(version) = &config.service_version {
        attributes.push(KeyValue::new(semconv::SERVICE_VERSION, version.clone()));
    }
    if let Some(environment) = &config.environment {
        attributes.push(KeyValue::new(semconv::DEPLOYMENT_ENVIRONMENT_NAME, environment.clone()));
    }
    // Attributes the user set win over detected ones (later entries replace earlier ones).
    attributes.extend(
        config
            .resource_attributes
            .iter()
            .filter(|(key, _)| key != semconv::SERVICE_NAME)
            .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
    );
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(attributes)
        .with_service_name(config.service_name.clone())
}

/// The host name from the kernel, without a libc call.
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

/// `host.arch` in the semantic conventions' vocabulary.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

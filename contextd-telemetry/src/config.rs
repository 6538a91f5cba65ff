//! `TelemetryConfig`: every setting, read from the environment in this one place.
//!
//! Each variable is parsed exactly once, here, and the result is handed to the SDK explicitly.
//! The SDK would read some of these variables itself, but it ignores a malformed value
//! silently; we turn it into an error that names the variable, the value and what is valid.

use std::fmt;
use std::time::Duration;

use crate::error::TelemetryError;
use crate::masking;

/// Where metrics go (`OTEL_METRICS_EXPORTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExporter {
    /// OTLP push to a collector or straight to VictoriaMetrics (the default).
    Otlp,
    /// Readable text on standard output, one line per series (the embedded default).
    Console,
    /// A pull endpoint in Prometheus text format on `OTEL_EXPORTER_PROMETHEUS_HOST`/`PORT`.
    Prometheus,
    /// No metrics export; instruments record into nothing.
    None,
}

/// Where spans go (`OTEL_TRACES_EXPORTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracesExporter {
    /// OTLP push (the default).
    Otlp,
    /// One line per finished span on standard output.
    Console,
    /// No span export.
    None,
}

/// OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// Protobuf over HTTP/1.1, port 4318 (the default).
    HttpProtobuf,
    /// gRPC, port 4317; needs the `grpc` cargo feature.
    Grpc,
}

/// OTLP payload compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpCompression {
    /// No compression (the default).
    None,
    /// gzip.
    Gzip,
}

/// Which spans are recorded (`OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    /// Every span.
    AlwaysOn,
    /// No span.
    AlwaysOff,
    /// This share of traces, by trace id.
    TraceIdRatio(f64),
    /// Follow the parent's decision; root spans always sampled (the default).
    ParentBasedAlwaysOn,
    /// Follow the parent's decision; root spans never sampled.
    ParentBasedAlwaysOff,
    /// Follow the parent's decision; root spans sampled at this ratio.
    ParentBasedTraceIdRatio(f64),
}

/// The batch span processor's bounds (`OTEL_BSP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSpanConfig {
    /// Delay between two exports (`OTEL_BSP_SCHEDULE_DELAY`, ms; default 5000).
    pub schedule_delay: Duration,
    /// Spans held at most; beyond it new spans are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`; 2048).
    pub max_queue_size: usize,
    /// Spans per export at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`; 512).
    pub max_export_batch_size: usize,
    /// Time allowed for one export (`OTEL_BSP_EXPORT_TIMEOUT`, ms; default 30000). It caps the
    /// OTLP traces timeout, since the SDK's thread-based processor has no timeout of its own.
    pub export_timeout: Duration,
}

impl Default for BatchSpanConfig {
    fn default() -> Self {
        Self {
            schedule_delay: Duration::from_millis(5000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
            export_timeout: Duration::from_millis(30_000),
        }
    }
}

/// OTLP settings for one signal, resolved from the generic and per-signal variables.
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpSignalConfig {
    /// The full URL (HTTP: including `/v1/metrics` or `/v1/traces`).
    pub endpoint: String,
    /// Transport.
    pub protocol: OtlpProtocol,
    /// Extra request headers (e.g. authentication); never printed by `Debug`.
    pub headers: Vec<(String, String)>,
    /// Time allowed for one export, retries included.
    pub timeout: Duration,
    /// Payload compression.
    pub compression: OtlpCompression,
    /// Extra trusted root certificates (PEM) for `https` endpoints, besides the system's.
    pub ca_certificate: Option<Vec<u8>>,
}

impl fmt::Debug for OtlpSignalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("OtlpSignalConfig")
            .field("endpoint", &masking::masked_url(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("headers", &format_args!("{header_names:?} (values redacted)"))
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field(
                "ca_certificate",
                &self.ca_certificate.as_ref().map(|pem| format!("{} bytes of PEM", pem.len())),
            )
            .finish()
    }
}

/// The complete telemetry configuration: read it with [`TelemetryConfig::from_env`], adjust it
/// with the `with_*` methods, then start everything with [`TelemetryConfig::init`].
///
/// ```no_run
/// use contextd_telemetry::{MetricsExporter, TelemetryConfig};
///
/// let _telemetry = TelemetryConfig::from_env()?
///     .with_service_name("contextd")
///     .with_service_version(env!("CARGO_PKG_VERSION"))
///     .with_metrics_exporter(MetricsExporter::Console)
///     .init()?;
/// # Ok::<(), contextd_telemetry::TelemetryError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    pub(crate) disabled: bool,
    pub(crate) service_name: String,
    pub(crate) service_version: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) metrics_exporter: MetricsExporter,
    pub(crate) traces_exporter: TracesExporter,
    pub(crate) otlp_metrics: OtlpSignalConfig,
    pub(crate) otlp_traces: OtlpSignalConfig,
    pub(crate) metric_export_interval: Duration,
    pub(crate) prometheus_host: String,
    pub(crate) prometheus_port: u16,
    pub(crate) prometheus_server: bool,
    pub(crate) sampler: SamplerConfig,
    pub(crate) batch: BatchSpanConfig,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) install_tracing_subscriber: bool,
    pub(crate) runtime_metrics: bool,
    #[cfg(feature = "runtime-metrics")]
    pub(crate) tokio_runtime: Option<tokio::runtime::Handle>,
}

/// The default time [`TelemetryGuard::shutdown`](crate::TelemetryGuard::shutdown) may take.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads variables through a lookup function, so tests and embedders need not touch the
/// process environment.
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn get(&self, variable: &str) -> Option<String> {
        (self.0)(variable).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn parse<T>(
        &self,
        variable: &'static str,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, TelemetryError> {
        self.parse_explained(variable, expected, |value| parse(value).ok_or(None))
    }

    /// As [`parse`](Self::parse), for parsers that can say what is wrong (`Err(Some(problem))`).
    fn parse_explained<T>(
        &self,
        variable: &'static str,
        expected: &str,
        parse: impl FnOnce(&str) -> Result<T, Option<String>>,
    ) -> Result<Option<T>, TelemetryError> {
        match self.get(variable) {
            None => Ok(None),
            Some(value) => match parse(&value) {
                Ok(parsed) => Ok(Some(parsed)),
                Err(problem) => Err(invalid_because(variable, &value, problem, expected)),
            },
        }
    }

    fn millis(&self, variable: &'static str) -> Result<Option<Duration>, TelemetryError> {
        self.parse(variable, "a whole number of milliseconds, e.g. 5000", |v| {
            v.parse::<u64>().ok().map(Duration::from_millis)
        })
    }

    fn positive_millis(&self, variable: &'static str) -> Result<Option<Duration>, TelemetryError> {
        self.parse(variable, "a whole number of milliseconds greater than 0, e.g. 5000", |v| {
            v.parse::<u64>().ok().filter(|ms| *ms > 0).map(Duration::from_millis)
        })
    }

    fn count(&self, variable: &'static str) -> Result<Option<usize>, TelemetryError> {
        self.parse(variable, "a whole number greater than 0", |v| v.parse::<usize>().ok().filter(|n| *n > 0))
    }
}

fn invalid(variable: &'static str, value: &str, expected: &str) -> TelemetryError {
    invalid_because(variable, value, None, expected)
}

/// The error for a malformed variable; values that can carry credentials are masked here, so no
/// error (nor its `Debug`) ever holds them.
fn invalid_because(
    variable: &'static str,
    value: &str,
    problem: Option<String>,
    expected: &str,
) -> TelemetryError {
    TelemetryError::InvalidEnv {
        variable,
        value: masking::shown(variable, value),
        problem,
        expected: expected.to_owned(),
    }
}

/// `key=value,key=value` with percent-encoded values, as in `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS` (W3C Baggage octet rules). The error says which pair is wrong
/// and how, naming keys but never quoting a value.
fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .enumerate()
        .map(|(index, pair)| {
            let number = index + 1;
            let (key, value) = pair.split_once('=').ok_or_else(|| format!("pair {number} has no `=`"))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(format!("pair {number} has no key before `=`"));
            }
            let value = percent_decode(value.trim()).ok_or_else(|| {
                format!("the value of `{key}` has a malformed percent escape or is not UTF-8 once decoded")
            })?;
            Ok((key.to_owned(), value))
        })
        .collect()
}

/// Header pairs: [`parse_key_values`] whose keys are HTTP header names.
fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let headers = parse_key_values(text)?;
    match headers.iter().find(|(name, _)| !is_header_name(name)) {
        Some((name, _)) => Err(format!("`{name}` is not an HTTP header name")),
        None => Ok(headers),
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_ratio(value: &str) -> Option<f64> {
    value.parse::<f64>().ok().filter(|r| (0.0..=1.0).contains(r))
}

/// Which signal a per-signal variable belongs to.
#[derive(Clone, Copy)]
struct Signal {
    path: &'static str,
    endpoint_var: &'static str,
    protocol_var: &'static str,
    headers_var: &'static str,
    timeout_var: &'static str,
    compression_var: &'static str,
    certificate_var: &'static str,
}

const METRICS: Signal = Signal {
    path: "/v1/metrics",
    endpoint_var: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    protocol_var: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    headers_var: "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    timeout_var: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    compression_var: "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    certificate_var: "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
};

const TRACES: Signal = Signal {
    path: "/v1/traces",
    endpoint_var: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    protocol_var: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    headers_var: "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    timeout_var: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    compression_var: "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    certificate_var: "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
};

const PROTOCOLS: &str = "`http/protobuf` or `grpc`";

fn parse_protocol(value: &str) -> Option<OtlpProtocol> {
    match value {
        "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
        "grpc" => Some(OtlpProtocol::Grpc),
        _ => None,
    }
}

fn parse_compression(value: &str) -> Option<OtlpCompression> {
    match value {
        "gzip" => Some(OtlpCompression::Gzip),
        "none" => Some(OtlpCompression::None),
        _ => None,
    }
}

/// Checks the parts of an `http(s)://` URL that the exporter would otherwise reject with a
/// message quoting the whole URL: scheme, host, IPv6 brackets and port.
fn check_http_url(url: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        return Err("it does not start with http:// or https://".into());
    };
    if url.contains(char::is_whitespace) {
        return Err("it contains whitespace".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host_port)| host_port);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(ipv6) => {
            let (host, after) = ipv6.split_once(']').ok_or("the IPv6 address has no closing `]`")?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or("unexpected text after the IPv6 address")?)),
            }
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err("it has no host".into());
    }
    if host.contains(['[', ']', '@']) {
        return Err("the host contains `[`, `]` or `@`".into());
    }
    if port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err("the port is not a number from 0 to 65535".into());
    }
    Ok(())
}

const URL: &str = "an http:// or https:// URL, e.g. http://localhost:4318";

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn otlp_signal(&self, signal: Signal) -> Result<OtlpSignalConfig, TelemetryError> {
        let protocol = match self.parse(signal.protocol_var, PROTOCOLS, parse_protocol)? {
            Some(p) => p,
            None => self
                .parse("OTEL_EXPORTER_OTLP_PROTOCOL", PROTOCOLS, parse_protocol)?
                .unwrap_or(OtlpProtocol::HttpProtobuf),
        };
        let url = |v: &str| check_http_url(v).map(|()| v.to_owned()).map_err(Some);
        let endpoint = match self.parse_explained(signal.endpoint_var, URL, url)? {
            // A per-signal endpoint is used exactly as given.
            Some(url) => url,
            None => {
                let base = self.parse_explained("OTEL_EXPORTER_OTLP_ENDPOINT", URL, url)?;
                default_endpoint(base.as_deref().map(|b| b.trim_end_matches('/')), protocol, signal)
            }
        };
        let header_rule = "comma-separated key=value pairs with percent-encoded values and valid \
                           HTTP header names, e.g. authorization=Bearer%20abc";
        let headers = |v: &str| parse_headers(v).map_err(Some);
        let mut headers_found =
            self.parse_explained("OTEL_EXPORTER_OTLP_HEADERS", header_rule, headers)?.unwrap_or_default();
        for (name, value) in
            self.parse_explained(signal.headers_var, header_rule, headers)?.unwrap_or_default()
        {
            headers_found.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
            headers_found.push((name, value));
        }
        let headers = headers_found;
        let timeout = match self.positive_millis(signal.timeout_var)? {
            Some(t) => t,
            None => self.positive_millis("OTEL_EXPORTER_OTLP_TIMEOUT")?.unwrap_or(Duration::from_secs(10)),
        };
        let compression_rule = "`gzip` or `none`";
        let compression = match self.parse(signal.compression_var, compression_rule, parse_compression)? {
            Some(c) => c,
            None => self
                .parse("OTEL_EXPORTER_OTLP_COMPRESSION", compression_rule, parse_compression)?
                .unwrap_or(OtlpCompression::None),
        };
        let certificate_rule = "the path of a readable PEM file with at least one certificate";
        let read_pem = |path: &str| {
            std::fs::read(path)
                .ok()
                .filter(|pem| String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----"))
        };
        let ca_certificate = match self.parse(signal.certificate_var, certificate_rule, read_pem)? {
            Some(pem) => Some(pem),
            None => self.parse("OTEL_EXPORTER_OTLP_CERTIFICATE", certificate_rule, read_pem)?,
        };
        Ok(OtlpSignalConfig { endpoint, protocol, headers, timeout, compression, ca_certificate })
    }
}

fn default_endpoint(base: Option<&str>, protocol: OtlpProtocol, signal: Signal) -> String {
    match (base, protocol) {
        (Some(base), OtlpProtocol::HttpProtobuf) => format!("{base}{}", signal.path),
        (Some(base), OtlpProtocol::Grpc) => base.to_owned(),
        (None, OtlpProtocol::HttpProtobuf) => format!("http://localhost:4318{}", signal.path),
        (None, OtlpProtocol::Grpc) => "http://localhost:4317".to_owned(),
    }
}

impl TelemetryConfig {
    /// Reads the configuration from the process environment (the OpenTelemetry variables and
    /// contextd's `OTEL_ENVIRONMENT`); see `docs/configuration.md` for each variable.
    ///
    /// # Errors
    /// [`TelemetryError::InvalidEnv`] for the first malformed variable, naming it, its value
    /// and what would be valid.
    pub fn from_env() -> Result<Self, TelemetryError> {
        let non_unicode = std::cell::RefCell::new(None);
        let config = Self::from_lookup(|name| match std::env::var(name) {
            Ok(value) => Some(value),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(raw)) => {
                non_unicode.borrow_mut().get_or_insert((name.to_owned(), raw.to_string_lossy().into_owned()));
                None
            }
        });
        if let Some((name, value)) = non_unicode.into_inner() {
            let variable = VARIABLES.iter().copied().find(|v| *v == name).unwrap_or("an OTEL_* variable");
            return Err(invalid(variable, &value, "valid UTF-8 text"));
        }
        config
    }

    /// Reads the configuration through `lookup` instead of the process environment: the same
    /// rules as [`from_env`](Self::from_env), for tests and for services that keep their
    /// settings elsewhere.
    ///
    /// ```
    /// use contextd_telemetry::TelemetryConfig;
    ///
    /// let err = TelemetryConfig::from_lookup(|name| {
    ///     (name == "OTEL_METRIC_EXPORT_INTERVAL").then(|| "soon".to_owned())
    /// })
    /// .unwrap_err();
    /// assert!(err.to_string().contains("OTEL_METRIC_EXPORT_INTERVAL=\"soon\""));
    /// ```
    ///
    /// # Errors
    /// As for [`from_env`](Self::from_env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, TelemetryError> {
        let env = Env(lookup);
        let disabled = env.parse("OTEL_SDK_DISABLED", "`true` or `false`", parse_bool)?.unwrap_or(false);
        let resource_attributes = env
            .parse_explained(
                "OTEL_RESOURCE_ATTRIBUTES",
                "comma-separated key=value pairs with percent-encoded values, e.g. team=agents,region=eu",
                |v| parse_key_values(v).map_err(Some),
            )?
            .unwrap_or_default();
        let attribute =
            |key: &str| resource_attributes.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let service_name =
            env.get("OTEL_SERVICE_NAME").or_else(|| attribute("service.name")).unwrap_or_else(|| {
                let exe = std::env::current_exe().ok();
                let exe = exe.as_ref().and_then(|p| p.file_stem()).and_then(|s| s.to_str()).unwrap_or("");
                format!("unknown_service:{exe}")
            });
        let metrics_exporter = env
            .parse("OTEL_METRICS_EXPORTER", "`otlp`, `console`, `prometheus` or `none`", |v| match v {
                "otlp" => Some(MetricsExporter::Otlp),
                "console" => Some(MetricsExporter::Console),
                "prometheus" => Some(MetricsExporter::Prometheus),
                "none" => Some(MetricsExporter::None),
                _ => None,
            })?
            .unwrap_or(MetricsExporter::Otlp);
        let traces_exporter = env
            .parse("OTEL_TRACES_EXPORTER", "`otlp`, `console` or `none`", |v| match v {
                "otlp" => Some(TracesExporter::Otlp),
                "console" => Some(TracesExporter::Console),
                "none" => Some(TracesExporter::None),
                _ => None,
            })?
            .unwrap_or(TracesExporter::Otlp);
        let sampler_arg =
            env.parse("OTEL_TRACES_SAMPLER_ARG", "a ratio between 0 and 1, e.g. 0.25", parse_ratio)?;
        let sampler = env
            .parse(
                "OTEL_TRACES_SAMPLER",
                "`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, \
                 `parentbased_always_off` or `parentbased_traceidratio`",
                |v| match v {
                    "always_on" => Some(SamplerConfig::AlwaysOn),
                    "always_off" => Some(SamplerConfig::AlwaysOff),
                    "traceidratio" => Some(SamplerConfig::TraceIdRatio(sampler_arg.unwrap_or(1.0))),
                    "parentbased_always_on" => Some(SamplerConfig::ParentBasedAlwaysOn),
                    "parentbased_always_off" => Some(SamplerConfig::ParentBasedAlwaysOff),
                    "parentbased_traceidratio" => {
                        Some(SamplerConfig::ParentBasedTraceIdRatio(sampler_arg.unwrap_or(1.0)))
                    }
                    _ => None,
                },
            )?
            .unwrap_or(SamplerConfig::ParentBasedAlwaysOn);
        let defaults = BatchSpanConfig::default();
        let batch = BatchSpanConfig {
            schedule_delay: env.millis("OTEL_BSP_SCHEDULE_DELAY")?.unwrap_or(defaults.schedule_delay),
            max_queue_size: env.count("OTEL_BSP_MAX_QUEUE_SIZE")?.unwrap_or(defaults.max_queue_size),
            max_export_batch_size: env
                .count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")?
                .unwrap_or(defaults.max_export_batch_size),
            export_timeout: env
                .positive_millis("OTEL_BSP_EXPORT_TIMEOUT")?
                .unwrap_or(defaults.export_timeout),
        };
        if batch.max_export_batch_size > batch.max_queue_size {
            return Err(invalid(
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                &batch.max_export_batch_size.to_string(),
                &format!("at most OTEL_BSP_MAX_QUEUE_SIZE ({})", batch.max_queue_size),
            ));
        }
        let config = Self {
            disabled,
            service_version: attribute("service.version"),
            environment: env.get("OTEL_ENVIRONMENT"),
            service_name,
            resource_attributes,
            metrics_exporter,
            traces_exporter,
            otlp_metrics: env.otlp_signal(METRICS)?,
            otlp_traces: env.otlp_signal(TRACES)?,
            metric_export_interval: env
                .positive_millis("OTEL_METRIC_EXPORT_INTERVAL")?
                .unwrap_or(Duration::from_millis(60_000)),
            prometheus_host: env
                .get("OTEL_EXPORTER_PROMETHEUS_HOST")
                .unwrap_or_else(|| "127.0.0.1".to_owned()),
            prometheus_port: env
                .parse("OTEL_EXPORTER_PROMETHEUS_PORT", "a TCP port number from 0 to 65535", |v| {
                    v.parse().ok()
                })?
                .unwrap_or(9464),
            prometheus_server: true,
            sampler,
            batch,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            install_tracing_subscriber: true,
            runtime_metrics: true,
            #[cfg(feature = "runtime-metrics")]
            tokio_runtime: None,
        };
        Ok(config)
    }

    /// Sets `service.name` (overrides `OTEL_SERVICE_NAME`).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Sets `service.version`, typically `env!("CARGO_PKG_VERSION")`.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Sets `deployment.environment.name` (overrides `OTEL_ENVIRONMENT`).
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Adds a resource attribute (after those of `OTEL_RESOURCE_ATTRIBUTES`, so it wins).
    pub fn with_resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.resource_attributes.push((key.into(), value.into()));
        self
    }

    /// Chooses the metrics exporter (overrides `OTEL_METRICS_EXPORTER`).
    pub fn with_metrics_exporter(mut self, exporter: MetricsExporter) -> Self {
        self.metrics_exporter = exporter;
        self
    }

    /// Chooses the span exporter (overrides `OTEL_TRACES_EXPORTER`).
    pub fn with_traces_exporter(mut self, exporter: TracesExporter) -> Self {
        self.traces_exporter = exporter;
        self
    }

    /// Sets the OTLP metrics endpoint, used exactly as given (for HTTP include `/v1/metrics`).
    pub fn with_otlp_metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        self.otlp_metrics.endpoint = url.into();
        self
    }

    /// Sets the OTLP traces endpoint, used exactly as given (for HTTP include `/v1/traces`).
    pub fn with_otlp_traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.otlp_traces.endpoint = url.into();
        self
    }

    /// Sets the OTLP transport for both signals.
    pub fn with_otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.otlp_metrics.protocol = protocol;
        self.otlp_traces.protocol = protocol;
        self
    }

    /// Sets the time one OTLP export may take, retries included, for both signals.
    pub fn with_otlp_timeout(mut self, timeout: Duration) -> Self {
        self.otlp_metrics.timeout = timeout;
        self.otlp_traces.timeout = timeout;
        self
    }

    /// Adds an OTLP request header for both signals (e.g. an API key); its value is never logged.
    pub fn with_otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        for signal in [&mut self.otlp_metrics, &mut self.otlp_traces] {
            signal.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
            signal.headers.push((name.clone(), value.clone()));
        }
        self
    }

    /// Trusts these root certificates (PEM) for `https` OTLP endpoints of both signals, besides
    /// the system's (overrides `OTEL_EXPORTER_OTLP_CERTIFICATE`).
    pub fn with_otlp_ca_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        let pem = pem.into();
        self.otlp_metrics.ca_certificate = Some(pem.clone());
        self.otlp_traces.ca_certificate = Some(pem);
        self
    }

    /// Sets the time between two metric exports (overrides `OTEL_METRIC_EXPORT_INTERVAL`).
    pub fn with_metric_export_interval(mut self, interval: Duration) -> Self {
        self.metric_export_interval = interval;
        self
    }

    /// Sets the Prometheus pull endpoint's address (overrides `OTEL_EXPORTER_PROMETHEUS_HOST`/`PORT`).
    /// Port 0 picks a free port; [`TelemetryGuard::prometheus_address`](crate::TelemetryGuard::prometheus_address)
    /// tells which.
    pub fn with_prometheus_address(mut self, host: impl Into<String>, port: u16) -> Self {
        self.prometheus_host = host.into();
        self.prometheus_port = port;
        self
    }

    /// Whether the Prometheus exporter opens a port of its own (default yes). Without it, serve
    /// scrapes from your own router with
    /// [`TelemetryGuard::prometheus_handler`](crate::TelemetryGuard::prometheus_handler).
    pub fn with_prometheus_server(mut self, listen: bool) -> Self {
        self.prometheus_server = listen;
        self
    }

    /// Chooses the span sampler (overrides `OTEL_TRACES_SAMPLER`).
    pub fn with_sampler(mut self, sampler: SamplerConfig) -> Self {
        self.sampler = sampler;
        self
    }

    /// Sets the batch span processor's bounds (overrides `OTEL_BSP_*`).
    pub fn with_batch_span_config(mut self, batch: BatchSpanConfig) -> Self {
        self.batch = batch;
        self
    }

    /// Sets the deadline of [`TelemetryGuard::shutdown`](crate::TelemetryGuard::shutdown) and
    /// of the shutdown on drop (default 5 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether `init` installs a global `tracing` subscriber that sends `tracing` spans to
    /// OpenTelemetry (default yes, when no global subscriber is set yet). Turn it off to compose
    /// your own with [`tracing_layer`](crate::tracing_layer).
    pub fn with_tracing_subscriber(mut self, install: bool) -> Self {
        self.install_tracing_subscriber = install;
        self
    }

    /// Whether process metrics (and tokio runtime metrics, when a runtime is known) are
    /// observed (default yes, with the `runtime-metrics` feature).
    pub fn with_runtime_metrics(mut self, enabled: bool) -> Self {
        self.runtime_metrics = enabled;
        self
    }

    /// The tokio runtime whose metrics to observe; by default the runtime `init` is called in,
    /// if any.
    #[cfg(feature = "runtime-metrics")]
    pub fn with_tokio_runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.tokio_runtime = Some(handle);
        self
    }

    /// Turns the whole SDK off, as `OTEL_SDK_DISABLED=true` does: nothing is exported and
    /// instruments record into nothing.
    pub fn with_disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    /// The metrics exporter that `init` will start.
    pub fn metrics_exporter(&self) -> MetricsExporter {
        self.metrics_exporter
    }

    /// The span exporter that `init` will start.
    pub fn traces_exporter(&self) -> TracesExporter {
        self.traces_exporter
    }

    /// The resolved OTLP settings for metrics.
    pub fn otlp_metrics(&self) -> &OtlpSignalConfig {
        &self.otlp_metrics
    }

    /// The resolved OTLP settings for traces.
    pub fn otlp_traces(&self) -> &OtlpSignalConfig {
        &self.otlp_traces
    }

    /// The `service.name` resource attribute.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The time between two metric exports.
    pub fn metric_export_interval(&self) -> Duration {
        self.metric_export_interval
    }

    /// The span sampler.
    pub fn sampler(&self) -> SamplerConfig {
        self.sampler
    }

    /// The batch span processor's bounds.
    pub fn batch_span_config(&self) -> BatchSpanConfig {
        self.batch
    }

    /// Whether the SDK is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Checks values given through builder methods, which bypass the environment parser.
    pub(crate) fn validate(&self) -> Result<(), TelemetryError> {
        let bad = |setting, value: String, expected: &str| {
            Err(TelemetryError::InvalidConfig { setting, value, expected: expected.to_owned() })
        };
        for (setting, signal) in [
            ("with_otlp_metrics_endpoint", &self.otlp_metrics),
            ("with_otlp_traces_endpoint", &self.otlp_traces),
        ] {
            if let Err(problem) = check_http_url(&signal.endpoint) {
                return bad(setting, masking::masked_url(&signal.endpoint), &format!("{URL} ({problem})"));
            }
            if signal.timeout.is_zero() {
                return bad("with_otlp_timeout", "0s".into(), "a duration greater than 0");
            }
            if signal.protocol == OtlpProtocol::Grpc
                && (signal.endpoint.starts_with("https://") || signal.ca_certificate.is_some())
            {
                return bad(
                    setting,
                    masking::masked_url(&signal.endpoint),
                    "an http:// endpoint without a CA certificate for gRPC (TLS is supported with http/protobuf)",
                );
            }
            if let Some((name, _)) = signal.headers.iter().find(|(name, _)| !is_header_name(name)) {
                return bad(
                    "with_otlp_header",
                    format!("{name:?}"),
                    "an HTTP header name (token characters)",
                );
            }
        }
        if self.metric_export_interval.is_zero() {
            return bad("with_metric_export_interval", "0s".into(), "a duration greater than 0");
        }
        if let SamplerConfig::TraceIdRatio(r) | SamplerConfig::ParentBasedTraceIdRatio(r) = self.sampler
            && !(0.0..=1.0).contains(&r)
        {
            return bad("with_sampler", r.to_string(), "a ratio between 0 and 1");
        }
        let batch = self.batch;
        if batch.max_queue_size == 0 || batch.max_export_batch_size == 0 {
            return bad(
                "with_batch_span_config",
                format!("{batch:?}"),
                "queue and batch sizes greater than 0",
            );
        }
        if batch.max_export_batch_size > batch.max_queue_size {
            return bad(
                "with_batch_span_config",
                format!("{batch:?}"),
                "max_export_batch_size at most max_queue_size",
            );
        }
        if self.service_name.is_empty() {
            return bad("with_service_name", "\"\"".into(), "a non-empty name");
        }
        Ok(())
    }
}

/// Every variable `from_env` reads, for error messages and the configuration reference.
pub const VARIABLES: &[&str] = &[
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_ENVIRONMENT",
    "OTEL_METRICS_EXPORTER",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_EXPORTER_PROMETHEUS_HOST",
    "OTEL_EXPORTER_PROMETHEUS_PORT",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_decode_percent_escapes_and_reject_malformed_pairs() {
        assert_eq!(
            parse_key_values("a=1, b = x%20y ,"),
            Ok(vec![("a".into(), "1".into()), ("b".into(), "x y".into())])
        );
        assert_eq!(parse_key_values("novalue"), Err("pair 1 has no `=`".into()));
        assert_eq!(parse_key_values("a=1,=v"), Err("pair 2 has no key before `=`".into()));
        assert!(parse_key_values("a=%zz").unwrap_err().contains("`a` has a malformed percent escape"));
        assert!(parse_key_values("a=%ff").is_err(), "not UTF-8");
    }

    #[test]
    fn urls_are_checked_where_the_exporter_would_quote_them() {
        assert_eq!(check_http_url("http://localhost:4318/v1/metrics"), Ok(()));
        assert_eq!(check_http_url("https://u:p@[::1]:4318"), Ok(()));
        assert!(check_http_url("http://user:pw@[::1").unwrap_err().contains("closing `]`"));
        assert!(check_http_url("http://host:99999").unwrap_err().contains("port"));
        assert!(check_http_url("http://").unwrap_err().contains("no host"));
        assert!(check_http_url("localhost:4318").unwrap_err().contains("http://"));
    }
}

//! Reading the configuration from `OTEL_*` variables: each variable is declared once below,
//! parsed exactly once, and a malformed value is an error naming it and what would be valid.

use std::time::Duration;

use super::parse::{
    PROTOCOLS, URL, check_http_url, parse_bool, parse_compression, parse_headers, parse_key_values,
    parse_protocol, parse_ratio,
};
use super::{
    BatchSpanConfig, DEFAULT_DELTA_BACKLOG_BYTES, DEFAULT_SHUTDOWN_TIMEOUT, MetricsExporter, OtlpCompression,
    OtlpProtocol, OtlpSignalConfig, Propagator, SamplerConfig, TelemetryConfig, TracesExporter,
};
use crate::error::TelemetryError;
use crate::masking;
use names::*;

/// Declares each variable once, as a constant named after it, and [`VARIABLES`] listing them all.
macro_rules! variables {
    ($($name:ident,)*) => {
        /// The variables, each a constant holding its own name.
        #[allow(missing_docs)]
        pub(super) mod names {
            $( pub const $name: &str = stringify!($name); )*
        }

        /// Every variable `from_env` reads, for error messages and the configuration reference.
        pub const VARIABLES: &[&str] = &[$(names::$name),*];
    };
}

variables! {
    OTEL_SDK_DISABLED,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_ENVIRONMENT,
    OTEL_METRICS_EXPORTER,
    OTEL_TRACES_EXPORTER,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_METRICS_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    OTEL_EXPORTER_OTLP_COMPRESSION,
    OTEL_EXPORTER_OTLP_METRICS_COMPRESSION,
    OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    OTEL_EXPORTER_OTLP_CERTIFICATE,
    OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    OTEL_METRIC_EXPORT_INTERVAL,
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
    OTEL_EXPORTER_PROMETHEUS_HOST,
    OTEL_EXPORTER_PROMETHEUS_PORT,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
    OTEL_PROPAGATORS,
    OTEL_BSP_SCHEDULE_DELAY,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_EXPORT_TIMEOUT,
    OTEL_METRIC_EXPORT_TIMEOUT,
    OTEL_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_EVENT_COUNT_LIMIT,
    OTEL_SPAN_LINK_COUNT_LIMIT,
    OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
    OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
    // Refused unless set to the value that is this crate's behaviour anyway (UNSUPPORTED).
    OTEL_LOG_LEVEL,
    OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_METRICS_EXEMPLAR_FILTER,
    OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
    OTEL_EXPORTER_OTLP_INSECURE,
    OTEL_EXPORTER_OTLP_METRICS_INSECURE,
    OTEL_EXPORTER_OTLP_TRACES_INSECURE,
    OTEL_EXPORTER_OTLP_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    OTEL_LOGS_EXPORTER,
    OTEL_BLRP_SCHEDULE_DELAY,
    OTEL_BLRP_EXPORT_TIMEOUT,
    OTEL_BLRP_MAX_QUEUE_SIZE,
    OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
    OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
    OTEL_EXPORTER_OTLP_LOGS_HEADERS,
    OTEL_EXPORTER_OTLP_LOGS_TIMEOUT,
    OTEL_EXPORTER_OTLP_LOGS_COMPRESSION,
    OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE,
    OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE,
}

/// Why the logs variables are refused.
const NO_LOGS: &str = "logs are not exported yet (contextd-telemetry exports metrics and traces; \
                       `tracing` events reach your own subscriber)";
const NO_VALUE_LIMIT: &str = "the OpenTelemetry SDK 0.33 cannot cut attribute values (label values \
                              taken from arguments are cut at 128 bytes regardless)";

/// Variables of the SDK environment specification this crate does not implement. Each is
/// refused at `init` when set, naming it and why, unless set to the one value that is this
/// crate's behaviour anyway: none is ignored without a word (an ignored sampler variable once
/// sent a team 100x the traces it meant to, opentelemetry-rust#3283).
pub const UNSUPPORTED: &[(&str, Option<&str>, &str)] = &[
    (
        OTEL_LOG_LEVEL,
        None,
        "the library's diagnostics are `tracing` events: filter them in your subscriber, e.g. \
         `contextd_telemetry=warn`",
    ),
    (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, None, NO_VALUE_LIMIT),
    (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, None, NO_VALUE_LIMIT),
    (OTEL_METRICS_EXEMPLAR_FILTER, Some("always_off"), "exemplars are not recorded yet"),
    (
        OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
        Some("explicit_bucket_histogram"),
        "histograms have the explicit buckets their catalog declares; base2 exponential histograms \
         are not supported",
    ),
    (OTEL_EXPORTER_OTLP_INSECURE, Some("true"), "OTLP over gRPC is plaintext only (TLS needs http/protobuf)"),
    (
        OTEL_EXPORTER_OTLP_METRICS_INSECURE,
        Some("true"),
        "OTLP over gRPC is plaintext only (TLS needs http/protobuf)",
    ),
    (
        OTEL_EXPORTER_OTLP_TRACES_INSECURE,
        Some("true"),
        "OTLP over gRPC is plaintext only (TLS needs http/protobuf)",
    ),
    (OTEL_LOGS_EXPORTER, Some("none"), NO_LOGS),
    (OTEL_BLRP_SCHEDULE_DELAY, None, NO_LOGS),
    (OTEL_BLRP_EXPORT_TIMEOUT, None, NO_LOGS),
    (OTEL_BLRP_MAX_QUEUE_SIZE, None, NO_LOGS),
    (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, None, NO_LOGS),
    (OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT, None, NO_LOGS),
    (OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT, None, NO_LOGS),
    (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, None, NO_LOGS),
    (OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, None, NO_LOGS),
    (OTEL_EXPORTER_OTLP_LOGS_HEADERS, None, NO_LOGS),
    (OTEL_EXPORTER_OTLP_LOGS_TIMEOUT, None, NO_LOGS),
    (OTEL_EXPORTER_OTLP_LOGS_COMPRESSION, None, NO_LOGS),
    (OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE, None, NO_LOGS),
    (OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY, None, NO_LOGS),
    (OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE, None, NO_LOGS),
];

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
        self.parse(variable, POSITIVE_MILLIS, parse_positive_millis)
    }

    /// A limit that may be 0 (no attributes at all).
    fn limit(&self, variable: &'static str) -> Result<Option<u32>, TelemetryError> {
        self.parse(variable, "a whole number, e.g. 128 (0 keeps none)", |v| v.parse::<u32>().ok())
    }

    /// The unsupported variables that are set, refused (see [`UNSUPPORTED`]).
    fn refuse_unsupported(&self) -> Result<(), TelemetryError> {
        for (variable, accepted, why) in UNSUPPORTED {
            let Some(value) = self.get(variable) else { continue };
            if accepted.is_some_and(|accepted| value.eq_ignore_ascii_case(accepted)) {
                continue;
            }
            let expected = match accepted {
                Some(accepted) => format!("`{accepted}` or leave it unset: it is not supported"),
                None => "leave it unset: it is not supported".to_owned(),
            };
            return Err(invalid_because(variable, &value, Some((*why).to_owned()), &expected));
        }
        Ok(())
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
    client_key_var: &'static str,
    client_certificate_var: &'static str,
    /// What an error says set the endpoint when no variable did.
    default_origin: &'static str,
}

const METRICS: Signal = Signal {
    path: "/v1/metrics",
    endpoint_var: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    protocol_var: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    headers_var: OTEL_EXPORTER_OTLP_METRICS_HEADERS,
    timeout_var: OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
    compression_var: OTEL_EXPORTER_OTLP_METRICS_COMPRESSION,
    certificate_var: OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE,
    client_key_var: OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY,
    client_certificate_var: OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE,
    default_origin: "the default OTLP metrics endpoint",
};

const TRACES: Signal = Signal {
    path: "/v1/traces",
    endpoint_var: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    protocol_var: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    headers_var: OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    timeout_var: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    compression_var: OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    certificate_var: OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    client_key_var: OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    client_certificate_var: OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    default_origin: "the default OTLP traces endpoint",
};

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// The first of `variables` (a per-signal one, then the generic one) that is set, parsed,
    /// with the variable that gave it; a malformed value is an error naming its variable.
    fn first_set<T>(
        &self,
        variables: [&'static str; 2],
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<(&'static str, T)>, TelemetryError> {
        for variable in variables {
            if let Some(value) = self.parse(variable, expected, &parse)? {
                return Ok(Some((variable, value)));
            }
        }
        Ok(None)
    }

    /// One signal's OTLP settings, and what set its endpoint (a variable, or the default).
    /// `used`: whether the signal exports over OTLP (what it needs is checked only then).
    fn otlp_signal(
        &self,
        signal: Signal,
        used: bool,
    ) -> Result<(OtlpSignalConfig, &'static str), TelemetryError> {
        let protocol = value(self.first_set(
            [signal.protocol_var, OTEL_EXPORTER_OTLP_PROTOCOL],
            PROTOCOLS,
            parse_protocol,
        )?)
        .unwrap_or(OtlpProtocol::HttpProtobuf);
        let url = |v: &str| check_http_url(v).map(|()| v.to_owned()).map_err(Some);
        let (endpoint, origin) = match self.parse_explained(signal.endpoint_var, URL, url)? {
            // A per-signal endpoint is used exactly as given.
            Some(url) => (url, signal.endpoint_var),
            None => {
                let base = self.parse_explained(OTEL_EXPORTER_OTLP_ENDPOINT, URL, url)?;
                let origin = if base.is_some() { OTEL_EXPORTER_OTLP_ENDPOINT } else { signal.default_origin };
                (default_endpoint(base.as_deref().map(|b| b.trim_end_matches('/')), protocol, signal), origin)
            }
        };
        let header_rule = "comma-separated key=value pairs with percent-encoded values and valid \
                           HTTP header names, e.g. authorization=Bearer%20abc";
        let headers = |v: &str| parse_headers(v).map_err(Some);
        let mut headers_found =
            self.parse_explained(OTEL_EXPORTER_OTLP_HEADERS, header_rule, headers)?.unwrap_or_default();
        for (name, value) in
            self.parse_explained(signal.headers_var, header_rule, headers)?.unwrap_or_default()
        {
            headers_found.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
            headers_found.push((name, value));
        }
        let headers = headers_found;
        let timeout = value(self.first_set(
            [signal.timeout_var, OTEL_EXPORTER_OTLP_TIMEOUT],
            POSITIVE_MILLIS,
            parse_positive_millis,
        )?)
        .unwrap_or(Duration::from_secs(10));
        let compression = value(self.first_set(
            [signal.compression_var, OTEL_EXPORTER_OTLP_COMPRESSION],
            "`gzip` or `none`",
            parse_compression,
        )?)
        .unwrap_or(OtlpCompression::None);
        let ca_certificate = value(self.first_set(
            [signal.certificate_var, OTEL_EXPORTER_OTLP_CERTIFICATE],
            "the path of a readable PEM file with at least one certificate",
            read_pem(CERTIFICATE_PEM),
        )?);
        let client_identity = self.client_identity(signal, used)?;
        let config = OtlpSignalConfig {
            endpoint,
            protocol,
            headers,
            timeout,
            compression,
            ca_certificate,
            client_identity,
        };
        Ok((config, origin))
    }

    /// The client certificate and its key (mTLS), per signal or generic; one without the other
    /// is an error naming the one given.
    fn client_identity(&self, signal: Signal, used: bool) -> Result<Option<Vec<u8>>, TelemetryError> {
        let certificate = self.first_set(
            [signal.client_certificate_var, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE],
            "the path of a readable PEM file with the client's certificate (chain)",
            read_pem(CERTIFICATE_PEM),
        )?;
        let key = self.first_set(
            [signal.client_key_var, OTEL_EXPORTER_OTLP_CLIENT_KEY],
            "the path of a readable PEM file with the client's private key",
            read_pem("PRIVATE KEY-----"),
        )?;
        let half = |variable: &'static str, expected: &str| {
            Err(invalid(variable, &self.get(variable).unwrap_or_default(), expected))
        };
        match (certificate, key) {
            (None, None) => Ok(None),
            // Half a pair for a signal that does not export over OTLP: nothing to present.
            (Some(_), None) | (None, Some(_)) if !used => Ok(None),
            (Some((_, mut certificate)), Some((_, key))) => {
                certificate.push(b'\n');
                certificate.extend_from_slice(&key);
                Ok(Some(certificate))
            }
            (Some((variable, _)), None) => half(
                variable,
                "a client certificate together with its key (OTEL_EXPORTER_OTLP_[SIGNAL_]CLIENT_KEY)",
            ),
            (None, Some((variable, _))) => half(
                variable,
                "a client key together with its certificate (OTEL_EXPORTER_OTLP_[SIGNAL_]CLIENT_CERTIFICATE)",
            ),
        }
    }
}

/// The value of what [`Env::first_set`] found, without the variable.
fn value<T>(found: Option<(&'static str, T)>) -> Option<T> {
    found.map(|(_, value)| value)
}

/// What a PEM file of certificates contains.
const CERTIFICATE_PEM: &str = "-----BEGIN CERTIFICATE-----";

/// Reads the PEM file at a path, if it holds `marker`.
fn read_pem(marker: &'static str) -> impl Fn(&str) -> Option<Vec<u8>> {
    move |path| std::fs::read(path).ok().filter(|pem| String::from_utf8_lossy(pem).contains(marker))
}

const POSITIVE_MILLIS: &str = "a whole number of milliseconds greater than 0, e.g. 5000";

fn parse_positive_millis(value: &str) -> Option<Duration> {
    value.parse::<u64>().ok().filter(|ms| *ms > 0).map(Duration::from_millis)
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
        env.refuse_unsupported()?;
        let disabled = env.parse(OTEL_SDK_DISABLED, "`true` or `false`", parse_bool)?.unwrap_or(false);
        let resource_attributes = env
            .parse_explained(
                OTEL_RESOURCE_ATTRIBUTES,
                "comma-separated key=value pairs with percent-encoded values, e.g. team=agents,region=eu",
                |v| parse_key_values(v).map_err(Some),
            )?
            .unwrap_or_default();
        let attribute =
            |key: &str| resource_attributes.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let service_name =
            env.get(OTEL_SERVICE_NAME).or_else(|| attribute("service.name")).unwrap_or_else(|| {
                let exe = std::env::current_exe().ok();
                let exe = exe.as_ref().and_then(|p| p.file_stem()).and_then(|s| s.to_str()).unwrap_or("");
                format!("unknown_service:{exe}")
            });
        let metrics_exporter = env
            .parse(OTEL_METRICS_EXPORTER, "`otlp`, `console`, `prometheus` or `none`", |v| match v {
                "otlp" => Some(MetricsExporter::Otlp),
                "console" => Some(MetricsExporter::Console),
                "prometheus" => Some(MetricsExporter::Prometheus),
                "none" => Some(MetricsExporter::None),
                _ => None,
            })?
            .unwrap_or(MetricsExporter::Otlp);
        let traces_exporter = env
            .parse(OTEL_TRACES_EXPORTER, "`otlp`, `console` or `none`", |v| match v {
                "otlp" => Some(TracesExporter::Otlp),
                "console" => Some(TracesExporter::Console),
                "none" => Some(TracesExporter::None),
                _ => None,
            })?
            .unwrap_or(TracesExporter::Otlp);
        let sampler_arg =
            env.parse(OTEL_TRACES_SAMPLER_ARG, "a ratio between 0 and 1, e.g. 0.25", parse_ratio)?;
        let sampler = env
            .parse(
                OTEL_TRACES_SAMPLER,
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
            schedule_delay: env.millis(OTEL_BSP_SCHEDULE_DELAY)?.unwrap_or(defaults.schedule_delay),
            max_queue_size: env.count(OTEL_BSP_MAX_QUEUE_SIZE)?.unwrap_or(defaults.max_queue_size),
            max_export_batch_size: env
                .count(OTEL_BSP_MAX_EXPORT_BATCH_SIZE)?
                .unwrap_or(defaults.max_export_batch_size),
            export_timeout: env.positive_millis(OTEL_BSP_EXPORT_TIMEOUT)?.unwrap_or(defaults.export_timeout),
        };
        if batch.max_export_batch_size > batch.max_queue_size {
            return Err(invalid(
                OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
                &batch.max_export_batch_size.to_string(),
                &format!("at most OTEL_BSP_MAX_QUEUE_SIZE ({})", batch.max_queue_size),
            ));
        }
        // The general attribute limit stands in for the span's, events' and links' own.
        let attributes = env.limit(OTEL_ATTRIBUTE_COUNT_LIMIT)?;
        let defaults = opentelemetry_sdk::trace::SpanLimits::default();
        let or = |specific: Option<u32>, default: u32| specific.or(attributes).unwrap_or(default);
        let span_limits = opentelemetry_sdk::trace::SpanLimits {
            max_attributes_per_span: or(
                env.limit(OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT)?,
                defaults.max_attributes_per_span,
            ),
            max_events_per_span: env
                .limit(OTEL_SPAN_EVENT_COUNT_LIMIT)?
                .unwrap_or(defaults.max_events_per_span),
            max_links_per_span: env.limit(OTEL_SPAN_LINK_COUNT_LIMIT)?.unwrap_or(defaults.max_links_per_span),
            max_attributes_per_event: or(
                env.limit(OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT)?,
                defaults.max_attributes_per_event,
            ),
            max_attributes_per_link: or(
                env.limit(OTEL_LINK_ATTRIBUTE_COUNT_LIMIT)?,
                defaults.max_attributes_per_link,
            ),
        };
        // The periodic reader's export timeout bounds each metrics export, as
        // OTEL_BSP_EXPORT_TIMEOUT bounds span exports: it caps the OTLP metrics timeout.
        let (mut otlp_metrics, metrics_origin) =
            env.otlp_signal(METRICS, metrics_exporter == MetricsExporter::Otlp)?;
        let (otlp_traces, traces_origin) =
            env.otlp_signal(TRACES, traces_exporter == TracesExporter::Otlp)?;
        if let Some(timeout) = env.positive_millis(OTEL_METRIC_EXPORT_TIMEOUT)? {
            otlp_metrics.timeout = otlp_metrics.timeout.min(timeout);
        }
        let config = Self {
            catalog: &contextd_metrics::contextd::CATALOG,
            span_limits,
            catalog_chosen: false,
            // What set each endpoint, so that what `init` finds wrong with one names it.
            endpoint_origins: [metrics_origin, traces_origin],
            disabled,
            service_version: attribute("service.version"),
            environment: env.get(OTEL_ENVIRONMENT),
            service_name,
            resource_attributes,
            metrics_exporter,
            traces_exporter,
            otlp_metrics,
            otlp_traces,
            metric_export_interval: env
                .positive_millis(OTEL_METRIC_EXPORT_INTERVAL)?
                .unwrap_or(Duration::from_millis(60_000)),
            metrics_temporality: env
                .parse(
                    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
                    "`cumulative`, `delta` or `lowmemory`",
                    |v| match v.to_ascii_lowercase().as_str() {
                        "cumulative" => Some(opentelemetry_sdk::metrics::Temporality::Cumulative),
                        "delta" => Some(opentelemetry_sdk::metrics::Temporality::Delta),
                        "lowmemory" => Some(opentelemetry_sdk::metrics::Temporality::LowMemory),
                        _ => None,
                    },
                )?
                .unwrap_or_default(),
            prometheus_host: env.get(OTEL_EXPORTER_PROMETHEUS_HOST).unwrap_or_else(|| "127.0.0.1".to_owned()),
            prometheus_port: env
                .parse(OTEL_EXPORTER_PROMETHEUS_PORT, "a TCP port number from 0 to 65535", |v| {
                    v.parse().ok()
                })?
                .unwrap_or(9464),
            prometheus_server: true,
            sampler,
            propagators: env
                .parse_explained(
                    OTEL_PROPAGATORS,
                    "a comma-separated list of `tracecontext` and `baggage`, or `none`",
                    |v| parse_propagators(v).map_err(Some),
                )?
                .unwrap_or_else(|| vec![Propagator::TraceContext, Propagator::Baggage]),
            batch,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            delta_backlog_bytes: DEFAULT_DELTA_BACKLOG_BYTES,
            install_tracing_subscriber: false,
            runtime_metrics: true,
            #[cfg(feature = "runtime-metrics")]
            tokio_runtime: None,
        };
        Ok(config)
    }
}

/// `tracecontext,baggage`, either alone, or `none`.
fn parse_propagators(text: &str) -> Result<Vec<Propagator>, String> {
    let names: Vec<&str> = text.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    if names == ["none"] {
        return Ok(Vec::new());
    }
    let mut propagators = Vec::new();
    for name in names {
        let propagator = match name {
            "tracecontext" => Propagator::TraceContext,
            "baggage" => Propagator::Baggage,
            "none" => return Err("`none` cannot be combined with other propagators".into()),
            other => return Err(format!("`{other}` is not a supported propagator")),
        };
        if !propagators.contains(&propagator) {
            propagators.push(propagator);
        }
    }
    Ok(propagators)
}

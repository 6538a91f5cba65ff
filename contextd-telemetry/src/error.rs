//! Everything that can go wrong when setting telemetry up or tearing it down.

use std::time::Duration;

/// Why [`init`](crate::init) or [`TelemetryConfig::init`](crate::TelemetryConfig::init) failed.
///
/// `Debug` prints the same message as `Display`: `main` returning it through `?` shows
/// `Error: <what is wrong and what would be valid>`, not a struct dump.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// An environment variable holds a value that cannot be used.
    #[error("{variable}={value:?} is not valid: {}expected {expected}", problem_first(.problem))]
    InvalidEnv {
        /// The variable, e.g. `OTEL_METRIC_EXPORT_INTERVAL`.
        variable: &'static str,
        /// The value found, with anything that can be a credential masked as `***`: header
        /// values, and the user-info, query values and fragment of URLs.
        value: String,
        /// What is wrong with it, when the parser can say more than "not valid" (never quoting
        /// a masked part).
        problem: Option<String>,
        /// What would be valid.
        expected: String,
    },
    /// A value given to a builder method (or a variable whose problem only shows in combination
    /// with others) cannot be used.
    #[error("invalid telemetry configuration: {setting} = {value}: expected {expected}")]
    InvalidConfig {
        /// The setting: the builder method or the variable that gave the value.
        setting: &'static str,
        /// The value given, with credentials masked as for [`InvalidEnv`](Self::InvalidEnv).
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// Telemetry is already running in this process.
    #[error(
        "telemetry is already initialised in this process; keep the first TelemetryGuard, \
         or shut it down before initialising again"
    )]
    AlreadyInitialized,
    /// An exporter could not be built.
    #[error("building the {signal} exporter failed: {message}")]
    Exporter {
        /// `metrics` or `traces`.
        signal: &'static str,
        /// What the exporter reported.
        message: String,
    },
    /// The Prometheus pull endpoint could not listen on its address.
    #[error(
        "the Prometheus endpoint cannot listen on {address} (set by OTEL_EXPORTER_PROMETHEUS_HOST and \
         OTEL_EXPORTER_PROMETHEUS_PORT, or with_prometheus_address): {source}; choose a free port, or 0 \
         for any free port"
    )]
    PrometheusBind {
        /// The address from `OTEL_EXPORTER_PROMETHEUS_HOST`/`PORT`.
        address: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A thread or runtime that telemetry needs could not be started.
    #[error("starting {what} failed: {source}")]
    Runtime {
        /// What was being started.
        what: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl std::fmt::Debug for TelemetryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Debug for ShutdownError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

fn problem_first(problem: &Option<String>) -> String {
    problem.as_ref().map(|p| format!("{p}; ")).unwrap_or_default()
}

/// What failed while flushing or shutting down; every part is attempted even when another fails.
/// `Debug` prints the same message as `Display` (see [`TelemetryError`]).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("telemetry {operation} failed: {}", failures.join("; "))]
pub struct ShutdownError {
    /// `shutdown` or `force_flush`.
    pub operation: &'static str,
    /// One line per failed part, e.g. `metrics: deadline of 5s exceeded`.
    pub failures: Vec<String>,
}

impl ShutdownError {
    pub(crate) fn deadline(signal: &str, deadline: Duration, context: &str) -> String {
        format!("{signal}: deadline of {deadline:?} exceeded{context}")
    }
}

/// The error for a configuration this build was compiled without.
#[allow(dead_code, reason = "unused in a build with every feature")]
pub(crate) fn feature_needed(signal: &'static str, what: &str, feature: &str) -> TelemetryError {
    TelemetryError::Exporter {
        signal,
        message: format!(
            "{what} needs contextd-telemetry's `{feature}` cargo feature; enable it in Cargo.toml"
        ),
    }
}

//! Recording the contextd metric catalog on OpenTelemetry: what a service compiles to record.
//!
//! * [`catalog()`] — the 31 instruments as data (name, kind, unit, labels, buckets), the single
//!   source of truth that the docs, dashboards and alert rules are generated from.
//! * [`Meters`] — the 22 synchronous instruments as typed fields, generated from the catalog and
//!   created from any [`opentelemetry::metrics::Meter`] with their names, units and buckets.
//! * [`instrument_op`] — one attribute per service method; its runtime takes every instrument,
//!   label key and closed label value from the catalog entries.
//! * [`values`] — the derived values a caller would otherwise get wrong (embedding cost,
//!   remediation hybrid score).
//!
//! The observable gauges live in `contextd-gauges`; rendering the catalog (docs, dashboards)
//! in `contextd-catalog-tool`, which services never depend on.
//!
//! ```
//! use contextd_metrics::Meters;
//! use opentelemetry::KeyValue;
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//!
//! let provider = SdkMeterProvider::builder().build();
//! let meters = Meters::new(&provider.meter("contextd"));
//! meters.checkpoint_operations.add(
//!     1,
//!     &[KeyValue::new("operation", "create"), KeyValue::new("status", "success")],
//! );
//! meters.checkpoint_duration.record(0.012, &[KeyValue::new("operation", "create")]);
//! ```
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))] // audited exceptions: the leaked-pointer loads in `global` and `callsite`

#[allow(unsafe_code)]
mod callsite;
mod checked;
mod clock;
#[allow(unsafe_code)]
mod global;
mod meters;
pub mod redact;
mod skill_success;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod values;

pub use callsite::{ErrorType, MAX_LABEL_BYTES, Status};
pub use checked::{
    CheckedBoundCounter, CheckedBoundHistogram, CheckedCounter, CheckedHistogram, refused_measurements,
};
pub use contextd_metrics_catalog::{
    Component, InstrumentKind, InstrumentSpec, LabelSpec, LabelValues, ValueType, buckets, instruments,
    labels, self_metrics,
};
pub use global::{Binder, bind_global, bind_global_meters, meters, on_bind, unbind_global_meters};
pub use meters::Meters;
pub use skill_success::SkillSuccessTracker;

/// The instrumentation scope name under which every catalog instrument is created.
pub const METER_NAME: &str = "contextd";

/// The catalog: all 31 instruments (9 counters, 13 histograms, 9 observable gauges), in the
/// order of the contract in `docs/metrics-catalog.md`.
///
/// ```
/// let names: Vec<_> = contextd_metrics::catalog().iter().map(|s| s.name).collect();
/// assert!(names.contains(&"contextd_mcp_tool_calls_total"));
/// ```
pub fn catalog() -> &'static [InstrumentSpec] {
    &contextd_metrics_catalog::CATALOG
}

/// The catalog entry with this exact name, if there is one.
pub fn find(name: &str) -> Option<&'static InstrumentSpec> {
    contextd_metrics_catalog::find(name)
}

/// # Usage
///
/// `#[instrument_op("component", "operation")]` on a function or method records every call:
///
/// | component | counter (+1 per call) | duration histogram | arguments |
/// |---|---|---|---|
/// | `checkpoint`, `remediation`, `skill` | `contextd_<c>_operations_total{operation,status}` | `contextd_<c>_duration_seconds{operation}` | — |
/// | `mcp` | `contextd_mcp_tool_calls_total{tool_name,status}` | `contextd_mcp_tool_duration_seconds{tool_name}` | — |
/// | `database` | `contextd_database_operations_total{operation,database,collection}` (+ `contextd_database_errors_total{error_type,database}` on error) | `contextd_database_duration_seconds{operation,database}` | `database = <expr>`, `collection = <expr>` |
/// | `embedding` | `contextd_embedding_operations_total{provider,model}` | `contextd_embedding_duration_seconds{provider,model}` | `provider = <expr>`, `model = <expr>` |
/// | `agent` | — | `contextd_agent_duration_seconds{agent,status}` (the operation is the agent) | — |
///
/// and a span named `<component>.<operation>`, child of the current context (a `tracing` span
/// the caller entered included). Operations are checked against the catalog at compile time,
/// with a suggestion for a near miss. Argument expressions are evaluated before the body and
/// must give something `AsRef<str>`.
///
/// On `#[instrument_op("skill", "apply", skill_id = <expr>)]` each completed application also
/// feeds [`SkillSuccessTracker::global`] (behind `contextd_skill_success_rate`); the id
/// is not a label of the counter.
///
/// Status: a `Result` gives `success` or `error` (with the error's [`ErrorType`] where it
/// implements it, else `other`); any other return value gives `success`; a panic records `error`
/// and goes on unwinding; an async call whose future is dropped before it completes records
/// `cancelled`. The duration is recorded in every case.
///
/// Cost: the attribute sets are resolved once per call site into bound handles, so a call costs
/// a clock pair and two atomic-sized updates, and allocates nothing once warm. Before
/// `contextd_telemetry::init()` a call records nothing and reads no clock.
///
/// ```
/// use contextd_metrics::{ErrorType, instrument_op};
///
/// #[derive(Debug)]
/// enum StoreError { Timeout }
/// impl ErrorType for StoreError {
///     fn error_type(&self) -> &'static str { "connection_timeout" }
/// }
///
/// struct Checkpoints { database: String }
///
/// impl Checkpoints {
///     #[instrument_op("checkpoint", "create")]
///     async fn create(&self, summary: &str) -> Result<u64, StoreError> {
///         self.insert(summary)
///     }
///
///     #[instrument_op("database", "insert", database = self.database, collection = "checkpoints")]
///     fn insert(&self, summary: &str) -> Result<u64, StoreError> {
///         if summary.is_empty() { Err(StoreError::Timeout) } else { Ok(1) }
///     }
/// }
/// ```
pub use contextd_metrics_macros::instrument_op;

/// # Usage
///
/// On an impl block, `#[instrument_ops("skill")]` wraps every method as
/// `#[instrument_op("skill", "<method name>")]`; each name must be an operation of the
/// component. `#[skip_instrument]` leaves a method out, and a method with its own
/// `#[instrument_op]` keeps it. Works with `#[async_trait]` in either order.
///
/// ```
/// struct Skills;
///
/// #[contextd_metrics::instrument_ops("skill")]
/// impl Skills {
///     fn apply(&self, id: u64) -> Result<(), String> { Ok(()) }
///     async fn search(&self, query: &str) -> Vec<u64> { vec![] }
///     #[skip_instrument]
///     fn cache_key(&self) -> u64 { 7 }
/// }
/// ```
pub use contextd_metrics_macros::instrument_ops;

/// What code generated by `#[instrument_op]` calls. Not a public API: it may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    use std::future::Future;

    use crate::callsite::ErrorType;
    pub use crate::callsite::{Op, OpSite, Outcome, Status};
    pub use contextd_metrics_catalog::Component;
    pub use opentelemetry::context::FutureExt;

    /// Calls `f`, fixing its return type to `T` so that `?` and `return` in the wrapped body
    /// infer exactly as they did in the original function.
    #[inline(always)]
    pub fn typed_call<T, F: FnOnce() -> T>(f: F) -> T {
        f()
    }

    /// Fixes an async block's output type to `T`, for the same reason as [`typed_call`].
    #[inline(always)]
    pub fn typed_future<T, F: Future<Output = T>>(future: F) -> F {
        future
    }

    /// Feeds a completed skill application to the global success-rate tracker.
    pub fn record_skill_outcome(skill_id: &str, outcome: &Outcome) {
        crate::SkillSuccessTracker::global().record(skill_id, outcome.status == Status::Success);
    }

    /// Wraps a return value for outcome classification by autoref specialisation:
    /// `(&&&Classify(&value)).__contextd_outcome()` picks the most specific impl.
    pub struct Classify<'a, T>(pub &'a T);

    /// `Result<_, E>` with `E: ErrorType`: error type from the error.
    pub trait ClassifyTypedError {
        /// The call's outcome.
        fn __contextd_outcome(&self) -> Outcome;
    }
    impl<T, E: ErrorType> ClassifyTypedError for &&Classify<'_, Result<T, E>> {
        #[inline]
        fn __contextd_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::SUCCESS,
                Err(error) => Outcome::error(error.error_type()),
            }
        }
    }

    /// Any other `Result`: `other` as error type.
    pub trait ClassifyResult {
        /// The call's outcome.
        fn __contextd_outcome(&self) -> Outcome;
    }
    impl<T, E> ClassifyResult for &Classify<'_, Result<T, E>> {
        #[inline]
        fn __contextd_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::SUCCESS,
                Err(_) => Outcome::error(contextd_metrics_catalog::OTHER_ERROR_TYPE),
            }
        }
    }

    /// An error that can be displayed: its message, redacted, for the span's status.
    pub trait ClassifyMessage {
        /// The redacted error message, if the call failed.
        fn __contextd_message(&self) -> Option<String>;
    }
    impl<T, E: std::fmt::Display> ClassifyMessage for &Classify<'_, Result<T, E>> {
        fn __contextd_message(&self) -> Option<String> {
            match self.0 {
                Ok(_) => None,
                Err(error) => Some(crate::redact::redact(&error.to_string()).into_owned()),
            }
        }
    }

    /// Anything without a displayable error: no message.
    pub trait NoMessage {
        /// Nothing to say.
        fn __contextd_message(&self) -> Option<String>;
    }
    impl<T> NoMessage for Classify<'_, T> {
        fn __contextd_message(&self) -> Option<String> {
            None
        }
    }

    /// Anything else returned: success.
    pub trait ClassifyAny {
        /// The call's outcome.
        fn __contextd_outcome(&self) -> Outcome;
    }
    impl<T> ClassifyAny for Classify<'_, T> {
        #[inline]
        fn __contextd_outcome(&self) -> Outcome {
            Outcome::SUCCESS
        }
    }
}

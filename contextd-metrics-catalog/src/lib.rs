//! The contextd metric catalog as plain data.
//!
//! This crate holds the one declarative table of the 31 contextd instruments (9 counters,
//! 13 histograms, 9 observable gauges). It has no dependencies because two very different
//! readers share it: `contextd-metrics` builds OpenTelemetry instruments from it at run time,
//! and `contextd-metrics-macros` validates `#[instrument_op("component", "operation")]` against
//! it at compile time. Services use it through `contextd_metrics::catalog()`.
//!
//! ```
//! use contextd_metrics_catalog::{CATALOG, InstrumentKind};
//!
//! let counters = CATALOG.iter().filter(|s| s.kind == InstrumentKind::Counter).count();
//! assert_eq!(counters, 9);
//! let spec = contextd_metrics_catalog::find("contextd_checkpoint_duration_seconds").unwrap();
//! assert_eq!(spec.unit, "s");
//! ```
#![forbid(unsafe_code)]

mod operations;
mod table;

pub use Aggregation::{Avg, Max, Sum};
pub use operations::{
    Indicator, LabelSource, OBJECTIVES, Objective, OperationShape, SKILL_OUTCOME_OPERATION, operation_shape,
};
pub use table::{
    CATALOG, CATALOG_LEN, SELF_METRICS, SELF_METRICS_LEN, buckets, instruments, labels, self_metrics,
};

/// What kind of OpenTelemetry instrument an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    /// A monotonic sum (`Counter`); its name ends in `_total`.
    Counter,
    /// A distribution with explicit bucket boundaries (`Histogram`).
    Histogram,
    /// An observable gauge whose value is read from a registered source at export time.
    Gauge,
    /// A monotonic count kept by the code that owns it and observed at export time (the
    /// self-metrics); its name ends in `_total`.
    ObservedCounter,
}

impl InstrumentKind {
    /// The lower-case name used in the JSON rendering: `counter`, `histogram` or `gauge`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Histogram => "histogram",
            Self::Gauge => "gauge",
            Self::ObservedCounter => "observed_counter",
        }
    }
}

/// The numeric type an instrument records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// Unsigned 64-bit integer.
    U64,
    /// 64-bit float.
    F64,
    /// Signed 64-bit integer.
    I64,
}

impl ValueType {
    /// The lower-case name used in the JSON rendering: `u64`, `f64` or `i64`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::U64 => "u64",
            Self::F64 => "f64",
            Self::I64 => "i64",
        }
    }
}

/// Declares [`Component`] from one list: each variant, its name and what it covers.
macro_rules! components {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// The part of contextd an instrument belongs to. `#[instrument_op]` takes these names.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Component {
            $( $(#[$doc])* $variant, )*
        }

        impl Component {
            /// Every component, in catalog order.
            pub const ALL: [Component; [$($name),*].len()] = [$(Self::$variant),*];

            /// The lower-case name, as written in `#[instrument_op("checkpoint", …)]`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $name, )*
                }
            }
        }
    };
}

components! {
    /// MCP tool calls handed to agents.
    Mcp = "mcp",
    /// Checkpoints (saved agent context).
    Checkpoint = "checkpoint",
    /// Remediations (known fixes for known errors).
    Remediation = "remediation",
    /// Skills (reusable procedures agents apply).
    Skill = "skill",
    /// Embedding generation and its cache.
    Embedding = "embedding",
    /// The vector store.
    Database = "database",
    /// Agent executions.
    Agent = "agent",
    /// Tests, coverage, bugs and regression tests.
    Testing = "testing",
    /// The telemetry pipeline itself (the self-metrics).
    Telemetry = "telemetry",
}

impl Component {
    /// The component with this lower-case name, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Its position in [`ALL`](Self::ALL), for code generated at compile time.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// The prefix of every catalog name (`contextd_…`), left out of `Meters` field names.
pub const NAMESPACE: &str = "contextd";

/// The `error_type` recorded for errors that name none of the listed ones: the last value of
/// [`labels::ERROR_TYPE`].
pub const OTHER_ERROR_TYPE: &str = {
    let values = labels::ERROR_TYPE.values.listed();
    values[values.len() - 1]
};

/// Which values a label may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LabelValues {
    /// Exactly these values, nothing else.
    Closed(&'static [&'static str]),
    /// Values chosen by the service's code (a model name, an agent name, a hashed project id),
    /// never by user data; the slice holds the known ones or examples, possibly none.
    Open(&'static [&'static str]),
}

impl LabelValues {
    /// The listed values (all of them for a closed set, the known ones for an open set).
    pub const fn listed(&self) -> &'static [&'static str] {
        match self {
            Self::Closed(values) | Self::Open(values) => values,
        }
    }

    /// Whether values outside [`listed`](Self::listed) are allowed.
    pub const fn is_open(&self) -> bool {
        matches!(self, Self::Open(_))
    }
}

/// One label (attribute key) of an instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelSpec {
    /// The attribute key, e.g. `operation`.
    pub name: &'static str,
    /// The values it may take.
    pub values: LabelValues,
}

/// How the series of several service instances combine into one value for the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregation {
    /// Each instance counts its own share: add them (counters, histograms, per-instance gauges).
    Sum,
    /// Every instance reports the same shared thing (rows of a shared store, a report file all
    /// read): take the largest, so two instances reporting 80 % coverage show 80 %, not 160 %.
    Max,
    /// Each instance reports a ratio of its own: average them.
    Avg,
}

impl Aggregation {
    /// The PromQL aggregation operator: `sum`, `max` or `avg`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Max => "max",
            Self::Avg => "avg",
        }
    }
}

/// One entry of the catalog: everything needed to create, document and query an instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstrumentSpec {
    /// The final Prometheus/VictoriaMetrics series name, used verbatim as the instrument name.
    pub name: &'static str,
    /// Counter, histogram or observable gauge.
    pub kind: InstrumentKind,
    /// The recorded numeric type.
    pub value_type: ValueType,
    /// The UCUM unit (`s`, `1`, `By`, `%`, `USD`, or an annotation such as `{call}`).
    pub unit: &'static str,
    /// One line saying what is measured.
    pub description: &'static str,
    /// The part of contextd it belongs to.
    pub component: Component,
    /// Its labels, in the order callers pass them.
    pub labels: &'static [LabelSpec],
    /// Explicit bucket boundaries for histograms; `None` for counters and gauges.
    pub buckets: Option<&'static [f64]>,
    /// How the series of several instances combine (dashboards follow it).
    pub aggregation: Aggregation,
}

impl InstrumentSpec {
    /// The label with this name, if the instrument has it.
    pub fn label(&self, name: &str) -> Option<&'static LabelSpec> {
        self.labels.iter().find(|l| l.name == name)
    }

    /// Whether the instrument is recorded synchronously (counters and histograms), as opposed
    /// to observed at export time (gauges, observed counters).
    pub const fn is_synchronous(&self) -> bool {
        matches!(self.kind, InstrumentKind::Counter | InstrumentKind::Histogram)
    }
}

/// The catalog entry with this exact name, if there is one.
pub fn find(name: &str) -> Option<&'static InstrumentSpec> {
    CATALOG.iter().find(|s| s.name == name)
}

/// The catalog entry with this exact name, evaluated at compile time.
///
/// Used by `contextd_metrics::Meters` so that a misspelt name fails the build rather than a
/// service at start-up. Outside a `const` context prefer [`find`].
///
/// ```
/// const SPEC: &contextd_metrics_catalog::InstrumentSpec =
///     contextd_metrics_catalog::require("contextd_embedding_cost_total");
/// assert_eq!(SPEC.unit, "USD");
/// ```
///
/// # Panics
/// When no entry has that name; in a `const` item that panic is a compile error.
pub const fn require(name: &str) -> &'static InstrumentSpec {
    let mut i = 0;
    while i < CATALOG.len() {
        if const_str_eq(CATALOG[i].name, name) {
            return &CATALOG[i];
        }
        i += 1;
    }
    panic!("no instrument with that name in the contextd catalog")
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

//! What a metric catalog is, and how one is read.
//!
//! A service declares its catalog once, in a YAML file of its own crate (the shape is close to
//! an OpenTelemetry semantic-convention registry; see `docs/own-catalog.md`): its components and
//! their operations, and every instrument with its kind, value type, unit, labels, closed label
//! values, buckets and description. Everything else is derived from that one file:
//!
//! * `contextd_metrics::catalog!("telemetry.yaml")` turns it into static data of these types
//!   ([`Catalog`], [`InstrumentSpec`] …) and typed `Meters` handles;
//! * `#[instrument_op("component", "operation")]` reads it at compile time to check the names
//!   and to give each call site its instruments and labels;
//! * `contextd-catalog` renders docs, Grafana dashboards and alert rules from it.
//!
//! This crate has no dependencies but for the reader ([`source`], feature `source`), which only
//! the proc-macro and the tool compile: a service's binary carries the data, never the parser.
//!
//! ```
//! use contextd_metrics_catalog::{InstrumentKind, source};
//!
//! let catalog = source::read_str("telemetry.yaml", r#"
//! namespace: orders
//! attributes:
//!   - { id: status, brief: How a call ended, members: [success, error, cancelled] }
//!   - { id: operation, brief: Order operations, members: [place, cancel] }
//! metrics:
//!   - { name: orders_operations_total, instrument: counter, value_type: u64, unit: "{operation}",
//!       component: orders, attributes: [operation, status], brief: Order operations }
//!   - { name: orders_duration_seconds, instrument: histogram, value_type: f64, unit: s,
//!       component: orders, attributes: [operation], buckets: [0.01, 0.1, 1.0], brief: Order time }
//! components:
//!   - id: orders
//!     brief: Orders
//!     operations: { counter: orders_operations_total, duration: orders_duration_seconds,
//!                   operation: operation, status: status }
//! "#).unwrap();
//! assert_eq!(catalog.find("orders_duration_seconds").unwrap().kind, InstrumentKind::Histogram);
//! assert_eq!(catalog.component("orders").unwrap().operations.unwrap().duration.unit, "s");
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod naming;
mod operations;
pub mod self_metrics;
#[cfg(feature = "source")]
#[cfg_attr(docsrs, doc(cfg(feature = "source")))]
pub mod source;

pub use Aggregation::{Avg, Max, Sum};
pub use operations::{
    Indicator, LabelSource, OTHER_ERROR_TYPE, Objective, OperationShape, STATUS_KEY, STATUS_VALUES,
    SuccessRate,
};
pub use self_metrics::SelfMetric;

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
    /// The lower-case name, as written in a catalog file: `counter`, `histogram`, `gauge`
    /// (`observed_counter` for the self-metrics).
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
    /// The lower-case name, as written in a catalog file: `u64`, `f64` or `i64`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::U64 => "u64",
            Self::F64 => "f64",
            Self::I64 => "i64",
        }
    }
}

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
    /// The label's id in its catalog, unique there (`checkpoint_operation`).
    pub id: &'static str,
    /// The attribute key, e.g. `operation` (several labels may share a key).
    pub name: &'static str,
    /// The values it may take.
    pub values: LabelValues,
    /// One line saying what it is.
    pub description: &'static str,
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

/// One entry of a catalog: everything needed to create, document and query an instrument.
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
    /// The id of the component it belongs to.
    pub component: &'static str,
    /// Its labels, in the order callers pass them.
    pub labels: &'static [LabelSpec],
    /// Explicit bucket boundaries for histograms; `None` for counters and gauges.
    pub buckets: Option<&'static [f64]>,
    /// How the series of several instances combine (dashboards follow it).
    pub aggregation: Aggregation,
}

impl InstrumentSpec {
    /// The label with this attribute key, if the instrument has it.
    pub fn label(&self, name: &str) -> Option<&'static LabelSpec> {
        self.labels.iter().find(|l| l.name == name)
    }

    /// Whether the instrument is recorded synchronously (counters and histograms), as opposed
    /// to observed at export time (gauges, observed counters).
    pub const fn is_synchronous(&self) -> bool {
        matches!(self.kind, InstrumentKind::Counter | InstrumentKind::Histogram)
    }
}

/// A part of the service: what dashboards give a row and `#[instrument_op]` takes as its first
/// argument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComponentSpec {
    /// The lower-case id, as written in `#[instrument_op("checkpoint", …)]`.
    pub name: &'static str,
    /// One line saying what it covers.
    pub description: &'static str,
    /// What one wrapped operation records; `None` for a component of gauges only.
    pub operations: Option<OperationShape>,
    /// When the generated alert rules fire for its operations.
    pub alerts: AlertThresholds,
}

/// The thresholds of a component's generated alert rules (`alerts:` in the catalog file).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertThresholds {
    /// The share of failed calls above which the error-ratio alert fires (default 0.05).
    pub error_ratio: f64,
    /// The p95 call duration in seconds above which the latency alert fires (default: the
    /// threshold of the component's latency objective, else 1 s).
    pub p95_seconds: f64,
}

impl AlertThresholds {
    /// The error ratio a component's alert fires above when its catalog entry names none.
    pub const DEFAULT_ERROR_RATIO: f64 = 0.05;
    /// The p95 (seconds) when neither the entry nor a latency objective names one.
    pub const DEFAULT_P95_SECONDS: f64 = 1.0;
}

/// Named bucket boundaries shared by several histograms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketSpec {
    /// The name histograms refer to them by.
    pub name: &'static str,
    /// The boundaries, strictly increasing.
    pub bounds: &'static [f64],
}

/// A whole catalog: a service's instruments, labels, components and objectives, plus the
/// telemetry pipeline's own metrics under the service's namespace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Catalog {
    /// The prefix of every metric name (`contextd` for `contextd_…`); also the
    /// instrumentation scope the service's instruments and spans are created under.
    pub namespace: &'static str,
    /// One line saying what the service is.
    pub description: &'static str,
    /// Named bucket boundaries.
    pub buckets: &'static [BucketSpec],
    /// Every label, in file order.
    pub labels: &'static [LabelSpec],
    /// The service's instruments, in file order.
    pub instruments: &'static [InstrumentSpec],
    /// The telemetry pipeline's own metrics, in [`SelfMetric::ALL`] order.
    pub self_metrics: &'static [InstrumentSpec],
    /// The components, in file order (the dashboards' row order).
    pub components: &'static [ComponentSpec],
    /// The service-level objectives.
    pub objectives: &'static [Objective],
}

impl Catalog {
    /// The service instrument with this exact name, if there is one.
    pub fn find(&self, name: &str) -> Option<&'static InstrumentSpec> {
        self.instruments.iter().find(|s| s.name == name)
    }

    /// A service instrument or self-metric with this exact name.
    pub fn find_any(&self, name: &str) -> Option<&'static InstrumentSpec> {
        self.find(name).or_else(|| self.self_metrics.iter().find(|s| s.name == name))
    }

    /// The component with this id.
    pub fn component(&self, name: &str) -> Option<&'static ComponentSpec> {
        self.components.iter().find(|c| c.name == name)
    }

    /// The label with this id.
    pub fn label(&self, id: &str) -> Option<&'static LabelSpec> {
        self.labels.iter().find(|l| l.id == id)
    }

    /// One of the pipeline's own metrics, under this catalog's namespace.
    pub fn self_metric(&self, metric: SelfMetric) -> &'static InstrumentSpec {
        &self.self_metrics[metric as usize]
    }

    /// Service instruments and self-metrics, in that order.
    pub fn all(&self) -> impl Iterator<Item = &'static InstrumentSpec> {
        self.instruments.iter().chain(self.self_metrics)
    }
}

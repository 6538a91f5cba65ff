//! The telemetry pipeline's own metrics: how exports, the span queue, the checked instruments
//! and the gauge sources are doing. They belong to the library, not to a service, so every
//! catalog gets them under its own namespace (`<namespace>_telemetry_exports_total`): a
//! service's output never carries another service's name.

use crate::LabelValues::{Closed, Open};
use crate::{Aggregation, InstrumentKind, InstrumentSpec, LabelSpec, ValueType};

/// The component the self-metrics belong to.
pub const COMPONENT: &str = "telemetry";

/// The labels of the self-metrics.
pub mod labels {
    use super::*;

    const fn label(
        id: &'static str,
        name: &'static str,
        values: crate::LabelValues,
        description: &'static str,
    ) -> LabelSpec {
        LabelSpec { id, name, values, description }
    }

    /// The telemetry signal of a self-metric: `metrics`, `traces`.
    pub const SIGNAL: LabelSpec =
        label("signal", "signal", Closed(&["metrics", "traces"]), "The telemetry signal");
    /// The catalog instrument a self-metric is about (open: any instrument name).
    pub const INSTRUMENT: LabelSpec =
        label("instrument", "instrument", Open(&[]), "The instrument a measurement was for");
    /// Why a float measurement was refused.
    pub const REFUSED_REASON: LabelSpec = label(
        "refused_reason",
        "reason",
        Closed(&["nan", "infinite", "negative"]),
        "Why a float measurement was refused",
    );
    /// The gauge whose source failed (open: any gauge name).
    pub const GAUGE: LabelSpec = label("gauge", "gauge", Open(&[]), "The gauge whose source failed");
    /// How a gauge source failed.
    pub const FAILURE_REASON: LabelSpec = label(
        "failure_reason",
        "reason",
        Closed(&["error", "timeout", "panic"]),
        "How a gauge source failed",
    );
}

/// One of the pipeline's own metrics; [`Catalog::self_metric`](crate::Catalog::self_metric)
/// gives its spec under a catalog's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum SelfMetric {
    /// `<ns>_telemetry_exports_total{signal}`.
    Exports,
    /// `<ns>_telemetry_export_failures_total{signal}`.
    ExportFailures,
    /// `<ns>_telemetry_spans_dropped_total`.
    SpansDropped,
    /// `<ns>_telemetry_invalid_measurements_total{instrument, reason}`.
    InvalidMeasurements,
    /// `<ns>_telemetry_gauge_source_failures_total{gauge, reason}`.
    GaugeSourceFailures,
    /// `<ns>_telemetry_exports_dropped_total{signal}`.
    ExportsDropped,
}

/// One self-metric without its namespace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Template {
    /// The name after `<namespace>_`.
    pub suffix: &'static str,
    /// The UCUM unit.
    pub unit: &'static str,
    /// Its labels.
    pub labels: &'static [LabelSpec],
    /// One line saying what is counted.
    pub description: &'static str,
}

impl SelfMetric {
    /// Every self-metric, in the order of [`Catalog::self_metrics`](crate::Catalog::self_metrics).
    pub const ALL: [SelfMetric; 6] = [
        Self::Exports,
        Self::ExportFailures,
        Self::SpansDropped,
        Self::InvalidMeasurements,
        Self::GaugeSourceFailures,
        Self::ExportsDropped,
    ];

    /// What it is, but for the namespace.
    pub const fn template(self) -> Template {
        use labels::*;
        let (suffix, unit, labels, description): (_, _, &'static [LabelSpec], _) = match self {
            Self::Exports => (
                "telemetry_exports_total",
                "{export}",
                &[SIGNAL],
                "Export attempts of the telemetry pipeline, by signal (a Prometheus scrape counts as one)",
            ),
            Self::ExportFailures => (
                "telemetry_export_failures_total",
                "{export}",
                &[SIGNAL],
                "Failed exports of the telemetry pipeline, by signal",
            ),
            Self::SpansDropped => (
                "telemetry_spans_dropped_total",
                "{span}",
                &[],
                "Spans dropped because the export queue was full (OTEL_BSP_MAX_QUEUE_SIZE)",
            ),
            Self::InvalidMeasurements => (
                "telemetry_invalid_measurements_total",
                "{measurement}",
                &[INSTRUMENT, REFUSED_REASON],
                "Measurements refused (NaN, infinite or negative), by instrument and reason",
            ),
            Self::GaugeSourceFailures => (
                "telemetry_gauge_source_failures_total",
                "{failure}",
                &[GAUGE, FAILURE_REASON],
                "Failed reads of gauge sources, by gauge and reason",
            ),
            Self::ExportsDropped => (
                "telemetry_exports_dropped_total",
                "{export}",
                &[SIGNAL],
                "Failed delta exports dropped unsent because the backlog kept for resending was full, by signal",
            ),
        };
        Template { suffix, unit, labels, description }
    }

    /// Its spec, given its full name `<namespace>_<suffix>`.
    pub const fn spec(self, name: &'static str) -> InstrumentSpec {
        let template = self.template();
        InstrumentSpec {
            name,
            kind: InstrumentKind::ObservedCounter,
            value_type: ValueType::U64,
            unit: template.unit,
            description: template.description,
            component: COMPONENT,
            labels: template.labels,
            buckets: None,
            aggregation: Aggregation::Sum,
        }
    }
}

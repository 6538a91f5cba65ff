//! The contextd metric catalog on OpenTelemetry.
//!
//! * [`catalog()`] — the 31 instruments as data (name, kind, unit, labels, buckets), the single
//!   source of truth that the docs, dashboards and alert rules are generated from.
//! * [`Meters`] — the 22 synchronous instruments as typed fields, created from any
//!   [`opentelemetry::metrics::Meter`] with their catalog names, units and bucket boundaries.
//! * [`values`] — the derived values a caller would otherwise get wrong (embedding cost,
//!   remediation hybrid score).
//! * [`render`] — the catalog as JSON and as the markdown reference in `docs/metrics-catalog.md`.
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
#![deny(unsafe_code)] // one audited exception: the pointer load in `global`

#[allow(unsafe_code)]
mod global;
mod meters;
pub mod render;
pub mod values;

pub use contextd_metrics_catalog::{
    Component, InstrumentKind, InstrumentSpec, LabelSpec, LabelValues, ValueType, buckets,
};
pub use global::{bind_global_meters, meters};
pub use meters::Meters;

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

//! Creating an instrument from its catalog entry: what a catalog's generated `Meters` and the
//! call sites of `#[instrument_op]` build their handles with.

use contextd_metrics_catalog::InstrumentSpec;
use opentelemetry::metrics::{Counter, Histogram, Meter};

use crate::checked::{CheckedCounter, CheckedHistogram};

/// An OpenTelemetry instrument type that a catalog entry is built into; the generator picks the
/// type from the entry's kind and value type.
pub trait CatalogInstrument: Sized {
    /// Creates the instrument on `meter` with the entry's name, unit, description (and buckets).
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self;
}

/// Bucket boundaries of a histogram entry; the catalog tests guarantee every histogram has them,
/// so a seconds histogram can never fall back to the SDK's millisecond defaults.
fn boundaries(spec: &InstrumentSpec) -> Vec<f64> {
    spec.buckets.unwrap_or_default().to_vec()
}

impl CatalogInstrument for Counter<u64> {
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self {
        meter.u64_counter(spec.name).with_unit(spec.unit).with_description(spec.description).build()
    }
}

impl CatalogInstrument for CheckedCounter {
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self {
        let counter =
            meter.f64_counter(spec.name).with_unit(spec.unit).with_description(spec.description).build();
        CheckedCounter::new(counter, spec.name)
    }
}

impl CatalogInstrument for Histogram<u64> {
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self {
        meter
            .u64_histogram(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_boundaries(boundaries(spec))
            .build()
    }
}

impl CatalogInstrument for CheckedHistogram {
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self {
        let histogram = meter
            .f64_histogram(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_boundaries(boundaries(spec))
            .build();
        CheckedHistogram::new(histogram, spec.name)
    }
}

//! Creating an instrument from its catalog entry: what a catalog's generated `Meters` and the
//! call sites of `#[instrument_op]` build their handles with.

use contextd_metrics_catalog::InstrumentSpec;
use opentelemetry::metrics::{Counter, Histogram, Meter};

use crate::checked::{CheckedCounter, CheckedHistogram};
use crate::histogram::HistogramStore;

/// Where a catalog's instruments record: an OpenTelemetry meter, and the striped histograms of a
/// `contextd_telemetry` pipeline when bound through it (float histograms then record there).
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// The meter counters (and histograms without a store) are created on.
    pub meter: &'a Meter,
    /// The pipeline's striped histograms.
    pub histograms: Option<&'a HistogramStore>,
}

impl<'a> Destination<'a> {
    /// Everything on `meter`.
    pub fn meter(meter: &'a Meter) -> Self {
        Self { meter, histograms: None }
    }
}

/// An instrument type that a catalog entry is built into; the generator picks the type from the
/// entry's kind and value type.
pub trait CatalogInstrument: Sized {
    /// Creates the instrument with the entry's name, unit, description (and buckets).
    fn build(destination: &Destination<'_>, spec: &'static InstrumentSpec) -> Self;
}

/// Bucket boundaries of a histogram entry; the catalog tests guarantee every histogram has them,
/// so a seconds histogram can never fall back to the SDK's millisecond defaults.
fn boundaries(spec: &InstrumentSpec) -> Vec<f64> {
    spec.buckets.unwrap_or_default().to_vec()
}

impl CatalogInstrument for Counter<u64> {
    fn build(destination: &Destination<'_>, spec: &'static InstrumentSpec) -> Self {
        let meter = destination.meter;
        meter.u64_counter(spec.name).with_unit(spec.unit).with_description(spec.description).build()
    }
}

impl CatalogInstrument for CheckedCounter {
    fn build(destination: &Destination<'_>, spec: &'static InstrumentSpec) -> Self {
        let meter = destination.meter;
        let counter =
            meter.f64_counter(spec.name).with_unit(spec.unit).with_description(spec.description).build();
        CheckedCounter::new(counter, spec.name)
    }
}

impl CatalogInstrument for Histogram<u64> {
    fn build(destination: &Destination<'_>, spec: &'static InstrumentSpec) -> Self {
        let meter = destination.meter;
        meter
            .u64_histogram(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_boundaries(boundaries(spec))
            .build()
    }
}

impl CatalogInstrument for CheckedHistogram {
    fn build(destination: &Destination<'_>, spec: &'static InstrumentSpec) -> Self {
        if let Some(store) = destination.histograms {
            return CheckedHistogram::striped(store.family(spec));
        }
        let meter = destination.meter;
        let histogram = meter
            .f64_histogram(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_boundaries(boundaries(spec))
            .build();
        CheckedHistogram::sdk(histogram, spec.name)
    }
}

//! Creating an instrument from its catalog entry: what a catalog's generated `Meters` and the
//! call sites of `#[instrument_op]` build their handles with.

use contextd_metrics_catalog::InstrumentSpec;
use opentelemetry::metrics::{Histogram, Meter};

use crate::checked::{CheckedCounter, CheckedHistogram};
use crate::counter::CatalogCounter;
use crate::striped::SeriesStore;

/// Where a catalog's instruments record: an OpenTelemetry meter, or the striped series of a
/// `contextd_telemetry` pipeline when bound through it.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// The meter instruments are created on when there is no store (and the ones the store
    /// does not hold: whole-number histograms): the meter of the catalog's scope.
    pub meter: &'a Meter,
    /// The pipeline's striped series.
    pub store: Option<&'a SeriesStore>,
    /// The instrumentation scope the striped series are exported under: the catalog's
    /// namespace, as the meter's.
    pub scope: &'static str,
}

impl<'a> Destination<'a> {
    /// Everything on `meter`.
    pub fn meter(meter: &'a Meter) -> Self {
        Self { meter, store: None, scope: "" }
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

impl CatalogInstrument for CatalogCounter {
    fn build(destination: &Destination<'_>, spec: &'static InstrumentSpec) -> Self {
        if let Some(store) = destination.store {
            return CatalogCounter::striped(store.counter(destination.scope, spec));
        }
        let meter = destination.meter;
        CatalogCounter::sdk(
            meter.u64_counter(spec.name).with_unit(spec.unit).with_description(spec.description).build(),
        )
    }
}

impl CatalogInstrument for CheckedCounter {
    fn build(destination: &Destination<'_>, spec: &'static InstrumentSpec) -> Self {
        if let Some(store) = destination.store {
            return CheckedCounter::striped(store.counter(destination.scope, spec));
        }
        let meter = destination.meter;
        let counter =
            meter.f64_counter(spec.name).with_unit(spec.unit).with_description(spec.description).build();
        CheckedCounter::sdk(counter, spec.name)
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
        if let Some(store) = destination.store {
            return CheckedHistogram::striped(store.histogram(destination.scope, spec));
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

//! Float instruments that refuse values no catalog instrument can hold.
//!
//! Every float in the catalog — seconds, scores, USD — is finite and never negative. A NaN, an
//! infinity or a negative value is a bug in the caller; recorded, it would poison a sum or a
//! histogram for good. These wrappers drop such a value and count it per instrument and reason;
//! `contextd_telemetry` exports the counts as `<namespace>_telemetry_invalid_measurements_total`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use contextd_metrics_catalog::self_metrics::labels::REFUSED_REASON;
use opentelemetry::KeyValue;

use crate::striped::{AtomicCounter, AtomicHistogram, Family, Series};
use opentelemetry::metrics::{BoundCounter, BoundHistogram, Counter, Histogram};

/// Why a value was refused: the `reason` values of the refused-measurements self-metric (nan,
/// infinite, negative), in that order.
const REASONS: &[&str] = REFUSED_REASON.values.listed();

/// The refused values of one instrument, by reason.
#[derive(Debug)]
struct Refused {
    name: &'static str,
    counts: [AtomicU64; 3],
}

/// One entry per instrument name, in the order instruments were first created; leaked, so a
/// handle keeps a plain reference (instruments are created a handful of times per process).
static REFUSED: Mutex<Vec<&'static Refused>> = Mutex::new(Vec::new());

fn refused_for(name: &'static str) -> &'static Refused {
    let mut all = REFUSED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(found) = all.iter().find(|r| r.name == name) {
        return found;
    }
    let entry: &'static Refused = Box::leak(Box::new(Refused { name, counts: Default::default() }));
    all.push(entry);
    entry
}

/// Checks `value`; counts and returns false when it must not be recorded.
#[inline]
fn accept(refused: &Refused, value: f64) -> bool {
    if value.is_finite() && value >= 0.0 {
        return true;
    }
    let reason = if value.is_nan() {
        0
    } else if value.is_infinite() {
        1
    } else {
        2
    };
    refused.counts[reason].fetch_add(1, Ordering::Relaxed);
    false
}

/// `(instrument, reason, count)` for every refused kind of value so far, instruments in the order
/// they were first created.
///
/// ```
/// let before = contextd_metrics::refused_measurements();
/// contextd_metrics::contextd::meters().checkpoint_duration.record(f64::NAN, &[]);
/// let after = contextd_metrics::refused_measurements();
/// assert!(after.iter().any(|(name, reason, n)| *name == "contextd_checkpoint_duration_seconds" && *reason == "nan" && *n >= 1));
/// # let _ = before;
/// ```
pub fn refused_measurements() -> Vec<(&'static str, &'static str, u64)> {
    let mut out = Vec::new();
    for refused in REFUSED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
        for (reason, count) in REASONS.iter().zip(&refused.counts) {
            let count = count.load(Ordering::Relaxed);
            if count > 0 {
                out.push((refused.name, *reason, count));
            }
        }
    }
    out
}

/// A float counter of the catalog that refuses NaN, infinite and negative increments.
///
/// Bound through `contextd_telemetry`, it adds into the pipeline's striped counters
/// ([`crate::striped`]); built on a plain meter (`Meters::new`), into that meter's SDK counter.
#[derive(Clone, Debug)]
pub struct CheckedCounter {
    inner: CounterTarget,
    refused: &'static Refused,
}

#[derive(Clone, Debug)]
enum CounterTarget {
    Sdk(Counter<f64>),
    Striped(Arc<Family<AtomicCounter>>),
}

impl CheckedCounter {
    pub(crate) fn sdk(inner: Counter<f64>, name: &'static str) -> Self {
        Self { inner: CounterTarget::Sdk(inner), refused: refused_for(name) }
    }

    pub(crate) fn striped(family: Arc<Family<AtomicCounter>>) -> Self {
        let refused = refused_for(family.spec.name);
        Self { inner: CounterTarget::Striped(family), refused }
    }

    /// Adds `value` unless it is NaN, infinite or negative (then it is counted as refused).
    #[inline]
    pub fn add(&self, value: f64, attributes: &[KeyValue]) {
        if accept(self.refused, value) {
            match &self.inner {
                CounterTarget::Sdk(counter) => counter.add(value, attributes),
                CounterTarget::Striped(family) => family.series(attributes).data.add_f64(value + 0.0),
            }
        }
    }

    /// A handle bound to `attributes` whose adds are checked the same way.
    pub fn bind(&self, attributes: &[KeyValue]) -> CheckedBoundCounter {
        let inner = match &self.inner {
            CounterTarget::Sdk(counter) => BoundCounterTarget::Sdk(counter.bind(attributes)),
            CounterTarget::Striped(family) => BoundCounterTarget::Striped(family.series(attributes)),
        };
        CheckedBoundCounter { inner, refused: self.refused }
    }
}

/// A bound [`CheckedCounter`].
#[derive(Clone, Debug)]
pub struct CheckedBoundCounter {
    inner: BoundCounterTarget,
    refused: &'static Refused,
}

#[derive(Clone, Debug)]
enum BoundCounterTarget {
    Sdk(BoundCounter<f64>),
    Striped(Arc<Series<AtomicCounter>>),
}

impl CheckedBoundCounter {
    /// Adds `value` unless it is NaN, infinite or negative.
    #[inline]
    pub fn add(&self, value: f64) {
        if accept(self.refused, value) {
            match &self.inner {
                BoundCounterTarget::Sdk(counter) => counter.add(value),
                BoundCounterTarget::Striped(series) => series.data.add_f64(value + 0.0),
            }
        }
    }
}

/// A float histogram of the catalog that refuses NaN, infinite and negative values.
///
/// Bound through `contextd_telemetry`, it records into the pipeline's striped histograms
/// ([`crate::striped`]), which scale across threads; built on a plain meter
/// (`Meters::new`), into that meter's SDK histogram.
#[derive(Clone, Debug)]
pub struct CheckedHistogram {
    inner: HistogramTarget,
    refused: &'static Refused,
}

#[derive(Clone, Debug)]
enum HistogramTarget {
    Sdk(Histogram<f64>),
    Striped(Arc<Family<AtomicHistogram>>),
}

impl CheckedHistogram {
    pub(crate) fn sdk(inner: Histogram<f64>, name: &'static str) -> Self {
        Self { inner: HistogramTarget::Sdk(inner), refused: refused_for(name) }
    }

    pub(crate) fn striped(family: Arc<Family<AtomicHistogram>>) -> Self {
        let refused = refused_for(family.spec.name);
        Self { inner: HistogramTarget::Striped(family), refused }
    }

    /// Records `value` unless it is NaN, infinite or negative (then it is counted as refused).
    #[inline]
    pub fn record(&self, value: f64, attributes: &[KeyValue]) {
        if accept(self.refused, value) {
            match &self.inner {
                HistogramTarget::Sdk(histogram) => histogram.record(value, attributes),
                HistogramTarget::Striped(family) => family.series(attributes).data.record(value),
            }
        }
    }

    /// A handle bound to `attributes` whose records are checked the same way.
    pub fn bind(&self, attributes: &[KeyValue]) -> CheckedBoundHistogram {
        let inner = match &self.inner {
            HistogramTarget::Sdk(histogram) => BoundTarget::Sdk(histogram.bind(attributes)),
            HistogramTarget::Striped(family) => BoundTarget::Striped(family.series(attributes)),
        };
        CheckedBoundHistogram { inner, refused: self.refused }
    }
}

/// A bound [`CheckedHistogram`].
#[derive(Clone, Debug)]
pub struct CheckedBoundHistogram {
    inner: BoundTarget,
    refused: &'static Refused,
}

#[derive(Clone, Debug)]
enum BoundTarget {
    Sdk(BoundHistogram<f64>),
    Striped(Arc<Series<AtomicHistogram>>),
}

impl CheckedBoundHistogram {
    /// Records `value` unless it is NaN, infinite or negative.
    #[inline]
    pub fn record(&self, value: f64) {
        if accept(self.refused, value) {
            self.record_valid(value);
        }
    }

    /// Records a value known to be finite and not negative (a measured duration).
    #[inline]
    pub(crate) fn record_valid(&self, value: f64) {
        match &self.inner {
            BoundTarget::Sdk(histogram) => histogram.record(value),
            BoundTarget::Striped(series) => series.data.record(value),
        }
    }
}

//! Float instruments that refuse values no catalog instrument can hold.
//!
//! Every float in the catalog — seconds, scores, USD — is finite and never negative. A NaN, an
//! infinity or a negative value is a bug in the caller; recorded, it would poison a sum or a
//! histogram for good. These wrappers drop such a value and count it per instrument and reason;
//! `contextd_telemetry` exports the counts as `contextd_telemetry_invalid_measurements_total`.

use std::sync::atomic::{AtomicU64, Ordering};

use contextd_metrics_catalog::{CATALOG, CATALOG_LEN};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{BoundCounter, BoundHistogram, Counter, Histogram};

/// Why a value was refused: the catalog's `reason` values of the refused-measurements
/// self-metric (nan, infinite, negative), in that order.
const REASONS: &[&str] = contextd_metrics_catalog::labels::REFUSED_REASON.values.listed();

/// Refused values per catalog entry (by index) and reason.
static REFUSED: [[AtomicU64; 3]; CATALOG_LEN] = [const { [const { AtomicU64::new(0) }; 3] }; CATALOG_LEN];

fn index_of(name: &str) -> usize {
    CATALOG.iter().position(|s| s.name == name).unwrap_or(0)
}

/// Checks `value`; counts and returns false when it must not be recorded.
#[inline]
fn accept(index: usize, value: f64) -> bool {
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
    REFUSED[index][reason].fetch_add(1, Ordering::Relaxed);
    false
}

/// `(instrument, reason, count)` for every refused kind of value so far, in catalog order.
///
/// ```
/// let before = contextd_metrics::refused_measurements();
/// contextd_metrics::meters().checkpoint_duration.record(f64::NAN, &[]);
/// let after = contextd_metrics::refused_measurements();
/// assert!(after.iter().any(|(name, reason, n)| *name == "contextd_checkpoint_duration_seconds" && *reason == "nan" && *n >= 1));
/// # let _ = before;
/// ```
pub fn refused_measurements() -> Vec<(&'static str, &'static str, u64)> {
    let mut out = Vec::new();
    for (index, spec) in CATALOG.iter().enumerate() {
        for (reason, count) in REASONS.iter().zip(&REFUSED[index]) {
            let count = count.load(Ordering::Relaxed);
            if count > 0 {
                out.push((spec.name, *reason, count));
            }
        }
    }
    out
}

/// A float counter of the catalog that refuses NaN, infinite and negative increments.
#[derive(Clone, Debug)]
pub struct CheckedCounter {
    inner: Counter<f64>,
    index: usize,
}

impl CheckedCounter {
    pub(crate) fn new(inner: Counter<f64>, name: &str) -> Self {
        Self { inner, index: index_of(name) }
    }

    /// Adds `value` unless it is NaN, infinite or negative (then it is counted as refused).
    #[inline]
    pub fn add(&self, value: f64, attributes: &[KeyValue]) {
        if accept(self.index, value) {
            self.inner.add(value, attributes);
        }
    }

    /// A handle bound to `attributes` whose adds are checked the same way.
    pub fn bind(&self, attributes: &[KeyValue]) -> CheckedBoundCounter {
        CheckedBoundCounter { inner: self.inner.bind(attributes), index: self.index }
    }
}

/// A bound [`CheckedCounter`].
#[derive(Clone, Debug)]
pub struct CheckedBoundCounter {
    inner: BoundCounter<f64>,
    index: usize,
}

impl CheckedBoundCounter {
    /// Adds `value` unless it is NaN, infinite or negative.
    #[inline]
    pub fn add(&self, value: f64) {
        if accept(self.index, value) {
            self.inner.add(value);
        }
    }
}

/// A float histogram of the catalog that refuses NaN, infinite and negative values.
#[derive(Clone, Debug)]
pub struct CheckedHistogram {
    inner: Histogram<f64>,
    index: usize,
}

impl CheckedHistogram {
    pub(crate) fn new(inner: Histogram<f64>, name: &str) -> Self {
        Self { inner, index: index_of(name) }
    }

    /// Records `value` unless it is NaN, infinite or negative (then it is counted as refused).
    #[inline]
    pub fn record(&self, value: f64, attributes: &[KeyValue]) {
        if accept(self.index, value) {
            self.inner.record(value, attributes);
        }
    }

    /// A handle bound to `attributes` whose records are checked the same way.
    pub fn bind(&self, attributes: &[KeyValue]) -> CheckedBoundHistogram {
        CheckedBoundHistogram { inner: self.inner.bind(attributes), index: self.index }
    }
}

/// A bound [`CheckedHistogram`].
#[derive(Clone, Debug)]
pub struct CheckedBoundHistogram {
    inner: BoundHistogram<f64>,
    index: usize,
}

impl CheckedBoundHistogram {
    /// Records `value` unless it is NaN, infinite or negative.
    #[inline]
    pub fn record(&self, value: f64) {
        if accept(self.index, value) {
            self.inner.record(value);
        }
    }
}

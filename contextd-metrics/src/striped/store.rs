//! Series by instrument and attribute set, as the SDK keys them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::SystemTime;

use contextd_metrics_catalog::InstrumentSpec;
use opentelemetry::KeyValue;

use super::{AtomicCounter, AtomicHistogram};

/// The series a process has recorded past its cardinality limit go to one series with this
/// attribute, as the SDK does.
pub const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// Series per instrument before further attribute sets share the overflow series, unless a
/// store sets another (the SDK's default stream limit, overflow series included).
pub const CARDINALITY_LIMIT: usize = 2000;

/// What one series of an instrument records into.
pub trait Aggregation: Send + Sync + 'static {
    /// An empty aggregation for a series of `spec`; `resettable` for delta collection.
    fn for_instrument(spec: &'static InstrumentSpec, resettable: bool) -> Self;
}

impl Aggregation for AtomicHistogram {
    fn for_instrument(spec: &'static InstrumentSpec, resettable: bool) -> Self {
        let bounds = spec.buckets.unwrap_or_default();
        if resettable { AtomicHistogram::resettable(bounds) } else { AtomicHistogram::new(bounds) }
    }
}

impl Aggregation for AtomicCounter {
    fn for_instrument(_: &'static InstrumentSpec, resettable: bool) -> Self {
        if resettable { AtomicCounter::resettable() } else { AtomicCounter::new() }
    }
}

/// Series by attribute set.
type BySet<A> = HashMap<Box<[KeyValue]>, Arc<Series<A>>>;

/// One series: an instrument's attribute set (sorted by key, as the SDK exports them) and its data.
#[derive(Debug)]
pub struct Series<A> {
    /// The attributes, sorted by key.
    pub attributes: Box<[KeyValue]>,
    /// What it has recorded.
    pub data: A,
    /// The attributes as an exporter encodes them, kept by it on its first export: they never
    /// change, and reading them from one place is cheaper than from `attributes` every time.
    pub encoded_attributes: OnceLock<Box<[u8]>>,
}

/// The series of one catalog instrument.
#[derive(Debug)]
pub struct Family<A> {
    /// The instrumentation scope it is exported under: its catalog's namespace.
    pub scope: &'static str,
    /// Its catalog entry.
    pub spec: &'static InstrumentSpec,
    /// When it was created: the start of its cumulative series.
    pub started: SystemTime,
    /// Whether its series are resettable (for delta collection).
    resettable: bool,
    /// Set once an attribute set went to the overflow series.
    overflowed: std::sync::atomic::AtomicBool,
    /// Series before the overflow series takes further attribute sets.
    limit: usize,
    /// By attribute set, as given and as sorted (both lead to the same series).
    by_attributes: RwLock<BySet<A>>,
    /// Each series once, in creation order.
    /// Shared with collections as one `Arc`: a collection then takes one reference, not one per
    /// series (at 10 000 series, a locked increment per series was a third of an export).
    series: Mutex<Arc<Vec<Arc<Series<A>>>>>,
}

impl<A: Aggregation> Family<A> {
    fn new(scope: &'static str, spec: &'static InstrumentSpec, resettable: bool, limit: usize) -> Self {
        Self {
            scope,
            spec,
            started: SystemTime::now(),
            resettable,
            overflowed: std::sync::atomic::AtomicBool::new(false),
            limit,
            by_attributes: RwLock::default(),
            series: Mutex::default(),
        }
    }

    /// The series of `attributes`, created on first use; past the store's cardinality limit the
    /// overflow series.
    pub fn series(&self, attributes: &[KeyValue]) -> Arc<Series<A>> {
        if let Some(found) = self.by_attributes.read().unwrap_or_else(PoisonError::into_inner).get(attributes)
        {
            return found.clone();
        }
        self.create(attributes)
    }

    #[cold]
    fn create(&self, attributes: &[KeyValue]) -> Arc<Series<A>> {
        let mut sorted = attributes.to_vec();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        sorted.dedup_by(|later, earlier| later.key == earlier.key);
        let mut by_attributes = self.by_attributes.write().unwrap_or_else(PoisonError::into_inner);
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let found = match by_attributes.get(sorted.as_slice()) {
            Some(found) => found.clone(),
            None => {
                let full = series.len() + 1 >= self.limit;
                let key: Box<[KeyValue]> =
                    if full { Box::new([KeyValue::new(OVERFLOW_KEY, true)]) } else { sorted.into() };
                if full {
                    self.overflowed.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                if let Some(found) = by_attributes.get(&key) {
                    return found.clone();
                }
                let created = Arc::new(Series {
                    attributes: key.clone(),
                    data: A::for_instrument(self.spec, self.resettable),
                    encoded_attributes: OnceLock::new(),
                });
                by_attributes.insert(key, created.clone());
                Arc::make_mut(&mut series).push(created.clone());
                created
            }
        };
        // The order a caller gave, as a second key when it differs; never for the overflow
        // series, whose callers bring unboundedly many attribute sets.
        let overflow = found.attributes.first().is_some_and(|kv| kv.key.as_str() == OVERFLOW_KEY);
        if !overflow && *found.attributes != *attributes {
            by_attributes.insert(attributes.into(), found.clone());
        }
        found
    }

    /// Whether it reached its cardinality limit: further attribute sets share the overflow series.
    pub fn has_overflowed(&self) -> bool {
        self.overflowed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many series it has.
    pub fn series_count(&self) -> usize {
        self.series.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Every series, in creation order (one shared list: taking it is one reference).
    pub fn all_series(&self) -> Arc<Vec<Arc<Series<A>>>> {
        self.series.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The striped series of one telemetry pipeline: `contextd_telemetry` creates one, binds the
/// catalog's handles to it, and merges its series into every export.
#[derive(Debug)]
pub struct SeriesStore {
    histograms: Mutex<Vec<Arc<Family<AtomicHistogram>>>>,
    counters: Mutex<Vec<Arc<Family<AtomicCounter>>>>,
    resettable: bool,
    limit: usize,
}

impl Default for SeriesStore {
    fn default() -> Self {
        Self {
            histograms: Mutex::default(),
            counters: Mutex::default(),
            resettable: false,
            limit: CARDINALITY_LIMIT,
        }
    }
}

impl SeriesStore {
    /// An empty store for cumulative collection (threads write their own stripes with plain
    /// stores).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store for delta collection: its series can be taken and reset, and every write
    /// is an atomic read-modify-write.
    pub fn resettable() -> Self {
        Self { resettable: true, ..Self::default() }
    }

    /// Whether its series can be taken and reset (made by [`resettable`](Self::resettable)).
    pub fn is_resettable(&self) -> bool {
        self.resettable
    }

    /// The same store with `limit` series per instrument, the overflow series included
    /// (default [`CARDINALITY_LIMIT`]; at least 2).
    #[must_use]
    pub fn with_cardinality_limit(self, limit: usize) -> Self {
        Self { limit: limit.max(2), ..self }
    }

    /// The family of a histogram of the catalog `scope` (its namespace), created on first use
    /// (one per scope and instrument name).
    pub fn histogram(
        &self,
        scope: &'static str,
        spec: &'static InstrumentSpec,
    ) -> Arc<Family<AtomicHistogram>> {
        family(&self.histograms, scope, spec, self.resettable, self.limit)
    }

    /// The family of a counter of the catalog `scope` (its namespace), created on first use
    /// (one per scope and instrument name).
    pub fn counter(&self, scope: &'static str, spec: &'static InstrumentSpec) -> Arc<Family<AtomicCounter>> {
        family(&self.counters, scope, spec, self.resettable, self.limit)
    }

    /// Every histogram family, in creation order.
    pub fn histograms(&self) -> Vec<Arc<Family<AtomicHistogram>>> {
        self.histograms.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Every counter family, in creation order.
    pub fn counters(&self) -> Vec<Arc<Family<AtomicCounter>>> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

fn family<A: Aggregation>(
    families: &Mutex<Vec<Arc<Family<A>>>>,
    scope: &'static str,
    spec: &'static InstrumentSpec,
    resettable: bool,
    limit: usize,
) -> Arc<Family<A>> {
    let mut families = families.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = families.iter().find(|f| f.scope == scope && f.spec.name == spec.name) {
        return found.clone();
    }
    let created = Arc::new(Family::new(scope, spec, resettable, limit));
    families.push(created.clone());
    created
}

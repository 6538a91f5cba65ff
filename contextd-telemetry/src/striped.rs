//! The pipeline's striped series in its exports.
//!
//! Wrapped calls and `meters()` record the catalog's counters and float histograms into a
//! [`SeriesStore`] instead of the SDK (whose points are shared by every recording thread: a
//! mutex per histogram point, an atomic and an "updated" flag per counter point). The SDK cannot
//! carry data it did not aggregate — its export types have no public constructors — so each
//! exporter takes the SDK's collection and adds these series beside it, each family in its
//! catalog's scope (joining the SDK's scope of that name when there is one) and with the names,
//! units and temporality the SDK would have given them: the OTLP request (`otlp_encode`), the
//! console and the pull text (`exposition`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use contextd_metrics::ValueType;
use contextd_metrics::striped::{
    Aggregation, AtomicCounter, AtomicHistogram, Family, HistogramTotals, Series, SeriesStore,
};
use opentelemetry_sdk::metrics::Temporality;

use crate::naming::{SeriesKind, catalog_wire_unit};
use crate::overflow::OverflowWatch;

/// The store's families and their series when a collection starts: what a [`Collected`]
/// borrows, so that its points refer to their series and attributes directly.
pub(crate) struct Reading {
    counters: Vec<FamilyRead<AtomicCounter>>,
    histograms: Vec<FamilyRead<AtomicHistogram>>,
}

/// A family and its series when the collection started.
struct FamilyRead<A> {
    family: Arc<Family<A>>,
    all: Arc<Vec<Arc<Series<A>>>>,
}

impl<A: Aggregation> FamilyRead<A> {
    fn of(families: Vec<Arc<Family<A>>>) -> Vec<Self> {
        families.into_iter().map(|family| Self { all: family.all_series(), family }).collect()
    }
}

/// One collection of the store.
#[cfg_attr(not(feature = "otlp-proto"), allow(dead_code, reason = "times are for OTLP"))]
pub(crate) struct Collected<'r> {
    /// The instrumentation scopes of the collected families, each once, in the order met.
    pub(crate) scopes: Vec<&'static str>,
    pub(crate) temporality: Temporality,
    pub(crate) time: SystemTime,
    pub(crate) counters: Vec<FamilySnapshot<'r, AtomicCounter, Total>>,
    pub(crate) histograms: Vec<FamilySnapshot<'r, AtomicHistogram, HistogramPoint>>,
    /// The bucket counts of every histogram point, one after the other.
    buckets: Vec<u64>,
}

impl Collected<'_> {
    /// The bucket counts of a point of a family with these `bounds`.
    pub(crate) fn buckets(&self, point: &HistogramPoint, bounds: &[f64]) -> &[u64] {
        self.buckets.get(point.buckets_at..point.buckets_at + bounds.len() + 1).unwrap_or_default()
    }
}

/// How an exporter encodes each kind of series' attributes. A collection with encoders takes
/// every point's encoded attributes while it reads the point, so the exporter's passes over
/// thousands of points never go back to the series (each visit would be a cache miss).
#[cfg_attr(not(feature = "otlp-proto"), allow(dead_code, reason = "for OTLP"))]
pub(crate) struct AttributeEncoders {
    pub(crate) counter: Encoder<AtomicCounter>,
    pub(crate) histogram: Encoder<AtomicHistogram>,
}

/// A series' attributes as its exporter writes them.
pub(crate) type Encoder<A> = for<'s> fn(&'s Series<A>) -> &'s [u8];

/// One exported series of a family: the series, its encoded attributes (empty without
/// encoders) and its snapshot.
pub(crate) struct Point<'r, A, S> {
    pub(crate) series: &'r Series<A>,
    #[cfg_attr(not(feature = "otlp-proto"), allow(dead_code, reason = "for OTLP"))]
    pub(crate) attributes: &'r [u8],
    pub(crate) value: S,
}

/// One histogram point: its totals, its bucket counts in [`Collected::buckets`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct HistogramPoint {
    pub(crate) totals: HistogramTotals,
    buckets_at: usize,
}

/// A counter's total, in its value type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Total {
    U64(u64),
    F64(f64),
}

/// One family's series as collected.
#[cfg_attr(not(feature = "otlp-proto"), allow(dead_code, reason = "times are for OTLP"))]
pub(crate) struct FamilySnapshot<'r, A, S> {
    pub(crate) family: &'r Family<A>,
    /// The start of its points: the family's creation (cumulative) or the last collection (delta).
    pub(crate) start: SystemTime,
    pub(crate) points: Vec<Point<'r, A, S>>,
}

impl<S> FamilySnapshot<'_, AtomicHistogram, S> {
    /// The bucket bounds of every series of the family (its spec's).
    pub(crate) fn bounds(&self) -> &'static [f64] {
        self.family.spec.buckets.unwrap_or_default()
    }
}

impl<A, S> FamilySnapshot<'_, A, S> {
    /// The unit the family is exported with: the one the SDK's catalog view would give it.
    pub(crate) fn unit(&self, kind: SeriesKind) -> String {
        let spec = self.family.spec;
        catalog_wire_unit(spec.name, spec.unit, kind).unwrap_or_else(|| spec.unit.to_owned())
    }
}

/// The store of one pipeline, and what its collections need to remember.
#[derive(Debug)]
pub(crate) struct StripedSeries {
    store: Arc<SeriesStore>,
    /// The end of the last delta collection: the start of the next.
    last_delta: Mutex<SystemTime>,
    /// Told of every family with an overflow series, as the SDK's collections are checked.
    overflow: Arc<OverflowWatch>,
    /// Collected as deltas (the series are resettable) rather than cumulatively.
    delta: bool,
    /// The catalogs said to record without being the pipeline's, and whether that is worth a
    /// warning (see [`warn_unnamed_catalogs`](Self::warn_unnamed_catalogs)).
    unnamed: Mutex<UnnamedCatalogs>,
}

/// Catalogs recording into a pipeline started without `with_catalog`.
#[derive(Debug, Default)]
struct UnnamedCatalogs {
    /// The default catalog's scope, while the pipeline runs with it because none was chosen.
    default: Option<&'static str>,
    warned: Vec<&'static str>,
}

impl StripedSeries {
    /// `delta`: the exporter collects deltas, so the series are made resettable.
    pub(crate) fn new(delta: bool, overflow: Arc<OverflowWatch>) -> Self {
        Self::on(if delta { SeriesStore::resettable() } else { SeriesStore::new() }, overflow)
    }

    /// Collecting `store`: as deltas when it is resettable, cumulatively otherwise.
    pub(crate) fn on(store: SeriesStore, overflow: Arc<OverflowWatch>) -> Self {
        let delta = store.is_resettable();
        Self {
            store: Arc::new(store),
            last_delta: Mutex::new(SystemTime::now()),
            overflow,
            delta,
            unnamed: Mutex::default(),
        }
    }

    /// The pipeline runs with the default catalog, `scope`, because none was chosen: a service
    /// catalog that records into it is warned about once, since the self-metrics and the
    /// resource then carry the default's names while that catalog's rules query its own.
    pub(crate) fn warn_unnamed_catalogs(&self, scope: &'static str) {
        self.unnamed.lock().unwrap_or_else(PoisonError::into_inner).default = Some(scope);
    }

    fn check_unnamed(&self, scopes: &[&'static str]) {
        let mut unnamed = self.unnamed.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(default) = unnamed.default else { return };
        for &scope in scopes {
            if scope != default && !unnamed.warned.contains(&scope) {
                unnamed.warned.push(scope);
                tracing::warn!(
                    catalog = scope,
                    "the `{scope}` catalog records into telemetry started without `with_catalog`: its \
                     series keep their names and scope, but the pipeline's self-metrics are named \
                     `{default}_telemetry_*`, not the `{scope}_telemetry_*` its generated rules query; \
                     start telemetry with `TelemetryConfig::from_env()?.with_catalog(&CATALOG)`"
                );
            }
        }
    }

    /// The store to bind the catalog's handles to.
    pub(crate) fn store(&self) -> Arc<SeriesStore> {
        self.store.clone()
    }

    /// The families and series a collection will read.
    pub(crate) fn read(&self) -> Reading {
        Reading {
            counters: FamilyRead::of(self.store.counters()),
            histograms: FamilyRead::of(self.store.histograms()),
        }
    }

    /// Collects every series of `reading` as the SDK would: cumulative ones all (bound points
    /// that have not recorded yet too, except one without attributes), delta ones only when
    /// they recorded since the last collection.
    pub(crate) fn collect<'r>(&self, reading: &'r Reading) -> Collected<'r> {
        self.collect_with(reading, None)
    }

    /// [`collect`](Self::collect), with every point's attributes encoded by `encoders`.
    #[cfg_attr(not(feature = "otlp-proto"), allow(dead_code, reason = "for OTLP"))]
    pub(crate) fn collect_encoded<'r>(
        &self,
        reading: &'r Reading,
        encoders: &AttributeEncoders,
    ) -> Collected<'r> {
        self.collect_with(reading, Some(encoders))
    }

    fn collect_with<'r>(&self, reading: &'r Reading, encoders: Option<&AttributeEncoders>) -> Collected<'r> {
        let time = SystemTime::now();
        let delta = self.delta;
        let temporality = if delta { Temporality::Delta } else { Temporality::Cumulative };
        let delta_start = if delta {
            std::mem::replace(&mut *self.last_delta.lock().unwrap_or_else(PoisonError::into_inner), time)
        } else {
            time
        };
        let kept = Kept { delta, delta_start };
        let counters = kept.snapshots(&reading.counters, encoders.map(|e| e.counter), |family, series| {
            let counter = &series.data;
            // `take_*` gives `Some` exactly when `delta`: the store was made resettable for it.
            let total = if family.spec.value_type == ValueType::F64 {
                Total::F64(counter.take_f64().unwrap_or_else(|| counter.total_f64()))
            } else {
                Total::U64(counter.take_u64().unwrap_or_else(|| counter.total_u64()))
            };
            let recorded = total != Total::U64(0) && total != Total::F64(0.0);
            (total, recorded)
        });
        let bucket_words = reading
            .histograms
            .iter()
            .map(|read| read.all.len() * (read.family.spec.buckets.unwrap_or_default().len() + 1))
            .sum();
        let mut buckets = Vec::with_capacity(bucket_words);
        let histograms = kept.snapshots(&reading.histograms, encoders.map(|e| e.histogram), |_, series| {
            let buckets_at = buckets.len();
            let histogram = &series.data;
            let totals =
                histogram.take_into(&mut buckets).unwrap_or_else(|| histogram.snapshot_into(&mut buckets));
            (HistogramPoint { totals, buckets_at }, totals.count > 0)
        });
        for name in overflowing(&counters).chain(overflowing(&histograms)) {
            self.overflow.warn(name);
        }
        let mut scopes: Vec<&'static str> = Vec::new();
        let all = counters.iter().map(|f| f.family.scope).chain(histograms.iter().map(|f| f.family.scope));
        for scope in all {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        self.check_unnamed(&scopes);
        Collected { scopes, temporality, time, counters, histograms, buckets }
    }
}

/// The names of the families that have an overflow series.
fn overflowing<'c, A: Aggregation, S>(
    families: &'c [FamilySnapshot<'_, A, S>],
) -> impl Iterator<Item = &'static str> + 'c {
    families.iter().filter(|f| f.family.has_overflowed()).map(|f| f.family.spec.name)
}

/// Which points a collection keeps.
struct Kept {
    delta: bool,
    delta_start: SystemTime,
}

impl Kept {
    /// The snapshots `read` takes of the exported series of `families`, with their attributes
    /// as `encode` gives them.
    fn snapshots<'r, A: Aggregation, S>(
        &self,
        families: &'r [FamilyRead<A>],
        encode: Option<Encoder<A>>,
        mut read: impl FnMut(&Family<A>, &Series<A>) -> (S, bool),
    ) -> Vec<FamilySnapshot<'r, A, S>> {
        families
            .iter()
            .filter_map(|FamilyRead { family, all }| {
                let start = if self.delta { self.delta_start } else { family.started };
                // Sized up front: at thousands of series, growing by doubling copies megabytes.
                let mut points = Vec::with_capacity(all.len());
                for series in all.iter() {
                    let (value, recorded) = read(family, series);
                    if recorded || (!self.delta && !series.attributes.is_empty()) {
                        let attributes = encode.map_or(&[][..], |encode| encode(series));
                        points.push(Point { series, attributes, value });
                    }
                }
                (!points.is_empty()).then_some(FamilySnapshot { family, start, points })
            })
            .collect()
    }
}

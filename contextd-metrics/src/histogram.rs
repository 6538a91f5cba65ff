//! A histogram aggregation that many threads record into without sharing a cache line.
//!
//! The SDK's histogram point is a `Mutex<Buckets>` that every recording thread takes, so two
//! threads recording one call site's duration bounce that lock's cache line between cores on
//! every call. Here each point is split into stripes, one cache-line-aligned block per stripe,
//! and a thread records into the stripe of its own index (threads are numbered on first use):
//! with no more threads than stripes, no two threads write the same line. Every word is an
//! atomic, so threads that do share a stripe stay exact, only slower.
//!
//! A stripe holds the bucket counts, the sum (f64 bits, added with a compare-and-swap), and the
//! minimum and maximum. Catalog values are finite and never negative, and for those the order of
//! the f64 bit patterns is the order of the numbers, so minimum and maximum are integer
//! `fetch_min`/`fetch_max`, tried only when a value would change them. A snapshot sums the
//! stripes; its count is the sum of its bucket counts, so the two can never disagree.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use contextd_metrics_catalog::InstrumentSpec;
use opentelemetry::KeyValue;

/// Words per cache-line pair: stripes start on 128-byte boundaries, because x86 prefetches
/// lines in pairs and a neighbour's writes on the adjacent line would still be felt.
const LINE_WORDS: usize = 16;

/// The leading words of a stripe, before its bucket counts.
const SUM: usize = 0;
const MIN: usize = 1;
const MAX: usize = 2;
const BUCKETS: usize = 3;

/// `f64::INFINITY`'s bits: the minimum of a stripe that has recorded nothing.
const EMPTY_MIN: u64 = 0x7ff0_0000_0000_0000;

/// Stripes per point: enough for every core to write its own; at least two, at most 16 (a
/// point's memory grows with the count).
fn stripe_count() -> usize {
    static STRIPES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *STRIPES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(2, std::num::NonZero::get)
            .clamp(2, 16)
            .next_power_of_two()
    })
}

/// This thread's number: the lowest not held by a live thread, taken on its first recording
/// and given back when it exits, so that threads alive together record into different stripes
/// (numbering by a counter would let a short-lived thread land on a long-lived one's stripe).
fn thread_index() -> usize {
    thread_local! {
        static INDEX: ThreadIndex = ThreadIndex::take();
    }
    INDEX.try_with(|index| index.0).unwrap_or(0)
}

/// Thread numbers in use: the count ever given out, and the freed ones below it.
static THREAD_INDEXES: std::sync::Mutex<(usize, Vec<usize>)> = std::sync::Mutex::new((0, Vec::new()));

struct ThreadIndex(usize);

impl ThreadIndex {
    fn take() -> Self {
        let mut indexes = THREAD_INDEXES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (issued, free) = &mut *indexes;
        let lowest = free.iter().enumerate().min_by_key(|(_, index)| **index).map(|(at, _)| at);
        Self(match lowest {
            Some(at) => free.swap_remove(at),
            None => {
                *issued += 1;
                *issued - 1
            }
        })
    }
}

impl Drop for ThreadIndex {
    fn drop(&mut self) {
        let mut indexes = THREAD_INDEXES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        indexes.1.push(self.0);
    }
}

/// One block of 128-byte-aligned memory.
#[derive(Debug, Default)]
#[repr(C, align(128))]
struct Line([AtomicU64; LINE_WORDS]);

/// Explicit-bucket histogram data of one series, recorded from any number of threads.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds: &'static [f64],
    /// `stripes` blocks of `stride` lines each.
    lines: Box<[Line]>,
    stride: usize,
    stripe_mask: usize,
}

/// What an [`AtomicHistogram`] has recorded, summed over its stripes.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest and largest, `None` while nothing is recorded.
    pub min_max: Option<(f64, f64)>,
    /// Values per bucket: `bounds.len() + 1` counts, bucket `i` holding values `<= bounds[i]`
    /// and above the bound before it, the last holding values above every bound.
    pub bucket_counts: Vec<u64>,
}

impl AtomicHistogram {
    /// An empty histogram with these upper bucket bounds (ascending).
    pub fn new(bounds: &'static [f64]) -> Self {
        let stripes = stripe_count();
        let stride = (BUCKETS + bounds.len() + 1).div_ceil(LINE_WORDS);
        let lines: Box<[Line]> = (0..stripes * stride).map(|_| Line::default()).collect();
        let histogram = Self { bounds, lines, stride, stripe_mask: stripes - 1 };
        for stripe in 0..stripes {
            histogram.word(stripe, MIN).store(EMPTY_MIN, Ordering::Relaxed);
        }
        histogram
    }

    /// The upper bucket bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    #[inline]
    fn word(&self, stripe: usize, word: usize) -> &AtomicU64 {
        let line = stripe * self.stride + word / LINE_WORDS;
        &self.lines[line].0[word % LINE_WORDS]
    }

    /// Records `value`, which the caller has checked to be finite and not negative.
    #[inline]
    pub fn record(&self, value: f64) {
        // -0.0 passes `>= 0.0` but its bits would sort above every positive number.
        let value = value + 0.0;
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        let stripe = thread_index() & self.stripe_mask;
        self.word(stripe, BUCKETS + bucket).fetch_add(1, Ordering::Relaxed);
        let sum = self.word(stripe, SUM);
        let mut current = sum.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + value).to_bits();
            match sum.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let bits = value.to_bits();
        let min = self.word(stripe, MIN);
        if bits < min.load(Ordering::Relaxed) {
            min.fetch_min(bits, Ordering::Relaxed);
        }
        let max = self.word(stripe, MAX);
        if bits > max.load(Ordering::Relaxed) {
            max.fetch_max(bits, Ordering::Relaxed);
        }
    }

    /// What has been recorded so far.
    pub fn snapshot(&self) -> HistogramSnapshot {
        self.read(|word| word.load(Ordering::Relaxed), |word, _| word.load(Ordering::Relaxed))
    }

    /// What has been recorded since the last `take` (or since creation), starting afresh: for
    /// delta temporality. A value recorded while this runs lands wholly in this snapshot or the
    /// next one for its bucket and sum (each word is swapped atomically); its minimum or maximum
    /// may land in the other.
    pub fn take(&self) -> HistogramSnapshot {
        self.read(|word| word.swap(0, Ordering::Relaxed), |word, empty| word.swap(empty, Ordering::Relaxed))
    }

    fn read(
        &self,
        count: impl Fn(&AtomicU64) -> u64,
        extreme: impl Fn(&AtomicU64, u64) -> u64,
    ) -> HistogramSnapshot {
        let mut snapshot = HistogramSnapshot {
            count: 0,
            sum: 0.0,
            min_max: None,
            bucket_counts: vec![0; self.bounds.len() + 1],
        };
        let (mut min, mut max) = (EMPTY_MIN, 0);
        for stripe in 0..=self.stripe_mask {
            let mut recorded = 0;
            for (bucket, total) in snapshot.bucket_counts.iter_mut().enumerate() {
                let n = count(self.word(stripe, BUCKETS + bucket));
                *total += n;
                recorded += n;
            }
            snapshot.sum += f64::from_bits(count(self.word(stripe, SUM)));
            min = min.min(extreme(self.word(stripe, MIN), EMPTY_MIN));
            max = max.max(extreme(self.word(stripe, MAX), 0));
            snapshot.count += recorded;
        }
        if snapshot.count > 0 {
            snapshot.min_max = Some((f64::from_bits(min), f64::from_bits(max)));
        }
        snapshot
    }

    /// Bytes this histogram holds, for memory accounting.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.lines)
    }
}

/// The series a process has recorded past its cardinality limit go to one series with this
/// attribute, as the SDK does.
pub const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// Series per instrument before further attribute sets share the overflow series (the SDK's
/// default stream limit, overflow series included).
pub const CARDINALITY_LIMIT: usize = 2000;

/// One series: an instrument's attribute set (sorted by key, as the SDK exports them) and its data.
#[derive(Debug)]
pub struct HistogramSeries {
    /// The attributes, sorted by key.
    pub attributes: Box<[KeyValue]>,
    /// What it has recorded.
    pub data: AtomicHistogram,
}

/// The series of one catalog histogram.
#[derive(Debug)]
pub struct HistogramFamily {
    /// Its catalog entry.
    pub spec: &'static InstrumentSpec,
    /// When it was created: the start of its cumulative series.
    pub started: SystemTime,
    /// By attribute set, as given and as sorted (both lead to the same series).
    by_attributes: RwLock<HashMap<Box<[KeyValue]>, Arc<HistogramSeries>>>,
    /// Each series once, in creation order.
    series: Mutex<Vec<Arc<HistogramSeries>>>,
}

impl HistogramFamily {
    fn new(spec: &'static InstrumentSpec) -> Self {
        Self { spec, started: SystemTime::now(), by_attributes: RwLock::default(), series: Mutex::default() }
    }

    /// The series of `attributes`, created on first use; past [`CARDINALITY_LIMIT`] series the
    /// overflow series.
    pub fn series(&self, attributes: &[KeyValue]) -> Arc<HistogramSeries> {
        if let Some(found) = self.by_attributes.read().unwrap_or_else(PoisonError::into_inner).get(attributes)
        {
            return found.clone();
        }
        self.create(attributes)
    }

    #[cold]
    fn create(&self, attributes: &[KeyValue]) -> Arc<HistogramSeries> {
        let mut sorted = attributes.to_vec();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        sorted.dedup_by(|later, earlier| later.key == earlier.key);
        let mut by_attributes = self.by_attributes.write().unwrap_or_else(PoisonError::into_inner);
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let found = match by_attributes.get(sorted.as_slice()) {
            Some(found) => found.clone(),
            None => {
                let overflow: Box<[KeyValue]> = Box::new([KeyValue::new(OVERFLOW_KEY, true)]);
                let key: Box<[KeyValue]> =
                    if series.len() + 1 >= CARDINALITY_LIMIT { overflow } else { sorted.into() };
                if let Some(found) = by_attributes.get(&key) {
                    return found.clone();
                }
                let created = Arc::new(HistogramSeries {
                    attributes: key.clone(),
                    data: AtomicHistogram::new(self.spec.buckets.unwrap_or_default()),
                });
                by_attributes.insert(key, created.clone());
                series.push(created.clone());
                created
            }
        };
        // The order a caller gave, as a second key; never for the overflow series, whose
        // callers bring unboundedly many attribute sets.
        if found.attributes.first().is_none_or(|kv| kv.key.as_str() != OVERFLOW_KEY) {
            by_attributes.insert(attributes.into(), found.clone());
        }
        found
    }

    /// Every series, in creation order.
    pub fn all_series(&self) -> Vec<Arc<HistogramSeries>> {
        self.series.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The striped histograms of one telemetry pipeline: `contextd_telemetry` creates one, binds the
/// catalog's handles to it, and merges its series into every export.
#[derive(Debug, Default)]
pub struct HistogramStore {
    families: Mutex<Vec<Arc<HistogramFamily>>>,
}

impl HistogramStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The family of a catalog histogram, created on first use (one per instrument name).
    pub fn family(&self, spec: &'static InstrumentSpec) -> Arc<HistogramFamily> {
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = families.iter().find(|f| f.spec.name == spec.name) {
            return found.clone();
        }
        let created = Arc::new(HistogramFamily::new(spec));
        families.push(created.clone());
        created
    }

    /// Every family, in creation order.
    pub fn families(&self) -> Vec<Arc<HistogramFamily>> {
        self.families.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static BOUNDS: &[f64] = &[0.5, 1.0, 2.0, 4.0];

    #[test]
    fn values_land_in_the_bucket_of_the_first_bound_they_do_not_exceed() {
        let histogram = AtomicHistogram::new(BOUNDS);
        for value in [0.0, 0.5, 0.75, 1.0, 3.0, 4.0, 4.5, 100.0, -0.0] {
            histogram.record(value);
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.bucket_counts, vec![3, 2, 0, 2, 2]);
        assert_eq!(snapshot.count, 9);
        assert_eq!(snapshot.sum, 113.75);
        assert_eq!(snapshot.min_max, Some((0.0, 100.0)));
        assert_eq!(snapshot.min_max.map(|(min, _)| min.is_sign_positive()), Some(true));
    }

    #[test]
    fn an_empty_histogram_has_no_extremes() {
        let snapshot = AtomicHistogram::new(BOUNDS).snapshot();
        assert_eq!(
            snapshot,
            HistogramSnapshot { count: 0, sum: 0.0, min_max: None, bucket_counts: vec![0; 5] }
        );
    }

    #[test]
    fn take_starts_afresh() {
        let histogram = AtomicHistogram::new(BOUNDS);
        histogram.record(3.0);
        histogram.record(1.0);
        let first = histogram.take();
        assert_eq!((first.count, first.sum, first.min_max), (2, 4.0, Some((1.0, 3.0))));
        histogram.record(0.25);
        let second = histogram.take();
        assert_eq!((second.count, second.sum, second.min_max), (1, 0.25, Some((0.25, 0.25))));
        assert_eq!(histogram.take().min_max, None);
    }

    #[test]
    fn many_buckets_span_several_lines() {
        static MANY: &[f64] = &[
            1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0,
            18.0, 19.0, 20.0,
        ];
        let histogram = AtomicHistogram::new(MANY);
        for value in 0..=21 {
            histogram.record(f64::from(value));
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.bucket_counts.len(), 21);
        assert_eq!(snapshot.bucket_counts[0], 2);
        assert!(snapshot.bucket_counts[1..20].iter().all(|n| *n == 1));
        assert_eq!(snapshot.bucket_counts[20], 1);
        assert_eq!(snapshot.count, 22);
    }

    /// 2 threads × 10⁶ values, each a multiple of 1/8 below 64 (exact in binary, and so is every
    /// partial sum), with a snapshot taken every millisecond while they record.
    #[test]
    fn exact_under_concurrent_recording_and_collection() {
        const PER_THREAD: u64 = 1_000_000;
        static DURATIONS: &[f64] = &[0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0];
        let value = |thread: u64, i: u64| ((i * 7 + thread * 3) % 512) as f64 / 8.0;
        let histogram = AtomicHistogram::new(DURATIONS);
        let done = std::sync::atomic::AtomicBool::new(false);
        let snapshots = std::thread::scope(|scope| {
            let collector = scope.spawn(|| {
                let mut snapshots = 0;
                let mut last = 0;
                while !done.load(Ordering::Relaxed) {
                    let snapshot = histogram.snapshot();
                    assert_eq!(snapshot.count, snapshot.bucket_counts.iter().sum::<u64>());
                    assert!(snapshot.count >= last, "a cumulative count went back");
                    last = snapshot.count;
                    snapshots += 1;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                snapshots
            });
            let writers: Vec<_> = (0..2)
                .map(|thread| {
                    let histogram = &histogram;
                    scope.spawn(move || (0..PER_THREAD).for_each(|i| histogram.record(value(thread, i))))
                })
                .collect();
            writers.into_iter().for_each(|w| w.join().unwrap());
            done.store(true, Ordering::Relaxed);
            collector.join().unwrap()
        });
        let all: Vec<f64> = (0..2).flat_map(|t| (0..PER_THREAD).map(move |i| value(t, i))).collect();
        let snapshot = histogram.snapshot();
        assert!(snapshots > 1, "the collector ran {snapshots} times");
        assert_eq!(snapshot.count, 2 * PER_THREAD);
        assert_eq!(snapshot.sum, all.iter().sum::<f64>());
        let min = all.iter().copied().fold(f64::INFINITY, f64::min);
        let max = all.iter().copied().fold(0.0, f64::max);
        assert_eq!(snapshot.min_max, Some((min, max)));
        for (bucket, count) in snapshot.bucket_counts.iter().enumerate() {
            let low = if bucket == 0 { f64::NEG_INFINITY } else { DURATIONS[bucket - 1] };
            let high = DURATIONS.get(bucket).copied().unwrap_or(f64::INFINITY);
            let expected = all.iter().filter(|v| **v > low && **v <= high).count() as u64;
            assert_eq!(*count, expected, "bucket {bucket}");
        }
    }
}

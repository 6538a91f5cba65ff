//! Explicit-bucket histograms in stripes.
//!
//! A stripe holds the bucket counts, the sum (f64 bits), and the minimum and maximum. Catalog
//! values are finite and never negative, and for those the order of the f64 bit patterns is the
//! order of the numbers, so minimum and maximum compare as integers, and are written only when a
//! value would change them. A snapshot sums the stripes; its count is the sum of its bucket
//! counts, so the two can never disagree.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{LINE_WORDS, Line, Stripes, Writer, stripe_count};

/// The leading words of a stripe, before its bucket counts.
const SUM: usize = 0;
const MIN: usize = 1;
const MAX: usize = 2;
const BUCKETS: usize = 3;

/// `f64::INFINITY`'s bits: the minimum of a stripe that has recorded nothing.
const EMPTY_MIN: u64 = 0x7ff0_0000_0000_0000;

/// Explicit-bucket histogram data of one series, recorded from any number of threads.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds: &'static [f64],
    /// `owned + 1` stripes, each of as many lines as its words need.
    stripes: Stripes,
    owned: usize,
    /// Written atomically everywhere, so that [`take`](Self::take) may reset it.
    resettable: bool,
}

/// The count, sum and extremes of a snapshot whose bucket counts went to a caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramTotals {
    /// Values recorded: the sum of the bucket counts.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest and largest, `None` while nothing is recorded.
    pub min_max: Option<(f64, f64)>,
}

impl HistogramSnapshot {
    fn from_parts(totals: HistogramTotals, bucket_counts: Vec<u64>) -> Self {
        Self { count: totals.count, sum: totals.sum, min_max: totals.min_max, bucket_counts }
    }
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
    /// An empty histogram with these upper bucket bounds (ascending), for cumulative collection:
    /// each thread writes its own stripe with plain stores.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self::build(bounds, false)
    }

    /// An empty histogram that [`take`](Self::take) can reset, for delta collection: every write
    /// is an atomic read-modify-write.
    pub fn resettable(bounds: &'static [f64]) -> Self {
        Self::build(bounds, true)
    }

    fn build(bounds: &'static [f64], resettable: bool) -> Self {
        let owned = stripe_count();
        let lines = (BUCKETS + bounds.len() + 1).div_ceil(LINE_WORDS);
        Self { bounds, stripes: Stripes::new(owned + 1, lines), owned, resettable }
    }

    /// The upper bucket bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Records `value`, which the caller has checked to be finite and not negative.
    #[inline]
    pub fn record(&self, value: f64) {
        // -0.0 passes `>= 0.0` but its bits would sort above every positive number.
        let value = value + 0.0;
        let bucket = bucket_of(self.bounds, value);
        let writer = Writer::for_point(self.owned, self.resettable);
        let stripe = self.stripes.get(writer.stripe, empty_stripe);
        writer.add(word(stripe, BUCKETS + bucket), 1);
        writer.add_f64(word(stripe, SUM), value);
        writer.lower(word(stripe, MIN), value.to_bits());
        writer.raise(word(stripe, MAX), value.to_bits());
    }

    /// What has been recorded so far.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut buckets = Vec::with_capacity(self.bounds.len() + 1);
        let totals = self.snapshot_into(&mut buckets);
        HistogramSnapshot::from_parts(totals, buckets)
    }

    /// What has been recorded so far, its bucket counts appended to `buckets` (one buffer can
    /// hold the snapshots of many histograms: collecting thousands of series then allocates
    /// nothing per series).
    pub fn snapshot_into(&self, buckets: &mut Vec<u64>) -> HistogramTotals {
        self.read(|word| word.load(Ordering::Relaxed), |word, _| word.load(Ordering::Relaxed), buckets)
    }

    /// What has been recorded since the last `take` (or since creation), starting afresh: for
    /// delta temporality; `None` unless the histogram is [`resettable`](Self::resettable). A
    /// value recorded while this runs lands in this snapshot or the next for its bucket and sum
    /// (each word is swapped atomically); its minimum or maximum may land in the other.
    pub fn take(&self) -> Option<HistogramSnapshot> {
        let mut buckets = Vec::with_capacity(self.bounds.len() + 1);
        let totals = self.take_into(&mut buckets)?;
        Some(HistogramSnapshot::from_parts(totals, buckets))
    }

    /// [`take`](Self::take), its bucket counts appended to `buckets`.
    pub fn take_into(&self, buckets: &mut Vec<u64>) -> Option<HistogramTotals> {
        self.resettable.then(|| {
            self.read(
                |word| word.swap(0, Ordering::Relaxed),
                |word, empty| word.swap(empty, Ordering::Relaxed),
                buckets,
            )
        })
    }

    fn read(
        &self,
        count: impl Fn(&AtomicU64) -> u64,
        extreme: impl Fn(&AtomicU64, u64) -> u64,
        buckets: &mut Vec<u64>,
    ) -> HistogramTotals {
        let at = buckets.len();
        buckets.resize(at + self.bounds.len() + 1, 0);
        let counts = &mut buckets[at..];
        let mut totals = HistogramTotals { count: 0, sum: 0.0, min_max: None };
        let (mut min, mut max) = (EMPTY_MIN, 0);
        for stripe in self.stripes.written() {
            // Bucket counts line by line, each line's words in order (no index arithmetic per
            // word): the first line's start after the sum and extremes.
            let mut recorded = 0;
            let mut rest = &mut *counts;
            for (at, line) in stripe.iter().enumerate() {
                let words = if at == 0 { &line.0[BUCKETS..] } else { &line.0[..] };
                let (here, later) = rest.split_at_mut(words.len().min(rest.len()));
                for (total, word) in here.iter_mut().zip(words) {
                    let n = count(word);
                    *total += n;
                    recorded += n;
                }
                rest = later;
            }
            totals.sum += f64::from_bits(count(word(stripe, SUM)));
            min = min.min(extreme(word(stripe, MIN), EMPTY_MIN));
            max = max.max(extreme(word(stripe, MAX), 0));
            totals.count += recorded;
        }
        if totals.count > 0 {
            totals.min_max = Some((f64::from_bits(min), f64::from_bits(max)));
        }
        totals
    }
}

/// Word `word` of a stripe.
#[inline]
fn word(stripe: &[Line], word: usize) -> &AtomicU64 {
    &stripe[word / LINE_WORDS].0[word % LINE_WORDS]
}

/// A new stripe: no values, so a minimum above any value.
fn empty_stripe(stripe: &[Line]) {
    word(stripe, MIN).store(EMPTY_MIN, Ordering::Relaxed);
}

/// The bucket of `value`: the number of bounds below it. Counted without branches over short
/// bound lists (the compiler vectorises the comparisons), searched over long ones.
#[inline]
fn bucket_of(bounds: &[f64], value: f64) -> usize {
    if bounds.len() <= 32 {
        bounds.iter().map(|bound| usize::from(*bound < value)).sum()
    } else {
        bounds.partition_point(|bound| *bound < value)
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
        assert_eq!(AtomicHistogram::new(BOUNDS).take(), None, "only a resettable histogram resets");
        let histogram = AtomicHistogram::resettable(BOUNDS);
        histogram.record(3.0);
        histogram.record(1.0);
        let first = histogram.take().unwrap();
        assert_eq!((first.count, first.sum, first.min_max), (2, 4.0, Some((1.0, 3.0))));
        histogram.record(0.25);
        let second = histogram.take().unwrap();
        assert_eq!((second.count, second.sum, second.min_max), (1, 0.25, Some((0.25, 0.25))));
        assert_eq!(histogram.take().unwrap().min_max, None);
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
        exact_with_writers(2, 1_000_000);
    }

    /// More writers than owned stripes: some share the shared stripe, atomically.
    #[test]
    fn exact_with_more_threads_than_stripes() {
        exact_with_writers(2 * super::stripe_count() as u64 + 1, 200_000);
    }

    fn exact_with_writers(writers: u64, per_thread: u64) {
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
            let writers: Vec<_> = (0..writers)
                .map(|thread| {
                    let histogram = &histogram;
                    scope.spawn(move || (0..per_thread).for_each(|i| histogram.record(value(thread, i))))
                })
                .collect();
            writers.into_iter().for_each(|w| w.join().unwrap());
            done.store(true, Ordering::Relaxed);
            collector.join().unwrap()
        });
        let all: Vec<f64> = (0..writers).flat_map(|t| (0..per_thread).map(move |i| value(t, i))).collect();
        let snapshot = histogram.snapshot();
        assert!(snapshots > 1, "the collector ran {snapshots} times");
        assert_eq!(snapshot.count, writers * per_thread);
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

    /// Delta collection: the values taken every millisecond while 2 threads record add up to
    /// exactly what was recorded, bucket by bucket.
    #[test]
    fn takes_during_recording_lose_and_repeat_nothing() {
        const PER_THREAD: u64 = 1_000_000;
        static BOUNDS: &[f64] = &[1.0, 8.0, 32.0];
        let value = |i: u64| (i % 512) as f64 / 8.0;
        let histogram = AtomicHistogram::resettable(BOUNDS);
        let done = std::sync::atomic::AtomicBool::new(false);
        let (mut count, mut sum, mut buckets) = (0, 0.0, vec![0; BOUNDS.len() + 1]);
        let mut add = |taken: HistogramSnapshot| {
            assert_eq!(taken.count, taken.bucket_counts.iter().sum::<u64>());
            count += taken.count;
            sum += taken.sum;
            buckets.iter_mut().zip(&taken.bucket_counts).for_each(|(total, n)| *total += n);
        };
        std::thread::scope(|scope| {
            let writers: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| (0..PER_THREAD).for_each(|i| histogram.record(value(i)))))
                .collect();
            scope.spawn(|| {
                writers.into_iter().for_each(|w| w.join().unwrap());
                done.store(true, Ordering::Relaxed);
            });
            while !done.load(Ordering::Relaxed) {
                add(histogram.take().unwrap());
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
        add(histogram.take().unwrap());
        let all: Vec<f64> = (0..2).flat_map(|_| (0..PER_THREAD).map(value)).collect();
        assert_eq!(count, 2 * PER_THREAD);
        assert_eq!(sum, all.iter().sum::<f64>());
        assert_eq!(buckets[0], all.iter().filter(|v| **v <= 1.0).count() as u64);
        assert_eq!(buckets[3], all.iter().filter(|v| **v > 32.0).count() as u64);
    }
}

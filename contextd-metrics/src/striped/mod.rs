//! Aggregation that many threads record into without sharing a cache line.
//!
//! The SDK's histogram point is a `Mutex<Buckets>` that every recording thread takes, and its
//! counter point one atomic (plus an "updated" flag stored on every call): two threads recording
//! one call site bounce those cache lines between cores on every call. Here each point is split
//! into stripes, one cache-line-aligned block per stripe, and a thread records into the stripe
//! of its own number (the lowest not held by a live thread), which no other thread writes: so
//! it writes with plain stores, no locked instruction at all. Threads numbered past the owned
//! stripes share one more stripe, written with atomic read-modify-writes. Points that a delta
//! exporter resets write every stripe atomically instead (a reset must not race a plain store).
//!
//! `contextd_telemetry` creates a [`SeriesStore`] per pipeline, binds the catalog's handles to it
//! and merges its series into every export, next to what the SDK collected.

mod counter;
mod histogram;
mod store;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub use counter::AtomicCounter;
pub use histogram::{AtomicHistogram, HistogramSnapshot, HistogramTotals};
pub use store::{Aggregation, CARDINALITY_LIMIT, Family, OVERFLOW_KEY, Series, SeriesStore};

/// Words per cache-line pair: stripes start on 128-byte boundaries, because x86 prefetches
/// lines in pairs and a neighbour's writes on the adjacent line would still be felt.
pub(crate) const LINE_WORDS: usize = 16;

/// Owned stripes per point: enough for every core to write its own; at least two, at most 16
/// (a point's memory grows with the count). A point has one shared stripe more.
pub(crate) fn stripe_count() -> usize {
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
#[inline]
pub(crate) fn thread_index() -> usize {
    let index = INDEX.get();
    if index != UNNUMBERED { index } else { number_this_thread() }
}

const UNNUMBERED: usize = usize::MAX;
/// The number of a thread that holds none (it is exiting): it writes the shared stripe.
const SHARING: usize = usize::MAX - 1;

thread_local! {
    /// A plain cell, read on every recording (one thread-local load).
    static INDEX: std::cell::Cell<usize> = const { std::cell::Cell::new(UNNUMBERED) };
    /// Owns the number, to give it back when the thread exits.
    static HELD: std::cell::RefCell<Option<ThreadIndex>> = const { std::cell::RefCell::new(None) };
}

#[cold]
fn number_this_thread() -> usize {
    let taken = ThreadIndex::take();
    let index = taken.0;
    // During thread exit `HELD` may be gone: then the number cannot be held, and is not used.
    let index = match HELD.try_with(|held| *held.borrow_mut() = Some(taken)) {
        Ok(()) => index,
        Err(_) => SHARING,
    };
    INDEX.set(index);
    index
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
        // Recordings from later destructors of this thread must not write a stripe that the
        // number's next holder owns.
        let _ = INDEX.try_with(|index| index.set(SHARING));
        let mut indexes = THREAD_INDEXES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        indexes.1.push(self.0);
    }
}

/// One block of 128-byte-aligned memory.
#[derive(Debug, Default)]
#[repr(C, align(128))]
pub(crate) struct Line(pub(crate) [AtomicU64; LINE_WORDS]);

/// A point's stripes of `lines` lines each, every one allocated by the first write to it: a
/// series written by one thread holds one stripe, not one per core (at 16 cores a histogram
/// series would otherwise hold 17 stripes, over 4 KiB), and a collection reads only the
/// stripes that exist (at 10 000 series, reading untouched stripes was most of an export's
/// cache misses).
#[derive(Debug)]
pub(crate) struct Stripes {
    stripes: Box<[OnceLock<Box<[Line]>>]>,
    lines: usize,
    /// A bit per allocated stripe, set before the stripe is published: a collection that reads
    /// the bit before the stripe exists skips a stripe that holds nothing yet.
    allocated: StripeSet,
}

impl Stripes {
    /// `count` stripes of `lines` lines, none allocated.
    pub(crate) fn new(count: usize, lines: usize) -> Self {
        Self {
            stripes: (0..count).map(|_| OnceLock::new()).collect(),
            lines,
            allocated: StripeSet::default(),
        }
    }

    /// Stripe `stripe`, allocated and passed to `init` on its first use.
    #[inline]
    pub(crate) fn get(&self, stripe: usize, init: fn(&[Line])) -> &[Line] {
        self.stripes[stripe].get_or_init(|| self.allocate(stripe, init))
    }

    #[cold]
    #[inline(never)]
    fn allocate(&self, stripe: usize, init: fn(&[Line])) -> Box<[Line]> {
        let lines: Box<[Line]> = (0..self.lines).map(|_| Line::default()).collect();
        init(&lines);
        self.allocated.mark(stripe);
        lines
    }

    /// The allocated stripes, in order.
    pub(crate) fn written(&self) -> impl Iterator<Item = &[Line]> {
        self.allocated.stripes().filter_map(|stripe| self.stripes[stripe].get().map(|lines| &**lines))
    }
}

/// A set of stripe numbers.
#[derive(Debug, Default)]
struct StripeSet(AtomicU64);

impl StripeSet {
    fn mark(&self, stripe: usize) {
        self.0.fetch_or(1 << stripe, Ordering::Relaxed);
    }

    /// The marked stripes, in order.
    fn stripes(&self) -> impl Iterator<Item = usize> {
        let mut mask = self.0.load(Ordering::Relaxed);
        std::iter::from_fn(move || {
            let stripe = mask.trailing_zeros() as usize;
            (mask != 0).then(|| {
                mask &= mask - 1;
                stripe
            })
        })
    }
}

/// How the calling thread writes one point: which stripe, and whether it owns it.
#[derive(Clone, Copy)]
pub(crate) struct Writer {
    pub(crate) stripe: usize,
    own: bool,
}

impl Writer {
    /// The stripe of this thread in a point with `owned` owned stripes (a power of two) and the
    /// shared one after them; `resettable` points are written atomically everywhere.
    #[inline]
    pub(crate) fn for_point(owned: usize, resettable: bool) -> Self {
        let index = thread_index();
        if resettable {
            Self { stripe: index & (owned - 1), own: false }
        } else if index < owned {
            Self { stripe: index, own: true }
        } else {
            Self { stripe: owned, own: false }
        }
    }

    #[inline]
    pub(crate) fn add(self, word: &AtomicU64, n: u64) {
        if self.own {
            word.store(word.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
        } else {
            word.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds a float kept as its bits.
    #[inline]
    pub(crate) fn add_f64(self, word: &AtomicU64, x: f64) {
        let mut current = word.load(Ordering::Relaxed);
        if self.own {
            word.store((f64::from_bits(current) + x).to_bits(), Ordering::Relaxed);
            return;
        }
        loop {
            let next = (f64::from_bits(current) + x).to_bits();
            match word.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// Lowers the word to `bits` if it is above.
    #[inline]
    pub(crate) fn lower(self, word: &AtomicU64, bits: u64) {
        if bits < word.load(Ordering::Relaxed) {
            if self.own {
                word.store(bits, Ordering::Relaxed);
            } else {
                word.fetch_min(bits, Ordering::Relaxed);
            }
        }
    }

    /// Raises the word to `bits` if it is below.
    #[inline]
    pub(crate) fn raise(self, word: &AtomicU64, bits: u64) {
        if bits > word.load(Ordering::Relaxed) {
            if self.own {
                word.store(bits, Ordering::Relaxed);
            } else {
                word.fetch_max(bits, Ordering::Relaxed);
            }
        }
    }
}

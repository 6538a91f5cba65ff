//! Aggregation that many threads record into without sharing a cache line.
//!
//! The SDK's histogram point is a `Mutex<Buckets>` that every recording thread takes, and its
//! counter point one atomic (plus an "updated" flag stored on every call): two threads recording
//! one call site bounce those cache lines between cores on every call. Here each point is split
//! into stripes, one cache-line-aligned block per stripe, and a thread records into the stripe
//! of its own number (the lowest not held by a live thread): with no more threads than stripes,
//! no two threads write the same line. Every word is an atomic, so threads that do share a
//! stripe stay exact, only slower.
//!
//! `contextd_telemetry` creates a [`SeriesStore`] per pipeline, binds the catalog's handles to it
//! and merges its series into every export, next to what the SDK collected.

mod counter;
mod histogram;
mod store;

use std::sync::atomic::AtomicU64;

pub use counter::AtomicCounter;
pub use histogram::{AtomicHistogram, HistogramSnapshot};
pub use store::{Aggregation, CARDINALITY_LIMIT, Family, OVERFLOW_KEY, Series, SeriesStore};

/// Words per cache-line pair: stripes start on 128-byte boundaries, because x86 prefetches
/// lines in pairs and a neighbour's writes on the adjacent line would still be felt.
pub(crate) const LINE_WORDS: usize = 16;

/// Stripes per point: enough for every core to write its own; at least two, at most 16 (a
/// point's memory grows with the count).
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
pub(crate) fn thread_index() -> usize {
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
pub(crate) struct Line(pub(crate) [AtomicU64; LINE_WORDS]);

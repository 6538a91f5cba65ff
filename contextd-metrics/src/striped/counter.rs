//! Monotonic sums in stripes: one word per stripe, each stripe on its own cache-line pair.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Stripes, Writer, stripe_count};

/// A monotonic sum of one series, of whole numbers (`add_u64`) or of finite non-negative floats
/// (`add_f64`, kept as f64 bits) — one or the other for the life of the counter.
#[derive(Debug)]
pub struct AtomicCounter {
    /// `owned` stripes and the shared one, of one line each.
    stripes: Stripes,
    owned: usize,
    /// Written atomically everywhere, so that the `take_*` methods may reset it.
    resettable: bool,
}

impl Default for AtomicCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl AtomicCounter {
    /// A counter for cumulative collection: each thread writes its own stripe with plain stores.
    pub fn new() -> Self {
        Self::build(false)
    }

    /// A counter that the `take_*` methods can reset, for delta collection: every write is an
    /// atomic read-modify-write.
    pub fn resettable() -> Self {
        Self::build(true)
    }

    fn build(resettable: bool) -> Self {
        let owned = stripe_count();
        Self { stripes: Stripes::new(owned + 1, 1), owned, resettable }
    }

    #[inline]
    fn writer(&self) -> (Writer, &AtomicU64) {
        let writer = Writer::for_point(self.owned, self.resettable);
        (writer, &self.stripes.get(writer.stripe, |_| {})[0].0[0])
    }

    /// Adds a whole number.
    #[inline]
    pub fn add_u64(&self, value: u64) {
        let (writer, word) = self.writer();
        writer.add(word, value);
    }

    /// Adds a float the caller has checked to be finite and not negative.
    #[inline]
    pub fn add_f64(&self, value: f64) {
        let (writer, word) = self.writer();
        writer.add_f64(word, value);
    }

    /// The whole-number total so far.
    pub fn total_u64(&self) -> u64 {
        self.words(false).sum()
    }

    /// The float total so far.
    pub fn total_f64(&self) -> f64 {
        self.words(false).map(f64::from_bits).sum()
    }

    /// The whole-number total since the last take, starting afresh; `None` unless resettable.
    pub fn take_u64(&self) -> Option<u64> {
        self.resettable.then(|| self.words(true).sum())
    }

    /// The float total since the last take, starting afresh; `None` unless resettable.
    pub fn take_f64(&self) -> Option<f64> {
        self.resettable.then(|| self.words(true).map(f64::from_bits).sum())
    }

    fn words(&self, reset: bool) -> impl Iterator<Item = u64> + '_ {
        self.stripes.written().map(move |stripe| {
            let word = &stripe[0].0[0];
            if reset { word.swap(0, Ordering::Relaxed) } else { word.load(Ordering::Relaxed) }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_add_exactly() {
        for threads in [2, 2 * stripe_count() + 1] {
            let counter = AtomicCounter::new();
            let floats = AtomicCounter::new();
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(|| {
                        for _ in 0..100_000 {
                            counter.add_u64(3);
                            floats.add_f64(0.25);
                        }
                    });
                }
            });
            assert_eq!(counter.total_u64(), threads as u64 * 300_000);
            assert_eq!(floats.total_f64(), threads as f64 * 25_000.0);
            assert_eq!(counter.take_u64(), None, "only a resettable counter resets");
        }
        let counter = AtomicCounter::resettable();
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    for _ in 0..100_000 {
                        counter.add_u64(3);
                    }
                });
            }
        });
        assert_eq!(counter.take_u64(), Some(600_000));
        assert_eq!(counter.total_u64(), 0);
    }
}

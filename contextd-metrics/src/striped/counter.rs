//! Monotonic sums in stripes: one word per stripe, each stripe on its own cache-line pair.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Line, stripe_count, thread_index};

/// A monotonic sum of one series, of whole numbers (`add_u64`) or of finite non-negative floats
/// (`add_f64`, kept as f64 bits) — one or the other for the life of the counter.
#[derive(Debug)]
pub struct AtomicCounter {
    stripes: Box<[Line]>,
    stripe_mask: usize,
}

impl Default for AtomicCounter {
    fn default() -> Self {
        let stripes = stripe_count();
        Self { stripes: (0..stripes).map(|_| Line::default()).collect(), stripe_mask: stripes - 1 }
    }
}

impl AtomicCounter {
    #[inline]
    fn word(&self) -> &AtomicU64 {
        &self.stripes[thread_index() & self.stripe_mask].0[0]
    }

    /// Adds a whole number.
    #[inline]
    pub fn add_u64(&self, value: u64) {
        self.word().fetch_add(value, Ordering::Relaxed);
    }

    /// Adds a float the caller has checked to be finite and not negative.
    #[inline]
    pub fn add_f64(&self, value: f64) {
        let word = self.word();
        let mut current = word.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + value).to_bits();
            match word.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// The whole-number total so far, or since the last `take` when `reset`.
    pub fn total_u64(&self, reset: bool) -> u64 {
        self.words(reset).sum()
    }

    /// The float total so far, or since the last `take` when `reset`.
    pub fn total_f64(&self, reset: bool) -> f64 {
        self.words(reset).map(f64::from_bits).sum()
    }

    fn words(&self, reset: bool) -> impl Iterator<Item = u64> + '_ {
        self.stripes.iter().map(move |line| {
            if reset { line.0[0].swap(0, Ordering::Relaxed) } else { line.0[0].load(Ordering::Relaxed) }
        })
    }

    /// Bytes this counter holds, for memory accounting.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.stripes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_threads_add_exactly() {
        let counter = AtomicCounter::default();
        let floats = AtomicCounter::default();
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    for _ in 0..100_000 {
                        counter.add_u64(3);
                        floats.add_f64(0.25);
                    }
                });
            }
        });
        assert_eq!(counter.total_u64(false), 600_000);
        assert_eq!(floats.total_f64(false), 50_000.0);
        assert_eq!(counter.total_u64(true), 600_000);
        assert_eq!(counter.total_u64(false), 0);
    }
}

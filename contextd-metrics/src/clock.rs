//! The clock of wrapped calls.
//!
//! `quanta` reads the TSC where the CPU has an invariant one (the OS monotonic clock
//! otherwise) and scales at the end, which measured ~20 ns per start/stop pair against ~50 ns for
//! `std::time::Instant` on the reference VM (`benches/instrument_op.rs`, "clock:" rows). A
//! stop earlier than its start (TSCs of different cores out of step) counts as 0 s, never as a
//! huge or negative duration.

use std::sync::LazyLock;

static CLOCK: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);

/// A raw clock reading.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticks(u64);

#[inline]
pub(crate) fn now() -> Ticks {
    Ticks(CLOCK.raw())
}

impl Ticks {
    /// Seconds from this reading to now.
    #[inline]
    pub(crate) fn elapsed_seconds(self) -> f64 {
        CLOCK.delta_as_nanos(self.0, CLOCK.raw()) as f64 * 1e-9
    }
}

//! The clock of wrapped calls.
//!
//! `quanta` reads the TSC where the CPU has an invariant one (the OS monotonic clock
//! otherwise) and scales at the end, which measured ~20 ns per start/stop pair against ~50 ns for
//! `std::time::Instant` on the reference VM (`benches/instrument_op.rs`, "clock:" rows). A
//! stop earlier than its start (TSCs of different cores out of step) counts as 0 s, never as a
//! huge or negative duration.
//!
//! Span start times come from the same readings: the wall clock is read at most once a second
//! (an anchor pairing it with a reading) and a start is the anchor's wall time plus the ticks
//! since. Reading it per call was 8 % of a sampled wrapped call (a vDSO `clock_gettime`); the
//! cost is that a start can be off by the wall clock's adjustments within that second.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::{Duration, SystemTime};

static CLOCK: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);

/// A raw clock reading.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticks(u64);

#[inline]
pub(crate) fn now() -> Ticks {
    Ticks(CLOCK.raw())
}

impl Ticks {
    /// Nanoseconds from this reading to now, never negative. An `i64` because converting it to
    /// seconds is one instruction, where a `u64` takes several (292 years of nanoseconds fit).
    #[inline]
    pub(crate) fn elapsed_nanos(self) -> i64 {
        i64::try_from(CLOCK.delta_as_nanos(self.0, CLOCK.raw())).unwrap_or(i64::MAX)
    }
}

/// How long an anchor is used before the wall clock is read again.
const ANCHOR_LIFETIME_NANOS: u64 = 1_000_000_000;

/// The wall clock paired with a reading, behind a sequence lock: odd while being replaced.
static ANCHOR_SEQUENCE: AtomicU64 = AtomicU64::new(0);
static ANCHOR_WALL_NANOS: AtomicU64 = AtomicU64::new(0);
static ANCHOR_TICKS: AtomicU64 = AtomicU64::new(0);

/// The wall-clock time of the reading `at`.
pub(crate) fn wall_time(at: Ticks) -> SystemTime {
    let sequence = ANCHOR_SEQUENCE.load(Ordering::Acquire);
    let wall = ANCHOR_WALL_NANOS.load(Ordering::Relaxed);
    let ticks = ANCHOR_TICKS.load(Ordering::Relaxed);
    fence(Ordering::Acquire);
    let consistent = sequence.is_multiple_of(2) && ANCHOR_SEQUENCE.load(Ordering::Relaxed) == sequence;
    // `at` may precede the anchor (an anchor set by another thread since): then it is older
    // by the reverse distance.
    let since = CLOCK.delta_as_nanos(ticks, at.0);
    let before = CLOCK.delta_as_nanos(at.0, ticks);
    if !consistent || wall == 0 || since > ANCHOR_LIFETIME_NANOS {
        return reanchor(sequence, at);
    }
    let anchor = SystemTime::UNIX_EPOCH + Duration::from_nanos(wall);
    (anchor + Duration::from_nanos(since)).checked_sub(Duration::from_nanos(before)).unwrap_or(anchor)
}

#[cold]
fn reanchor(sequence: u64, at: Ticks) -> SystemTime {
    let wall = SystemTime::now();
    let ticks = CLOCK.raw();
    // One thread replaces the anchor; the others use the wall clock they just read.
    if sequence.is_multiple_of(2)
        && ANCHOR_SEQUENCE
            .compare_exchange(sequence, sequence + 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    {
        let nanos = wall.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        ANCHOR_WALL_NANOS.store(nanos, Ordering::Relaxed);
        ANCHOR_TICKS.store(ticks, Ordering::Relaxed);
        ANCHOR_SEQUENCE.store(sequence + 2, Ordering::Release);
    }
    // `at` was read just before: it is that much older than `wall`.
    wall.checked_sub(Duration::from_nanos(CLOCK.delta_as_nanos(at.0, ticks))).unwrap_or(wall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_from_ticks_follows_the_wall_clock() {
        for _ in 0..3 {
            let before = SystemTime::now();
            let at = now();
            let derived = wall_time(at);
            let after = SystemTime::now();
            // Within the readings around it, give or take the anchor's own rounding.
            let slack = Duration::from_micros(50);
            assert!(
                derived + slack >= before && derived <= after + slack,
                "{before:?} <= {derived:?} <= {after:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

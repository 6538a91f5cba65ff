//! Success rates per argument value over a rolling window, kept in process with bounded memory:
//! what an operation with a `success_rate` in its catalog entry feeds (contextd:
//! `#[instrument_op("skill", "apply", skill_id = …)]` → `contextd_skill_success_rate{skill_id}`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Slots a window is divided into; the window rolls one slot at a time.
const SLOTS: usize = 12;

/// Tracks skill apply outcomes per skill over a rolling window, for at most `capacity` skills
/// (the least recently used one is forgotten to make room).
///
/// ```
/// use std::time::Duration;
/// use contextd_metrics::SkillSuccessTracker;
///
/// let tracker = SkillSuccessTracker::new(Duration::from_secs(3600), 1000);
/// tracker.record("deploy-fix", true);
/// tracker.record("deploy-fix", false);
/// assert_eq!(tracker.rates(), vec![("deploy-fix".to_owned(), 0.5)]);
/// ```
#[derive(Debug)]
pub struct SkillSuccessTracker {
    slot: Duration,
    capacity: usize,
    origin: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    skills: HashMap<Box<str>, SkillWindow>,
    uses: u64,
}

#[derive(Debug)]
struct SkillWindow {
    last_use: u64,
    /// Per slot: the slot number it holds, successes, applications.
    slots: [(u64, u32, u32); SLOTS],
}

impl SkillSuccessTracker {
    /// A tracker over `window` (at least 12 ms) for at most `capacity` skills (at least 1).
    pub fn new(window: Duration, capacity: usize) -> Self {
        let slot = (window / SLOTS as u32).max(Duration::from_millis(1));
        Self { slot, capacity: capacity.max(1), origin: Instant::now(), inner: Mutex::default() }
    }

    /// The tracker contextd's `#[instrument_op("skill", "apply", skill_id = …)]` feeds, behind
    /// `contextd_skill_success_rate`: one hour, 1000 skills.
    pub fn global() -> &'static SkillSuccessTracker {
        Self::for_gauge(crate::contextd::instruments::SKILL_SUCCESS_RATE.name)
    }

    /// The tracker behind the success-rate gauge `gauge` (one hour, 1000 values), which the
    /// operations whose catalog entry names that gauge feed.
    pub fn for_gauge(gauge: &'static str) -> &'static SkillSuccessTracker {
        static TRACKERS: Mutex<Vec<(&'static str, &'static SkillSuccessTracker)>> = Mutex::new(Vec::new());
        let mut trackers = TRACKERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, tracker)) = trackers.iter().find(|(name, _)| *name == gauge) {
            return tracker;
        }
        let tracker: &'static SkillSuccessTracker =
            Box::leak(Box::new(SkillSuccessTracker::new(Duration::from_secs(3600), 1000)));
        trackers.push((gauge, tracker));
        tracker
    }

    fn current_slot(&self) -> u64 {
        (self.origin.elapsed().as_nanos() / self.slot.as_nanos().max(1)) as u64
    }

    /// Records one application of `skill_id`.
    pub fn record(&self, skill_id: &str, success: bool) {
        let now = self.current_slot();
        let Ok(mut inner) = self.inner.lock() else { return };
        inner.uses += 1;
        let last_use = inner.uses;
        if !inner.skills.contains_key(skill_id) && inner.skills.len() >= self.capacity {
            let oldest = inner.skills.iter().min_by_key(|(_, w)| w.last_use).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.skills.remove(&oldest);
            }
        }
        let window = inner
            .skills
            .entry(skill_id.into())
            .or_insert_with(|| SkillWindow { last_use, slots: [(u64::MAX, 0, 0); SLOTS] });
        window.last_use = last_use;
        let slot = &mut window.slots[(now % SLOTS as u64) as usize];
        if slot.0 != now {
            *slot = (now, 0, 0);
        }
        slot.1 += u32::from(success);
        slot.2 += 1;
    }

    /// `(skill_id, success rate)` for every skill applied within the window, sorted by id.
    pub fn rates(&self) -> Vec<(String, f64)> {
        let now = self.current_slot();
        let Ok(inner) = self.inner.lock() else { return Vec::new() };
        let mut rates: Vec<(String, f64)> = inner
            .skills
            .iter()
            .filter_map(|(id, window)| {
                let (successes, total) = window
                    .slots
                    .iter()
                    .filter(|(slot, _, _)| *slot != u64::MAX && now - slot < SLOTS as u64)
                    .fold((0u64, 0u64), |(s, t), (_, ok, all)| (s + u64::from(*ok), t + u64::from(*all)));
                (total > 0).then(|| (id.to_string(), successes as f64 / total as f64))
            })
            .collect();
        rates.sort_by(|a, b| a.0.cmp(&b.0));
        rates
    }

    /// How many skills are tracked now.
    pub fn tracked(&self) -> usize {
        self.inner.lock().map_or(0, |inner| inner.skills.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_skill_is_evicted_at_capacity() {
        let tracker = SkillSuccessTracker::new(Duration::from_secs(60), 2);
        tracker.record("a", true);
        tracker.record("b", false);
        tracker.record("a", true); // a is now more recent than b
        tracker.record("c", true);
        assert_eq!(tracker.tracked(), 2);
        let ids: Vec<String> = tracker.rates().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["a", "c"]);
    }

    #[test]
    fn outcomes_leave_the_window() {
        let tracker = SkillSuccessTracker::new(Duration::from_millis(120), 10);
        tracker.record("a", false);
        assert_eq!(tracker.rates(), vec![("a".to_owned(), 0.0)]);
        std::thread::sleep(Duration::from_millis(200));
        tracker.record("b", true);
        assert_eq!(tracker.rates(), vec![("b".to_owned(), 1.0)], "a's outcome is older than the window");
    }
}

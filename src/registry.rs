//! The published state: each collector's latest snapshot and health. Collectors' tasks write
//! here after every tick; exporters read consistent copies and never touch the host.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::self_metrics;
use crate::snapshot::Snapshot;

#[derive(Debug, Default)]
struct SlotState {
    snapshot: Option<Arc<Snapshot>>,
    published_at: Option<Instant>,
    last_success_unix: Option<f64>,
    last_duration: Option<Duration>,
    errors: BTreeMap<&'static str, u64>,
    up: bool,
}

#[derive(Debug)]
struct Slot {
    name: &'static str,
    interval: Duration,
    state: Mutex<SlotState>,
}

/// What the self-metrics report about one collector.
#[derive(Debug, Clone)]
pub struct Health {
    pub name: &'static str,
    pub up: bool,
    pub last_duration: Option<Duration>,
    pub last_success_unix: Option<f64>,
    pub errors: BTreeMap<&'static str, u64>,
    pub series: usize,
}

#[derive(Debug)]
pub struct Registry {
    slots: Vec<Slot>,
    stale_after: u32,
    /// Moves on every publish and failure: what `gather()` returns can only change then
    /// (or by going stale, which a failing or stuck collector also reports every tick).
    generation: AtomicU64,
}

impl Registry {
    /// One slot per collector, in the order the runner numbers them.
    pub fn new(collectors: &[(&'static str, Duration)], stale_after: u32) -> Self {
        let slots = collectors
            .iter()
            .map(|(name, interval)| Slot {
                name,
                interval: *interval,
                state: Mutex::new(SlotState::default()),
            })
            .collect();
        Self {
            slots,
            stale_after,
            generation: AtomicU64::new(0),
        }
    }

    fn state(&self, slot: usize) -> MutexGuard<'_, SlotState> {
        // A panic while holding this lock can only come from this module's own code; the
        // state stays usable.
        self.slots[slot]
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A successful collection: its snapshot replaces the previous one. Parts it skipped
    /// are counted by kind.
    pub fn publish(&self, slot: usize, snapshot: Snapshot, took: Duration) {
        let mut s = self.state(slot);
        for skipped in &snapshot.skipped {
            *s.errors.entry(skipped.kind).or_default() += 1;
        }
        s.snapshot = Some(Arc::new(snapshot));
        s.published_at = Some(Instant::now());
        s.last_success_unix = Some(unix_now());
        s.last_duration = Some(took);
        s.up = true;
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// A failed collection (error, panic, timeout): counted; the last snapshot keeps serving
    /// until it is stale.
    pub fn fail(&self, slot: usize, kind: &'static str, took: Option<Duration>) {
        let mut s = self.state(slot);
        *s.errors.entry(kind).or_default() += 1;
        if took.is_some() {
            s.last_duration = took;
        }
        s.up = false;
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Changes whenever the gathered output may have changed; exporters cache by it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Snapshots to serve now: every collector's latest one that is not stale, then the
    /// self-metrics.
    pub fn gather(&self) -> Vec<Arc<Snapshot>> {
        let now = Instant::now();
        let mut out: Vec<Arc<Snapshot>> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| {
                let s = self.state(i);
                let fresh = s
                    .published_at
                    .is_some_and(|t| now.duration_since(t) <= slot.interval * self.stale_after);
                if fresh { s.snapshot.clone() } else { None }
            })
            .collect();
        let health: Vec<Health> = (0..self.slots.len()).map(|i| self.health(i)).collect();
        out.push(Arc::new(self_metrics::snapshot(&health)));
        out
    }

    pub fn health(&self, slot: usize) -> Health {
        let s = self.state(slot);
        Health {
            name: self.slots[slot].name,
            up: s.up,
            last_duration: s.last_duration,
            last_success_unix: s.last_success_unix,
            errors: s.errors.clone(),
            series: s.snapshot.as_ref().map_or(0, |s| s.series_count()),
        }
    }

    /// True once every collector has published at least once.
    pub fn ready(&self) -> bool {
        (0..self.slots.len()).all(|i| self.state(i).published_at.is_some())
    }

    /// Names of the collectors that have not published yet.
    pub fn pending(&self) -> Vec<&'static str> {
        (0..self.slots.len())
            .filter(|i| self.state(*i).published_at.is_none())
            .map(|i| self.slots[i].name)
            .collect()
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::memory;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        s.add(&memory::LIMIT, &[], 1.0);
        s
    }

    fn has_limit(r: &Registry) -> bool {
        r.gather()
            .iter()
            .any(|s| s.family("system.memory.limit").is_some())
    }

    #[test]
    fn ready_after_every_collector_published() {
        let r = Registry::new(
            &[("a", Duration::from_secs(1)), ("b", Duration::from_secs(1))],
            3,
        );
        assert!(!r.ready());
        r.publish(0, Snapshot::default(), Duration::ZERO);
        assert_eq!(r.pending(), vec!["b"]);
        r.publish(1, Snapshot::default(), Duration::ZERO);
        assert!(r.ready());
    }

    #[test]
    fn a_failure_keeps_the_last_snapshot_until_stale() {
        let r = Registry::new(&[("memory", Duration::from_millis(20))], 3);
        r.publish(0, snapshot(), Duration::ZERO);
        r.fail(0, "timeout", None);
        assert!(has_limit(&r));
        assert_eq!(r.health(0).errors.get("timeout"), Some(&1));
        assert!(!r.health(0).up);
        std::thread::sleep(Duration::from_millis(80));
        assert!(!has_limit(&r), "stale after 3 intervals");
    }

    #[test]
    fn skipped_parts_are_counted() {
        let r = Registry::new(&[("memory", Duration::from_secs(1))], 3);
        let mut s = snapshot();
        s.skip("read", "reading /proc/vmstat: gone");
        r.publish(0, s, Duration::ZERO);
        assert_eq!(r.health(0).errors.get("read"), Some(&1));
        assert!(r.health(0).up);
    }
}

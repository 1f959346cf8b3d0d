//! The published state: each running collector's latest snapshot and health, in the
//! order the runner gives (the collector table's). Collectors' tasks write here after every tick; exporters read
//! consistent copies and never touch the host. Slots come and go as a reload enables and
//! disables collectors; a rebuilt collector keeps its slot, so its error counters go on.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error_kind::ErrorKind;
use crate::self_metrics::{self, Health, ReloadStatus};
use crate::snapshot::Snapshot;

#[derive(Debug, Default)]
struct SlotState {
    snapshot: Option<Arc<Snapshot>>,
    published_at: Option<Instant>,
    /// A first collection finished, whatever its outcome.
    attempted: bool,
    last_success_unix: Option<f64>,
    last_duration: Option<Duration>,
    errors: BTreeMap<ErrorKind, u64>,
    series_dropped: u64,
    up: bool,
}

/// One collector's place in the registry.
#[derive(Debug)]
pub struct Slot {
    name: &'static str,
    /// Where the slot sorts among the others (the collector's place in its table).
    order: usize,
    interval: Mutex<Duration>,
    state: Mutex<SlotState>,
}

impl Slot {
    fn state(&self) -> MutexGuard<'_, SlotState> {
        // A panic while holding this lock can only come from this module's own code; the
        // state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn interval(&self) -> Duration {
        *self.interval.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

pub struct Registry {
    slots: RwLock<Vec<Arc<Slot>>>,
    stale_after: AtomicU32,
    /// Moves on every publish, failure and slot change: what `gather()` returns can only
    /// change then (or by going stale, which a failing or stuck collector also reports every
    /// tick).
    generation: AtomicU64,
    reload: Mutex<ReloadStatus>,
    http: self_metrics::HttpStats,
    /// Other parts' self-metrics (the OTLP pusher's), added after the collectors'.
    sources: RwLock<Vec<Source>>,
}

/// Writes self-metrics of a part of the daemon into the self-metrics snapshot.
pub type Source = Arc<dyn Fn(&mut Snapshot) + Send + Sync>;

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("slots", &self.slots)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub fn new(stale_after: u32) -> Self {
        Self {
            slots: RwLock::new(Vec::new()),
            stale_after: AtomicU32::new(stale_after),
            generation: AtomicU64::new(0),
            reload: Mutex::new(ReloadStatus {
                successful: true,
                last_success_unix: unix_now(),
            }),
            sources: RwLock::new(Vec::new()),
            http: self_metrics::HttpStats::default(),
        }
    }

    /// Adds self-metrics from another part of the daemon, shown from the next gather on.
    pub fn add_source(&self, source: Source) {
        self.sources
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(source);
        self.bump();
    }

    /// Tells exporters that a source's numbers changed.
    pub fn touch(&self) {
        self.bump();
    }

    /// The HTTP listener's counts, for the self-metrics.
    pub fn http(&self) -> &self_metrics::HttpStats {
        &self.http
    }

    fn slots(&self) -> Vec<Arc<Slot>> {
        self.slots.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The named collector's slot, created when it has none, with its interval brought up to
    /// date. A slot that exists keeps its health and snapshot. Slots are kept sorted by
    /// `order` (the runner gives the collector's place in the `collectors!` table).
    pub fn slot(&self, name: &'static str, order: usize, interval: Duration) -> Arc<Slot> {
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.iter().find(|s| s.name == name) {
            *slot.interval.lock().unwrap_or_else(|e| e.into_inner()) = interval;
            return slot.clone();
        }
        let slot = Arc::new(Slot {
            name,
            order,
            interval: Mutex::new(interval),
            state: Mutex::new(SlotState::default()),
        });
        let at = slots
            .iter()
            .position(|s| s.order > order)
            .unwrap_or(slots.len());
        slots.insert(at, slot.clone());
        drop(slots);
        self.bump();
        slot
    }

    /// Forgets a collector that no longer runs: its series go at once.
    pub fn remove(&self, name: &str) {
        self.slots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|s| s.name != name);
        self.bump();
    }

    pub fn set_stale_after(&self, stale_after: u32) {
        self.stale_after.store(stale_after, Ordering::Relaxed);
        self.bump();
    }

    /// A successful collection: its snapshot replaces the previous one. Parts it skipped
    /// are counted by kind, series it dropped to stay within a cap by themselves.
    pub fn publish(&self, slot: &Slot, snapshot: Snapshot, took: Duration) {
        let mut s = slot.state();
        for skipped in &snapshot.skipped {
            *s.errors.entry(skipped.kind).or_default() += 1;
        }
        s.series_dropped += snapshot.dropped;
        s.snapshot = Some(Arc::new(snapshot));
        s.published_at = Some(Instant::now());
        s.attempted = true;
        s.last_success_unix = Some(unix_now());
        s.last_duration = Some(took);
        s.up = true;
        drop(s);
        self.bump();
    }

    /// A failed collection (error, panic, timeout): counted; the last snapshot keeps serving
    /// until it is stale.
    pub fn fail(&self, slot: &Slot, kind: ErrorKind, took: Option<Duration>) {
        let mut s = slot.state();
        *s.errors.entry(kind).or_default() += 1;
        if took.is_some() {
            s.last_duration = took;
        }
        s.attempted = true;
        s.up = false;
        drop(s);
        self.bump();
    }

    /// Records a config reload's outcome.
    pub fn record_reload(&self, successful: bool) {
        let mut r = self.reload.lock().unwrap_or_else(|e| e.into_inner());
        r.successful = successful;
        if successful {
            r.last_success_unix = unix_now();
        }
        drop(r);
        self.bump();
    }

    pub fn reload_status(&self) -> ReloadStatus {
        *self.reload.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes whenever the gathered output may have changed; exporters cache by it. It
    /// covers every source of `gather()`: the slots, the reload status and other parts'
    /// self-metrics bump `generation`; the HTTP counts move their own, added here (both only
    /// grow, so their sum changes when either does).
    pub fn generation(&self) -> u64 {
        self.generation
            .load(Ordering::Acquire)
            .wrapping_add(self.http.changes())
    }

    /// Snapshots to serve now: every collector's latest one that is not stale, then the
    /// self-metrics.
    pub fn gather(&self) -> Vec<Arc<Snapshot>> {
        let now = Instant::now();
        let stale_after = self.stale_after.load(Ordering::Relaxed);
        let slots = self.slots();
        let mut out: Vec<Arc<Snapshot>> = slots
            .iter()
            .filter_map(|slot| {
                let max_age = slot.interval().saturating_mul(stale_after);
                let s = slot.state();
                let fresh = s
                    .published_at
                    .is_some_and(|t| now.saturating_duration_since(t) <= max_age);
                if fresh { s.snapshot.clone() } else { None }
            })
            .collect();
        let health: Vec<Health> = slots.iter().map(|s| health(s)).collect();
        let mut own = self_metrics::snapshot(&health, self.reload_status(), &self.http);
        for source in self
            .sources
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            source(&mut own);
        }
        out.push(Arc::new(own));
        out
    }

    /// The named collector's health, if it has a slot.
    pub fn health(&self, name: &str) -> Option<Health> {
        self.slots()
            .iter()
            .find(|s| s.name == name)
            .map(|s| health(s))
    }

    /// True once every running collector has finished its first collection, succeeded or
    /// failed: a collector that keeps failing shows in `vitals_collector_up`, and must not
    /// keep a node's pod unready for ever.
    pub fn ready(&self) -> bool {
        self.pending().is_empty()
    }

    /// Names of the collectors whose first collection has not finished yet.
    pub fn pending(&self) -> Vec<&'static str> {
        self.slots()
            .iter()
            .filter(|s| !s.state().attempted)
            .map(|s| s.name)
            .collect()
    }
}

fn health(slot: &Slot) -> Health {
    let s = slot.state();
    Health {
        name: slot.name,
        up: s.up,
        last_duration: s.last_duration,
        last_success_unix: s.last_success_unix,
        errors: s.errors.clone(),
        series: s.snapshot.as_ref().map_or(0, |s| s.series_count()),
        series_dropped: s.series_dropped,
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
    fn ready_after_every_collector_attempted_once() {
        let r = Registry::new(3);
        let a = r.slot("cpu", 0, Duration::from_secs(1));
        let b = r.slot("memory", 1, Duration::from_secs(1));
        assert!(!r.ready());
        r.publish(&a, Snapshot::default(), Duration::ZERO);
        assert_eq!(r.pending(), vec!["memory"]);
        r.fail(&b, ErrorKind::Read, None);
        assert!(r.ready(), "a failed first attempt counts");
        assert!(!r.health("memory").unwrap().up);
    }

    #[test]
    fn slots_keep_table_order_and_health_across_rebuilds() {
        let r = Registry::new(3);
        r.slot("network", 9, Duration::from_secs(1));
        let cpu = r.slot("cpu", 0, Duration::from_secs(1));
        r.fail(&cpu, ErrorKind::Timeout, None);
        let names: Vec<_> = r.slots().iter().map(|s| s.name).collect();
        assert_eq!(names, ["cpu", "network"]);
        let again = r.slot("cpu", 0, Duration::from_secs(2));
        assert!(Arc::ptr_eq(&cpu, &again));
        assert_eq!(again.interval(), Duration::from_secs(2));
        assert_eq!(
            r.health("cpu").unwrap().errors.get(&ErrorKind::Timeout),
            Some(&1)
        );
        r.remove("cpu");
        assert!(r.health("cpu").is_none());
    }

    #[test]
    fn a_failure_keeps_the_last_snapshot_until_stale() {
        let r = Registry::new(3);
        let slot = r.slot("memory", 1, Duration::from_millis(20));
        r.publish(&slot, snapshot(), Duration::ZERO);
        r.fail(&slot, ErrorKind::Timeout, None);
        assert!(has_limit(&r));
        let h = r.health("memory").unwrap();
        assert_eq!(h.errors.get(&ErrorKind::Timeout), Some(&1));
        assert!(!h.up);
        std::thread::sleep(Duration::from_millis(80));
        assert!(!has_limit(&r), "stale after 3 intervals");
    }

    #[test]
    fn skipped_parts_and_dropped_series_are_counted_apart() {
        let r = Registry::new(3);
        let slot = r.slot("memory", 1, Duration::from_secs(1));
        let mut s = snapshot();
        s.skip(ErrorKind::Read, "reading /proc/vmstat: gone");
        s.drop_series(7);
        r.publish(&slot, s, Duration::ZERO);
        let h = r.health("memory").unwrap();
        assert_eq!(h.errors.get(&ErrorKind::Read), Some(&1));
        assert_eq!(h.series_dropped, 7);
        assert!(h.up);
    }

    #[test]
    fn every_source_of_gather_moves_the_generation() {
        let r = Registry::new(3);
        let slot = r.slot("memory", 1, Duration::from_secs(1));
        let mut last = r.generation();
        let mut moved = |what: &str| {
            let now = r.generation();
            assert_ne!(now, last, "{what} left the generation as it was");
            last = now;
        };
        r.publish(&slot, snapshot(), Duration::ZERO);
        moved("a publish");
        r.fail(&slot, ErrorKind::Read, None);
        moved("a failure");
        r.record_reload(false);
        moved("a reload");
        r.add_source(Arc::new(|_| {}));
        moved("a new source");
        r.touch();
        moved("a source's change");
        r.http().opened();
        moved("an HTTP connection");
        r.http().closed(self_metrics::CloseReason::Tls);
        moved("a closed connection");
        r.http().auth_failed();
        moved("an auth failure");
        r.http().ended();
        moved("a connection's end");
    }

    #[test]
    fn huge_intervals_do_not_overflow() {
        let r = Registry::new(u32::MAX);
        let slot = r.slot("memory", 1, Duration::from_secs(u64::MAX / 2));
        r.publish(&slot, snapshot(), Duration::ZERO);
        assert!(has_limit(&r));
    }
}

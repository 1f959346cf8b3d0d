//! Runs the collectors: one task per collector on its own interval, the blocking read on
//! tokio's blocking pool, a timeout per collection, and at most one collection in flight per
//! collector (a stuck one is never joined by another). Failures are counted and logged once
//! per change; they never stop the other collectors. A reload rebuilds only the collectors
//! whose config section changed ([`Runner::apply`]).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::{info, warn};

use crate::collectors::{Collector, Collectors, Context, Schedule, Scheduled};
use crate::config::Config;
use crate::error_kind::ErrorKind;
use crate::registry::{Registry, Slot};
use crate::snapshot::Snapshot;

/// The result of one collection.
pub enum Outcome {
    Collected(Snapshot, Duration),
    Failed {
        kind: ErrorKind,
        message: String,
        took: Duration,
    },
}

/// Runs one collection, turning a panic into a failure.
pub fn collect_one(collector: &mut dyn Collector) -> Outcome {
    let start = Instant::now();
    let mut snapshot = Snapshot::default();
    match catch_unwind(AssertUnwindSafe(|| collector.collect(&mut snapshot))) {
        Ok(Ok(())) => {
            snapshot.time_unix_nano = crate::snapshot::unix_nanos();
            Outcome::Collected(snapshot, start.elapsed())
        }
        Ok(Err(e)) => Outcome::Failed {
            kind: e.kind(),
            message: e.to_string(),
            took: start.elapsed(),
        },
        Err(panic) => Outcome::Failed {
            kind: ErrorKind::Panic,
            message: panic_message(&panic),
            took: start.elapsed(),
        },
    }
}

fn panic_message(panic: &Box<dyn Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned());
    format!("panicked: {}", text.unwrap_or_else(|| "no message".into()))
}

/// Logs a collector's problems when they change, not on every tick.
struct ProblemLog {
    name: &'static str,
    last: Option<String>,
}

impl ProblemLog {
    fn record(&mut self, outcome: &Outcome) {
        let now = match outcome {
            Outcome::Collected(s, _) if s.skipped.is_empty() => None,
            Outcome::Collected(s, _) => Some(
                s.skipped
                    .iter()
                    .map(|k| k.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Outcome::Failed { message, .. } => Some(message.clone()),
        };
        if now == self.last {
            return;
        }
        match (&now, outcome) {
            (None, _) => info!(collector = self.name, "collector recovered"),
            (Some(problem), Outcome::Collected(..)) => {
                warn!(collector = self.name, skipped = %problem, "collector skipped part of its data")
            }
            (Some(problem), Outcome::Failed { kind, .. }) => {
                warn!(collector = self.name, kind = kind.as_str(), error = %problem, "collection failed")
            }
        }
        self.last = now;
    }
}

/// The running collectors: one task each, built from the config's collector table, and
/// rebuilt one by one when a reload changes their section.
pub struct Runner {
    registry: Arc<Registry>,
    ctx: Context,
    collectors: Collectors,
    tasks: Vec<Running>,
}

struct Running {
    name: &'static str,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

/// What [`Runner::apply`] changed, for the reload's log line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub started: Vec<&'static str>,
    pub stopped: Vec<&'static str>,
    pub rebuilt: Vec<&'static str>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.started.is_empty() && self.stopped.is_empty() && self.rebuilt.is_empty()
    }
}

impl Runner {
    /// Starts every enabled collector of `config`.
    pub fn start(config: &Config, registry: Arc<Registry>) -> Runner {
        let mut runner = Runner {
            registry,
            ctx: config.context(),
            collectors: config.collectors.clone(),
            tasks: Vec::new(),
        };
        for s in config.collectors.build(&runner.ctx) {
            runner.spawn(s);
        }
        runner
    }

    /// Names of the running collectors, in table order.
    pub fn names(&self) -> Vec<&'static str> {
        self.tasks.iter().map(|t| t.name).collect()
    }

    fn spawn(&mut self, s: Scheduled) {
        let name = s.collector.name();
        let (stop, stop_rx) = watch::channel(false);
        let handle = tokio::spawn(Task::new(s, &self.registry).run(stop_rx));
        let at = self
            .tasks
            .iter()
            .position(|t| crate::collectors::position(t.name) > crate::collectors::position(name))
            .unwrap_or(self.tasks.len());
        self.tasks.insert(at, Running { name, stop, handle });
    }

    /// Stops the named collector's task. A collection blocked in the kernel keeps its thread
    /// until it returns; its result is dropped.
    fn halt(&mut self, name: &str) {
        if let Some(i) = self.tasks.iter().position(|t| t.name == name) {
            let t = self.tasks.remove(i);
            let _ = t.stop.send(true);
        }
    }

    /// Applies a new config: a collector whose section (and the host roots) are unchanged
    /// keeps running with its state (counter offsets, previous readings, sockets); a
    /// changed one is rebuilt; an enabled or disabled one is started or stopped, its series
    /// appearing or going.
    pub fn apply(&mut self, config: &Config) -> Changes {
        let ctx = Context {
            paths: config.host_paths(),
            statfs: self.ctx.statfs.clone(),
        };
        let new = &config.collectors;
        let mut changes = Changes::default();
        if new.stale_after != self.collectors.stale_after {
            self.registry.set_stale_after(new.stale_after);
        }
        for (name, schedule) in new.schedules() {
            let running = self.tasks.iter().any(|t| t.name == name);
            let same = ctx == self.ctx && new.same_section(&self.collectors, name);
            match (running, schedule.enabled) {
                (true, true) if same => {}
                (true, true) => {
                    self.halt(name);
                    if let Some(s) = new.build_one(name, &ctx) {
                        self.spawn(s);
                    }
                    changes.rebuilt.push(name);
                }
                (true, false) => {
                    self.halt(name);
                    self.registry.remove(name);
                    changes.stopped.push(name);
                }
                (false, true) => {
                    if let Some(s) = new.build_one(name, &ctx) {
                        self.spawn(s);
                    }
                    changes.started.push(name);
                }
                (false, false) => {}
            }
        }
        self.ctx = ctx;
        self.collectors = new.clone();
        changes
    }

    /// Stops every task and waits for them (not for collections blocked in the kernel).
    pub async fn stop(self) {
        for t in &self.tasks {
            let _ = t.stop.send(true);
        }
        for t in self.tasks {
            let _ = t.handle.await;
        }
    }
}

/// Starts one task per collector, outside a [`Runner`] (tests). They stop when `shutdown`
/// turns true.
pub fn spawn(
    scheduled: Vec<Scheduled>,
    registry: Arc<Registry>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    scheduled
        .into_iter()
        .map(|s| tokio::spawn(Task::new(s, &registry).run(shutdown.clone())))
        .collect()
}

struct Task {
    slot: Arc<Slot>,
    schedule: Schedule,
    log: ProblemLog,
    collector: Arc<Mutex<Box<dyn Collector>>>,
    registry: Arc<Registry>,
    published: bool,
}

impl Task {
    /// The task of one collector, publishing into its registry slot.
    fn new(s: Scheduled, registry: &Arc<Registry>) -> Task {
        let name = s.collector.name();
        Task {
            slot: registry.slot(name, crate::collectors::position(name), s.schedule.interval),
            schedule: s.schedule,
            log: ProblemLog { name, last: None },
            collector: Arc::new(Mutex::new(s.collector)),
            registry: registry.clone(),
            published: false,
        }
    }

    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.schedule.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut in_flight: Option<JoinHandle<Outcome>> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            if let Some(handle) = in_flight.take() {
                if !handle.is_finished() {
                    // Still blocked from a timed-out tick: do not pile up threads behind it.
                    self.registry.fail(&self.slot, ErrorKind::Timeout, None);
                    in_flight = Some(handle);
                    continue;
                }
                // It came back late: what it found (data or a failure) still counts.
                self.settle(joined(handle.await));
            }
            let collector = self.collector.clone();
            let mut handle = tokio::task::spawn_blocking(move || {
                let mut guard = collector.lock().unwrap_or_else(|e| e.into_inner());
                collect_one(guard.as_mut())
            });
            let outcome = tokio::select! {
                r = tokio::time::timeout(self.schedule.timeout, &mut handle) => match r {
                    Ok(result) => joined(result),
                    Err(_) => {
                        in_flight = Some(handle);
                        Outcome::Failed {
                            kind: ErrorKind::Timeout,
                            message: format!("no answer within {:?}; skipping ticks until it returns", self.schedule.timeout),
                            took: self.schedule.timeout,
                        }
                    }
                },
                _ = shutdown.changed() => return,
            };
            self.settle(outcome);
        }
    }

    /// Logs, counts and publishes one outcome.
    fn settle(&mut self, outcome: Outcome) {
        self.log.record(&outcome);
        match outcome {
            Outcome::Collected(snapshot, took) => {
                if !self.published {
                    self.published = true;
                    info!(
                        collector = self.log.name,
                        series = snapshot.series_count(),
                        ?took,
                        "first collection published"
                    );
                }
                self.registry.publish(&self.slot, snapshot, took)
            }
            Outcome::Failed { kind, took, .. } => self.registry.fail(&self.slot, kind, Some(took)),
        }
    }
}

fn joined(result: Result<Outcome, tokio::task::JoinError>) -> Outcome {
    result.unwrap_or_else(|join| Outcome::Failed {
        kind: ErrorKind::Panic,
        message: join.to_string(),
        took: Duration::ZERO,
    })
}

/// One collection on a thread of its own, waited for at most `timeout`. The collector comes
/// back with the outcome; a collector that did not answer in time stays with its thread.
fn collect_within(
    mut collector: Box<dyn Collector>,
    timeout: Duration,
) -> (Outcome, Option<Box<dyn Collector>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("vitals-once".into())
        .spawn(move || {
            let outcome = collect_one(collector.as_mut());
            let _ = tx.send((outcome, collector));
        });
    if let Err(e) = spawned {
        let failed = Outcome::Failed {
            kind: ErrorKind::Thread,
            message: format!("starting a collection thread: {e}"),
            took: Duration::ZERO,
        };
        return (failed, None);
    }
    match rx.recv_timeout(timeout) {
        Ok((outcome, collector)) => (outcome, Some(collector)),
        Err(_) => (
            Outcome::Failed {
                kind: ErrorKind::Timeout,
                message: format!("no answer within {timeout:?}; left behind"),
                took: timeout,
            },
            None,
        ),
    }
}

/// `vitals once`: collects each collector (twice, `pause` apart, where a metric needs two
/// readings) into a fresh registry, each collection within the collector's timeout: one
/// that does not answer is reported and skipped, so `once` always returns.
pub fn once(scheduled: Vec<Scheduled>, stale_after: u32, pause: Duration) -> Registry {
    let registry = Registry::new(stale_after);
    for s in scheduled {
        let name = s.collector.name();
        let slot = registry.slot(name, crate::collectors::position(name), s.schedule.interval);
        let mut log = ProblemLog { name, last: None };
        let mut collector = Some(s.collector);
        if collector.as_ref().is_some_and(|c| c.needs_two_readings())
            && let Some(c) = collector.take()
        {
            let (first, back) = collect_within(c, s.schedule.timeout);
            log.record(&first);
            collector = back;
            if collector.is_some() {
                std::thread::sleep(pause);
            } else if let Outcome::Failed { kind, took, .. } = first {
                registry.fail(&slot, kind, Some(took));
            }
        }
        let Some(c) = collector else { continue };
        let (outcome, _) = collect_within(c, s.schedule.timeout);
        log.record(&outcome);
        match outcome {
            Outcome::Collected(snapshot, took) => registry.publish(&slot, snapshot, took),
            Outcome::Failed { kind, took, .. } => registry.fail(&slot, kind, Some(took)),
        }
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MetricDesc;
    use crate::collectors::memory;
    use crate::host::HostError;

    struct Fake {
        name: &'static str,
        calls: Arc<Mutex<u32>>,
        behaviour: fn(u32) -> Result<(), HostError>,
        sleep: Duration,
    }

    impl Collector for Fake {
        fn name(&self) -> &'static str {
            self.name
        }
        fn catalog(&self) -> &'static [&'static MetricDesc] {
            memory::CATALOG
        }
        fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
            let n = {
                let mut c = self.calls.lock().unwrap();
                *c += 1;
                *c
            };
            std::thread::sleep(self.sleep);
            (self.behaviour)(n)?;
            out.add(&memory::LIMIT, &[], n as f64);
            Ok(())
        }
    }

    // Generous timeouts: printing a panic's backtrace in a debug build takes milliseconds.
    fn scheduled(
        name: &'static str,
        behaviour: fn(u32) -> Result<(), HostError>,
        sleep: Duration,
        calls: Arc<Mutex<u32>>,
    ) -> Scheduled {
        Scheduled {
            collector: Box::new(Fake {
                name,
                calls,
                behaviour,
                sleep,
            }),
            schedule: Schedule {
                enabled: true,
                interval: Duration::from_millis(50),
                timeout: Duration::from_millis(45),
            },
        }
    }

    async fn run_for(s: Vec<Scheduled>, d: Duration) -> Arc<Registry> {
        let registry = Arc::new(Registry::new(1000));
        let (tx, rx) = watch::channel(false);
        let tasks = spawn(s, registry.clone(), rx);
        tokio::time::sleep(d).await;
        tx.send(true).unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        registry
    }

    #[tokio::test]
    async fn a_panicking_collector_is_counted_and_others_go_on() {
        // The first collection panics (printing its backtrace may outlast the timeout on a
        // loaded machine: it is then counted when it returns); the next ones succeed.
        let good = Arc::new(Mutex::new(0));
        let s = vec![
            scheduled(
                "bad",
                |n| if n == 1 { panic!("boom") } else { Ok(()) },
                Duration::ZERO,
                Arc::new(Mutex::new(0)),
            ),
            scheduled("good", |_| Ok(()), Duration::ZERO, good.clone()),
        ];
        let registry = run_for(s, Duration::from_millis(1500)).await;
        let h = registry.health("bad").unwrap();
        assert_eq!(h.errors.get(&ErrorKind::Panic), Some(&1), "{h:?}");
        assert!(h.up, "the collector works again after its panic: {h:?}");
        assert!(*good.lock().unwrap() >= 3);
        assert!(registry.ready());
    }

    #[tokio::test]
    async fn a_late_collection_still_counts() {
        // Every collection outlives its 45 ms timeout but returns: each is counted as a
        // timeout, and what it found is published when it comes back.
        let calls = Arc::new(Mutex::new(0));
        let s = vec![scheduled(
            "slow",
            |_| Ok(()),
            Duration::from_millis(80),
            calls.clone(),
        )];
        let registry = run_for(s, Duration::from_millis(600)).await;
        let h = registry.health("slow").unwrap();
        assert!(registry.ready(), "{h:?}");
        assert!(
            h.errors.get(&ErrorKind::Timeout).copied().unwrap_or(0) >= 2,
            "{h:?}"
        );
        assert!(*calls.lock().unwrap() >= 2);
    }

    #[tokio::test]
    async fn a_stuck_collector_holds_one_thread_not_one_per_tick() {
        let calls = Arc::new(Mutex::new(0));
        let s = vec![scheduled(
            "slow",
            |_| Ok(()),
            Duration::from_millis(700),
            calls.clone(),
        )];
        let registry = run_for(s, Duration::from_millis(600)).await;
        assert_eq!(
            *calls.lock().unwrap(),
            1,
            "no second collection while the first is blocked"
        );
        assert!(
            registry
                .health("slow")
                .unwrap()
                .errors
                .get(&ErrorKind::Timeout)
                .copied()
                .unwrap_or(0)
                >= 5
        );
        // Its first attempt ended in a timeout: that counts for readiness, and it is down.
        assert!(registry.ready());
        assert!(!registry.health("slow").unwrap().up);
    }
}

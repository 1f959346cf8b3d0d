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
        let name = s.name;
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
        let name = s.name;
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
        let name = s.name;
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
    //! On tokio's paused clock: time moves only when the test advances it or when nothing
    //! is left to run, and never while a collection runs on the blocking pool, so a
    //! collection that is "slow" is one held at a gate the test opens, and every timeout
    //! and tick is counted exactly.

    use std::sync::Condvar;

    use super::*;
    use crate::collectors::memory;
    use crate::host::HostError;

    const INTERVAL: Duration = Duration::from_millis(50);
    const TIMEOUT: Duration = Duration::from_millis(45);

    /// Holds collections until opened; open, it lets every collection through.
    #[derive(Clone, Default)]
    struct Gate(Arc<(Mutex<bool>, Condvar)>);

    impl Gate {
        fn open(&self) {
            *self.0.0.lock().unwrap() = true;
            self.0.1.notify_all();
        }

        fn pass(&self) {
            let mut open = self.0.0.lock().unwrap();
            while !*open {
                open = self.0.1.wait(open).unwrap();
            }
        }
    }

    /// Collections started and finished, shared with the test.
    #[derive(Clone, Default)]
    struct Calls(Arc<Mutex<(u32, u32)>>);

    impl Calls {
        fn started(&self) -> u32 {
            self.0.lock().unwrap().0
        }

        fn finished(&self) -> u32 {
            self.0.lock().unwrap().1
        }
    }

    struct Fake {
        calls: Calls,
        behaviour: fn(u32) -> Result<(), HostError>,
        gate: Gate,
    }

    impl Collector for Fake {
        fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
            let n = {
                let mut c = self.calls.0.lock().unwrap();
                c.0 += 1;
                c.0
            };
            self.gate.pass();
            self.calls.0.lock().unwrap().1 += 1;
            (self.behaviour)(n)?;
            out.add(&memory::LIMIT, &[], n as f64);
            Ok(())
        }
    }

    fn scheduled(
        name: &'static str,
        behaviour: fn(u32) -> Result<(), HostError>,
        gate: Gate,
        calls: Calls,
    ) -> Scheduled {
        Scheduled {
            name,
            collector: Box::new(Fake {
                calls,
                behaviour,
                gate,
            }),
            schedule: Schedule {
                enabled: true,
                interval: INTERVAL,
                timeout: TIMEOUT,
            },
        }
    }

    fn open() -> Gate {
        let g = Gate::default();
        g.open();
        g
    }

    /// [`until`], with the paused clock moved on a millisecond at a time whenever `idle`
    /// (no collection thread out: one runs in real time, and the clock must not time it
    /// out): for a condition that needs a tick the runner sets only once a thread's return
    /// reaches it.
    async fn until_ticking(what: &str, idle: impl Fn() -> bool, mut cond: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: not within 10 s"
            );
            if idle() {
                tokio::time::advance(Duration::from_millis(1)).await;
            }
            tokio::task::yield_now().await;
        }
    }

    /// Lets the runner's tasks run until `cond` holds. Yielding keeps the runtime busy, so
    /// the paused clock stands still; the deadline (real time) is for a collection thread
    /// to come back.
    async fn until(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: not within 10 s"
            );
            tokio::task::yield_now().await;
        }
    }

    /// Collectors on their tasks, as the runner starts them, until [`Started::stop`].
    struct Started {
        registry: Arc<Registry>,
        shutdown: watch::Sender<bool>,
        tasks: Vec<JoinHandle<()>>,
    }

    impl Started {
        fn new(s: Vec<Scheduled>) -> Started {
            let registry = Arc::new(Registry::new(1000));
            let (shutdown, rx) = watch::channel(false);
            let tasks = spawn(s, registry.clone(), rx);
            Started {
                registry,
                shutdown,
                tasks,
            }
        }

        /// One collector whose first collection has started and is held at its gate.
        async fn blocked(name: &'static str) -> (Started, Gate, Calls) {
            let (gate, calls) = (Gate::default(), Calls::default());
            let started = Started::new(vec![scheduled(
                name,
                |_| Ok(()),
                gate.clone(),
                calls.clone(),
            )]);
            until("the first collection", || calls.started() == 1).await;
            (started, gate, calls)
        }

        async fn stop(self) -> Arc<Registry> {
            self.shutdown.send(true).unwrap();
            for t in self.tasks {
                t.await.unwrap();
            }
            self.registry
        }
    }

    fn timeouts(registry: &Registry, name: &str) -> u64 {
        let h = registry.health(name).unwrap();
        h.errors.get(&ErrorKind::Timeout).copied().unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_collector_is_counted_and_others_go_on() {
        // The first collection panics, the next ones succeed. However long the panic's
        // backtrace takes to print, the paused clock does not move meanwhile: no timeout.
        let good = Calls::default();
        let s = vec![
            scheduled(
                "bad",
                |n| if n == 1 { panic!("boom") } else { Ok(()) },
                open(),
                Calls::default(),
            ),
            scheduled("good", |_| Ok(()), open(), good.clone()),
        ];
        let started = Started::new(s);
        // Ticks at 0, 50, 100, 150 and 200 ms.
        tokio::time::sleep(4 * INTERVAL + INTERVAL / 2).await;
        let registry = started.stop().await;
        let h = registry.health("bad").unwrap();
        assert_eq!(h.errors, [(ErrorKind::Panic, 1)].into(), "{h:?}");
        assert!(h.up, "the collector works again after its panic: {h:?}");
        assert_eq!(good.finished(), 5);
        assert!(registry.health("good").unwrap().errors.is_empty());
        assert!(registry.ready());
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_collection_still_counts() {
        // The first collection outlives its 45 ms timeout and the next tick, then returns:
        // two timeouts, no second collection meanwhile, and what it found is published at
        // the tick after it came back.
        let (started, gate, calls) = Started::blocked("slow").await;
        let registry = started.registry.clone();
        tokio::time::advance(TIMEOUT).await;
        until("its timeout", || timeouts(&registry, "slow") == 1).await;
        assert!(
            registry.ready(),
            "a timed-out first attempt counts for readiness"
        );
        assert!(!registry.health("slow").unwrap().up);
        tokio::time::advance(INTERVAL - TIMEOUT).await;
        until("the next tick, still blocked", || {
            timeouts(&registry, "slow") == 2
        })
        .await;
        assert_eq!(
            calls.started(),
            1,
            "no second collection while the first is out"
        );
        gate.open();
        until("the first collection back", || calls.finished() == 1).await;
        assert!(
            !registry.health("slow").unwrap().up,
            "published at the next tick"
        );
        // The thread's return reaches the runner a moment after the count above: the clock
        // moves a millisecond at a time until the tick after it has published what it found.
        // A tick that falls in that moment counts one more timeout, never a second thread.
        until_ticking(
            "published, and the next collection done",
            || calls.started() == calls.finished(),
            || calls.finished() >= 2 && registry.health("slow").is_some_and(|h| h.up),
        )
        .await;
        let h = registry.health("slow").unwrap();
        assert_eq!(h.errors.len(), 1, "{h:?}");
        assert!(h.errors[&ErrorKind::Timeout] >= 2, "{h:?}");
        started.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_collector_holds_one_thread_not_one_per_tick() {
        let (started, gate, calls) = Started::blocked("stuck").await;
        let registry = started.registry.clone();
        tokio::time::advance(TIMEOUT).await;
        until("its timeout", || timeouts(&registry, "stuck") == 1).await;
        tokio::time::advance(INTERVAL - TIMEOUT).await;
        // Every tick while it is blocked: one more timeout, no other collection.
        for expected in 2..=7 {
            until("a timeout per tick", || {
                timeouts(&registry, "stuck") == expected
            })
            .await;
            tokio::time::advance(INTERVAL).await;
        }
        assert_eq!(
            calls.started(),
            1,
            "no second collection while the first is blocked"
        );
        assert!(registry.ready());
        assert!(!registry.health("stuck").unwrap().up);
        started.stop().await;
        // The blocked thread ends (the runtime waits for it when the test ends).
        gate.open();
    }
}

//! Runs the collectors: one task per collector on its own interval, the blocking read on
//! tokio's blocking pool, a timeout per collection, and at most one collection in flight per
//! collector (a stuck one is never joined by another). Failures are counted and logged once
//! per change; they never stop the other collectors.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::{info, warn};

use crate::collectors::{Collector, Schedule, Scheduled};
use crate::registry::Registry;
use crate::snapshot::Snapshot;

/// The result of one collection.
pub enum Outcome {
    Collected(Snapshot, Duration),
    Failed {
        kind: &'static str,
        message: String,
        took: Duration,
    },
}

/// Runs one collection, turning a panic into a failure.
pub fn collect_one(collector: &mut dyn Collector) -> Outcome {
    let start = Instant::now();
    let mut snapshot = Snapshot::default();
    match catch_unwind(AssertUnwindSafe(|| collector.collect(&mut snapshot))) {
        Ok(Ok(())) => Outcome::Collected(snapshot, start.elapsed()),
        Ok(Err(e)) => Outcome::Failed {
            kind: e.kind(),
            message: e.to_string(),
            took: start.elapsed(),
        },
        Err(panic) => Outcome::Failed {
            kind: "panic",
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
                warn!(collector = self.name, kind, error = %problem, "collection failed")
            }
        }
        self.last = now;
    }
}

/// The registry slots for these collectors, in order.
pub fn registry_for(scheduled: &[Scheduled], stale_after: u32) -> Registry {
    let slots: Vec<(&'static str, Duration)> = scheduled
        .iter()
        .map(|s| (s.collector.name(), s.schedule.interval))
        .collect();
    Registry::new(&slots, stale_after)
}

/// Starts one task per collector. They stop when `shutdown` turns true.
pub fn spawn(
    scheduled: Vec<Scheduled>,
    registry: Arc<Registry>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    scheduled
        .into_iter()
        .enumerate()
        .map(|(slot, s)| {
            let task = Task {
                slot,
                schedule: s.schedule,
                log: ProblemLog {
                    name: s.collector.name(),
                    last: None,
                },
                collector: Arc::new(Mutex::new(s.collector)),
                registry: registry.clone(),
                published: false,
            };
            tokio::spawn(task.run(shutdown.clone()))
        })
        .collect()
}

struct Task {
    slot: usize,
    schedule: Schedule,
    log: ProblemLog,
    collector: Arc<Mutex<Box<dyn Collector>>>,
    registry: Arc<Registry>,
    published: bool,
}

impl Task {
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
                    self.registry.fail(self.slot, "timeout", None);
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
                            kind: "timeout",
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
                self.registry.publish(self.slot, snapshot, took)
            }
            Outcome::Failed { kind, took, .. } => self.registry.fail(self.slot, kind, Some(took)),
        }
    }
}

fn joined(result: Result<Outcome, tokio::task::JoinError>) -> Outcome {
    result.unwrap_or_else(|join| Outcome::Failed {
        kind: "panic",
        message: join.to_string(),
        took: Duration::ZERO,
    })
}

/// `vitals once`: collects each collector synchronously (twice, `pause` apart, where a
/// metric needs two readings) into a fresh registry.
pub fn once(scheduled: Vec<Scheduled>, stale_after: u32, pause: Duration) -> Registry {
    let registry = registry_for(&scheduled, stale_after);
    for (slot, mut s) in scheduled.into_iter().enumerate() {
        let mut log = ProblemLog {
            name: s.collector.name(),
            last: None,
        };
        if s.collector.needs_two_readings() {
            let first = collect_one(s.collector.as_mut());
            log.record(&first);
            std::thread::sleep(pause);
        }
        let outcome = collect_one(s.collector.as_mut());
        log.record(&outcome);
        match outcome {
            Outcome::Collected(snapshot, took) => registry.publish(slot, snapshot, took),
            Outcome::Failed { kind, took, .. } => registry.fail(slot, kind, Some(took)),
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
        calls: Arc<Mutex<u32>>,
        behaviour: fn(u32) -> Result<(), HostError>,
        sleep: Duration,
    }

    impl Collector for Fake {
        fn name(&self) -> &'static str {
            "fake"
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
        behaviour: fn(u32) -> Result<(), HostError>,
        sleep: Duration,
        calls: Arc<Mutex<u32>>,
    ) -> Scheduled {
        Scheduled {
            collector: Box::new(Fake {
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
        let registry = Arc::new(registry_for(&s, 1000));
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
                |n| if n == 1 { panic!("boom") } else { Ok(()) },
                Duration::ZERO,
                Arc::new(Mutex::new(0)),
            ),
            scheduled(|_| Ok(()), Duration::ZERO, good.clone()),
        ];
        let registry = run_for(s, Duration::from_millis(1500)).await;
        let h = registry.health(0);
        assert_eq!(h.errors.get("panic"), Some(&1), "{h:?}");
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
            |_| Ok(()),
            Duration::from_millis(80),
            calls.clone(),
        )];
        let registry = run_for(s, Duration::from_millis(600)).await;
        let h = registry.health(0);
        assert!(registry.ready(), "{h:?}");
        assert!(h.errors.get("timeout").copied().unwrap_or(0) >= 2, "{h:?}");
        assert!(*calls.lock().unwrap() >= 2);
    }

    #[tokio::test]
    async fn a_stuck_collector_holds_one_thread_not_one_per_tick() {
        let calls = Arc::new(Mutex::new(0));
        let s = vec![scheduled(
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
                .health(0)
                .errors
                .get("timeout")
                .copied()
                .unwrap_or(0)
                >= 5
        );
        assert!(!registry.ready());
    }
}

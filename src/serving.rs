//! Scrapes before collections. On a small machine a `/metrics` body being encoded and a
//! large collection (1,000 cgroups, thousands of processes) compete for the same cores: with
//! the client, that is three busy threads on two cores, and a scrape that overlaps the
//! collection takes half as long again (`bench/cgroups.py`, docs/performance.md). A scrape
//! has a deadline (Prometheus' scrape timeout) and a client waiting on it; a collection only
//! has to be done before its own timeout.
//!
//! So an encoding holds a [`Serving`] for as long as its body is being produced, and a
//! collection that walks many items calls [`Yield::between_items`] between two of them: while
//! a body is being served it waits, up to [`BUDGET`] per collection, so that scrapes can delay
//! a collection a little but never starve it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The longest a collection waits for scrapes in all, per collection.
pub const BUDGET: Duration = Duration::from_millis(250);

/// How long a collection runs before it offers its core (`sched_yield`) to a thread waiting
/// for one: the runtime's, woken by a request, gets it within about this much.
pub const SLICE: Duration = Duration::from_micros(200);

/// The daemon's bodies being served and the collections waiting for them.
pub static SCRAPES: Gate = Gate::new();

pub struct Gate {
    serving: AtomicUsize,
    lock: Mutex<()>,
    done: Condvar,
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            serving: AtomicUsize::new(0),
            lock: Mutex::new(()),
            done: Condvar::new(),
        }
    }

    /// A body starts being encoded.
    pub fn serve(&'static self) -> Serving {
        self.serving.fetch_add(1, Ordering::SeqCst);
        Serving(self)
    }

    /// A collection's wait, with the whole [`BUDGET`].
    pub fn collection(&'static self) -> Yield {
        Yield {
            gate: self,
            left: BUDGET,
            since: Instant::now(),
        }
    }
}

/// A body being encoded; collections yield to it until it is dropped.
#[must_use = "the body is being served only while this lives"]
pub struct Serving(&'static Gate);

impl Serving {
    /// A body of the daemon's ([`SCRAPES`]).
    pub fn start() -> Serving {
        SCRAPES.serve()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let gate = self.0;
        if gate.serving.fetch_sub(1, Ordering::SeqCst) == 1 {
            // Under the lock, so that a collection between its check and its wait hears it.
            let _g = gate.lock.lock().unwrap_or_else(PoisonError::into_inner);
            gate.done.notify_all();
        }
    }
}

/// A collection's wait for scrapes: what is left of its [`BUDGET`].
pub struct Yield {
    gate: &'static Gate,
    left: Duration,
    /// When the collection last offered its core.
    since: Instant,
}

impl Default for Yield {
    /// A collection of the daemon's ([`SCRAPES`]).
    fn default() -> Self {
        SCRAPES.collection()
    }
}

impl Yield {
    /// Between two items of a collection: returns at once unless a body is being served,
    /// then when none is or the budget is spent. Every [`SLICE`] of work it also offers its
    /// core to a thread waiting for one: the scheduler may let a woken thread wait a whole
    /// slice (milliseconds) for a busy collection, and a request's first steps (accepting,
    /// parsing, starting the encoding) run before any body is being served.
    pub fn between_items(&mut self) {
        let gate = self.gate;
        if gate.serving.load(Ordering::Relaxed) == 0 || self.left.is_zero() {
            if self.since.elapsed() >= SLICE {
                std::thread::yield_now();
                self.since = Instant::now();
            }
            return;
        }
        let start = Instant::now();
        let g = gate.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = gate
            .done
            .wait_timeout_while(g, self.left, |_| gate.serving.load(Ordering::SeqCst) > 0)
            .unwrap_or_else(PoisonError::into_inner);
        self.left = self.left.saturating_sub(start.elapsed());
    }

    /// How long this collection waited for scrapes.
    #[cfg(test)]
    fn waited(&self) -> Duration {
        BUDGET - self.left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collection_waits_for_a_body_within_its_budget() {
        static GATE: Gate = Gate::new();
        let mut y = GATE.collection();
        y.between_items();
        assert_eq!(y.waited(), Duration::ZERO, "nothing served: no wait");

        let serving = GATE.serve();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let mut y = GATE.collection();
            tx.send(()).unwrap();
            y.between_items();
            y.waited()
        });
        rx.recv().unwrap();
        drop(serving);
        let waited = waiter.join().unwrap();
        assert!(waited < BUDGET, "woken when the body was done: {waited:?}");

        // A body that lasts: the budget, then no more waiting.
        let _serving = GATE.serve();
        let mut y = GATE.collection();
        y.between_items();
        assert!(y.waited() >= BUDGET);
        let t = Instant::now();
        y.between_items();
        assert!(t.elapsed() < BUDGET / 2);
    }
}

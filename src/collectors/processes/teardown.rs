//! The teardown of children nobody waits for, from the clock each task ends with.
//!
//! A process's taskstats exit record is filled before the kernel frees its memory and files
//! (`exit_mm()`, `exit_files()`), and the CPU of that last stretch shows only in its
//! reaper's cutime, which [`super::exits`] credits as tails. A parent that ignores SIGCHLD
//! has no reaper for its children: the kernel reaps them as they end, and their teardown
//! reaches no counter of any process (about 0.3 ms, 8 % of a short forked Python's CPU;
//! docs/performance.md, "What stays out"). Nor a perf counter inherited from the parent:
//! the kernel syncs that before the teardown.
//!
//! What does hold it is the task's own scheduler clock when the kernel frees the task:
//! [`crate::host::task_free`]'s program, attached to the `sched_process_free` tracepoint,
//! writes every freed task's pid and final clock into a ring (64 KiB: 2,730 tasks) that a
//! thread drains every 250 ms (10,000 tasks freed a second before one is lost) and each tick
//! too. When a process ends whose parent ignored SIGCHLD at a scan of the last KEEP_TICKS
//! (and reaped none since: its children's CPU did not grow), its last thread's final clock
//! less the runtime of that thread's exit record is credited to the process's group as system
//! time. Other threads' teardown is a few us and is not counted; a process the ring has no
//! clock for within [`KEEP_TICKS`] (the ring was full, or the kernel skipped the program: it
//! does when the tracepoint fires while the program runs on the same CPU) is counted in
//! `vitals_process_teardown_missed_total`, never guessed. One case counts twice: a child
//! started with another exit signal than SIGCHLD (clone(2)) by a parent that ignores SIGCHLD
//! and waits for it, whose teardown is then also in the parent's cutime; the parent is left to
//! its reaper tails from the tick its children's CPU grows.
//!
//! Loading needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) and a kernel with BTF; without,
//! the log says why once and the teardown stays out, as before.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::bpf::Attached;
use crate::host::HostPaths;
use crate::host::btf::task_offsets;
use crate::host::task_free::{RECORD, parse_record, program};

/// Bytes of the ring: 2,730 records (one per task freed on the host, 24 bytes with its
/// header). Its pages count in vitals' RSS, twice (the data is mapped twice).
const RING_BYTES: usize = 64 << 10;
/// The drain thread's period.
const DRAIN_EVERY: Duration = Duration::from_millis(250);
/// Final clocks taken per tick at most (13,000 tasks freed a second at the default 5 s
/// interval): the rest are dropped, and those of processes waited for counted missed. With
/// the two ticks kept that bounds the clocks held to about 4 MB on the busiest hosts (30
/// bytes each); a host freeing 100 tasks a second holds 1,000.
const MAX_FREED: usize = 1 << 16;
/// Records and final clocks wait this many ticks for each other.
const KEEP_TICKS: u64 = 2;

/// A process that ignores SIGCHLD, as the scan read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ignorer {
    pub pid: u32,
    pub start: u64,
    /// Its children's CPU (cutime + cstime, clock ticks).
    pub children_cpu: u64,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    run_us: u64,
    group: u32,
    tick: u64,
}

pub struct Teardowns {
    shared: Arc<Shared>,
    drainer: Option<JoinHandle<()>>,
    book: Book,
}

struct Shared {
    drained: Mutex<Drained>,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// The ring and what was drained from it since the last tick.
struct Drained {
    ring: Attached,
    buf: Vec<u8>,
    freed: Vec<(u32, u64)>,
}

impl Drained {
    fn drain(&mut self) {
        self.buf.clear();
        self.ring.drain(RECORD, &mut self.buf);
        let room = MAX_FREED.saturating_sub(self.freed.len());
        let freed = self.buf.chunks_exact(RECORD).filter_map(parse_record);
        self.freed.extend(freed.take(room).map(|r| (r.pid, r.runtime_ns)));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The drain thread: every DRAIN_EVERY until stopped.
fn drain_every(shared: &Shared) {
    let mut stop = lock(&shared.stop);
    while !*stop {
        stop = match shared.wake.wait_timeout(stop, DRAIN_EVERY) {
            Ok((s, _)) => s,
            Err(e) => e.into_inner().0,
        };
        lock(&shared.drained).drain();
    }
}

/// What is matched, apart from the ring.
#[derive(Debug, Default)]
struct Book {
    /// Parents that ignore SIGCHLD: pid -> (start, children's CPU when first seen so, tick
    /// last seen). One gone is kept KEEP_TICKS: its last children's records come after.
    ignoring: HashMap<u32, (u64, u64, u64)>,
    /// Parents seen reaping a child while ignoring SIGCHLD: left to the reaper tails.
    reaping: HashSet<(u32, u64)>,
    /// Final clocks by thread id: (ns, tick drained).
    finals: HashMap<u32, (u64, u64)>,
    /// Exited processes of ignoring parents by last thread, waiting for its final clock.
    pending: HashMap<u32, Pending>,
    /// Tails credited (us), and processes whose final clock never came.
    credited_us: u64,
    missed: u64,
}

impl Teardowns {
    /// Loads and attaches the program; None (said once in the log) when the kernel refuses.
    pub fn start(paths: &HostPaths) -> Option<Teardowns> {
        let path = paths.sys("kernel/btf/vmlinux");
        let offsets = match std::fs::File::open(&path) {
            Ok(f) => task_offsets(f),
            Err(_) => Err("no kernel BTF"),
        };
        let offsets = match offsets {
            Ok(o) => o,
            Err(e) => {
                tracing::info!(collector = "processes", error = e, path = %path.display(), "kernel BTF unreadable or without the task fields: the teardown of children of parents that ignore SIGCHLD is not measured");
                return None;
            }
        };
        match Attached::load(c"sched_process_free", RING_BYTES, |fd| program(&offsets, fd)) {
            Ok(ring) => {
                tracing::info!(
                    collector = "processes",
                    "the teardown of children of parents that ignore SIGCHLD is credited from their final clock (eBPF on sched_process_free)"
                );
                let shared = Arc::new(Shared {
                    drained: Mutex::new(Drained {
                        ring,
                        buf: Vec::new(),
                        freed: Vec::new(),
                    }),
                    stop: Mutex::new(false),
                    wake: Condvar::new(),
                });
                let s = Arc::clone(&shared);
                let drainer = std::thread::Builder::new()
                    .name("vitals-freed".into())
                    .spawn(move || drain_every(&s))
                    .map_err(|e| tracing::warn!(error = %e, "no thread for the task-free ring; it is drained each tick only"))
                    .ok();
                Some(Teardowns {
                    shared,
                    drainer,
                    book: Book::default(),
                })
            }
            Err(e) => {
                tracing::info!(collector = "processes", error = %e, "eBPF program not loaded (needs CAP_BPF and CAP_PERFMON): the teardown of children of parents that ignore SIGCHLD is not measured");
                None
            }
        }
    }

    /// After the scan: the processes that ignore SIGCHLD now ([`Book::watch`]).
    pub fn watch(&mut self, ignorers: &[Ignorer], tick: u64) {
        self.book.watch(ignorers, tick);
    }

    /// Whether a child of `ppid` is reaped by the kernel (its parent ignores SIGCHLD).
    pub fn auto_reaped(&self, ppid: u32) -> bool {
        self.book.ignoring.contains_key(&ppid)
    }

    /// Such a child ended: its last thread and that thread's record's runtime (us).
    pub fn expect(&mut self, last_tid: u32, run_us: u64, group: u32, tick: u64) {
        self.book.pending.insert(last_tid, Pending { run_us, group, tick });
    }

    /// Drains the ring; the tails whose final clock came: (group, us) each.
    pub fn tails(&mut self, tick: u64) -> Vec<(u32, u64)> {
        let freed = {
            let mut d = lock(&self.shared.drained);
            d.drain();
            std::mem::take(&mut d.freed)
        };
        self.book.take(freed.into_iter(), tick)
    }

    pub fn credited_us(&self) -> u64 {
        self.book.credited_us
    }

    pub fn missed(&self) -> u64 {
        self.book.missed
    }
}

impl Drop for Teardowns {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.drainer.take() {
            let _ = t.join();
        }
    }
}

impl Book {
    /// One whose children's CPU grew while it ignored SIGCHLD reaps some children itself:
    /// its reaper tails cover them, and it is left to those while it lives. One no longer
    /// listed (ended, or SIGCHLD no longer ignored) stays KEEP_TICKS for the records of its
    /// last children, which come a tick after them.
    fn watch(&mut self, ignorers: &[Ignorer], tick: u64) {
        let mut now = HashSet::new();
        for i in ignorers {
            now.insert((i.pid, i.start));
            if self.reaping.contains(&(i.pid, i.start)) {
                self.ignoring.remove(&i.pid);
                continue;
            }
            let base = match self.ignoring.get(&i.pid) {
                Some(&(start, cpu, _)) if start == i.start => cpu,
                _ => i.children_cpu,
            };
            if i.children_cpu > base {
                self.reaping.insert((i.pid, i.start));
                self.ignoring.remove(&i.pid);
            } else {
                self.ignoring.insert(i.pid, (i.start, base, tick));
            }
        }
        self.ignoring.retain(|_, (_, _, seen)| tick - *seen <= KEEP_TICKS);
        self.reaping.retain(|k| now.contains(k));
    }

    /// Takes the final clocks (thread id, ns) drained this tick; returns the tails complete.
    fn take(&mut self, freed: impl Iterator<Item = (u32, u64)>, tick: u64) -> Vec<(u32, u64)> {
        for (tid, ns) in freed {
            self.finals.insert(tid, (ns, tick));
        }
        let mut out = Vec::new();
        let finals = &mut self.finals;
        let mut missed = 0;
        self.pending.retain(|tid, p| match finals.remove(tid) {
            Some((ns, _)) => {
                let tail = (ns / 1000).saturating_sub(p.run_us);
                if tail > 0 {
                    out.push((p.group, tail));
                }
                false
            }
            None if tick - p.tick < KEEP_TICKS => true,
            None => {
                tracing::debug!(tid, expected = p.tick, tick, "teardown missed");
                missed += 1;
                false
            }
        });
        self.missed += missed;
        self.finals.retain(|_, (_, t)| tick - *t < KEEP_TICKS);
        self.credited_us += out.iter().map(|(_, us)| us).sum::<u64>();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignorer(pid: u32, children_cpu: u64) -> Ignorer {
        Ignorer {
            pid,
            start: 100,
            children_cpu,
        }
    }

    #[test]
    fn a_parent_whose_children_cpu_grows_is_left_to_its_reaper() {
        let mut b = Book::default();
        b.watch(&[ignorer(9, 0), ignorer(10, 5)], 1);
        assert!(b.ignoring.contains_key(&9) && b.ignoring.contains_key(&10));
        b.watch(&[ignorer(9, 3), ignorer(10, 5)], 2);
        assert!(!b.ignoring.contains_key(&9) && b.ignoring.contains_key(&10));
        // Left while it lives, even with no more growth; forgotten once gone.
        b.watch(&[ignorer(9, 3)], 3);
        assert!(!b.ignoring.contains_key(&9));
        b.watch(&[], 4);
        assert!(b.reaping.is_empty());
    }

    #[test]
    fn a_parent_gone_still_counts_for_the_records_of_its_last_children() {
        let mut b = Book::default();
        b.watch(&[ignorer(9, 0)], 1);
        // Ended: its children's records of the tick it ended come in the next ones.
        for tick in 2..=3 {
            b.watch(&[], tick);
            assert!(b.ignoring.contains_key(&9), "tick {tick}");
        }
        b.watch(&[], 4);
        assert!(b.ignoring.is_empty());
    }

    #[test]
    fn a_tail_is_the_final_clock_less_the_records_runtime_once() {
        let mut b = Book::default();
        // A clock drained a tick before its record is seen is still matched.
        assert!(b.take([(41, 3_700_000)].into_iter(), 1).is_empty());
        b.pending.insert(41, Pending { run_us: 3_400, group: 2, tick: 2 });
        b.pending.insert(42, Pending { run_us: 3_000, group: 3, tick: 2 });
        b.pending.insert(44, Pending { run_us: 5_000, group: 3, tick: 2 });
        let mut got = b.take([(42, 3_250_000), (43, 1)].into_iter(), 2);
        got.sort();
        assert_eq!(got, [(2, 300), (3, 250)]);
        assert_eq!(b.credited_us, 550);
        // 44's clock never comes: missed after KEEP_TICKS, not guessed.
        assert!(b.take(std::iter::empty(), 3).is_empty());
        assert_eq!((b.pending.len(), b.missed), (1, 0));
        assert!(b.take(std::iter::empty(), 4).is_empty());
        assert_eq!((b.pending.len(), b.missed), (0, 1));
        // Clocks nobody asked for are dropped after KEEP_TICKS.
        assert!(b.finals.is_empty());
        // A clock below the record's runtime (rounding) credits nothing.
        b.pending.insert(45, Pending { run_us: 5_000, group: 3, tick: 4 });
        assert!(b.take([(45, 4_999_999)].into_iter(), 4).is_empty());
    }
}

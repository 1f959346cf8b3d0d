//! Exited processes, credited from the kernel's taskstats exit records
//! ([`crate::host::taskstats_listener`]) rather than from their parents' cutime/cstime.
//!
//! The kernel sends one record per exiting thread with that thread's whole-life counters;
//! the last thread's record carries the AGROUP flag and the process's exit status. The
//! records of a thread group are summed until that last one. Then the process's final
//! counters (the sum) less what vitals already counted (its last reading, if it ever had
//! one) go to a group:
//!
//! - the group of its last reading, when vitals saw it (still in the table, a zombie, or
//!   gone from /proc within the last two ticks, matched by pid and start time);
//! - else the group the rules give from the record (comm and uid; a rule on the command
//!   line or the cgroup cannot match a process that is gone), else with `children = true`
//!   its parent's group, else `unmatched`; a kernel thread goes to `kernel`.
//!
//! Thread records of a process still alive are not credited on their own: the process's
//! /proc readings include its dead threads. While records flow, the table follows the
//! children's counters (cutime...) without crediting them; in a tick where the listener
//! reports lost records, that tick falls back to cutime crediting and its records only
//! count exits. The CPU credited is the scheduler's runtime (cpu_run_virtual_total), the
//! clock /proc/<pid>/stat's utime + stime are scaled to, split into user and system in the
//! ticked proportion as the kernel splits them. CPU times arrive in microseconds: each group keeps the part of a clock
//! tick not yet exported, so that thousands of 3 ms processes add up.
//!
//! The tail: the kernel fills a process's record before it tears down its memory and files
//! (`exit_mm()`, `exit_files()`), and charges that last stretch (a few tenths of a ms for a
//! forked Python, far more for a compiler freeing a large heap) to the process after the
//! record. Only its reaper's cutime + cstime sees it. Each tick, a parent's children's CPU
//! growth (up to its previous reading, less a tick of rounding) beyond what its children's
//! records explain, with what those children had reaped in turn, is credited as system time
//! to the children's groups (`credit_tails`). A record comes before its process is
//! reaped, never after, so the comparison can lag but never count a tail twice: up to one
//! interval of a reaper's children's runtime in tails waits until later growth covers it.
//! Children nobody waits for (SIGCHLD ignored) reach no cutime: their tails come from their
//! final clock instead, read as the kernel frees them ([`super::teardown`], with
//! `exit_teardown` and the privilege to load its eBPF program); without it they stay out,
//! the conservation law's residual (docs/performance.md).
//!
//! Exact, with one approximation: a process already running when vitals started, whose
//! threads had exited before it was first seen, is credited at most its last interval
//! less those threads' time (clamped at zero).

use std::collections::{BTreeMap, HashMap};

use super::groups::{Groups, IO_FIELDS, KERNEL, MAJOR, MINOR, SYSTEM, USER};
use super::table::{DROPPED, Last, Table};
use super::teardown::{Ignorer, Teardowns};
use crate::host::HostPaths;
use crate::host::taskstats::{Ending, Exit, signal_name};
use crate::host::taskstats_listener::{Listener, StartError, Totals};
use crate::snapshot::Snapshot;

use super::catalog::{
    ACCOUNTING_MODE, CPU_OVERCOUNTED, CPU_UNATTRIBUTED, EXIT_REASON, EXIT_RECORDS,
    EXIT_RECORDS_LOST, EXIT_SIGNAL, EXITS, GROUP, MODE_LABEL, TEARDOWN_CPU, TEARDOWN_MISSED,
};

/// Records and gone processes are matched for this many ticks.
const KEEP_TICKS: u64 = 2;
/// Start times (seconds) of a record and a reading of the same process differ by at most
/// this (the record's is rounded down; /proc's is in clock ticks after boot).
const START_SLACK: f64 = 2.0;

/// How exited processes are credited this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// From exit records.
    ExitRecords,
    /// From cutime/cstime, because records were lost since the previous tick.
    CutimeAfterLoss,
    /// From cutime/cstime: no listener (no privilege, no kernel support, or turned off).
    Cutime,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::ExitRecords, Mode::CutimeAfterLoss, Mode::Cutime];

    fn label(self) -> &'static str {
        match self {
            Mode::ExitRecords => "exit_records",
            Mode::CutimeAfterLoss => "cutime_after_loss",
            Mode::Cutime => "cutime",
        }
    }
}

/// How a process ended, as exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Reason {
    Zero,
    NonZero,
    Signal(u8),
}

impl From<Ending> for Reason {
    fn from(e: Ending) -> Reason {
        match e {
            Ending::Code(0) => Reason::Zero,
            Ending::Code(_) => Reason::NonZero,
            Ending::Signal(s) => Reason::Signal(s),
        }
    }
}

/// Sums of a thread group's exit records so far.
#[derive(Debug, Default, Clone, Copy)]
struct Dead {
    /// The process's start (s since the epoch): its leader's, else its earliest thread's.
    btime: u64,
    leader: bool,
    tick: u64,
    /// user, system as ticked.
    cpu_us: [u64; 2],
    /// The scheduler's runtime, us.
    run_us: u64,
    /// major, minor.
    faults: [u64; 2],
    /// read_bytes, write_bytes, rchar, wchar, syscr, syscw.
    io: [u64; IO_FIELDS],
    /// The leader's voluntary and involuntary switches (what /proc/<pid>/status shows).
    ctx: [u64; 2],
}

impl Dead {
    /// The user part of the runtime, split as the kernel splits /proc/<pid>/stat's
    /// (cputime_adjust): in the ticked proportion, all user when no tick hit.
    fn user_us(&self) -> u64 {
        let [u, s] = self.cpu_us;
        if s == 0 {
            return self.run_us;
        }
        (self.run_us as u128 * u as u128 / (u as u128 + s as u128)) as u64
    }

    fn add(&mut self, e: &Exit) {
        self.cpu_us[0] += e.utime_us;
        self.cpu_us[1] += e.stime_us;
        self.run_us += e.run_us();
        self.faults[0] += e.majflt;
        self.faults[1] += e.minflt;
        for (t, v) in self
            .io
            .iter_mut()
            .zip([
                e.read_bytes,
                e.write_bytes,
                e.read_chars,
                e.write_chars,
                e.read_syscalls,
                e.write_syscalls,
            ])
        {
            *t += v;
        }
        if e.pid == e.tgid {
            self.ctx = [e.nvcsw, e.nivcsw];
        }
    }
}

/// A parent's children's CPU (cutime + cstime) against the exit records of its children, for
/// the tail: what the kernel charged a child after filling its record (freeing its memory
/// and files), which only shows in the reaper's cutime.
#[derive(Debug, Default)]
struct Reaper {
    /// The parent's start time (clock ticks after boot) once it was read.
    start: Option<u64>,
    /// Its children's CPU (us) when first read, and as read in the previous tick.
    first_us: u64,
    prev_us: u64,
    /// What its children's records explain of that growth (us): each child's runtime plus
    /// what the child's own cutime held ([`Reaper::passed_on`]).
    expected_us: u64,
    /// The tick of the last record counted in `expected_us`, what that tick added, and how
    /// much of that came after the previous tick's mark (see [`Exits::credit_tails`]).
    expected_tick: u64,
    expected_in_tick: u64,
    after_mark_us: u64,
    /// The tail credited so far (us).
    credited_us: u64,
    /// Groups of the children whose records came since the tail was last credited, with
    /// their number; `last_group` the group of the previous credit.
    groups: Vec<(u32, u64)>,
    last_group: Option<u32>,
    tick: u64,
}

impl Reaper {
    /// What this process, ended, adds to its own reaper's cutime beyond its runtime that is
    /// accounted for already (its reaper's growth beyond is taken for tails). Once its
    /// readings were compared ([`Exits::credit_tails`] set `start`): its base reading, its
    /// children's records and the tails credited from it; a tail not credited yet is left
    /// to its reaper. Before that, its children's CPU as read (`read` in tick `seen`) plus
    /// the records that came after that reading, a record that comes in a tick taken to be
    /// in that tick's reading (a waiting parent reaps at once). Each errs high when records
    /// are of children it never reaped (SIGCHLD ignored), which only leaves a tail
    /// uncredited.
    fn passed_on(&self, read: u64, seen: u64) -> u64 {
        let e = self.expected_us;
        if self.start.is_some() {
            // Compared with its readings: its cutime holds its base, its children's records
            // and the tails credited from it; a tail not yet credited is left to its reaper.
            return self.first_us + e + self.credited_us;
        }
        let read_in = if seen >= self.expected_tick {
            e
        } else if seen + 1 == self.expected_tick {
            e - self.expected_in_tick
        } else {
            0
        };
        read + e - read_in
    }

    /// Counts a child's record: its runtime and what it passed on; `after_mark`: the record
    /// came after the previous tick's mark (or where the mark fell is not known).
    fn expect(&mut self, us: u64, tick: u64, after_mark: bool) {
        if self.expected_tick != tick {
            self.expected_tick = tick;
            self.expected_in_tick = 0;
            self.after_mark_us = 0;
        }
        self.expected_us += us;
        self.expected_in_tick += us;
        if after_mark {
            self.after_mark_us += us;
        }
    }

    /// What this tick's records added after the previous tick's mark.
    fn after_mark(&self, tick: u64) -> u64 {
        if self.expected_tick == tick {
            self.after_mark_us
        } else {
            0
        }
    }

    fn count(&mut self, group: u32) {
        match self.groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, n)) => *n += 1,
            None => self.groups.push((group, 1)),
        }
    }
}

pub struct Exits {
    listener: Option<Listener>,
    /// Records are credited (a listener runs).
    active: bool,
    mode: Mode,
    batch: Vec<Exit>,
    /// Where in `batch` the records sent after the previous tick's mark begin, when that
    /// mark came back.
    mark: Option<usize>,
    totals: Totals,
    dead: HashMap<u32, Dead>,
    /// Processes gone from the table lately: (tick, last reading, credited by cutime).
    recent: HashMap<u32, (u64, Last, bool)>,
    /// Microseconds of CPU not yet a whole clock tick, per group and mode.
    rem: HashMap<u32, [u64; 2]>,
    /// What each parent's cutime + cstime owes to records already credited, by parent pid.
    reapers: HashMap<u32, Reaper>,
    endings: HashMap<String, BTreeMap<Reason, u64>>,
    /// Kernel task CPU and [`Exits::attributed`] (ticks) at the previous tick.
    prev: Option<(u64, u64)>,
    /// What the groups gained since the first tick (ticks).
    attributed: u64,
    prev_groups: HashMap<u32, u64>,
    /// Unattributed and overcounted CPU ticks over the last interval.
    residual: Option<(u64, u64)>,
    /// The tails of children of parents that ignore SIGCHLD (with the listener and
    /// `exit_teardown`, when the kernel took the program).
    teardowns: Option<Teardowns>,
}

impl Exits {
    /// Starts the listener when `enabled`, logging once why it could not; with it and
    /// `teardown`, the program that reads tasks' final clocks.
    pub fn new(paths: &HostPaths, enabled: bool, teardown: bool) -> Exits {
        let listener = if enabled && paths.procfs_is_live() {
            let cpus = crate::host::read(&paths.sys("devices/system/cpu/possible"))
                .unwrap_or_else(|_| "0".into());
            match Listener::start(&cpus) {
                Ok(l) => {
                    tracing::info!(
                        collector = "processes",
                        "exited processes are credited from taskstats exit records"
                    );
                    Some(l)
                }
                Err(e) => {
                    let why = match e {
                        StartError::NotPermitted(_) => "no privilege",
                        StartError::NotInitialNamespace(_) => "not the initial namespaces",
                        StartError::NoKernelSupport(_) => "no kernel support",
                        StartError::Io(_) => "netlink error",
                    };
                    tracing::info!(collector = "processes", error = %e, reason = why, "taskstats exit records unavailable; exited processes are credited from their parents' cutime/cstime (mode cutime)");
                    None
                }
            }
        } else {
            None
        };
        let teardowns = (listener.is_some() && teardown)
            .then(|| Teardowns::start(paths))
            .flatten();
        Exits {
            teardowns,
            mode: if listener.is_some() {
                Mode::ExitRecords
            } else {
                Mode::Cutime
            },
            active: listener.is_some(),
            listener,
            batch: Vec::new(),
            mark: None,
            totals: Totals::default(),
            dead: HashMap::new(),
            recent: HashMap::new(),
            rem: HashMap::new(),
            reapers: HashMap::new(),
            endings: HashMap::new(),
            prev: None,
            attributed: 0,
            prev_groups: HashMap::new(),
            residual: None,
        }
    }

    /// Before the scan: takes the records received since the last tick and decides the
    /// tick's mode; true when exit records (not cutime) credit exited processes.
    pub fn begin(&mut self) -> bool {
        let Some(l) = &self.listener else {
            self.mode = Mode::Cutime;
            return false;
        };
        let (totals, mark) = l.drain(&mut self.batch);
        self.mark = mark;
        self.mode = if totals.stopped {
            // Credit what came, then cutime for good.
            self.listener = None;
            Mode::CutimeAfterLoss
        } else if totals.lost > self.totals.lost {
            Mode::CutimeAfterLoss
        } else {
            Mode::ExitRecords
        };
        self.totals = totals;
        self.mode == Mode::ExitRecords
    }

    /// After the table settled: credits the records of processes that ended. `place` gives
    /// a process vitals never saw its group.
    pub fn credit(
        &mut self,
        tick: u64,
        boot: Option<u64>,
        clk: f64,
        table: &mut Table,
        groups: &mut Groups,
        mut place: impl FnMut(&Exit, &Table, &mut Groups) -> u32,
    ) {
        if !self.active {
            return;
        }
        let cutime = self.mode != Mode::ExitRecords;
        for (pid, last) in table.gone() {
            self.recent.insert(pid, (tick, last, cutime));
        }
        let us_per_tick = (1e6 / clk).round().max(1.0) as u64;
        let mut batch = std::mem::take(&mut self.batch);
        let mark = self.mark.take();
        for (i, e) in batch.drain(..).enumerate() {
            // Each record has its own thread's start, and no thread starts before its
            // leader. The entry goes with the group's last record (a tgid is reused only
            // after that), or after KEEP_TICKS when that record was lost.
            let d = self.dead.entry(e.tgid).or_default();
            if e.pid == e.tgid {
                d.btime = e.btime;
                d.leader = true;
            } else if !d.leader && (d.tick == 0 || e.btime < d.btime) {
                d.btime = e.btime;
            }
            d.tick = tick;
            d.add(&e);
            if !e.group_dead {
                continue;
            }
            let d = self.dead.remove(&e.tgid).unwrap_or_default();
            let same = |start: u64| {
                boot.is_none_or(|b| {
                    (b as f64 + start as f64 / clk - d.btime as f64).abs() <= START_SLACK
                })
            };
            let seen = match table.exited(e.tgid, same) {
                Some(l) => Some((l, cutime)),
                None => self
                    .recent
                    .remove(&e.tgid)
                    .filter(|(_, l, _)| same(l.start))
                    .map(|(_, l, by_cutime)| (l, by_cutime || cutime)),
            };
            let (group, last, skip) = match seen {
                Some((l, by_cutime)) => (l.group, Some(l), by_cutime),
                None => (place(&e, table, groups), None, cutime),
            };
            if let Some(t) = &mut self.teardowns
                && !cutime
                && t.auto_reaped(e.ppid)
            {
                t.expect(e.pid, e.run_us(), group, tick);
            }
            if !cutime && e.ppid != 0 {
                let (read, seen) = last.map_or((0, 0), |l| (l.children_cpu * us_per_tick, l.seen));
                let passed_on = self
                    .reapers
                    .remove(&e.tgid)
                    .map_or(read, |r| r.passed_on(read, seen));
                // Its runtime: the records', or its last reading's when more (threads that
                // ended before the listener started are in the reading, not in records).
                let own_us = last.map_or(0, |l| (l.own[USER] + l.own[SYSTEM]) * us_per_tick);
                let r = self.reapers.entry(e.ppid).or_default();
                let after_mark = mark.is_none_or(|m| i >= m);
                r.expect(d.run_us.max(own_us) + passed_on, tick, after_mark);
                r.count(group);
                r.tick = tick;
            }
            let Some(g) = groups.get_mut(group).filter(|_| group != DROPPED) else {
                continue;
            };
            let by = match self.endings.get_mut(&g.name) {
                Some(by) => by,
                None => self.endings.entry(g.name.clone()).or_default(),
            };
            *by.entry(e.ending.into()).or_default() += 1;
            if skip {
                continue;
            }
            let base = last.map_or([0; 4], |l| l.own);
            let base_us = [base[USER] * us_per_tick, base[SYSTEM] * us_per_tick];
            let remain = d.run_us.saturating_sub(base_us[0] + base_us[1]);
            let user = remain.min(d.user_us().saturating_sub(base_us[0]));
            let rem = self.rem.entry(group).or_default();
            for (m, us) in [(USER, user), (SYSTEM, remain - user)] {
                g.totals.cpu_faults[m] += whole_ticks(&mut rem[m], us, us_per_tick);
            }
            g.totals.cpu_faults[MAJOR] += d.faults[0].saturating_sub(base[MAJOR]);
            g.totals.cpu_faults[MINOR] += d.faults[1].saturating_sub(base[MINOR]);
            // A seen process whose io or status was unreadable was never counted in them.
            let io_base = match last {
                Some(l) => l.io,
                None => Some([0; IO_FIELDS]),
            };
            if let Some(b) = io_base {
                g.has_io = true;
                add_since(&mut g.totals.io, &d.io, &b);
            }
            let ctx_base = match last {
                Some(l) => l.ctx,
                None => Some([0; 2]),
            };
            if let Some(b) = ctx_base {
                g.has_ctx = true;
                add_since(&mut g.totals.ctx, &d.ctx, &b);
            }
        }
        self.batch = batch;
        if cutime {
            // Records were lost or are not credited: start the tails again from here.
            self.reapers.clear();
        } else {
            self.credit_tails(tick, mark.is_some(), us_per_tick, table, groups);
        }
        if let Some(t) = &mut self.teardowns {
            for (group, us) in t.tails(tick) {
                credit_system(&mut self.rem, groups, group, us, us_per_tick);
            }
        }
        if let Some(l) = &self.listener
            && let Err(e) = l.mark()
        {
            tracing::debug!(collector = "processes", error = %e, "taskstats mark not sent");
        }
        self.dead
            .retain(|tgid, d| tick - d.tick <= KEEP_TICKS || table.info(*tgid).is_some());
        self.recent.retain(|_, (t, _, _)| tick - *t <= KEEP_TICKS);
        self.rem.retain(|id, _| groups.get(*id).is_some());
    }

    /// Credits each parent's tail: the growth of its children's CPU up to its previous
    /// reading, less one clock tick (the readings are rounded down), beyond what its
    /// children's records sent before that reading explain and what was credited before.
    /// Which records those are, the previous tick's mark says: it was sent after the
    /// readings, and a child's record is sent before its parent can reap it. Without the
    /// mark (not back yet) the tail waits a tick. A record may come before its reaping (a
    /// zombie) but never after it, so the excess can lag but never counts twice. It goes to
    /// the children's groups in proportion to their number, as system time (the teardown runs
    /// in the kernel).
    fn credit_tails(
        &mut self,
        tick: u64,
        marked: bool,
        us_per_tick: u64,
        table: &Table,
        groups: &mut Groups,
    ) {
        for (&pid, r) in self.reapers.iter_mut() {
            let Some(info) = table.info(pid) else { continue };
            let now_us = info.children_cpu * us_per_tick;
            let after_mark = r.after_mark(tick);
            if r.start != Some(info.start) {
                // Its first children's records (or a new process under a reused pid): the
                // base is its reading of the tick before, and the records sent since (after
                // that tick's mark) count against the growth. Without the mark, all this
                // tick's records count, and read only now, the base is this reading and the
                // records that came are of children reaped before it, except a zombie's,
                // whose runtime the tick of slack covers when it is shorter than a tick.
                let (first_us, expected_us) = match info.children_cpu_before {
                    Some(before) if r.start.is_none() => {
                        let since = if marked { after_mark } else { r.expected_us };
                        (before * us_per_tick, since)
                    }
                    _ => (now_us, 0),
                };
                *r = Reaper {
                    start: Some(info.start),
                    first_us,
                    prev_us: now_us,
                    expected_us,
                    expected_tick: r.expected_tick,
                    expected_in_tick: r.expected_in_tick.min(expected_us),
                    after_mark_us: r.after_mark_us.min(expected_us),
                    groups: std::mem::take(&mut r.groups),
                    last_group: r.last_group,
                    tick,
                    ..Reaper::default()
                };
                continue;
            }
            let grown = r.prev_us.saturating_sub(r.first_us + us_per_tick);
            let explained = r.expected_us - after_mark;
            r.prev_us = r.prev_us.max(now_us);
            r.tick = tick;
            if !marked {
                continue;
            }
            let tail = grown.saturating_sub(explained + r.credited_us);
            if tail == 0 {
                continue;
            }
            // Every entry has its children's groups: it was made for a record.
            let shares: Vec<(u32, u64)> = match (r.groups.is_empty(), r.last_group) {
                (false, _) => std::mem::take(&mut r.groups),
                (true, Some(g)) => vec![(g, 1)],
                (true, None) => continue,
            };
            r.credited_us += tail;
            let n: u64 = shares.iter().map(|(_, n)| n).sum();
            let mut left = tail;
            for (i, &(group, count)) in shares.iter().enumerate() {
                let us = if i + 1 == shares.len() {
                    left
                } else {
                    (tail as u128 * count as u128 / n as u128) as u64
                };
                left -= us;
                r.last_group = Some(group);
                credit_system(&mut self.rem, groups, group, us, us_per_tick);
            }
        }
        self.reapers
            .retain(|&pid, r| tick - r.tick <= KEEP_TICKS || table.info(pid).is_some());
    }

    /// After the scan: the processes that ignore SIGCHLD (see [`Teardowns::watch`]).
    pub fn watch(&mut self, ignorers: &[Ignorer], tick: u64) {
        if let Some(t) = &mut self.teardowns {
            t.watch(ignorers, tick);
        }
    }

    /// After crediting: the CPU of all tasks (/proc/stat user + nice + system, ticks) against
    /// what the groups gained since the previous tick.
    pub fn balance(&mut self, kernel: Option<u64>, groups: &Groups) {
        let mut gained = 0;
        let prev = std::mem::take(&mut self.prev_groups);
        for id in groups.ids() {
            let Some(g) = groups.get(id) else { continue };
            let cpu = g.totals.cpu_faults[USER] + g.totals.cpu_faults[SYSTEM];
            // A slot reused by a new group starts again from 0.
            gained += cpu - prev.get(&id).copied().filter(|&b| b <= cpu).unwrap_or(0);
            self.prev_groups.insert(id, cpu);
        }
        self.attributed += gained;
        self.residual = match (kernel, self.prev) {
            (Some(k), Some((pk, pa))) if k >= pk => {
                let (dk, dg) = (k - pk, self.attributed - pa);
                Some((dk.saturating_sub(dg), dg.saturating_sub(dk)))
            }
            _ => None,
        };
        self.prev = kernel.map(|k| (k, self.attributed));
        self.endings
            .retain(|name, _| groups.ids().any(|id| groups.get(id).is_some_and(|g| g.name == *name)));
    }

    pub fn export(&self, clk: f64, out: &mut Snapshot) {
        for (name, by) in &self.endings {
            for (reason, n) in by {
                let (r, sig) = match reason {
                    Reason::Zero => ("exit_zero", None),
                    Reason::NonZero => ("exit_nonzero", None),
                    Reason::Signal(s) => ("signal", Some(signal_name(*s))),
                };
                let sig = sig.as_deref().unwrap_or("");
                out.add(
                    &EXITS,
                    &[(GROUP, name), (EXIT_REASON, r), (EXIT_SIGNAL, sig)],
                    *n as f64,
                );
            }
        }
        for m in Mode::ALL {
            let v = if m == self.mode { 1.0 } else { 0.0 };
            out.add(&ACCOUNTING_MODE, &[(MODE_LABEL, m.label())], v);
        }
        if self.active {
            out.add(&EXIT_RECORDS, &[], self.totals.received as f64);
            out.add(&EXIT_RECORDS_LOST, &[], self.totals.lost as f64);
        }
        if let Some(t) = &self.teardowns {
            out.add(&TEARDOWN_CPU, &[], t.credited_us() as f64 / 1e6);
            out.add(&TEARDOWN_MISSED, &[], t.missed() as f64);
        }
        if let Some((under, over)) = self.residual {
            out.add(&CPU_UNATTRIBUTED, &[], under as f64 / clk);
            out.add(&CPU_OVERCOUNTED, &[], over as f64 / clk);
        }
    }
}

/// Credits `us` of a tail (the kernel's teardown of a process) to `group` as system time,
/// carrying what is not yet a whole clock tick in `rem`.
fn credit_system(
    rem: &mut HashMap<u32, [u64; 2]>,
    groups: &mut Groups,
    group: u32,
    us: u64,
    us_per_tick: u64,
) {
    if let Some(g) = groups.get_mut(group).filter(|_| group != DROPPED) {
        let rem = rem.entry(group).or_default();
        g.totals.cpu_faults[SYSTEM] += whole_ticks(&mut rem[SYSTEM], us, us_per_tick);
    }
}

/// Adds `us` to the carried microseconds `rem` and takes out the whole clock ticks.
fn whole_ticks(rem: &mut u64, us: u64, us_per_tick: u64) -> u64 {
    *rem += us;
    let ticks = *rem / us_per_tick;
    *rem -= ticks * us_per_tick;
    ticks
}

/// Adds to `total` what `now` has beyond `base`, counter by counter.
fn add_since<const N: usize>(total: &mut [u64; N], now: &[u64; N], base: &[u64; N]) {
    for ((t, n), b) in total.iter_mut().zip(now).zip(base) {
        *t += n.saturating_sub(*b);
    }
}

/// A never-seen process's group: the rules' (from comm and uid) via `by_rules`, else its
/// parent's when `children`, else `unmatched` (`other` or DROPPED); kernel threads go to
/// `kernel`.
pub fn place_unseen(
    e: &Exit,
    table: &Table,
    groups: &mut Groups,
    children: bool,
    drop_unmatched: bool,
    by_rules: Option<String>,
) -> u32 {
    if e.ppid == 2 || e.tgid == 2 {
        return groups.get_or_insert(KERNEL).unwrap_or_else(|| groups.other());
    }
    if let Some(name) = by_rules {
        return groups.get_or_insert(&name).unwrap_or_else(|| groups.other());
    }
    if children
        && let Some(p) = table.info(e.ppid)
        && p.inheritable
    {
        return p.group;
    }
    if drop_unmatched {
        DROPPED
    } else {
        groups.other()
    }
}

#[cfg(test)]
mod tests {
    use super::super::groups::Groups;
    use super::super::table::{Reading, Table};
    use super::*;

    fn reading(utime: u64, cutime: u64) -> Reading {
        Reading {
            start: 500,
            ppid: 1,
            own: [utime, 0, 0, 0],
            child: [cutime, 0, 0, 0],
            ..Reading::default()
        }
    }

    /// One tick: `live` are read; then `records` arrive and are credited; never-seen
    /// processes go to group "new".
    fn tick(t: &mut Table, g: &mut Groups, x: &mut Exits, n: u64, live: &[(u32, u64)], records: &[Exit]) {
        let live: Vec<(u32, u64, u64)> = live.iter().map(|&(p, u)| (p, u, 0)).collect();
        tick_c(t, g, x, n, &live, records);
    }

    /// [`tick`] with the children's CPU (cutime) of each live process: (pid, utime, cutime).
    fn tick_c(
        t: &mut Table,
        g: &mut Groups,
        x: &mut Exits,
        n: u64,
        live: &[(u32, u64, u64)],
        records: &[Exit],
    ) {
        t.begin(Some(0));
        t.exit_records = true;
        let app = g.get_or_insert("app").unwrap();
        for &(pid, utime, cutime) in live {
            t.observe(pid, b"app", &reading(utime, cutime), g);
        }
        let fresh: Vec<u32> = t.fresh().collect();
        for pid in fresh {
            t.assign(pid, app, true, 0);
        }
        t.place_fresh(g);
        t.settle(g, |_, _| false);
        x.batch.extend_from_slice(records);
        // All of them sent after the previous tick's mark.
        x.mark = Some(0);
        x.credit(n, None, 100.0, t, g, |_, _, g| g.get_or_insert("new").unwrap());
    }

    fn user(g: &mut Groups, name: &str) -> u64 {
        let id = g.get_or_insert(name).unwrap();
        g.get(id).unwrap().totals.cpu_faults[USER]
    }

    fn system(g: &mut Groups, name: &str) -> u64 {
        let id = g.get_or_insert(name).unwrap();
        g.get(id).unwrap().totals.cpu_faults[SYSTEM]
    }

    #[test]
    fn a_group_whose_last_record_is_a_later_thread_is_matched_by_its_leaders_start() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        tick(&mut t, &mut g, &mut x, 1, &[(7, 10)], &[]);
        tick(&mut t, &mut g, &mut x, 2, &[(7, 40)], &[]);
        // 7 started 5 s after boot; its leader ends first (20 ms), then a thread started
        // 25 s later ends last with the group's record (380 ms).
        let boot = 1_000_000;
        let mut leader = Exit::for_test(7, 7, 1, 20_000, false);
        leader.btime = boot + 5;
        let mut last = Exit::for_test(9, 7, 1, 380_000, true);
        last.btime = boot + 30;
        x.batch.extend([leader, last]);
        t.begin(Some(0));
        t.settle(&mut g, |_, _| true);
        x.credit(3, Some(boot), 100.0, &mut t, &mut g, |_, _, g| g.get_or_insert("new").unwrap());
        // The seen process: 30 ticks counted from its first reading, its record adds 0
        // more, and it is not credited again as a process never seen.
        assert_eq!(user(&mut g, "app"), 30);
        assert_eq!(user(&mut g, "new"), 0);
    }

    #[test]
    fn the_tail_after_a_record_is_credited_from_the_reapers_cutime() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        tick_c(&mut t, &mut g, &mut x, 1, &[(10, 0, 0)], &[]);
        // A child of 10 ran 30 ms and was reaped (its tail below a tick): the base.
        tick_c(&mut t, &mut g, &mut x, 2, &[(10, 0, 3)], &[Exit::for_test(100, 100, 10, 30_000, true)]);
        // Ten more ran 30 ms each and were reaped with 5 ms of teardown each: cutime + 35.
        let ten: Vec<Exit> = (101..111).map(|p| Exit::for_test(p, p, 10, 30_000, true)).collect();
        tick_c(&mut t, &mut g, &mut x, 3, &[(10, 0, 38)], &ten);
        assert_eq!((user(&mut g, "new"), system(&mut g, "new")), (33, 0));
        // The growth is compared a tick later (a record comes before its reaping, never
        // after): 340 ms grown beyond the base's tick, 300 ms in records: 4 ticks of tail.
        tick_c(&mut t, &mut g, &mut x, 4, &[(10, 0, 38)], &[]);
        assert_eq!((user(&mut g, "new"), system(&mut g, "new")), (33, 4));
        // Nothing more without more growth: never twice.
        tick_c(&mut t, &mut g, &mut x, 5, &[(10, 0, 38)], &[]);
        tick_c(&mut t, &mut g, &mut x, 6, &[(10, 0, 38)], &[]);
        assert_eq!(system(&mut g, "new"), 4);
    }

    #[test]
    fn a_zombie_reaped_later_and_auto_reaped_children_add_no_tail() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        tick_c(&mut t, &mut g, &mut x, 1, &[(10, 0, 0)], &[Exit::for_test(100, 100, 10, 10_000, true)]);
        // A child's record comes (50 ms) but 10 reaps it only two ticks later.
        tick_c(&mut t, &mut g, &mut x, 2, &[(10, 0, 0)], &[Exit::for_test(101, 101, 10, 50_000, true)]);
        tick_c(&mut t, &mut g, &mut x, 3, &[(10, 0, 0)], &[]);
        tick_c(&mut t, &mut g, &mut x, 4, &[(10, 0, 5)], &[]);
        tick_c(&mut t, &mut g, &mut x, 5, &[(10, 0, 5)], &[]);
        assert_eq!(system(&mut g, "new"), 0);
        // Children of 20, which ignores SIGCHLD, never reach its cutime: no tail, and 20's
        // own reaper is not credited their runtime either.
        let auto: Vec<Exit> = (200..205).map(|p| Exit::for_test(p, p, 20, 20_000, true)).collect();
        tick_c(&mut t, &mut g, &mut x, 6, &[(10, 0, 5), (20, 0, 0)], &auto);
        tick_c(&mut t, &mut g, &mut x, 7, &[(10, 0, 5), (20, 0, 0)], &[]);
        tick_c(&mut t, &mut g, &mut x, 8, &[(10, 0, 5)], &[Exit::for_test(20, 20, 10, 10_000, true)]);
        tick_c(&mut t, &mut g, &mut x, 9, &[(10, 0, 6)], &[]);
        tick_c(&mut t, &mut g, &mut x, 10, &[(10, 0, 6)], &[]);
        assert_eq!(system(&mut g, "new"), 0);
    }

    #[test]
    fn a_childs_cutime_read_before_its_last_reaping_is_passed_on_with_it() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        // 20, a child of 10, has 1.9 s of children reaped before (a script's earlier steps).
        tick_c(&mut t, &mut g, &mut x, 1, &[(10, 0, 0), (20, 0, 190)], &[Exit::for_test(99, 99, 10, 1_000, true)]);
        tick_c(&mut t, &mut g, &mut x, 2, &[(10, 0, 0), (20, 0, 190)], &[]);
        tick_c(&mut t, &mut g, &mut x, 3, &[(10, 0, 0), (20, 0, 190)], &[]);
        // Then its last child (3 s) ends, 20 reaps it and ends (10 ms), and 10 reaps 20, all
        // between two readings: 10's cutime grows by 10 ms + 1.9 s + 3 s.
        let records = [Exit::for_test(30, 30, 20, 3_000_000, true), Exit::for_test(20, 20, 10, 10_000, true)];
        tick_c(&mut t, &mut g, &mut x, 4, &[(10, 0, 491)], &records);
        tick_c(&mut t, &mut g, &mut x, 5, &[(10, 0, 491)], &[]);
        tick_c(&mut t, &mut g, &mut x, 6, &[(10, 0, 491)], &[]);
        // No tail: the 1.9 s were in 20's reading, the 3 s in a record.
        assert_eq!(system(&mut g, "app") + system(&mut g, "new"), 0);
        assert_eq!(user(&mut g, "new"), 300);
    }

    #[test]
    fn what_an_ended_process_reaped_is_passed_on_not_taken_for_its_tail() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        // 20 (a child of 10) was seen with 50 ticks of children reaped before vitals.
        tick_c(&mut t, &mut g, &mut x, 1, &[(10, 0, 0), (20, 10, 50)], &[Exit::for_test(99, 99, 10, 1_000, true)]);
        tick_c(&mut t, &mut g, &mut x, 2, &[(10, 0, 0), (20, 10, 50)], &[]);
        // A grandchild (ppid 20) ran 20 ms and was reaped with 2 ms of tail (20's cutime 522
        // ms); then 20 ended after 150 ms in all and 10 reaped it with 3 ms of tail: 10's
        // cutime grows by 150 + 3 + 522 ms.
        tick_c(&mut t, &mut g, &mut x, 3, &[(10, 0, 0), (20, 10, 52)], &[Exit::for_test(30, 30, 20, 20_000, true)]);
        tick_c(&mut t, &mut g, &mut x, 4, &[(10, 0, 67)], &[Exit::for_test(20, 20, 10, 150_000, true)]);
        tick_c(&mut t, &mut g, &mut x, 5, &[(10, 0, 67)], &[]);
        tick_c(&mut t, &mut g, &mut x, 6, &[(10, 0, 67)], &[]);
        // 20's runtime beyond its last reading (5 ticks) went to app; nothing of its 500 ms
        // reaped before vitals, nor a whole tick of tail (5 ms, less the tick of slack).
        assert_eq!(user(&mut g, "app"), 5);
        assert_eq!(system(&mut g, "app") + system(&mut g, "new"), 0);
    }

    /// Ten children of `ppid` (pids from `first`), 30 ms each.
    fn ten(first: u32, ppid: u32) -> Vec<Exit> {
        (first..first + 10).map(|p| Exit::for_test(p, p, ppid, 30_000, true)).collect()
    }

    #[test]
    fn a_parent_that_reaps_every_tick_has_its_tails_credited_as_it_goes() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        tick_c(&mut t, &mut g, &mut x, 1, &[(10, 0, 0)], &[]);
        // Every tick ten children run 30 ms and are reaped with 5 ms of teardown each.
        for n in 2..=8 {
            let cutime = 35 * (n - 1);
            tick_c(&mut t, &mut g, &mut x, n, &[(10, 0, cutime)], &ten(100 * n as u32, 10));
        }
        // From the third tick, each tick's reading against the records sent before it: 50 ms
        // of tail a tick (40 the first time: the tick of slack), while the churn goes on.
        assert_eq!(system(&mut g, "new"), 4 + 5 * 5);
        assert_eq!(user(&mut g, "new"), 7 * 30);
    }

    #[test]
    fn the_tails_not_yet_credited_when_a_parent_ends_go_up_to_its_reaper() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        tick_c(&mut t, &mut g, &mut x, 1, &[(10, 0, 0), (20, 10, 0)], &[]);
        // 20 (a child of 10) reaps ten children a tick, 30 ms and 5 ms of teardown each.
        for n in 2..=5 {
            let cutime = 35 * (n - 1);
            tick_c(&mut t, &mut g, &mut x, n, &[(10, 0, 0), (20, 10, cutime)], &ten(100 * n as u32, 20));
        }
        // Then ten more, and 20 ends (100 ms in all, 5 ms of teardown); 10 reaps it: its
        // cutime grows by 105 + 1,750 ms.
        let mut last = ten(600, 20);
        last.push(Exit::for_test(20, 20, 10, 100_000, true));
        tick_c(&mut t, &mut g, &mut x, 6, &[(10, 0, 185)], &last);
        tick_c(&mut t, &mut g, &mut x, 7, &[(10, 0, 185)], &[]);
        tick_c(&mut t, &mut g, &mut x, 8, &[(10, 0, 185)], &[]);
        // 20's tails as it went (40 + 50 + 50 ms) to its children; the rest, with 20's own
        // teardown, from 10's cutime to 20's group: 255 ms of tails, less two ticks of slack
        // and 5 ms of rounding.
        assert_eq!(system(&mut g, "new"), 14);
        assert_eq!(system(&mut g, "app"), 10);
    }

    fn exits() -> Exits {
        let mut x = Exits::new(&HostPaths::default(), false, false);
        x.active = true;
        x.mode = Mode::ExitRecords;
        x
    }

    #[test]
    fn a_seen_process_is_credited_what_it_ran_since_its_last_reading_once() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        tick(&mut t, &mut g, &mut x, 1, &[(7, 10)], &[]);
        // A thread of 7 ends: 7 still runs, its readings include the thread.
        tick(&mut t, &mut g, &mut x, 2, &[(7, 12)], &[Exit::for_test(8, 7, 1, 20_000, false)]);
        assert_eq!(user(&mut g, "app"), 2);
        // 7 ends after the reading at 12 ticks: 20 ms of the thread + 130 ms of its own.
        tick(&mut t, &mut g, &mut x, 3, &[(7, 12)], &[Exit::for_test(7, 7, 1, 130_000, true)]);
        assert_eq!(user(&mut g, "app"), 5);
        // Its zombie read again, then gone: nothing more.
        tick(&mut t, &mut g, &mut x, 4, &[(7, 16)], &[]);
        tick(&mut t, &mut g, &mut x, 5, &[], &[]);
        assert_eq!(user(&mut g, "app"), 5);
        assert_eq!(x.endings["app"][&Reason::Zero], 1);
    }

    #[test]
    fn a_process_gone_before_its_record_keeps_its_group() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        tick(&mut t, &mut g, &mut x, 1, &[(7, 10)], &[]);
        tick(&mut t, &mut g, &mut x, 2, &[], &[]);
        tick(&mut t, &mut g, &mut x, 3, &[], &[Exit::for_test(7, 7, 1, 110_000, true)]);
        assert_eq!(user(&mut g, "app"), 1);
    }

    #[test]
    fn never_seen_processes_count_whole_and_fractions_of_a_tick_add_up() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        tick(&mut t, &mut g, &mut x, 1, &[], &[]);
        let short: Vec<Exit> = (100..110).map(|p| Exit::for_test(p, p, 1, 3_500, true)).collect();
        tick(&mut t, &mut g, &mut x, 2, &[], &short);
        // 35 ms: 3 ticks exported, 5 ms carried.
        assert_eq!(user(&mut g, "new"), 3);
        tick(&mut t, &mut g, &mut x, 3, &[], &[Exit::for_test(200, 200, 1, 5_000, true)]);
        assert_eq!(user(&mut g, "new"), 4);
        assert_eq!(x.endings["new"][&Reason::Zero], 11);
    }

    #[test]
    fn after_a_loss_records_only_count_exits() {
        let (mut t, mut g, mut x) = (Table::default(), Groups::new(10), exits());
        x.mode = Mode::CutimeAfterLoss;
        tick(&mut t, &mut g, &mut x, 1, &[], &[Exit::for_test(9, 9, 1, 50_000, true)]);
        assert_eq!(user(&mut g, "new"), 0);
        assert_eq!(x.endings["new"][&Reason::Zero], 1);
    }

    #[test]
    fn the_runtime_is_split_as_ticked() {
        let d = Dead {
            cpu_us: [30, 10],
            run_us: 100,
            ..Dead::default()
        };
        assert_eq!(d.user_us(), 75);
        let none = Dead {
            run_us: 7,
            ..Dead::default()
        };
        assert_eq!(none.user_us(), 7);
    }
}

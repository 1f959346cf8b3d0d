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
//! Exact, with one approximation: a process already running when vitals started, whose
//! threads had exited before it was first seen, is credited at most its last interval
//! less those threads' time (clamped at zero).

use std::collections::{BTreeMap, HashMap};

use super::groups::{Groups, IO_FIELDS, KERNEL, MAJOR, MINOR, SYSTEM, USER};
use super::table::{DROPPED, Last, Table};
use crate::host::HostPaths;
use crate::host::taskstats::{Ending, Exit, signal_name};
use crate::host::taskstats_listener::{Listener, StartError, Totals};
use crate::snapshot::Snapshot;

use super::catalog::{
    ACCOUNTING_MODE, CPU_OVERCOUNTED, CPU_UNATTRIBUTED, EXIT_REASON, EXIT_RECORDS,
    EXIT_RECORDS_LOST, EXIT_SIGNAL, EXITS, GROUP, MODE_LABEL,
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
    btime: u64,
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
        self.run_us += match e.run_ns {
            0 => e.utime_us + e.stime_us,
            ns => ns / 1000,
        };
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

pub struct Exits {
    listener: Option<Listener>,
    /// Records are credited (a listener runs).
    active: bool,
    mode: Mode,
    batch: Vec<Exit>,
    totals: Totals,
    dead: HashMap<u32, Dead>,
    /// Processes gone from the table lately: (tick, last reading, credited by cutime).
    recent: HashMap<u32, (u64, Last, bool)>,
    /// Microseconds of CPU not yet a whole clock tick, per group and mode.
    rem: HashMap<u32, [u64; 2]>,
    endings: HashMap<String, BTreeMap<Reason, u64>>,
    /// Kernel task CPU and [`Exits::attributed`] (ticks) at the previous tick.
    prev: Option<(u64, u64)>,
    /// What the groups gained since the first tick (ticks).
    attributed: u64,
    prev_groups: HashMap<u32, u64>,
    /// Unattributed and overcounted CPU ticks over the last interval.
    residual: Option<(u64, u64)>,
}

impl Exits {
    /// Starts the listener when `enabled`, logging once why it could not.
    pub fn new(paths: &HostPaths, enabled: bool) -> Exits {
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
        Exits {
            mode: if listener.is_some() {
                Mode::ExitRecords
            } else {
                Mode::Cutime
            },
            active: listener.is_some(),
            listener,
            batch: Vec::new(),
            totals: Totals::default(),
            dead: HashMap::new(),
            recent: HashMap::new(),
            rem: HashMap::new(),
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
        let totals = l.drain(&mut self.batch);
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
        for e in batch.drain(..) {
            let d = self.dead.entry(e.tgid).or_default();
            if d.tick != 0 && d.btime.abs_diff(e.btime) as f64 > START_SLACK {
                *d = Dead::default();
            }
            d.btime = e.btime;
            d.tick = tick;
            d.add(&e);
            if !e.group_dead {
                continue;
            }
            let d = self.dead.remove(&e.tgid).unwrap_or_default();
            let same = |start: u64| {
                boot.is_none_or(|b| {
                    (b as f64 + start as f64 / clk - e.btime as f64).abs() <= START_SLACK
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
                rem[m] += us;
                let ticks = rem[m] / us_per_tick;
                rem[m] -= ticks * us_per_tick;
                g.totals.cpu_faults[m] += ticks;
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
        self.dead
            .retain(|tgid, d| tick - d.tick <= KEEP_TICKS || table.info(*tgid).is_some());
        self.recent.retain(|_, (t, _, _)| tick - *t <= KEEP_TICKS);
        self.rem.retain(|id, _| groups.get(*id).is_some());
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
        if let Some((under, over)) = self.residual {
            out.add(&CPU_UNATTRIBUTED, &[], under as f64 / clk);
            out.add(&CPU_OVERCOUNTED, &[], over as f64 / clk);
        }
    }
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

    fn reading(utime: u64) -> Reading {
        Reading {
            start: 500,
            ppid: 1,
            own: [utime, 0, 0, 0],
            ..Reading::default()
        }
    }

    /// One tick: `live` are read; then `records` arrive and are credited; never-seen
    /// processes go to group "new".
    fn tick(t: &mut Table, g: &mut Groups, x: &mut Exits, n: u64, live: &[(u32, u64)], records: &[Exit]) {
        t.begin(Some(0));
        t.exit_records = true;
        let app = g.get_or_insert("app").unwrap();
        for &(pid, utime) in live {
            t.observe(pid, b"app", &reading(utime), g);
        }
        let fresh: Vec<u32> = t.fresh().collect();
        for pid in fresh {
            t.assign(pid, app, true, 0);
        }
        t.place_fresh(g);
        t.settle(g, |_, _| false);
        x.batch.extend_from_slice(records);
        x.credit(n, None, 100.0, t, g, |_, _, g| g.get_or_insert("new").unwrap());
    }

    fn user(g: &mut Groups, name: &str) -> u64 {
        let id = g.get_or_insert(name).unwrap();
        g.get(id).unwrap().totals.cpu_faults[USER]
    }

    fn exits() -> Exits {
        let mut x = Exits::new(&HostPaths::default(), false);
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

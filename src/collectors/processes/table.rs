//! The processes vitals has seen, by identity (pid, start time), and the arithmetic that
//! turns their readings into group counters that never go backwards:
//!
//! - A member's increment since its previous reading is added to its group; a reading below
//!   the previous one adds nothing (and becomes the new base), so there is never an unsigned
//!   wrap. A process that exits takes nothing away.
//! - A process first seen after the first tick that started after vitals did counts from
//!   birth (its whole reading at first sight); one present at the first tick counts from then.
//! - Exited children, as netdata's apps.plugin credits them: a process's cutime, cstime,
//!   cmajflt and cminflt grow by the final totals of each child it reaps. Each tick, that
//!   growth is added to the process's group, less the final totals of the children vitals
//!   saw and already counted (registered when such a child disappears, and matched against
//!   the parent's growth in the same or the next tick). Children that lived less than an
//!   interval are thus counted once, in their parent's group.
//!
//! The table is pure: the collector feeds it readings and it never touches the host, except
//! through the `alive` callback of [`Table::settle`].

use std::collections::HashMap;

use super::groups::{Groups, IO_FIELDS, Member, SYSTEM, USER};

/// The group id of a process that belongs to no group (`unmatched = "drop"`).
pub const DROPPED: u32 = u32::MAX;
/// The group id of a process not matched yet (first seen this tick).
pub const UNASSIGNED: u32 = u32::MAX - 1;

const KTHREAD: u8 = 1;
const NEWBORN: u8 = 2;
const HAS_IO: u8 = 4;
const HAS_CTX: u8 = 8;
/// The group came from a rule or from an ancestor: children may inherit it.
const INHERITABLE: u8 = 16;
/// comm or uid changed (an exec, a setuid): match again.
const REMATCH: u8 = 32;
/// Its exit record was credited ([`super::exits`]): later readings (a zombie) add nothing.
const EXITED: u8 = 64;

/// One process's reading in one tick. `own` and `child` are in the order of
/// [`super::groups::USER`].. (utime, stime, majflt, minflt and the children's same four).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub start: u64,
    pub ppid: u32,
    pub kthread: bool,
    pub own: [u64; 4],
    pub child: [u64; 4],
    pub uid: Option<u32>,
    /// read_bytes, write_bytes, rchar, wchar, syscr, syscw.
    pub io: Option<[u64; IO_FIELDS]>,
    /// voluntary, involuntary.
    pub ctx: Option<[u64; 2]>,
    pub fd_limit: Option<u64>,
    pub member: Member,
}

#[derive(Debug)]
struct Proc {
    start: u64,
    ppid: u32,
    group: u32,
    uid: u32,
    seen: u64,
    flags: u8,
    comm: Box<[u8]>,
    own: [u64; 4],
    /// The children's counters up to which growth has been credited.
    child: [u64; 4],
    child_now: [u64; 4],
    /// The children's CPU (cutime + cstime) at the reading before, if any.
    children_cpu_before: Option<u64>,
    io: [u64; IO_FIELDS],
    ctx: [u64; 2],
    fd_limit: u64,
    /// Hash of the name this process would have had, when `max_groups` folded it.
    folded: u64,
}

/// Final totals of seen children not yet matched against their parent's growth, registered
/// in this tick (`new`) or the previous one (`old`). What is still unmatched after that
/// never arrives (an auto-reaped child) and is dropped.
#[derive(Debug, Default, Clone, Copy)]
struct Pending {
    start: u64,
    old: [u64; 4],
    new: [u64; 4],
}

/// A process first seen (or changed) this tick, waiting for its group.
#[derive(Debug, Clone, Copy)]
pub struct Fresh {
    pub pid: u32,
    member: Member,
    rematch: bool,
}

/// A process in a group this tick, for top-N: its own CPU ticks and storage bytes (read and
/// written) in the interval (unknown at first sight of a process older than vitals' first
/// tick) and RSS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub pid: u32,
    pub cpu_ticks: Option<u64>,
    pub disk_bytes: Option<u64>,
    pub rss: u64,
}

/// What the collector needs to know of a tracked process.
#[derive(Debug, Clone, Copy)]
pub struct Info<'a> {
    pub ppid: u32,
    pub start: u64,
    pub group: u32,
    pub kthread: bool,
    pub inheritable: bool,
    pub comm: &'a [u8],
    pub uid: Option<u32>,
    /// Soft RLIMIT_NOFILE as last read; 0 when unknown or unlimited.
    pub fd_limit: u64,
    /// comm or uid changed this tick: waiting to be matched again.
    pub rematch: bool,
    /// Its reaped children's CPU (cutime + cstime, clock ticks) as last read, and as read
    /// the tick before when it was.
    pub children_cpu: u64,
    pub children_cpu_before: Option<u64>,
}

/// A process's last reading, for crediting its exit record ([`super::exits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Last {
    pub start: u64,
    pub group: u32,
    /// utime, stime (ticks), majflt, minflt.
    pub own: [u64; 4],
    pub io: Option<[u64; IO_FIELDS]>,
    pub ctx: Option<[u64; 2]>,
    /// Its reaped children's CPU (cutime + cstime, ticks), read in tick `seen`.
    pub children_cpu: u64,
    pub seen: u64,
}

impl Proc {
    fn last(&self) -> Last {
        Last {
            start: self.start,
            group: self.group,
            children_cpu: self.child_now[USER] + self.child_now[SYSTEM],
            seen: self.seen,
            own: self.own,
            io: (self.flags & HAS_IO != 0).then_some(self.io),
            ctx: (self.flags & HAS_CTX != 0).then_some(self.ctx),
        }
    }
}

#[derive(Debug, Default)]
pub struct Table {
    /// Exited processes are credited from exit records this tick: the children's counters
    /// (cutime...) are followed but not credited.
    pub exit_records: bool,
    procs: HashMap<u32, Proc>,
    pending: HashMap<u32, Pending>,
    tick: u64,
    /// Start time (ticks after boot) from which a newly seen process counts from birth.
    born_after: u64,
    fresh: Vec<Fresh>,
    gone: Vec<(u32, Proc)>,
    candidates: Vec<Candidate>,
    scratch: Vec<u32>,
    order: Vec<(u64, u32, bool)>,
    jumps: Vec<u32>,
}

fn inc(new: u64, last: &mut u64) -> u64 {
    let d = new.saturating_sub(*last);
    *last = new;
    d
}

/// Adds the increments of an optional counter set (io, context switches) to `total`. Its
/// first readable value (`first`) is a base, except for a newborn, whose whole value counts.
fn advance<const N: usize>(
    new: [u64; N],
    last: &mut [u64; N],
    first: bool,
    newborn: bool,
    total: Option<&mut [u64; N]>,
) {
    let mut d = [0; N];
    for ((d, &n), l) in d.iter_mut().zip(&new).zip(last.iter_mut()) {
        *d = match (first, newborn) {
            (true, true) => n,
            (true, false) => 0,
            (false, _) => n.saturating_sub(*l),
        };
        *l = n;
    }
    if let Some(total) = total {
        for (t, d) in total.iter_mut().zip(d) {
            *t += d;
        }
    }
}

impl Table {
    /// Starts a tick. `uptime_ticks` (clock ticks since boot, now) is used on the first tick
    /// only: processes that start later count from birth.
    pub fn begin(&mut self, uptime_ticks: Option<u64>) {
        self.tick += 1;
        if self.tick == 1 {
            self.born_after = uptime_ticks.unwrap_or(0);
        }
        self.fresh.clear();
        self.candidates.clear();
        self.gone.clear();
    }

    /// Processes that left the table this tick (until the next [`Table::begin`]).
    pub fn gone(&self) -> impl Iterator<Item = (u32, Last)> + '_ {
        self.gone.iter().map(|(pid, p)| (*pid, p.last()))
    }

    /// The last reading of `pid` when its start time passes `same`, marking it exited: its
    /// exit record is credited by the caller, and nothing more is added for it.
    pub fn exited(&mut self, pid: u32, same: impl Fn(u64) -> bool) -> Option<Last> {
        let p = self
            .procs
            .get_mut(&pid)
            .filter(|p| p.flags & EXITED == 0 && same(p.start))?;
        p.flags |= EXITED;
        Some(p.last())
    }

    /// True when `pid` is a process already tracked under the same identity and dropped: its
    /// optional files need not be read.
    pub fn is_dropped(&self, pid: u32, start: u64) -> bool {
        self.procs
            .get(&pid)
            .is_some_and(|p| p.start == start && p.group == DROPPED)
    }

    pub fn info(&self, pid: u32) -> Option<Info<'_>> {
        self.procs.get(&pid).map(|p| Info {
            ppid: p.ppid,
            start: p.start,
            group: p.group,
            kthread: p.flags & KTHREAD != 0,
            inheritable: p.flags & INHERITABLE != 0,
            comm: &p.comm,
            uid: (p.uid != u32::MAX).then_some(p.uid),
            fd_limit: p.fd_limit,
            rematch: p.flags & REMATCH != 0,
            children_cpu: p.child_now[USER] + p.child_now[SYSTEM],
            children_cpu_before: p.children_cpu_before,
        })
    }

    /// Records one reading. A known process's increments go to its group at once; a new one
    /// (or one whose comm or uid changed) waits in [`Table::fresh`] for its group.
    pub fn observe(&mut self, pid: u32, comm: &[u8], r: &Reading, groups: &mut Groups) {
        let tick = self.tick;
        if let Some(p) = self.procs.get(&pid)
            && p.start != r.start
        {
            // The pid was reused: the old process is gone.
            if let Some(old) = self.procs.remove(&pid) {
                self.gone.push((pid, old));
            }
        }
        let Some(p) = self.procs.get_mut(&pid) else {
            self.insert(pid, comm, r);
            return;
        };
        p.seen = tick;
        p.ppid = r.ppid;
        if p.flags & EXITED != 0 {
            if let Some(g) = groups.get_mut(p.group) {
                g.gauges.add(&r.member);
            }
            return;
        }
        if let Some(l) = r.fd_limit {
            p.fd_limit = l;
        }
        let mut group = groups.get_mut(p.group);
        let mut cpu = 0;
        for k in 0..4 {
            let d = inc(r.own[k], &mut p.own[k]);
            if k < 2 {
                cpu += d;
            }
            if let Some(g) = group.as_deref_mut() {
                g.totals.cpu_faults[k] += d;
            }
        }
        p.children_cpu_before = Some(p.child_now[USER] + p.child_now[SYSTEM]);
        p.child_now = r.child;
        let newborn = p.flags & NEWBORN != 0;
        let mut disk_bytes = None;
        if let Some(io) = r.io {
            let first = p.flags & HAS_IO == 0;
            if !first {
                disk_bytes = Some(
                    io[0].saturating_sub(p.io[0]) + io[1].saturating_sub(p.io[1]),
                );
            }
            p.flags |= HAS_IO;
            let g = group.as_deref_mut().map(|g| {
                g.has_io = true;
                &mut g.totals.io
            });
            advance(io, &mut p.io, first, newborn, g);
        }
        if let Some(ctx) = r.ctx {
            let first = p.flags & HAS_CTX == 0;
            p.flags |= HAS_CTX;
            let g = group.as_deref_mut().map(|g| {
                g.has_ctx = true;
                &mut g.totals.ctx
            });
            advance(ctx, &mut p.ctx, first, newborn, g);
        }
        let changed =
            p.flags & KTHREAD == 0 && (*p.comm != *comm || r.uid.is_some_and(|u| u != p.uid));
        if changed {
            p.comm = comm.into();
            p.uid = r.uid.unwrap_or(u32::MAX);
            p.flags |= REMATCH;
            self.fresh.push(Fresh {
                pid,
                member: r.member,
                rematch: true,
            });
        } else if let Some(g) = group {
            g.gauges.add(&r.member);
        }
        if p.group != DROPPED {
            self.candidates.push(Candidate {
                pid,
                cpu_ticks: Some(cpu),
                disk_bytes,
                rss: r.member.rss,
            });
        }
    }

    fn insert(&mut self, pid: u32, comm: &[u8], r: &Reading) {
        let newborn = self.tick > 1 && r.start >= self.born_after;
        let mut flags = 0;
        if r.kthread {
            flags |= KTHREAD;
        }
        if newborn {
            flags |= NEWBORN;
        }
        if r.io.is_some() {
            flags |= HAS_IO;
        }
        if r.ctx.is_some() {
            flags |= HAS_CTX;
        }
        self.procs.insert(
            pid,
            Proc {
                start: r.start,
                ppid: r.ppid,
                group: UNASSIGNED,
                uid: r.uid.unwrap_or(u32::MAX),
                seen: self.tick,
                flags,
                comm: comm.into(),
                own: r.own,
                child: if newborn { [0; 4] } else { r.child },
                child_now: r.child,
                children_cpu_before: None,
                io: r.io.unwrap_or_default(),
                ctx: r.ctx.unwrap_or_default(),
                fd_limit: r.fd_limit.unwrap_or(0),
                folded: 0,
            },
        );
        self.fresh.push(Fresh {
            pid,
            member: r.member,
            rematch: false,
        });
    }

    /// Processes waiting for a group this tick, in the order they were read.
    pub fn fresh(&self) -> impl Iterator<Item = u32> + '_ {
        self.fresh.iter().map(|f| f.pid)
    }

    /// Gives a waiting process its group (`DROPPED` for none). `inheritable`: its children
    /// may join it. `folded`: a hash of the name `max_groups` had no room for, else 0.
    pub fn assign(&mut self, pid: u32, group: u32, inheritable: bool, folded: u64) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.group = group;
            p.folded = folded;
            if inheritable {
                p.flags |= INHERITABLE;
            } else {
                p.flags &= !INHERITABLE;
            }
        }
    }

    /// After every waiting process has its group: adds their gauges, and a newborn's whole
    /// lifetime, to their groups.
    pub fn place_fresh(&mut self, groups: &mut Groups) {
        for f in &self.fresh {
            let Some(p) = self.procs.get_mut(&f.pid) else {
                continue;
            };
            p.flags &= !REMATCH;
            if p.group == UNASSIGNED {
                p.group = DROPPED;
            }
            let Some(g) = groups.get_mut(p.group) else {
                continue;
            };
            g.gauges.add(&f.member);
            if f.rematch {
                continue;
            }
            g.has_io |= p.flags & HAS_IO != 0;
            g.has_ctx |= p.flags & HAS_CTX != 0;
            let newborn = p.flags & NEWBORN != 0;
            if newborn {
                g.started += 1;
                for k in 0..4 {
                    g.totals.cpu_faults[k] += p.own[k];
                }
                for k in 0..IO_FIELDS {
                    g.totals.io[k] += p.io[k];
                }
                for k in 0..2 {
                    g.totals.ctx[k] += p.ctx[k];
                }
            }
            self.candidates.push(Candidate {
                pid: f.pid,
                cpu_ticks: newborn.then(|| p.own[0] + p.own[1]),
                disk_bytes: newborn.then(|| p.io[0] + p.io[1]),
                rss: f.member.rss,
            });
        }
    }

    /// Ends a tick: processes not seen are gone; children's growth is credited to their
    /// parents' groups less what was already counted for seen children. `alive(pid, start)`
    /// re-checks a child that was read before its parent (a lower pid) when the parent's
    /// children's counters grew: if the child is gone now, that growth may be its own.
    pub fn settle(&mut self, groups: &mut Groups, mut alive: impl FnMut(u32, u64) -> bool) {
        let tick = self.tick;
        self.scratch.clear();
        self.scratch.extend(
            self.procs
                .iter()
                .filter(|(_, p)| p.seen != tick)
                .map(|(&pid, _)| pid),
        );
        self.jumps.clear();
        self.jumps.extend(
            self.procs
                .iter()
                .filter(|(_, p)| p.seen == tick && p.child_now != p.child)
                .map(|(&pid, _)| pid),
        );
        if !self.jumps.is_empty() {
            self.jumps.sort_unstable();
            for (&pid, p) in &self.procs {
                if p.seen == tick
                    && pid < p.ppid
                    && self.jumps.binary_search(&p.ppid).is_ok()
                    && !alive(pid, p.start)
                {
                    self.scratch.push(pid);
                }
            }
        }
        for pid in self.scratch.drain(..) {
            if let Some(p) = self.procs.remove(&pid) {
                self.gone.push((pid, p));
            }
        }

        // Children before parents: a child never starts before its parent.
        self.order.clear();
        self.order.extend(
            self.gone
                .iter()
                .enumerate()
                .map(|(i, (_, p))| (p.start, i as u32, true)),
        );
        self.order.extend(
            self.jumps
                .iter()
                .filter_map(|&pid| self.procs.get(&pid).map(|p| (p.start, pid, false))),
        );
        self.order
            .sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.2.cmp(&a.2)).then(b.1.cmp(&a.1)));
        for &(_, key, is_gone) in &self.order {
            if is_gone {
                if self.exit_records {
                    continue;
                }
                let (pid, c) = &self.gone[key as usize];
                let mut total = [0u64; 4];
                for (k, t) in total.iter_mut().enumerate() {
                    *t = c.own[k].saturating_add(c.child[k]);
                }
                if let Some(p) = self.pending.remove(pid)
                    && p.start == c.start
                {
                    for (k, t) in total.iter_mut().enumerate() {
                        *t = t.saturating_add(p.old[k]).saturating_add(p.new[k]);
                    }
                }
                // The parent is alive, or gone in this same tick (then its own entry is
                // handed on to its parent in turn, as it comes later in the order).
                let parent_start = self
                    .procs
                    .get(&c.ppid)
                    .map(|p| p.start)
                    .filter(|&s| s <= c.start)
                    .or_else(|| {
                        self.gone
                            .iter()
                            .find(|(pid, p)| *pid == c.ppid && p.start <= c.start)
                            .map(|(_, p)| p.start)
                    });
                let Some(parent_start) = parent_start else {
                    continue;
                };
                let entry = self.pending.entry(c.ppid).or_insert(Pending {
                    start: parent_start,
                    ..Pending::default()
                });
                if entry.start != parent_start {
                    *entry = Pending {
                        start: parent_start,
                        ..Pending::default()
                    };
                }
                for (k, t) in total.iter().enumerate() {
                    entry.new[k] = entry.new[k].saturating_add(*t);
                }
            } else {
                let Some(p) = self.procs.get_mut(&key) else {
                    continue;
                };
                if self.exit_records {
                    p.child = p.child_now;
                    continue;
                }
                let mut pending = self.pending.get_mut(&key).filter(|e| e.start == p.start);
                let group = groups.get_mut(p.group);
                let mut credit = [0u64; 4];
                for (k, c) in credit.iter_mut().enumerate() {
                    let mut d = inc(p.child_now[k], &mut p.child[k]);
                    if let Some(e) = pending.as_deref_mut() {
                        for slot in [&mut e.old[k], &mut e.new[k]] {
                            let take = d.min(*slot);
                            *slot -= take;
                            d -= take;
                        }
                    }
                    *c = d;
                }
                if let Some(g) = group {
                    for (k, c) in credit.iter().enumerate() {
                        g.totals.cpu_faults[k] += c;
                    }
                }
            }
        }
        let procs = &self.procs;
        self.pending.retain(|pid, e| {
            e.old = e.new;
            e.new = [0; 4];
            e.old != [0; 4] && procs.get(pid).is_some_and(|p| p.start == e.start)
        });
    }

    /// Processes in a group this tick with their CPU and RSS, for top-N.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Number of distinct names folded into `other` among live processes, using `set` as
    /// scratch space.
    pub fn folded_names(&self, set: &mut std::collections::HashSet<u64>) -> usize {
        set.clear();
        set.extend(self.procs.values().map(|p| p.folded).filter(|&h| h != 0));
        set.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::groups::{MAJOR, MINOR};
    use super::*;

    struct World {
        table: Table,
        groups: Groups,
        g: u32,
    }

    impl World {
        fn new() -> World {
            let mut groups = Groups::new(10);
            let g = groups.get_or_insert("g").unwrap();
            World {
                table: Table::default(),
                groups,
                g,
            }
        }

        /// One tick over `procs` (pid, reading); everything goes to group "g"; `gone_now`
        /// are the pids whose re-check reports them gone.
        fn tick_with(&mut self, procs: &[(u32, Reading)], gone_now: &[u32]) {
            self.table.begin(Some(1000));
            self.groups.begin_tick();
            for (pid, r) in procs {
                self.table.observe(*pid, b"x", r, &mut self.groups);
            }
            let fresh: Vec<u32> = self.table.fresh().collect();
            for pid in fresh {
                self.table.assign(pid, self.g, true, 0);
            }
            self.table.place_fresh(&mut self.groups);
            self.table
                .settle(&mut self.groups, |pid, _| !gone_now.contains(&pid));
        }

        fn tick(&mut self, procs: &[(u32, Reading)]) {
            self.tick_with(procs, &[]);
        }

        fn user(&self) -> u64 {
            self.groups.get(self.g).unwrap().totals.cpu_faults[USER]
        }
    }

    fn r(start: u64, ppid: u32, utime: u64, cutime: u64) -> Reading {
        Reading {
            start,
            ppid,
            own: [utime, 0, 0, 0],
            child: [cutime, 0, 0, 0],
            ..Reading::default()
        }
    }

    #[test]
    fn increments_from_first_sight_and_never_backwards() {
        let mut w = World::new();
        w.tick(&[(10, r(5, 1, 100, 0))]);
        assert_eq!(w.user(), 0, "present at start-up: counts from then");
        w.tick(&[(10, r(5, 1, 130, 0))]);
        assert_eq!(w.user(), 30);
        w.tick(&[(10, r(5, 1, 120, 0))]);
        assert_eq!(w.user(), 30, "a reading that goes down adds nothing");
        w.tick(&[(10, r(5, 1, 125, 0))]);
        assert_eq!(w.user(), 35, "and counts again from the lower value");
        w.tick(&[]);
        assert_eq!(w.user(), 35, "exiting takes nothing away");
    }

    #[test]
    fn newborns_count_whole_and_a_reused_pid_is_a_new_process() {
        let mut w = World::new();
        w.tick(&[(10, r(5, 1, 100, 0))]);
        // pid 11 started at 2000 > 1000 ticks of uptime at the first tick: born after.
        w.tick(&[(10, r(5, 1, 100, 0)), (11, r(2000, 1, 40, 0))]);
        assert_eq!(w.user(), 40);
        // pid 10 is reused by a process started at 3000 with 7 ticks.
        w.tick(&[(10, r(3000, 1, 7, 0)), (11, r(2000, 1, 40, 0))]);
        assert_eq!(w.user(), 47, "no unsigned wrap from 100 to 7");
        // An old process vitals had not seen (started at 500): counts from now.
        w.tick(&[
            (10, r(3000, 1, 7, 0)),
            (11, r(2000, 1, 40, 0)),
            (12, r(500, 1, 900, 0)),
        ]);
        assert_eq!(w.user(), 47);
    }

    #[test]
    fn io_and_ctx_unreadable_then_readable() {
        let mut w = World::new();
        let mut a = r(5, 1, 0, 0);
        a.io = None;
        w.tick(&[(10, a)]);
        a.io = Some([10, 20, 30, 40, 1, 2]);
        w.tick(&[(10, a)]);
        let g = w.groups.get(w.g).unwrap();
        assert_eq!(
            g.totals.io, [0; IO_FIELDS],
            "first readable: the base, not the lifetime"
        );
        assert!(g.has_io);
        a.io = None;
        w.tick(&[(10, a)]);
        a.io = Some([15, 20, 30, 41, 3, 2]);
        w.tick(&[(10, a)]);
        assert_eq!(
            w.groups.get(w.g).unwrap().totals.io,
            [5, 0, 0, 1, 2, 0]
        );
    }

    #[test]
    fn unseen_children_are_credited_through_the_parent() {
        let mut w = World::new();
        w.tick(&[(10, r(5, 1, 100, 50))]);
        // The parent reaped children vitals never saw: 30 ticks.
        w.tick(&[(10, r(5, 1, 105, 80))]);
        assert_eq!(w.user(), 5 + 30);
    }

    #[test]
    fn seen_children_are_counted_once() {
        let mut w = World::new();
        w.tick(&[(10, r(5, 1, 100, 0))]);
        // Child 20 is born, seen with 4 ticks.
        w.tick(&[(10, r(5, 1, 100, 0)), (20, r(2000, 10, 4, 0))]);
        assert_eq!(w.user(), 4);
        // It ran 2 more ticks, exited and was reaped: the parent's cutime has its 6.
        w.tick(&[(10, r(5, 1, 100, 6))]);
        assert_eq!(w.user(), 6, "the 4 seen, plus the 2 unseen");
    }

    #[test]
    fn a_childs_exit_seen_before_the_parents_growth() {
        let mut w = World::new();
        w.tick(&[(10, r(5, 1, 100, 0))]);
        w.tick(&[(10, r(5, 1, 100, 0)), (20, r(2000, 10, 4, 0))]);
        // The parent was read before the reap, the child after: gone, no growth yet.
        w.tick(&[(10, r(5, 1, 100, 0))]);
        assert_eq!(w.user(), 4);
        // Next tick the growth arrives (the child's 6) and meets the pending 4.
        w.tick(&[(10, r(5, 1, 100, 6))]);
        assert_eq!(w.user(), 6);
        // What is left unmatched after that is dropped, so later children count again.
        w.tick(&[(10, r(5, 1, 100, 16))]);
        assert_eq!(w.user(), 16);
    }

    #[test]
    fn auto_reaped_children_leave_no_lasting_debt() {
        let mut w = World::new();
        w.tick(&[(10, r(5, 1, 0, 0))]);
        w.tick(&[(10, r(5, 1, 0, 0)), (20, r(2000, 10, 50, 0))]);
        // Child gone, parent never grows (SIGCHLD ignored).
        w.tick(&[(10, r(5, 1, 0, 0))]);
        w.tick(&[(10, r(5, 1, 0, 0))]);
        w.tick(&[(10, r(5, 1, 0, 0))]);
        // A later unseen child: fully credited.
        w.tick(&[(10, r(5, 1, 0, 9))]);
        assert_eq!(w.user(), 50 + 9);
    }

    #[test]
    fn a_child_read_before_its_parent_is_rechecked() {
        let mut w = World::new();
        // The child has the lower pid (pids wrapped): it is read first.
        w.tick(&[(30, r(5, 1, 0, 0))]);
        w.tick(&[(30, r(5, 1, 0, 0)), (20, r(2000, 30, 4, 0))]);
        assert_eq!(w.user(), 4);
        // Read alive with 5, then reaped before the parent was read (cutime +6): the
        // re-check finds it gone, so its 5 are not counted twice.
        w.tick_with(&[(20, r(2000, 30, 5, 0)), (30, r(5, 1, 0, 6))], &[20]);
        assert_eq!(w.user(), 6);
    }

    #[test]
    fn grandchildren_through_an_exited_child() {
        let mut w = World::new();
        w.tick(&[(10, r(5, 1, 0, 0))]);
        // 10 -> 20 -> 30, all seen.
        w.tick(&[
            (10, r(5, 1, 0, 0)),
            (20, r(2000, 10, 1, 0)),
            (30, r(2001, 20, 3, 0)),
        ]);
        assert_eq!(w.user(), 4);
        // 30 exits (reaped by 20, whose cutime becomes 3 + 1 more unseen = 4? no: 3 + 1
        // tail = 4); and 20 exits and is reaped by 10 in the same interval: 10's cutime
        // grows by 20's final 2 + its cutime 4.
        w.tick(&[(10, r(5, 1, 0, 6))]);
        // Seen: 1 + 3. Unseen tails: 20's 1, 30's 1. Total 6, each counted once.
        assert_eq!(w.user(), 6);
    }

    #[test]
    fn faults_and_system_time_follow_the_same_rule() {
        let mut w = World::new();
        let base = Reading {
            start: 5,
            ppid: 1,
            ..Reading::default()
        };
        w.tick(&[(10, base)]);
        let mut p = base;
        p.own = [1, 2, 3, 4];
        p.child = [10, 20, 30, 40];
        w.tick(&[(10, p)]);
        let t = w.groups.get(w.g).unwrap().totals.cpu_faults;
        assert_eq!([t[USER], t[SYSTEM], t[MAJOR], t[MINOR]], [11, 22, 33, 44]);
    }

    #[test]
    fn dropped_processes_are_tracked_but_add_nothing() {
        let mut w = World::new();
        w.table.begin(Some(1000));
        w.table.observe(10, b"x", &r(5, 1, 10, 0), &mut w.groups);
        w.table.assign(10, DROPPED, false, 0);
        w.table.place_fresh(&mut w.groups);
        w.table.settle(&mut w.groups, |_, _| true);
        assert!(w.table.is_dropped(10, 5));
        assert!(!w.table.is_dropped(10, 6));
        w.tick(&[(10, r(5, 1, 20, 0))]);
        assert_eq!(w.user(), 0);
        assert!(w.table.candidates().is_empty());
    }

    #[test]
    fn exec_rematches_and_moves_gauges() {
        let mut w = World::new();
        w.tick(&[(10, r(5, 1, 0, 0))]);
        w.table.begin(None);
        w.groups.begin_tick();
        w.table.observe(10, b"gcc", &r(5, 1, 3, 0), &mut w.groups);
        assert_eq!(w.table.fresh().collect::<Vec<_>>(), [10]);
        assert_eq!(w.table.info(10).unwrap().comm, b"gcc");
        assert_eq!(
            w.user(),
            3,
            "increments before the exec stay with the old group"
        );
        assert_eq!(w.groups.get(w.g).unwrap().gauges.members, 0);
    }
}

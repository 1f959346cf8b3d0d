//! The group table: each group's counters (sums of its members' increments, never
//! decreasing), this tick's gauges, and its slot under `max_groups`. A name that finds the
//! table full is folded into `other`. A group with no members keeps its counters for
//! `empty_group_ttl`, then its slot is freed and its series go.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::host::proc_pid_stat::STATES;

/// Where unmatched and folded processes go.
pub const OTHER: &str = "other";
/// Every kernel thread's group.
pub const KERNEL: &str = "kernel";

/// Counter slots of [`Totals::cpu_faults`]: what `/proc/<pid>/stat` gives for a process and
/// for its waited-for children, in the same order.
pub const USER: usize = 0;
pub const SYSTEM: usize = 1;
pub const MAJOR: usize = 2;
pub const MINOR: usize = 3;

/// Counters of `/proc/<pid>/io` a group sums: read_bytes, write_bytes, rchar, wchar, syscr,
/// syscw.
pub const IO_FIELDS: usize = 6;

/// A group's counters, in kernel units (clock ticks, faults, bytes, switches).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// user, system CPU ticks; major, minor faults.
    pub cpu_faults: [u64; 4],
    /// read_bytes, write_bytes, rchar, wchar, syscr, syscw ([`IO_FIELDS`]).
    pub io: [u64; IO_FIELDS],
    /// voluntary, involuntary.
    pub ctx: [u64; 2],
}

/// The sums of this tick's member readings. A `None` sum means no member's file was readable.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gauges {
    pub members: u64,
    pub by_state: [u64; STATES.len()],
    pub threads: u64,
    pub rss: u64,
    pub vms: u64,
    pub shared: Option<u64>,
    pub swap: Option<u64>,
    pub uss: Option<u64>,
    pub pss: Option<u64>,
    pub fds: Option<u64>,
    pub fd_ratio: Option<f64>,
    /// Lowest start time (ticks after boot) of a member.
    pub oldest: Option<u64>,
}

/// One process's contribution to [`Gauges`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Member {
    pub state: Option<usize>,
    pub threads: u64,
    pub rss: u64,
    pub vms: u64,
    pub shared: Option<u64>,
    pub swap: Option<u64>,
    pub uss_pss: Option<(u64, u64)>,
    pub fds: Option<u64>,
    pub fd_ratio: Option<f64>,
    pub start: u64,
}

fn add(sum: &mut Option<u64>, v: Option<u64>) {
    if let Some(v) = v {
        *sum = Some(sum.unwrap_or(0).saturating_add(v));
    }
}

impl Gauges {
    pub fn add(&mut self, m: &Member) {
        self.members += 1;
        if let Some(i) = m.state {
            self.by_state[i] += 1;
        }
        self.threads += m.threads;
        self.rss = self.rss.saturating_add(m.rss);
        self.vms = self.vms.saturating_add(m.vms);
        add(&mut self.shared, m.shared);
        add(&mut self.swap, m.swap);
        add(&mut self.uss, m.uss_pss.map(|p| p.0));
        add(&mut self.pss, m.uss_pss.map(|p| p.1));
        add(&mut self.fds, m.fds);
        if let Some(r) = m.fd_ratio {
            self.fd_ratio = Some(self.fd_ratio.map_or(r, |w: f64| w.max(r)));
        }
        self.oldest = Some(self.oldest.map_or(m.start, |o| o.min(m.start)));
    }
}

#[derive(Debug)]
pub struct Group {
    pub name: String,
    pub totals: Totals,
    /// Some member's io (or status) was readable at least once: the counters are exported.
    pub has_io: bool,
    pub has_ctx: bool,
    /// States a member has had, so that a state's series stays (at 0) once it appeared.
    pub states_seen: u16,
    pub gauges: Gauges,
    /// CPU ticks at the previous tick, for utilization.
    pub prev_cpu: [u64; 2],
    pub empty_since: Option<Instant>,
    /// Processes born into the group since vitals started (restarts, forks).
    pub started: u64,
    /// A `per_process = true` rule made the group: its processes get their own series.
    pub per_process: bool,
}

impl Group {
    fn new(name: String) -> Group {
        Group {
            name,
            totals: Totals::default(),
            has_io: false,
            has_ctx: false,
            states_seen: 0,
            gauges: Gauges::default(),
            prev_cpu: [0; 2],
            empty_since: None,
            started: 0,
            per_process: false,
        }
    }
}

/// Groups by id (an index that stays valid while the group lives) and by name.
#[derive(Debug, Default)]
pub struct Groups {
    slots: Vec<Option<Group>>,
    free: Vec<u32>,
    by_name: HashMap<String, u32>,
    /// Live groups other than `other`.
    named: usize,
    max: usize,
}

impl Groups {
    pub fn new(max: usize) -> Groups {
        Groups {
            max,
            ..Groups::default()
        }
    }

    /// The group called `name`, created if there is room; `None` when `max_groups` groups
    /// exist already (the caller folds the process into `other`).
    pub fn get_or_insert(&mut self, name: &str) -> Option<u32> {
        if let Some(&id) = self.by_name.get(name) {
            return Some(id);
        }
        if name != OTHER && self.named >= self.max {
            return None;
        }
        Some(self.insert(name.to_string()))
    }

    /// The `other` group, always available.
    pub fn other(&mut self) -> u32 {
        match self.by_name.get(OTHER) {
            Some(&id) => id,
            None => self.insert(OTHER.to_string()),
        }
    }

    fn insert(&mut self, name: String) -> u32 {
        if name != OTHER {
            self.named += 1;
        }
        let group = Group::new(name.clone());
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(group);
                id
            }
            None => {
                self.slots.push(Some(group));
                (self.slots.len() - 1) as u32
            }
        };
        self.by_name.insert(name, id);
        id
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Group> {
        self.slots.get_mut(id as usize).and_then(Option::as_mut)
    }

    pub fn get(&self, id: u32) -> Option<&Group> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    /// Clears every group's gauges before a tick's readings are added.
    pub fn begin_tick(&mut self) {
        for g in self.slots.iter_mut().flatten() {
            g.gauges = Gauges::default();
        }
    }

    /// After a tick: notes which groups are empty, and removes those empty for `ttl`.
    pub fn expire(&mut self, now: Instant, ttl: Duration) {
        for id in 0..self.slots.len() {
            let Some(g) = self.slots[id].as_mut() else {
                continue;
            };
            for (i, &n) in g.gauges.by_state.iter().enumerate() {
                if n > 0 {
                    g.states_seen |= 1 << i;
                }
            }
            if g.gauges.members > 0 {
                g.empty_since = None;
                continue;
            }
            let since = *g.empty_since.get_or_insert(now);
            if now.duration_since(since) >= ttl {
                if g.name != OTHER {
                    self.named -= 1;
                }
                self.by_name.remove(&g.name);
                self.slots[id] = None;
                self.free.push(id as u32);
            }
        }
    }

    /// The ids of the live groups.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, g)| g.is_some())
            .map(|(id, _)| id as u32)
    }

    /// Live groups, `other` included.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_table_folds_and_expired_slots_are_reused() {
        let mut g = Groups::new(2);
        let a = g.get_or_insert("a").unwrap();
        let b = g.get_or_insert("b").unwrap();
        assert_eq!(g.get_or_insert("a"), Some(a));
        assert_eq!(g.get_or_insert("c"), None, "full");
        let other = g.other();
        assert_eq!(g.get_or_insert(OTHER), Some(other), "other is never folded");
        assert_eq!(g.len(), 3);

        let t0 = Instant::now();
        let ttl = Duration::from_secs(600);
        g.begin_tick();
        g.get_mut(b).unwrap().gauges.add(&Member::default());
        g.get_mut(a).unwrap().totals.cpu_faults[USER] = 7;
        g.expire(t0, ttl);
        assert!(g.get(a).is_some(), "empty, but not for long");
        g.begin_tick();
        g.get_mut(b).unwrap().gauges.add(&Member::default());
        g.expire(t0 + Duration::from_secs(599), ttl);
        assert_eq!(g.get(a).unwrap().totals.cpu_faults[USER], 7);
        g.begin_tick();
        g.expire(t0 + ttl, ttl);
        assert!(g.get(a).is_none(), "empty for the ttl");
        assert!(g.get(b).is_some(), "b has been empty for one tick only");
        assert!(g.get(other).is_none(), "other expires like any group");
        let c = g.get_or_insert("c").unwrap();
        assert!(c == a || c == other, "a freed slot");
        assert_eq!(g.get(c).unwrap().totals, Totals::default());
    }

    #[test]
    fn gauges_sum_and_keep_the_worst() {
        let mut s = Gauges::default();
        s.add(&Member {
            state: Some(1),
            threads: 8,
            rss: 100,
            fds: Some(50),
            fd_ratio: Some(0.05),
            start: 900,
            ..Member::default()
        });
        s.add(&Member {
            state: Some(5),
            threads: 1,
            rss: 0,
            fd_ratio: Some(0.5),
            start: 500,
            ..Member::default()
        });
        assert_eq!(s.members, 2);
        assert_eq!((s.by_state[1], s.by_state[5]), (1, 1));
        assert_eq!((s.threads, s.rss, s.fds, s.swap), (9, 100, Some(50), None));
        assert_eq!((s.fd_ratio, s.oldest), (Some(0.5), Some(500)));
    }
}

//! The walk of `/proc`: one process read per call (stat always, the rest when it is in a
//! group), then each process first seen this tick matched to its group.

use std::hash::{Hash, Hasher};

use super::groups::{KERNEL, Member};
use super::reader::Failure;
use super::rules::{self, Facts};
use super::settings::Unmatched;
use super::table::{DROPPED, Reading, UNASSIGNED};
use super::teardown::Ignorer;
use super::ProcessesCollector;
use crate::host::bytes::escape;
use crate::host::proc_pid_cgroup::cgroup_path;
use crate::host::proc_pid_cmdline::{args, full_name, join_into};
use crate::host::proc_pid_io::parse_pid_io;
use crate::host::proc_pid_limits::parse_nofile_soft;
use crate::host::proc_pid_smaps::parse_smaps_rollup;
use crate::host::proc_pid_stat::{STATES, ZOMBIE, parse_pid_stat, state_index};
use crate::host::proc_pid_status::parse_pid_status;

/// Files whose unreadability is counted, in `denied` order.
pub(super) const DENIED_FILES: [&str; 3] = ["io", "fd", "smaps_rollup"];
const DENIED_IO: usize = 0;
const DENIED_FD: usize = 1;
pub(super) const DENIED_SMAPS: usize = 2;

/// The length at which the kernel cuts a comm: psutil's `name()` then looks at the cmdline.
pub(super) const COMM_CUT: usize = 15;

/// A process's rlimit is re-read when (pid + tick) is a multiple of this.
const LIMITS_EVERY: u64 = 12;

/// Counts over one pass of /proc.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    pub by_state: [u64; STATES.len()],
    pub threads: u64,
}

impl ProcessesCollector {
    /// Reads one process: stat always; the rest when it is (or may be) in a group.
    pub(super) fn scan(&mut self, pid: u32, counts: &mut Counts) {
        let Ok(bytes) = self.reader.read(pid, "stat") else {
            return;
        };
        let Some(st) = parse_pid_stat(bytes) else {
            return;
        };
        let state = state_index(st.state);
        if let Some(i) = state {
            counts.by_state[i] += 1;
        }
        counts.threads += st.num_threads;
        self.scanned += 1;
        if !self.settings.groups {
            return;
        }
        self.comm.clear();
        self.comm.extend_from_slice(st.comm);
        let mut r = Reading {
            start: st.starttime,
            ppid: st.ppid,
            kthread: st.is_kernel_thread(),
            own: [st.utime, st.stime, st.majflt, st.minflt],
            child: [st.cutime, st.cstime, st.cmajflt, st.cminflt],
            member: Member {
                state,
                threads: st.num_threads,
                rss: st.rss_pages.saturating_mul(self.page_size),
                vms: st.vsize,
                start: st.starttime,
                ..Member::default()
            },
            ..Reading::default()
        };
        if self.table.is_dropped(pid, r.start) {
            self.table.observe(pid, &self.comm, &r, &mut self.groups);
            return;
        }
        if let Ok(bytes) = self.reader.read(pid, "status") {
            let s = parse_pid_status(bytes);
            r.uid = s.real_uid;
            // No memory lines: a kernel thread or a zombie, which has no memory (statm
            // reads all zeros for it).
            r.member.rss = s.rss_bytes();
            r.member.swap = Some(s.swap_bytes());
            r.member.shared = Some(s.shared_bytes().unwrap_or(0));
            r.ctx = s
                .voluntary_ctxt_switches
                .zip(s.nonvoluntary_ctxt_switches)
                .map(|(v, n)| [v, n]);
            // Kernel threads ignore every signal; their exits are the kernel's.
            if s.ignores_sigchld && !r.kthread {
                self.ignorers.push(Ignorer {
                    pid,
                    start: r.start,
                    children_cpu: r.child[0] + r.child[1],
                });
            }
        }
        match self.reader.read(pid, "io") {
            Ok(bytes) => {
                r.io = parse_pid_io(bytes).map(|i| {
                    [
                        i.read_bytes,
                        i.write_bytes,
                        i.rchar,
                        i.wchar,
                        i.syscr.unwrap_or(0),
                        i.syscw.unwrap_or(0),
                    ]
                })
            }
            Err(Failure::Denied) => self.denied[DENIED_IO] += 1,
            Err(Failure::Gone) => {}
        }
        match self.reader.count_fds(pid) {
            Ok(n) => r.member.fds = Some(n),
            Err(Failure::Denied) => self.denied[DENIED_FD] += 1,
            Err(Failure::Gone) => {}
        }
        if let Some(fds) = r.member.fds {
            let known = self
                .table
                .info(pid)
                .filter(|i| i.start == r.start)
                .map(|i| i.fd_limit);
            let limit = match known {
                Some(l) if !(u64::from(pid) + self.tick).is_multiple_of(LIMITS_EVERY) => l,
                _ => {
                    let l = self
                        .reader
                        .read(pid, "limits")
                        .ok()
                        .and_then(parse_nofile_soft)
                        .unwrap_or(0);
                    r.fd_limit = Some(l);
                    l
                }
            };
            if limit > 0 {
                r.member.fd_ratio = Some(fds as f64 / limit as f64);
            }
        }
        if self.settings.smaps {
            if r.kthread || state == Some(ZOMBIE) {
                r.member.uss_pss = Some((0, 0));
            } else {
                match self.reader.read(pid, "smaps_rollup") {
                    Ok(bytes) => r.member.uss_pss = parse_smaps_rollup(bytes),
                    Err(Failure::Denied) => self.denied[DENIED_SMAPS] += 1,
                    Err(Failure::Gone) => {}
                }
            }
        }
        self.table.observe(pid, &self.comm, &r, &mut self.groups);
    }

    /// Gives every process first seen (or changed) this tick its group; an unmatched one
    /// whose parent is also new waits for the parent.
    pub(super) fn resolve_fresh(&mut self) {
        self.fresh.clear();
        self.fresh.extend(self.table.fresh());
        for i in 0..self.fresh.len() {
            let pid = self.fresh[i];
            self.chain.clear();
            let mut cur = pid;
            loop {
                self.chain.push(cur);
                let Some(info) = self.table.info(cur) else {
                    break;
                };
                if !self.settings.children || self.chain.len() >= 256 {
                    break;
                }
                match self.table.info(info.ppid) {
                    Some(p) if p.start <= info.start && p.group == UNASSIGNED => cur = info.ppid,
                    _ => break,
                }
            }
            while let Some(pid) = self.chain.pop() {
                self.assign(pid);
            }
        }
    }

    fn assign(&mut self, pid: u32) {
        let Some(info) = self.table.info(pid) else {
            return;
        };
        if info.group != UNASSIGNED && !info.rematch {
            return;
        }
        let (ppid, start, kthread) = (info.ppid, info.start, info.kthread);
        let name = if kthread {
            Some((KERNEL.to_string(), false))
        } else {
            self.match_rules(pid)
        };
        let (group, inheritable, folded) = match name {
            Some((name, per_process)) => match self.groups.get_or_insert(&name) {
                Some(id) => {
                    if let Some(g) = self.groups.get_mut(id) {
                        g.per_process |= per_process;
                    }
                    (id, true, 0)
                }
                None => (self.groups.other(), true, fold_hash(&name)),
            },
            None => {
                let parent = self
                    .table
                    .info(ppid)
                    .filter(|p| self.settings.children && p.start <= start && p.inheritable);
                match (parent, self.settings.unmatched) {
                    (Some(p), _) if p.group != UNASSIGNED => (p.group, true, 0),
                    (_, Unmatched::Other) => (self.groups.other(), false, 0),
                    (_, Unmatched::Drop) => (DROPPED, false, 0),
                }
            }
        };
        self.table.assign(pid, group, inheritable, folded);
    }

    /// The name the rules give `pid` (every process psutil's `name()` when there are none)
    /// and whether its rule asks for per-process series, reading cmdline and cgroup only
    /// when a rule (or a comm cut at 15 bytes, for `name()`) needs them.
    fn match_rules(&mut self, pid: u32) -> Option<(String, bool)> {
        let info = self.table.info(pid)?;
        let uid = info.uid;
        self.comm.clear();
        self.comm.extend_from_slice(info.comm);
        self.argv0.clear();
        self.cmdline.clear();
        self.name.clear();
        self.name.extend_from_slice(&self.comm);
        if (self.needs.cmdline || self.comm.len() >= COMM_CUT)
            && let Ok(bytes) = self.reader.read(pid, "cmdline")
        {
            if let Some(first) = args(bytes).next() {
                self.argv0.extend_from_slice(first);
            }
            join_into(bytes, &mut self.cmdline);
            let full = full_name(&self.comm, bytes);
            self.name.clear();
            self.name.extend_from_slice(full);
        }
        if self.settings.rules.is_empty() {
            return Some((escape(&self.name).into_owned(), false));
        }
        self.cgroup.clear();
        if self.needs.cgroup
            && let Ok(bytes) = self.reader.read(pid, "cgroup")
            && let Some(path) = cgroup_path(bytes)
        {
            self.cgroup.extend_from_slice(path);
        }
        if self.needs.user {
            self.users
                .refresh(&self.paths.root("etc/passwd"), self.tick);
        }
        let comm = escape(&self.comm);
        let name = escape(&self.name);
        let user = self.users.name(uid);
        let facts = Facts {
            comm: &comm,
            name: &name,
            argv0: &self.argv0,
            cmdline: &self.cmdline,
            user: &user,
            cgroup: &self.cgroup,
        };
        rules::matching_rule(&self.settings.rules, &facts).map(|(n, r)| (n, r.per_process))
    }
}

/// A process's group-name hash, for counting folded names (never 0, which means none).
fn fold_hash(name: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    h.finish() | 1
}

//! Sockets per process (`sockets = true`): psutil's `Process.net_connections()` counted by
//! transport, family and TCP state, summed per group and, for the processes that get series
//! of their own, per process. The sockets and their states come from the same reading the
//! connections collector makes (netlink sock_diag on a live procfs, else `/proc/net`); which
//! process holds which socket from one walk of every grouped process's `/proc/<pid>/fd`
//! (one readlink per descriptor, [`FdWalker`]).
//!
//! As psutil, a process counts each socket it holds once, whatever number of descriptors
//! refer to it; a socket several processes hold counts once for each, so a group's count is
//! the sum of its processes' `net_connections()`. A process whose descriptors cannot be read
//! (another user's, unprivileged) is counted in `vitals_process_sockets_denied`, not logged.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::catalog::{
    DENIED_SOCKETS as DENIED, GROUP, GROUP_CONNECTIONS, NET_STATE as STATE,
    NET_TRANSPORT as TRANSPORT, NET_TYPE as FAMILY, PROCESS_CONNECTIONS,
};
use super::groups::Groups;
use super::table::{DROPPED, Table, UNASSIGNED};
use crate::catalog::MetricDesc;
use crate::collectors::connections::{self, Netlink};
use crate::host::HostPaths;
use crate::host::proc_net::{TCP_STATES, tcp_state_name};
use crate::host::proc_pid_fd::FdWalker;
use crate::host::sock_diag::SockDiag;
use crate::snapshot::{ErrorKind, Snapshot};

/// The (transport, family) tables in [`connections::Sockets::inet`] order.
const TABLES: [(&str, &str); 4] = [
    ("tcp", "ipv4"),
    ("tcp", "ipv6"),
    ("udp", "ipv4"),
    ("udp", "ipv6"),
];

/// A socket's kind: its table and, for TCP, its state's index in [`TCP_STATES`].
type Kind = (u8, u8);

/// The counts of one process or group by [`Kind`], nonzero ones only.
pub type Counts = HashMap<Kind, u32>;

pub struct SocketOwners {
    netlink: Option<Box<dyn Netlink>>,
    walker: FdWalker,
    /// Every TCP and UDP socket of this tick, by inode.
    kinds: HashMap<u64, Kind>,
    /// One process's socket inodes, reused.
    held: Vec<u64>,
    /// Per pid, for the processes that hold sockets.
    per_process: HashMap<u32, Counts>,
    denied: u64,
}

impl SocketOwners {
    pub fn new(paths: &HostPaths, timeout: Duration) -> Self {
        let netlink = paths
            .procfs_is_live()
            .then(|| Box::new(SockDiag::new(timeout)) as Box<dyn Netlink>);
        SocketOwners {
            netlink,
            walker: FdWalker::default(),
            kinds: HashMap::new(),
            held: Vec::new(),
            per_process: HashMap::new(),
            denied: 0,
        }
    }

    /// Reads the sockets, then which grouped process holds which. A failure to read the
    /// sockets is a skip of this tick's socket counts, not of the collection.
    pub fn walk(&mut self, paths: &HostPaths, pids: &[u32], table: &Table, out: &mut Snapshot) {
        self.per_process.clear();
        self.kinds.clear();
        self.denied = 0;
        let sockets = match self.netlink.as_deref_mut() {
            Some(diag) => connections::read_netlink(diag, false).map_err(|e| e.to_string()),
            None => connections::read_procfs(paths, false).map_err(|e| e.to_string()),
        };
        let sockets = match sockets {
            Ok(s) => s,
            Err(e) => return out.skip(ErrorKind::Read, format!("process sockets: {e}")),
        };
        for (t, table) in sockets.inet.iter().enumerate() {
            for s in table.iter().filter(|s| s.inode != 0) {
                let state = if t < 2 {
                    tcp_state_name(s.state)
                        .and_then(|name| TCP_STATES.iter().position(|(_, n)| *n == name))
                        .map_or(u8::MAX, |i| i as u8)
                } else {
                    u8::MAX
                };
                self.kinds.insert(s.inode, (t as u8, state));
            }
        }
        let dir: OwnedFd = match rustix::fs::open(
            &paths.procfs,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(d) => d,
            Err(e) => return out.skip(ErrorKind::Read, format!("process sockets: {e}")),
        };
        for &pid in pids {
            let grouped = table
                .info(pid)
                .is_some_and(|i| i.group != DROPPED && i.group != UNASSIGNED);
            if !grouped {
                continue;
            }
            self.held.clear();
            let kinds = &self.kinds;
            let held = &mut self.held;
            match self.walker.sockets(&dir, pid, |inode| {
                if kinds.contains_key(&inode) {
                    held.push(inode);
                }
            }) {
                Ok(_) => {}
                Err(Errno::NOENT | Errno::SRCH) => continue,
                Err(_) => {
                    self.denied += 1;
                    continue;
                }
            }
            // A socket counts once per process, however many descriptors refer to it.
            self.held.sort_unstable();
            self.held.dedup();
            if self.held.is_empty() {
                continue;
            }
            let counts = self.per_process.entry(pid).or_default();
            for inode in &self.held {
                if let Some(kind) = self.kinds.get(inode) {
                    *counts.entry(*kind).or_default() += 1;
                }
            }
        }
    }

    /// Each group's counts, and the self-metric.
    pub fn export_groups(&self, table: &Table, groups: &Groups, out: &mut Snapshot) {
        let mut per_group: HashMap<u32, Counts> = HashMap::new();
        for (pid, counts) in &self.per_process {
            let Some(group) = table.info(*pid).map(|i| i.group) else {
                continue;
            };
            let sum = per_group.entry(group).or_default();
            for (kind, n) in counts {
                *sum.entry(*kind).or_default() += n;
            }
        }
        let mut named: Vec<(&str, &Counts)> = per_group
            .iter()
            .filter_map(|(id, c)| groups.get(*id).map(|g| (g.name.as_str(), c)))
            .collect();
        named.sort_unstable_by_key(|(name, _)| *name);
        for (name, counts) in named {
            add(&GROUP_CONNECTIONS, &[(GROUP, name)], counts, out);
        }
        out.add(&DENIED, &[], self.denied as f64);
    }

    /// The counts of one process that has series of its own; `who` are the labels that
    /// identify it on every `process.detail.*` series.
    pub fn export_process(&self, pid: u32, who: &[(&'static str, &str)], out: &mut Snapshot) {
        if let Some(counts) = self.per_process.get(&pid) {
            add(&PROCESS_CONNECTIONS, who, counts, out);
        }
    }
}

/// One series per nonzero kind, in table then state order.
fn add(desc: &'static MetricDesc, who: &[(&'static str, &str)], counts: &Counts, out: &mut Snapshot) {
    let mut kinds: Vec<(&Kind, &u32)> = counts.iter().collect();
    kinds.sort_unstable();
    for (&(t, state), &n) in kinds {
        let (transport, family) = TABLES[usize::from(t)];
        let mut labels = who.to_vec();
        labels.push((TRANSPORT, transport));
        labels.push((FAMILY, family));
        if let Some((_, name)) = TCP_STATES.get(usize::from(state)).filter(|_| t < 2) {
            labels.push((STATE, name));
        }
        out.add(desc, &labels, f64::from(n));
    }
}

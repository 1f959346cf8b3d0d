//! `[collectors.processes]`: the keys, their defaults, and the checks across keys.

use serde::Deserialize;

use super::rules::Rule;
use crate::interval::Interval;

/// Where a process no rule (and no ancestor) matches goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmatched {
    /// Into the group `other`.
    Other,
    /// Nowhere: it is counted only in the system-wide counts.
    Drop,
}

crate::collectors::settings::plain_settings!(
    check = check_settings;
    5,
    5,
    /// Per-group metrics; false: only the system-wide counts (and no per-process series).
    groups: bool = true,
    /// An unmatched process joins its nearest matched ancestor's group.
    children: bool = true,
    unmatched: Unmatched = Unmatched::Other,
    /// Groups at most (besides `other`); processes of further names are folded into `other`.
    max_groups: usize = 500,
    /// How long an empty group keeps its series.
    empty_group_ttl: Interval = Interval::secs(600),
    /// Per-process series for the N processes highest in CPU, the N highest in RSS and the
    /// N highest in disk I/O (at most 3 x N processes; 0: none).
    top_n: usize = 5,
    /// Processes with per-process series at most (top-N first, then those of
    /// `per_process = true` groups); the rest count in their group only.
    max_processes: usize = 100,
    /// CPU time of this many busiest threads of each per-process process (0: none); the
    /// threads left out are counted in `vitals_process_detail_threads_folded`.
    top_threads: usize = 3,
    /// Environment variables exported per process (names; empty: none, as environments
    /// hold secrets).
    environ: Vec<String> = Vec::new(),
    /// Add the command line (at most 256 bytes) to the top-N and per-process info series.
    top_cmdline: bool = false,
    /// USS and PSS from smaps_rollup (takes each process's mmap lock).
    smaps: bool = false,
    /// Credit exited processes from the kernel's taskstats exit records (needs CAP_NET_ADMIN
    /// in the initial namespaces; falls back to cutime when refused); false: from their
    /// parents' cutime/cstime.
    exit_records: bool = true,
    /// With exit records: credit the teardown of children of parents that ignore SIGCHLD
    /// (the CPU they run after their exit record, which no cutime sees) from each task's final
    /// clock, read by an eBPF program on the kernel's sched_process_free tracepoint (needs
    /// CAP_BPF and CAP_PERFMON and a kernel with BTF; left out when refused).
    exit_teardown: bool = true,
    /// TCP and UDP sockets per group and per selected process, by transport and state
    /// (psutil's Process.net_connections()): one readlink per open descriptor of every
    /// grouped process each tick.
    sockets: bool = false,
    /// Grouping rules, first match wins.
    #[serde(rename = "group")]
    rules: Vec<Rule> = Vec::new(),
);

/// Checks across keys, for the config loader: the key at fault and why.
fn check_settings(s: &Settings) -> Result<(), crate::collectors::Invalid> {
    s.check().map_err(|(key, message)| crate::collectors::Invalid { key, message })
}

impl Settings {
    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.max_groups == 0 {
            return Err((
                "max_groups",
                "must be at least 1 (groups = false turns groups off)".into(),
            ));
        }
        if let Some(bad) = self
            .environ
            .iter()
            .find(|n| n.is_empty() || n.contains(['=', '\0']))
        {
            return Err((
                "environ",
                format!("{bad:?} is not a variable name (empty, or holds '=' or NUL)"),
            ));
        }
        if !self.groups && self.sockets {
            return Err((
                "sockets",
                "the socket counts are per group: they need groups = true".into(),
            ));
        }
        if !self.groups && !self.rules.is_empty() {
            return Err((
                "group",
                "grouping rules have no effect with groups = false".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_key_checks() {
        let ok = Settings::default();
        assert_eq!(ok.check(), Ok(()));
        let s = Settings {
            max_groups: 0,
            ..Settings::default()
        };
        assert_eq!(s.check().unwrap_err().0, "max_groups");
        let s = Settings {
            environ: vec!["A=B".into()],
            ..Settings::default()
        };
        assert_eq!(s.check().unwrap_err().0, "environ");
    }
}

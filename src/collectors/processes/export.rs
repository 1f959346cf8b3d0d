//! The export: each group's series, and the top-N processes' own, from the table the scan
//! filled.

use super::catalog::*;
use super::groups::{Group, MAJOR, MINOR, SYSTEM, USER};
use super::table;
use super::{ProcessesCollector, Tick};
use crate::host::bytes::escape;
use crate::host::proc_pid_cmdline::join_into;
use crate::host::proc_pid_stat::STATES;
use crate::snapshot::Snapshot;

/// States exported even at zero: psutil's Linux statuses a current kernel can report.
pub(super) const ALWAYS: [bool; STATES.len()] = [
    true, true, true, true, true, true, true, false, false, true, true,
];

/// Command lines in top-N labels are cut to this many bytes.
const CMDLINE_MAX: usize = 256;

impl ProcessesCollector {
    pub(super) fn export_groups(&mut self, tick: &Tick, out: &mut Snapshot) {
        let clk = self.clock_ticks;
        self.order.clear();
        self.order.extend(self.groups.ids());
        let groups = &self.groups;
        self.order.sort_by(|a, b| {
            let name = |id: &u32| groups.get(*id).map(|g| g.name.as_str());
            name(a).cmp(&name(b))
        });
        for &id in &self.order {
            let Some(g) = self.groups.get_mut(id) else {
                continue;
            };
            let cpu = [g.totals.cpu_faults[USER], g.totals.cpu_faults[SYSTEM]];
            let util =
                match (tick.elapsed, tick.cpus) {
                    (Some(e), Some(n)) if e > 0.0 && n > 0 => Some([0, 1].map(|m| {
                        cpu[m].saturating_sub(g.prev_cpu[m]) as f64 / clk / (e * n as f64)
                    })),
                    _ => None,
                };
            g.prev_cpu = cpu;
            export_group(g, util, tick, clk, self.settings.smaps, out);
        }
    }

    /// The `process.top.*` series of the top-N processes this tick's selection chose.
    pub(super) fn export_top(&mut self, tick: &Tick, chosen: &[table::Candidate], out: &mut Snapshot) {
        self.users
            .refresh(&self.paths.root("etc/passwd"), self.tick);
        for &c in chosen {
            let pid = c.pid;
            let Some(info) = self.table.info(pid) else {
                continue;
            };
            let group = self
                .groups
                .get(info.group)
                .map(|g| g.name.clone())
                .unwrap_or_default();
            let comm = escape(info.comm).into_owned();
            let owner = self.users.name(info.uid).into_owned();
            let pid_label = pid.to_string();
            let mut cmdline = String::new();
            if self.settings.top_cmdline
                && let Ok(bytes) = self.reader.read(pid, "cmdline")
            {
                join_into(bytes, &mut self.cmdline);
                let cut = self.cmdline.len().min(CMDLINE_MAX);
                cmdline = escape(&self.cmdline[..cut]).into_owned();
            }
            let mut labels: Vec<(&'static str, &str)> = vec![
                (PID, &pid_label),
                (COMMAND, &comm),
                (OWNER, &owner),
                (GROUP, &group),
            ];
            if self.settings.top_cmdline {
                labels.push((COMMAND_LINE, &cmdline));
            }
            if let (Some(ticks), Some(e), Some(n)) = (c.cpu_ticks, tick.elapsed, tick.cpus)
                && e > 0.0
                && n > 0
            {
                out.add(
                    &TOP_CPU,
                    &labels,
                    ticks as f64 / self.clock_ticks / (e * n as f64),
                );
            }
            out.add(&TOP_MEMORY, &labels, c.rss as f64);
        }
    }
}

fn export_group(
    g: &Group,
    util: Option<[f64; 2]>,
    tick: &Tick,
    clk: f64,
    smaps: bool,
    out: &mut Snapshot,
) {
    let name = g.name.as_str();
    let s = &g.gauges;
    let empty = s.members == 0;
    for (i, state) in STATES.iter().enumerate() {
        if g.states_seen & (1 << i) != 0 || s.by_state[i] > 0 {
            out.add(
                &GROUP_COUNT,
                &[(GROUP, name), (STATE, state)],
                s.by_state[i] as f64,
            );
        }
    }
    for (m, mode) in [(USER, "user"), (SYSTEM, "system")] {
        out.add(
            &CPU_TIME,
            &[(GROUP, name), (MODE, mode)],
            g.totals.cpu_faults[m] as f64 / clk,
        );
    }
    if let Some(u) = util {
        out.add(&CPU_UTILIZATION, &[(GROUP, name), (MODE, "user")], u[0]);
        out.add(&CPU_UTILIZATION, &[(GROUP, name), (MODE, "system")], u[1]);
    }
    out.add(&MEMORY_USAGE, &[(GROUP, name)], s.rss as f64);
    out.add(&MEMORY_VIRTUAL, &[(GROUP, name)], s.vms as f64);
    let or_empty = |v: Option<u64>| v.or(empty.then_some(0));
    if let Some(v) = or_empty(s.shared) {
        out.add(&MEMORY_SHARED, &[(GROUP, name)], v as f64);
    }
    if let Some(v) = or_empty(s.swap) {
        out.add(&MEMORY_SWAP, &[(GROUP, name)], v as f64);
    }
    if smaps {
        if let Some(v) = or_empty(s.uss) {
            out.add(&MEMORY_USS, &[(GROUP, name)], v as f64);
        }
        if let Some(v) = or_empty(s.pss) {
            out.add(&MEMORY_PSS, &[(GROUP, name)], v as f64);
        }
    }
    if g.has_io {
        out.add(
            &DISK_IO,
            &[(GROUP, name), (DIRECTION, "read")],
            g.totals.io[0] as f64,
        );
        out.add(
            &DISK_IO,
            &[(GROUP, name), (DIRECTION, "write")],
            g.totals.io[1] as f64,
        );
        out.add(
            &IO,
            &[(GROUP, name), (DIRECTION, "read")],
            g.totals.io[2] as f64,
        );
        out.add(
            &IO,
            &[(GROUP, name), (DIRECTION, "write")],
            g.totals.io[3] as f64,
        );
        out.add(
            &IO_OPERATIONS,
            &[(GROUP, name), (DIRECTION, "read")],
            g.totals.io[4] as f64,
        );
        out.add(
            &IO_OPERATIONS,
            &[(GROUP, name), (DIRECTION, "write")],
            g.totals.io[5] as f64,
        );
    }
    out.add(&STARTED, &[(GROUP, name)], g.started as f64);
    out.add(&THREAD_COUNT, &[(GROUP, name)], s.threads as f64);
    if let Some(v) = or_empty(s.fds) {
        out.add(&FD_COUNT, &[(GROUP, name)], v as f64);
    }
    if let Some(r) = s.fd_ratio {
        out.add(&FD_LIMIT_UTILIZATION, &[(GROUP, name)], r);
    }
    if g.has_ctx {
        out.add(
            &CONTEXT_SWITCHES,
            &[(GROUP, name), (SWITCH, "voluntary")],
            g.totals.ctx[0] as f64,
        );
        out.add(
            &CONTEXT_SWITCHES,
            &[(GROUP, name), (SWITCH, "involuntary")],
            g.totals.ctx[1] as f64,
        );
    }
    out.add(
        &PAGING_FAULTS,
        &[(GROUP, name), (FAULT, "major")],
        g.totals.cpu_faults[MAJOR] as f64,
    );
    out.add(
        &PAGING_FAULTS,
        &[(GROUP, name), (FAULT, "minor")],
        g.totals.cpu_faults[MINOR] as f64,
    );
    if let (Some(oldest), Some(btime)) = (s.oldest, tick.btime) {
        out.add(
            &OLDEST_START,
            &[(GROUP, name)],
            btime as f64 + oldest as f64 / clk,
        );
    }
}

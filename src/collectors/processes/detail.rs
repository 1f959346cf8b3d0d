//! The per-process (`process.detail.*`) series: for each selected process, psutil's
//! `Process` read fresh this tick from its stat, status, statm, io, limits, fd, task,
//! cmdline, exe and (when asked) environ and smaps_rollup, plus ioprio_get(2). Only the
//! selected processes (at most `max_processes`) are read this way.

use std::borrow::Cow;

use super::catalog::*;
use super::reader::Failure;
use super::table::Candidate;
use super::{ProcessesCollector, Tick, ioprio};
use crate::host::bytes::escape;
use crate::host::proc_pid_cmdline::{full_name, join_into};
use crate::host::proc_pid_environ::environ_value;
use crate::host::proc_pid_io::parse_pid_io;
use crate::host::proc_pid_limits::parse_limits;
use crate::host::proc_pid_smaps::parse_smaps_rollup;
use crate::host::proc_pid_stat::{STATES, parse_pid_stat, state_index, terminal};
use crate::host::proc_pid_statm::parse_statm;
use crate::host::proc_pid_status::parse_pid_status;
use crate::snapshot::Snapshot;

/// Command lines in info labels are cut to this many bytes.
pub(super) const CMDLINE_MAX: usize = 256;

/// What the stat file says, copied out of the reader's buffer.
struct Stat {
    comm: Vec<u8>,
    state: Option<usize>,
    ppid: u32,
    times: [u64; 4],
    blkio: Option<u64>,
    processor: Option<u64>,
    nice: i64,
    tty_nr: u64,
    threads: u64,
    start: u64,
    vsize: u64,
}

impl ProcessesCollector {
    /// Exports the per-process series of `chosen`; returns the threads left without
    /// per-thread series because `top_threads` were taken.
    pub(super) fn export_detail(&mut self, tick: &Tick, chosen: &[Candidate], out: &mut Snapshot) -> usize {
        if chosen.is_empty() {
            return 0;
        }
        let mem_total = crate::host::read(&self.paths.proc("meminfo"))
            .ok()
            .and_then(|t| crate::host::meminfo::parse_meminfo(&t).ok())
            .and_then(|m| m.get("MemTotal"))
            .filter(|&t| t > 0);
        self.users
            .refresh(&self.paths.root("etc/passwd"), self.tick);
        chosen
            .iter()
            .map(|c| self.export_one(tick, c, mem_total, out))
            .sum()
    }

    /// One process's series; returns its threads left without per-thread series.
    fn export_one(&mut self, tick: &Tick, c: &Candidate, mem_total: Option<u64>, out: &mut Snapshot) -> usize {
        let pid = c.pid;
        let Some(st) = self.reader.read(pid, "stat").ok().and_then(|b| {
            let s = parse_pid_stat(b)?;
            Some(Stat {
                comm: s.comm.to_vec(),
                state: state_index(s.state),
                ppid: s.ppid,
                times: [s.utime, s.stime, s.cutime, s.cstime],
                blkio: s.blkio_ticks,
                processor: s.processor,
                nice: s.nice,
                tty_nr: s.tty_nr,
                threads: s.num_threads,
                start: s.starttime,
                vsize: s.vsize,
            })
        }) else {
            return 0;
        };
        let clk = self.clock_ticks;
        let status = self.reader.read(pid, "status").ok().map(parse_pid_status);
        let mut name = st.comm.clone();
        self.cmdline.clear();
        if let Ok(bytes) = self.reader.read(pid, "cmdline") {
            name = full_name(&st.comm, bytes).to_vec();
            if self.settings.top_cmdline {
                join_into(bytes, &mut self.cmdline);
                self.cmdline.truncate(CMDLINE_MAX);
            }
        }
        let name = escape(&name).into_owned();
        let exe = self
            .reader
            .readlink(pid, "exe")
            .map(|b| escape(&b).into_owned())
            .unwrap_or_default();
        let group = self
            .table
            .info(pid)
            .and_then(|i| self.groups.get(i.group))
            .map(|g| g.name.clone())
            .unwrap_or_default();
        let pid_s = pid.to_string();
        let base = [(PID, pid_s.as_str()), (EXE_NAME, &name), (GROUP, &group)];

        // The info series.
        let ids = |v: Option<[u32; 3]>, i: usize| v.map(|a| a[i].to_string()).unwrap_or_default();
        let uids = status.and_then(|s| s.uids);
        let gids = status.and_then(|s| s.gids);
        let owner: Cow<str> = self.users.name(status.and_then(|s| s.real_uid));
        let ppid = st.ppid.to_string();
        let tty = terminal(st.tty_nr).unwrap_or_default();
        let state = st.state.map(|i| STATES[i]).unwrap_or("?");
        let cmdline = escape(&self.cmdline);
        let (ru, eu, su) = (ids(uids, 0), ids(uids, 1), ids(uids, 2));
        let (rg, eg, sg) = (ids(gids, 0), ids(gids, 1), ids(gids, 2));
        let mut info: Vec<(&'static str, &str)> = vec![
            (PID, &pid_s),
            (PPID, &ppid),
            (EXE_NAME, &name),
            (EXE_PATH, &exe),
            (OWNER, &owner),
            (REAL_UID, &ru),
            (UID, &eu),
            (SAVED_UID, &su),
            (REAL_GID, &rg),
            (GID, &eg),
            (SAVED_GID, &sg),
            (TERMINAL, &tty),
            (STATE, state),
            (GROUP, &group),
        ];
        if self.settings.top_cmdline {
            info.push((COMMAND_LINE, &cmdline));
        }
        out.add(&DETAIL_INFO, &info, 1.0);
        out.add(&DETAIL_STATE, &extend(&base, &[(STATE, state)]), 1.0);
        if let Some(btime) = tick.btime {
            out.add(&DETAIL_START, &base, btime as f64 + st.start as f64 / clk);
        }

        // CPU.
        let modes = ["user", "system", "children_user", "children_system"];
        for (m, t) in modes.iter().zip(st.times) {
            out.add(&DETAIL_CPU_TIME, &extend(&base, &[(MODE, m)]), t as f64 / clk);
        }
        out.add(
            &DETAIL_CPU_TIME,
            &extend(&base, &[(MODE, "iowait")]),
            st.blkio.unwrap_or(0) as f64 / clk,
        );
        if let (Some(ticks), Some(e), Some(n)) = (c.cpu_ticks, tick.elapsed, tick.cpus)
            && e > 0.0
            && n > 0
        {
            out.add(&DETAIL_CPU_UTILIZATION, &base, ticks as f64 / clk / (e * n as f64));
        }
        if let Some(cpu) = st.processor {
            out.add(&DETAIL_CPU_NUMBER, &base, cpu as f64);
        }
        if let Some(n) = status.and_then(|s| s.cpus_allowed) {
            out.add(&DETAIL_CPU_AFFINITY, &base, n as f64);
        }

        // Memory.
        let rss = status.map(|s| s.rss_bytes());
        if let Some(rss) = rss {
            out.add(&DETAIL_MEMORY_USAGE, &base, rss as f64);
            if let Some(total) = mem_total {
                out.add(&DETAIL_MEMORY_UTILIZATION, &base, rss as f64 / total as f64);
            }
            out.add(&DETAIL_MEMORY_SWAP, &base, status.map_or(0, |s| s.swap_bytes()) as f64);
        }
        out.add(&DETAIL_MEMORY_VIRTUAL, &base, st.vsize as f64);
        if let Some(m) = self.reader.read(pid, "statm").ok().and_then(parse_statm) {
            let page = self.page_size as f64;
            for (desc, pages) in [
                (&DETAIL_MEMORY_SHARED, m.shared),
                (&DETAIL_MEMORY_TEXT, m.text),
                (&DETAIL_MEMORY_LIB, m.lib),
                (&DETAIL_MEMORY_DATA, m.data),
                (&DETAIL_MEMORY_DIRTY, m.dirty),
            ] {
                out.add(desc, &base, pages as f64 * page);
            }
        }
        if self.settings.smaps
            && let Some((uss, pss)) = self.reader.read(pid, "smaps_rollup").ok().and_then(parse_smaps_rollup)
        {
            out.add(&DETAIL_MEMORY_USS, &base, uss as f64);
            out.add(&DETAIL_MEMORY_PSS, &base, pss as f64);
        }

        // I/O.
        if let Some(io) = self.reader.read(pid, "io").ok().and_then(parse_pid_io) {
            for (desc, read, write) in [
                (&DETAIL_DISK_IO, Some(io.read_bytes), Some(io.write_bytes)),
                (&DETAIL_IO, Some(io.rchar), Some(io.wchar)),
                (&DETAIL_IO_OPERATIONS, io.syscr, io.syscw),
            ] {
                if let (Some(r), Some(w)) = (read, write) {
                    out.add(desc, &extend(&base, &[(DIRECTION, "read")]), r as f64);
                    out.add(desc, &extend(&base, &[(DIRECTION, "write")]), w as f64);
                }
            }
        }

        // Switches, descriptors, threads, limits, priorities.
        if let Some((v, n)) = status.and_then(|s| s.voluntary_ctxt_switches.zip(s.nonvoluntary_ctxt_switches)) {
            out.add(&DETAIL_CONTEXT_SWITCHES, &extend(&base, &[(SWITCH, "voluntary")]), v as f64);
            out.add(&DETAIL_CONTEXT_SWITCHES, &extend(&base, &[(SWITCH, "involuntary")]), n as f64);
        }
        if let Ok(n) = self.reader.count_fds(pid) {
            out.add(&DETAIL_FD_COUNT, &base, n as f64);
        }
        let mut fds = std::mem::take(&mut self.fds);
        if let Ok(n) = self.reader.count_regular_files(pid, &mut fds) {
            out.add(&DETAIL_OPEN_FILES, &base, n as f64);
        }
        self.fds = fds;
        out.add(&DETAIL_THREAD_COUNT, &base, st.threads as f64);
        if let Ok(bytes) = self.reader.read(pid, "limits") {
            for l in parse_limits(bytes) {
                for (kind, v) in [("soft", l.soft), ("hard", l.hard)] {
                    let v = v.map_or(-1.0, |v| v as f64);
                    out.add(&DETAIL_RLIMIT, &extend(&base, &[(RESOURCE, l.resource), (LIMIT_KIND, kind)]), v);
                }
            }
        }
        out.add(&DETAIL_NICE, &base, st.nice as f64);
        if self.ioprio
            && let Some((class, value)) = ioprio::get(pid)
        {
            out.add(&DETAIL_IO_PRIORITY, &extend(&base, &[(IOPRIO_CLASS, class)]), value as f64);
        }
        let threads_folded = if self.settings.top_threads > 0 {
            self.export_threads(pid, &base, out)
        } else {
            0
        };
        if let Some(s) = &self.sockets {
            s.export_process(pid, &base, out);
        }
        if !self.settings.environ.is_empty()
            && let Ok(bytes) = self.reader.read(pid, "environ")
        {
            let mut found = Vec::new();
            for var in &self.settings.environ {
                if let Some(v) = environ_value(bytes, var.as_bytes()) {
                    found.push((var.clone(), escape(v).into_owned()));
                }
            }
            for (var, value) in &found {
                out.add(&DETAIL_ENVIRON, &extend(&base, &[(ENV_NAME, var), (ENV_VALUE, value)]), 1.0);
            }
        }
        threads_folded
    }

    /// CPU of the `top_threads` threads of `pid` highest in user + system time; returns the
    /// threads read but left out (a thread gone or unreadable mid-read is neither).
    fn export_threads(&mut self, pid: u32, base: &[(&'static str, &str); 3], out: &mut Snapshot) -> usize {
        let mut tids = std::mem::take(&mut self.fds);
        let mut threads: Vec<(u64, u32, Vec<u8>, [u64; 2])> = Vec::new();
        if self.reader.entries(pid, "task", &mut tids).is_ok() {
            let mut file = String::new();
            for &tid in &tids {
                file.clear();
                use std::fmt::Write as _;
                let _ = write!(file, "task/{tid}/stat");
                match self.reader.read(pid, &file) {
                    Ok(b) => {
                        if let Some(s) = parse_pid_stat(b) {
                            threads.push((s.utime + s.stime, tid, s.comm.to_vec(), [s.utime, s.stime]));
                        }
                    }
                    Err(Failure::Gone | Failure::Denied) => {}
                }
            }
        }
        self.fds = tids;
        threads.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let folded = threads.len().saturating_sub(self.settings.top_threads);
        threads.truncate(self.settings.top_threads);
        let clk = self.clock_ticks;
        for (_, tid, comm, [user, system]) in threads {
            let tid = tid.to_string();
            let comm = escape(&comm);
            for (mode, t) in [("user", user), ("system", system)] {
                out.add(
                    &DETAIL_THREAD_CPU_TIME,
                    &extend(base, &[(THREAD_ID, &tid), (THREAD_NAME, &comm), (MODE, mode)]),
                    t as f64 / clk,
                );
            }
        }
        folded
    }
}

/// `base` labels followed by `extra`.
fn extend<'a>(
    base: &[(&'static str, &'a str)],
    extra: &[(&'static str, &'a str)],
) -> Vec<(&'static str, &'a str)> {
    let mut v = Vec::with_capacity(base.len() + extra.len());
    v.extend_from_slice(base);
    v.extend_from_slice(extra);
    v
}

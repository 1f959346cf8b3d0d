//! Processes: the system-wide counts (by psutil state, threads, processes created, pid and
//! thread limits) and psutil's `Process` summed per group, from one walk of `/proc` per tick.
//!
//! Each process is matched to a group once, when first seen (again after an exec or a
//! setuid changes its comm or uid), by the first `[[collectors.processes.group]]` rule that
//! matches, else by inheritance from its nearest matched ancestor (`children`), else
//! `unmatched`. With no rule, each comm is a group. Kernel threads are one group, `kernel`.
//! Group counters are sums of their members' increments ([`table`]); a group beyond
//! `max_groups` is folded into `other`; an empty group's series go after `empty_group_ttl`.
//! Optionally the top N processes by CPU and by RSS get series of their own.
//!
//! Per process and tick it reads `stat` (every process), then, for processes in a group,
//! `status`, `io`, the `fd` directory, and `smaps_rollup` when `smaps = true`; `limits` at
//! first sight and every 12th tick; `cmdline` and `cgroup` only when a rule needs them, at
//! first sight. A process that exits mid-read is skipped silently; a file that cannot be read
//! (another user's `io` when vitals is unprivileged) leaves that value out and is counted in
//! `vitals_process_reads_denied_total`, never logged.

pub mod groups;
mod reader;
pub mod rules;
pub mod table;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::{Instant, SystemTime};

use serde::Deserialize;

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::interval::Interval;
use crate::host::bytes::escape;
use crate::host::proc_pid_cgroup::cgroup_path;
use crate::host::proc_pid_cmdline::{args, join_into};
use crate::host::proc_pid_io::parse_pid_io;
use crate::host::proc_pid_limits::parse_nofile_soft;
use crate::host::proc_pid_smaps::parse_smaps_rollup;
use crate::host::proc_pid_stat::{STATES, ZOMBIE, parse_pid_stat, state_index};
use crate::host::proc_pid_status::parse_pid_status;
use crate::host::{self, HostError, HostPaths, ParseError, passwd};
use crate::snapshot::Snapshot;
use groups::{Group, Groups, KERNEL, MAJOR, MINOR, Member, SYSTEM, USER};
use reader::{Failure, Reader};
use rules::{Facts, Needs, Rule};
use table::{DROPPED, Reading, Table, UNASSIGNED};

/// Where a process no rule (and no ancestor) matches goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmatched {
    /// Into the group `other`.
    Other,
    /// Nowhere: it is counted only in the system-wide counts.
    Drop,
}

super::settings::plain_settings!(
    check = check_settings;
    5,
    5,
    /// Per-group metrics; false: only the system-wide counts.
    groups: bool = true,
    /// An unmatched process joins its nearest matched ancestor's group.
    children: bool = true,
    unmatched: Unmatched = Unmatched::Other,
    /// Groups at most (besides `other`); processes of further names are folded into `other`.
    max_groups: usize = 500,
    /// How long an empty group keeps its series.
    empty_group_ttl: Interval = Interval::secs(600),
    /// Per-process series for the N processes highest in CPU and the N highest in RSS.
    top_n: usize = 0,
    /// Add the command line (at most 256 bytes) to the top-N series.
    top_cmdline: bool = false,
    /// USS and PSS from smaps_rollup (takes each process's mmap lock).
    smaps: bool = false,
    /// Grouping rules, first match wins.
    #[serde(rename = "group")]
    rules: Vec<Rule> = Vec::new(),
);

/// Checks across keys, for the config loader: the key at fault and why.
fn check_settings(s: &Settings) -> Result<(), super::Invalid> {
    s.check().map_err(|(key, message)| super::Invalid { key, message })
}

impl Settings {
    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.max_groups == 0 {
            return Err((
                "max_groups",
                "must be at least 1 (groups = false turns groups off)".into(),
            ));
        }
        if !self.groups && self.top_n > 0 {
            return Err((
                "top_n",
                "the top-N series need groups = true (they carry the process_group label)".into(),
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

const STATE: &str = "process.state";
const GROUP: &str = "process.group";
const MODE: &str = "cpu.mode";
const DIRECTION: &str = "disk.io.direction";
const SWITCH: &str = "process.context_switch.type";
const FAULT: &str = "system.paging.fault.type";
const PID: &str = "process.pid";
const COMMAND: &str = "process.command";
const OWNER: &str = "process.owner";
const COMMAND_LINE: &str = "process.command_line";
const FILE: &str = "file";

pub static COUNT: MetricDesc = MetricDesc {
    name: "system.process.count",
    unit: "{process}",
    instrument: Instrument::UpDownCounter,
    help: "Processes by psutil status (running, sleeping, disk-sleep, stopped, tracing-stop, zombie, dead, idle, parked always present, 0 when none; wake-kill and waking only when seen). A zombie is an exited child its parent has not reaped: alert on process_state=\"zombie\" growing",
    attributes: &[STATE],
    source: "Counter(p.status() for p in process_iter())",
    extension: false,
};

pub static THREADS: MetricDesc = MetricDesc {
    name: "system.thread.count",
    unit: "{thread}",
    instrument: Instrument::UpDownCounter,
    help: "Threads of all processes (sum of num_threads in /proc/<pid>/stat)",
    attributes: &[],
    source: "sum(p.num_threads() for p in process_iter())",
    extension: true,
};

pub static CREATED: MetricDesc = MetricDesc {
    name: "system.process.created",
    unit: "{process}",
    instrument: Instrument::Counter,
    help: "Processes and threads created since boot (processes in /proc/stat)",
    attributes: &[],
    source: "/proc/stat processes (psutil has no function for it)",
    extension: false,
};

pub static PID_LIMIT: MetricDesc = MetricDesc {
    name: "system.process.limit",
    unit: "{process}",
    instrument: Instrument::UpDownCounter,
    help: "Highest pid plus one the kernel hands out (/proc/sys/kernel/pid_max)",
    attributes: &[],
    source: "/proc/sys/kernel/pid_max",
    extension: true,
};

pub static THREAD_LIMIT: MetricDesc = MetricDesc {
    name: "system.thread.limit",
    unit: "{thread}",
    instrument: Instrument::UpDownCounter,
    help: "Most threads the system allows (/proc/sys/kernel/threads-max)",
    attributes: &[],
    source: "/proc/sys/kernel/threads-max",
    extension: true,
};

pub static GROUP_COUNT: MetricDesc = MetricDesc {
    name: "process.count",
    unit: "{process}",
    instrument: Instrument::UpDownCounter,
    help: "Processes of the group by psutil status; a state stays (at 0) once the group had it. With unmatched = \"other\", the sum over groups is system_process_count's total",
    attributes: &[GROUP, STATE],
    source: "Counter(p.status() for p in group)",
    extension: false,
};

pub static CPU_TIME: MetricDesc = MetricDesc {
    name: "process.cpu.time",
    unit: "s",
    instrument: Instrument::Counter,
    help: "CPU seconds of the group's processes since vitals first saw them (0 when vitals starts: use rate()), a process born later from its birth; plus the CPU of exited children its members waited for (cutime, cstime growth) that vitals did not count already, so short-lived children count once. Never decreases while vitals runs",
    attributes: &[GROUP, MODE],
    source: "sum of increments of cpu_times().user, .system (+ children_user, children_system of exited children)",
    extension: false,
};

pub static CPU_UTILIZATION: MetricDesc = MetricDesc {
    name: "process.cpu.utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "Share of all the machine's CPUs the group used over the last interval (process_cpu_time_seconds_total's increase / interval / logical CPUs); psutil's cpu_percent() summed over the group = this x cpu_count() x 100",
    attributes: &[GROUP, MODE],
    source: "sum(p.cpu_percent()) / cpu_count() / 100, by user and system",
    extension: false,
};

pub static MEMORY_USAGE: MetricDesc = MetricDesc {
    name: "process.memory.usage",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Resident set size of the group (sum of RSS: shared pages count in every process that maps them). From VmRSS of /proc/<pid>/status, exact as psutil's statm, where stat's rss is an approximate sum on Linux 6.2 and later",
    attributes: &[GROUP],
    source: "sum(p.memory_info().rss)",
    extension: false,
};

pub static MEMORY_VIRTUAL: MetricDesc = MetricDesc {
    name: "process.memory.virtual",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Virtual memory size of the group",
    attributes: &[GROUP],
    source: "sum(p.memory_info().vms)",
    extension: false,
};

pub static MEMORY_SHARED: MetricDesc = MetricDesc {
    name: "process.memory.shared",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Resident file-backed and shared-memory pages of the group (statm shared: RssFile + RssShmem of /proc/<pid>/status)",
    attributes: &[GROUP],
    source: "sum(p.memory_info().shared)",
    extension: true,
};

pub static MEMORY_SWAP: MetricDesc = MetricDesc {
    name: "process.memory.swap",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Swapped-out memory of the group (VmSwap of /proc/<pid>/status)",
    attributes: &[GROUP],
    source: "sum(VmSwap of /proc/<pid>/status)",
    extension: true,
};

pub static MEMORY_USS: MetricDesc = MetricDesc {
    name: "process.memory.uss",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Unique set size of the group: memory freed if its processes exited (Private_* of smaps_rollup). Only with smaps = true: reading smaps_rollup takes each process's mmap lock",
    attributes: &[GROUP],
    source: "sum(p.memory_full_info().uss)",
    extension: true,
};

pub static MEMORY_PSS: MetricDesc = MetricDesc {
    name: "process.memory.pss",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Proportional set size of the group: shared pages divided among the processes sharing them, so it adds up across groups (Pss of smaps_rollup). Only with smaps = true",
    attributes: &[GROUP],
    source: "sum(p.memory_full_info().pss)",
    extension: true,
};

pub static DISK_IO: MetricDesc = MetricDesc {
    name: "process.disk.io",
    unit: "By",
    instrument: Instrument::Counter,
    help: "Bytes the group's processes made storage read, and wrote or dirtied in the page cache, since vitals first saw them (as process_cpu_time_seconds_total). Absent for a group whose /proc/<pid>/io is unreadable (other users' processes when vitals is unprivileged)",
    attributes: &[GROUP, DIRECTION],
    source: "sum of increments of io_counters().read_bytes, .write_bytes",
    extension: false,
};

pub static IO: MetricDesc = MetricDesc {
    name: "process.io",
    unit: "By",
    instrument: Instrument::Counter,
    help: "Bytes the group's processes passed to read and write syscalls on any file, pipe or socket, page-cache hits included (rchar, wchar), since vitals first saw them",
    attributes: &[GROUP, DIRECTION],
    source: "sum of increments of io_counters().read_chars, .write_chars",
    extension: true,
};

pub static THREAD_COUNT: MetricDesc = MetricDesc {
    name: "process.thread.count",
    unit: "{thread}",
    instrument: Instrument::UpDownCounter,
    help: "Threads of the group's processes",
    attributes: &[GROUP],
    source: "sum(p.num_threads())",
    extension: false,
};

pub static FD_COUNT: MetricDesc = MetricDesc {
    name: "process.unix.file_descriptor.count",
    unit: "{file_descriptor}",
    instrument: Instrument::UpDownCounter,
    help: "Open file descriptors of the group's processes whose /proc/<pid>/fd is readable; absent when none is",
    attributes: &[GROUP],
    source: "sum(p.num_fds())",
    extension: false,
};

pub static FD_LIMIT_UTILIZATION: MetricDesc = MetricDesc {
    name: "process.unix.file_descriptor.limit_utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "Highest ratio of open descriptors to the soft RLIMIT_NOFILE among the group's processes (the one closest to EMFILE); the limit is re-read every 12 ticks",
    attributes: &[GROUP],
    source: "max(p.num_fds() / p.rlimit(RLIMIT_NOFILE)[0])",
    extension: true,
};

pub static CONTEXT_SWITCHES: MetricDesc = MetricDesc {
    name: "process.context_switches",
    unit: "{context_switch}",
    instrument: Instrument::Counter,
    help: "Context switches of the group's processes since vitals first saw them; as psutil, each process's are its main thread's (/proc/<pid>/status)",
    attributes: &[GROUP, SWITCH],
    source: "sum of increments of num_ctx_switches().voluntary, .involuntary",
    extension: false,
};

pub static PAGING_FAULTS: MetricDesc = MetricDesc {
    name: "process.paging.faults",
    unit: "{fault}",
    instrument: Instrument::Counter,
    help: "Page faults of the group's processes since vitals first saw them, plus those of exited children not counted already (cmajflt, cminflt growth), as process_cpu_time_seconds_total",
    attributes: &[GROUP, FAULT],
    source: "sum of increments of /proc/<pid>/stat majflt, minflt (+ cmajflt, cminflt)",
    extension: false,
};

pub static OLDEST_START: MetricDesc = MetricDesc {
    name: "process.oldest.start_time",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "Start time (Unix seconds) of the group's oldest process: a restart of the service shows as a jump",
    attributes: &[GROUP],
    source: "min(p.create_time())",
    extension: true,
};

pub static TOP_CPU: MetricDesc = MetricDesc {
    name: "process.top.cpu.utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "Share of all CPUs over the last interval of each of the top_n processes highest in CPU and the top_n highest in RSS (at most 2 x top_n series; psutil's cpu_percent() = this x cpu_count() x 100). A name of its own, so that sums over process_* group metrics never count a process twice",
    attributes: &[PID, COMMAND, OWNER, GROUP, COMMAND_LINE],
    source: "p.cpu_percent() / cpu_count() / 100",
    extension: true,
};

pub static TOP_MEMORY: MetricDesc = MetricDesc {
    name: "process.top.memory.usage",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "RSS of each process of process_top_cpu_utilization_ratio (the top_n by CPU and the top_n by RSS); process_command_line only with top_cmdline = true",
    attributes: &[PID, COMMAND, OWNER, GROUP, COMMAND_LINE],
    source: "p.memory_info().rss",
    extension: true,
};

pub static READS_DENIED: MetricDesc = MetricDesc {
    name: "vitals.process.reads_denied",
    unit: "{read}",
    instrument: Instrument::Counter,
    help: "Per-process reads left out because the file could not be read (permission denied: other users' io, fd and smaps_rollup when vitals is unprivileged), by file; one per process and tick, never logged. A process exiting mid-read is not counted",
    attributes: &[FILE],
    source: "vitals",
    extension: true,
};

pub static SCANNED: MetricDesc = MetricDesc {
    name: "vitals.process.scanned",
    unit: "{process}",
    instrument: Instrument::Gauge,
    help: "Processes whose /proc/<pid>/stat the last tick read",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static FOLDED: MetricDesc = MetricDesc {
    name: "vitals.process.groups.folded",
    unit: "{group}",
    instrument: Instrument::Gauge,
    help: "Group names that found max_groups groups already and whose processes are counted in process_group=\"other\" (distinct names among live processes)",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[
    &COUNT,
    &THREADS,
    &CREATED,
    &PID_LIMIT,
    &THREAD_LIMIT,
    &GROUP_COUNT,
    &CPU_TIME,
    &CPU_UTILIZATION,
    &MEMORY_USAGE,
    &MEMORY_VIRTUAL,
    &MEMORY_SHARED,
    &MEMORY_SWAP,
    &MEMORY_USS,
    &MEMORY_PSS,
    &DISK_IO,
    &IO,
    &THREAD_COUNT,
    &FD_COUNT,
    &FD_LIMIT_UTILIZATION,
    &CONTEXT_SWITCHES,
    &PAGING_FAULTS,
    &OLDEST_START,
    &TOP_CPU,
    &TOP_MEMORY,
    &READS_DENIED,
    &SCANNED,
    &FOLDED,
];

/// States exported even at zero: psutil's Linux statuses a current kernel can report.
const ALWAYS: [bool; STATES.len()] = [
    true, true, true, true, true, true, true, false, false, true, true,
];

/// Files whose unreadability is counted, in `denied` order.
const DENIED_FILES: [&str; 3] = ["io", "fd", "smaps_rollup"];
const DENIED_IO: usize = 0;
const DENIED_FD: usize = 1;
const DENIED_SMAPS: usize = 2;

/// A process's rlimit is re-read when (pid + tick) is a multiple of this.
const LIMITS_EVERY: u64 = 12;

/// Command lines in top-N labels are cut to this many bytes.
const CMDLINE_MAX: usize = 256;

/// Counts over one pass of /proc.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    pub by_state: [u64; STATES.len()],
    pub threads: u64,
}

/// The `processes` line of /proc/stat.
pub fn parse_processes(stat: &str) -> Result<u64, ParseError> {
    let value = stat
        .lines()
        .find_map(|l| l.strip_prefix("processes "))
        .ok_or_else(|| ParseError("no processes line".into()))?;
    host::num(value.trim(), "processes")
}

/// User names by uid from `<rootfs>/etc/passwd`, re-read when the file changes.
#[derive(Default)]
struct Users {
    names: HashMap<u32, String>,
    stamp: Option<(SystemTime, u64)>,
    checked: u64,
}

impl Users {
    fn refresh(&mut self, path: &Path, tick: u64) {
        if self.checked == tick {
            return;
        }
        self.checked = tick;
        let stamp = std::fs::metadata(path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        if stamp == self.stamp {
            return;
        }
        self.stamp = stamp;
        let text = host::read_bytes_with(path, host::Limit::Table).unwrap_or_default();
        self.names = passwd::parse_passwd(&text)
            .into_iter()
            .map(|(uid, name)| (uid, escape(&name).into_owned()))
            .collect();
    }

    /// psutil's `username()`: the name, or the uid as a string.
    fn name(&self, uid: Option<u32>) -> Cow<'_, str> {
        match uid {
            Some(uid) => match self.names.get(&uid) {
                Some(n) => Cow::Borrowed(n.as_str()),
                None => Cow::Owned(uid.to_string()),
            },
            None => Cow::Borrowed(""),
        }
    }
}

/// System-wide facts read once per tick.
struct Tick {
    number: u64,
    btime: Option<u64>,
    cpus: Option<usize>,
    /// Seconds since the previous tick.
    elapsed: Option<f64>,
}

pub struct ProcessesCollector {
    paths: HostPaths,
    settings: Settings,
    needs: Needs,
    reader: Reader,
    pids: Vec<u32>,
    table: Table,
    groups: Groups,
    users: Users,
    comm: Vec<u8>,
    argv0: Vec<u8>,
    cmdline: Vec<u8>,
    cgroup: Vec<u8>,
    fresh: Vec<u32>,
    chain: Vec<u32>,
    order: Vec<u32>,
    rank: Vec<(u64, usize)>,
    folded: HashSet<u64>,
    denied: [u64; 3],
    scanned: u64,
    tick: u64,
    last: Option<Instant>,
    clock_ticks: f64,
    page_size: u64,
}

impl ProcessesCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        let needs = rules::needs(&settings.rules);
        Self {
            paths,
            needs: Needs {
                user: needs.user || settings.top_n > 0,
                ..needs
            },
            reader: Reader::default(),
            pids: Vec::new(),
            table: Table::default(),
            groups: Groups::new(settings.max_groups),
            users: Users::default(),
            comm: Vec::with_capacity(64),
            argv0: Vec::new(),
            cmdline: Vec::new(),
            cgroup: Vec::new(),
            fresh: Vec::new(),
            chain: Vec::new(),
            order: Vec::new(),
            rank: Vec::new(),
            folded: HashSet::new(),
            denied: [0; 3],
            scanned: 0,
            tick: 0,
            last: None,
            clock_ticks: rustix::param::clock_ticks_per_second() as f64,
            page_size: rustix::param::page_size() as u64,
            settings: settings.clone(),
        }
    }

    fn limit(&self, file: &str, desc: &'static MetricDesc, out: &mut Snapshot) {
        match host::read_u64(&self.paths.proc(file)) {
            Ok(v) => out.add(desc, &[], v as f64),
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
    }

    /// Reads one process: stat always; the rest when it is (or may be) in a group.
    fn scan(&mut self, pid: u32, counts: &mut Counts) {
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
        }
        match self.reader.read(pid, "io") {
            Ok(bytes) => {
                r.io = parse_pid_io(bytes).map(|i| [i.read_bytes, i.write_bytes, i.rchar, i.wchar])
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
    fn resolve_fresh(&mut self) {
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
            Some(KERNEL.to_string())
        } else {
            self.match_rules(pid)
        };
        let (group, inheritable, folded) = match name {
            Some(name) => match self.groups.get_or_insert(&name) {
                Some(id) => (id, true, 0),
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

    /// The name the rules give `pid` (every process its comm when there are none), reading
    /// cmdline and cgroup only when a rule needs them.
    fn match_rules(&mut self, pid: u32) -> Option<String> {
        let info = self.table.info(pid)?;
        if self.settings.rules.is_empty() {
            return Some(escape(info.comm).into_owned());
        }
        let uid = info.uid;
        self.comm.clear();
        self.comm.extend_from_slice(info.comm);
        self.argv0.clear();
        self.cmdline.clear();
        if self.needs.cmdline
            && let Ok(bytes) = self.reader.read(pid, "cmdline")
        {
            if let Some(first) = args(bytes).next() {
                self.argv0.extend_from_slice(first);
            }
            join_into(bytes, &mut self.cmdline);
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
        let user = self.users.name(uid);
        let facts = Facts {
            comm: &comm,
            argv0: &self.argv0,
            cmdline: &self.cmdline,
            user: &user,
            cgroup: &self.cgroup,
        };
        rules::group_name(&self.settings.rules, &facts)
    }

    fn export_groups(&mut self, tick: &Tick, out: &mut Snapshot) {
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

    fn export_top(&mut self, tick: &Tick, out: &mut Snapshot) {
        let n = self.settings.top_n;
        let candidates = self.table.candidates();
        let mut chosen = Vec::with_capacity(2 * n);
        let cpu = candidates
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.cpu_ticks.filter(|&t| t > 0).map(|t| (t, i)));
        top(cpu, n, &mut self.rank, &mut chosen);
        let rss = candidates.iter().enumerate().map(|(i, c)| (c.rss, i));
        top(rss, n, &mut self.rank, &mut chosen);
        chosen.sort_unstable();
        chosen.dedup();
        let chosen: Vec<table::Candidate> = chosen.iter().map(|&i| candidates[i]).collect();
        self.users
            .refresh(&self.paths.root("etc/passwd"), self.tick);
        for c in chosen {
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

/// Appends to `chosen` the indexes of the `n` highest values, using `rank` as scratch.
fn top(
    values: impl Iterator<Item = (u64, usize)>,
    n: usize,
    rank: &mut Vec<(u64, usize)>,
    chosen: &mut Vec<usize>,
) {
    rank.clear();
    rank.extend(values);
    if rank.len() > n {
        rank.select_nth_unstable_by(n, |a, b| b.cmp(a));
        rank.truncate(n);
    }
    chosen.extend(rank.iter().map(|&(_, i)| i));
}

/// A process's group-name hash, for counting folded names (never 0, which means none).
fn fold_hash(name: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    h.finish() | 1
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
    }
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

impl Collector for ProcessesCollector {
    fn needs_two_readings(&self) -> bool {
        self.settings.groups
    }

    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let now = Instant::now();
        self.tick += 1;
        let stat = host::read(&self.paths.proc("stat"));
        let (btime, cpus) = match &stat {
            Ok(text) => match host::proc_stat::parse_proc_stat(text) {
                Ok(s) => (s.btime, Some(s.per_cpu.len()).filter(|&n| n > 0)),
                Err(_) => (None, None),
            },
            Err(_) => (None, None),
        };
        let tick = Tick {
            number: self.tick,
            btime,
            cpus,
            elapsed: self.last.map(|l| now.duration_since(l).as_secs_f64()),
        };
        self.last = Some(now);
        self.reader
            .list(&self.paths.procfs, &mut self.pids)
            .map_err(|source| HostError::Read {
                path: self.paths.procfs.clone(),
                source,
            })?;
        let groups = self.settings.groups;
        if groups {
            let uptime = (tick.number == 1)
                .then(|| host::read(&self.paths.proc("uptime")).ok())
                .flatten()
                .and_then(|t| host::uptime::parse_uptime(&t).ok())
                .map(|s| (s * self.clock_ticks) as u64);
            self.table.begin(uptime);
            self.groups.begin_tick();
        }
        let mut counts = Counts::default();
        self.scanned = 0;
        for i in 0..self.pids.len() {
            let pid = self.pids[i];
            self.scan(pid, &mut counts);
        }
        if groups {
            self.resolve_fresh();
            self.table.place_fresh(&mut self.groups);
            let reader = &mut self.reader;
            self.table.settle(&mut self.groups, |pid, start| {
                reader
                    .read(pid, "stat")
                    .ok()
                    .and_then(parse_pid_stat)
                    .is_some_and(|s| s.starttime == start)
            });
            self.groups.expire(now, self.settings.empty_group_ttl.0);
        }

        for (i, state) in STATES.iter().enumerate() {
            let n = counts.by_state[i];
            if ALWAYS[i] || n > 0 {
                out.add(&COUNT, &[(STATE, state)], n as f64);
            }
        }
        out.add(&THREADS, &[], counts.threads as f64);
        match stat
            .and_then(|text| parse_processes(&text).map_err(|e| e.at(&self.paths.proc("stat"))))
        {
            Ok(n) => out.add(&CREATED, &[], n as f64),
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
        self.limit("sys/kernel/pid_max", &PID_LIMIT, out);
        self.limit("sys/kernel/threads-max", &THREAD_LIMIT, out);
        if groups {
            self.export_groups(&tick, out);
            if self.settings.top_n > 0 {
                self.export_top(&tick, out);
            }
            for (i, file) in DENIED_FILES.iter().enumerate() {
                if i != DENIED_SMAPS || self.settings.smaps {
                    out.add(&READS_DENIED, &[(FILE, file)], self.denied[i] as f64);
                }
            }
            out.add(
                &FOLDED,
                &[],
                self.table.folded_names(&mut self.folded) as f64,
            );
        }
        out.add(&SCANNED, &[], self.scanned as f64);
        self.reader.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_line() {
        assert_eq!(
            parse_processes("ctxt 1\nprocesses 4242\nbtime 5\n"),
            Ok(4242)
        );
        assert!(parse_processes("ctxt 1\n").is_err());
    }

    /// A /proc tree in a temporary directory that a test rewrites between ticks.
    struct Tree(std::path::PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let root = std::env::temp_dir()
                .join(format!("vitals-processes-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let t = Tree(root);
            t.write(
                "proc/stat",
                "cpu  1 0 1 1 0 0 0 0 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\nbtime 1000\nprocesses 9\n",
            );
            t.write("proc/uptime", "100.00 100.00\n");
            t.write("proc/sys/kernel/pid_max", "32768\n");
            t.write("proc/sys/kernel/threads-max", "1000\n");
            t.write("etc/passwd", "root:x:0:0::/:/bin/sh\n");
            t
        }

        fn write(&self, rel: &str, text: &str) {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }

        /// A process with `utime` ticks of its own and `cutime` of its reaped children, `io`
        /// bytes read (None: io unreadable), started `start` ticks after boot.
        fn process(
            &self,
            pid: u32,
            ppid: u32,
            comm: &str,
            start: u64,
            (utime, cutime): (u64, u64),
            io: Option<u64>,
        ) {
            let _ = std::fs::remove_dir_all(self.0.join(format!("proc/{pid}")));
            self.write(
                &format!("proc/{pid}/stat"),
                &format!("{pid} ({comm}) S {ppid} 0 0 0 -1 0 0 0 0 0 {utime} 0 {cutime} 0 20 0 1 0 {start} 4096 1 0\n"),
            );
            self.write(
                &format!("proc/{pid}/status"),
                "Uid:\t0\t0\t0\t0\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\n",
            );
            match io {
                Some(b) => self.write(
                    &format!("proc/{pid}/io"),
                    &format!("rchar: {b}\nwchar: 0\nread_bytes: {b}\nwrite_bytes: 0\n"),
                ),
                None => self.write(&format!("proc/{pid}/io/README"), ""),
            }
            self.write(&format!("proc/{pid}/fd/0"), "");
        }

        fn remove(&self, pid: u32) {
            std::fs::remove_dir_all(self.0.join(format!("proc/{pid}"))).unwrap();
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn value(s: &Snapshot, desc: &MetricDesc, labels: &[(&str, &str)]) -> Option<f64> {
        s.family(desc.name)?
            .samples
            .iter()
            .find(|x| {
                labels
                    .iter()
                    .all(|(k, v)| x.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|x| x.value)
    }

    fn collect(c: &mut ProcessesCollector) -> Snapshot {
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        s
    }

    #[test]
    fn counters_across_ticks_exits_births_and_pid_reuse() {
        let t = Tree::new("ticks");
        let clk = rustix::param::clock_ticks_per_second() as f64;
        let user = |s: &Snapshot| {
            value(s, &CPU_TIME, &[(GROUP, "app"), (MODE, "user")]).map(|v| (v * clk).round())
        };
        t.process(10, 1, "app", 50, (100, 0), Some(1000));
        t.process(11, 10, "app", 60, (20, 0), None);
        let mut c = ProcessesCollector::new(HostPaths::under(&t.0), &Settings::default());
        let s = collect(&mut c);
        assert_eq!(user(&s), Some(0.0), "counters start at 0");
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "app"), (STATE, "sleeping")]),
            Some(2.0)
        );
        assert_eq!(value(&s, &READS_DENIED, &[(FILE, "io")]), Some(1.0));
        assert_eq!(
            value(&s, &DISK_IO, &[(GROUP, "app"), (DIRECTION, "read")]),
            Some(0.0)
        );

        // 11 ran 5 more ticks, exited and was reaped by 10 (cutime 25); 12 is born (start
        // 20000 ticks, after vitals' first tick at uptime 100 s) with 7 ticks.
        t.process(10, 1, "app", 50, (110, 25), Some(1500));
        t.remove(11);
        t.process(12, 10, "app", 20000, (7, 0), Some(300));
        let s = collect(&mut c);
        assert_eq!(user(&s), Some((10 + 5 + 7) as f64));
        assert_eq!(
            value(&s, &DISK_IO, &[(GROUP, "app"), (DIRECTION, "read")]),
            Some(500.0 + 300.0)
        );
        assert_eq!(value(&s, &READS_DENIED, &[(FILE, "io")]), Some(1.0));

        // pid 12 reused by a new process with 2 ticks: nothing goes backwards.
        t.process(12, 10, "app", 30000, (2, 0), Some(0));
        let s = collect(&mut c);
        assert_eq!(user(&s), Some((22 + 2) as f64));
        assert_eq!(value(&s, &SCANNED, &[]), Some(2.0));

        // Every member gone: the group stays (its counters too) until empty_group_ttl.
        t.remove(10);
        t.remove(12);
        let s = collect(&mut c);
        assert_eq!(user(&s), Some(24.0));
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "app"), (STATE, "sleeping")]),
            Some(0.0)
        );
        assert_eq!(value(&s, &MEMORY_USAGE, &[(GROUP, "app")]), Some(0.0));
    }

    #[test]
    fn max_groups_folds_into_other_and_counts_names() {
        let t = Tree::new("fold");
        for (i, comm) in ["a", "b", "c", "d", "c"].iter().enumerate() {
            t.process(10 + i as u32, 1, comm, 50, (0, 0), Some(0));
        }
        let settings = Settings {
            max_groups: 2,
            ..Settings::default()
        };
        let mut c = ProcessesCollector::new(HostPaths::under(&t.0), &settings);
        let s = collect(&mut c);
        let groups: Vec<&str> = s
            .family(MEMORY_USAGE.name)
            .unwrap()
            .samples
            .iter()
            .map(|x| x.labels[0].1.as_str())
            .collect();
        assert_eq!(groups, ["a", "b", "other"]);
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "other"), (STATE, "sleeping")]),
            Some(3.0)
        );
        assert_eq!(value(&s, &FOLDED, &[]), Some(2.0), "c and d");
    }

    #[test]
    fn rules_children_and_drop() {
        let t = Tree::new("rules");
        t.process(10, 1, "sshd", 50, (0, 0), Some(0));
        t.process(11, 10, "bash", 60, (0, 0), Some(0));
        t.process(12, 11, "vim", 70, (0, 0), Some(0));
        t.process(13, 1, "cron", 80, (0, 0), Some(0));
        let settings: Settings =
            toml::from_str("unmatched = \"drop\"\n[[group]]\nname = \"ssh\"\ncomm = [\"sshd\"]\n")
                .unwrap();
        let mut c = ProcessesCollector::new(HostPaths::under(&t.0), &settings);
        let s = collect(&mut c);
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "ssh"), (STATE, "sleeping")]),
            Some(3.0)
        );
        assert_eq!(
            s.family(GROUP_COUNT.name).unwrap().samples.len(),
            1,
            "cron dropped"
        );
        assert_eq!(
            value(&s, &COUNT, &[(STATE, "sleeping")]),
            Some(4.0),
            "the system-wide counts keep every process"
        );
        // vim execs into a command no rule matches: it stays with its ancestor's group.
        t.process(12, 11, "make", 70, (0, 0), Some(0));
        let s = collect(&mut c);
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "ssh"), (STATE, "sleeping")]),
            Some(3.0)
        );
        // cron execs into sshd: matched now.
        t.process(13, 1, "sshd", 80, (0, 0), Some(0));
        let s = collect(&mut c);
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "ssh"), (STATE, "sleeping")]),
            Some(4.0)
        );
    }

    #[test]
    fn groups_off_is_the_system_counts_alone() {
        let t = Tree::new("off");
        t.process(10, 1, "a", 50, (0, 0), Some(0));
        let settings = Settings {
            groups: false,
            ..Settings::default()
        };
        let mut c = ProcessesCollector::new(HostPaths::under(&t.0), &settings);
        assert!(!c.needs_two_readings());
        let s = collect(&mut c);
        assert!(s.family(GROUP_COUNT.name).is_none());
        assert_eq!(value(&s, &COUNT, &[(STATE, "sleeping")]), Some(1.0));
        assert_eq!(value(&s, &SCANNED, &[]), Some(1.0));
    }

    /// Every per-process parser on every prefix of the fixture files, and on byte-flipped
    /// copies: damaged host text is a partial result or `None`, never a panic.
    #[test]
    fn parsers_never_panic_on_damaged_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/processes/proc/701");
        let parse = |b: &[u8]| {
            let _ = parse_pid_stat(b);
            let _ = parse_pid_status(b);
            let _ = parse_pid_io(b);
            let _ = parse_smaps_rollup(b);
            let _ = parse_nofile_soft(b);
            let _ = cgroup_path(b);
            let mut out = Vec::new();
            join_into(b, &mut out);
            let _ = passwd::parse_passwd(b);
        };
        for file in [
            "stat", "status", "io", "limits", "cgroup", "cmdline", "statm",
        ] {
            let text = std::fs::read(dir.join(file)).unwrap();
            for end in 0..=text.len() {
                parse(&text[..end]);
            }
            for i in 0..text.len() {
                for b in [b' ', b'\n', b'(', b')', b':', b'-', 0xff, 0] {
                    let mut t = text.clone();
                    t[i] = b;
                    parse(&t);
                }
            }
        }
    }

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
            groups: false,
            top_n: 5,
            ..Settings::default()
        };
        assert_eq!(s.check().unwrap_err().0, "top_n");
    }
}

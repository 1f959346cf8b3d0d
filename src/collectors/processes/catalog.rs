//! The processes collector's metric descriptions: what each family means and which psutil
//! call it answers. Attribute names are shared with the export.

use crate::catalog::{Instrument, MetricDesc};

pub(super) const STATE: &str = "process.state";
pub(super) const GROUP: &str = "process.group";
pub(super) const MODE: &str = "cpu.mode";
pub(super) const DIRECTION: &str = "disk.io.direction";
pub(super) const SWITCH: &str = "process.context_switch.type";
pub(super) const FAULT: &str = "system.paging.fault.type";
pub(super) const PID: &str = "process.pid";
pub(super) const COMMAND: &str = "process.command";
pub(super) const OWNER: &str = "process.owner";
pub(super) const COMMAND_LINE: &str = "process.command_line";
pub(super) const FILE: &str = "file";

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
    &super::sockets::GROUP_CONNECTIONS,
    &super::sockets::PROCESS_CONNECTIONS,
    &super::sockets::DENIED,
];

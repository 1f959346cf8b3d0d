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
pub(super) const PPID: &str = "process.parent_pid";
pub(super) const EXE_NAME: &str = "process.executable.name";
pub(super) const EXE_PATH: &str = "process.executable.path";
pub(super) const REAL_UID: &str = "process.real_user.id";
pub(super) const UID: &str = "process.user.id";
pub(super) const SAVED_UID: &str = "process.saved_user.id";
pub(super) const REAL_GID: &str = "process.real_group.id";
pub(super) const GID: &str = "process.group.id";
pub(super) const SAVED_GID: &str = "process.saved_group.id";
pub(super) const TERMINAL: &str = "process.terminal";
pub(super) const RESOURCE: &str = "process.rlimit.resource";
pub(super) const LIMIT_KIND: &str = "process.rlimit.kind";
pub(super) const IOPRIO_CLASS: &str = "process.io_priority.class";
pub(super) const THREAD_ID: &str = "thread.id";
pub(super) const THREAD_NAME: &str = "thread.name";
pub(super) const ENV_NAME: &str = "process.environment_variable.name";
pub(super) const ENV_VALUE: &str = "process.environment_variable.value";

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
    help: "CPU seconds of the group's processes since vitals first saw them (0 when vitals starts: use rate()), a process born later from its birth; plus what exited processes ran since their last reading (or their whole life, if vitals never saw them). In accounting mode exit_records (a self-metric says which mode) from the kernel's taskstats exit records: every process counted once, with what it ran after the kernel filled its record (the teardown of its memory and files) credited a tick later from its reaper's cutime or, for a child nobody waits for (SIGCHLD ignored), from its final clock (vitals_process_teardown_cpu_time_seconds_total; needs the eBPF program of collectors.processes.exit_teardown), so the sum over groups follows the CPU time of all tasks; in mode cutime from the growth of the members' cutime, cstime (exited children they waited for) that vitals did not count already, which misses children nobody waits for and can count a re-parented child twice. Never decreases while vitals runs",
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
    help: "Bytes the group's processes made storage read, and wrote or dirtied in the page cache, since vitals first saw them (as process_cpu_time_seconds_total), plus those of exited processes from their exit records in accounting mode exit_records (not in mode cutime). Absent for a group whose /proc/<pid>/io is unreadable (other users' processes when vitals is unprivileged)",
    attributes: &[GROUP, DIRECTION],
    source: "sum of increments of io_counters().read_bytes, .write_bytes",
    extension: false,
};

pub static IO: MetricDesc = MetricDesc {
    name: "process.io",
    unit: "By",
    instrument: Instrument::Counter,
    help: "Bytes the group's processes passed to read and write syscalls on any file, pipe or socket, page-cache hits included (rchar, wchar), since vitals first saw them, plus those of exited processes from their exit records in accounting mode exit_records (not in mode cutime)",
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
    help: "Context switches of the group's processes since vitals first saw them; as psutil, each process's are its main thread's (/proc/<pid>/status); plus those of exited processes' main threads from their exit records in accounting mode exit_records (not in mode cutime)",
    attributes: &[GROUP, SWITCH],
    source: "sum of increments of num_ctx_switches().voluntary, .involuntary",
    extension: false,
};

pub static PAGING_FAULTS: MetricDesc = MetricDesc {
    name: "process.paging.faults",
    unit: "{fault}",
    instrument: Instrument::Counter,
    help: "Page faults of the group's processes since vitals first saw them, plus those of exited processes not counted already (from exit records, or cmajflt, cminflt growth in mode cutime), as process_cpu_time_seconds_total",
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

pub static IO_OPERATIONS: MetricDesc = MetricDesc {
    name: "process.io.operations",
    unit: "{operation}",
    instrument: Instrument::Counter,
    help: "Read and write syscalls of the group's processes (syscr, syscw of /proc/<pid>/io) since vitals first saw them, as process_io_bytes_total (exited processes included in accounting mode exit_records)",
    attributes: &[GROUP, DIRECTION],
    source: "sum of increments of io_counters().read_count, .write_count",
    extension: true,
};

pub static STARTED: MetricDesc = MetricDesc {
    name: "process.started",
    unit: "{process}",
    instrument: Instrument::Counter,
    help: "Processes born into the group since vitals started (first seen with a start time after vitals' first tick): restarts of a worker in a pool and fork rates show in its rate()",
    attributes: &[GROUP],
    source: "count of new (pid, create_time()) identities in the group",
    extension: true,
};

pub static TOP_CPU: MetricDesc = MetricDesc {
    name: "process.top.cpu.utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "Share of all CPUs over the last interval of each of the top_n processes highest in CPU, the top_n highest in RSS and the top_n highest in disk I/O (at most 3 x top_n series; psutil's cpu_percent() = this x cpu_count() x 100). A name of its own, so that sums over process_* group metrics never count a process twice",
    attributes: &[PID, COMMAND, OWNER, GROUP, COMMAND_LINE],
    source: "p.cpu_percent() / cpu_count() / 100",
    extension: true,
};

pub static TOP_MEMORY: MetricDesc = MetricDesc {
    name: "process.top.memory.usage",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "RSS of each process of process_top_cpu_utilization_ratio (the top_n by CPU, by RSS and by disk I/O); process_command_line only with top_cmdline = true",
    attributes: &[PID, COMMAND, OWNER, GROUP, COMMAND_LINE],
    source: "p.memory_info().rss",
    extension: true,
};

pub static DETAIL_INFO: MetricDesc = MetricDesc {
    name: "process.detail.info",
    unit: "",
    instrument: Instrument::Gauge,
    help: "One series per process that has per-process series (the top_n by CPU, by RSS and by disk I/O, then the processes of per_process = true groups; max_processes in all), value 1: pid, ppid, name() (the full name where the kernel cut comm at 15 bytes), exe (ending in ' (deleted)' when the binary was deleted since: psutil strips that suffix), username() of the real uid, uids() and gids() (real, effective, saved), terminal() (empty: none), status(); process_command_line only with top_cmdline = true",
    attributes: &[PID, PPID, EXE_NAME, EXE_PATH, OWNER, REAL_UID, UID, SAVED_UID, REAL_GID, GID, SAVED_GID, TERMINAL, STATE, GROUP, COMMAND_LINE],
    source: "p.pid, p.ppid(), p.name(), p.exe(), p.username(), p.uids(), p.gids(), p.terminal(), p.status(), p.cmdline()",
    extension: true,
};

pub static DETAIL_START: MetricDesc = MetricDesc {
    name: "process.detail.start_time",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "create_time() of each per-process process: Unix seconds (boot time + start ticks / CLK_TCK)",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.create_time()",
    extension: true,
};

pub static DETAIL_STATE: MetricDesc = MetricDesc {
    name: "process.detail.state",
    unit: "",
    instrument: Instrument::Gauge,
    help: "status() of each per-process process as a label, value 1 (count by process_state)",
    attributes: &[PID, EXE_NAME, GROUP, STATE],
    source: "p.status()",
    extension: true,
};

pub static DETAIL_CPU_TIME: MetricDesc = MetricDesc {
    name: "process.detail.cpu.time",
    unit: "s",
    instrument: Instrument::Counter,
    help: "cpu_times() of each per-process process as the kernel counts them (since the process started, not since vitals did): user, system, children_user and children_system (waited-for children), iowait (delayacct_blkio_ticks: 0 unless the kernel accounts delays)",
    attributes: &[PID, EXE_NAME, GROUP, MODE],
    source: "p.cpu_times()",
    extension: true,
};

pub static DETAIL_CPU_UTILIZATION: MetricDesc = MetricDesc {
    name: "process.detail.cpu.utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "Share of all CPUs the process used over the last interval (user + system); psutil's cpu_percent() = this x cpu_count() x 100",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.cpu_percent() / cpu_count() / 100",
    extension: true,
};

pub static DETAIL_CPU_NUMBER: MetricDesc = MetricDesc {
    name: "process.detail.cpu.number",
    unit: "{cpu}",
    instrument: Instrument::Gauge,
    help: "cpu_num(): the CPU the process last ran on",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.cpu_num()",
    extension: true,
};

pub static DETAIL_CPU_AFFINITY: MetricDesc = MetricDesc {
    name: "process.detail.cpu.affinity",
    unit: "{cpu}",
    instrument: Instrument::Gauge,
    help: "len(cpu_affinity()): the CPUs the process may run on (Cpus_allowed_list of /proc/<pid>/status)",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "len(p.cpu_affinity())",
    extension: true,
};

pub static DETAIL_MEMORY_USAGE: MetricDesc = MetricDesc {
    name: "process.detail.memory.usage",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "memory_info().rss: resident set size (VmRSS, exact)",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_info().rss",
    extension: true,
};

pub static DETAIL_MEMORY_VIRTUAL: MetricDesc = MetricDesc {
    name: "process.detail.memory.virtual",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "memory_info().vms: virtual memory size",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_info().vms",
    extension: true,
};

pub static DETAIL_MEMORY_SHARED: MetricDesc = MetricDesc {
    name: "process.detail.memory.shared",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "memory_info().shared: resident file-backed and shared pages (statm shared)",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_info().shared",
    extension: true,
};

pub static DETAIL_MEMORY_TEXT: MetricDesc = MetricDesc {
    name: "process.detail.memory.text",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "memory_info().text: program code (statm text)",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_info().text",
    extension: true,
};

pub static DETAIL_MEMORY_LIB: MetricDesc = MetricDesc {
    name: "process.detail.memory.lib",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "memory_info().lib: always 0 since Linux 2.6 (statm lib), kept for parity",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_info().lib",
    extension: true,
};

pub static DETAIL_MEMORY_DATA: MetricDesc = MetricDesc {
    name: "process.detail.memory.data",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "memory_info().data: data and stack (statm data)",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_info().data",
    extension: true,
};

pub static DETAIL_MEMORY_DIRTY: MetricDesc = MetricDesc {
    name: "process.detail.memory.dirty",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "memory_info().dirty: always 0 since Linux 2.6 (statm dt), kept for parity",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_info().dirty",
    extension: true,
};

pub static DETAIL_MEMORY_SWAP: MetricDesc = MetricDesc {
    name: "process.detail.memory.swap",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Swapped-out memory (VmSwap of /proc/<pid>/status; psutil's memory_full_info().swap sums the Swap lines of smaps, the same pages)",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_full_info().swap",
    extension: true,
};

pub static DETAIL_MEMORY_USS: MetricDesc = MetricDesc {
    name: "process.detail.memory.uss",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "memory_full_info().uss: memory freed if the process exited (Private_* of smaps_rollup). Only with smaps = true",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_full_info().uss",
    extension: true,
};

pub static DETAIL_MEMORY_PSS: MetricDesc = MetricDesc {
    name: "process.detail.memory.pss",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "memory_full_info().pss (Pss of smaps_rollup). Only with smaps = true",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_full_info().pss",
    extension: true,
};

pub static DETAIL_MEMORY_UTILIZATION: MetricDesc = MetricDesc {
    name: "process.detail.memory.utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "memory_percent() / 100: RSS over MemTotal",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.memory_percent() / 100",
    extension: true,
};

pub static DETAIL_DISK_IO: MetricDesc = MetricDesc {
    name: "process.detail.disk.io",
    unit: "By",
    instrument: Instrument::Counter,
    help: "io_counters().read_bytes, .write_bytes: bytes the process made storage read, and wrote or dirtied in the page cache",
    attributes: &[PID, EXE_NAME, GROUP, DIRECTION],
    source: "p.io_counters().read_bytes, .write_bytes",
    extension: true,
};

pub static DETAIL_IO: MetricDesc = MetricDesc {
    name: "process.detail.io",
    unit: "By",
    instrument: Instrument::Counter,
    help: "io_counters().read_chars, .write_chars: bytes passed to read and write syscalls (rchar, wchar)",
    attributes: &[PID, EXE_NAME, GROUP, DIRECTION],
    source: "p.io_counters().read_chars, .write_chars",
    extension: true,
};

pub static DETAIL_IO_OPERATIONS: MetricDesc = MetricDesc {
    name: "process.detail.io.operations",
    unit: "{operation}",
    instrument: Instrument::Counter,
    help: "io_counters().read_count, .write_count: read and write syscalls (syscr, syscw)",
    attributes: &[PID, EXE_NAME, GROUP, DIRECTION],
    source: "p.io_counters().read_count, .write_count",
    extension: true,
};

pub static DETAIL_CONTEXT_SWITCHES: MetricDesc = MetricDesc {
    name: "process.detail.context_switches",
    unit: "{context_switch}",
    instrument: Instrument::Counter,
    help: "num_ctx_switches(): the main thread's voluntary and involuntary switches, as psutil counts them",
    attributes: &[PID, EXE_NAME, GROUP, SWITCH],
    source: "p.num_ctx_switches()",
    extension: true,
};

pub static DETAIL_FD_COUNT: MetricDesc = MetricDesc {
    name: "process.detail.unix.file_descriptor.count",
    unit: "{file_descriptor}",
    instrument: Instrument::UpDownCounter,
    help: "num_fds(): open descriptors",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.num_fds()",
    extension: true,
};

pub static DETAIL_OPEN_FILES: MetricDesc = MetricDesc {
    name: "process.detail.open_file.count",
    unit: "{file}",
    instrument: Instrument::UpDownCounter,
    help: "len(open_files()): descriptors on regular files by psutil's rule (an absolute path that is a regular file: deleted files and memfds do not count)",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "len(p.open_files())",
    extension: true,
};

pub static DETAIL_THREAD_COUNT: MetricDesc = MetricDesc {
    name: "process.detail.thread.count",
    unit: "{thread}",
    instrument: Instrument::UpDownCounter,
    help: "num_threads()",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.num_threads()",
    extension: true,
};

pub static DETAIL_RLIMIT: MetricDesc = MetricDesc {
    name: "process.detail.rlimit",
    unit: "",
    instrument: Instrument::Gauge,
    help: "rlimit() of every resource (psutil's names: cpu, fsize, data, stack, core, rss, nproc, nofile, memlock, as, locks, sigpending, msgqueue, nice, rtprio, rttime), soft and hard, in the resource's own unit (seconds, bytes, count, microseconds); -1 is unlimited, psutil's RLIM_INFINITY",
    attributes: &[PID, EXE_NAME, GROUP, RESOURCE, LIMIT_KIND],
    source: "p.rlimit(psutil.RLIMIT_*)",
    extension: true,
};

pub static DETAIL_NICE: MetricDesc = MetricDesc {
    name: "process.detail.nice",
    unit: "",
    instrument: Instrument::Gauge,
    help: "nice(): -20 (first) to 19 (last)",
    attributes: &[PID, EXE_NAME, GROUP],
    source: "p.nice()",
    extension: true,
};

pub static DETAIL_IO_PRIORITY: MetricDesc = MetricDesc {
    name: "process.detail.io_priority",
    unit: "",
    instrument: Instrument::Gauge,
    help: "ionice(): the value (0-7; 0 for the none and idle classes) with the class (none, rt, be, idle) as a label; from ioprio_get(2), so absent when vitals reads another pid namespace's /proc",
    attributes: &[PID, EXE_NAME, GROUP, IOPRIO_CLASS],
    source: "p.ionice()",
    extension: true,
};

pub static DETAIL_THREAD_CPU_TIME: MetricDesc = MetricDesc {
    name: "process.detail.thread.cpu.time",
    unit: "s",
    instrument: Instrument::Counter,
    help: "threads(): user and system CPU of the top_threads threads of each per-process process highest in total CPU, with the thread id and name (the thread's comm)",
    attributes: &[PID, EXE_NAME, GROUP, THREAD_ID, THREAD_NAME, MODE],
    source: "p.threads() (id, user_time, system_time)",
    extension: true,
};

pub static DETAIL_ENVIRON: MetricDesc = MetricDesc {
    name: "process.detail.environment_variable.info",
    unit: "",
    instrument: Instrument::Gauge,
    help: "environ(): the variables named in environ (empty by default: environments hold secrets), value 1, one series per variable a per-process process has; absent when /proc/<pid>/environ is unreadable",
    attributes: &[PID, EXE_NAME, GROUP, ENV_NAME, ENV_VALUE],
    source: "p.environ()[name]",
    extension: true,
};

pub static DETAIL_FOLDED: MetricDesc = MetricDesc {
    name: "vitals.process.detail.folded",
    unit: "{process}",
    instrument: Instrument::Gauge,
    help: "Processes of per_process = true groups left without per-process series this tick because max_processes were taken; they count in their group as always",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static DETAIL_THREADS_FOLDED: MetricDesc = MetricDesc {
    name: "vitals.process.detail.threads.folded",
    unit: "{thread}",
    instrument: Instrument::Gauge,
    help: "Threads of this tick's per-process processes left without per-thread CPU series because each process's top_threads busiest were taken (threads read minus threads exported, summed over the processes); 0 when none were left out, absent when top_threads = 0 turns per-thread series off",
    attributes: &[],
    source: "vitals",
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

// Exited processes (exits.rs), from taskstats exit records.
pub const EXIT_REASON: &str = "process.exit.reason";
pub const EXIT_SIGNAL: &str = "process.exit.signal";
pub const MODE_LABEL: &str = "mode";

pub static EXITS: MetricDesc = MetricDesc {
    name: "process.exits",
    unit: "{process}",
    instrument: Instrument::Counter,
    help: "Processes of the group that ended (every process, however short-lived; threads are not counted), by how: process_exit_reason exit_zero, exit_nonzero, or signal with the signal's name in process_exit_signal (SIGKILL also after an OOM kill, SIGSEGV, SIGABRT). From taskstats exit records: only filled in accounting mode exit_records (vitals_process_accounting_mode), i.e. with CAP_NET_ADMIN in the initial namespaces",
    attributes: &[GROUP, EXIT_REASON, EXIT_SIGNAL],
    source: "taskstats exit records (ac_exitcode), psutil has no equivalent",
    extension: true,
};

pub static ACCOUNTING_MODE: MetricDesc = MetricDesc {
    name: "vitals.process.accounting.mode",
    unit: "",
    instrument: Instrument::Gauge,
    help: "1 for how the last tick credited exited processes, 0 for the others: exit_records (taskstats: every process once, what each runs after its record is filled credited from its reaper's cutime or its final clock), cutime_after_loss (records were lost since the previous tick: that tick used cutime), cutime (no taskstats listener: exited children through their parents' cutime/cstime, which misses children nobody waits for and can count a re-parented child twice)",
    attributes: &[MODE_LABEL],
    source: "vitals",
    extension: true,
};

pub static EXIT_RECORDS: MetricDesc = MetricDesc {
    name: "vitals.process.exit_records",
    unit: "{record}",
    instrument: Instrument::Counter,
    help: "taskstats exit records received (one per exiting thread); present only in accounting mode exit_records",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static EXIT_RECORDS_LOST: MetricDesc = MetricDesc {
    name: "vitals.process.exit_records.lost",
    unit: "{record}",
    instrument: Instrument::Counter,
    help: "Losses of taskstats exit records: receive-buffer overflows reported by the kernel (ENOBUFS, each at least one record) and records a full queue turned away. A tick after a loss credits exited processes by cutime",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static CPU_UNATTRIBUTED: MetricDesc = MetricDesc {
    name: "vitals.process.cpu.unattributed",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "CPU time the kernel reports for all tasks over the last interval (system_cpu_time_seconds_total user + nice + system) that no group gained: dropped processes (unmatched = \"drop\"), lost exits, in mode exit_records what children nobody waits for (SIGCHLD ignored) ran after the kernel filled their exit record (the teardown of their memory and files) when the eBPF program of collectors.processes.exit_teardown is not loaded, in mode cutime children nobody waited for; and the difference between the tick-sampled clock of /proc/stat and the scheduler's runtime that process CPU times are scaled to",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static CPU_OVERCOUNTED: MetricDesc = MetricDesc {
    name: "vitals.process.cpu.overcounted",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "CPU time the groups gained over the last interval beyond what the kernel reports for all tasks: time attributed twice (0 with exit records, but for the rounding of per-process and per-CPU clocks)",
    attributes: &[],
    source: "vitals",
    extension: true,
};

// The teardown of children of parents that ignore SIGCHLD (teardown.rs).
pub static TEARDOWN_CPU: MetricDesc = MetricDesc {
    name: "vitals.process.teardown.cpu.time",
    unit: "s",
    instrument: Instrument::Counter,
    help: "CPU time credited to the groups (as system time, within process_cpu_time_seconds_total) for processes whose parent ignored SIGCHLD, run after their exit records were filled (freeing their memory and files): the final scheduler clock of each one's last thread, read as the kernel freed it (eBPF on sched_process_free), less its exit record's runtime. Present when collectors.processes.exit_teardown loaded the program",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static TEARDOWN_MISSED: MetricDesc = MetricDesc {
    name: "vitals.process.teardown.missed",
    unit: "{process}",
    instrument: Instrument::Counter,
    help: "Processes whose parent ignored SIGCHLD and whose final clock did not come within two ticks of their exit record (the ring was full, or the task was freed later): their teardown is not credited",
    attributes: &[],
    source: "vitals",
    extension: true,
};

// Sockets per process (sockets = true, [`super::sockets`]).
pub(super) const NET_TRANSPORT: &str = "network.transport";
pub(super) const NET_TYPE: &str = "network.type";
pub(super) const NET_STATE: &str = "network.connection.state";

pub static GROUP_CONNECTIONS: MetricDesc = MetricDesc {
    name: "process.network.connection.count",
    unit: "{connection}",
    instrument: Instrument::UpDownCounter,
    help: "TCP and UDP sockets the group's processes hold, by transport, family and TCP state (UDP has none, psutil's NONE): the sum of psutil's Process.net_connections(kind='inet') over the group, a socket shared by two processes counting for each (opt-in: collectors.processes.sockets; a combination with no socket has no series)",
    attributes: &[GROUP, NET_TRANSPORT, NET_TYPE, NET_STATE],
    source: "sum(len(p.net_connections(kind='inet'))) by type, family, status",
    extension: true,
};

pub static PROCESS_CONNECTIONS: MetricDesc = MetricDesc {
    name: "process.detail.network.connection.count",
    unit: "{connection}",
    instrument: Instrument::UpDownCounter,
    help: "TCP and UDP sockets of each process that has series of its own, by transport, family and TCP state: psutil's Process.net_connections(kind='inet') counted (opt-in: collectors.processes.sockets; a combination with no socket has no series)",
    attributes: &[PID, EXE_NAME, GROUP, NET_TRANSPORT, NET_TYPE, NET_STATE],
    source: "len(p.net_connections(kind='inet')) by type, family, status",
    extension: true,
};

pub static DENIED_SOCKETS: MetricDesc = MetricDesc {
    name: "vitals.process.sockets.denied",
    unit: "{process}",
    instrument: Instrument::Gauge,
    help: "Grouped processes whose /proc/<pid>/fd the last socket walk could not read (permission denied: other users' processes when vitals is unprivileged); their sockets are in no group's count. Never logged",
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
    &IO_OPERATIONS,
    &STARTED,
    &TOP_CPU,
    &TOP_MEMORY,
    &DETAIL_INFO,
    &DETAIL_START,
    &DETAIL_STATE,
    &DETAIL_CPU_TIME,
    &DETAIL_CPU_UTILIZATION,
    &DETAIL_CPU_NUMBER,
    &DETAIL_CPU_AFFINITY,
    &DETAIL_MEMORY_USAGE,
    &DETAIL_MEMORY_VIRTUAL,
    &DETAIL_MEMORY_SHARED,
    &DETAIL_MEMORY_TEXT,
    &DETAIL_MEMORY_LIB,
    &DETAIL_MEMORY_DATA,
    &DETAIL_MEMORY_DIRTY,
    &DETAIL_MEMORY_SWAP,
    &DETAIL_MEMORY_USS,
    &DETAIL_MEMORY_PSS,
    &DETAIL_MEMORY_UTILIZATION,
    &DETAIL_DISK_IO,
    &DETAIL_IO,
    &DETAIL_IO_OPERATIONS,
    &DETAIL_CONTEXT_SWITCHES,
    &DETAIL_FD_COUNT,
    &DETAIL_OPEN_FILES,
    &DETAIL_THREAD_COUNT,
    &DETAIL_RLIMIT,
    &DETAIL_NICE,
    &DETAIL_IO_PRIORITY,
    &DETAIL_THREAD_CPU_TIME,
    &DETAIL_ENVIRON,
    &READS_DENIED,
    &SCANNED,
    &FOLDED,
    &GROUP_CONNECTIONS,
    &PROCESS_CONNECTIONS,
    &DENIED_SOCKETS,
    &DETAIL_FOLDED,
    &DETAIL_THREADS_FOLDED,
    &EXITS,
    &ACCOUNTING_MODE,
    &EXIT_RECORDS,
    &EXIT_RECORDS_LOST,
    &CPU_UNATTRIBUTED,
    &CPU_OVERCOUNTED,
    &TEARDOWN_CPU,
    &TEARDOWN_MISSED,
];

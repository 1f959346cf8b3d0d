//! System-wide process counts: processes by psutil state, threads, processes created since
//! boot, and the kernel's pid and thread limits. One read of `/proc/<pid>/stat` per process
//! into a reused buffer; a process that exits while being read is simply not counted, as
//! psutil's `process_iter()` skips it.

use std::io::Read;

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::host::proc_pid_stat::{STATES, parse_state_threads, state_index};
use crate::host::{self, HostError, HostPaths, ParseError};
use crate::snapshot::Snapshot;

super::settings::plain_settings!(5, 5);

const STATE: &str = "process.state";

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

pub static CATALOG: &[&MetricDesc] = &[&COUNT, &THREADS, &CREATED, &PID_LIMIT, &THREAD_LIMIT];

/// States exported even at zero: psutil's Linux statuses a current kernel can report.
const ALWAYS: [bool; STATES.len()] = [
    true, true, true, true, true, true, true, false, false, true, true,
];

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

/// Reads every `/proc/<pid>/stat` once. `buf` and `path` are reused between pids and ticks.
pub fn count(paths: &HostPaths, buf: &mut Vec<u8>, path: &mut String) -> Result<Counts, HostError> {
    let mut counts = Counts::default();
    let dir = std::fs::read_dir(&paths.procfs).map_err(|source| HostError::Read {
        path: paths.procfs.clone(),
        source,
    })?;
    let root = paths.procfs.to_string_lossy();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str() else { continue };
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        path.clear();
        path.push_str(&root);
        path.push('/');
        path.push_str(pid);
        path.push_str("/stat");
        buf.clear();
        let Ok(mut file) = std::fs::File::open(path.as_str()) else {
            continue;
        };
        if file.read_to_end(buf).is_err() {
            continue;
        }
        if let Some((letter, threads)) = parse_state_threads(buf) {
            if let Some(i) = state_index(letter) {
                counts.by_state[i] += 1;
            }
            counts.threads += threads;
        }
    }
    Ok(counts)
}

pub struct ProcessesCollector {
    paths: HostPaths,
    buf: Vec<u8>,
    path: String,
}

impl ProcessesCollector {
    pub fn new(paths: HostPaths) -> Self {
        Self {
            paths,
            buf: Vec::with_capacity(1024),
            path: String::with_capacity(64),
        }
    }

    fn limit(&self, file: &str, desc: &'static MetricDesc, out: &mut Snapshot) {
        match host::read_u64(&self.paths.proc(file)) {
            Ok(v) => out.add(desc, &[], v as f64),
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
    }
}

impl Collector for ProcessesCollector {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn catalog(&self) -> &'static [&'static MetricDesc] {
        CATALOG
    }

    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let counts = count(&self.paths, &mut self.buf, &mut self.path)?;
        for (i, state) in STATES.iter().enumerate() {
            let n = counts.by_state[i];
            if ALWAYS[i] || n > 0 {
                out.add(&COUNT, &[(STATE, state)], n as f64);
            }
        }
        out.add(&THREADS, &[], counts.threads as f64);
        match host::read_parsed(&self.paths.proc("stat"), parse_processes) {
            Ok(n) => out.add(&CREATED, &[], n as f64),
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
        self.limit("sys/kernel/pid_max", &PID_LIMIT, out);
        self.limit("sys/kernel/threads-max", &THREAD_LIMIT, out);
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
}

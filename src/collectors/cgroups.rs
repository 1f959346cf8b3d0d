//! Services, containers and pods: the cgroup v2 hierarchy's files per selected cgroup.
//!
//! - Where: `<sysfs>/fs/cgroup` on a pure v2 host, `<sysfs>/fs/cgroup/unified` on a hybrid
//!   one (whichever holds `cgroup.controllers`). No v2 hierarchy: no series, no error.
//! - Which: by default the workloads, i.e. cgroups whose path says they are a service, a
//!   scope or a container, and of those only the deepest on each branch, so that no selected
//!   cgroup contains another and `sum()` over any family never counts a CPU second twice
//!   (a pod's series are the sum of its containers': `sum by (k8s_pod_uid)`). `include` adds
//!   cgroups by path, `exclude` removes them; past `max_cgroups` the rest are left out and
//!   counted in `vitals_cgroups_folded`, the ones already exported keeping their place.
//! - When: the tree's directory names are walked every `rescan_ticks` ticks; in between only
//!   the known cgroups' files are read, and a cgroup whose `cpu.stat` is gone has left: its
//!   series go at that tick.
//! - What: of the files listed in [`FILES`], those the cgroup's enabled controllers provide
//!   (known from the walk: no failed opens per tick). Every file is read with the capped
//!   reader into one reused buffer and parsed in place.
//! - Names: [`crate::host::cgroup_names`] from the path, the kubelet's `/var/log/pods` and
//!   `/var/log/containers`, Docker's `config.v2.json` and Podman's `containers.json` under
//!   the root filesystem, read when the walk finds a container not seen before.
//!
//! Counters are the kernel's, per cgroup lifetime: a cgroup removed and created again under
//! the same path starts from zero, which Prometheus and the OTLP encoder read as a reset.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::Collector;
use super::pressure::{KIND, RESOURCE};
use crate::catalog::{Instrument, MetricDesc};
use crate::filter::Pattern;
use crate::serving::Yield;
use crate::host::bytes::escape;
use crate::host::cgroup::{
    IoLine, count_lines, parse_cpu_max, parse_io_stat, parse_limit, parse_u64, pick,
};
use crate::host::cgroup_names::{
    Identity, classify, parse_container_log, parse_docker_config, parse_pod_log_dir,
    parse_podman_containers,
};
use crate::host::psi::parse_pressure;
use crate::host::{self, HostError, HostPaths, Limit};
use crate::snapshot::{ErrorKind, LabelSet, Snapshot, label_set};

super::settings::plain_settings!(
    check = check_settings;
    10,
    5,
    /// Export the workloads: services, scopes and containers (the deepest on each branch).
    workloads: bool = true,
    /// Also export the cgroups whose path (as in the `cgroup_path` label, e.g.
    /// `/system.slice/nginx.service`) matches (anchored regular expression).
    include: Option<Pattern> = None,
    /// Never export the cgroups whose path matches.
    exclude: Option<Pattern> = None,
    /// Cgroups exported at most; the rest are counted in `vitals_cgroups_folded`.
    max_cgroups: usize = 500,
    /// Directories the walk visits at most (a tree with more is hostile or broken: the walk
    /// stops there and counts a parse error).
    max_walk: usize = 20_000,
    /// Walk the tree for new and removed cgroups every this many ticks (1: every tick).
    rescan_ticks: u32 = 1,
    /// Read pod, namespace and container names from the kubelet's log directories and the
    /// Docker and Podman state files under the root filesystem.
    names: bool = true,
);

fn check_settings(s: &Settings) -> Result<(), super::Invalid> {
    let invalid = |key, message: &str| {
        Err(super::Invalid {
            key,
            message: message.into(),
        })
    };
    if s.max_cgroups == 0 {
        return invalid("max_cgroups", "must be at least 1 (enabled = false turns cgroups off)");
    }
    if s.max_walk == 0 {
        return invalid("max_walk", "must be at least 1");
    }
    if s.rescan_ticks == 0 {
        return invalid("rescan_ticks", "must be at least 1");
    }
    Ok(())
}

/// Nesting the walk follows at most; the kernel allows any depth unless
/// `cgroup.max.depth` says otherwise, real trees stay under 10.
pub const MAX_DEPTH: usize = 64;

pub const PATH: &str = "cgroup.path";
pub const UNIT: &str = "systemd.unit";
pub const SLICE: &str = "systemd.slice";
pub const CONTAINER_ID: &str = "container.id";
pub const CONTAINER_NAME: &str = "container.name";
pub const RUNTIME: &str = "container.runtime.name";
pub const POD_UID: &str = "k8s.pod.uid";
pub const POD_NAME: &str = "k8s.pod.name";
pub const NAMESPACE: &str = "k8s.namespace.name";
pub const K8S_CONTAINER: &str = "k8s.container.name";
pub const QOS: &str = "k8s.pod.qos_class";
const MODE: &str = "cpu.mode";
const FAULT: &str = "system.paging.fault.type";
const EVENT: &str = "container.memory.event";
const DEVICE: &str = "system.device";
const DIRECTION: &str = "disk.io.direction";

/// The attributes naming a cgroup, in label order, then a metric's own.
macro_rules! attrs {
    ($($extra:expr),*) => {
        &[PATH, UNIT, SLICE, CONTAINER_ID, CONTAINER_NAME, RUNTIME, POD_UID, POD_NAME,
          NAMESPACE, K8S_CONTAINER, QOS $(, $extra)*]
    };
}

const fn metric(
    name: &'static str,
    unit: &'static str,
    instrument: Instrument,
    attributes: &'static [&'static str],
    source: &'static str,
    help: &'static str,
) -> MetricDesc {
    MetricDesc {
        name,
        unit,
        instrument,
        help,
        attributes,
        source,
        extension: true,
    }
}

use Instrument::{Counter, Gauge, UpDownCounter};

pub static CPU_TIME: MetricDesc = MetricDesc {
    extension: false,
    ..metric(
        "container.cpu.time",
        "s",
        Counter,
        attrs!(MODE),
        "cpu.stat user_usec, system_usec",
        "CPU time of the cgroup and its descendants by mode (user, system), since the cgroup was created",
    )
};
pub static CPU_PERIODS: MetricDesc = metric(
    "container.cpu.throttling.periods",
    "{period}",
    Counter,
    attrs!(),
    "cpu.stat nr_periods",
    "Enforcement periods of the cgroup's CPU quota (cpu.max) that have elapsed with runnable tasks",
);
pub static CPU_THROTTLED_PERIODS: MetricDesc = metric(
    "container.cpu.throttling.throttled_periods",
    "{period}",
    Counter,
    attrs!(),
    "cpu.stat nr_throttled",
    "Enforcement periods in which the cgroup was throttled for having used its quota; the ratio to container_cpu_throttling_periods_total is the share throttled",
);
pub static CPU_THROTTLED_TIME: MetricDesc = metric(
    "container.cpu.throttling.time",
    "s",
    Counter,
    attrs!(),
    "cpu.stat throttled_usec",
    "Time the cgroup's tasks were held off the CPU by its quota",
);
pub static CPU_LIMIT: MetricDesc = metric(
    "container.cpu.limit",
    "{cpu}",
    Gauge,
    attrs!(),
    "cpu.max quota / period",
    "CPUs the quota allows (cpu.max quota / period); absent when there is no quota (max)",
);
pub static CPU_WEIGHT: MetricDesc = metric(
    "container.cpu.weight",
    "{weight}",
    Gauge,
    attrs!(),
    "cpu.weight",
    "Relative CPU weight among siblings (1..10000, 100 by default)",
);
pub static MEMORY_USAGE: MetricDesc = MetricDesc {
    extension: false,
    ..metric(
        "container.memory.usage",
        "By",
        UpDownCounter,
        attrs!(),
        "memory.current",
        "Memory charged to the cgroup and its descendants (memory.current), page cache included",
    )
};
pub static MEMORY_WORKING_SET: MetricDesc = MetricDesc {
    extension: false,
    ..metric(
        "container.memory.working_set",
        "By",
        UpDownCounter,
        attrs!(),
        "memory.current - memory.stat inactive_file",
        "Working set as the kubelet computes it for kubectl top and eviction: memory.current minus inactive_file, floored at 0",
    )
};
pub static MEMORY_LIMIT: MetricDesc = metric(
    "container.memory.limit",
    "By",
    UpDownCounter,
    attrs!(),
    "memory.max",
    "Hard memory limit (memory.max): past it the cgroup's tasks are OOM-killed; absent when max",
);
pub static MEMORY_HIGH: MetricDesc = metric(
    "container.memory.high",
    "By",
    UpDownCounter,
    attrs!(),
    "memory.high",
    "Memory throttle limit (memory.high): past it the cgroup is reclaimed hard; absent when max",
);
pub static MEMORY_PEAK: MetricDesc = metric(
    "container.memory.peak",
    "By",
    UpDownCounter,
    attrs!(),
    "memory.peak",
    "Highest memory.current since the cgroup was created (Linux 5.19+)",
);
pub static MEMORY_SWAP: MetricDesc = metric(
    "container.memory.swap.usage",
    "By",
    UpDownCounter,
    attrs!(),
    "memory.swap.current",
    "Swap used by the cgroup and its descendants",
);
pub static MEMORY_SWAP_LIMIT: MetricDesc = metric(
    "container.memory.swap.limit",
    "By",
    UpDownCounter,
    attrs!(),
    "memory.swap.max",
    "Swap limit (memory.swap.max); absent when max",
);

macro_rules! memory_stat {
    ($($id:ident: $name:literal, $key:literal, $help:literal;)*) => {
        $(pub static $id: MetricDesc = metric(
            concat!("container.memory.", $name),
            "By",
            UpDownCounter,
            attrs!(),
            concat!("memory.stat ", $key),
            $help,
        );)*
        /// memory.stat keys exported as gauges of bytes, with their descriptors.
        static MEMORY_STAT: &[(&[u8], &MetricDesc)] = &[$(($key.as_bytes(), &$id)),*];
    };
}

memory_stat! {
    MEMORY_ANON: "anon", "anon", "Anonymous memory (heaps, stacks, private mappings): what swapping or an OOM kill frees";
    MEMORY_FILE: "file", "file", "Page cache: file-backed memory, shmem and tmpfs included";
    MEMORY_KERNEL: "kernel", "kernel", "Kernel memory charged to the cgroup (slab, stacks, page tables, ...; Linux 5.18+)";
    MEMORY_SLAB: "slab", "slab", "Kernel slab memory (part of kernel)";
    MEMORY_SOCK: "sock", "sock", "Network socket buffers";
    MEMORY_SHMEM: "shmem", "shmem", "Shared memory and tmpfs (part of file)";
    MEMORY_FILE_MAPPED: "file_mapped", "file_mapped", "Page cache mapped into processes (part of file)";
    MEMORY_FILE_DIRTY: "file_dirty", "file_dirty", "Page cache modified and not yet written back (part of file)";
}

pub static MEMORY_FAULTS: MetricDesc = metric(
    "container.memory.paging.faults",
    "{fault}",
    Counter,
    attrs!(FAULT),
    "memory.stat pgfault - pgmajfault, pgmajfault",
    "Page faults by type: major (read from disk: pgmajfault) and minor (pgfault - pgmajfault), so the sum is all faults",
);
pub static MEMORY_REFAULTS: MetricDesc = metric(
    "container.memory.refaults",
    "{page}",
    Counter,
    attrs!(),
    "memory.stat workingset_refault_anon + workingset_refault_file",
    "Evicted pages faulted back in soon after (workingset refaults): the cgroup thrashing for want of memory",
);
pub static MEMORY_EVENTS: MetricDesc = metric(
    "container.memory.events",
    "{event}",
    Counter,
    attrs!(EVENT),
    "memory.events",
    "memory.events of the cgroup and its descendants by event: low, high (throttled at memory.high), max (hit memory.max), oom (allocation failed), oom_kill (a task was OOM-killed), oom_group_kill",
);
pub static DISK_IO: MetricDesc = MetricDesc {
    extension: false,
    ..metric(
        "container.disk.io",
        "By",
        Counter,
        attrs!(DEVICE, DIRECTION),
        "io.stat rbytes, wbytes",
        "Bytes read and written by the cgroup per block device (io.stat; the device name from /sys/dev/block, else MAJ:MIN)",
    )
};
pub static DISK_OPERATIONS: MetricDesc = metric(
    "container.disk.operations",
    "{operation}",
    Counter,
    attrs!(DEVICE, DIRECTION),
    "io.stat rios, wios",
    "Read and write operations of the cgroup per block device",
);
pub static TASKS: MetricDesc = metric(
    "container.task.count",
    "{task}",
    UpDownCounter,
    attrs!(),
    "pids.current",
    "Tasks (threads) in the cgroup and its descendants (pids.current)",
);
pub static TASK_LIMIT: MetricDesc = metric(
    "container.task.limit",
    "{task}",
    UpDownCounter,
    attrs!(),
    "pids.max",
    "Task limit (pids.max); absent when max",
);
pub static PROCESSES: MetricDesc = metric(
    "container.process.count",
    "{process}",
    UpDownCounter,
    attrs!(),
    "cgroup.procs",
    "Processes in the cgroup itself (lines of cgroup.procs; a selected cgroup's descendants are not selected)",
);
pub static PRESSURE: MetricDesc = metric(
    "container.pressure.stall.time",
    "s",
    Counter,
    attrs!(RESOURCE, KIND),
    "{cpu,memory,io}.pressure total",
    "Time some or full of the cgroup's tasks were stalled waiting for the resource (cpu, memory, io), since the cgroup was created",
);
pub static FOLDED: MetricDesc = MetricDesc {
    name: "vitals.cgroups.folded",
    unit: "{cgroup}",
    instrument: Gauge,
    help: "Selected cgroups left out because max_cgroups were already exported",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[
    &CPU_TIME,
    &CPU_PERIODS,
    &CPU_THROTTLED_PERIODS,
    &CPU_THROTTLED_TIME,
    &CPU_LIMIT,
    &CPU_WEIGHT,
    &MEMORY_USAGE,
    &MEMORY_WORKING_SET,
    &MEMORY_LIMIT,
    &MEMORY_HIGH,
    &MEMORY_PEAK,
    &MEMORY_SWAP,
    &MEMORY_SWAP_LIMIT,
    &MEMORY_ANON,
    &MEMORY_FILE,
    &MEMORY_KERNEL,
    &MEMORY_SLAB,
    &MEMORY_SOCK,
    &MEMORY_SHMEM,
    &MEMORY_FILE_MAPPED,
    &MEMORY_FILE_DIRTY,
    &MEMORY_FAULTS,
    &MEMORY_REFAULTS,
    &MEMORY_EVENTS,
    &DISK_IO,
    &DISK_OPERATIONS,
    &TASKS,
    &TASK_LIMIT,
    &PROCESSES,
    &PRESSURE,
    &FOLDED,
];

/// The files read per cgroup, in reading order; a cgroup's bit set says which it has.
pub const FILES: [&str; 18] = [
    "cpu.stat",
    "cpu.max",
    "cpu.weight",
    "memory.current",
    "memory.max",
    "memory.high",
    "memory.peak",
    "memory.stat",
    "memory.events",
    "memory.swap.current",
    "memory.swap.max",
    "io.stat",
    "pids.current",
    "pids.max",
    "cpu.pressure",
    "memory.pressure",
    "io.pressure",
    "cgroup.procs",
];

fn file_bit(name: &OsStr) -> Option<u32> {
    FILES
        .iter()
        .position(|f| f.as_bytes() == name.as_bytes())
        .map(|i| 1 << i)
}

/// A directory found by the walk.
struct Node {
    rel: PathBuf,
    parent: usize,
    files: u32,
}

/// A selected cgroup.
struct Entry {
    rel: PathBuf,
    dir: PathBuf,
    files: u32,
    /// Label values in [`attrs!`] order; empty ones are left off. Shared by every series
    /// of the cgroup in every snapshot that holds it.
    labels: LabelSet,
}

pub struct CgroupsCollector {
    paths: HostPaths,
    settings: Settings,
    /// The v2 hierarchy's root, once found.
    root: Option<PathBuf>,
    ticks: u64,
    entries: Vec<Entry>,
    folded: usize,
    devices: HashMap<(u32, u32), String>,
    /// The series' own labels (`cpu.mode="user"`, a device and direction, ...), one set per
    /// combination whatever the cgroup, shared as the cgroups' labels are.
    own: Vec<LabelSet>,
    // Reused across files and ticks.
    buf: Vec<u8>,
    path: PathBuf,
    io: Vec<IoLine>,
}

impl CgroupsCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        Self {
            paths,
            settings: settings.clone(),
            root: None,
            ticks: 0,
            entries: Vec::new(),
            folded: 0,
            devices: HashMap::new(),
            own: Vec::new(),
            buf: Vec::with_capacity(4096),
            path: PathBuf::with_capacity(256),
            io: Vec::new(),
        }
    }

    /// The v2 hierarchy under sysfs: pure v2 first, then the hybrid layout's `unified`.
    fn find_root(&self) -> Option<PathBuf> {
        ["fs/cgroup", "fs/cgroup/unified"]
            .into_iter()
            .map(|rel| self.paths.sys(rel))
            .find(|dir| dir.join("cgroup.controllers").is_file())
    }

    /// Every directory of the tree, depth first in name order, at most `max_walk`.
    fn walk(&self, root: &Path, scrapes: &mut Yield, out: &mut Snapshot) -> Vec<Node> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut stack: Vec<(PathBuf, usize, usize)> = vec![(PathBuf::new(), usize::MAX, 0)];
        let mut deep = 0usize;
        while let Some((rel, parent, depth)) = stack.pop() {
            scrapes.between_items();
            if nodes.len() == self.settings.max_walk {
                out.skip(
                    ErrorKind::Parse,
                    format!(
                        "{}: more than max_walk = {} cgroups; the walk stopped there",
                        root.display(),
                        self.settings.max_walk
                    ),
                );
                break;
            }
            let entries = match std::fs::read_dir(root.join(&rel)) {
                Ok(entries) => entries,
                // Removed while walking.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    out.skip(
                        ErrorKind::Read,
                        format!("listing {}: {e}", root.join(&rel).display()),
                    );
                    continue;
                }
            };
            let idx = nodes.len();
            let mut files = 0;
            let mut children = Vec::new();
            for entry in entries.filter_map(Result::ok) {
                if children.len() == host::MAX_DIR_ENTRIES {
                    out.skip(
                        ErrorKind::Parse,
                        format!(
                            "{}: more than {} cgroups in one directory; the rest left out",
                            root.join(&rel).display(),
                            host::MAX_DIR_ENTRIES
                        ),
                    );
                    break;
                }
                let name = entry.file_name();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    if depth < MAX_DEPTH {
                        children.push(rel.join(name));
                    } else {
                        deep += 1;
                    }
                } else if let Some(bit) = file_bit(&name) {
                    files |= bit;
                }
            }
            nodes.push(Node { rel, parent, files });
            children.sort_by(|a, b| b.cmp(a));
            stack.extend(children.into_iter().map(|c| (c, idx, depth + 1)));
        }
        if deep > 0 {
            out.skip(
                ErrorKind::Parse,
                format!(
                    "{}: {deep} cgroups nested deeper than {MAX_DEPTH} levels left out",
                    root.display()
                ),
            );
        }
        nodes
    }

    /// The label value of a cgroup's path: `/` and the path from the root, escaped as
    /// other host names.
    fn path_label(rel: &Path) -> String {
        let mut bytes = Vec::with_capacity(rel.as_os_str().len() + 1);
        bytes.push(b'/');
        bytes.extend_from_slice(rel.as_os_str().as_bytes());
        escape(&bytes).into_owned()
    }

    fn selects(&self, path: &str, identity: &Identity) -> bool {
        let s = &self.settings;
        let wanted = (s.workloads && identity.is_workload())
            || s.include.as_ref().is_some_and(|p| p.is_match(path));
        wanted && !s.exclude.as_ref().is_some_and(|p| p.is_match(path))
    }

    /// Walks the tree and rebuilds the selection: the entries still there keep their
    /// labels and their place within `max_cgroups`; new ones fill it in path order.
    fn rescan(&mut self, root: &Path, scrapes: &mut Yield, out: &mut Snapshot) {
        let nodes = self.walk(root, scrapes, out);
        let labels: Vec<String> = nodes.iter().map(|n| Self::path_label(&n.rel)).collect();
        let identities: Vec<Identity> = labels.iter().map(|p| classify(p)).collect();
        let matched: Vec<bool> = labels
            .iter()
            .zip(&identities)
            .map(|(p, id)| self.selects(p, id))
            .collect();
        // Depth-first order puts every node after its parent: walking backwards marks
        // the nodes with a matched descendant before their parent is seen.
        let mut below = vec![false; nodes.len()];
        for i in (0..nodes.len()).rev() {
            let parent = nodes[i].parent;
            if parent != usize::MAX && (matched[i] || below[i]) {
                below[parent] = true;
            }
        }
        let mut old: HashMap<PathBuf, Entry> = self
            .entries
            .drain(..)
            .map(|e| (e.rel.clone(), e))
            .collect();
        let mut kept = Vec::new();
        let mut new = Vec::new();
        for (i, node) in nodes.into_iter().enumerate() {
            if !matched[i] || below[i] {
                continue;
            }
            match old.remove(&node.rel) {
                Some(mut e) => {
                    e.files = node.files;
                    kept.push(e);
                }
                None => new.push((node, i)),
            }
        }
        let max = self.settings.max_cgroups;
        self.folded = (kept.len() + new.len()).saturating_sub(max);
        kept.truncate(max);
        let room = max - kept.len();
        let new: Vec<(Node, usize)> = new.into_iter().take(room).collect();
        let names = if self.settings.names && new.iter().any(|(_, i)| {
            identities[*i].container_id.is_some() || identities[*i].pod_uid.is_some()
        }) {
            Names::read(&self.paths)
        } else {
            Names::default()
        };
        for (node, i) in new {
            let id = &identities[i];
            let pairs = entry_labels(&labels[i], id, &names, &self.paths);
            let pairs: Vec<(&'static str, &str)> =
                pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let labels = label_set(&pairs);
            kept.push(Entry {
                dir: root.join(&node.rel),
                rel: node.rel,
                files: node.files,
                labels,
            });
        }
        kept.sort_by(|a, b| a.rel.cmp(&b.rel));
        self.entries = kept;
        self.devices = block_devices(&self.paths);
        self.own.clear();
    }

    /// Reads one cgroup's files into `out`; false when the cgroup is gone.
    fn read_cgroup(&mut self, e: &Entry, out: &mut Snapshot) -> bool {
        let own = &mut self.own;
        let mut add = |out: &mut Snapshot, desc: &'static MetricDesc, extra: &[(&'static str, &str)], v: f64| {
            let extra = (!extra.is_empty()).then(|| own_labels(own, extra));
            out.add_shared(desc, &e.labels, extra.as_ref(), v);
        };
        let mut reader = Reader {
            dir: &e.dir,
            files: e.files,
            path: &mut self.path,
            buf: &mut self.buf,
        };
        // cpu.stat is in every cgroup: its absence means the cgroup was removed.
        match reader.read(0) {
            Ok(Some(text)) => match pick(
                text,
                &[
                    b"user_usec",
                    b"system_usec",
                    b"nr_periods",
                    b"nr_throttled",
                    b"throttled_usec",
                ],
            ) {
                Ok([user, system, periods, throttled, throttled_usec]) => {
                    for (mode, v) in [("user", user), ("system", system)] {
                        if let Some(v) = v {
                            add(out, &CPU_TIME, &[(MODE, mode)], micros(v));
                        }
                    }
                    if let Some(v) = periods {
                        add(out, &CPU_PERIODS, &[], v as f64);
                    }
                    if let Some(v) = throttled {
                        add(out, &CPU_THROTTLED_PERIODS, &[], v as f64);
                    }
                    if let Some(v) = throttled_usec {
                        add(out, &CPU_THROTTLED_TIME, &[], micros(v));
                    }
                }
                Err(err) => skip(out, reader.path, err),
            },
            Ok(None) => return false,
            Err(err) if err.is_not_found() => return false,
            Err(err) => out.skip(err.kind(), err.to_string()),
        }
        macro_rules! each {
            ($file:expr, |$text:ident| $body:expr) => {
                match reader.read($file) {
                    Ok(Some($text)) => {
                        if let Err(err) = $body {
                            skip(out, reader.path, err);
                        }
                    }
                    Ok(None) => {}
                    Err(err) if err.is_not_found() => {}
                    Err(err) => out.skip(err.kind(), err.to_string()),
                }
            };
        }
        each!(1, |t| parse_cpu_max(t).map(|(quota, period)| {
            if let Some(q) = quota.filter(|_| period > 0) {
                add(out, &CPU_LIMIT, &[], q as f64 / period as f64);
            }
        }));
        each!(2, |t| parse_limit(t).map(|w| if let Some(w) = w {
            add(out, &CPU_WEIGHT, &[], w as f64)
        }));
        let mut current = None;
        each!(3, |t| parse_limit(t).map(|v| {
            current = v;
            if let Some(v) = v {
                add(out, &MEMORY_USAGE, &[], v as f64);
            }
        }));
        for (file, desc) in [(4, &MEMORY_LIMIT), (5, &MEMORY_HIGH), (6, &MEMORY_PEAK)] {
            each!(file, |t| parse_limit(t).map(|v| if let Some(v) = v {
                add(out, desc, &[], v as f64)
            }));
        }
        each!(7, |t| memory_stat(t, current, |desc, extra, v| add(out, desc, extra, v)));
        each!(8, |t| pick(
            t,
            &[b"low", b"high", b"max", b"oom", b"oom_kill", b"oom_group_kill"]
        )
        .map(|values| {
            for (event, v) in ["low", "high", "max", "oom", "oom_kill", "oom_group_kill"]
                .into_iter()
                .zip(values)
            {
                if let Some(v) = v {
                    add(out, &MEMORY_EVENTS, &[(EVENT, event)], v as f64);
                }
            }
        }));
        for (file, desc) in [(9, &MEMORY_SWAP), (10, &MEMORY_SWAP_LIMIT)] {
            each!(file, |t| parse_limit(t).map(|v| if let Some(v) = v {
                add(out, desc, &[], v as f64)
            }));
        }
        let io = &mut self.io;
        let devices = &self.devices;
        each!(11, |t| parse_io_stat(t, io).map(|()| {
            for line in io.iter() {
                let fallback;
                let device = match devices.get(&(line.major, line.minor)) {
                    Some(name) => name.as_str(),
                    None => {
                        fallback = format!("{}:{}", line.major, line.minor);
                        fallback.as_str()
                    }
                };
                for (dir, bytes, ops) in [
                    ("read", line.rbytes, line.rios),
                    ("write", line.wbytes, line.wios),
                ] {
                    let l = [(DEVICE, device), (DIRECTION, dir)];
                    add(out, &DISK_IO, &l, bytes as f64);
                    add(out, &DISK_OPERATIONS, &l, ops as f64);
                }
            }
        }));
        for (file, desc) in [(12, &TASKS), (13, &TASK_LIMIT)] {
            each!(file, |t| parse_limit(t).map(|v| if let Some(v) = v {
                add(out, desc, &[], v as f64)
            }));
        }
        for (file, resource) in [(14, "cpu"), (15, "memory"), (16, "io")] {
            each!(file, |t| parse_pressure(t).map(|p| {
                for (kind, v) in p.kinds() {
                    add(out, &PRESSURE, &[(RESOURCE, resource), (KIND, kind)], micros(v));
                }
            }));
        }
        each!(17, |t| {
            add(out, &PROCESSES, &[], count_lines(t) as f64);
            Ok::<(), host::ParseError>(())
        });
        true
    }
}

/// Most distinct own label sets kept between rescans (a few per device, metric and mode in
/// practice); past it a set is made per series.
const MAX_OWN_SETS: usize = 1024;

/// The shared set equal to `labels`, made and kept on first use.
fn own_labels(sets: &mut Vec<LabelSet>, labels: &[(&'static str, &str)]) -> LabelSet {
    let same = |set: &LabelSet| {
        set.len() == labels.len()
            && set.iter().zip(labels).all(|((k, v), (k2, v2))| k == k2 && v == v2)
    };
    if let Some(set) = sets.iter().find(|s| same(s)) {
        return set.clone();
    }
    let set = label_set(labels);
    if sets.len() < MAX_OWN_SETS {
        sets.push(set.clone());
    }
    set
}

fn micros(v: u64) -> f64 {
    v as f64 / 1e6
}

fn skip(out: &mut Snapshot, path: &Path, err: host::ParseError) {
    let err = err.at(path);
    out.skip(err.kind(), err.to_string());
}

/// memory.stat: the byte gauges, the working set (with `current`, memory.current), faults
/// and refaults, each handed to `add`.
pub fn memory_stat(
    text: &[u8],
    current: Option<u64>,
    mut add: impl FnMut(&'static MetricDesc, &[(&'static str, &str)], f64),
) -> Result<(), host::ParseError> {
    for line in text.split(|&b| b == b'\n') {
        let mut words = line.split(|&b| b == b' ');
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        if let Some((_, desc)) = MEMORY_STAT.iter().find(|(k, _)| *k == key) {
            let v = parse_u64(value)
                .ok_or_else(|| host::ParseError(format!("memory.stat {}: not a number", String::from_utf8_lossy(key))))?;
            add(desc, &[], v as f64);
        }
    }
    let [inactive_file, pgfault, pgmajfault, refault_anon, refault_file, refault] = pick(
        text,
        &[
            b"inactive_file",
            b"pgfault",
            b"pgmajfault",
            b"workingset_refault_anon",
            b"workingset_refault_file",
            b"workingset_refault",
        ],
    )?;
    if let (Some(current), Some(inactive)) = (current, inactive_file) {
        add(
            &MEMORY_WORKING_SET,
            &[],
            working_set(current, inactive) as f64,
        );
    }
    if let (Some(all), Some(major)) = (pgfault, pgmajfault) {
        add(&MEMORY_FAULTS, &[(FAULT, "minor")], all.saturating_sub(major) as f64);
        add(&MEMORY_FAULTS, &[(FAULT, "major")], major as f64);
    }
    let refaults = match (refault_anon, refault_file) {
        (None, None) => refault,
        (a, f) => Some(a.unwrap_or(0) + f.unwrap_or(0)),
    };
    if let Some(v) = refaults {
        add(&MEMORY_REFAULTS, &[], v as f64);
    }
    Ok(())
}

/// The kubelet's working set: usage minus inactive file pages, never below zero.
pub fn working_set(current: u64, inactive_file: u64) -> u64 {
    current.saturating_sub(inactive_file)
}

/// The cap of a cgroup file: the lists (`cgroup.procs`, a line per process, 64 KiB past
/// some 9,000 processes; `io.stat`, a line per device) are capped as /proc tables, the
/// others hold a value or a few dozen keys: a sysfs attribute's cap.
fn limit(file: usize) -> Limit {
    match FILES[file] {
        "cgroup.procs" | "io.stat" => Limit::Table,
        _ => Limit::Attribute,
    }
}

/// Reads a cgroup's files into the shared buffer, skipping those the walk did not see.
struct Reader<'a> {
    dir: &'a Path,
    files: u32,
    path: &'a mut PathBuf,
    buf: &'a mut Vec<u8>,
}

impl Reader<'_> {
    fn read(&mut self, file: usize) -> Result<Option<&[u8]>, HostError> {
        if self.files & (1 << file) == 0 {
            return Ok(None);
        }
        self.path.as_mut_os_string().clear();
        self.path.push(self.dir);
        self.path.push(FILES[file]);
        host::read_into(self.path, limit(file), self.buf)?;
        Ok(Some(self.buf))
    }
}

/// Names from the host's files: pod (namespace, name) by UID, Kubernetes container names
/// and runtime container names by id.
#[derive(Default)]
struct Names {
    pods: HashMap<String, (String, String)>,
    k8s_containers: HashMap<String, String>,
    podman: HashMap<String, String>,
}

impl Names {
    fn read(paths: &HostPaths) -> Names {
        let mut names = Names::default();
        for dir in host::list_dir(&paths.root("var/log/pods")).unwrap_or_default() {
            if let Some((ns, pod, uid)) = parse_pod_log_dir(&dir) {
                names
                    .pods
                    .insert(uid.to_string(), (ns.to_string(), pod.to_string()));
            }
        }
        for file in host::list_dir(&paths.root("var/log/containers")).unwrap_or_default() {
            if let Some((container, id)) = parse_container_log(&file) {
                names
                    .k8s_containers
                    .insert(id.to_string(), container.to_string());
            }
        }
        if let Ok(json) = host::read_bytes(
            &paths.root("var/lib/containers/storage/overlay-containers/containers.json"),
        ) {
            names.podman = parse_podman_containers(&json).into_iter().collect();
        }
        names
    }
}

fn entry_labels(
    path: &str,
    id: &Identity,
    names: &Names,
    paths: &HostPaths,
) -> Vec<(&'static str, String)> {
    let pod = id.pod_uid.as_ref().and_then(|uid| names.pods.get(uid));
    let k8s_container = id
        .container_id
        .as_ref()
        .filter(|_| id.pod_uid.is_some())
        .and_then(|c| names.k8s_containers.get(c));
    let runtime_name = match (id.runtime, &id.container_id) {
        (_, _) if id.pod_uid.is_some() => None,
        (Some("docker"), Some(cid)) => host::read_bytes(
            &paths.root(&format!("var/lib/docker/containers/{cid}/config.v2.json")),
        )
        .ok()
        .and_then(|j| parse_docker_config(&j)),
        (Some("podman"), Some(cid)) => names.podman.get(cid).cloned(),
        _ => None,
    };
    [
        (PATH, Some(path.to_string())),
        (UNIT, id.unit.clone()),
        (SLICE, id.slice.clone()),
        (CONTAINER_ID, id.container_id.clone()),
        (CONTAINER_NAME, runtime_name),
        (RUNTIME, id.runtime.map(str::to_string)),
        (POD_UID, id.pod_uid.clone()),
        (POD_NAME, pod.map(|p| p.1.clone())),
        (NAMESPACE, pod.map(|p| p.0.clone())),
        (K8S_CONTAINER, k8s_container.cloned()),
        (QOS, id.qos.map(str::to_string)),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v.filter(|v| !v.is_empty())?)))
    .collect()
}

/// Block device names by number, from `/sys/dev/block/<major>:<minor>/uevent` (DEVNAME).
fn block_devices(paths: &HostPaths) -> HashMap<(u32, u32), String> {
    let dir = paths.sys("dev/block");
    let mut out = HashMap::new();
    for name in host::list_dir(&dir).unwrap_or_default() {
        let Some((major, minor)) = name.split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        let Ok(uevent) = host::read_attribute(&dir.join(&name).join("uevent")) else {
            continue;
        };
        if let Some(dev) = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME=")) {
            out.insert((major, minor), dev.to_string());
        }
    }
    out
}

impl Collector for CgroupsCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let due = self
            .ticks
            .is_multiple_of(u64::from(self.settings.rescan_ticks));
        self.ticks += 1;
        // Scrapes first: see crate::serving.
        let mut scrapes = Yield::default();
        if due || self.root.is_none() {
            self.root = self.find_root();
            match self.root.clone() {
                Some(root) => self.rescan(&root, &mut scrapes, out),
                None => {
                    self.entries.clear();
                    return Ok(());
                }
            }
        }
        let entries = std::mem::take(&mut self.entries);
        let mut alive = Vec::with_capacity(entries.len());
        for e in entries {
            scrapes.between_items();
            if self.read_cgroup(&e, out) {
                alive.push(e);
            }
        }
        self.entries = alive;
        out.add(&FOLDED, &[], self.folded as f64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let dir = std::env::temp_dir().join(format!("vitals-cg-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("sys/fs/cgroup")).unwrap();
            std::fs::write(dir.join("sys/fs/cgroup/cgroup.controllers"), "cpu\n").unwrap();
            Tree(dir)
        }

        fn add(&self, rel: &str, user_usec: u64) {
            let d = self.0.join("sys/fs/cgroup").join(rel);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("cpu.stat"),
                format!("usage_usec {user_usec}\nuser_usec {user_usec}\nsystem_usec 0\n"),
            )
            .unwrap();
        }

        fn remove(&self, rel: &str) {
            std::fs::remove_dir_all(self.0.join("sys/fs/cgroup").join(rel)).unwrap();
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn user_times(c: &mut CgroupsCollector) -> (Vec<(String, f64)>, f64) {
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        let times = s
            .family("container.cpu.time")
            .map(|f| {
                f.samples
                    .iter()
                    .filter(|x| x.labels.contains(&(MODE, "user".to_string())))
                    .map(|x| (x.labels[0].1.clone(), x.value))
                    .collect()
            })
            .unwrap_or_default();
        let folded = s.family("vitals.cgroups.folded").unwrap().samples[0].value;
        (times, folded)
    }

    #[test]
    fn removed_cgroups_go_at_the_next_tick_and_new_ones_wait_for_the_rescan() {
        let t = Tree::new("rescan");
        t.add("system.slice/a.service", 1_000_000);
        t.add("system.slice/b.service", 2_000_000);
        let settings = Settings {
            rescan_ticks: 3,
            ..Settings::default()
        };
        let mut c = CgroupsCollector::new(HostPaths::under(&t.0), &settings);
        let (times, _) = user_times(&mut c);
        assert_eq!(
            times,
            [
                ("/system.slice/a.service".to_string(), 1.0),
                ("/system.slice/b.service".to_string(), 2.0)
            ]
        );
        // Between walks: a removed cgroup goes at once, a new one waits for the walk.
        t.remove("system.slice/a.service");
        t.add("system.slice/c.service", 3_000_000);
        let (times, _) = user_times(&mut c);
        assert_eq!(times, [("/system.slice/b.service".to_string(), 2.0)]);
        user_times(&mut c);
        let (times, _) = user_times(&mut c);
        assert_eq!(times.len(), 2, "the third tick walks again: {times:?}");
        assert_eq!(times[1].0, "/system.slice/c.service");
    }

    #[test]
    fn past_max_cgroups_the_exported_keep_their_place() {
        let t = Tree::new("cap");
        t.add("m.service", 1);
        t.add("z.service", 1);
        let settings = Settings {
            max_cgroups: 2,
            ..Settings::default()
        };
        let mut c = CgroupsCollector::new(HostPaths::under(&t.0), &settings);
        assert_eq!(user_times(&mut c).1, 0.0);
        // "a" sorts first but comes later: it waits, counted as folded.
        t.add("a.service", 1);
        let (times, folded) = user_times(&mut c);
        let paths: Vec<&str> = times.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!((paths, folded), (vec!["/m.service", "/z.service"], 1.0));
        t.remove("z.service");
        let (times, folded) = user_times(&mut c);
        let paths: Vec<&str> = times.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!((paths, folded), (vec!["/a.service", "/m.service"], 0.0));
    }

    #[test]
    fn no_v2_hierarchy_is_no_series_and_no_error() {
        let dir = std::env::temp_dir().join(format!("vitals-cg-none-{}", std::process::id()));
        let mut c = CgroupsCollector::new(HostPaths::under(&dir), &Settings::default());
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        assert_eq!((s.series_count(), s.skipped.len()), (0, 0));
    }

    #[test]
    fn a_cgroup_of_100000_processes_is_counted_past_the_attribute_cap() {
        let t = Tree::new("procs");
        t.add("big.service", 1);
        let procs: String = (1..=100_000).map(|pid| format!("{pid}\n")).collect();
        assert!(procs.len() > 64 << 10);
        std::fs::write(t.0.join("sys/fs/cgroup/big.service/cgroup.procs"), procs).unwrap();
        let mut c = CgroupsCollector::new(HostPaths::under(&t.0), &Settings::default());
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        assert!(s.skipped.is_empty(), "{:?}", s.skipped);
        let count = s.family("container.process.count").unwrap().samples[0].value;
        assert_eq!(count, 100_000.0);
    }

    #[test]
    fn working_set_floors_at_zero() {
        assert_eq!(working_set(100, 40), 60);
        assert_eq!(working_set(100, 140), 0);
    }
}

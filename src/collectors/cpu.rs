//! CPU: `cpu_times`, `cpu_times_percent`/`cpu_percent`, `cpu_count`, `cpu_stats`, `cpu_freq`
//! and `getloadavg`, from /proc/stat, /proc/cpuinfo, /proc/loadavg and
//! /sys/devices/system/cpu.

use std::collections::HashMap;
use std::path::PathBuf;

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::counters::{Hold, NoWrap, shares};
use crate::host::cpu_freq::{cpu_freq, frequency_dirs};
use crate::host::cpu_sysfs::{parse_cpu_list, trailing_number};
use crate::host::cpuinfo::parse_cpuinfo_cores;
use crate::host::loadavg;
use crate::host::proc_stat::{CpuTicks, parse_proc_stat};
use crate::host::{self, HostError, HostPaths, Limit};
use crate::snapshot::Snapshot;

super::settings::plain_settings!(
    5,
    5,
    /// One series per logical CPU (true) or machine totals without a CPU label (false).
    percpu: bool = true,
);

const MODE: &str = "cpu.mode";
const CPU: &str = "cpu.logical_number";

pub static TIME: MetricDesc = MetricDesc {
    name: "system.cpu.time",
    unit: "s",
    instrument: Instrument::Counter,
    help: "Seconds each logical CPU spent in each mode since boot (/proc/stat ticks / CLK_TCK). As in psutil, guest and guest_nice time is also counted in user and nice",
    attributes: &[MODE, CPU],
    source: "cpu_times(percpu=True)",
    extension: false,
};

pub static UTILIZATION: MetricDesc = MetricDesc {
    name: "system.cpu.utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "Share of the last collection interval each logical CPU spent in each mode: psutil cpu_times_percent / 100, unrounded (psutil divides by at least 1 s of CPU time, so it reads lower when an interval holds less). cpu_percent is 1 - idle - iowait; guest modes are inside user and nice, leave them out of sums",
    attributes: &[MODE, CPU],
    source: "cpu_times_percent(percpu=True), cpu_percent(percpu=True)",
    extension: false,
};

pub static LOGICAL_COUNT: MetricDesc = MetricDesc {
    name: "system.cpu.logical.count",
    unit: "{cpu}",
    instrument: Instrument::UpDownCounter,
    help: "Online logical CPUs (sysconf(_SC_NPROCESSORS_ONLN), read from the sysfs online list)",
    attributes: &[],
    source: "cpu_count(logical=True)",
    extension: false,
};

pub static PHYSICAL_COUNT: MetricDesc = MetricDesc {
    name: "system.cpu.physical.count",
    unit: "{cpu}",
    instrument: Instrument::UpDownCounter,
    help: "Physical cores: distinct topology core_cpus_list (or thread_siblings_list) contents, else cpuinfo cpu cores per physical id",
    attributes: &[],
    source: "cpu_count(logical=False)",
    extension: false,
};

pub static FREQUENCY: MetricDesc = MetricDesc {
    name: "system.cpu.frequency",
    unit: "Hz",
    instrument: Instrument::Gauge,
    help: "Current frequency per cpufreq policy (psutil's list index), from /proc/cpuinfo when it has one cpu MHz line per policy, else scaling_cur_freq, else cpuinfo_cur_freq (readable by root only); 0, with min and max, for an offline CPU whose policy cannot be read, as psutil",
    attributes: &[CPU],
    source: "cpu_freq(percpu=True).current",
    extension: false,
};

pub static FREQUENCY_MIN: MetricDesc = MetricDesc {
    name: "system.cpu.frequency.min",
    unit: "Hz",
    instrument: Instrument::Gauge,
    help: "Minimum frequency per cpufreq policy (scaling_min_freq); absent without cpufreq, where psutil reports 0",
    attributes: &[CPU],
    source: "cpu_freq(percpu=True).min",
    extension: true,
};

pub static FREQUENCY_MAX: MetricDesc = MetricDesc {
    name: "system.cpu.frequency.max",
    unit: "Hz",
    instrument: Instrument::Gauge,
    help: "Maximum frequency per cpufreq policy (scaling_max_freq); absent without cpufreq, where psutil reports 0",
    attributes: &[CPU],
    source: "cpu_freq(percpu=True).max",
    extension: true,
};

pub static CONTEXT_SWITCHES: MetricDesc = MetricDesc {
    name: "system.cpu.context_switches",
    unit: "{context_switch}",
    instrument: Instrument::Counter,
    help: "Context switches since boot (/proc/stat ctxt)",
    attributes: &[],
    source: "cpu_stats().ctx_switches",
    extension: true,
};

pub static INTERRUPTS: MetricDesc = MetricDesc {
    name: "system.cpu.interrupts",
    unit: "{interrupt}",
    instrument: Instrument::Counter,
    help: "Interrupts since boot (first number of the /proc/stat intr line)",
    attributes: &[],
    source: "cpu_stats().interrupts",
    extension: true,
};

pub static SOFT_INTERRUPTS: MetricDesc = MetricDesc {
    name: "system.cpu.soft_interrupts",
    unit: "{interrupt}",
    instrument: Instrument::Counter,
    help: "Software interrupts since boot (first number of the /proc/stat softirq line)",
    attributes: &[],
    source: "cpu_stats().soft_interrupts",
    extension: true,
};

pub static LOAD_1M: MetricDesc = MetricDesc {
    name: "system.cpu.load_average.1m",
    unit: "{thread}",
    instrument: Instrument::Gauge,
    help: "Load average over 1 minute (sysinfo(2), as glibc getloadavg)",
    attributes: &[],
    source: "getloadavg()[0]",
    extension: true,
};

pub static LOAD_5M: MetricDesc = MetricDesc {
    name: "system.cpu.load_average.5m",
    help: "Load average over 5 minutes (sysinfo(2), as glibc getloadavg)",
    source: "getloadavg()[1]",
    ..LOAD_1M
};

pub static LOAD_15M: MetricDesc = MetricDesc {
    name: "system.cpu.load_average.15m",
    help: "Load average over 15 minutes (sysinfo(2), as glibc getloadavg)",
    source: "getloadavg()[2]",
    ..LOAD_1M
};

pub static CATALOG: &[&MetricDesc] = &[
    &TIME,
    &UTILIZATION,
    &LOGICAL_COUNT,
    &PHYSICAL_COUNT,
    &FREQUENCY,
    &FREQUENCY_MIN,
    &FREQUENCY_MAX,
    &CONTEXT_SWITCHES,
    &INTERRUPTS,
    &SOFT_INTERRUPTS,
    &LOAD_1M,
    &LOAD_5M,
    &LOAD_15M,
];

/// `cpu.mode` values: psutil's field names, with `irq` spelled `interrupt` as in the
/// semantic conventions.
const MODES: [&str; 10] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "interrupt",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
];

/// guest and guest_nice are inside user and nice: psutil leaves them out of the total.
const EXCLUDED_FROM_TOTAL: [bool; 10] = [
    false, false, false, false, false, false, false, false, true, true,
];

/// What changes only when CPUs go on- or offline, keyed by the online list's text.
struct Topology {
    online: Option<String>,
    physical: Option<u64>,
    freq_dirs: Vec<PathBuf>,
}

pub struct CpuCollector {
    paths: HostPaths,
    live_procfs: bool,
    percpu: bool,
    clock_ticks: f64,
    previous: HashMap<Option<u32>, CpuTicks>,
    topology: Option<Topology>,
    times: Hold<(Option<u32>, usize)>,
    stats: NoWrap<&'static str>,
}

impl CpuCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        Self {
            live_procfs: paths.procfs_is_live(),
            paths,
            percpu: settings.percpu,
            clock_ticks: rustix::param::clock_ticks_per_second() as f64,
            previous: HashMap::new(),
            topology: None,
            times: Hold::default(),
            stats: NoWrap::default(),
        }
    }

    fn times_and_utilization(&mut self, lines: Vec<(Option<u32>, CpuTicks)>, out: &mut Snapshot) {
        self.times.begin();
        let mut label = String::new();
        let mut held = Vec::with_capacity(lines.len());
        for (cpu, ticks) in &lines {
            let fields: Vec<u64> = ticks
                .fields()
                .iter()
                .enumerate()
                .map(|(i, t)| self.times.update((*cpu, i), *t))
                .collect();
            set_label(&mut label, *cpu);
            for (mode, t) in MODES.iter().zip(&fields) {
                out.add(
                    &TIME,
                    &labels(mode, *cpu, &label),
                    *t as f64 / self.clock_ticks,
                );
            }
            held.push((*cpu, fields));
        }
        self.times.finish();
        let mut current = HashMap::with_capacity(held.len());
        for (cpu, fields) in held {
            if let Some(prev) = self.previous.get(&cpu).filter(|p| p.len == fields.len()) {
                set_label(&mut label, cpu);
                for (mode, share) in
                    MODES
                        .iter()
                        .zip(shares(prev.fields(), &fields, &EXCLUDED_FROM_TOTAL))
                {
                    out.add(&UTILIZATION, &labels(mode, cpu, &label), share);
                }
            }
            let mut t = CpuTicks {
                len: fields.len(),
                ..CpuTicks::default()
            };
            t.ticks[..fields.len()].copy_from_slice(&fields);
            current.insert(cpu, t);
        }
        self.previous = current;
    }

    /// Logical and physical counts, refreshing the cached topology when the online CPU
    /// list changed (hotplug) or could not be read.
    fn counts(&mut self, stat_cpus: usize, out: &mut Snapshot) {
        let path = self.paths.sys("devices/system/cpu/online");
        let online = host::read_attribute(&path);
        let parsed = online
            .as_ref()
            .map(|t| parse_cpu_list(t).map_err(|e| e.at(&path)));
        let logical = match parsed {
            Ok(Ok(list)) => list.len(),
            Ok(Err(e)) => {
                out.skip(e.kind(), e.to_string());
                stat_cpus
            }
            Err(e) => {
                out.skip(e.kind(), e.to_string());
                stat_cpus
            }
        };
        out.add(&LOGICAL_COUNT, &[], logical as f64);
        let key = online.ok();
        if key.is_none() || self.topology.as_ref().map(|t| &t.online) != Some(&key) {
            self.topology = match (self.physical_cores(), frequency_dirs(&self.paths)) {
                (Ok(physical), Ok(freq_dirs)) => Some(Topology {
                    online: key,
                    physical,
                    freq_dirs,
                }),
                (Err(e), _) | (_, Err(e)) => {
                    out.skip(e.kind(), e.to_string());
                    None
                }
            };
        }
        if let Some(n) = self.topology.as_ref().and_then(|t| t.physical) {
            out.add(&PHYSICAL_COUNT, &[], n as f64);
        }
    }

    /// psutil's `cpu_count_cores`: distinct core sibling lists, else cpuinfo.
    fn physical_cores(&self) -> Result<Option<u64>, HostError> {
        let cpu_dir = self.paths.sys("devices/system/cpu");
        let cpus: Vec<String> = host::list_dir(&cpu_dir)?
            .into_iter()
            .filter(|n| trailing_number(n, "cpu").is_some())
            .collect();
        for file in ["core_cpus_list", "thread_siblings_list"] {
            let mut lists = std::collections::HashSet::new();
            for cpu in &cpus {
                match host::read_attribute(&cpu_dir.join(cpu).join("topology").join(file)) {
                    Ok(text) => {
                        lists.insert(text.trim().to_string());
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            if !lists.is_empty() {
                return Ok(Some(lists.len() as u64));
            }
        }
        host::read_parsed(&self.paths.proc("cpuinfo"), parse_cpuinfo_cores)
    }

    fn stats(&mut self, stat: &host::proc_stat::ProcStat, out: &mut Snapshot) {
        self.stats.begin();
        for (desc, value) in [
            (&CONTEXT_SWITCHES, stat.ctxt),
            (&INTERRUPTS, stat.intr),
            (&SOFT_INTERRUPTS, stat.softirq),
        ] {
            if let Some(v) = value {
                out.add(desc, &[], self.stats.update(desc.name, v) as f64);
            }
        }
        self.stats.finish();
    }

    fn frequency(&self, out: &mut Snapshot) -> Result<(), HostError> {
        let Some(topology) = &self.topology else {
            return Ok(());
        };
        let freqs = cpu_freq(&self.paths, &topology.freq_dirs)?;
        if freqs.is_empty() {
            return Ok(());
        }
        if self.percpu {
            let mut label = String::new();
            for (i, f) in freqs.iter().enumerate() {
                label.clear();
                label.push_str(&i.to_string());
                out.add(&FREQUENCY, &[(CPU, &label)], f.current_hz);
                if let Some((min, max)) = f.min_max_hz {
                    out.add(&FREQUENCY_MIN, &[(CPU, &label)], min);
                    out.add(&FREQUENCY_MAX, &[(CPU, &label)], max);
                }
            }
        } else {
            // psutil's cpu_freq(percpu=False): the mean over policies.
            let n = freqs.len() as f64;
            out.add(
                &FREQUENCY,
                &[],
                freqs.iter().map(|f| f.current_hz).sum::<f64>() / n,
            );
            if freqs.iter().all(|f| f.min_max_hz.is_some()) {
                let (min, max) = freqs
                    .iter()
                    .filter_map(|f| f.min_max_hz)
                    .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
                out.add(&FREQUENCY_MIN, &[], min / n);
                out.add(&FREQUENCY_MAX, &[], max / n);
            }
        }
        Ok(())
    }
}

fn set_label(label: &mut String, cpu: Option<u32>) {
    label.clear();
    if let Some(n) = cpu {
        label.push_str(&n.to_string());
    }
}

fn labels<'a>(mode: &'a str, cpu: Option<u32>, label: &'a str) -> Vec<(&'static str, &'a str)> {
    match cpu {
        Some(_) => vec![(MODE, mode), (CPU, label)],
        None => vec![(MODE, mode)],
    }
}

impl Collector for CpuCollector {
    fn needs_two_readings(&self) -> bool {
        true
    }

    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let stat = host::read_parsed(&self.paths.proc("stat"), parse_proc_stat)?;
        let stat_cpus = stat.per_cpu.len();
        let lines = if self.percpu {
            stat.per_cpu.iter().map(|(n, t)| (Some(*n), *t)).collect()
        } else {
            vec![(None, stat.total)]
        };
        self.times_and_utilization(lines, out);
        self.counts(stat_cpus, out);
        self.stats(&stat, out);
        if let Err(e) = self.frequency(out) {
            out.skip(e.kind(), e.to_string());
        }
        // psutil's getloadavg() is glibc's, which asks sysinfo(2) (1/2048 resolution);
        // /proc/loadavg rounds to two decimals, so it is only read from fixture trees.
        let load = if self.live_procfs {
            Ok(loadavg::from_sysinfo())
        } else {
            host::read_parsed_with(
                &self.paths.proc("loadavg"),
                Limit::Attribute,
                loadavg::parse_loadavg,
            )
        };
        match load {
            Ok([l1, l5, l15]) => {
                out.add(&LOAD_1M, &[], l1);
                out.add(&LOAD_5M, &[], l5);
                out.add(&LOAD_15M, &[], l15);
            }
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::host::scratch::Scratch;

    fn value(s: &Snapshot, desc: &MetricDesc, labels: &[(&str, &str)]) -> Option<f64> {
        s.family(desc.name)?
            .samples
            .iter()
            .find(|x| {
                labels
                    .iter()
                    .all(|(k, v)| x.labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|x| x.value)
    }

    #[test]
    fn utilization_comes_from_the_second_reading() {
        let tree = Scratch::of("legacy", "util");
        let root = &tree.0;
        let mut c = CpuCollector::new(tree.paths(), &Settings::default());
        let mut first = Snapshot::default();
        c.collect(&mut first).unwrap();
        assert!(
            first.family("system.cpu.utilization").is_none(),
            "no utilization from one reading"
        );
        // cpu0 gains 30 user, 60 idle, 10 iowait ticks: busy (cpu_percent) = 30%.
        std::fs::write(
            root.join("proc/stat"),
            "cpu  55051 120 21002 901283 3321 12 801 44\n\
             cpu0 27541 60 10501 450671 1665 6 400 22\n\
             cpu1 27510 60 10501 450612 1656 6 401 22\n",
        )
        .unwrap();
        let mut second = Snapshot::default();
        c.collect(&mut second).unwrap();
        let u = |mode| value(&second, &UTILIZATION, &[(MODE, mode), (CPU, "0")]).unwrap();
        assert!((u("user") - 0.3).abs() < 1e-12);
        assert!((u("idle") - 0.6).abs() < 1e-12);
        assert!((u("iowait") - 0.1).abs() < 1e-12);
        assert_eq!(
            value(&second, &UTILIZATION, &[(MODE, "idle"), (CPU, "1")]),
            Some(0.0),
            "no ticks elapsed on cpu1"
        );
        assert_eq!(
            value(&second, &UTILIZATION, &[(MODE, "guest")]),
            None,
            "this kernel has no guest field"
        );
    }

    #[test]
    fn percpu_off_exports_the_totals_without_a_cpu_label() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modern");
        let mut c = CpuCollector::new(
            HostPaths::under(&root),
            &Settings {
                percpu: false,
                ..Settings::default()
            },
        );
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        let times = s.family("system.cpu.time").unwrap();
        assert_eq!(times.samples.len(), 10);
        assert!(times.samples.iter().all(|x| x.labels.len() == 1));
        assert_eq!(value(&s, &TIME, &[(MODE, "user")]), Some(11834.60));
        let freq = s.family("system.cpu.frequency").unwrap();
        assert_eq!(freq.samples.len(), 1);
        let mean = (2893.112 + 1400.0 + 3101.558 + 1400.021) / 4.0 * 1e6;
        assert!((freq.samples[0].value - mean).abs() < 1.0);
    }

    #[test]
    fn a_missing_optional_file_is_skipped_and_counted() {
        let tree = Scratch::of("modern", "skip");
        let root = &tree.0;
        std::fs::remove_file(root.join("proc/loadavg")).unwrap();
        let mut c = CpuCollector::new(tree.paths(), &Settings::default());
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        assert!(s.family("system.cpu.load_average.1m").is_none());
        assert_eq!(s.skipped.len(), 1);
        assert_eq!(s.skipped[0].kind, "read");
        assert!(s.family("system.cpu.time").is_some());
    }

    #[test]
    fn a_missing_proc_stat_fails_the_collection() {
        let mut c = CpuCollector::new(
            HostPaths::under(Path::new("/nonexistent")),
            &Settings::default(),
        );
        let err = c.collect(&mut Snapshot::default()).unwrap_err();
        assert_eq!(err.kind(), "read");
        assert!(err.to_string().contains("/nonexistent/proc/stat"));
    }

    #[test]
    fn an_offline_cpu_exports_the_zeros_psutil_reports() {
        let tree = crate::host::cpu_freq::policy3_unreadable("cpu-offline", "0\n");
        let mut s = Snapshot::default();
        CpuCollector::new(tree.paths(), &Settings::default())
            .collect(&mut s)
            .unwrap();
        for (cpu, current, max) in [("0", 1_000_000e3, 3400e6), ("3", 0.0, 0.0)] {
            assert_eq!(value(&s, &FREQUENCY, &[(CPU, cpu)]), Some(current));
            assert_eq!(value(&s, &FREQUENCY_MAX, &[(CPU, cpu)]), Some(max));
        }
    }
}

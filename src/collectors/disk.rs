//! Disk I/O: `disk_io_counters(perdisk=True)` from /proc/diskstats, through psutil's nowrap.

use std::ffi::OsString;

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::counters::NoWrap;
use crate::filter::Filter;
use crate::host::bytes::escape_os;
use crate::host::diskstats::{DiskStats, SECTOR_BYTES, parse_diskstats};
use crate::host::{self, HostError, HostPaths};
use crate::snapshot::Snapshot;

/// Devices excluded by default: partitions (`sda1`, `vdb2`, `nvme0n1p1`, `mmcblk0p1`,
/// `md0p1`, `nbd0p1`) and RAM, loop, zram and floppy devices, so the series are whole disks
/// (device-mapper and md devices included) and a sum over devices counts each I/O once.
pub const DEFAULT_DEVICE_EXCLUDE: &str =
    r"(z?ram|loop|fd)\d+|(h|s|v|xv)d[a-z]+\d+|(nvme\d+n\d+|mmcblk\d+|md\d+|nbd\d+)p\d+";

super::settings::plain_settings!(
    5,
    5,
    /// Which devices (names as in /proc/diskstats, as in their labels) are exported.
    devices: Filter = Filter::new(None, Some(DEFAULT_DEVICE_EXCLUDE)),
);

const DEVICE: &str = "system.device";
const DIRECTION: &str = "disk.io.direction";

pub static IO: MetricDesc = MetricDesc {
    name: "system.disk.io",
    unit: "By",
    instrument: Instrument::Counter,
    help: "Bytes read and written since boot: diskstats sectors x 512 whatever the device's sector size, as psutil computes them",
    attributes: &[DEVICE, DIRECTION],
    source: "disk_io_counters(perdisk=True).read_bytes, .write_bytes",
    extension: false,
};

pub static OPERATIONS: MetricDesc = MetricDesc {
    name: "system.disk.operations",
    unit: "{operation}",
    instrument: Instrument::Counter,
    help: "Reads and writes completed since boot",
    attributes: &[DEVICE, DIRECTION],
    source: "disk_io_counters(perdisk=True).read_count, .write_count",
    extension: false,
};

pub static OPERATION_TIME: MetricDesc = MetricDesc {
    name: "system.disk.operation_time",
    unit: "s",
    instrument: Instrument::Counter,
    help: "Time spent on reads and writes since boot, summed over concurrent requests, so it can grow faster than the clock",
    attributes: &[DEVICE, DIRECTION],
    source: "disk_io_counters(perdisk=True).read_time, .write_time",
    extension: false,
};

pub static IO_TIME: MetricDesc = MetricDesc {
    name: "system.disk.io_time",
    unit: "s",
    instrument: Instrument::Counter,
    help: "Time the device had I/O in progress since boot (busy time); its rate is the utilization iostat shows",
    attributes: &[DEVICE],
    source: "disk_io_counters(perdisk=True).busy_time",
    extension: false,
};

pub static MERGED: MetricDesc = MetricDesc {
    name: "system.disk.merged",
    unit: "{operation}",
    instrument: Instrument::Counter,
    help: "Adjacent reads and writes merged into one request since boot",
    attributes: &[DEVICE, DIRECTION],
    source: "disk_io_counters(perdisk=True).read_merged_count, .write_merged_count",
    extension: false,
};

pub static WEIGHTED_IO_TIME: MetricDesc = MetricDesc {
    name: "system.disk.weighted_io_time",
    unit: "s",
    instrument: Instrument::Counter,
    help: "I/O time weighted by the requests in flight since boot (diskstats field 11); its rate is the average queue length",
    attributes: &[DEVICE],
    source: "/proc/diskstats weighted time in queue (psutil does not report it)",
    extension: true,
};

pub static PENDING: MetricDesc = MetricDesc {
    name: "system.disk.pending_operations",
    unit: "{operation}",
    instrument: Instrument::UpDownCounter,
    help: "Requests in flight at the time of reading (diskstats field 9)",
    attributes: &[DEVICE],
    source: "/proc/diskstats I/Os currently in progress (psutil does not report it)",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[
    &IO,
    &OPERATIONS,
    &OPERATION_TIME,
    &IO_TIME,
    &MERGED,
    &WEIGHTED_IO_TIME,
    &PENDING,
];

pub struct DiskCollector {
    paths: HostPaths,
    devices: Filter,
    counters: NoWrap<(OsString, &'static str)>,
}

impl DiskCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        Self {
            paths,
            devices: settings.devices.clone(),
            counters: NoWrap::default(),
        }
    }

    /// Exports one reading of the selected devices; each counter goes through nowrap under
    /// (device, field), and devices not in this reading are forgotten.
    fn export_all(&mut self, disks: &[DiskStats], out: &mut Snapshot) {
        self.counters.begin();
        for d in disks {
            let dev = escape_os(&d.name);
            if self.devices.allows(&dev) {
                export(&mut self.counters, d, &dev, out);
            }
        }
        self.counters.finish();
    }
}

/// Exports one device's counters under its label `dev`.
fn export(
    counters: &mut NoWrap<(OsString, &'static str)>,
    d: &DiskStats,
    dev: &str,
    out: &mut Snapshot,
) {
    let mut counter = |field: &'static str, raw: u64| -> f64 {
        counters.update((d.name.clone(), field), raw) as f64
    };
    let per_direction = [
        (
            &IO,
            "read",
            counter("read_sectors", d.read_sectors) * SECTOR_BYTES as f64,
        ),
        (
            &IO,
            "write",
            counter("write_sectors", d.write_sectors) * SECTOR_BYTES as f64,
        ),
        (&OPERATIONS, "read", counter("read_count", d.reads)),
        (&OPERATIONS, "write", counter("write_count", d.writes)),
        (
            &OPERATION_TIME,
            "read",
            counter("read_time", d.read_ms) / 1e3,
        ),
        (
            &OPERATION_TIME,
            "write",
            counter("write_time", d.write_ms) / 1e3,
        ),
        (&MERGED, "read", counter("read_merged", d.reads_merged)),
        (&MERGED, "write", counter("write_merged", d.writes_merged)),
    ];
    let busy = counter("busy_time", d.io_ms) / 1e3;
    let weighted = counter("weighted_time", d.weighted_io_ms) / 1e3;
    for (desc, direction, value) in per_direction {
        out.add(desc, &[(DEVICE, dev), (DIRECTION, direction)], value);
    }
    out.add(&IO_TIME, &[(DEVICE, dev)], busy);
    out.add(&WEIGHTED_IO_TIME, &[(DEVICE, dev)], weighted);
    out.add(&PENDING, &[(DEVICE, dev)], d.in_flight as f64);
}

impl Collector for DiskCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let disks = host::read_parsed_bytes(&self.paths.proc("diskstats"), parse_diskstats)?;
        self.export_all(&disks, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const F20: &[u8] = include_bytes!("../../tests/fixtures/disk-formats/diskstats-20");

    fn names(f: &Filter, text: &[u8]) -> Vec<String> {
        parse_diskstats(text)
            .unwrap()
            .into_iter()
            .map(|d| escape_os(&d.name).into_owned())
            .filter(|n| f.allows(n))
            .collect()
    }

    #[test]
    fn default_filter_keeps_whole_disks() {
        let f = Settings::default().devices;
        assert_eq!(names(&f, F20), ["sda", "nvme0n1", "cciss/c0d0"]);
        let f18 = include_bytes!("../../tests/fixtures/disk-formats/diskstats-18");
        assert_eq!(names(&f, f18), ["sda", "nvme0n1", "dm-0"]);
        for part in [
            "vda1",
            "xvdb3",
            "mmcblk0p2",
            "md127p1",
            "nbd0p1",
            "fd0",
            "loop12",
        ] {
            assert!(!f.allows(part), "{part}");
        }
        for disk in ["vda", "xvdb", "mmcblk0", "md127", "sr0", "dm-3"] {
            assert!(f.allows(disk), "{disk}");
        }
    }

    fn value(s: &Snapshot, desc: &MetricDesc, labels: &[&str]) -> Option<f64> {
        s.family(desc.name)?
            .samples
            .iter()
            .find(|x| {
                x.labels
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .eq(labels.iter().copied())
            })
            .map(|x| x.value)
    }

    /// Successive readings from fixture files: a 32-bit wrap, a reset to zero, a device
    /// that disappears and returns. No exported counter ever decreases while a device stays.
    #[test]
    fn exported_counters_never_decrease() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/disk-wrap");
        let mut readings: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        readings.sort();
        assert!(readings.len() >= 4);
        let mut c = DiskCollector::new(HostPaths::default(), &Settings::default());
        let mut previous: Option<Snapshot> = None;
        let mut seen_wrap = false;
        for path in &readings {
            let disks = parse_diskstats(&std::fs::read(path).unwrap()).unwrap();
            let mut s = Snapshot::default();
            c.export_all(&disks, &mut s);
            if let Some(prev) = &previous {
                for family in s
                    .families
                    .iter()
                    .filter(|f| f.desc.instrument == Instrument::Counter)
                {
                    for sample in &family.samples {
                        let before = prev
                            .family(family.desc.name)
                            .and_then(|f| f.samples.iter().find(|p| p.labels == sample.labels));
                        if let Some(before) = before {
                            assert!(
                                sample.value >= before.value,
                                "{} {:?} went from {} to {} at {}",
                                family.desc.name,
                                sample.labels,
                                before.value,
                                sample.value,
                                path.display()
                            );
                            seen_wrap |= sample.value > u32::MAX as f64 * 512.0;
                        }
                    }
                }
            }
            previous = Some(s);
        }
        assert!(
            seen_wrap,
            "the fixture wraps sda's sector counter past 2^32"
        );
        // sdb vanished in reading 3 and came back in reading 4: it starts from its raw value.
        let last = previous.unwrap();
        assert_eq!(value(&last, &OPERATIONS, &["sdb", "read"]), Some(5.0));
        // sda's read sectors: 2^32 - 100 before the wrap, 50 after, 150 now.
        assert_eq!(
            value(&last, &IO, &["sda", "read"]),
            Some(((u32::MAX as u64 + 1 - 100) + 150) as f64 * 512.0)
        );
        // Milliseconds are exported as seconds.
        assert_eq!(value(&last, &IO_TIME, &["sda"]), Some(4.5));
    }

    #[test]
    fn a_name_that_is_not_utf8_is_escaped() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/non-utf8");
        let mut c = DiskCollector::new(HostPaths::under(&root), &Settings::default());
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        assert_eq!(value(&s, &OPERATIONS, &[r"sd\xe9", "read"]), Some(1000.0));
        assert_eq!(value(&s, &OPERATIONS, &["sda", "read"]), Some(482_113.0));
    }

    #[test]
    fn a_missing_file_is_a_read_error() {
        let mut c = DiskCollector::new(
            HostPaths {
                procfs: "/nonexistent".into(),
                ..HostPaths::default()
            },
            &Settings::default(),
        );
        let err = c.collect(&mut Snapshot::default()).unwrap_err();
        assert_eq!(err.kind(), "read");
    }
}

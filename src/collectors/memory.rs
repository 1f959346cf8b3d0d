//! Memory and swap: `virtual_memory()` and `swap_memory()`, from /proc/meminfo,
//! /proc/vmstat and (when MemAvailable is missing) /proc/zoneinfo.

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::counters::NoWrap;
use crate::host::meminfo::{needs_zoneinfo, parse_meminfo, parse_zoneinfo_low, virtual_memory};
use crate::host::vmstat::parse_vmstat;
use crate::host::{self, HostError, HostPaths};
use crate::snapshot::Snapshot;

super::settings::plain_settings!(5, 5);

const MEMORY_STATE: &str = "system.memory.state";
const SLAB_STATE: &str = "linux.memory.slab.state";
const PAGING_STATE: &str = "system.paging.state";
const PAGING_DIRECTION: &str = "system.paging.direction";

pub static USAGE: MetricDesc = MetricDesc {
    name: "system.memory.usage",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Memory in use by state. psutil semantics: used = total - available, cached includes SReclaimable, so the states do not sum to the total",
    attributes: &[MEMORY_STATE],
    source: "virtual_memory().used, .free, .buffers, .cached",
    extension: false,
};

pub static LIMIT: MetricDesc = MetricDesc {
    name: "system.memory.limit",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Total usable memory (MemTotal)",
    attributes: &[],
    source: "virtual_memory().total",
    extension: false,
};

pub static AVAILABLE: MetricDesc = MetricDesc {
    name: "system.memory.linux.available",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Memory available to start new programs without swapping (MemAvailable, estimated the kernel's way when missing or zero)",
    attributes: &[],
    source: "virtual_memory().available",
    extension: false,
};

pub static UTILIZATION: MetricDesc = MetricDesc {
    name: "system.memory.utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "Memory usage by state as a share of the total; state used is psutil's percent / 100 (unrounded)",
    attributes: &[MEMORY_STATE],
    source: "virtual_memory().percent",
    extension: false,
};

pub static SHARED: MetricDesc = MetricDesc {
    name: "system.memory.shared",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Shared memory, tmpfs included (Shmem)",
    attributes: &[],
    source: "virtual_memory().shared",
    extension: false,
};

pub static SLAB: MetricDesc = MetricDesc {
    name: "system.memory.linux.slab.usage",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Kernel slab memory by state (SReclaimable, SUnreclaim); the sum is psutil's slab",
    attributes: &[SLAB_STATE],
    source: "virtual_memory().slab",
    extension: false,
};

pub static ACTIVE: MetricDesc = MetricDesc {
    name: "system.memory.linux.active",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Memory used recently, not reclaimed unless needed (Active)",
    attributes: &[],
    source: "virtual_memory().active",
    extension: true,
};

pub static INACTIVE: MetricDesc = MetricDesc {
    name: "system.memory.linux.inactive",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Memory not used recently, first to be reclaimed (Inactive)",
    attributes: &[],
    source: "virtual_memory().inactive",
    extension: true,
};

pub static PAGING_USAGE: MetricDesc = MetricDesc {
    name: "system.paging.usage",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Swap space by state; the sum is psutil's swap total",
    attributes: &[PAGING_STATE],
    source: "swap_memory().used, .free",
    extension: false,
};

pub static PAGING_UTILIZATION: MetricDesc = MetricDesc {
    name: "system.paging.utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "Swap space by state as a share of the total, 0 without swap; state used is psutil's percent / 100 (unrounded)",
    attributes: &[PAGING_STATE],
    source: "swap_memory().percent",
    extension: false,
};

pub static PAGING_IO: MetricDesc = MetricDesc {
    name: "system.paging.io",
    unit: "By",
    instrument: Instrument::Counter,
    help: "Bytes swapped in and out since boot: /proc/vmstat pswpin and pswpout x 4096, as psutil computes them whatever the page size",
    attributes: &[PAGING_DIRECTION],
    source: "swap_memory().sin, .sout",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[
    &USAGE,
    &LIMIT,
    &AVAILABLE,
    &UTILIZATION,
    &SHARED,
    &SLAB,
    &ACTIVE,
    &INACTIVE,
    &PAGING_USAGE,
    &PAGING_UTILIZATION,
    &PAGING_IO,
];

/// psutil multiplies swapped pages by 4 KiB, not by the real page size.
const PSUTIL_SWAP_PAGE: u64 = 4096;

pub struct MemoryCollector {
    paths: HostPaths,
    swapped: NoWrap<&'static str>,
}

impl MemoryCollector {
    pub fn new(paths: HostPaths) -> Self {
        Self {
            paths,
            swapped: NoWrap::default(),
        }
    }

    fn zone_low_bytes(&self, out: &mut Snapshot) -> Option<u64> {
        match host::read_parsed(&self.paths.proc("zoneinfo"), parse_zoneinfo_low) {
            Ok(pages) => Some(pages.saturating_mul(rustix::param::page_size() as u64)),
            Err(e) => {
                out.skip(e.kind(), e.to_string());
                None
            }
        }
    }

    fn swap_io(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let path = self.paths.proc("vmstat");
        let text = host::read(&path)?;
        let vmstat = parse_vmstat(&text).map_err(|e| e.at(&path))?;
        self.swapped.begin();
        for (key, direction) in [("pswpin", "in"), ("pswpout", "out")] {
            if let Some(pages) = vmstat.get(key) {
                let bytes = self
                    .swapped
                    .update(direction, pages.saturating_mul(PSUTIL_SWAP_PAGE));
                out.add(&PAGING_IO, &[(PAGING_DIRECTION, direction)], bytes as f64);
            }
        }
        self.swapped.finish();
        Ok(())
    }
}

fn ratio(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

impl Collector for MemoryCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let meminfo = host::read_parsed(&self.paths.proc("meminfo"), parse_meminfo)?;
        let zone_low = if needs_zoneinfo(&meminfo) {
            self.zone_low_bytes(out)
        } else {
            None
        };
        let vm = virtual_memory(&meminfo, zone_low);
        for (state, bytes) in [
            ("used", vm.used),
            ("free", vm.free),
            ("buffers", vm.buffers),
            ("cached", vm.cached),
        ] {
            out.add(&USAGE, &[(MEMORY_STATE, state)], bytes as f64);
            out.add(
                &UTILIZATION,
                &[(MEMORY_STATE, state)],
                ratio(bytes, vm.total),
            );
        }
        out.add(&LIMIT, &[], vm.total as f64);
        out.add(&AVAILABLE, &[], vm.available as f64);
        out.add(&SHARED, &[], vm.shared as f64);
        out.add(
            &SLAB,
            &[(SLAB_STATE, "reclaimable")],
            vm.slab_reclaimable as f64,
        );
        out.add(
            &SLAB,
            &[(SLAB_STATE, "unreclaimable")],
            vm.slab_unreclaimable as f64,
        );
        out.add(&ACTIVE, &[], vm.active as f64);
        out.add(&INACTIVE, &[], vm.inactive as f64);

        let swap_total = meminfo.get("SwapTotal").unwrap_or(0);
        let swap_free = meminfo.get("SwapFree").unwrap_or(0);
        let swap_used = swap_total.saturating_sub(swap_free);
        for (state, bytes) in [("used", swap_used), ("free", swap_free)] {
            out.add(&PAGING_USAGE, &[(PAGING_STATE, state)], bytes as f64);
            out.add(
                &PAGING_UTILIZATION,
                &[(PAGING_STATE, state)],
                ratio(bytes, swap_total),
            );
        }
        if let Err(e) = self.swap_io(out) {
            out.skip(e.kind(), e.to_string());
        }
        Ok(())
    }
}

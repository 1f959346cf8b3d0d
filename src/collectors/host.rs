//! The host itself: `boot_time()`, the uptime, and identity as `_info` series (uname, and
//! os-release under the rootfs root).

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::host::bytes::escape;
use crate::host::os_release::{self, parse_os_release};
use crate::host::proc_stat::parse_proc_stat;
use crate::host::uptime::parse_uptime;
use crate::host::{self, HostError, HostPaths, Limit, ParseError};
use crate::snapshot::Snapshot;

super::settings::plain_settings!(30, 5);

const UNAME_FIELDS: [&str; 5] = [
    "uname.sysname",
    "uname.nodename",
    "uname.release",
    "uname.version",
    "uname.machine",
];
const OS_FIELDS: [&str; 4] = ["os.id", "os.version", "os.name", "os.description"];

pub static BOOT_TIME: MetricDesc = MetricDesc {
    name: "system.boot.time",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "Boot time in seconds since the epoch: btime in /proc/stat, as psutil (whole seconds, moves with the wall clock)",
    attributes: &[],
    source: "boot_time()",
    extension: true,
};

pub static UPTIME: MetricDesc = MetricDesc {
    name: "system.uptime",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "Seconds since boot, suspended time included (/proc/uptime); psutil has no uptime, time.time() - boot_time() agrees within a second",
    attributes: &[],
    source: "time.time() - boot_time()",
    extension: false,
};

pub static UNAME_INFO: MetricDesc = MetricDesc {
    name: "system.uname.info",
    unit: "",
    instrument: Instrument::Gauge,
    help: "Always 1; the kernel's uname(2) fields as labels (the syscall on a live procfs; proc/sys/kernel/{ostype,hostname,osrelease,version,arch} on a fixture tree, machine empty without arch)",
    attributes: &UNAME_FIELDS,
    source: "os.uname() / platform.uname()",
    extension: true,
};

pub static OS_INFO: MetricDesc = MetricDesc {
    name: "system.os.info",
    unit: "",
    instrument: Instrument::Gauge,
    help: "Always 1; the distribution from etc/os-release (else usr/lib/os-release) under the rootfs root: os_id is ID, os_version VERSION_ID, os_name NAME, os_description PRETTY_NAME (empty when unset)",
    attributes: &OS_FIELDS,
    source: "platform.freedesktop_os_release()",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[&BOOT_TIME, &UPTIME, &UNAME_INFO, &OS_INFO];

pub struct HostCollector {
    paths: HostPaths,
    live_procfs: bool,
}

impl HostCollector {
    pub fn new(paths: HostPaths) -> Self {
        Self {
            live_procfs: paths.procfs_is_live(),
            paths,
        }
    }

    fn uname(&self) -> Result<[String; 5], HostError> {
        if self.live_procfs {
            let u = rustix::system::uname();
            return Ok([
                u.sysname(),
                u.nodename(),
                u.release(),
                u.version(),
                u.machine(),
            ]
            .map(|c| escape(c.to_bytes()).into_owned()));
        }
        let mut out: [String; 5] = Default::default();
        for (slot, file) in
            out.iter_mut()
                .zip(["ostype", "hostname", "osrelease", "version", "arch"])
        {
            let path = self.paths.proc(&format!("sys/kernel/{file}"));
            *slot = match host::read_bytes_with(&path, Limit::Attribute) {
                Ok(text) => {
                    let end = text.iter().rposition(|&b| b != b'\n').map_or(0, |i| i + 1);
                    escape(&text[..end]).into_owned()
                }
                // kernel.arch is recent (5.19); older kernels have only the syscall's machine.
                Err(e) if file == "arch" && e.is_not_found() => String::new(),
                Err(e) => return Err(e),
            };
        }
        Ok(out)
    }

    fn os_release(&self) -> Result<Option<Vec<(String, String)>>, HostError> {
        for rel in ["etc/os-release", "usr/lib/os-release"] {
            match host::read_with(&self.paths.root(rel), Limit::Attribute) {
                Ok(text) => return Ok(Some(parse_os_release(&text))),
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

impl Collector for HostCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let stat_path = self.paths.proc("stat");
        let stat = host::read_parsed(&stat_path, parse_proc_stat)?;
        let btime = stat
            .btime
            .ok_or_else(|| ParseError("no btime line".into()).at(&stat_path))?;
        out.add(&BOOT_TIME, &[], btime as f64);
        match host::read_parsed_with(&self.paths.proc("uptime"), Limit::Attribute, parse_uptime) {
            Ok(up) => out.add(&UPTIME, &[], up),
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
        match self.uname() {
            Ok(u) => {
                let labels: Vec<(&'static str, &str)> = UNAME_FIELDS
                    .iter()
                    .zip(u.iter())
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect();
                out.add(&UNAME_INFO, &labels, 1.0);
            }
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
        match self.os_release() {
            Ok(Some(fields)) => {
                let labels: Vec<(&'static str, &str)> = OS_FIELDS
                    .iter()
                    .zip(["ID", "VERSION_ID", "NAME", "PRETTY_NAME"])
                    .map(|(k, key)| (*k, os_release::get(&fields, key).unwrap_or("")))
                    .collect();
                out.add(&OS_INFO, &labels, 1.0);
            }
            Ok(None) => {}
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
        Ok(())
    }
}

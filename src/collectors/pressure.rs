//! Host pressure stall information: `/proc/pressure/{cpu,memory,io,irq}` (Linux 4.20+,
//! `irq` 6.1+ with `CONFIG_IRQ_TIME_ACCOUNTING`), the `some` and `full` totals as counters in
//! seconds. The kernel's 10 s/60 s/300 s averages are left to queries
//! (`rate(system_pressure_stall_time_seconds_total[1m])` is the share of time stalled). A
//! kernel without PSI (or booted with `psi=0`) has no such files: no series, no error.

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::host::psi::parse_pressure;
use crate::host::{self, HostError, HostPaths, Limit};
use crate::snapshot::Snapshot;

super::settings::plain_settings!(5, 5);

pub const RESOURCE: &str = "pressure.resource";
pub const KIND: &str = "pressure.kind";

/// The resources PSI reports on, as named in /proc/pressure.
pub const RESOURCES: [&str; 4] = ["cpu", "memory", "io", "irq"];

pub static STALL: MetricDesc = MetricDesc {
    name: "system.pressure.stall.time",
    unit: "s",
    instrument: Instrument::Counter,
    help: "Time some (at least one) or full (all non-idle) tasks were stalled waiting for the resource, since boot: the total= of /proc/pressure/<resource> (microseconds) in seconds; rate() of it is the share of time stalled",
    attributes: &[RESOURCE, KIND],
    source: "/proc/pressure/{cpu,memory,io,irq} total (psutil has none)",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[&STALL];

pub struct PressureCollector {
    paths: HostPaths,
    buf: Vec<u8>,
}

impl PressureCollector {
    pub fn new(paths: HostPaths) -> Self {
        Self {
            paths,
            buf: Vec::with_capacity(256),
        }
    }
}

impl Collector for PressureCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        for resource in RESOURCES {
            let path = self.paths.proc(&format!("pressure/{resource}"));
            match host::read_into(&path, Limit::Attribute, &mut self.buf) {
                Ok(()) => {}
                // No PSI in this kernel, or no irq accounting: nothing to report.
                Err(e) if e.is_not_found() => continue,
                // psi=0 on the command line: the files exist and refuse reads.
                Err(HostError::Read { source, .. })
                    if source.raw_os_error() == Some(rustix::io::Errno::OPNOTSUPP.raw_os_error()) =>
                {
                    continue;
                }
                Err(e) => {
                    out.skip(e.kind(), e.to_string());
                    continue;
                }
            }
            match parse_pressure(&self.buf) {
                Ok(p) => {
                    for (kind, micros) in p.kinds() {
                        out.add(
                            &STALL,
                            &[(RESOURCE, resource), (KIND, kind)],
                            micros as f64 / 1e6,
                        );
                    }
                }
                Err(e) => {
                    let e = e.at(&path);
                    out.skip(e.kind(), e.to_string());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_in_seconds_and_missing_files_are_no_error() {
        let dir = std::env::temp_dir().join(format!("vitals-psi-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc/pressure")).unwrap();
        std::fs::write(
            dir.join("proc/pressure/cpu"),
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=2500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        )
        .unwrap();
        std::fs::write(dir.join("proc/pressure/io"), "garbage\n").unwrap();
        let mut c = PressureCollector::new(HostPaths::under(&dir));
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let samples = &s.family("system.pressure.stall.time").unwrap().samples;
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].value, 2.5);
        assert_eq!(s.skipped.len(), 1, "{:?}", s.skipped);
    }
}

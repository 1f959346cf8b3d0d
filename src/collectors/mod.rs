//! Collectors: one file per psutil domain. A collector names itself, declares the metrics it
//! may emit, and fills a [`Snapshot`] when asked; the runner owns everything else (schedule,
//! timeouts, threads, health, publishing).
//!
//! Adding a domain: a file here with its `Settings` (serde, `deny_unknown_fields`), its
//! catalog and its `Collector`; one field in [`crate::config::Collectors`]; one line in
//! [`build`] and one in [`catalogs`].

pub mod battery;
pub mod connections;
pub mod cpu;
pub mod disk;
pub mod filesystem;
pub mod host;
pub mod interfaces;
pub mod memory;
pub mod network;
pub mod processes;
pub mod sensors;
mod settings;
pub mod users;

use std::time::Duration;

use crate::catalog::MetricDesc;
use crate::config::Config;
use crate::host::HostError;
use crate::snapshot::Snapshot;

pub trait Collector: Send + 'static {
    fn name(&self) -> &'static str;

    /// Every metric this collector can emit.
    fn catalog(&self) -> &'static [&'static MetricDesc];

    /// Reads the host into `out`. A failure of the whole reading is an `Err`; parts it could
    /// skip are recorded with [`Snapshot::skip`] and the rest is still published.
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError>;

    /// True when some metrics need two readings (rates, utilization); `vitals once` then
    /// collects twice.
    fn needs_two_readings(&self) -> bool {
        false
    }
}

/// When and how long a collector runs; every collector's settings carry one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub enabled: bool,
    pub interval: Duration,
    pub timeout: Duration,
}

/// A collector ready for the runner.
pub struct Scheduled {
    pub collector: Box<dyn Collector>,
    pub schedule: Schedule,
}

/// The enabled collectors, in catalog order.
pub fn build(config: &Config) -> Vec<Scheduled> {
    let paths = config.host_paths();
    let c = &config.collectors;
    let mut out = Vec::new();
    let mut add = |schedule: Schedule, make: &dyn Fn() -> Box<dyn Collector>| {
        if schedule.enabled {
            out.push(Scheduled {
                collector: make(),
                schedule,
            });
        }
    };
    add(c.cpu.schedule(), &|| {
        Box::new(cpu::CpuCollector::new(paths.clone(), &c.cpu))
    });
    add(c.memory.schedule(), &|| {
        Box::new(memory::MemoryCollector::new(paths.clone()))
    });
    add(c.sensors.schedule(), &|| {
        Box::new(sensors::SensorsCollector::new(paths.clone()))
    });
    add(c.battery.schedule(), &|| {
        Box::new(battery::BatteryCollector::new(paths.clone()))
    });
    add(c.host.schedule(), &|| {
        Box::new(host::HostCollector::new(paths.clone()))
    });
    add(c.users.schedule(), &|| {
        Box::new(users::UsersCollector::new(paths.clone(), &c.users))
    });
    add(c.processes.schedule(), &|| {
        Box::new(processes::ProcessesCollector::new(
            paths.clone(),
            &c.processes,
        ))
    });
    add(c.filesystem.schedule(), &|| {
        Box::new(filesystem::FilesystemCollector::new(
            paths.clone(),
            &c.filesystem,
        ))
    });
    add(c.disk.schedule(), &|| {
        Box::new(disk::DiskCollector::new(paths.clone(), &c.disk))
    });
    add(c.network.schedule(), &|| {
        Box::new(network::NetworkCollector::new(paths.clone(), &c.network))
    });
    add(c.interfaces.schedule(), &|| {
        Box::new(interfaces::InterfacesCollector::new(
            paths.clone(),
            &c.interfaces,
        ))
    });
    add(c.connections.schedule(), &|| {
        Box::new(connections::ConnectionsCollector::new(
            paths.clone(),
            &c.connections,
        ))
    });
    out
}

/// Every collector's catalog, enabled or not, for `list-metrics` and docs.
pub fn catalogs() -> Vec<(&'static str, &'static [&'static MetricDesc])> {
    vec![
        ("cpu", cpu::CATALOG),
        ("memory", memory::CATALOG),
        ("sensors", sensors::CATALOG),
        ("battery", battery::CATALOG),
        ("host", host::CATALOG),
        ("users", users::CATALOG),
        ("processes", processes::CATALOG),
        ("filesystem", filesystem::CATALOG),
        ("disk", disk::CATALOG),
        ("network", network::CATALOG),
        ("interfaces", interfaces::CATALOG),
        ("connections", connections::CATALOG),
    ]
}

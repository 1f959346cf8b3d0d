//! Interface status and addresses: `net_if_stats()` and `net_if_addrs()`.
//!
//! Status comes from sysfs for every interface /proc/net/dev lists (psutil's own list).
//! Addresses come from getifaddrs(3), as psutil's, when `procfs` is the live kernel's; on
//! any other tree (fixtures, a copied /proc) they come from files: link-layer addresses from
//! sysfs `address`/`broadcast`, IPv6 from `/proc/net/if_inet6`. No file lists IPv4
//! addresses simply, so those are missing there.

use std::collections::BTreeSet;
use std::ffi::OsString;

use super::Collector;
use super::network::INTERFACE;
use crate::catalog::{Instrument, MetricDesc};
use crate::filter::Filter;
use crate::host::bytes::escape_os;
use crate::host::net_dev::parse_net_dev;
use crate::host::net_if::{self, IfAddr};
use crate::host::proc_net::parse_if_inet6;
use crate::host::{self, HostError, HostPaths, Limit};
use crate::snapshot::{ErrorKind, Snapshot};

super::settings::plain_settings!(
    30,
    5,
    /// Which interfaces to export, by name as in their labels (anchored regular expressions).
    interfaces: Filter = Filter::default(),
    /// Export `system.network.interface.address.info`, one series per address.
    addresses: bool = true,
);

const FAMILY: &str = "network.type";
const ADDRESS: &str = "network.interface.address";
const NETMASK: &str = "network.interface.netmask";
const BROADCAST: &str = "network.interface.broadcast";
const PEER: &str = "network.interface.peer";

pub static UP: MetricDesc = MetricDesc {
    name: "system.network.interface.up",
    unit: "",
    instrument: Instrument::Gauge,
    help: "1 when the interface is running (psutil's isup: IFF_RUNNING, i.e. up and operationally up or unknown), else 0",
    attributes: &[INTERFACE],
    source: "net_if_stats().isup",
    extension: true,
};

pub static SPEED: MetricDesc = MetricDesc {
    name: "system.network.interface.speed",
    unit: "By/s",
    instrument: Instrument::Gauge,
    help: "Link speed in bytes per second: psutil's Mb/s x 125000 (Prometheus' base unit is the byte; promtool rejects _bits names, and node_exporter's node_network_speed_bytes is the same number); 0 when unknown, as psutil",
    attributes: &[INTERFACE],
    source: "net_if_stats().speed",
    extension: true,
};

pub static DUPLEX: MetricDesc = MetricDesc {
    name: "system.network.interface.duplex",
    unit: "",
    instrument: Instrument::Gauge,
    help: "Duplex mode as psutil's NIC_DUPLEX_* value: 2 full, 1 half, 0 unknown",
    attributes: &[INTERFACE],
    source: "net_if_stats().duplex",
    extension: true,
};

pub static MTU: MetricDesc = MetricDesc {
    name: "system.network.interface.mtu",
    unit: "By",
    instrument: Instrument::Gauge,
    help: "Maximum transmission unit",
    attributes: &[INTERFACE],
    source: "net_if_stats().mtu",
    extension: true,
};

pub static ADDRESS_INFO: MetricDesc = MetricDesc {
    name: "system.network.interface.address.info",
    unit: "",
    instrument: Instrument::Gauge,
    help: "Always 1; one series per interface address, formatted as psutil: family ipv4, ipv6 (link-local with %interface) or link (MAC); netmask, broadcast and peer when the kernel gives them",
    attributes: &[INTERFACE, FAMILY, ADDRESS, NETMASK, BROADCAST, PEER],
    source: "net_if_addrs()",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[&UP, &SPEED, &DUPLEX, &MTU, &ADDRESS_INFO];

pub struct InterfacesCollector {
    paths: HostPaths,
    interfaces: Filter,
    addresses: bool,
    live: bool,
}

impl InterfacesCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        Self {
            live: paths.procfs_is_live(),
            paths,
            interfaces: settings.interfaces.clone(),
            addresses: settings.addresses,
        }
    }

    fn stats(&self, names: &[OsString], out: &mut Snapshot) {
        for name in names {
            match net_if::read_nic_stats(&self.paths, name) {
                Ok(Some(s)) => {
                    let labels = [(INTERFACE, &*escape_os(name))];
                    out.add(&UP, &labels, if s.isup { 1.0 } else { 0.0 });
                    out.add(&SPEED, &labels, s.speed_mbps as f64 * 125_000.0);
                    out.add(&DUPLEX, &labels, s.duplex as u8 as f64);
                    out.add(&MTU, &labels, s.mtu as f64);
                }
                Ok(None) => {}
                Err(e) => out.skip(e.kind(), e.to_string()),
            }
        }
    }

    /// Addresses from files, for a procfs that is not the live kernel's.
    fn file_addrs(&self, names: &[OsString], out: &mut Snapshot) -> Vec<IfAddr> {
        let mut addrs = Vec::new();
        for name in names {
            let dir = self.paths.sys("class/net").join(name);
            let read = || -> Result<_, HostError> {
                let address = host::read_attribute(&dir.join("address"))?;
                let flags =
                    host::read_parsed_with(&dir.join("flags"), Limit::Attribute, net_if::parse_flags)?;
                let broadcast = host::read_optional(&dir.join("broadcast"))?;
                Ok((address, flags, broadcast.unwrap_or_default()))
            };
            match read() {
                Ok((address, flags, broadcast)) => addrs.extend(net_if::link_addr_from_sysfs(
                    name, &address, &broadcast, flags,
                )),
                // Over its cap: counted. Unreadable: an interface without a link address.
                Err(e @ HostError::TooLarge { .. }) => out.skip(e.kind(), e.to_string()),
                Err(_) => {}
            }
        }
        match host::read_parsed_bytes(&self.paths.proc("net/if_inet6"), parse_if_inet6) {
            Ok(lines) => addrs.extend(net_if::ipv6_addrs(&lines)),
            Err(e) if e.is_not_found() => {} // IPv6 disabled
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
        addrs
    }

    /// `all` is every interface /proc/net/dev lists, `names` those the filter keeps.
    fn addrs(&self, all: &[OsString], names: &[OsString], out: &mut Snapshot) {
        let addrs = if self.live {
            match net_if::getifaddrs(all) {
                Ok((a, unresolved)) => {
                    for name in unresolved {
                        out.skip(
                            ErrorKind::Read,
                            format!(
                                "getifaddrs: addresses of {name:?} left out: no single interface in /proc/net/dev has that name once made UTF-8"
                            ),
                        );
                    }
                    a
                }
                Err(e) => {
                    out.skip(ErrorKind::Read, format!("getifaddrs: {e}"));
                    return;
                }
            }
        } else {
            self.file_addrs(names, out)
        };
        // Sorted and without duplicates: two equal entries would be one series twice.
        let addrs: BTreeSet<(String, IfAddr)> = addrs
            .into_iter()
            .map(|a| (escape_os(&a.interface).into_owned(), a))
            .filter(|(name, _)| self.interfaces.allows(name))
            .collect();
        for (name, a) in &addrs {
            let mut labels = vec![
                (INTERFACE, name.as_str()),
                (FAMILY, a.family.as_str()),
                (ADDRESS, a.address.as_str()),
            ];
            for (key, value) in [
                (NETMASK, &a.netmask),
                (BROADCAST, &a.broadcast),
                (PEER, &a.peer),
            ] {
                if let Some(v) = value {
                    labels.push((key, v.as_str()));
                }
            }
            out.add(&ADDRESS_INFO, &labels, 1.0);
        }
    }
}

impl Collector for InterfacesCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let all: Vec<OsString> =
            host::read_parsed_bytes(&self.paths.proc("net/dev"), parse_net_dev)?
                .into_iter()
                .map(|d| d.name)
                .collect();
        let names: Vec<OsString> = all
            .iter()
            .filter(|n| self.interfaces.allows(&escape_os(n)))
            .cloned()
            .collect();
        self.stats(&names, out);
        if self.addresses {
            self.addrs(&all, &names, out);
        }
        Ok(())
    }
}

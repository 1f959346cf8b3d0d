//! Per-interface traffic: `net_io_counters(pernic=True)`, from /proc/net/dev, through
//! psutil's nowrap so a 32-bit driver counter that wraps never makes a counter go down.

use std::ffi::OsString;

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::counters::NoWrap;
use crate::filter::Filter;
use crate::host::bytes::escape_os;
use crate::host::net_dev::{FIELDS, Field, LAYOUT, parse_net_dev};
use crate::host::{self, HostError, HostPaths};
use crate::snapshot::Snapshot;

super::settings::plain_settings!(
    5,
    5,
    /// Which interfaces to export, by name as in their labels (anchored regular expressions).
    interfaces: Filter = Filter::default(),
);

pub const INTERFACE: &str = "network.interface.name";
const DIRECTION: &str = "network.io.direction";

const fn counter(
    name: &'static str,
    unit: &'static str,
    help: &'static str,
    source: &'static str,
    extension: bool,
) -> MetricDesc {
    MetricDesc {
        name,
        unit,
        instrument: Instrument::Counter,
        help,
        attributes: &[INTERFACE, DIRECTION],
        source,
        extension,
    }
}

pub static IO: MetricDesc = counter(
    "system.network.io",
    "By",
    "Bytes received and transmitted per interface (/proc/net/dev), never decreasing across 32-bit wraps and counter resets",
    "net_io_counters(pernic=True).bytes_recv, .bytes_sent",
    false,
);
pub static PACKETS: MetricDesc = counter(
    "system.network.packet.count",
    "{packet}",
    "Packets received and transmitted per interface",
    "net_io_counters(pernic=True).packets_recv, .packets_sent",
    false,
);
pub static ERRORS: MetricDesc = counter(
    "system.network.errors",
    "{error}",
    "Receive and transmit errors per interface",
    "net_io_counters(pernic=True).errin, .errout",
    false,
);
pub static DROPPED: MetricDesc = counter(
    "system.network.packet.dropped",
    "{packet}",
    "Packets dropped on receive and transmit per interface",
    "net_io_counters(pernic=True).dropin, .dropout",
    false,
);
pub static FIFO: MetricDesc = counter(
    "system.network.linux.fifo_errors",
    "{error}",
    "Driver FIFO overruns (receive) and underruns (transmit): /proc/net/dev fifo columns, which psutil reads and drops",
    "/proc/net/dev fifo",
    true,
);
pub static COMPRESSED: MetricDesc = counter(
    "system.network.linux.compressed",
    "{packet}",
    "Compressed packets received and transmitted (/proc/net/dev compressed, unused by psutil)",
    "/proc/net/dev compressed",
    true,
);
pub static FRAME: MetricDesc = counter(
    "system.network.linux.frame_errors",
    "{error}",
    "Receive framing errors (/proc/net/dev frame, unused by psutil; direction is always receive)",
    "/proc/net/dev frame",
    true,
);
pub static MULTICAST: MetricDesc = counter(
    "system.network.linux.multicast",
    "{packet}",
    "Multicast packets received (/proc/net/dev multicast, unused by psutil; direction is always receive)",
    "/proc/net/dev multicast",
    true,
);
pub static COLLISIONS: MetricDesc = counter(
    "system.network.linux.collisions",
    "{collision}",
    "Collisions while transmitting (/proc/net/dev colls, unused by psutil; direction is always transmit)",
    "/proc/net/dev colls",
    true,
);
pub static CARRIER: MetricDesc = counter(
    "system.network.linux.carrier_errors",
    "{error}",
    "Carrier losses while transmitting (/proc/net/dev carrier, unused by psutil; direction is always transmit)",
    "/proc/net/dev carrier",
    true,
);

pub static CATALOG: &[&MetricDesc] = &[
    &IO,
    &PACKETS,
    &ERRORS,
    &DROPPED,
    &FIFO,
    &COMPRESSED,
    &FRAME,
    &MULTICAST,
    &COLLISIONS,
    &CARRIER,
];

fn desc(field: Field) -> &'static MetricDesc {
    match field {
        Field::Bytes => &IO,
        Field::Packets => &PACKETS,
        Field::Errors => &ERRORS,
        Field::Dropped => &DROPPED,
        Field::Fifo => &FIFO,
        Field::Compressed => &COMPRESSED,
        Field::Frame => &FRAME,
        Field::Multicast => &MULTICAST,
        Field::Collisions => &COLLISIONS,
        Field::Carrier => &CARRIER,
    }
}

pub struct NetworkCollector {
    paths: HostPaths,
    interfaces: Filter,
    /// Keyed by (interface, column of /proc/net/dev).
    counters: NoWrap<(OsString, usize)>,
}

impl NetworkCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        Self {
            paths,
            interfaces: settings.interfaces.clone(),
            counters: NoWrap::default(),
        }
    }
}

impl Collector for NetworkCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let devs = host::read_parsed_bytes(&self.paths.proc("net/dev"), parse_net_dev)?;
        self.counters.begin();
        for dev in &devs {
            let name = escape_os(&dev.name);
            if !self.interfaces.allows(&name) {
                continue;
            }
            for (column, (field, direction)) in LAYOUT.iter().enumerate().take(FIELDS) {
                let value = self
                    .counters
                    .update((dev.name.clone(), column), dev.counters[column]);
                out.add(
                    desc(*field),
                    &[(INTERFACE, &name), (DIRECTION, direction)],
                    value as f64,
                );
            }
        }
        self.counters.finish();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tree(dir: &Path, dev: &str) {
        std::fs::create_dir_all(dir.join("proc/net")).unwrap();
        std::fs::write(dir.join("proc/net/dev"), format!("h1\nh2\n{dev}")).unwrap();
    }

    fn line(name: &str, rx_bytes: u64) -> String {
        format!("{name}: {rx_bytes} 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n")
    }

    fn rx_bytes(s: &Snapshot, name: &str) -> Option<f64> {
        s.family("system.network.io")?
            .samples
            .iter()
            .find(|x| {
                x.labels.contains(&(INTERFACE, name.to_string()))
                    && x.labels.contains(&(DIRECTION, "receive".to_string()))
            })
            .map(|x| x.value)
    }

    fn collect(c: &mut NetworkCollector) -> Snapshot {
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        s
    }

    #[test]
    fn wraps_never_decrease_and_a_returning_interface_starts_clean() {
        let dir = std::env::temp_dir().join(format!("vitals-net-wrap-{}", std::process::id()));
        let paths = HostPaths::under(&dir);
        let mut c = NetworkCollector::new(paths, &Settings::default());
        let max = u64::from(u32::MAX);
        let mut seen = Vec::new();
        // eth0 has a 32-bit counter that wraps; veth0 vanishes and comes back reset.
        for (eth0, veth0) in [
            (max - 100, Some(5000)),
            (max - 10, Some(6000)),
            (20, None),
            (400, Some(7)),
        ] {
            let mut text = line("eth0", eth0);
            if let Some(v) = veth0 {
                text.push_str(&line("veth0", v));
            }
            tree(&dir, &text);
            let s = collect(&mut c);
            seen.push((rx_bytes(&s, "eth0"), rx_bytes(&s, "veth0")));
        }
        std::fs::remove_dir_all(&dir).ok();
        let m = max as f64;
        assert_eq!(
            seen,
            [
                (Some(m - 100.0), Some(5000.0)),
                (Some(m - 10.0), Some(6000.0)),
                (Some(m - 10.0 + 20.0), None),
                (Some(m - 10.0 + 400.0), Some(7.0)),
            ]
        );
        let eth0: Vec<f64> = seen.iter().filter_map(|s| s.0).collect();
        assert!(eth0.windows(2).all(|w| w[0] <= w[1]), "{eth0:?}");
    }

    #[test]
    fn the_filter_drops_interfaces() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/network-edge");
        let paths = HostPaths::under(&root);
        let settings = Settings {
            interfaces: Filter::new(None, Some("veth.*|lo")),
            ..Settings::default()
        };
        let s = collect(&mut NetworkCollector::new(paths, &settings));
        assert!(rx_bytes(&s, "veth1a2b3c4").is_none());
        assert!(rx_bytes(&s, "lo").is_none());
        assert_eq!(rx_bytes(&s, "eth0:1"), Some(18_446_744_073_709_551_000.0));
        assert_eq!(s.series_count(), 3 * FIELDS);
    }

    #[test]
    fn names_that_are_not_utf8_are_escaped_and_filtered_as_escaped() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/non-utf8");
        let paths = HostPaths::under(&root);
        let s = collect(&mut NetworkCollector::new(
            paths.clone(),
            &Settings::default(),
        ));
        assert_eq!(rx_bytes(&s, r"\xe9th0"), Some(9_081_726.0));
        assert_eq!(rx_bytes(&s, "café"), Some(4000.0));
        assert_eq!(rx_bytes(&s, r"br\\x41"), Some(500.0));
        assert_eq!(s.series_count(), 4 * FIELDS);
        let settings = Settings {
            interfaces: Filter::new(None, Some(r"\\xe9.*")),
            ..Settings::default()
        };
        let s = collect(&mut NetworkCollector::new(paths, &settings));
        assert_eq!(rx_bytes(&s, r"\xe9th0"), None);
        assert_eq!(s.series_count(), 3 * FIELDS);
    }
}

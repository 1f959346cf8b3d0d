//! Sockets: `net_connections(kind='all')` counted by transport, family and TCP state, and
//! (opt-in) the listening sockets as `_info` series.
//!
//! The default source is netlink sock_diag, as `ss` uses: the kernel walks its socket
//! tables without printing them as text, several times cheaper than reading
//! `/proc/net/tcp{,6}` (docs/performance.md). When netlink is unavailable, or `procfs` is not
//! the live kernel's (a fixture tree), the /proc/net tables psutil reads are used instead.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use serde::Deserialize;
use tracing::info;

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::host::proc_net::{
    InetSocket, TCP_CLOSE, TCP_LISTEN, TCP_STATES, count_unix_table, parse_inet_table,
    tcp_state_name,
};
use crate::host::sock_diag::{AF_INET, AF_INET6, Protocol, SockDiag};
use crate::host::{self, HostError, HostPaths};
use crate::snapshot::Snapshot;

/// Where sockets are listed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Netlink when `procfs` is the live kernel's and netlink answers, else /proc/net.
    Auto,
    Netlink,
    Procfs,
}

super::settings::plain_settings!(
    15,
    5,
    source: Source = Source::Auto,
    /// Count unix domain sockets too.
    unix: bool = true,
    /// Export `system.network.listener.info`, one series per listening address.
    listening: bool = false,
    /// At most this many listener series; beyond it the lowest ports are kept and the
    /// overflow is counted in `vitals_collector_series_dropped_total`.
    listening_max_series: usize = 200,
);

const TRANSPORT: &str = "network.transport";
const FAMILY: &str = "network.type";
const STATE: &str = "network.connection.state";
const LOCAL_ADDRESS: &str = "network.local.address";
const LOCAL_PORT: &str = "network.local.port";

pub static COUNT: MetricDesc = MetricDesc {
    name: "system.network.connection.count",
    unit: "{connection}",
    instrument: Instrument::UpDownCounter,
    help: "Sockets by transport (tcp, udp, unix), family and TCP state, every TCP state shown from 0; as psutil, UDP and unix sockets have no state (psutil's NONE). Each socket counts once (psutil counts a unix socket once per owning descriptor and merges ownerless duplicates)",
    attributes: &[TRANSPORT, FAMILY, STATE],
    source: "net_connections(kind='all') grouped by type, family, status",
    extension: false,
};

pub static LISTENER: MetricDesc = MetricDesc {
    name: "system.network.listener.info",
    unit: "",
    instrument: Instrument::Gauge,
    help: "Always 1; one series per listening address: TCP sockets in LISTEN and bound unconnected UDP sockets (opt-in, capped by listening_max_series)",
    attributes: &[TRANSPORT, FAMILY, LOCAL_ADDRESS, LOCAL_PORT],
    source: "net_connections(kind='inet') with status LISTEN, or UDP with no remote address",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[&COUNT, &LISTENER];

/// The (transport, family, protocol) tables psutil's `kind='inet'` reads, with their
/// /proc/net file.
const TABLES: [(&str, &str, u8, Protocol, &str); 4] = [
    ("tcp", "ipv4", AF_INET, Protocol::Tcp, "net/tcp"),
    ("tcp", "ipv6", AF_INET6, Protocol::Tcp, "net/tcp6"),
    ("udp", "ipv4", AF_INET, Protocol::Udp, "net/udp"),
    ("udp", "ipv6", AF_INET6, Protocol::Udp, "net/udp6"),
];

/// Every socket of one reading.
#[derive(Debug, Default, PartialEq)]
pub struct Sockets {
    /// In the order of [`TABLES`].
    pub inet: [Vec<InetSocket>; 4],
    pub unix: Option<usize>,
}

/// Reads the /proc/net tables. A missing IPv6 table means IPv6 is disabled: no sockets.
pub fn read_procfs(paths: &HostPaths, unix: bool) -> Result<Sockets, HostError> {
    let mut out = Sockets::default();
    for (slot, (_, family, _, _, file)) in out.inet.iter_mut().zip(TABLES) {
        match host::read_parsed(&paths.proc(file), parse_inet_table) {
            Ok(sockets) => *slot = sockets,
            Err(e) if family == "ipv6" && e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    if unix {
        out.unix = Some(count_unix_table(&host::read(&paths.proc("net/unix"))?));
    }
    Ok(out)
}

/// Reads the same through netlink.
pub fn read_netlink(diag: &mut SockDiag, unix: bool) -> std::io::Result<Sockets> {
    let mut out = Sockets::default();
    for (slot, (_, _, family, protocol, _)) in out.inet.iter_mut().zip(TABLES) {
        *slot = diag.inet(family, protocol)?;
    }
    if unix {
        out.unix = Some(diag.unix_count()?);
    }
    Ok(out)
}

/// Adds the counts to `out`: every TCP state of both families (zeros included), then UDP
/// per family and unix.
pub fn count(sockets: &Sockets, out: &mut Snapshot) {
    for ((transport, family, ..), table) in TABLES.iter().zip(&sockets.inet) {
        if *transport == "tcp" {
            let mut by_state = [0usize; TCP_STATES.len()];
            for s in table {
                if let Some(i) = tcp_state_name(s.state)
                    .and_then(|name| TCP_STATES.iter().position(|(_, n)| *n == name))
                {
                    by_state[i] += 1;
                }
            }
            for ((_, state), n) in TCP_STATES.iter().zip(by_state) {
                out.add(
                    &COUNT,
                    &[(TRANSPORT, transport), (FAMILY, family), (STATE, state)],
                    n as f64,
                );
            }
        } else {
            out.add(
                &COUNT,
                &[(TRANSPORT, transport), (FAMILY, family)],
                table.len() as f64,
            );
        }
    }
    if let Some(n) = sockets.unix {
        out.add(&COUNT, &[(TRANSPORT, "unix")], n as f64);
    }
}

/// Adds one series per distinct listening (transport, family, address, port), lowest
/// ports first, at most `max`; returns how many were left out.
pub fn listeners(sockets: &Sockets, max: usize, out: &mut Snapshot) -> usize {
    let mut seen: BTreeSet<(u16, &str, &str, SocketAddr)> = BTreeSet::new();
    for ((transport, family, ..), table) in TABLES.iter().zip(&sockets.inet) {
        let listening = |s: &&InetSocket| match *transport {
            "tcp" => s.state == TCP_LISTEN,
            _ => s.state == TCP_CLOSE && s.local.port() != 0,
        };
        for s in table.iter().filter(listening) {
            seen.insert((s.local.port(), transport, family, s.local));
        }
    }
    for (port, transport, family, local) in seen.iter().take(max) {
        out.add(
            &LISTENER,
            &[
                (TRANSPORT, transport),
                (FAMILY, family),
                (LOCAL_ADDRESS, &local.ip().to_string()),
                (LOCAL_PORT, &port.to_string()),
            ],
            1.0,
        );
    }
    seen.len().saturating_sub(max)
}

pub struct ConnectionsCollector {
    paths: HostPaths,
    settings: Settings,
    diag: Option<SockDiag>,
}

impl ConnectionsCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        let want_netlink = match settings.source {
            Source::Netlink => true,
            Source::Procfs => false,
            Source::Auto => paths.procfs_is_live(),
        };
        let diag = if want_netlink {
            match SockDiag::open() {
                Ok(d) => Some(d),
                Err(e) => {
                    info!(collector = "connections", error = %e, "netlink sock_diag unavailable; reading /proc/net");
                    None
                }
            }
        } else {
            None
        };
        Self {
            paths,
            settings: settings.clone(),
            diag,
        }
    }

    /// True when sockets are listed through netlink.
    pub fn uses_netlink(&self) -> bool {
        self.diag.is_some()
    }

    fn read(&mut self) -> Result<Sockets, HostError> {
        let unix = self.settings.unix;
        match (&mut self.diag, self.settings.source) {
            (Some(diag), _) => read_netlink(diag, unix).map_err(|source| HostError::Read {
                path: "netlink sock_diag".into(),
                source,
            }),
            (None, Source::Netlink) => Err(HostError::Read {
                path: "netlink sock_diag".into(),
                source: std::io::Error::other(
                    "source = \"netlink\" but the socket could not be opened",
                ),
            }),
            (None, _) => read_procfs(&self.paths, unix),
        }
    }
}

impl Collector for ConnectionsCollector {
    fn name(&self) -> &'static str {
        "connections"
    }

    fn catalog(&self) -> &'static [&'static MetricDesc] {
        CATALOG
    }

    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let sockets = self.read()?;
        count(&sockets, out);
        if self.settings.listening {
            let left_out = listeners(&sockets, self.settings.listening_max_series, out);
            out.drop_series(left_out as u64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> HostPaths {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        HostPaths::under(&root)
    }

    fn value(s: &Snapshot, labels: &[(&str, &str)]) -> Option<f64> {
        s.family("system.network.connection.count")?
            .samples
            .iter()
            .find(|x| {
                x.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| x.labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|x| x.value)
    }

    #[test]
    fn counts_from_the_modern_fixture() {
        let sockets = read_procfs(&fixture("modern"), true).unwrap();
        let mut s = Snapshot::default();
        count(&sockets, &mut s);
        let tcp = |fam, state| value(&s, &[(TRANSPORT, "tcp"), (FAMILY, fam), (STATE, state)]);
        assert_eq!(tcp("ipv4", "listen"), Some(2.0));
        assert_eq!(tcp("ipv4", "established"), Some(2.0));
        assert_eq!(tcp("ipv4", "time_wait"), Some(1.0));
        assert_eq!(tcp("ipv4", "closing"), Some(0.0));
        assert_eq!(tcp("ipv6", "close_wait"), Some(1.0));
        assert_eq!(
            value(&s, &[(TRANSPORT, "udp"), (FAMILY, "ipv4")]),
            Some(3.0)
        );
        assert_eq!(
            value(&s, &[(TRANSPORT, "udp"), (FAMILY, "ipv6")]),
            Some(1.0)
        );
        assert_eq!(value(&s, &[(TRANSPORT, "unix")]), Some(6.0));
        assert_eq!(s.series_count(), 2 * TCP_STATES.len() + 3);
    }

    #[test]
    fn a_host_without_ipv6_has_empty_ipv6_tables() {
        let sockets = read_procfs(&fixture("legacy"), false).unwrap();
        assert!(sockets.inet[1].is_empty() && sockets.inet[3].is_empty());
        assert_eq!(sockets.inet[0].len(), 2);
        assert_eq!(sockets.unix, None);
    }

    #[test]
    fn listeners_are_distinct_sorted_and_capped() {
        let sockets = read_procfs(&fixture("modern"), true).unwrap();
        let mut s = Snapshot::default();
        assert_eq!(listeners(&sockets, 100, &mut s), 0);
        let got: Vec<String> = s.families[0]
            .samples
            .iter()
            .map(|x| {
                x.labels
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(
            got,
            [
                "tcp ipv4 0.0.0.0 22",
                "tcp ipv6 :: 22",
                "udp ipv4 127.0.0.53 53",
                "udp ipv4 0.0.0.0 68",
                "tcp ipv4 127.0.0.1 631",
                "tcp ipv6 ::1 631",
                "udp ipv6 :: 5353",
            ]
        );
        let mut capped = Snapshot::default();
        assert_eq!(listeners(&sockets, 3, &mut capped), 4);
        assert_eq!(capped.series_count(), 3);
    }

    #[test]
    fn netlink_agrees_with_procfs_on_this_host() {
        let Ok(mut diag) = SockDiag::open() else {
            eprintln!("netlink sock_diag unavailable; skipped");
            return;
        };
        let paths = HostPaths::default();
        let counts = |s: &Sockets| {
            let mut snap = Snapshot::default();
            count(s, &mut snap);
            snap.families[0].samples.clone()
        };
        // Sockets come and go between readings: each netlink count must lie between the
        // /proc counts read just before and just after it. Retried while they move back
        // and forth.
        for _ in 0..20 {
            let lo = counts(&read_procfs(&paths, true).unwrap());
            let netlink = counts(&read_netlink(&mut diag, true).unwrap());
            let hi = counts(&read_procfs(&paths, true).unwrap());
            let labels = |s: &[crate::snapshot::Sample]| {
                s.iter().map(|x| x.labels.clone()).collect::<Vec<_>>()
            };
            assert_eq!(
                labels(&netlink),
                labels(&lo),
                "the same series from both sources"
            );
            let between = lo.iter().zip(&hi).zip(&netlink).all(|((l, h), n)| {
                l.value.min(h.value) <= n.value && n.value <= l.value.max(h.value)
            });
            if between {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("netlink counts kept falling outside the /proc counts around them");
    }
}

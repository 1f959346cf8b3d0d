//! Sockets: `net_connections(kind='all')` counted by transport, family and TCP state, and
//! (opt-in) the listening sockets as `_info` series.
//!
//! The default source is netlink sock_diag, as `ss` uses: the kernel walks its socket
//! tables without printing them as text, several times cheaper than reading
//! `/proc/net/tcp{,6}` (docs/performance.md). When `procfs` is not the live kernel's (a
//! fixture tree), the /proc/net tables psutil reads are used instead. Under
//! `source = "auto"` a part the kernel will not dump (a kernel without `udp_diag`), or every
//! part when no sock_diag socket can be opened, is read from /proc/net from then on, with a
//! warning the first time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;

use serde::Deserialize;
use tracing::warn;

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::host::proc_net::{
    InetSocket, TCP_CLOSE, TCP_LISTEN, TCP_STATES, count_unix_table, parse_inet_table,
    tcp_state_name,
};
use crate::host::bytes::escape;
use crate::host::proc_pid_cmdline::full_name;
use crate::host::proc_pid_fd::FdWalker;
use crate::host::proc_pid_stat::parse_pid_stat;
use crate::host::sock_diag::{AF_INET, AF_INET6, DiagError, Protocol, SockDiag};
use crate::host::{self, HostError, HostPaths, Limit};
use crate::snapshot::{ErrorKind, Snapshot};

/// Where sockets are listed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Netlink when `procfs` is the live kernel's, else /proc/net; a part the kernel
    /// refuses to dump (or every part, without a sock_diag socket) from /proc/net.
    Auto,
    /// Netlink only: a refused dump is an error of the collection.
    Netlink,
    Procfs,
}

super::settings::plain_settings!(
    check = check_settings;
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
    /// Add the owning process (pid and psutil's name()) to each listener series, as
    /// `ss -tlnp`: needs `listening`; costs one readlink per open descriptor of every
    /// process each collection (docs/performance.md).
    listening_owners: bool = false,
);

fn check_settings(s: &Settings) -> Result<(), super::Invalid> {
    if s.listening_owners && !s.listening {
        return Err(super::Invalid {
            key: "listening_owners",
            message: "listening_owners adds labels to the listener series: set listening = true too".into(),
        });
    }
    Ok(())
}

const TRANSPORT: &str = "network.transport";
const FAMILY: &str = "network.type";
const STATE: &str = "network.connection.state";
const LOCAL_ADDRESS: &str = "network.local.address";
const LOCAL_PORT: &str = "network.local.port";
const PID: &str = "process.pid";
const NAME: &str = "process.executable.name";

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
    help: "Always 1; one series per listening address: TCP sockets in LISTEN and bound unconnected UDP sockets (opt-in, capped by listening_max_series). With listening_owners, process_pid and process_executable_name (psutil's name(): the whole name where comm is cut at 15 bytes) name the process psutil's net_connections() gives the socket: of several holders (a server's workers sharing its listener), the highest pid; both are absent when no readable process holds it",
    attributes: &[TRANSPORT, FAMILY, LOCAL_ADDRESS, LOCAL_PORT, PID, NAME],
    source: "net_connections(kind='inet') with status LISTEN, or UDP with no remote address; .pid and Process(pid).name()",
    extension: true,
};

pub static OWNERS_DENIED: MetricDesc = MetricDesc {
    name: "vitals.connections.owners.denied",
    unit: "{process}",
    instrument: Instrument::Gauge,
    help: "Processes whose /proc/<pid>/fd the last listener-owner walk could not read (permission denied: other users' processes when vitals is unprivileged); a listener only they hold has no owner labels. Counted, never logged",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[&COUNT, &LISTENER, &OWNERS_DENIED];

/// The (transport, family) tables psutil's `kind='inet'` reads, with their /proc/net file.
const TABLES: [(&str, &str, &str); 4] = [
    ("tcp", "ipv4", "net/tcp"),
    ("tcp", "ipv6", "net/tcp6"),
    ("udp", "ipv4", "net/udp"),
    ("udp", "ipv6", "net/udp6"),
];

/// The parts of a reading: each is one netlink dump, or its /proc/net files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Both TCP tables, from one dump.
    Tcp,
    Udp4,
    Udp6,
    Unix,
}

impl Part {
    fn all(unix: bool) -> &'static [Part] {
        const ALL: [Part; 4] = [Part::Tcp, Part::Udp4, Part::Udp6, Part::Unix];
        if unix { &ALL } else { &ALL[..3] }
    }

    fn name(self) -> &'static str {
        match self {
            Part::Tcp => "tcp",
            Part::Udp4 => "udp ipv4",
            Part::Udp6 => "udp ipv6",
            Part::Unix => "unix",
        }
    }

    /// Its slots in [`Sockets::inet`].
    fn tables(self) -> &'static [usize] {
        match self {
            Part::Tcp => &[0, 1],
            Part::Udp4 => &[2],
            Part::Udp6 => &[3],
            Part::Unix => &[],
        }
    }
}

/// The netlink side of a reading: [`SockDiag`] on a host, a fake in the tests.
pub trait Netlink: Send {
    /// Every TCP socket, IPv4 then IPv6.
    fn tcp(&mut self) -> Result<[Vec<InetSocket>; 2], DiagError>;
    fn udp(&mut self, family: u8) -> Result<Vec<InetSocket>, DiagError>;
    fn unix_count(&mut self) -> Result<usize, DiagError>;
}

impl Netlink for SockDiag {
    fn tcp(&mut self) -> Result<[Vec<InetSocket>; 2], DiagError> {
        SockDiag::tcp(self)
    }

    fn udp(&mut self, family: u8) -> Result<Vec<InetSocket>, DiagError> {
        self.inet(family, Protocol::Udp)
    }

    fn unix_count(&mut self) -> Result<usize, DiagError> {
        SockDiag::unix_count(self)
    }
}

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
    for &part in Part::all(unix) {
        read_procfs_part(paths, part, &mut out)?;
    }
    Ok(out)
}

fn read_procfs_part(paths: &HostPaths, part: Part, out: &mut Sockets) -> Result<(), HostError> {
    for &i in part.tables() {
        let (_, family, file) = TABLES[i];
        out.inet[i] = match host::read_parsed_with(&paths.proc(file), Limit::Sockets, parse_inet_table) {
            Ok(sockets) => sockets,
            Err(e) if family == "ipv6" && e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
    }
    if part == Part::Unix {
        let unix = host::read_with(&paths.proc("net/unix"), Limit::Sockets)?;
        out.unix = Some(count_unix_table(&unix));
    }
    Ok(())
}

/// Reads the same through netlink.
pub fn read_netlink(diag: &mut dyn Netlink, unix: bool) -> Result<Sockets, DiagError> {
    let mut out = Sockets::default();
    for &part in Part::all(unix) {
        read_netlink_part(diag, part, &mut out)?;
    }
    Ok(out)
}

fn read_netlink_part(
    diag: &mut dyn Netlink,
    part: Part,
    out: &mut Sockets,
) -> Result<(), DiagError> {
    match part {
        Part::Tcp => [out.inet[0], out.inet[1]] = diag.tcp()?,
        Part::Udp4 => out.inet[2] = diag.udp(AF_INET)?,
        Part::Udp6 => out.inet[3] = diag.udp(AF_INET6)?,
        Part::Unix => out.unix = Some(diag.unix_count()?),
    }
    Ok(())
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

/// The listening sockets: TCP in LISTEN, and bound unconnected UDP.
fn listening(sockets: &Sockets) -> impl Iterator<Item = (&'static str, &'static str, &InetSocket)> {
    TABLES
        .iter()
        .zip(&sockets.inet)
        .flat_map(|(&(transport, family, _), table)| {
            table
                .iter()
                .filter(move |s| match transport {
                    "tcp" => s.state == TCP_LISTEN,
                    _ => s.state == TCP_CLOSE && s.local.port() != 0,
                })
                .map(move |s| (transport, family, s))
        })
}

/// The process holding each listening socket, by inode, and how its name reads.
#[derive(Debug, Default)]
pub struct Owners {
    /// The highest pid holding the socket, as psutil's net_connections() reports it.
    pub pid: HashMap<u64, u32>,
    /// psutil's name() of each pid in `pid`, escaped like other labels.
    pub name: HashMap<u32, String>,
}

/// Adds one series per distinct listening (transport, family, address, port), lowest
/// ports first, at most `max`, with the highest owning pid among its sockets when `owners`
/// is given; returns how many were left out.
pub fn listeners(
    sockets: &Sockets,
    max: usize,
    owners: Option<&Owners>,
    out: &mut Snapshot,
) -> usize {
    let mut seen: BTreeMap<(u16, &str, &str, SocketAddr), Option<u32>> = BTreeMap::new();
    for (transport, family, s) in listening(sockets) {
        let pid = owners.and_then(|o| o.pid.get(&s.inode).copied());
        let slot = seen
            .entry((s.local.port(), transport, family, s.local))
            .or_insert(pid);
        *slot = match (*slot, pid) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    for ((port, transport, family, local), pid) in seen.iter().take(max) {
        let address = local.ip().to_string();
        let port = port.to_string();
        let mut labels = vec![
            (TRANSPORT, *transport),
            (FAMILY, *family),
            (LOCAL_ADDRESS, address.as_str()),
            (LOCAL_PORT, port.as_str()),
        ];
        let pid_text = pid.map(|p| p.to_string());
        if let (Some(pid), Some(text), Some(owners)) = (pid, &pid_text, owners) {
            labels.push((PID, text));
            if let Some(name) = owners.name.get(pid) {
                labels.push((NAME, name));
            }
        }
        out.add(&LISTENER, &labels, 1.0);
    }
    seen.len().saturating_sub(max)
}

/// psutil's `name()` of `pid`: comm from `<procfs>/<pid>/stat`, made whole from the
/// command line when cut at 15 bytes. None when the process is gone.
fn process_name(paths: &HostPaths, pid: u32) -> Option<String> {
    let stat = host::read_bytes_with(&paths.proc(&format!("{pid}/stat")), Limit::Attribute).ok()?;
    let comm = parse_pid_stat(&stat)?.comm;
    let cmdline = if comm.len() >= 15 {
        host::read_bytes(&paths.proc(&format!("{pid}/cmdline"))).unwrap_or_default()
    } else {
        Vec::new()
    };
    Some(escape(full_name(comm, &cmdline)).into_owned())
}

pub struct ConnectionsCollector {
    paths: HostPaths,
    settings: Settings,
    /// None when every part is read from /proc/net.
    netlink: Option<Box<dyn Netlink>>,
    /// Parts the kernel refused to dump under `source = "auto"`, read from /proc/net since.
    refused: Vec<Part>,
    walker: FdWalker,
}

impl ConnectionsCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        let netlink = match settings.source {
            Source::Netlink => true,
            Source::Procfs => false,
            Source::Auto => paths.procfs_is_live(),
        };
        // The socket is opened by the first collection; every receive gives up at the
        // collection's timeout, so a dump never outlives it by much.
        let netlink =
            netlink.then(|| Box::new(SockDiag::new(settings.timeout.0)) as Box<dyn Netlink>);
        Self::with_netlink(paths, settings, netlink)
    }

    fn with_netlink(
        paths: HostPaths,
        settings: &Settings,
        netlink: Option<Box<dyn Netlink>>,
    ) -> Self {
        Self {
            paths,
            settings: settings.clone(),
            netlink,
            refused: Vec::new(),
            walker: FdWalker::default(),
        }
    }

    /// The owners of the listening sockets: one walk of every process's descriptors. A
    /// procfs that cannot be listed is a read error of this collection, whose listeners
    /// are then exported without owners.
    fn owners(&mut self, sockets: &Sockets, out: &mut Snapshot) -> Owners {
        let mut owners = Owners::default();
        let wanted: HashSet<u64> = listening(sockets)
            .filter(|(.., s)| s.inode != 0)
            .map(|(.., s)| s.inode)
            .collect();
        if wanted.is_empty() {
            return owners;
        }
        let walk = self.walker.every_process(&self.paths.procfs, |pid, inode| {
            if wanted.contains(&inode) {
                // Pids come in ascending order: the last holder is the highest, the one
                // psutil names (its inode map is updated pid after pid).
                owners.pid.insert(inode, pid);
            }
        });
        match walk {
            Ok(walk) => out.add(&OWNERS_DENIED, &[], walk.denied as f64),
            Err(e) => out.skip(
                ErrorKind::Read,
                format!("listing {}: {e}", self.paths.procfs.display()),
            ),
        }
        for &pid in owners.pid.values() {
            if let std::collections::hash_map::Entry::Vacant(slot) = owners.name.entry(pid)
                && let Some(name) = process_name(&self.paths, pid)
            {
                slot.insert(name);
            }
        }
        owners
    }

    /// Each part from netlink, or from /proc/net when it has none or (under `auto`) the
    /// kernel refused it. Any other netlink failure fails the collection; the next one
    /// asks netlink again, on a new socket.
    fn read(&mut self) -> Result<Sockets, HostError> {
        let mut out = Sockets::default();
        let auto = self.settings.source == Source::Auto;
        for &part in Part::all(self.settings.unix) {
            let refused = self.refused.contains(&part);
            if let Some(diag) = self.netlink.as_deref_mut().filter(|_| !refused) {
                match read_netlink_part(diag, part, &mut out) {
                    Ok(()) => continue,
                    Err(e @ DiagError::Unavailable(_)) if auto => {
                        warn!(collector = "connections", error = %e, "netlink sock_diag unavailable; reading /proc/net from now on");
                        self.netlink = None;
                    }
                    Err(e @ DiagError::Refused(_)) if auto => {
                        warn!(collector = "connections", part = part.name(), error = %e, "the kernel does not dump these sockets through netlink; reading them from /proc/net from now on");
                        self.refused.push(part);
                    }
                    Err(e) => return Err(netlink_error(part, e)),
                }
            }
            read_procfs_part(&self.paths, part, &mut out)?;
        }
        Ok(out)
    }
}

fn netlink_error(part: Part, e: DiagError) -> HostError {
    let path = format!("netlink sock_diag ({} dump)", part.name()).into();
    match e {
        DiagError::Malformed(detail) => HostError::Parse {
            path,
            detail: detail.0,
        },
        e => HostError::Read {
            path,
            source: std::io::Error::other(e),
        },
    }
}

impl Collector for ConnectionsCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let sockets = self.read()?;
        count(&sockets, out);
        if self.settings.listening {
            let owners = self
                .settings
                .listening_owners
                .then(|| self.owners(&sockets, out));
            let max = self.settings.listening_max_series;
            let left_out = listeners(&sockets, max, owners.as_ref(), out);
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
        assert_eq!(listeners(&sockets, 100, None, &mut s), 0);
        assert_eq!(
            listener_labels(&s),
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
        assert_eq!(listeners(&sockets, 3, None, &mut capped), 4);
        assert_eq!(capped.series_count(), 3);
    }

    fn listener_labels(s: &Snapshot) -> Vec<String> {
        s.family(LISTENER.name)
            .map(|f| {
                f.samples
                    .iter()
                    .map(|x| {
                        x.labels
                            .iter()
                            .map(|(_, v)| v.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn an_address_shows_its_lowest_owner_and_no_owner_when_none_is_known() {
        let at = |port, inode| InetSocket {
            state: TCP_LISTEN,
            local: SocketAddr::new([0, 0, 0, 0].into(), port),
            inode,
        };
        // Port 80: two sockets (SO_REUSEPORT) held by 200 and 300; port 22: nobody known.
        let sockets = Sockets {
            inet: [vec![at(80, 5), at(80, 6), at(22, 7)], vec![], vec![], vec![]],
            unix: None,
        };
        let owners = Owners {
            pid: [(5, 200), (6, 300)].into(),
            name: [(300, "averyveryverylongname".to_string())].into(),
        };
        let mut s = Snapshot::default();
        listeners(&sockets, 10, Some(&owners), &mut s);
        assert_eq!(
            listener_labels(&s),
            [
                "tcp ipv4 0.0.0.0 22",
                "tcp ipv4 0.0.0.0 80 300 averyveryverylongname"
            ]
        );
    }

    #[test]
    fn this_process_owns_its_listener_on_this_host() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let settings = Settings {
            listening: true,
            listening_owners: true,
            ..Settings::default()
        };
        let mut c = ConnectionsCollector::new(HostPaths::default(), &settings);
        let s = collect(&mut c).unwrap();
        let stat = std::fs::read("/proc/self/stat").unwrap();
        let comm = parse_pid_stat(&stat).unwrap().comm;
        let cmdline = std::fs::read("/proc/self/cmdline").unwrap();
        let name = String::from_utf8_lossy(full_name(comm, &cmdline)).into_owned();
        let want = format!("tcp ipv4 127.0.0.1 {port} {} {name}", std::process::id());
        assert!(listener_labels(&s).contains(&want), "{want} not in {:?}", listener_labels(&s));
        assert!(s.family(OWNERS_DENIED.name).is_some());
        let owners_alone = Settings {
            listening_owners: true,
            ..Settings::default()
        };
        assert!(check_settings(&owners_alone).is_err());
    }

    #[test]
    fn netlink_agrees_with_procfs_on_this_host() {
        let mut diag = SockDiag::new(std::time::Duration::from_secs(5));
        if let Err(e) = diag.unix_count() {
            eprintln!("netlink sock_diag unavailable ({e}); skipped");
            return;
        }
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

    /// A netlink side whose dumps fail as `fail` says, recording which parts it was asked.
    struct Fake {
        fail: fn(Part) -> Option<DiagError>,
        asked: std::sync::Arc<std::sync::Mutex<Vec<Part>>>,
    }

    impl Fake {
        fn answer<T>(&mut self, part: Part, sockets: T) -> Result<T, DiagError> {
            self.asked.lock().unwrap().push(part);
            (self.fail)(part).map_or(Ok(sockets), Err)
        }
    }

    fn sockets(state: u8, local: &str, n: usize) -> Vec<InetSocket> {
        let local = local.parse().unwrap();
        vec![
            InetSocket {
                state,
                local,
                inode: 0
            };
            n
        ]
    }

    impl Netlink for Fake {
        fn tcp(&mut self) -> Result<[Vec<InetSocket>; 2], DiagError> {
            let answer = [sockets(1, "10.0.0.1:22", 4), sockets(10, "[::]:80", 1)];
            self.answer(Part::Tcp, answer)
        }
        fn udp(&mut self, family: u8) -> Result<Vec<InetSocket>, DiagError> {
            match family {
                AF_INET => self.answer(Part::Udp4, sockets(7, "0.0.0.0:53", 5)),
                _ => self.answer(Part::Udp6, sockets(7, "[::]:53", 7)),
            }
        }
        fn unix_count(&mut self) -> Result<usize, DiagError> {
            self.answer(Part::Unix, 9)
        }
    }

    fn refused() -> DiagError {
        DiagError::Refused(std::io::Error::from_raw_os_error(2))
    }

    /// A collector over the modern fixture whose netlink side is a [`Fake`], and the parts
    /// the fake was asked for.
    fn faked(
        source: Source,
        fail: fn(Part) -> Option<DiagError>,
    ) -> (
        ConnectionsCollector,
        std::sync::Arc<std::sync::Mutex<Vec<Part>>>,
    ) {
        let asked = std::sync::Arc::default();
        let fake = Fake {
            fail,
            asked: std::sync::Arc::clone(&asked),
        };
        let settings = Settings {
            source,
            ..Settings::default()
        };
        let c =
            ConnectionsCollector::with_netlink(fixture("modern"), &settings, Some(Box::new(fake)));
        (c, asked)
    }

    /// How many warnings `f` logs.
    fn warnings(f: impl FnOnce()) -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tracing_subscriber::layer::{Context, SubscriberExt};
        struct Count(std::sync::Arc<AtomicUsize>);
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Count {
            fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
                if *event.metadata().level() == tracing::Level::WARN {
                    self.0.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let n = std::sync::Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry().with(Count(std::sync::Arc::clone(&n)));
        tracing::subscriber::with_default(subscriber, f);
        n.load(Ordering::Relaxed)
    }

    fn collect(c: &mut ConnectionsCollector) -> Result<Snapshot, HostError> {
        let mut s = Snapshot::default();
        c.collect(&mut s).map(|()| s)
    }

    #[test]
    fn under_auto_a_refused_dump_is_read_from_proc_net_and_asked_for_once() {
        let (mut c, asked) = faked(Source::Auto, |p| (p == Part::Udp6).then(refused));
        let mut snaps = Vec::new();
        let warned = warnings(|| {
            for _ in 0..3 {
                snaps.push(collect(&mut c).unwrap());
            }
        });
        assert_eq!(warned, 1, "a warning the first time only");
        use Part::*;
        assert_eq!(
            *asked.lock().unwrap(),
            [Tcp, Udp4, Udp6, Unix, Tcp, Udp4, Unix, Tcp, Udp4, Unix]
        );
        for s in &snaps {
            let tcp = |fam, state| value(s, &[(TRANSPORT, "tcp"), (FAMILY, fam), (STATE, state)]);
            // TCP, UDP over IPv4 and unix from the fake, UDP over IPv6 from the fixture.
            assert_eq!(tcp("ipv4", "established"), Some(4.0));
            assert_eq!(tcp("ipv4", "listen"), Some(0.0));
            assert_eq!(tcp("ipv6", "listen"), Some(1.0));
            assert_eq!(value(s, &[(TRANSPORT, "udp"), (FAMILY, "ipv4")]), Some(5.0));
            assert_eq!(value(s, &[(TRANSPORT, "udp"), (FAMILY, "ipv6")]), Some(1.0));
            assert_eq!(value(s, &[(TRANSPORT, "unix")]), Some(9.0));
            assert_eq!(s.series_count(), 2 * TCP_STATES.len() + 3);
        }
    }

    #[test]
    fn under_auto_without_a_socket_every_part_is_read_from_proc_net() {
        let unavailable = |_| {
            Some(DiagError::Unavailable(std::io::Error::from_raw_os_error(
                97,
            )))
        };
        let (mut c, asked) = faked(Source::Auto, unavailable);
        let mut snaps = Vec::new();
        let warned = warnings(|| {
            snaps.push(collect(&mut c).unwrap());
            snaps.push(collect(&mut c).unwrap());
        });
        assert_eq!((warned, asked.lock().unwrap().len()), (1, 1));
        let mut from_files = Snapshot::default();
        count(
            &read_procfs(&fixture("modern"), true).unwrap(),
            &mut from_files,
        );
        for s in snaps {
            assert_eq!(s.families[0].samples, from_files.families[0].samples);
        }
    }

    #[test]
    fn under_netlink_a_refusal_is_an_error_of_the_collector_every_time() {
        let (mut c, asked) = faked(Source::Netlink, |p| (p == Part::Udp4).then(refused));
        for _ in 0..2 {
            let err = collect(&mut c).unwrap_err();
            assert_eq!(err.kind(), "read");
            assert!(err.to_string().contains("udp ipv4"), "{err}");
        }
        use Part::*;
        assert_eq!(*asked.lock().unwrap(), [Tcp, Udp4, Tcp, Udp4]);
        let unavailable = |_| {
            Some(DiagError::Unavailable(std::io::Error::from_raw_os_error(
                97,
            )))
        };
        let (mut c, _) = faked(Source::Netlink, unavailable);
        assert_eq!(collect(&mut c).unwrap_err().kind(), "read");
    }

    #[test]
    fn under_auto_a_failed_dump_is_an_error_not_a_fallback() {
        let timeout =
            |p| (p == Part::Tcp).then(|| DiagError::Failed(std::io::ErrorKind::TimedOut.into()));
        let (mut c, asked) = faked(Source::Auto, timeout);
        assert_eq!(collect(&mut c).unwrap_err().kind(), "read");
        assert_eq!(collect(&mut c).unwrap_err().kind(), "read");
        assert_eq!(*asked.lock().unwrap(), [Part::Tcp, Part::Tcp]);
        let garbled = |p| {
            (p == Part::Unix).then(|| DiagError::Malformed(crate::host::ParseError("x".into())))
        };
        let (mut c, _) = faked(Source::Auto, garbled);
        assert_eq!(collect(&mut c).unwrap_err().kind(), "parse");
    }
}

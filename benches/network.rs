//! Counting TCP sockets: netlink sock_diag (the connections collector's default) against
//! reading and parsing /proc/net/tcp and /proc/net/tcp6 (what psutil reads), and one
//! compat dump of both families against one dump per family; then the other dumps and the
//! whole collection.
//!
//! `cargo bench --bench network` (add `-- --quick` for a rougher run). The setup opens
//! `VITALS_BENCH_CONNECTIONS` loopback connections (default 1000: 2000 established sockets
//! and a listener) so that both sources have a realistic table to walk; the cost of both
//! grows with the number of sockets on the host.

use std::hint::black_box;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use vitals::collectors::Collector;
use vitals::collectors::connections::{ConnectionsCollector, Settings, Source};
use vitals::collectors::interfaces::{self, InterfacesCollector};
use vitals::collectors::network::{self, NetworkCollector};
use vitals::host::proc_net::parse_inet_table;
use vitals::host::sock_diag::{AF_INET, AF_INET6, Protocol, SockDiag};
use vitals::host::{self, HostPaths};
use vitals::snapshot::Snapshot;

/// Loopback connections kept open for the whole run.
fn open_connections(n: usize) -> (TcpListener, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback listener");
    let addr = listener.local_addr().expect("listener address");
    let mut streams = Vec::with_capacity(2 * n);
    for _ in 0..n {
        streams.push(TcpStream::connect(addr).expect("connecting on loopback"));
        streams.push(listener.accept().expect("accepting").0);
    }
    (listener, streams)
}

fn tcp(c: &mut Criterion) {
    let n = std::env::var("VITALS_BENCH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let _open = open_connections(n);
    let paths = HostPaths::default();
    let mut g = c.benchmark_group(format!("tcp_sockets_{}", 2 * n + 1));
    g.bench_function("procfs", |b| {
        b.iter(|| {
            let mut total = 0;
            for file in ["net/tcp", "net/tcp6"] {
                let text = host::read(&paths.proc(file)).expect("reading /proc/net");
                total += parse_inet_table(black_box(&text)).expect("parsing").len();
            }
            total
        })
    });
    let mut diag = SockDiag::new(Duration::from_secs(5));
    // What the collector did before: one SOCK_DIAG_BY_FAMILY dump per family, each a walk
    // of the kernel's whole established hash.
    g.bench_function("netlink_by_family", |b| {
        b.iter(|| {
            let v4 = diag.inet(AF_INET, Protocol::Tcp).expect("dump");
            let v6 = diag.inet(AF_INET6, Protocol::Tcp).expect("dump");
            black_box(v4.len() + v6.len())
        })
    });
    // What it does now: one TCPDIAG_GETSOCK dump, both families from one walk.
    g.bench_function("netlink_one_dump", |b| {
        b.iter(|| {
            let [v4, v6] = diag.tcp().expect("dump");
            black_box(v4.len() + v6.len())
        })
    });
    g.finish();

    // The collector's other dumps.
    let mut g = c.benchmark_group("sock_diag");
    g.bench_function("udp_by_family", |b| {
        b.iter(|| {
            let v4 = diag.inet(AF_INET, Protocol::Udp).expect("dump");
            let v6 = diag.inet(AF_INET6, Protocol::Udp).expect("dump");
            black_box(v4.len() + v6.len())
        })
    });
    g.bench_function("unix", |b| b.iter(|| diag.unix_count().expect("dump")));
    g.finish();

    // The whole collection (tcp, tcp6, udp, udp6, unix) from each source.
    let mut g = c.benchmark_group(format!("collect_connections_{}", 2 * n + 1));
    for (name, source) in [("procfs", Source::Procfs), ("netlink", Source::Netlink)] {
        let settings = Settings {
            source,
            ..Settings::default()
        };
        let mut collector = ConnectionsCollector::new(paths.clone(), &settings);
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut s = Snapshot::default();
                collector.collect(&mut s).expect("collecting");
                s
            })
        });
    }
    g.finish();

    // The other two network collectors on this host.
    let mut g = c.benchmark_group("collect");
    let mut network = NetworkCollector::new(paths.clone(), &network::Settings::default());
    let mut interfaces = InterfacesCollector::new(paths.clone(), &interfaces::Settings::default());
    for (name, collector) in [
        ("network", &mut network as &mut dyn Collector),
        ("interfaces", &mut interfaces),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut s = Snapshot::default();
                collector.collect(&mut s).expect("collecting");
                s
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = tcp
}
criterion_main!(benches);

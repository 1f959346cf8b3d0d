//! The cost of the sensors and system collectors per tick.
//!
//! `cargo bench --bench system` (add `-- --quick` for a fast, rougher run). `processes`,
//! `host` and `users` read this host's /proc (processes grows with its process count); the
//! sensors and battery collections read the fixture trees, since this host has no sensors.

mod common;

use std::hint::black_box;
use std::path::Path;

use common::collect;
use criterion::{Criterion, criterion_group, criterion_main};
use vitals::collectors::battery::BatteryCollector;
use vitals::collectors::host::HostCollector;
use vitals::collectors::processes::{self, ProcessesCollector};
use vitals::collectors::sensors::SensorsCollector;
use vitals::collectors::users::{self, UsersCollector};
use vitals::host::HostPaths;
use vitals::host::proc_pid_stat::parse_state_threads;
use vitals::host::utmp;

const PID_STAT: &[u8] = include_bytes!("../tests/fixtures/modern/proc/1044/stat");
const UTMP: &[u8] = include_bytes!("../tests/fixtures/modern/var/run/utmp");

fn fixture(name: &str) -> HostPaths {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    HostPaths::under(&root)
}

fn parsers(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.bench_function("proc_pid_stat", |b| {
        b.iter(|| parse_state_threads(black_box(PID_STAT)))
    });
    g.bench_function("utmp_users", |b| b.iter(|| utmp::users(black_box(UTMP))));
    g.finish();
}

fn collections(c: &mut Criterion) {
    let mut g = c.benchmark_group("collect");
    let live = HostPaths::default();
    collect(
        &mut g,
        "processes",
        ProcessesCollector::new(live.clone(), &processes::Settings::default()),
    );
    collect(&mut g, "host", HostCollector::new(live.clone()));
    collect(
        &mut g,
        "users",
        UsersCollector::new(live.clone(), &users::Settings::default()),
    );
    collect(&mut g, "sensors_live_none", SensorsCollector::new(live));
    collect(
        &mut g,
        "sensors_laptop",
        SensorsCollector::new(fixture("sensors-laptop")),
    );
    collect(
        &mut g,
        "sensors_server",
        SensorsCollector::new(fixture("sensors-server")),
    );
    collect(
        &mut g,
        "battery_laptop",
        BatteryCollector::new(fixture("sensors-laptop")),
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = parsers, collections
}
criterion_main!(benches);

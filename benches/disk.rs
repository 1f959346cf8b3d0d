//! The cost of the disk and filesystem collectors: the pure parsers on fixture files, and a
//! whole collection (one tick) on this host.
//!
//! `cargo bench --bench disk` (add `-- --quick` for a fast, rougher run). The `collect`
//! benchmarks read this host's mount table and /proc/diskstats and statvfs each kept mount
//! through the statfs helper (the built `vitals statfs-helper`), so they grow with the
//! number of mounts and disks; `filesystem (every mount)` keeps every mount.

mod common;

use std::hint::black_box;
use std::sync::Arc;

use common::collect;
use criterion::{Criterion, criterion_group, criterion_main};
use vitals::collectors::disk::{self, DiskCollector};
use vitals::collectors::filesystem::{self, FilesystemCollector};
use vitals::filter::Filter;
use vitals::host::HostPaths;
use vitals::host::bytes::escape;
use vitals::host::diskstats::parse_diskstats;
use vitals::host::mounts::{distinct, parse_mounts};
use vitals::statfs::StatfsPool;

const MOUNTS: &str = include_str!("../tests/fixtures/filesystem-mounts/mounts");
const DISKSTATS: &[u8] = include_bytes!("../tests/fixtures/disk-formats/diskstats-20");

fn parsers(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    let settings = filesystem::Settings::default();
    g.bench_function("mounts+filter+distinct (23 lines)", |b| {
        b.iter(|| {
            let m = parse_mounts(black_box(MOUNTS.as_bytes())).expect("fixture parses");
            distinct(&m, |m| {
                settings.mountpoints.allows(&escape(&m.mountpoint))
                    && settings.fs_types.allows(&m.fstype)
            })
        })
    });
    g.bench_function("diskstats (8 devices)", |b| {
        b.iter(|| parse_diskstats(black_box(DISKSTATS)).expect("fixture parses"))
    });
    g.finish();
}

fn collections(c: &mut Criterion) {
    let mut g = c.benchmark_group("collect");
    // This bench's own executable has no statfs-helper subcommand: use the built vitals.
    let pool = Arc::new(StatfsPool::with_program(env!("CARGO_BIN_EXE_vitals")));
    collect(
        &mut g,
        "filesystem",
        FilesystemCollector::with_pool(
            HostPaths::default(),
            &filesystem::Settings::default(),
            pool.clone(),
        ),
    );
    collect(
        &mut g,
        "filesystem (every mount)",
        FilesystemCollector::with_pool(
            HostPaths::default(),
            &filesystem::Settings {
                mountpoints: Filter::default(),
                fs_types: Filter::default(),
                ..filesystem::Settings::default()
            },
            pool,
        ),
    );
    collect(
        &mut g,
        "disk",
        DiskCollector::new(HostPaths::default(), &disk::Settings::default()),
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = parsers, collections
}
criterion_main!(benches);

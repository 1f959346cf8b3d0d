//! The cost of the pure parsers on the fixture files, and of a whole collection on this host.
//!
//! `cargo bench --bench parsers` (add `-- --quick` for a fast, rougher run). The fixture
//! benchmarks are the same on every machine; the `collect` ones read this host's /proc and
//! /sys, so they grow with its CPU count.

mod common;

use std::hint::black_box;

use common::collect;
use criterion::{Criterion, criterion_group, criterion_main};
use vitals::collectors::cpu::{self, CpuCollector};
use vitals::collectors::memory::MemoryCollector;
use vitals::host::HostPaths;
use vitals::host::cpuinfo::parse_cpuinfo_mhz;
use vitals::host::meminfo::{parse_meminfo, virtual_memory};
use vitals::host::proc_stat::parse_proc_stat;

const STAT: &str = include_str!("../tests/fixtures/modern/proc/stat");
const MEMINFO: &str = include_str!("../tests/fixtures/modern/proc/meminfo");
const CPUINFO: &str = include_str!("../tests/fixtures/modern/proc/cpuinfo");

fn parsers(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.bench_function("proc_stat", |b| {
        b.iter(|| parse_proc_stat(black_box(STAT)).expect("fixture parses"))
    });
    g.bench_function("meminfo", |b| {
        b.iter(|| parse_meminfo(black_box(MEMINFO)).expect("fixture parses"))
    });
    g.bench_function("meminfo+virtual_memory", |b| {
        b.iter(|| {
            let m = parse_meminfo(black_box(MEMINFO)).expect("fixture parses");
            virtual_memory(&m, None)
        })
    });
    g.bench_function("cpuinfo_mhz", |b| {
        b.iter(|| parse_cpuinfo_mhz(black_box(CPUINFO)).expect("fixture parses"))
    });
    g.finish();
}

fn collections(c: &mut Criterion) {
    let mut g = c.benchmark_group("collect");
    collect(
        &mut g,
        "cpu",
        CpuCollector::new(HostPaths::default(), &cpu::Settings::default()),
    );
    collect(&mut g, "memory", MemoryCollector::new(HostPaths::default()));
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = parsers, collections
}
criterion_main!(benches);

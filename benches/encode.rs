//! The cost of one /metrics body: both encoders on the snapshots of a real collection of
//! this host, as the daemon serves them (every collector, then the self-metrics).
//!
//! Then a synthetic 10,000-series registry, as a host with many process groups or devices
//! gives, with and without gzip; and the allocator trim the daemon runs every 5 s.
//!
//! `cargo bench --bench encode` (add `-- --quick` for a fast, rougher run).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vitals::config::Config;
use vitals::export::{openmetrics, text};
use vitals::runner;
use vitals::snapshot::Snapshot;

/// Collected once with the default config, twice 100 ms apart where a rate needs it, so the
/// utilization series are there too.
fn snapshots() -> Vec<Arc<Snapshot>> {
    let config = Config::default();
    let scheduled = config.collectors.build(&config.context());
    runner::once(scheduled, 3, Duration::from_millis(100)).gather()
}

fn encoders(c: &mut Criterion) {
    let snapshots = snapshots();
    let series: usize = snapshots.iter().map(|s| s.series_count()).sum();
    let bytes = text::encode(&snapshots).len();
    eprintln!("encoding {series} series ({bytes} bytes of Prometheus text)");

    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(series as u64));
    g.bench_function("prometheus_text", |b| {
        b.iter(|| text::encode(black_box(&snapshots)))
    });
    // openmetrics::encode takes the Vec by value, as the handler hands it over; the clone
    // (a few Arc increments) is part of what a request pays.
    g.bench_function("openmetrics", |b| {
        b.iter(|| openmetrics::encode(black_box(snapshots.clone())).expect("encodes"))
    });
    g.finish();
}

/// A synthetic registry of `n` series in families of 100, each with three labels as a
/// process group or a per-device series has: what a large host's body costs.
fn synthetic(n: usize) -> Vec<Arc<Snapshot>> {
    use vitals::collectors::disk;
    let mut s = Snapshot::default();
    for i in 0..n {
        let device = format!("device{:05}", i / 2);
        let direction = if i % 2 == 0 { "read" } else { "write" };
        s.add(
            if i % 3 == 0 {
                &disk::IO
            } else {
                &disk::OPERATIONS
            },
            &[("system.device", &device), ("disk.io.direction", direction)],
            (i * 4096) as f64,
        );
    }
    vec![Arc::new(s)]
}

fn synthetic_10k(c: &mut Criterion) {
    let snapshots = synthetic(10_000);
    let bytes = text::encode(&snapshots).len();
    eprintln!("encoding 10000 synthetic series ({bytes} bytes of Prometheus text)");
    let mut g = c.benchmark_group("encode_10k");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("prometheus_text", |b| {
        b.iter(|| text::encode(black_box(&snapshots)))
    });
    g.bench_function("openmetrics", |b| {
        b.iter(|| openmetrics::encode(black_box(snapshots.clone())).expect("encodes"))
    });
    g.bench_function("prometheus_text_gzip", |b| {
        b.iter(|| vitals::export::gzip(text::encode(black_box(&snapshots)).as_bytes()))
    });
    g.finish();
}

/// What the daemon's 5 s `malloc::trim` costs: a 10,000-series body encoded and freed, with
/// and without the trim that hands its pages back; the difference is the trim.
fn trim(c: &mut Criterion) {
    let snapshots = synthetic(10_000);
    let mut g = c.benchmark_group("malloc_trim");
    g.bench_function("encode_and_free", |b| {
        b.iter(|| drop(text::encode(black_box(&snapshots))))
    });
    g.bench_function("encode_free_and_trim", |b| {
        b.iter(|| {
            drop(text::encode(black_box(&snapshots)));
            vitals::malloc::trim();
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = encoders, synthetic_10k, trim
}
criterion_main!(benches);

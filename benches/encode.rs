//! The cost of one /metrics body: both encoders on the snapshots of a real collection of
//! this host, as the daemon serves them (every collector, then the self-metrics).
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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = encoders
}
criterion_main!(benches);

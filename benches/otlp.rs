//! The cost of one OTLP export body: snapshots to an `ExportMetricsServiceRequest`, protobuf
//! bytes and gzip, for the default catalog of this host and for 5,000 synthetic series. The
//! bytes are printed once per case. Network time is not included.
//!
//! `cargo bench --bench otlp` (add `-- --quick` for a fast, rougher run).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message as _;
use vitals::collectors::disk;
use vitals::config::Config;
use vitals::export::gzip;
use vitals::otlp::encode::Encoder;
use vitals::otlp::settings::Temporality;
use vitals::runner;
use vitals::snapshot::{Snapshot, unix_nanos};

fn host() -> Vec<Arc<Snapshot>> {
    let config = Config::default();
    let scheduled = config.collectors.build(&config.context());
    runner::once(scheduled, 3, Duration::from_millis(100)).gather()
}

fn synthetic(n: usize) -> Vec<Arc<Snapshot>> {
    let mut s = Snapshot {
        time_unix_nano: unix_nanos(),
        ..Snapshot::default()
    };
    for i in 0..n {
        let device = format!("device{:05}", i / 2);
        let direction = if i % 2 == 0 { "read" } else { "write" };
        s.add(
            &disk::IO,
            &[("system.device", &device), ("disk.io.direction", direction)],
            (i * 4096) as f64,
        );
    }
    vec![Arc::new(s)]
}

fn bench(c: &mut Criterion, name: &str, snapshots: Vec<Arc<Snapshot>>) {
    let mut encoder = Encoder::new(vec![], 1, 1, Temporality::Cumulative);
    let (request, points) = encoder.encode(&snapshots);
    let bytes = request.encode_to_vec();
    eprintln!(
        "{name}: {points} points, {} bytes of protobuf, {} gzipped",
        bytes.len(),
        gzip(&bytes).len()
    );
    let mut g = c.benchmark_group(format!("otlp_{name}"));
    g.throughput(Throughput::Elements(points as u64));
    g.bench_function("encode_request", |b| {
        b.iter(|| encoder.encode(black_box(&snapshots)))
    });
    g.bench_function("encode_protobuf_gzip", |b| {
        b.iter(|| gzip(&encoder.encode(black_box(&snapshots)).0.encode_to_vec()))
    });
    g.finish();
}

fn exports(c: &mut Criterion) {
    bench(c, "host", host());
    bench(c, "5000", synthetic(5_000));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = exports
}
criterion_main!(benches);

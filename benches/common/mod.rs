//! What the benches share.

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use vitals::collectors::Collector;
use vitals::snapshot::Snapshot;

/// One collection as the runner does it: a fresh snapshot, the collector keeping its state
/// (previous ticks for utilization) from one iteration to the next.
pub fn collect(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut collector: impl Collector) {
    // Prime the state, as a running daemon has it after its first tick.
    collector
        .collect(&mut Snapshot::default())
        .expect("the files can be read");
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut out = Snapshot::default();
            collector.collect(&mut out).expect("the files can be read");
            out
        })
    });
}

/// The criterion settings of the collection benches: short, a few seconds a bench.
pub fn config() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
}

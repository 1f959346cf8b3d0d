//! OTLP push: the snapshots `/metrics` serves, encoded straight into OTLP protobuf messages
//! (`opentelemetry-proto`) and sent over OTLP/HTTP or gRPC.
//!
//! Why not the opentelemetry SDK's instruments: in 0.33 every point of a metric gets the SDK's
//! own start time (a process group's or a re-appearing device's counter could not say when
//! it started), each metric is capped at 2,000 series by default (overflowing silently into
//! `otel.metric.overflow`), callbacks run one per instrument under a lock and one that panics
//! stops collection for good, and its data types cannot be built outside the SDK, so our
//! snapshots could not be fed to a custom exporter. vitals already holds cumulative values:
//! the SDK's aggregation would be pure overhead.
//!
//! - [`settings`]: `[otlp]` and the `OTEL_*` variables;
//! - [`resource`]: who is sending;
//! - [`encode`]: snapshots to a request, start times and deltas;
//! - [`transport`]: one request over HTTP or gRPC, and what the answer means;
//! - [`queue`]: requests waiting for the receiver, bounded, and the order they go in;
//! - [`queue_file`]: the queue's records on disk;
//! - [`pusher`]: the loop, retries, self-metrics.
//!
//! Without the `otlp` cargo feature only [`settings`] is built (the config keeps its keys and
//! refuses an enabled push) and the daemon's pusher types come from `absent`, none of which
//! can be made.

#[cfg(not(feature = "otlp"))]
mod absent;
#[cfg(feature = "otlp")]
pub mod encode;
#[cfg(feature = "otlp")]
pub mod pusher;
#[cfg(feature = "otlp")]
pub mod queue;
#[cfg(feature = "otlp")]
pub mod queue_file;
#[cfg(feature = "otlp")]
pub mod resource;
pub mod settings;
#[cfg(feature = "otlp")]
pub mod transport;

#[cfg(feature = "otlp")]
use std::sync::Arc;

#[cfg(not(feature = "otlp"))]
pub use absent::{Pusher, Stats, start, transport};
#[cfg(feature = "otlp")]
pub use pusher::{CATALOG, Pusher, Stats};
pub use settings::{Otlp, OtlpFile};

#[cfg(feature = "otlp")]
use crate::host::HostPaths;
#[cfg(feature = "otlp")]
use crate::registry::Registry;

/// Boot time in nanoseconds since the epoch, from `<procfs>/stat`; 0 when unknown.
#[cfg(feature = "otlp")]
pub fn boot_unix_nano(paths: &HostPaths) -> u64 {
    crate::host::read(&paths.proc("stat"))
        .ok()
        .and_then(|t| crate::host::proc_stat::parse_proc_stat(&t).ok())
        .and_then(|s| s.btime)
        .map_or(0, |b| b.saturating_mul(1_000_000_000))
}

/// Starts a pusher for `settings` over `transport` (built from them), its stats shown by
/// `registry`.
#[cfg(feature = "otlp")]
pub fn start(
    settings: &Otlp,
    transport: transport::Transport,
    paths: &HostPaths,
    registry: Arc<Registry>,
    stats: Arc<Stats>,
    started_unix_nano: u64,
) -> Pusher {
    let encoder = encode::Encoder::new(
        resource::attributes(paths, &settings.resource),
        boot_unix_nano(paths),
        started_unix_nano,
        settings.temporality,
    );
    pusher::lock(&stats.queue()).configure(&settings.queue, crate::snapshot::unix_nanos());
    Pusher::spawn(settings.clone(), transport, encoder, registry, stats)
}

//! vitals: host metrics with psutil's semantics, served to Prometheus.
//!
//! Collectors read the host on their own intervals into snapshots ([`runner`],
//! [`collectors`]); the [`registry`] keeps the latest of each; [`export`] encodes them.
// Forbidden everywhere but src/malloc.rs and src/pages.rs, which say why.
#![deny(unsafe_code)]

pub mod bpf;
pub mod catalog;
pub mod collectors;
pub mod config;
pub mod counters;
pub mod daemon;
pub mod error_kind;
pub mod export;
pub mod filter;
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod interval;
pub mod malloc;
pub mod otlp;
pub mod pages;
pub mod registry;
pub mod runner;
pub mod self_metrics;
pub mod serving;
pub mod shorten;
pub mod snapshot;
pub mod statfs;

/// Every metric vitals can export, grouped by collector, self-metrics last.
pub fn full_catalog() -> Vec<(&'static str, &'static [&'static catalog::MetricDesc])> {
    let mut all = collectors::catalogs();
    all.push(("self (vitals_)", self_metrics::CATALOG));
    #[cfg(feature = "otlp")]
    all.push(("otlp (vitals_otlp_, when [otlp] is enabled)", otlp::CATALOG));
    all
}

//! OpenMetrics 1.0 text, written by the prometheus-client crate from published snapshots.

use std::ops::Range;
use std::sync::Arc;

use prometheus_client::collector::Collector;
pub use prometheus_client::encoding::text::encode_eof;
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::catalog::{PromType, prometheus_label};
use crate::snapshot::Snapshot;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The families `range` of the snapshots, counted across them in order.
#[derive(Debug)]
struct Families {
    snapshots: Vec<Arc<Snapshot>>,
    range: Range<usize>,
}

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let families = self.snapshots.iter().flat_map(|s| &s.families);
        for family in families.skip(self.range.start).take(self.range.len()) {
            let desc = family.desc;
            let (stem, unit) = desc.prometheus_stem();
            let unit = unit.map(Unit::Other);
            let kind = match desc.prom_type() {
                PromType::Counter => MetricType::Counter,
                PromType::Gauge => MetricType::Gauge,
            };
            let mut metric = encoder.encode_descriptor(&stem, desc.help, unit.as_ref(), kind)?;
            for sample in &family.samples {
                // prometheus-client writes `{}` for an empty label set; leave it out.
                if sample.labels.is_empty() {
                    encode_value(&mut metric, kind, sample.value)?;
                } else {
                    let labels: Vec<(String, &str)> = sample
                        .labels
                        .iter()
                        .map(|(k, v)| (prometheus_label(k), v.as_str()))
                        .collect();
                    encode_value(&mut metric.encode_family(&labels)?, kind, sample.value)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_value(
    m: &mut MetricEncoder,
    kind: MetricType,
    value: f64,
) -> Result<(), std::fmt::Error> {
    match kind {
        MetricType::Counter => m.encode_counter::<NoLabelSet, _, f64>(&value, None),
        _ => m.encode_gauge(&value),
    }
}

/// The exposition, `# EOF` included.
pub fn encode(snapshots: Vec<Arc<Snapshot>>) -> Result<String, std::fmt::Error> {
    let families = snapshots.iter().map(|s| s.families.len()).sum();
    let mut out = String::with_capacity(16 * 1024);
    encode_families(&mut out, snapshots, 0..families)?;
    encode_eof(&mut out)?;
    Ok(out)
}

/// The families `range` (counted across the snapshots in order) without the closing
/// `# EOF`: [`encode`] is all of them then [`encode_eof`], so a body written a few families
/// at a time (`super::chunks`) is the same bytes.
pub fn encode_families(
    out: &mut String,
    snapshots: Vec<Arc<Snapshot>>,
    range: Range<usize>,
) -> Result<(), std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Families { snapshots, range }));
    encode_registry(out, &registry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::cpu;

    #[test]
    fn counters_carry_unit_and_total() {
        let mut s = Snapshot::default();
        s.add(
            &cpu::TIME,
            &[("cpu.mode", "idle"), ("cpu.logical_number", "1")],
            3.0,
        );
        s.add(&cpu::LOAD_1M, &[], 0.5);
        let text = encode(vec![Arc::new(s)]).unwrap();
        assert!(
            text.contains(
                "# TYPE system_cpu_time_seconds counter\n# UNIT system_cpu_time_seconds seconds\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "system_cpu_time_seconds_total{cpu_mode=\"idle\",cpu_logical_number=\"1\"} 3.0\n"
            ),
            "{text}"
        );
        assert!(text.contains("system_cpu_load_average_1m 0.5\n"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}

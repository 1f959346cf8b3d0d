//! Snapshots to an OTLP `ExportMetricsServiceRequest`, with a start time per cumulative
//! series and, for the delta preference, counters as increases since the previous push.
//!
//! Start times (what lets a consumer tell a restart from a drop):
//! - a kernel counter (`system.*`, `hw.*`) present in the first snapshot that carries its
//!   metric starts at boot time: it has counted since boot;
//! - vitals' own counters (`vitals.*`) and process-group counters (`process.*`) present then
//!   start when vitals started: they count from 0 at start;
//! - a series that appears later (a device plugged in, a group formed, a series back after a
//!   gap) starts at the time of the collection that first carried it;
//! - a counter that goes down has restarted: it starts at the time of the observation before.
//!
//! Nothing here reads the host: the numbers are the snapshots `/metrics` serves.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::settings::Temporality;
use crate::catalog::{Instrument, MetricDesc};
use crate::snapshot::{Sample, Snapshot};

/// Attributes that the semantic conventions type as integers.
const INT_ATTRIBUTES: &[&str] = &["cpu.logical_number", "process.pid", "network.local.port"];

/// The scope of the host metrics and the one of vitals' own.
pub const SCOPE: &str = "vitals";
pub const SELF_SCOPE: &str = "vitals.self";

#[derive(Debug, Clone, Copy)]
struct Series {
    start: u64,
    last_value: f64,
    last_time: u64,
    /// What the previous delta point ended at: its value and time.
    delta_base: f64,
    delta_time: u64,
    round: u64,
}

/// Keeps what start times and deltas need between pushes; one per pusher.
pub struct Encoder {
    boot_unix_nano: u64,
    started_unix_nano: u64,
    temporality: Temporality,
    resource: Resource,
    series: HashMap<u64, Series>,
    seen_metrics: HashSet<&'static str>,
    round: u64,
}

/// Counts since boot (kernel counters) rather than since vitals first saw it.
fn counts_since_boot(desc: &MetricDesc) -> bool {
    desc.name.starts_with("system.") || desc.name.starts_with("hw.")
}

fn series_key(desc: &MetricDesc, sample: &Sample) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    desc.name.hash(&mut h);
    for (k, v) in &sample.labels {
        k.hash(&mut h);
        v.hash(&mut h);
    }
    h.finish()
}

fn attribute(key: &str, value: &str) -> KeyValue {
    let v = match INT_ATTRIBUTES
        .contains(&key)
        .then(|| value.parse::<i64>().ok())
        .flatten()
    {
        Some(i) => any_value::Value::IntValue(i),
        None => any_value::Value::StringValue(value.to_string()),
    };
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// A string attribute, for resources.
pub fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

impl Encoder {
    pub fn new(
        resource: Vec<(String, String)>,
        boot_unix_nano: u64,
        started_unix_nano: u64,
        temporality: Temporality,
    ) -> Encoder {
        Encoder {
            boot_unix_nano,
            started_unix_nano,
            temporality,
            resource: Resource {
                attributes: resource
                    .iter()
                    .map(|(k, v)| string_attribute(k, v))
                    .collect(),
                ..Default::default()
            },
            series: HashMap::new(),
            seen_metrics: HashSet::new(),
            round: 0,
        }
    }

    /// The request for these snapshots (the registry's `gather()`), and the number of points.
    pub fn encode(&mut self, snapshots: &[Arc<Snapshot>]) -> (ExportMetricsServiceRequest, usize) {
        self.round += 1;
        let mut host: Vec<Metric> = Vec::new();
        let mut own: Vec<Metric> = Vec::new();
        let mut points = 0;
        let mut new_metrics: Vec<&'static str> = Vec::new();
        for snapshot in snapshots {
            for family in &snapshot.families {
                let desc = family.desc;
                let first_sight = !self.seen_metrics.contains(desc.name);
                if first_sight {
                    new_metrics.push(desc.name);
                }
                let data_points: Vec<NumberDataPoint> = family
                    .samples
                    .iter()
                    .filter_map(|s| self.point(desc, s, snapshot.time_unix_nano, first_sight))
                    .collect();
                if data_points.is_empty() {
                    continue;
                }
                points += data_points.len();
                let data = match desc.instrument {
                    Instrument::Gauge => metric::Data::Gauge(Gauge { data_points }),
                    Instrument::Counter => metric::Data::Sum(Sum {
                        data_points,
                        aggregation_temporality: match self.temporality {
                            Temporality::Cumulative => AggregationTemporality::Cumulative,
                            Temporality::Delta => AggregationTemporality::Delta,
                        } as i32,
                        is_monotonic: true,
                    }),
                    Instrument::UpDownCounter => metric::Data::Sum(Sum {
                        data_points,
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: false,
                    }),
                };
                let m = Metric {
                    name: desc.name.to_string(),
                    description: desc.help.to_string(),
                    unit: desc.unit.to_string(),
                    data: Some(data),
                    ..Default::default()
                };
                if desc.name.starts_with("vitals.") {
                    own.push(m);
                } else {
                    host.push(m);
                }
            }
        }
        self.seen_metrics.extend(new_metrics);
        let round = self.round;
        self.series.retain(|_, s| s.round == round);
        let scope = |name: &str, metrics: Vec<Metric>| ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: name.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                ..Default::default()
            }),
            metrics,
            ..Default::default()
        };
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics: vec![scope(SCOPE, host), scope(SELF_SCOPE, own)],
                ..Default::default()
            }],
        };
        (request, points)
    }

    /// One data point, or none (a delta with no new collection since the last push).
    fn point(
        &mut self,
        desc: &'static MetricDesc,
        sample: &Sample,
        time: u64,
        first_sight: bool,
    ) -> Option<NumberDataPoint> {
        let attributes = sample.labels.iter().map(|(k, v)| attribute(k, v)).collect();
        let mut point = NumberDataPoint {
            attributes,
            time_unix_nano: time,
            value: Some(number_data_point::Value::AsDouble(sample.value)),
            ..Default::default()
        };
        if desc.instrument == Instrument::Gauge {
            return Some(point);
        }
        let initial_start = if first_sight {
            if counts_since_boot(desc) {
                self.boot_unix_nano
            } else {
                self.started_unix_nano
            }
        } else {
            time
        };
        let round = self.round;
        let monotonic = desc.instrument == Instrument::Counter;
        let s = self
            .series
            .entry(series_key(desc, sample))
            .or_insert(Series {
                start: initial_start,
                last_value: sample.value,
                last_time: time,
                delta_base: 0.0,
                delta_time: initial_start,
                round,
            });
        if monotonic && sample.value < s.last_value {
            // Restarted: it counts again from 0 since about the last observation.
            s.start = s.last_time.min(time.saturating_sub(1));
            s.delta_base = 0.0;
            s.delta_time = s.start;
        }
        s.last_value = sample.value;
        s.last_time = time;
        s.round = round;
        point.start_time_unix_nano = s.start;
        if monotonic && self.temporality == Temporality::Delta {
            if time <= s.delta_time {
                return None;
            }
            point.start_time_unix_nano = s.delta_time;
            point.value = Some(number_data_point::Value::AsDouble(
                sample.value - s.delta_base,
            ));
            s.delta_base = sample.value;
            s.delta_time = time;
        }
        Some(point)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::{disk, memory};

    fn snapshot(time: u64, values: &[(&str, f64)]) -> Arc<Snapshot> {
        let mut s = Snapshot {
            time_unix_nano: time,
            ..Default::default()
        };
        for (dev, v) in values {
            s.add(
                &disk::IO,
                &[("system.device", dev), ("disk.io.direction", "read")],
                *v,
            );
        }
        s.add(&memory::LIMIT, &[], 42.0);
        s.add(
            &memory::UTILIZATION,
            &[("system.memory.state", "used")],
            0.5,
        );
        Arc::new(s)
    }

    fn points(req: &ExportMetricsServiceRequest, name: &str) -> Vec<(u64, u64, f64, String)> {
        req.resource_metrics[0]
            .scope_metrics
            .iter()
            .flat_map(|s| &s.metrics)
            .filter(|m| m.name == name)
            .flat_map(|m| match &m.data {
                Some(metric::Data::Sum(s)) => s.data_points.clone(),
                Some(metric::Data::Gauge(g)) => g.data_points.clone(),
                _ => vec![],
            })
            .map(|p| {
                let dev = p
                    .attributes
                    .iter()
                    .find(|a| a.key == "system.device")
                    .and_then(|a| a.value.clone())
                    .and_then(|v| v.value)
                    .map(|v| match v {
                        any_value::Value::StringValue(s) => s,
                        _ => String::new(),
                    })
                    .unwrap_or_default();
                let v = match p.value {
                    Some(number_data_point::Value::AsDouble(v)) => v,
                    _ => f64::NAN,
                };
                (p.start_time_unix_nano, p.time_unix_nano, v, dev)
            })
            .collect()
    }

    const BOOT: u64 = 1_000;
    const START: u64 = 5_000;

    #[test]
    fn kernel_counters_start_at_boot_and_restarts_start_later() {
        let mut e = Encoder::new(vec![], BOOT, START, Temporality::Cumulative);
        let (r, n) = e.encode(&[snapshot(10_000, &[("sda", 100.0)])]);
        assert_eq!(n, 3);
        assert_eq!(
            points(&r, "system.disk.io"),
            [(BOOT, 10_000, 100.0, "sda".into())]
        );
        // A new device later starts when it is first seen; sda keeps its start.
        let (r, _) = e.encode(&[snapshot(20_000, &[("sda", 150.0), ("sdb", 7.0)])]);
        assert_eq!(
            points(&r, "system.disk.io"),
            [
                (BOOT, 20_000, 150.0, "sda".into()),
                (20_000, 20_000, 7.0, "sdb".into())
            ]
        );
        // sda restarts (a value below the last): a later start.
        let (r, _) = e.encode(&[snapshot(30_000, &[("sda", 3.0), ("sdb", 9.0)])]);
        let p = points(&r, "system.disk.io");
        assert_eq!(p[0], (20_000, 30_000, 3.0, "sda".into()));
        // Up-down counters carry their start; gauges none.
        assert_eq!(points(&r, "system.memory.limit")[0].0, BOOT);
        assert_eq!(points(&r, "system.memory.utilization")[0].0, 0);
    }

    #[test]
    fn a_series_back_after_a_gap_starts_again() {
        let mut e = Encoder::new(vec![], BOOT, START, Temporality::Cumulative);
        e.encode(&[snapshot(10_000, &[("sda", 100.0)])]);
        e.encode(&[snapshot(20_000, &[])]);
        let (r, _) = e.encode(&[snapshot(30_000, &[("sda", 100.0)])]);
        assert_eq!(points(&r, "system.disk.io")[0].0, 30_000);
    }

    #[test]
    fn deltas_sum_to_the_increase() {
        let mut e = Encoder::new(vec![], BOOT, START, Temporality::Delta);
        let values = [100.0, 130.0, 130.0, 180.0];
        let mut sum = 0.0;
        let mut last_end = BOOT;
        for (i, v) in values.iter().enumerate() {
            let t = 10_000 * (i as u64 + 1);
            let (r, _) = e.encode(&[snapshot(t, &[("sda", *v)])]);
            for (start, end, d, _) in points(&r, "system.disk.io") {
                assert_eq!(start, last_end, "each delta starts where the last ended");
                last_end = end;
                sum += d;
            }
        }
        assert_eq!(sum, 180.0, "the first delta holds the count since boot");
        // The same snapshot pushed again (no collection since): no point.
        let same = snapshot(40_000, &[("sda", 180.0)]);
        let (r, _) = e.encode(&[same]);
        assert!(points(&r, "system.disk.io").is_empty());
    }

    #[test]
    fn integer_attributes_are_ints() {
        let a = attribute("cpu.logical_number", "3");
        assert_eq!(
            a.value.and_then(|v| v.value),
            Some(any_value::Value::IntValue(3))
        );
        let a = attribute("system.device", "3");
        assert_eq!(
            a.value.and_then(|v| v.value),
            Some(any_value::Value::StringValue("3".into()))
        );
    }
}

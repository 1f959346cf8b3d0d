//! The Prometheus text format 0.0.4, written from the same snapshots as OpenMetrics.
//!
//! One difference from the OpenMetrics output: a gauge whose name ends in `_count`, `_sum`
//! or `_bucket` (`system_cpu_logical_count`, a name fixed by the OpenTelemetry translation)
//! is declared `untyped`, because in this format those suffixes belong to histograms and
//! summaries and promtool rejects them on gauges. Prometheus stores gauge and untyped alike.

use std::sync::Arc;

use super::write_value;
use crate::catalog::{PromType, push_sanitized};
use crate::snapshot::{Family, Snapshot};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn encode(snapshots: &[Arc<Snapshot>]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for family in snapshots.iter().flat_map(|s| &s.families) {
        encode_family(&mut out, family);
    }
    out
}

/// One family, help and type lines then its samples: [`encode`] is these one after the
/// other, so a body written a few families at a time (`super::chunks`) is the same bytes.
pub fn encode_family(out: &mut String, family: &Family) {
    let name = family.desc.prometheus_name();
    let kind = match family.desc.prom_type() {
        PromType::Counter => "counter",
        PromType::Gauge
            if ["_count", "_sum", "_bucket"]
                .iter()
                .any(|s| name.ends_with(s)) =>
        {
            "untyped"
        }
        PromType::Gauge => "gauge",
    };
    out.push_str("# HELP ");
    out.push_str(&name);
    out.push(' ');
    escape_into(out, family.desc.help, false);
    out.push_str("\n# TYPE ");
    out.push_str(&name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
    for sample in &family.samples {
        out.push_str(&name);
        if !sample.labels.is_empty() {
            out.push('{');
            for (i, (key, value)) in sample.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_sanitized(out, key);
                out.push_str("=\"");
                escape_into(out, value, true);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        write_value(out, sample.value);
        out.push('\n');
    }
}

/// Backslash and newline are escaped in help and label values; double quotes in label values.
fn escape_into(out: &mut String, s: &str, quote: bool) {
    if !s.contains(['\\', '\n', '"']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::{cpu, memory};

    #[test]
    fn families_samples_and_escapes() {
        let mut s = Snapshot::default();
        s.add(
            &cpu::TIME,
            &[("cpu.mode", "user"), ("cpu.logical_number", "0")],
            12.5,
        );
        s.add(&cpu::LOGICAL_COUNT, &[], 2.0);
        s.add(
            &memory::USAGE,
            &[("system.memory.state", "a\"b\\c\nd")],
            1e20,
        );
        let text = encode(&[Arc::new(s)]);
        assert!(text.contains("# TYPE system_cpu_time_seconds_total counter\n"));
        assert!(text.contains(
            "system_cpu_time_seconds_total{cpu_mode=\"user\",cpu_logical_number=\"0\"} 12.5\n"
        ));
        assert!(
            text.contains("# TYPE system_cpu_logical_count untyped\nsystem_cpu_logical_count 2\n")
        );
        assert!(text.contains("system_memory_usage_bytes{system_memory_state=\"a\\\"b\\\\c\\nd\"} 100000000000000000000\n"));
    }

    #[test]
    fn values() {
        let f = |v: f64| {
            let mut s = String::new();
            write_value(&mut s, v);
            s
        };
        assert_eq!(f(3.0), "3");
        assert_eq!(f(0.25), "0.25");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(-0.0), "0");
    }
}

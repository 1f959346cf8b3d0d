//! The metric vocabulary: every metric is declared once as a [`MetricDesc`] with its
//! OpenTelemetry name, unit and instrument; the Prometheus name is derived from it by
//! [`MetricDesc::prometheus_name`], the translation Prometheus applies to OTLP it ingests.

use std::fmt::Write as _;

/// The OpenTelemetry instrument of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instrument {
    /// Monotonic sum: a Prometheus counter, named with `_total`.
    Counter,
    /// Non-monotonic sum: a Prometheus gauge.
    UpDownCounter,
    /// A sampled value: a Prometheus gauge.
    Gauge,
}

impl Instrument {
    pub fn as_str(self) -> &'static str {
        match self {
            Instrument::Counter => "counter",
            Instrument::UpDownCounter => "updowncounter",
            Instrument::Gauge => "gauge",
        }
    }
}

/// The Prometheus metric type a descriptor maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromType {
    Counter,
    Gauge,
}

/// One metric, as declared in a collector's static catalog.
#[derive(Debug)]
pub struct MetricDesc {
    /// OpenTelemetry name, e.g. `system.cpu.time`.
    pub name: &'static str,
    /// UCUM unit as the semantic conventions write it: `s`, `By`, `Hz`, `1`, `{cpu}`.
    pub unit: &'static str,
    pub instrument: Instrument,
    /// One line, no trailing period needed; psutil quirks are stated here.
    pub help: &'static str,
    /// OpenTelemetry attribute names, in the order samples carry them.
    pub attributes: &'static [&'static str],
    /// Where the number comes from in psutil 7.2.2 terms (or `vitals` for self-metrics).
    pub source: &'static str,
    /// True when the semantic conventions have no such metric and vitals adds it.
    pub extension: bool,
}

impl MetricDesc {
    pub fn prom_type(&self) -> PromType {
        match self.instrument {
            Instrument::Counter => PromType::Counter,
            Instrument::UpDownCounter | Instrument::Gauge => PromType::Gauge,
        }
    }

    /// The Prometheus unit word for this metric, if its unit adds a suffix.
    pub fn prometheus_unit(&self) -> Option<String> {
        unit_suffix(self.unit, self.instrument)
    }

    /// The family name without the counter `_total`, split as (stem, unit) so that
    /// `stem + "_" + unit` is the family name. The unit is not appended twice when the
    /// OpenTelemetry name already ends with it.
    pub fn prometheus_stem(&self) -> (String, Option<String>) {
        let stem = sanitize(self.name);
        match self.prometheus_unit() {
            Some(unit) => {
                let suffix = format!("_{unit}");
                match stem.strip_suffix(&suffix) {
                    Some(bare) => (bare.to_string(), Some(unit)),
                    None => (stem, Some(unit)),
                }
            }
            None => (stem, None),
        }
    }

    /// The family name: what `# TYPE` names in the Prometheus text format's OpenMetrics form.
    pub fn prometheus_family(&self) -> String {
        match self.prometheus_stem() {
            (stem, Some(unit)) => format!("{stem}_{unit}"),
            (stem, None) => stem,
        }
    }

    /// The sample name as it appears on the wire, `_total` included for counters.
    pub fn prometheus_name(&self) -> String {
        let mut name = self.prometheus_family();
        if self.prom_type() == PromType::Counter {
            name.push_str("_total");
        }
        name
    }
}

/// `.` and every other character Prometheus does not allow become `_`.
pub fn sanitize(otel: &str) -> String {
    let mut out = String::with_capacity(otel.len());
    push_sanitized(&mut out, otel);
    out
}

/// [`sanitize`] into an existing buffer, for the encoders.
pub fn push_sanitized(out: &mut String, otel: &str) {
    out.extend(otel.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
}

/// Attribute name to Prometheus label name (`cpu.logical_number` -> `cpu_logical_number`).
pub fn prometheus_label(attribute: &str) -> String {
    sanitize(attribute)
}

fn unit_suffix(unit: &str, instrument: Instrument) -> Option<String> {
    if unit.is_empty() || unit.starts_with('{') {
        return None;
    }
    let word = match unit {
        "1" => return (instrument == Instrument::Gauge).then(|| "ratio".to_string()),
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "Hz" => "hertz",
        "Cel" => "celsius",
        "bit/s" => "bits_per_second",
        "By/s" => "bytes_per_second",
        "rpm" => "rpm",
        "V" => "volts",
        "A" => "amperes",
        "W" => "watts",
        "J" => "joules",
        "%" => "percent",
        other => return Some(sanitize(other)),
    };
    Some(word.to_string())
}

/// The catalog as a Markdown table: `vitals list-metrics` and `docs/metrics.md`.
/// The catalog as JSON, one object per metric, for tools and tests (`list-metrics --format
/// json`): the OpenTelemetry name, instrument, unit and attributes as OTLP carries them, and
/// the Prometheus sample name and labels `/metrics` shows.
pub fn json(groups: &[(&str, &[&'static MetricDesc])]) -> String {
    let metrics: Vec<serde_json::Value> = groups
        .iter()
        .flat_map(|(collector, descs)| {
            descs.iter().map(move |d| {
                serde_json::json!({
                    "collector": collector,
                    "name": d.name,
                    "instrument": d.instrument.as_str(),
                    "unit": d.unit,
                    "attributes": d.attributes,
                    "prometheus_name": d.prometheus_name(),
                    "prometheus_labels": d.attributes.iter().map(|a| prometheus_label(a)).collect::<Vec<_>>(),
                    "extension": d.extension,
                })
            })
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&metrics).unwrap_or_default();
    out.push('\n');
    out
}

pub fn markdown_table(groups: &[(&str, &[&'static MetricDesc])]) -> String {
    let mut out = String::new();
    out.push_str("# Metrics catalog\n\n");
    out.push_str(
        "Generated by `vitals list-metrics`; a test keeps this file equal to its output.\n",
    );
    out.push_str(
        "Names follow `metrics-naming.md`: the OpenTelemetry name is what OTLP carries, the\n",
    );
    out.push_str(
        "Prometheus name is derived from it. `ext` marks names vitals adds where the semantic\n",
    );
    out.push_str("conventions have none.\n");
    for (collector, descs) in groups {
        let _ = write!(out, "\n## {collector}\n\n");
        out.push_str("| Prometheus name | type | unit | labels | OpenTelemetry name | psutil source | help |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for d in descs.iter() {
            let labels: Vec<String> = d.attributes.iter().map(|a| prometheus_label(a)).collect();
            let ptype = match d.prom_type() {
                PromType::Counter => "counter",
                PromType::Gauge => "gauge",
            };
            let ext = if d.extension { " (ext)" } else { "" };
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}` | {} | `{}`{} | {} | {} |",
                d.prometheus_name(),
                ptype,
                d.unit,
                if labels.is_empty() {
                    "-".to_string()
                } else {
                    labels.join(", ")
                },
                d.name,
                ext,
                d.source.replace('|', "\\|"),
                d.help.replace('|', "\\|"),
            );
        }
    }
    out.push_str(CONTAINER_NAMES_NOTE);
    out.push_str(HOST_NAMES_NOTE);
    out
}

/// Which OpenTelemetry names the cgroups collector uses, and why.
const CONTAINER_NAMES_NOTE: &str = r"
## Names of the cgroups collector

A selected cgroup is what OpenTelemetry calls a container: its series use the semantic
conventions' `container.*` metrics where one exists for the same quantity, so an OTLP
backend that knows cAdvisor's or the kubelet stats receiver's data finds the same names, and a
plain systemd service gets those names too (it is a cgroup like a container):

- `container.cpu.time` (counter, `s`, `cpu.mode` user and system),
  `container.memory.usage` (`memory.current`), `container.memory.working_set` (the
  conventions define it as usage minus inactive file, the kubelet's formula) and
  `container.disk.io` (`system.device`, `disk.io.direction`) are the conventions' names.
- The rest are marked `ext`: the conventions have no metric for CFS throttling, limits,
  `memory.peak`, the `memory.stat` breakdown, `memory.events`, swap, tasks or pressure, so
  vitals names them under the same `container.` prefix (`container.cpu.throttling.*`,
  `container.memory.{limit,high,peak,anon,...}`, `container.memory.events`,
  `container.task.*`, `container.pressure.stall.time`, the last with the host's
  `pressure.resource` and `pressure.kind`). `container.memory.paging.faults` splits faults
  into minor (`pgfault - pgmajfault`) and major as the conventions' paging-faults metric
  does, so the sum over `system.paging.fault.type` is all faults; newer conventions spell
  that metric `container.paging.faults`.
- Attributes are the conventions' resource attributes, carried per data point since one
  vitals exports many cgroups: `container.id`, `container.name`,
  `container.runtime.name`, `k8s.pod.uid`, `k8s.pod.name`, `k8s.namespace.name`,
  `k8s.container.name`. `k8s.pod.qos_class`, `cgroup.path`, `systemd.unit` and
  `systemd.slice` are vitals' own: the conventions have none for them, and the path is what
  makes a series unique when nothing else names the cgroup.
- From the conventions' names, the Prometheus translation gives
  `container_memory_working_set_bytes` and `container_memory_usage_bytes`, the names (and
  meanings) cAdvisor uses; CPU is `container_cpu_time_seconds_total{cpu_mode}` where
  cAdvisor has `container_cpu_usage_seconds_total`, `container_cpu_user_seconds_total` and
  `container_cpu_system_seconds_total`. Its labels
  (`pod`, `namespace`, `container`, `id`) are `k8s_pod_name`, `k8s_namespace_name`,
  `k8s_container_name`, `cgroup_path` here.
";

/// How a host name that is not UTF-8 becomes a label value (`host::bytes::escape`).
const HOST_NAMES_NOTE: &str = r"
## Host names in label values

Interface, disk, sensor (chip, label, device) and power supply names, the user, terminal
and host of login sessions, and the uname fields are bytes to the kernel and need not be
UTF-8; a label value must be. A name that is valid UTF-8 and holds no `\x` is exported as
it is (psutil's string). Any other name is escaped, reversibly: each byte that is not part
of valid UTF-8 becomes `\xNN` (two lowercase hex digits) and each backslash becomes `\\`.
So `network_interface_name` `\xe9th0` is the interface named by the bytes e9 74 68 30, and
`br\\x41` the UTF-8 name `br\x41`: a label value holds `\x` exactly when it was escaped.
The `devices` and `interfaces` filters match the escaped name, as it is exported.

A label value longer than 256 bytes (only ever host text: a sensor label, a mount point) is
cut to at most 256 bytes, at a character boundary and never inside an escape, ending in the
marker `…[N bytes, H]`: N is the whole value's length and H 16 hex digits of its 64-bit
FNV-1a hash, so two long names with the same start stay two series.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &'static str, unit: &'static str, instrument: Instrument) -> MetricDesc {
        MetricDesc {
            name,
            unit,
            instrument,
            help: "h",
            attributes: &[],
            source: "",
            extension: false,
        }
    }

    #[test]
    fn translation_follows_the_naming_rules() {
        let cases = [
            (
                "system.cpu.time",
                "s",
                Instrument::Counter,
                "system_cpu_time_seconds_total",
            ),
            (
                "system.cpu.utilization",
                "1",
                Instrument::Gauge,
                "system_cpu_utilization_ratio",
            ),
            (
                "system.cpu.logical.count",
                "{cpu}",
                Instrument::UpDownCounter,
                "system_cpu_logical_count",
            ),
            (
                "system.cpu.frequency",
                "Hz",
                Instrument::Gauge,
                "system_cpu_frequency_hertz",
            ),
            (
                "system.memory.usage",
                "By",
                Instrument::UpDownCounter,
                "system_memory_usage_bytes",
            ),
            (
                "system.network.packet.count",
                "{packet}",
                Instrument::Counter,
                "system_network_packet_count_total",
            ),
            (
                "hw.temperature",
                "Cel",
                Instrument::Gauge,
                "hw_temperature_celsius",
            ),
            ("hw.fan.speed", "rpm", Instrument::Gauge, "hw_fan_speed_rpm"),
            (
                "system.network.interface.speed",
                "bit/s",
                Instrument::Gauge,
                "system_network_interface_speed_bits_per_second",
            ),
            (
                "system.uptime",
                "s",
                Instrument::Gauge,
                "system_uptime_seconds",
            ),
            (
                "vitals.collector.last_success.timestamp",
                "s",
                Instrument::Gauge,
                "vitals_collector_last_success_timestamp_seconds",
            ),
            // "1" adds _ratio only on gauges.
            ("x.count", "1", Instrument::Counter, "x_count_total"),
            // A name that already ends with its unit does not get it twice.
            (
                "x.duration_seconds",
                "s",
                Instrument::Gauge,
                "x_duration_seconds",
            ),
            (
                "system.cpu.load_average.1m",
                "{thread}",
                Instrument::Gauge,
                "system_cpu_load_average_1m",
            ),
        ];
        for (name, unit, instrument, want) in cases {
            assert_eq!(
                desc(name, unit, instrument).prometheus_name(),
                want,
                "{name} [{unit}]"
            );
        }
    }

    #[test]
    fn stem_and_unit_compose_the_family() {
        let d = desc("system.cpu.time", "s", Instrument::Counter);
        assert_eq!(
            d.prometheus_stem(),
            ("system_cpu_time".into(), Some("seconds".into()))
        );
        assert_eq!(d.prometheus_family(), "system_cpu_time_seconds");
        let d = desc("x.duration_seconds", "s", Instrument::Gauge);
        assert_eq!(
            d.prometheus_stem(),
            ("x_duration".into(), Some("seconds".into()))
        );
    }

    #[test]
    fn labels_translate_like_names() {
        assert_eq!(prometheus_label("cpu.logical_number"), "cpu_logical_number");
        assert_eq!(
            prometheus_label("network.interface.name"),
            "network_interface_name"
        );
    }
}

//! `vitals_` metrics about the daemon itself, built from the registry's health records.

use crate::catalog::{Instrument, MetricDesc};
use crate::registry::{Health, ReloadStatus};
use crate::snapshot::{ErrorKind, Snapshot};

const COLLECTOR: &str = "collector";
const KIND: &str = "kind";

pub static DURATION: MetricDesc = MetricDesc {
    name: "vitals.collector.duration",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "How long the collector's last collection took",
    attributes: &[COLLECTOR],
    source: "vitals",
    extension: true,
};

pub static LAST_SUCCESS: MetricDesc = MetricDesc {
    name: "vitals.collector.last_success.timestamp",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "Unix time of the collector's last successful collection",
    attributes: &[COLLECTOR],
    source: "vitals",
    extension: true,
};

pub static UP: MetricDesc = MetricDesc {
    name: "vitals.collector.up",
    unit: "1",
    instrument: Instrument::UpDownCounter,
    help: "1 when the collector's last collection succeeded, else 0",
    attributes: &[COLLECTOR],
    source: "vitals",
    extension: true,
};

pub static ERRORS: MetricDesc = MetricDesc {
    name: "vitals.collector.errors",
    unit: "{error}",
    instrument: Instrument::Counter,
    help: "Failed collections and skipped parts by kind: read, parse, timeout, panic, thread (every kind shown from 0)",
    attributes: &[COLLECTOR, KIND],
    source: "vitals",
    extension: true,
};

pub static SERIES: MetricDesc = MetricDesc {
    name: "vitals.collector.series",
    unit: "{series}",
    instrument: Instrument::UpDownCounter,
    help: "Series in the collector's latest snapshot",
    attributes: &[COLLECTOR],
    source: "vitals",
    extension: true,
};

pub static SERIES_DROPPED: MetricDesc = MetricDesc {
    name: "vitals.collector.series.dropped",
    unit: "{series}",
    instrument: Instrument::Counter,
    help: "Series a collector left out to stay within a configured cap (such as connections.listening_max_series); not an error",
    attributes: &[COLLECTOR],
    source: "vitals",
    extension: true,
};

pub static RELOAD_SUCCESSFUL: MetricDesc = MetricDesc {
    name: "vitals.config.last_reload_successful",
    unit: "",
    instrument: Instrument::Gauge,
    help: "1 when the last config reload (SIGHUP) was applied, 0 when it was rejected and the previous config kept running; 1 at start",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static RELOAD_SUCCESS_TIME: MetricDesc = MetricDesc {
    name: "vitals.config.last_reload_success.timestamp",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "Unix time of the last config load that was applied (the start, or the last successful reload)",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static BUILD_INFO: MetricDesc = MetricDesc {
    name: "vitals.build.info",
    unit: "",
    instrument: Instrument::Gauge,
    help: "Always 1; the labels say which build this is",
    attributes: &["version", "revision", "rustc"],
    source: "vitals",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[
    &DURATION,
    &LAST_SUCCESS,
    &UP,
    &ERRORS,
    &SERIES,
    &SERIES_DROPPED,
    &RELOAD_SUCCESSFUL,
    &RELOAD_SUCCESS_TIME,
    &BUILD_INFO,
];

pub fn snapshot(health: &[Health], reload: ReloadStatus) -> Snapshot {
    let mut s = Snapshot {
        time_unix_nano: crate::snapshot::unix_nanos(),
        ..Snapshot::default()
    };
    for h in health {
        let c = [(COLLECTOR, h.name)];
        if let Some(d) = h.last_duration {
            s.add(&DURATION, &c, d.as_secs_f64());
        }
        if let Some(t) = h.last_success_unix {
            s.add(&LAST_SUCCESS, &c, t);
        }
        s.add(&UP, &c, if h.up { 1.0 } else { 0.0 });
        s.add(&SERIES, &c, h.series as f64);
        s.add(&SERIES_DROPPED, &c, h.series_dropped as f64);
        for kind in ErrorKind::ALL {
            s.add(
                &ERRORS,
                &[(COLLECTOR, h.name), (KIND, kind.as_str())],
                h.errors.get(&kind).copied().unwrap_or(0) as f64,
            );
        }
    }
    s.add(
        &RELOAD_SUCCESSFUL,
        &[],
        if reload.successful { 1.0 } else { 0.0 },
    );
    s.add(&RELOAD_SUCCESS_TIME, &[], reload.last_success_unix);
    s.add(
        &BUILD_INFO,
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("revision", env!("VITALS_GIT_REVISION")),
            ("rustc", env!("VITALS_RUSTC_VERSION")),
        ],
        1.0,
    );
    s
}

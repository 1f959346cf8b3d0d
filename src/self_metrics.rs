//! `vitals_` metrics about the daemon itself, built from the health records the registry
//! keeps and the listener's counts.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::catalog::{Instrument, MetricDesc};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::error_kind::ErrorKind;
use crate::snapshot::Snapshot;

const COLLECTOR: &str = "collector";
const KIND: &str = "kind";
const REASON: &str = "reason";

/// What the self-metrics report about one collector.
#[derive(Debug, Clone)]
pub struct Health {
    pub name: &'static str,
    pub up: bool,
    pub last_duration: Option<Duration>,
    pub last_success_unix: Option<f64>,
    pub errors: BTreeMap<ErrorKind, u64>,
    pub series: usize,
    pub series_dropped: u64,
}

/// The outcome of the last config reload, as Prometheus reports its own.
#[derive(Debug, Clone, Copy)]
pub struct ReloadStatus {
    pub successful: bool,
    pub last_success_unix: f64,
}

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

pub static HTTP_CONNECTIONS: MetricDesc = MetricDesc {
    name: "vitals.http.connections",
    unit: "{connection}",
    instrument: Instrument::UpDownCounter,
    help: "Connections open on the HTTP listener (at most server.max_connections)",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static HTTP_CONNECTIONS_CLOSED: MetricDesc = MetricDesc {
    name: "vitals.http.connections.closed",
    unit: "{connection}",
    instrument: Instrument::Counter,
    help: "Connections the listener closed or refused by reason: evicted (room for a new one at max_connections), refused (every one busy), header_timeout (slow handshake or headers), idle_timeout, tls (failed handshake, plain HTTP to the TLS port, client SAN not allowed); every reason shown from 0",
    attributes: &[REASON],
    source: "vitals",
    extension: true,
};

pub static HTTP_AUTH_FAILURES: MetricDesc = MetricDesc {
    name: "vitals.http.auth.failures",
    unit: "{request}",
    instrument: Instrument::Counter,
    help: "Requests answered 401: missing or wrong basic auth credentials",
    attributes: &[],
    source: "vitals",
    extension: true,
};

/// Why the listener closed a connection: the `reason` label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    Evicted,
    Refused,
    HeaderTimeout,
    IdleTimeout,
    Tls,
}

impl CloseReason {
    pub const ALL: [CloseReason; 5] = [
        CloseReason::Evicted,
        CloseReason::Refused,
        CloseReason::HeaderTimeout,
        CloseReason::IdleTimeout,
        CloseReason::Tls,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Evicted => "evicted",
            CloseReason::Refused => "refused",
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::Tls => "tls",
        }
    }
}

/// The HTTP listener's counts, kept by the listener and the auth middleware.
#[derive(Debug, Default)]
pub struct HttpStats {
    open: AtomicI64,
    closed: [AtomicU64; 5],
    auth_failures: AtomicU64,
    /// Moves on every change of the counts above: part of the registry's generation, so a
    /// cached `/metrics` body never shows them stale.
    changes: AtomicU64,
}

impl HttpStats {
    pub fn opened(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.changed();
    }

    pub fn ended(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        self.changed();
    }

    pub fn closed(&self, reason: CloseReason) {
        self.closed[reason as usize].fetch_add(1, Ordering::Relaxed);
        self.changed();
    }

    pub fn auth_failed(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
        self.changed();
    }

    /// Release: a reader that sees the new count of changes sees the counts that made it.
    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// How many times the counts changed.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    fn add_to(&self, s: &mut Snapshot) {
        s.add(
            &HTTP_CONNECTIONS,
            &[],
            self.open.load(Ordering::Relaxed).max(0) as f64,
        );
        for reason in CloseReason::ALL {
            s.add(
                &HTTP_CONNECTIONS_CLOSED,
                &[(REASON, reason.as_str())],
                self.closed[reason as usize].load(Ordering::Relaxed) as f64,
            );
        }
        s.add(
            &HTTP_AUTH_FAILURES,
            &[],
            self.auth_failures.load(Ordering::Relaxed) as f64,
        );
    }
}

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
    &HTTP_CONNECTIONS,
    &HTTP_CONNECTIONS_CLOSED,
    &HTTP_AUTH_FAILURES,
];

pub fn snapshot(health: &[Health], reload: ReloadStatus, http: &HttpStats) -> Snapshot {
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
    http.add_to(&mut s);
    s
}

//! The configuration file: TOML, every field optional (an empty file is valid), unknown keys
//! rejected. Values are checked while parsing, so an error names the key, line and column;
//! [`Config::validate`] then checks what involves several keys.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

pub use crate::collectors::Collectors;
use crate::collectors::Context;
use crate::host::HostPaths;
pub use crate::interval::Interval;
pub use crate::shorten::quote;

/// The commented default configuration, as `vitals print-default-config` prints it.
pub const DEFAULT_TOML: &str = include_str!("../config/vitals.toml");

/// Most requests served at once: far above what a scraper needs, far below what the runtime's
/// semaphore accepts.
pub const MAX_IN_FLIGHT: usize = 10_000;
/// Where the config comes from: the file (none: the built-in defaults) and the command-line
/// flags that override its keys. Loaded the same way at start and on every reload.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub procfs: Option<PathBuf>,
    pub sysfs: Option<PathBuf>,
    pub rootfs: Option<PathBuf>,
    pub log_level: Option<LogLevel>,
    pub log_format: Option<LogFormat>,
    pub web_config_file: Option<PathBuf>,
}

impl Overrides {
    /// The file (or the defaults) with the flags applied.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = Config::load(self.file.as_deref())?;
        if let Some(v) = self.listen {
            config.server.listen = v;
        }
        if let Some(v) = &self.procfs {
            config.host.procfs = v.clone();
        }
        if let Some(v) = &self.sysfs {
            config.host.sysfs = v.clone();
        }
        if let Some(v) = &self.rootfs {
            config.host.rootfs = v.clone();
        }
        if let Some(v) = self.log_level {
            config.log.level = v;
        }
        if let Some(v) = self.log_format {
            config.log.format = v;
        }
        if let Some(v) = &self.web_config_file {
            config.server.web_config_file = Some(v.clone());
        }
        Ok(config)
    }
}

/// Most connections open at once that a config may ask for; each costs a file descriptor.
pub const MAX_CONNECTIONS: usize = 65_536;
/// Range of `server.max_header_bytes`.
pub const HEADER_BYTES: std::ops::RangeInclusive<usize> = 1_024..=1_048_576;
/// Most intervals a snapshot may go without success before it is dropped.
pub const MAX_STALE_AFTER: u32 = 1_000;

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub host: Host,
    pub log: Log,
    pub collectors: Collectors,
    pub otlp: crate::otlp::OtlpFile,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: SocketAddr,
    /// Requests served at once; more get 503 at once rather than queueing.
    pub max_in_flight: usize,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Interval,
    /// Connections open at once; beyond, the longest idle one is closed for the new one.
    pub max_connections: usize,
    /// Time for a new connection's TLS handshake and request headers, and for a kept-alive
    /// connection's next headers from their first byte (slowloris).
    pub header_read_timeout: Interval,
    /// A kept-alive connection without a request is closed after this long.
    pub idle_timeout: Interval,
    /// Largest request line and headers accepted; beyond, 431.
    pub max_header_bytes: usize,
    /// The exporter-toolkit web config (TLS, basic auth, headers). Flag: --web.config.file.
    pub web_config_file: Option<PathBuf>,
    /// /healthz and /readyz answer without credentials when basic auth is on.
    pub auth_exempt_probes: bool,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9977)),
            max_in_flight: 16,
            request_timeout: Interval::secs(10),
            max_connections: 256,
            header_read_timeout: Interval::secs(10),
            idle_timeout: Interval::secs(120),
            max_header_bytes: 16_384,
            web_config_file: None,
            auth_exempt_probes: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Host {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
}

impl Default for Host {
    fn default() -> Self {
        let p = HostPaths::default();
        Self {
            procfs: p.procfs,
            sysfs: p.sysfs,
            rootfs: p.rootfs,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// Every level, most severe first: the values `--log-level` accepts.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    /// The name in the config file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// Every format: the values `--log-format` accepts.
    pub const ALL: [LogFormat; 2] = [LogFormat::Text, LogFormat::Json];

    /// The name in the config file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub level: LogLevel,
    pub format: LogFormat,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config file {path}: {key}{at}: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        at: String,
        message: String,
    },
}

impl Config {
    /// Parses and validates TOML text; `path` is only used in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let key = e.span().and_then(|s| key_at(text, s.start));
            ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!(
                    "{}{}",
                    key.map(|k| format!("{k}: ")).unwrap_or_default(),
                    shorten_lines(e.to_string().trim_end())
                ),
            }
        })?;
        config.validate(text, path)?;
        Ok(config)
    }

    /// Reads the file, or returns the defaults when there is none.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            None => Ok(Config::default()),
            Some(p) => {
                let read_error = |source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                };
                let text = crate::host::read_file_text(p, crate::host::Limit::Config)
                    .map_err(read_error)?;
                Config::from_toml(&text, p)
            }
        }
    }

    /// Checks that involve more than one key. `text` locates the key for the message.
    pub fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let invalid = |table: &str, key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: format!("{table}.{key}"),
            at: locate(text, table, key)
                .map(|(l, c)| format!(" (line {l}, column {c})"))
                .unwrap_or_default(),
            message,
        };
        if !(1..=MAX_IN_FLIGHT).contains(&self.server.max_in_flight) {
            return Err(invalid(
                "server",
                "max_in_flight",
                format!("must be between 1 and {MAX_IN_FLIGHT}"),
            ));
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.server.max_connections) {
            return Err(invalid(
                "server",
                "max_connections",
                format!("must be between 1 and {MAX_CONNECTIONS}"),
            ));
        }
        if !HEADER_BYTES.contains(&self.server.max_header_bytes) {
            return Err(invalid(
                "server",
                "max_header_bytes",
                format!(
                    "must be between {} and {}",
                    HEADER_BYTES.start(),
                    HEADER_BYTES.end()
                ),
            ));
        }
        if !(1..=MAX_STALE_AFTER).contains(&self.collectors.stale_after) {
            return Err(invalid(
                "collectors",
                "stale_after",
                format!("must be between 1 and {MAX_STALE_AFTER} intervals"),
            ));
        }
        for (name, s) in self.collectors.schedules() {
            if s.timeout > s.interval {
                return Err(invalid(
                    &format!("collectors.{name}"),
                    "timeout",
                    format!(
                        "timeout {} is longer than the interval {}: a collection would still run when the next is due",
                        Interval(s.timeout),
                        Interval(s.interval)
                    ),
                ));
            }
        }
        if let Err((name, e)) = self.collectors.validate() {
            return Err(invalid(&format!("collectors.{name}"), e.key, e.message));
        }
        if let Err(e) = self.otlp_settings() {
            return Err(invalid("otlp", e.key, e.message));
        }
        Ok(())
    }

    /// `[otlp]` in force: the file's keys, else the `OTEL_*` environment variables, else the
    /// defaults.
    pub fn otlp_settings(&self) -> Result<crate::otlp::Otlp, crate::collectors::Invalid> {
        crate::otlp::settings::resolve(&self.otlp, &|name| std::env::var(name).ok())
    }

    /// What every collector is built with, with a new pool of statvfs helpers (the daemon
    /// makes one and keeps it across reloads: [`crate::runner::Runner`]).
    pub fn context(&self) -> Context {
        Context {
            paths: self.host_paths(),
            statfs: std::sync::Arc::new(crate::statfs::StatfsPool::new()),
        }
    }

    pub fn host_paths(&self) -> HostPaths {
        HostPaths {
            procfs: self.host.procfs.clone(),
            sysfs: self.host.sysfs.clone(),
            rootfs: self.host.rootfs.clone(),
        }
    }
}

/// The toml crate's message quotes the offending line: cut each line at 200 characters, so a
/// rejected 10 MB value does not come back whole.
fn shorten_lines(message: &str) -> String {
    message
        .lines()
        .map(|l| crate::shorten::shorten(l, 200))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The dotted name (`collectors.cpu.interval`) of the key whose name or value holds byte
/// `at`, from the toml parser's spans, for the toml crate's messages, which quote the line
/// but not the table. None outside any key, or for a key too long to show.
fn key_at(text: &str, at: usize) -> Option<String> {
    fn find(table: &DeTable<'_>, at: usize, path: &mut Vec<String>) -> bool {
        for (key, value) in table {
            path.push(key.get_ref().to_string());
            let found = match value.get_ref() {
                DeValue::Table(t) if find(t, at, path) => true,
                DeValue::Table(_) => key.span().contains(&at),
                _ => key.span().contains(&at) || value.span().contains(&at),
            };
            if found {
                return true;
            }
            path.pop();
        }
        false
    }
    let doc = DeTable::parse(text).ok()?;
    let mut path = Vec::new();
    if !find(doc.get_ref(), at, &mut path) || path.last()?.len() > 200 {
        return None;
    }
    Some(path.join("."))
}

/// Line and column (1-based) of `key = ...` inside `[table]` (dotted), from the toml
/// parser's spans, for messages about values that were valid alone. Falls back to the
/// table's header when the key is not written.
fn locate(text: &str, table: &str, key: &str) -> Option<(usize, usize)> {
    let doc = DeTable::parse(text).ok()?;
    let mut current = doc.get_ref();
    let mut header = None;
    for name in table.split('.') {
        let (_, v) = current.get_key_value(name)?;
        let DeValue::Table(t) = v.get_ref() else {
            return None;
        };
        // A `[table]` header's span is the header's.
        header = Some(v.span().start);
        current = t;
    }
    let at = match current.get_key_value(key) {
        Some((k, _)) => k.span().start,
        None => header?,
    };
    Some(line_column(text, at))
}

/// 1-based line and column (in characters) of byte `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"))
    }

    #[test]
    fn an_empty_file_is_the_default() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_shipped_config_is_the_default() {
        assert_eq!(parse(DEFAULT_TOML).unwrap(), Config::default());
    }

    /// The names the command line accepts (`as_str`) are the file's.
    #[test]
    fn log_level_and_format_names_are_the_config_names() {
        for level in LogLevel::ALL {
            let text = format!("[log]\nlevel = \"{}\"\n", level.as_str());
            assert_eq!(parse(&text).unwrap().log.level, level);
        }
        for format in LogFormat::ALL {
            let text = format!("[log]\nformat = \"{}\"\n", format.as_str());
            assert_eq!(parse(&text).unwrap().log.format, format);
        }
    }

    #[test]
    fn a_typo_names_key_line_and_column() {
        let err = parse("[collectors.cpu]\nintervall = \"5s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("collectors.cpu.intervall: "), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("column 1"), "{err}");
    }

    #[test]
    fn bad_values_name_their_line() {
        for (text, want) in [
            ("[collectors.memory]\ninterval = \"0s\"\n", "out of range"),
            ("[collectors.memory]\ninterval = \"5 parsecs\"\n", "unit"),
            ("[server]\nlisten = \"localhost\"\n", "line 2"),
            ("[log]\nformat = \"xml\"\n", "line 2"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?} -> {err}");
        }
    }

    #[test]
    fn cross_key_checks_name_the_key() {
        let err = parse("[collectors.cpu]\ninterval = \"1s\"\ntimeout = \"2s\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("collectors.cpu.timeout (line 3, column 1)"),
            "{err}"
        );
        let err = parse("[collectors.filesystem]\nstatfs_timeout = \"10s\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("collectors.filesystem.statfs_timeout (line 2"),
            "{err}"
        );
        let err = parse("[server]\nmax_in_flight = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.max_in_flight (line 2"), "{err}");
    }

    #[test]
    fn values_the_runtime_would_choke_on_are_rejected() {
        for (text, want) in [
            (
                "[collectors.cpu]\ninterval = \"18446744073709551615s\"\n",
                "collectors.cpu.interval: TOML parse error at line 2",
            ),
            (
                "[collectors.cpu]\ninterval = \"999999999999h\"\n",
                "out of range",
            ),
            (
                "[collectors.cpu]\ninterval = \"1ms\"\n",
                "between 100ms and 24h",
            ),
            ("[server]\nrequest_timeout = \"25h\"\n", "out of range"),
            (
                "[server]\nmax_in_flight = 2305843009213693952\n",
                "server.max_in_flight (line 2",
            ),
            (
                "[collectors]\nstale_after = 4000000000\n",
                "collectors.stale_after",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?} -> {err}");
        }
    }

    #[test]
    fn a_huge_rejected_value_is_not_echoed_whole() {
        let value = "9".repeat(10 << 20);
        let err = parse(&format!("[collectors.cpu]\ninterval = \"{value}s\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.len() < 2_000, "{} bytes", err.len());
        assert!(
            err.contains("bytes in all"),
            "{}",
            &err[..err.len().min(600)]
        );
    }

    #[test]
    fn locations_come_from_the_parsers_spans() {
        let text = "# c\n[collectors.cpu]\n  timeout = \"2s\" # = x\ninterval = \"1s\"\n";
        assert_eq!(locate(text, "collectors.cpu", "timeout"), Some((3, 3)));
        assert_eq!(locate(text, "collectors.cpu", "enabled"), Some((2, 1)));
        assert_eq!(locate(text, "server", "listen"), None);
        let at = text.find("2s").unwrap();
        assert_eq!(key_at(text, at).as_deref(), Some("collectors.cpu.timeout"));
        assert_eq!(key_at(text, 0), None, "a comment");
        // Inline tables and dotted keys, which no line scan reads right.
        let text = "collectors = { cpu = { interval = \"1s\" } }\nserver.listen = \"x\"\n";
        let at = text.find("1s").unwrap();
        assert_eq!(key_at(text, at).as_deref(), Some("collectors.cpu.interval"));
        assert_eq!(locate(text, "server", "listen"), Some((2, 8)));
    }

    #[test]
    fn every_collector_has_a_section_in_the_shipped_config() {
        for name in crate::collectors::NAMES {
            assert!(
                DEFAULT_TOML.contains(&format!("[collectors.{name}]")),
                "config/vitals.toml lacks [collectors.{name}]"
            );
        }
    }
}

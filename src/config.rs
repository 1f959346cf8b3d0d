//! The configuration file: TOML, every field optional (an empty file is valid), unknown keys
//! rejected. Values are checked while parsing, so an error names the key, line and column;
//! [`Config::validate`] then checks what involves several keys.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::collectors::{
    Schedule, battery, connections, cpu, disk, filesystem, host, interfaces, memory, network,
    processes, sensors, users,
};
use crate::host::HostPaths;

/// The commented default configuration, as `vitals print-default-config` prints it.
pub const DEFAULT_TOML: &str = include_str!("../config/vitals.toml");

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub host: Host,
    pub log: Log,
    pub collectors: Collectors,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: SocketAddr,
    /// Requests served at once; more get 503 at once rather than queueing.
    pub max_in_flight: usize,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Interval,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9977)),
            max_in_flight: 16,
            request_timeout: Interval::secs(10),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub level: LogLevel,
    pub format: LogFormat,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Collectors {
    /// A collector's last snapshot stops being served after this many intervals without a
    /// successful collection.
    pub stale_after: u32,
    pub cpu: cpu::Settings,
    pub memory: memory::Settings,
    pub sensors: sensors::Settings,
    pub battery: battery::Settings,
    pub host: host::Settings,
    pub users: users::Settings,
    pub processes: processes::Settings,
    pub filesystem: filesystem::Settings,
    pub disk: disk::Settings,
    pub network: network::Settings,
    pub interfaces: interfaces::Settings,
    pub connections: connections::Settings,
}

impl Default for Collectors {
    fn default() -> Self {
        Self {
            stale_after: 3,
            cpu: cpu::Settings::default(),
            memory: memory::Settings::default(),
            sensors: sensors::Settings::default(),
            battery: battery::Settings::default(),
            host: host::Settings::default(),
            users: users::Settings::default(),
            processes: processes::Settings::default(),
            filesystem: filesystem::Settings::default(),
            disk: disk::Settings::default(),
            network: network::Settings::default(),
            interfaces: interfaces::Settings::default(),
            connections: connections::Settings::default(),
        }
    }
}

impl Collectors {
    fn schedules(&self) -> [(&'static str, Schedule); 12] {
        [
            ("cpu", self.cpu.schedule()),
            ("memory", self.memory.schedule()),
            ("sensors", self.sensors.schedule()),
            ("battery", self.battery.schedule()),
            ("host", self.host.schedule()),
            ("users", self.users.schedule()),
            ("processes", self.processes.schedule()),
            ("filesystem", self.filesystem.schedule()),
            ("disk", self.disk.schedule()),
            ("network", self.network.schedule()),
            ("interfaces", self.interfaces.schedule()),
            ("connections", self.connections.schedule()),
        ]
    }
}

/// A positive duration written as a string: `"500ms"`, `"5s"`, `"1m"`, `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Duration);

impl Interval {
    pub const fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }
}

impl FromStr for Interval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits.parse().map_err(|_| {
            format!("invalid duration {s:?}: expected a whole number and a unit, like \"5s\"")
        })?;
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: the unit must be ms, s, m or h"
                ));
            }
        };
        if d.is_zero() {
            return Err(format!("invalid duration {s:?}: must be greater than zero"));
        }
        Ok(Interval(d))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
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
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.validate(text, path)?;
        Ok(config)
    }

    /// Reads the file, or returns the defaults when there is none.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            None => Ok(Config::default()),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
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
        if self.server.max_in_flight == 0 {
            return Err(invalid(
                "server",
                "max_in_flight",
                "must be at least 1".into(),
            ));
        }
        if self.collectors.stale_after == 0 {
            return Err(invalid(
                "collectors",
                "stale_after",
                "must be at least 1 interval".into(),
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
        let fs = &self.collectors.filesystem;
        if fs.statfs_timeout.0 >= fs.timeout.0 {
            return Err(invalid(
                "collectors.filesystem",
                "statfs_timeout",
                format!(
                    "statfs_timeout {} must be shorter than the collector's timeout {}: a hung mount would time the whole collection out",
                    fs.statfs_timeout, fs.timeout
                ),
            ));
        }
        Ok(())
    }

    pub fn host_paths(&self) -> HostPaths {
        HostPaths {
            procfs: self.host.procfs.clone(),
            sysfs: self.host.sysfs.clone(),
            rootfs: self.host.rootfs.clone(),
        }
    }
}

/// Line and column (1-based) of `key = ...` inside `[table]`, for messages about values
/// that were valid alone. Falls back to the table header when the key is not written.
fn locate(text: &str, table: &str, key: &str) -> Option<(usize, usize)> {
    let mut current = String::new();
    let mut header = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('[') {
            current = rest.split(']').next().unwrap_or("").trim().to_string();
            if current == table {
                header = Some((i + 1, line.len() - t.len() + 1));
            }
        } else if current == table
            && t.split('=').next().map(str::trim) == Some(key)
            && t.contains('=')
        {
            return Some((i + 1, line.len() - t.len() + 1));
        }
    }
    header
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

    #[test]
    fn a_typo_names_key_line_and_column() {
        let err = parse("[collectors.cpu]\nintervall = \"5s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("intervall"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("column 1"), "{err}");
    }

    #[test]
    fn bad_values_name_their_line() {
        for (text, want) in [
            (
                "[collectors.memory]\ninterval = \"0s\"\n",
                "greater than zero",
            ),
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
    fn intervals() {
        assert_eq!(
            "500ms".parse::<Interval>().unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!(
            "2m".parse::<Interval>().unwrap().0,
            Duration::from_secs(120)
        );
        assert!("-1s".parse::<Interval>().is_err());
        assert!("5".parse::<Interval>().is_err());
        assert_eq!(Interval::secs(5).to_string(), "5s");
    }
}

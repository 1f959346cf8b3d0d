//! Logs on standard error, text or JSON, with a level a reload can change.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;
use tracing_subscriber::reload;

use crate::config::{Config, LogFormat, LogLevel};

/// The installed logger's level switch.
pub struct Logging {
    filter: Option<reload::Handle<Targets, tracing_subscriber::Registry>>,
}

/// The daemon's own events at `level` and up; none of its dependencies'.
fn filter(level: LogLevel) -> Targets {
    let level = match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    };
    Targets::new().with_target("vitals", level)
}

impl Logging {
    /// Installs the process's logger as the config says.
    pub fn init(config: &Config) -> Logging {
        let (layer, handle) = reload::Layer::new(filter(config.log.level));
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi);
        let registry = tracing_subscriber::registry().with(layer);
        match config.log.format {
            LogFormat::Text => registry.with(fmt).init(),
            LogFormat::Json => registry.with(fmt.json()).init(),
        }
        Logging {
            filter: Some(handle),
        }
    }

    /// No logger of its own (a daemon inside a test): level changes do nothing.
    pub fn none() -> Logging {
        Logging { filter: None }
    }

    pub fn set_level(&self, level: LogLevel) -> Result<(), reload::Error> {
        match &self.filter {
            Some(h) => h.reload(filter(level)),
            None => Ok(()),
        }
    }
}

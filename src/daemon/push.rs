//! The OTLP pusher in force, restarted when a reload changes its settings.

use std::sync::Arc;

use super::Error;
use crate::config::Config;
use crate::otlp;
use crate::registry::Registry;

pub struct Push {
    pub settings: otlp::Otlp,
    pub pusher: Option<otlp::Pusher>,
    stats: Arc<otlp::Stats>,
    /// Whether the stats are shown yet (from the first enabled push on).
    shown: bool,
    started_unix_nano: u64,
}

impl Push {
    /// Nothing pushed yet; [`Push::start`] starts with these settings.
    pub fn new(settings: otlp::Otlp) -> Push {
        Push {
            settings,
            pusher: None,
            stats: Arc::new(otlp::Stats::default()),
            shown: false,
            started_unix_nano: crate::snapshot::unix_nanos(),
        }
    }

    /// The transport for `settings`, none when disabled. One that cannot be built (an
    /// unreadable CA file) is a config error, found before anything is applied.
    pub fn prepare(settings: &otlp::Otlp) -> Result<Option<otlp::transport::Transport>, Error> {
        if !settings.enabled {
            return Ok(None);
        }
        otlp::transport::Transport::new(settings)
            .map(Some)
            .map_err(|e| Error::Unusable(format!("otlp: {e}")))
    }

    /// Starts pushing with the settings in force over a transport [`Push::prepare`] built.
    pub fn start(
        &mut self,
        transport: Option<otlp::transport::Transport>,
        config: &Config,
        registry: &Arc<Registry>,
    ) {
        let Some(transport) = transport else { return };
        if !self.shown {
            let stats = self.stats.clone();
            registry.add_source(Arc::new(move |out| stats.write(out)));
            self.shown = true;
        }
        self.pusher = Some(otlp::start(
            &self.settings,
            transport,
            &config.host_paths(),
            registry.clone(),
            self.stats.clone(),
            self.started_unix_nano,
        ));
    }
}

//! The daemon's lifecycle: start the collectors, the HTTP listener and the OTLP pusher from
//! a config, reload it on SIGHUP, stop on SIGTERM or SIGINT. `main` parses the command line
//! and calls [`run`].

mod listener;
mod logging;
mod push;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::config::{Config, ConfigError, Overrides};
use crate::export::webconfig::{Web, WebConfigError};
use crate::export::{http, server};
use crate::registry::Registry;
use crate::runner::{Changes, Runner};
use listener::{Server, bind};
pub use logging::Logging;
use push::Push;

/// How long a shutdown may take before the remaining work is abandoned.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the daemon could not start, or a reload was rejected.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Web(#[from] WebConfigError),
    /// A value that parsed but cannot be used now (the listen address is taken, an OTLP
    /// certificate file cannot be read).
    #[error("{0}")]
    Unusable(String),
    #[error("{doing}: {source}")]
    Io {
        doing: &'static str,
        source: std::io::Error,
    },
}

impl Error {
    /// The config is at fault (exit code 2 at start), not the system.
    pub fn is_config(&self) -> bool {
        !matches!(self, Error::Io { .. })
    }
}

/// The web config file the config names (none: plain HTTP without auth), its certificates
/// read and checked.
pub fn load_web(config: &Config) -> Result<Web, WebConfigError> {
    Web::load(
        config.server.web_config_file.as_deref(),
        config.server.auth_exempt_probes,
    )
}

/// Runs the daemon until SIGTERM or SIGINT, on a single-threaded runtime of its own.
pub fn run(config: Config, overrides: Overrides, logging: Logging) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(16)
        .thread_name("vitals-collect")
        .build()
        .map_err(|source| Error::Io {
            doing: "starting the async runtime",
            source,
        })?;
    let result = runtime.block_on(serve(config, overrides, logging));
    // A collection blocked in the kernel (a hung mount) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

async fn serve(config: Config, overrides: Overrides, logging: Logging) -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind, doing| signal(kind).map_err(|source| Error::Io { doing, source });
    let mut term = install(SignalKind::terminate(), "installing the SIGTERM handler")?;
    let mut int = install(SignalKind::interrupt(), "installing the SIGINT handler")?;
    let mut hup = install(SignalKind::hangup(), "installing the SIGHUP handler")?;
    // Caught, never read: past a file-size limit (systemd's LimitFSIZE=) a write then fails
    // with EFBIG, which the OTLP queue's directory handles as a full disk, instead of the
    // signal's default action killing the daemon.
    let _xfsz = install(
        SignalKind::from_raw(libc::SIGXFSZ),
        "installing the SIGXFSZ handler",
    )?;
    let mut daemon = Daemon::start(config, overrides, logging).await?;
    let signal = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => { let _ = daemon.reload().await; }
        }
    };
    info!(signal, "shutting down");
    daemon.stop().await;
    Ok(())
}

/// What a reload did.
#[derive(Debug)]
pub enum Reloaded {
    /// Running on built-in defaults: there is no file to re-read.
    NoFile,
    Applied(Changes),
}

/// The config in force and everything built from it.
pub struct Daemon {
    config: Config,
    overrides: Overrides,
    logging: Logging,
    registry: Arc<Registry>,
    runner: Runner,
    state: http::AppState,
    limits: server::Limits,
    server: Server,
    push: Push,
    background: [JoinHandle<()>; 3],
}

impl Daemon {
    /// Starts everything the config asks for; a config that cannot be used stops the start
    /// before anything runs.
    pub async fn start(
        config: Config,
        overrides: Overrides,
        logging: Logging,
    ) -> Result<Daemon, Error> {
        let registry = Arc::new(Registry::new(config.collectors.stale_after));
        let web = load_web(&config)?;
        let listener = bind(config.server.listen, overrides.listen.is_some()).await?;
        let mut push = Push::new(otlp_settings(&config)?);
        let transport = Push::prepare(&push.settings)?;
        push.start(transport, &config, &registry);
        let runner = Runner::start(&config, registry.clone());
        let state = http::AppState::new(
            registry.clone(),
            config.server.max_in_flight,
            config.server.request_timeout.0,
        );
        let tls = web.tls.is_some();
        let auth = web.auth.is_some();
        state.web().replace(web);
        let limits = server::Limits::new(conn_limits(&config.server));
        let server = Server::spawn(listener, state.clone(), limits.clone())?;
        let background = [
            watch_certificates(state.clone()),
            trim_heap(),
            release_pages(),
        ];
        info!(addr = %server.addr, tls, basic_auth = auth, collectors = ?runner.names(), version = env!("CARGO_PKG_VERSION"), "vitals listening");
        Ok(Daemon {
            config,
            overrides,
            logging,
            registry,
            runner,
            state,
            limits,
            server,
            push,
            background,
        })
    }

    /// The address the listener is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// SIGHUP: re-reads the config file. A valid one is applied without dropping the
    /// listener; an invalid one is logged and the running config is kept whole. The outcome
    /// shows in `vitals_config_last_reload_successful`.
    pub async fn reload(&mut self) -> Result<Reloaded, Error> {
        let Some(path) = &self.overrides.file else {
            info!("SIGHUP: running on built-in defaults (no --config file): nothing to reload");
            return Ok(Reloaded::NoFile);
        };
        info!(path = %path.display(), "SIGHUP: reloading the config");
        match self.apply().await {
            Ok(changes) => {
                self.registry.record_reload(true);
                info!(
                    started = ?changes.started,
                    stopped = ?changes.stopped,
                    rebuilt = ?changes.rebuilt,
                    "config reloaded"
                );
                Ok(Reloaded::Applied(changes))
            }
            Err(e) => {
                error!(error = %e, "config reload rejected; the running config is kept");
                self.registry.record_reload(false);
                Err(e)
            }
        }
    }

    /// Everything that can reject the new config is checked (and the new listener bound)
    /// before anything is changed.
    async fn apply(&mut self) -> Result<Changes, Error> {
        let new = self.overrides.load()?;
        let new_otlp = otlp_settings(&new)?;
        // The web config and its certificates: a broken one rejects the reload whole.
        let web = load_web(&new)?;
        let otlp_changed =
            new_otlp != self.push.settings || (new_otlp.enabled && new.host != self.config.host);
        let transport = if otlp_changed {
            Push::prepare(&new_otlp)?
        } else {
            None
        };
        if new.server.listen != self.config.server.listen {
            // The new address first: if it cannot be bound, nothing changes.
            let listener = bind(new.server.listen, self.overrides.listen.is_some()).await?;
            let server = Server::spawn(listener, self.state.clone(), self.limits.clone())?;
            let old = std::mem::replace(&mut self.server, server);
            old.stop();
            info!(addr = %self.server.addr, old = %old.addr, "vitals listening");
        }
        self.state
            .set_limits(new.server.max_in_flight, new.server.request_timeout.0);
        self.limits.set(conn_limits(&new.server));
        self.state.web().replace(web);
        if new.log.level != self.config.log.level
            && let Err(e) = self.logging.set_level(new.log.level)
        {
            warn!(error = %e, "could not change the log level");
        }
        if new.log.format != self.config.log.format {
            warn!("log.format changes take effect at the next start");
        }
        let changes = self.runner.apply(&new);
        if otlp_changed {
            if let Some(old) = self.push.pusher.take() {
                old.abandon();
            }
            self.push.settings = new_otlp;
            self.push.start(transport, &new, &self.registry);
            info!(otlp = %self.push.settings.describe(), "OTLP settings applied");
        }
        self.config = new;
        Ok(changes)
    }

    /// Stops accepting, exports once more what was collected while the collectors stop, and
    /// waits for the connections in flight, for at most [`SHUTDOWN_GRACE`].
    pub async fn stop(self) {
        for task in &self.background {
            task.abort();
        }
        let Daemon {
            runner,
            server,
            push,
            ..
        } = self;
        server.stop();
        let drain = async {
            let flush = async {
                if let Some(p) = push.pusher {
                    p.stop(true).await;
                }
            };
            tokio::join!(runner.stop(), flush);
            server.stopped().await
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, drain).await {
            Ok(Ok(Ok(()))) => info!("stopped"),
            Ok(Ok(Err(e))) => warn!(error = %e, "server stopped with an error"),
            Ok(Err(e)) => warn!(error = %e, "server task failed"),
            Err(_) => warn!("shutdown took longer than {SHUTDOWN_GRACE:?}; exiting anyway"),
        }
    }
}

/// The listener's connection limits from `[server]`.
fn conn_limits(s: &crate::config::Server) -> server::ConnLimits {
    server::ConnLimits {
        max_connections: s.max_connections,
        header_read_timeout: s.header_read_timeout.0,
        idle_timeout: s.idle_timeout.0,
        max_header_bytes: s.max_header_bytes,
    }
}

/// `[otlp]` in force (the file over the environment).
fn otlp_settings(config: &Config) -> Result<crate::otlp::Otlp, Error> {
    config
        .otlp_settings()
        .map_err(|e| Error::Unusable(format!("otlp.{}: {}", e.key, e.message)))
}

/// Re-reads the TLS files when they change (cert-manager, certbot), once a second, off the
/// runtime's thread; a broken file is logged once and the certificate in force kept.
fn watch_certificates(state: http::AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(tls) = state.web().current().tls.clone() else {
                continue;
            };
            match tokio::task::spawn_blocking(move || tls.refresh()).await {
                Ok(Ok(true)) => info!("TLS certificate files changed: reloaded"),
                Ok(Err(e)) => {
                    error!(error = %e, "TLS certificate files changed but cannot be used; the certificate in force is kept")
                }
                _ => {}
            }
        }
    })
}

/// Hands the allocator's free pages back to the kernel every few seconds, off the runtime's
/// thread; see src/malloc.rs. The trim holds the arenas' locks that an encoding allocates
/// under, so it waits, as a collection does, while a body is being served (src/serving.rs).
fn trim_heap() -> JoinHandle<()> {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(crate::malloc::TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let _ = tokio::task::spawn_blocking(|| {
                crate::serving::SCRAPES.collection().between_items();
                crate::malloc::trim();
            })
            .await;
        }
    })
}

/// Unmaps the pages of code that ran only at startup once the daemon is up; see
/// src/pages.rs.
fn release_pages() -> JoinHandle<()> {
    tokio::spawn(async {
        let start = tokio::time::Instant::now();
        for after in crate::pages::RELEASE_AFTER {
            tokio::time::sleep_until(start + after).await;
            match tokio::task::spawn_blocking(crate::pages::release).await {
                Ok(Ok(r)) => debug!(
                    mappings = r.mappings,
                    kib = r.kib,
                    refused = r.refused,
                    splits = r.splits,
                    "released the resident pages of clean file mappings"
                ),
                Ok(Err(e)) => debug!(error = %e, "could not release the clean file pages"),
                Err(_) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests;

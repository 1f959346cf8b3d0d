#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, reload};

use vitals::config::{Config, ConfigError, LogFormat, LogLevel};
use vitals::export::webconfig::{Web, WebConfigError};
use vitals::export::{auth, http, openmetrics, server, text};
use vitals::registry::Registry;
use vitals::runner::{self, Runner};
use vitals::{catalog, otlp};

/// Exit code for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;
/// How long a shutdown may take before the remaining work is abandoned.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Parser)]
#[command(
    name = "vitals",
    version,
    about = "Host metrics with psutil's semantics, served to Prometheus",
    long_about = "Host metrics with psutil's semantics, served to Prometheus.\n\n\
        Collectors read /proc and /sys on their own intervals; GET /metrics serves the latest \
        readings as OpenMetrics or Prometheus text. Without a subcommand, runs the daemon.",
    after_help = "Config: built-in defaults unless --config or VITALS_CONFIG names a TOML file; \
        `vitals print-default-config` shows every key. Flags override the file."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args, Clone)]
struct Global {
    /// Config file (TOML)
    #[arg(
        long,
        short = 'c',
        env = "VITALS_CONFIG",
        global = true,
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
    /// Address to serve HTTP on, e.g. 127.0.0.1:9977 (server.listen)
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Root of the host's /proc (host.procfs)
    #[arg(long, global = true, value_name = "DIR")]
    procfs: Option<PathBuf>,
    /// Root of the host's /sys (host.sysfs)
    #[arg(long, global = true, value_name = "DIR")]
    sysfs: Option<PathBuf>,
    /// Root of the host's / (host.rootfs)
    #[arg(long, global = true, value_name = "DIR")]
    rootfs: Option<PathBuf>,
    /// Log level (log.level)
    #[arg(long, global = true, value_enum)]
    log_level: Option<LogLevel>,
    /// Log format on standard error (log.format)
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// Exporter-toolkit web config: TLS, basic auth, headers (server.web_config_file)
    #[arg(long = "web.config.file", global = true, value_name = "FILE")]
    web_config_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (the default)
    Run,
    /// Check a config file: exit 0 when valid, 2 with the key, line and column when not
    CheckConfig,
    /// Print the commented default config (config/vitals.toml)
    PrintDefaultConfig,
    /// Collect once (twice where a rate needs it), print the exposition and exit
    Once {
        /// Exposition format
        #[arg(long, value_enum, default_value_t = Format::Prometheus)]
        format: Format,
    },
    /// Print the metrics catalog: a Markdown table (docs/metrics.md) or JSON
    ListMetrics {
        #[arg(long, value_enum, default_value_t = CatalogFormat::Markdown)]
        format: CatalogFormat,
    },
    /// Serve statvfs(2) to the daemon on standard input and output (vitals::statfs)
    #[command(hide = true)]
    StatfsHelper,
    /// Read a password from standard input, print its bcrypt hash for basic_auth_users
    HashPassword {
        /// bcrypt cost (4 to 31): each step doubles the time a verification takes
        #[arg(long, default_value_t = auth::DEFAULT_COST, value_parser = clap::value_parser!(u32).range(4..=31))]
        cost: u32,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum CatalogFormat {
    /// The tables of docs/metrics.md
    Markdown,
    /// One object per metric: OpenTelemetry name, instrument, unit, attributes, Prometheus name
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Prometheus text format 0.0.4
    Prometheus,
    /// OpenMetrics 1.0 text
    Openmetrics,
}

fn main() -> ExitCode {
    vitals::malloc::limit_arenas();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::StatfsHelper => vitals::statfs::helper_main(),
        Command::PrintDefaultConfig => {
            print!("{}", vitals::config::DEFAULT_TOML);
            ExitCode::SUCCESS
        }
        Command::ListMetrics { format } => {
            let all = vitals::full_catalog();
            match format {
                CatalogFormat::Markdown => print!("{}", catalog::markdown_table(&all)),
                CatalogFormat::Json => print!("{}", catalog::json(&all)),
            }
            ExitCode::SUCCESS
        }
        Command::CheckConfig => match &cli.global.config {
            None => {
                eprintln!(
                    "vitals check-config: give the file with --config FILE (or VITALS_CONFIG)"
                );
                ExitCode::from(EXIT_CONFIG)
            }
            Some(_) => match load_config(&cli.global) {
                Ok(config) => match load_web(&config) {
                    Ok(_) => {
                        println!("config OK");
                        // Validated while loading; shown with the environment applied.
                        if let Ok(otlp) = config.otlp_settings() {
                            println!("{}", otlp.describe());
                        }
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("vitals: {e}");
                        ExitCode::from(EXIT_CONFIG)
                    }
                },
                Err(e) => config_error(&e),
            },
        },
        Command::HashPassword { cost } => hash_password(cost),
        Command::Once { format } => match load_config(&cli.global) {
            Ok(config) => {
                init_logging(&config);
                once(&config, format)
            }
            Err(e) => config_error(&e),
        },
        Command::Run => match load_config(&cli.global) {
            Ok(config) => {
                let log = init_logging(&config);
                match run(config, cli.global, log) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        error!("{e:#}");
                        if e.downcast_ref::<StartupConfigError>().is_some() {
                            ExitCode::from(EXIT_CONFIG)
                        } else {
                            ExitCode::FAILURE
                        }
                    }
                }
            }
            Err(e) => config_error(&e),
        },
    }
}

fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("vitals: {e}");
    ExitCode::from(EXIT_CONFIG)
}

/// A config value that parsed but cannot be used at start (the listen address is taken):
/// exit code 2, like any other config error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct StartupConfigError(String);

/// The config file (or defaults) with command-line overrides applied; the same on every
/// reload.
fn load_config(g: &Global) -> Result<Config, ConfigError> {
    let mut config = Config::load(g.config.as_deref())?;
    if let Some(v) = g.listen {
        config.server.listen = v;
    }
    if let Some(v) = &g.procfs {
        config.host.procfs = v.clone();
    }
    if let Some(v) = &g.sysfs {
        config.host.sysfs = v.clone();
    }
    if let Some(v) = &g.rootfs {
        config.host.rootfs = v.clone();
    }
    if let Some(v) = g.log_level {
        config.log.level = v;
    }
    if let Some(v) = g.log_format {
        config.log.format = v;
    }
    if let Some(v) = &g.web_config_file {
        config.server.web_config_file = Some(v.clone());
    }
    Ok(config)
}

/// The web config file the config names (none: plain HTTP without auth), its certificates
/// read and checked.
fn load_web(config: &Config) -> Result<Web, WebConfigError> {
    Web::load(
        config.server.web_config_file.as_deref(),
        config.server.auth_exempt_probes,
    )
}

/// `vitals hash-password`: the first line of standard input, without its line end.
fn hash_password(cost: u32) -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("vitals hash-password: reading standard input: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        eprintln!("vitals hash-password: give the password on standard input");
        return ExitCode::FAILURE;
    }
    match auth::hash_password(password.as_bytes(), cost) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vitals hash-password: {e}");
            ExitCode::FAILURE
        }
    }
}

type LogFilter = reload::Handle<EnvFilter, tracing_subscriber::Registry>;

fn log_filter(level: LogLevel) -> EnvFilter {
    EnvFilter::new(format!("vitals={}", level.as_str()))
}

/// Logs to standard error; the returned handle changes the level on a reload.
fn init_logging(config: &Config) -> LogFilter {
    let (filter, handle) = reload::Layer::new(log_filter(config.log.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let registry = tracing_subscriber::registry().with(filter);
    match config.log.format {
        LogFormat::Text => registry.with(fmt).init(),
        LogFormat::Json => registry.with(fmt.json()).init(),
    }
    handle
}

fn once(config: &Config, format: Format) -> ExitCode {
    let scheduled = config.collectors.build(&config.context());
    let registry = runner::once(
        scheduled,
        config.collectors.stale_after,
        Duration::from_millis(250),
    );
    let snapshots = registry.gather();
    let body = match format {
        Format::Prometheus => text::encode(&snapshots),
        Format::Openmetrics => match openmetrics::encode(snapshots) {
            Ok(b) => b,
            Err(_) => return ExitCode::FAILURE,
        },
    };
    print!("{body}");
    ExitCode::SUCCESS
}

fn run(config: Config, global: Global, log: LogFilter) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(16)
        .thread_name("vitals-collect")
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(serve(config, global, log));
    // A collection blocked in the kernel (a hung mount) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

/// Binds the listen address; a failure names the key and says why.
async fn bind(addr: SocketAddr, global: &Global) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => "the address is already in use".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)".to_string()
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "no interface of this host has that address".to_string()
            }
            _ => e.to_string(),
        };
        let from = if global.listen.is_some() {
            " (from --listen)"
        } else {
            ""
        };
        StartupConfigError(format!("server.listen = \"{addr}\"{from}: {why}")).into()
    })
}

/// One HTTP server on one listener; a reload that moves the address starts another.
struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    handle: JoinHandle<std::io::Result<()>>,
}

impl Server {
    fn spawn(
        listener: TcpListener,
        state: http::AppState,
        limits: server::Limits,
    ) -> anyhow::Result<Server> {
        let addr = listener.local_addr().context("reading the bound address")?;
        let (stop, stop_rx) = watch::channel(false);
        let handle = tokio::spawn(server::serve(listener, state, limits, stop_rx));
        Ok(Server { addr, stop, handle })
    }
}

/// The OTLP pusher in force, if `[otlp]` is enabled.
struct Push {
    settings: otlp::Otlp,
    pusher: Option<otlp::Pusher>,
    stats: Arc<otlp::Stats>,
    /// Whether the stats are shown yet (from the first enabled push on).
    shown: bool,
    started_unix_nano: u64,
}

impl Push {
    /// The transport for `settings`, none when disabled. One that cannot be built (an
    /// unreadable CA file) is a config error, found before anything is applied.
    fn prepare(settings: &otlp::Otlp) -> anyhow::Result<Option<otlp::transport::Transport>> {
        if !settings.enabled {
            return Ok(None);
        }
        otlp::transport::Transport::new(settings)
            .map(Some)
            .map_err(|e| StartupConfigError(format!("otlp: {e}")).into())
    }

    /// Starts pushing with the settings in force over a transport [`Push::prepare`] built.
    fn start(
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
/// thread; see src/malloc.rs.
fn trim_heap() -> JoinHandle<()> {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(vitals::malloc::TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let _ = tokio::task::spawn_blocking(vitals::malloc::trim).await;
        }
    })
}

/// What a reload works on: the config in force and everything built from it.
struct Daemon {
    config: Config,
    global: Global,
    log: LogFilter,
    registry: Arc<Registry>,
    runner: Runner,
    state: http::AppState,
    limits: server::Limits,
    server: Server,
    push: Push,
}

async fn serve(config: Config, global: Global, log: LogFilter) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;

    let registry = Arc::new(Registry::new(config.collectors.stale_after));
    let web = load_web(&config).map_err(|e| StartupConfigError(e.to_string()))?;
    let listener = bind(config.server.listen, &global).await?;
    let otlp_settings = config
        .otlp_settings()
        .map_err(|e| StartupConfigError(format!("otlp.{}: {}", e.key, e.message)))?;
    let transport = Push::prepare(&otlp_settings)?;
    let mut push = Push {
        settings: otlp_settings,
        pusher: None,
        stats: Arc::new(otlp::Stats::default()),
        shown: false,
        started_unix_nano: vitals::snapshot::unix_nanos(),
    };
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
    let limits = server::Limits::new(server::ConnLimits::from_config(&config.server));
    let server = Server::spawn(listener, state.clone(), limits.clone())?;
    let watcher = watch_certificates(state.clone());
    let trimmer = trim_heap();
    info!(addr = %server.addr, tls, basic_auth = auth, collectors = ?runner.names(), version = env!("CARGO_PKG_VERSION"), "vitals listening");
    let mut daemon = Daemon {
        config,
        global,
        log,
        registry,
        runner,
        state,
        limits,
        server,
        push,
    };

    let signal = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => daemon.reload().await,
        }
    };
    info!(signal, "shutting down");
    watcher.abort();
    trimmer.abort();
    let Daemon {
        runner,
        server,
        push,
        ..
    } = daemon;
    let _ = server.stop.send(true);
    let drain = async {
        // One last export of what was collected, while the collectors stop.
        let flush = async {
            if let Some(p) = push.pusher {
                p.stop(true).await;
            }
        };
        tokio::join!(runner.stop(), flush);
        server.handle.await
    };
    match tokio::time::timeout(SHUTDOWN_GRACE, drain).await {
        Ok(Ok(Ok(()))) => info!("stopped"),
        Ok(Ok(Err(e))) => warn!(error = %e, "server stopped with an error"),
        Ok(Err(e)) => warn!(error = %e, "server task failed"),
        Err(_) => warn!("shutdown took longer than {SHUTDOWN_GRACE:?}; exiting anyway"),
    }
    Ok(())
}

impl Daemon {
    /// SIGHUP: re-reads the config file. A valid one is applied without dropping the
    /// listener; an invalid one is logged and the running config is kept whole.
    async fn reload(&mut self) {
        let Some(path) = &self.global.config else {
            info!("SIGHUP: running on built-in defaults (no --config file): nothing to reload");
            return;
        };
        info!(path = %path.display(), "SIGHUP: reloading the config");
        let new = match load_config(&self.global) {
            Ok(c) => c,
            Err(e) => {
                error!(error = %e, "config reload rejected; the running config is kept");
                self.registry.record_reload(false);
                return;
            }
        };
        let new_otlp = match new.otlp_settings() {
            Ok(o) => o,
            Err(e) => {
                error!(error = %format!("otlp.{}: {}", e.key, e.message), "config reload rejected; the running config is kept");
                self.registry.record_reload(false);
                return;
            }
        };
        // The web config and its certificates next: a broken one rejects the reload whole.
        let web = match load_web(&new) {
            Ok(w) => w,
            Err(e) => {
                error!(error = %e, "config reload rejected; the running config is kept");
                self.registry.record_reload(false);
                return;
            }
        };
        let otlp_changed =
            new_otlp != self.push.settings || (new_otlp.enabled && new.host != self.config.host);
        let transport = if otlp_changed {
            match Push::prepare(&new_otlp) {
                Ok(t) => t,
                Err(e) => {
                    error!(error = %e, "config reload rejected; the running config is kept");
                    self.registry.record_reload(false);
                    return;
                }
            }
        } else {
            None
        };
        if new.server.listen != self.config.server.listen {
            // The new address first: if it cannot be bound, nothing changes.
            let listener = match bind(new.server.listen, &self.global).await {
                Ok(l) => l,
                Err(e) => {
                    error!(error = %e, "config reload rejected; the running config is kept");
                    self.registry.record_reload(false);
                    return;
                }
            };
            match Server::spawn(listener, self.state.clone(), self.limits.clone()) {
                Ok(server) => {
                    let old = std::mem::replace(&mut self.server, server);
                    let _ = old.stop.send(true);
                    info!(addr = %self.server.addr, old = %old.addr, "vitals listening");
                }
                Err(e) => {
                    error!(error = %e, "config reload rejected; the running config is kept");
                    self.registry.record_reload(false);
                    return;
                }
            }
        }
        self.state
            .set_limits(new.server.max_in_flight, new.server.request_timeout.0);
        self.limits
            .set(server::ConnLimits::from_config(&new.server));
        self.state.web().replace(web);
        if new.log.level != self.config.log.level
            && let Err(e) = self.log.reload(log_filter(new.log.level))
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
        self.registry.record_reload(true);
        info!(
            started = ?changes.started,
            stopped = ?changes.stopped,
            rebuilt = ?changes.rebuilt,
            "config reloaded"
        );
        self.config = new;
    }
}

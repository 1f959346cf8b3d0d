#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::sync::watch;
use tracing::{error, info, warn};

use vitals::config::{Config, LogFormat, LogLevel};
use vitals::export::{http, openmetrics, text};
use vitals::{catalog, collectors, runner};

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

#[derive(Args)]
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
    /// Print the metrics catalog as a Markdown table (docs/metrics.md)
    ListMetrics,
    /// Serve statvfs(2) to the daemon on standard input and output (vitals::statfs)
    #[command(hide = true)]
    StatfsHelper,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Prometheus text format 0.0.4
    Prometheus,
    /// OpenMetrics 1.0 text
    Openmetrics,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::StatfsHelper => vitals::statfs::helper_main(),
        Command::PrintDefaultConfig => {
            print!("{}", vitals::config::DEFAULT_TOML);
            ExitCode::SUCCESS
        }
        Command::ListMetrics => {
            print!("{}", catalog::markdown_table(&vitals::full_catalog()));
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
                Ok(_) => {
                    println!("config OK");
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            },
        },
        Command::Once { format } => match load_config(&cli.global) {
            Ok(config) => {
                init_logging(&config);
                once(&config, format)
            }
            Err(code) => code,
        },
        Command::Run => match load_config(&cli.global) {
            Ok(config) => {
                init_logging(&config);
                match run(config) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        error!("{e:#}");
                        ExitCode::FAILURE
                    }
                }
            }
            Err(code) => code,
        },
    }
}

/// The config file (or defaults) with command-line overrides applied.
fn load_config(g: &Global) -> Result<Config, ExitCode> {
    let mut config = Config::load(g.config.as_deref()).map_err(|e| {
        eprintln!("vitals: {e}");
        ExitCode::from(EXIT_CONFIG)
    })?;
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
    Ok(config)
}

fn init_logging(config: &Config) {
    let filter =
        tracing_subscriber::EnvFilter::new(format!("vitals={}", config.log.level.as_str()));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn once(config: &Config, format: Format) -> ExitCode {
    let scheduled = collectors::build(config);
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

fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(16)
        .thread_name("vitals-collect")
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(serve(config));
    // A collection blocked in the kernel (a hung mount) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let scheduled = collectors::build(&config);
    let names: Vec<&str> = scheduled.iter().map(|s| s.collector.name()).collect();
    let registry = Arc::new(runner::registry_for(
        &scheduled,
        config.collectors.stale_after,
    ));
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("listening on {}", config.server.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    info!(%addr, collectors = ?names, version = env!("CARGO_PKG_VERSION"), "vitals listening");

    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks = runner::spawn(scheduled, registry.clone(), stop_rx.clone());
    let state = http::AppState::new(
        registry,
        config.server.max_in_flight,
        config.server.request_timeout.0,
    );
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(
        axum::serve(listener, http::router(state))
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            })
            .into_future(),
    );

    let signal = shutdown_signal().await?;
    info!(signal, "shutting down");
    let _ = stop_tx.send(true);
    let drain = async {
        for t in tasks {
            let _ = t.await;
        }
        server.await
    };
    match tokio::time::timeout(SHUTDOWN_GRACE, drain).await {
        Ok(Ok(Ok(()))) => info!("stopped"),
        Ok(Ok(Err(e))) => warn!(error = %e, "server stopped with an error"),
        Ok(Err(e)) => warn!(error = %e, "server task failed"),
        Err(_) => warn!("shutdown took longer than {SHUTDOWN_GRACE:?}; exiting anyway"),
    }
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tracing::error;

use vitals::config::{Config, ConfigError, LogFormat, LogLevel, Overrides};
use vitals::daemon::{self, Logging};
use vitals::export::{auth, openmetrics, text};
use vitals::{catalog, runner};

/// Exit code for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;

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
            Some(_) => match cli.global.overrides().load() {
                Ok(config) => match daemon::load_web(&config) {
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
        Command::Once { format } => match cli.global.overrides().load() {
            Ok(config) => {
                Logging::init(&config);
                once(&config, format)
            }
            Err(e) => config_error(&e),
        },
        Command::Run => match cli.global.overrides().load() {
            Ok(config) => {
                let logging = Logging::init(&config);
                match daemon::run(config, cli.global.overrides(), logging) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        error!("{e}");
                        if e.is_config() {
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

impl Global {
    fn overrides(&self) -> Overrides {
        Overrides {
            file: self.config.clone(),
            listen: self.listen,
            procfs: self.procfs.clone(),
            sysfs: self.sysfs.clone(),
            rootfs: self.rootfs.clone(),
            log_level: self.log_level,
            log_format: self.log_format,
            web_config_file: self.web_config_file.clone(),
        }
    }
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

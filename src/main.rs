#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use tracing::error;

use cli::{CatalogFormat, Command, Format, Parsed};
use vitals::config::{Config, ConfigError};
use vitals::daemon::{self, Logging};
use vitals::export::{auth, openmetrics, text};
use vitals::{catalog, runner};

mod cli;

/// Exit code for a configuration that cannot be used, and for a command line that cannot.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    vitals::malloc::limit_arenas();
    let parsed = cli::parse(
        std::env::args_os().skip(1),
        std::env::var_os(cli::CONFIG_ENV),
    );
    let (command, overrides) = match parsed {
        Ok(Parsed::Command(command, overrides)) => (command, overrides),
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match command {
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
        Command::CheckConfig => match &overrides.file {
            None => {
                eprintln!(
                    "vitals check-config: give the file with --config FILE (or VITALS_CONFIG)"
                );
                ExitCode::from(EXIT_CONFIG)
            }
            Some(_) => match overrides.load() {
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
        Command::Once { format } => match overrides.load() {
            Ok(config) => {
                Logging::init(&config);
                once(&config, format)
            }
            Err(e) => config_error(&e),
        },
        Command::Run => match overrides.load() {
            Ok(config) => {
                let logging = Logging::init(&config);
                match daemon::run(config, overrides, logging) {
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

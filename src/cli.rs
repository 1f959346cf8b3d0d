//! The command line (a module of the binary, not of the library): subcommands, the global
//! flags (accepted before or after the subcommand), help and version. Parsed by hand rather
//! than with clap, which was about 200 KB of the stripped binary for this handful of flags
//! (docs/performance.md, "Memory and binary size"). It keeps clap's syntax: `--flag value`,
//! `--flag=value`, `-c FILE`, `-cFILE`, `-c=FILE`, a trailing `--`, and exit code 2 with an
//! error naming the argument for an unknown flag, a missing value, a bad value or a flag given
//! twice.

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use vitals::config::{Config, LogFormat, LogLevel, Overrides};
use vitals::export::auth;

/// The environment variable that names the config file when `--config` does not.
pub const CONFIG_ENV: &str = "VITALS_CONFIG";

const ABOUT: &str = "Host metrics with psutil's semantics, served to Prometheus.\n\n\
    Collectors read /proc and /sys on their own intervals; GET /metrics serves the latest \
    readings as OpenMetrics or Prometheus text. Without a subcommand, runs the daemon.";
const AFTER_HELP: &str = "Config: built-in defaults unless --config or VITALS_CONFIG names a \
    TOML file; `vitals print-default-config` shows every key. Flags override the file.";

/// The exposition format of `vitals once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    Openmetrics,
}

/// The output of `vitals list-metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogFormat {
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Run,
    CheckConfig,
    PrintDefaultConfig,
    Once { format: Format },
    ListMetrics { format: CatalogFormat },
    StatfsHelper,
    HashPassword { cost: u32 },
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// A command, with the global flags as config overrides (`file` from `--config` or
    /// VITALS_CONFIG).
    Command(Command, Overrides),
    /// `--help`, `-h`, `help [COMMAND]` or `--version`: print this on standard output, exit 0.
    Print(String),
}

/// A command line that cannot be used: print on standard error, exit 2.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError {
    message: String,
    usage: String,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error: {}\n\nUsage: {}\n\nFor more information, try '--help'.",
            self.message, self.usage
        )
    }
}

/// Subcommands, in the order `--help` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sub {
    Run,
    CheckConfig,
    PrintDefaultConfig,
    Once,
    ListMetrics,
    HashPassword,
    StatfsHelper,
    Help,
}

struct SubInfo {
    sub: Sub,
    name: &'static str,
    about: &'static str,
    /// Left out of `--help` (the statfs helper is started by the daemon itself).
    hidden: bool,
}

const SUBCOMMANDS: [SubInfo; 8] = [
    SubInfo {
        sub: Sub::Run,
        name: "run",
        about: "Run the daemon (the default)",
        hidden: false,
    },
    SubInfo {
        sub: Sub::CheckConfig,
        name: "check-config",
        about: "Check a config file: exit 0 when valid, 2 with the key, line and column when not",
        hidden: false,
    },
    SubInfo {
        sub: Sub::PrintDefaultConfig,
        name: "print-default-config",
        about: "Print the commented default config (config/vitals.toml)",
        hidden: false,
    },
    SubInfo {
        sub: Sub::Once,
        name: "once",
        about: "Collect once (twice where a rate needs it), print the exposition and exit",
        hidden: false,
    },
    SubInfo {
        sub: Sub::ListMetrics,
        name: "list-metrics",
        about: "Print the metrics catalog: a Markdown table (docs/metrics.md) or JSON",
        hidden: false,
    },
    SubInfo {
        sub: Sub::HashPassword,
        name: "hash-password",
        about: "Read a password from standard input, print its bcrypt hash for basic_auth_users",
        hidden: false,
    },
    SubInfo {
        sub: Sub::StatfsHelper,
        name: vitals::statfs::HELPER_COMMAND,
        about: "Serve statvfs(2) to the daemon on standard input and output (vitals::statfs)",
        hidden: true,
    },
    SubInfo {
        sub: Sub::Help,
        name: "help",
        about: "Print this message or the help of the given subcommand",
        hidden: false,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Format,
    CatalogFormat,
    Cost,
    Config,
    Listen,
    Procfs,
    Sysfs,
    Rootfs,
    LogLevel,
    LogFormat,
    WebConfigFile,
}

struct Flag {
    key: Key,
    long: &'static str,
    short: Option<u8>,
    value: &'static str,
    help: &'static str,
    /// The config key the flag overrides.
    setting: Option<&'static str>,
    /// The subcommand the flag belongs to; `None`: global.
    only: Option<Sub>,
}

/// Every flag that takes a value; the subcommands' own first, as `--help` lists them.
const FLAGS: [Flag; 11] = [
    Flag {
        key: Key::Format,
        long: "format",
        short: None,
        value: "FORMAT",
        help: "Exposition format",
        setting: None,
        only: Some(Sub::Once),
    },
    Flag {
        key: Key::CatalogFormat,
        long: "format",
        short: None,
        value: "FORMAT",
        help: "Output format",
        setting: None,
        only: Some(Sub::ListMetrics),
    },
    Flag {
        key: Key::Cost,
        long: "cost",
        short: None,
        value: "COST",
        help: "bcrypt cost (4 to 31): each step doubles the time a verification takes",
        setting: None,
        only: Some(Sub::HashPassword),
    },
    Flag {
        key: Key::Config,
        long: "config",
        short: Some(b'c'),
        value: "FILE",
        help: "Config file (TOML) [env: VITALS_CONFIG]",
        setting: None,
        only: None,
    },
    Flag {
        key: Key::Listen,
        long: "listen",
        short: None,
        value: "ADDR",
        help: "Address to serve HTTP on, e.g. 127.0.0.1:9977",
        setting: Some("server.listen"),
        only: None,
    },
    Flag {
        key: Key::Procfs,
        long: "procfs",
        short: None,
        value: "DIR",
        help: "Root of the host's /proc",
        setting: Some("host.procfs"),
        only: None,
    },
    Flag {
        key: Key::Sysfs,
        long: "sysfs",
        short: None,
        value: "DIR",
        help: "Root of the host's /sys",
        setting: Some("host.sysfs"),
        only: None,
    },
    Flag {
        key: Key::Rootfs,
        long: "rootfs",
        short: None,
        value: "DIR",
        help: "Root of the host's /",
        setting: Some("host.rootfs"),
        only: None,
    },
    Flag {
        key: Key::LogLevel,
        long: "log-level",
        short: None,
        value: "LEVEL",
        help: "Log level",
        setting: Some("log.level"),
        only: None,
    },
    Flag {
        key: Key::LogFormat,
        long: "log-format",
        short: None,
        value: "FORMAT",
        help: "Log format on standard error",
        setting: Some("log.format"),
        only: None,
    },
    Flag {
        key: Key::WebConfigFile,
        long: "web.config.file",
        short: None,
        value: "FILE",
        help: "Exporter-toolkit web config: TLS, basic auth, headers",
        setting: Some("server.web_config_file"),
        only: None,
    },
];

/// A flag's accepted values: name, what it means, value.
type Choices<T> = [(&'static str, &'static str, T)];

const FORMATS: [(&str, &str, Format); 2] = [
    (
        "prometheus",
        "Prometheus text format 0.0.4",
        Format::Prometheus,
    ),
    ("openmetrics", "OpenMetrics 1.0 text", Format::Openmetrics),
];
const CATALOG_FORMATS: [(&str, &str, CatalogFormat); 2] = [
    (
        "markdown",
        "the tables of docs/metrics.md",
        CatalogFormat::Markdown,
    ),
    (
        "json",
        "one object per metric: OpenTelemetry name, instrument, unit, attributes, Prometheus name",
        CatalogFormat::Json,
    ),
];
const COSTS: std::ops::RangeInclusive<u32> = 4..=31;

fn levels() -> Vec<(&'static str, &'static str, LogLevel)> {
    LogLevel::ALL.iter().map(|&l| (l.as_str(), "", l)).collect()
}

fn log_formats() -> Vec<(&'static str, &'static str, LogFormat)> {
    LogFormat::ALL
        .iter()
        .map(|&f| (f.as_str(), "", f))
        .collect()
}

impl Flag {
    /// `--listen <ADDR>`, as errors name the flag.
    fn shown(&self) -> String {
        format!("--{} <{}>", self.long, self.value)
    }

    fn applies_to(&self, sub: Option<Sub>) -> bool {
        self.only.is_none() || self.only == sub
    }

    /// The help text: what it does, the values it takes and its default.
    fn describe(&self) -> String {
        fn names<T>(choices: &Choices<T>) -> String {
            let shown: Vec<String> = choices
                .iter()
                .map(|(name, about, _)| {
                    if about.is_empty() {
                        (*name).to_string()
                    } else {
                        format!("{name} ({about})")
                    }
                })
                .collect();
            format!(" [possible values: {}]", shown.join(", "))
        }
        let defaults = Config::default();
        let key_default = |d: String| format!(" ({}; default {d})", self.setting.unwrap_or(""));
        let mut text = self.help.to_string();
        text += &match self.key {
            Key::Format => names(&FORMATS) + " [default: prometheus]",
            Key::CatalogFormat => names(&CATALOG_FORMATS) + " [default: markdown]",
            Key::Cost => format!(" [default: {}]", auth::DEFAULT_COST),
            Key::Config => String::new(),
            Key::Listen => key_default(defaults.server.listen.to_string()),
            Key::Procfs => key_default(defaults.host.procfs.display().to_string()),
            Key::Sysfs => key_default(defaults.host.sysfs.display().to_string()),
            Key::Rootfs => key_default(defaults.host.rootfs.display().to_string()),
            Key::LogLevel => key_default(defaults.log.level.as_str().into()) + &names(&levels()),
            Key::LogFormat => {
                key_default(defaults.log.format.as_str().into()) + &names(&log_formats())
            }
            Key::WebConfigFile => key_default("none".into()),
        };
        text
    }
}

/// Parses the arguments after the program name; `env_config` is VITALS_CONFIG's value.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env_config: Option<OsString>,
) -> Result<Parsed, UsageError> {
    let mut parser = Parser::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let bytes = arg.as_bytes();
        if bytes == b"--" {
            // Nothing takes positional arguments: whatever follows is an error.
            return match args.next() {
                Some(extra) => Err(parser.unexpected(&extra)),
                None => break,
            };
        } else if let Some(long) = bytes.strip_prefix(b"--") {
            let (name, inline) = match long.iter().position(|&b| b == b'=') {
                Some(i) => (&long[..i], Some(OsString::from_vec(long[i + 1..].to_vec()))),
                None => (long, None),
            };
            let flag = match name {
                b"help" if inline.is_none() => return Ok(Parsed::Print(help(parser.sub))),
                b"version" if inline.is_none() && parser.sub.is_none() => {
                    return Ok(Parsed::Print(version()));
                }
                _ => FLAGS
                    .iter()
                    .find(|f| f.long.as_bytes() == name && f.applies_to(parser.sub))
                    .ok_or_else(|| parser.unexpected(&arg))?,
            };
            let value = match inline {
                Some(v) => v,
                None => parser.value_after(flag, &mut args)?,
            };
            parser.set(flag, value)?;
        } else if bytes.len() > 1 && bytes[0] == b'-' {
            match bytes[1] {
                b'h' => return Ok(Parsed::Print(help(parser.sub))),
                b'V' if parser.sub.is_none() => return Ok(Parsed::Print(version())),
                short => {
                    let flag = FLAGS
                        .iter()
                        .find(|f| f.short == Some(short) && f.applies_to(parser.sub))
                        .ok_or_else(|| {
                            parser.unexpected(&OsString::from_vec(bytes[..2].to_vec()))
                        })?;
                    let rest = &bytes[2..];
                    let value = match rest.strip_prefix(b"=").unwrap_or(rest) {
                        [] => parser.value_after(flag, &mut args)?,
                        v => OsString::from_vec(v.to_vec()),
                    };
                    parser.set(flag, value)?;
                }
            }
        } else if parser.sub.is_some() {
            return Err(parser.unexpected(&arg));
        } else {
            let sub = subcommand(&arg).ok_or_else(|| parser.unrecognized(&arg))?;
            if sub == Sub::Help {
                return help_command(&parser, args);
            }
            parser.sub = Some(sub);
        }
    }
    parser.finish(env_config)
}

/// `vitals help [COMMAND]`.
fn help_command(
    parser: &Parser,
    mut args: impl Iterator<Item = OsString>,
) -> Result<Parsed, UsageError> {
    let Some(name) = args.next() else {
        return Ok(Parsed::Print(help(None)));
    };
    let sub = subcommand(&name).ok_or_else(|| parser.unrecognized(&name))?;
    match args.next() {
        Some(extra) => Err(parser.unexpected(&extra)),
        None => Ok(Parsed::Print(help(Some(sub)))),
    }
}

fn subcommand(name: &OsString) -> Option<Sub> {
    SUBCOMMANDS
        .iter()
        .find(|s| s.name.as_bytes() == name.as_bytes())
        .map(|s| s.sub)
}

#[derive(Default)]
struct Parser {
    sub: Option<Sub>,
    seen: Vec<Key>,
    overrides: Overrides,
    format: Option<Format>,
    catalog_format: Option<CatalogFormat>,
    cost: Option<u32>,
}

impl Parser {
    fn error(&self, message: String) -> UsageError {
        UsageError {
            message,
            usage: usage(self.sub),
        }
    }

    fn unexpected(&self, arg: &OsString) -> UsageError {
        self.error(format!(
            "unexpected argument '{}' found",
            arg.to_string_lossy()
        ))
    }

    fn unrecognized(&self, arg: &OsString) -> UsageError {
        self.error(format!(
            "unrecognized subcommand '{}'",
            arg.to_string_lossy()
        ))
    }

    fn missing(&self, flag: &Flag) -> UsageError {
        self.error(format!(
            "a value is required for '{}' but none was supplied",
            flag.shown()
        ))
    }

    fn invalid(&self, flag: &Flag, value: &OsString, why: &str) -> UsageError {
        self.error(format!(
            "invalid value '{}' for '{}'{why}",
            value.to_string_lossy(),
            flag.shown()
        ))
    }

    /// The next argument as the flag's value, unless it is missing or another flag (as clap,
    /// a value that starts with `-` is given as `--flag=-value`; `-` alone is a value).
    fn value_after(
        &self,
        flag: &Flag,
        args: &mut impl Iterator<Item = OsString>,
    ) -> Result<OsString, UsageError> {
        match args.next() {
            Some(v) if v.len() > 1 && v.as_bytes()[0] == b'-' => Err(self.missing(flag)),
            Some(v) => Ok(v),
            None => Err(self.missing(flag)),
        }
    }

    fn set(&mut self, flag: &Flag, value: OsString) -> Result<(), UsageError> {
        if self.seen.contains(&flag.key) {
            return Err(self.error(format!(
                "the argument '{}' cannot be used multiple times",
                flag.shown()
            )));
        }
        if value.is_empty() {
            return Err(self.missing(flag));
        }
        self.seen.push(flag.key);
        match flag.key {
            Key::Config => self.overrides.file = Some(PathBuf::from(value)),
            Key::Procfs => self.overrides.procfs = Some(PathBuf::from(value)),
            Key::Sysfs => self.overrides.sysfs = Some(PathBuf::from(value)),
            Key::Rootfs => self.overrides.rootfs = Some(PathBuf::from(value)),
            Key::WebConfigFile => self.overrides.web_config_file = Some(PathBuf::from(value)),
            Key::Listen => {
                let addr = value.to_str().map(str::parse::<SocketAddr>);
                self.overrides.listen = Some(match addr {
                    Some(Ok(addr)) => addr,
                    Some(Err(e)) => return Err(self.invalid(flag, &value, &format!(": {e}"))),
                    None => return Err(self.invalid(flag, &value, ": not UTF-8")),
                });
            }
            Key::LogLevel => {
                self.overrides.log_level = Some(self.choose(flag, &value, &levels())?);
            }
            Key::LogFormat => {
                self.overrides.log_format = Some(self.choose(flag, &value, &log_formats())?);
            }
            Key::Format => self.format = Some(self.choose(flag, &value, &FORMATS)?),
            Key::CatalogFormat => {
                self.catalog_format = Some(self.choose(flag, &value, &CATALOG_FORMATS)?);
            }
            Key::Cost => {
                let cost = match value.to_str().map(str::parse::<u32>) {
                    Some(Ok(cost)) => cost,
                    Some(Err(e)) => return Err(self.invalid(flag, &value, &format!(": {e}"))),
                    None => return Err(self.invalid(flag, &value, ": not UTF-8")),
                };
                if !COSTS.contains(&cost) {
                    let why = format!(": {cost} is not in {}..={}", COSTS.start(), COSTS.end());
                    return Err(self.invalid(flag, &value, &why));
                }
                self.cost = Some(cost);
            }
        }
        Ok(())
    }

    fn choose<T: Copy>(
        &self,
        flag: &Flag,
        value: &OsString,
        choices: &Choices<T>,
    ) -> Result<T, UsageError> {
        match choices
            .iter()
            .find(|(name, _, _)| name.as_bytes() == value.as_bytes())
        {
            Some(&(_, _, v)) => Ok(v),
            None => {
                let names: Vec<&str> = choices.iter().map(|(name, _, _)| *name).collect();
                let why = format!("\n  [possible values: {}]", names.join(", "));
                Err(self.invalid(flag, value, &why))
            }
        }
    }

    fn finish(mut self, env_config: Option<OsString>) -> Result<Parsed, UsageError> {
        if self.overrides.file.is_none()
            && let Some(file) = env_config
        {
            if file.is_empty() {
                return Err(self.error(format!(
                    "{CONFIG_ENV} is set but empty: a value is required for '--config <FILE>'"
                )));
            }
            self.overrides.file = Some(PathBuf::from(file));
        }
        let command = match self.sub.unwrap_or(Sub::Run) {
            // `help` printed and returned as it was parsed.
            Sub::Run | Sub::Help => Command::Run,
            Sub::CheckConfig => Command::CheckConfig,
            Sub::PrintDefaultConfig => Command::PrintDefaultConfig,
            Sub::Once => Command::Once {
                format: self.format.unwrap_or(Format::Prometheus),
            },
            Sub::ListMetrics => Command::ListMetrics {
                format: self.catalog_format.unwrap_or(CatalogFormat::Markdown),
            },
            Sub::StatfsHelper => Command::StatfsHelper,
            Sub::HashPassword => Command::HashPassword {
                cost: self.cost.unwrap_or(auth::DEFAULT_COST),
            },
        };
        Ok(Parsed::Command(command, self.overrides))
    }
}

fn version() -> String {
    format!("vitals {}\n", env!("CARGO_PKG_VERSION"))
}

fn name_of(sub: Sub) -> &'static str {
    SUBCOMMANDS
        .iter()
        .find(|s| s.sub == sub)
        .map_or("", |s| s.name)
}

fn usage(sub: Option<Sub>) -> String {
    match sub {
        None => "vitals [OPTIONS] [COMMAND]".into(),
        Some(Sub::Help) => "vitals help [COMMAND]".into(),
        Some(sub) => format!("vitals {} [OPTIONS]", name_of(sub)),
    }
}

/// The help of the program (`None`) or of one subcommand: what each flag does and its
/// default.
fn help(sub: Option<Sub>) -> String {
    let mut out = match sub {
        None => format!("vitals {}: {ABOUT}\n\n", env!("CARGO_PKG_VERSION")),
        Some(s) => {
            let about = SUBCOMMANDS
                .iter()
                .find(|i| i.sub == s)
                .map_or("", |i| i.about);
            format!("{about}\n\n")
        }
    };
    out += &format!("Usage: {}\n", usage(sub));
    if sub.is_none() {
        out += "\nCommands:\n";
        for s in SUBCOMMANDS.iter().filter(|s| !s.hidden) {
            out += &format!("  {:<22}{}\n", s.name, s.about);
        }
    }
    if sub == Some(Sub::Help) {
        return out;
    }
    let mut rows: Vec<(String, String)> = FLAGS
        .iter()
        .filter(|f| f.applies_to(sub))
        .map(|f| {
            let short = f
                .short
                .map_or("    ".into(), |c| format!("-{}, ", c as char));
            (format!("{short}{}", f.shown()), f.describe())
        })
        .collect();
    rows.push(("-h, --help".into(), "Print help".into()));
    if sub.is_none() {
        rows.push(("-V, --version".into(), "Print version".into()));
    }
    let width = rows.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
    out += match sub {
        None => "\nOptions (also accepted after the command):\n",
        Some(_) => "\nOptions:\n",
    };
    for (flag, text) in rows {
        out += &format!("  {flag:<width$}  {text}\n");
    }
    if sub.is_none() {
        out += &format!("\n{AFTER_HELP}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn command(args: &[&str]) -> (Command, Overrides) {
        match parse(os(args), None) {
            Ok(Parsed::Command(c, o)) => (c, o),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn printed(args: &[&str]) -> String {
        match parse(os(args), None) {
            Ok(Parsed::Print(text)) => text,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        match parse(os(args), None) {
            Err(e) => e.to_string(),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn no_subcommand_runs_the_daemon() {
        let (c, o) = command(&[]);
        assert_eq!(c, Command::Run);
        assert!(o.file.is_none() && o.listen.is_none() && o.log_level.is_none());
        assert_eq!(command(&["run"]).0, Command::Run);
    }

    #[test]
    fn every_global_flag_in_each_form_before_or_after_the_subcommand() {
        let all = [
            "--config",
            "/etc/v.toml",
            "--listen",
            "127.0.0.1:9100",
            "--procfs",
            "/host/proc",
            "--sysfs",
            "/host/sys",
            "--rootfs",
            "/host/root",
            "--log-level",
            "debug",
            "--log-format",
            "json",
            "--web.config.file",
            "/etc/web.yml",
        ];
        let joined: Vec<String> = all
            .chunks(2)
            .map(|pair| format!("{}={}", pair[0], pair[1]))
            .collect();
        let joined: Vec<&str> = joined.iter().map(String::as_str).collect();
        for args in [
            [&["check-config"][..], &all].concat(),
            [&all[..], &["check-config"]].concat(),
            [&["check-config"][..], &joined].concat(),
            [&joined[..4], &["check-config"], &joined[4..]].concat(),
        ] {
            let (c, o) = command(&args);
            assert_eq!(c, Command::CheckConfig, "{args:?}");
            assert_eq!(o.file, Some("/etc/v.toml".into()));
            assert_eq!(o.listen, Some("127.0.0.1:9100".parse().unwrap()));
            assert_eq!(o.procfs, Some("/host/proc".into()));
            assert_eq!(o.sysfs, Some("/host/sys".into()));
            assert_eq!(o.rootfs, Some("/host/root".into()));
            assert_eq!(o.log_level, Some(LogLevel::Debug));
            assert_eq!(o.log_format, Some(LogFormat::Json));
            assert_eq!(o.web_config_file, Some("/etc/web.yml".into()));
        }
    }

    #[test]
    fn the_short_config_flag_in_each_form() {
        for args in [
            &["-c", "/x.toml"][..],
            &["-c/x.toml"],
            &["-c=/x.toml"],
            &["once", "-c", "/x.toml"],
        ] {
            assert_eq!(command(args).1.file, Some("/x.toml".into()), "{args:?}");
        }
        // "-" is a value, not a flag.
        assert_eq!(command(&["--config", "-"]).1.file, Some("-".into()));
        assert_eq!(command(&["--config=-x"]).1.file, Some("-x".into()));
    }

    #[test]
    fn the_environment_names_the_config_unless_the_flag_does() {
        let env = Some(OsString::from("/env.toml"));
        let file = |args: &[&str], env: Option<OsString>| match parse(os(args), env) {
            Ok(Parsed::Command(_, o)) => o.file,
            other => panic!("{other:?}"),
        };
        assert_eq!(file(&[], env.clone()), Some("/env.toml".into()));
        assert_eq!(file(&["-c", "/flag.toml"], env), Some("/flag.toml".into()));
        let empty = parse(os(&["check-config"]), Some(OsString::new())).unwrap_err();
        assert!(
            empty.to_string().contains("VITALS_CONFIG is set but empty"),
            "{empty}"
        );
    }

    #[test]
    fn paths_need_not_be_utf8() {
        let path = OsString::from_vec(b"/tmp/\xe9.toml".to_vec());
        let mut joined = b"--config=".to_vec();
        joined.extend_from_slice(path.as_bytes());
        for args in [
            vec![OsString::from("--config"), path.clone()],
            vec![OsString::from_vec(joined)],
        ] {
            match parse(args, None) {
                Ok(Parsed::Command(_, o)) => assert_eq!(o.file, Some(PathBuf::from(&path))),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_subcommands_and_their_own_flags() {
        assert_eq!(
            command(&["print-default-config"]).0,
            Command::PrintDefaultConfig
        );
        assert_eq!(command(&["statfs-helper"]).0, Command::StatfsHelper);
        let once = |format| Command::Once { format };
        assert_eq!(command(&["once"]).0, once(Format::Prometheus));
        assert_eq!(
            command(&["once", "--format", "openmetrics"]).0,
            once(Format::Openmetrics)
        );
        assert_eq!(
            command(&["once", "--format=prometheus"]).0,
            once(Format::Prometheus)
        );
        let list = |format| Command::ListMetrics { format };
        assert_eq!(command(&["list-metrics"]).0, list(CatalogFormat::Markdown));
        assert_eq!(
            command(&["list-metrics", "--format", "json"]).0,
            list(CatalogFormat::Json)
        );
        let hash = |cost| Command::HashPassword { cost };
        assert_eq!(command(&["hash-password"]).0, hash(auth::DEFAULT_COST));
        assert_eq!(command(&["hash-password", "--cost", "4"]).0, hash(4));
        assert_eq!(command(&["hash-password", "--cost=31"]).0, hash(31));
        // A trailing `--` ends the flags.
        assert_eq!(command(&["check-config", "--"]).0, Command::CheckConfig);
    }

    #[test]
    fn every_log_level_and_format_by_its_config_name() {
        for level in LogLevel::ALL {
            assert_eq!(
                command(&["--log-level", level.as_str()]).1.log_level,
                Some(level)
            );
        }
        for format in LogFormat::ALL {
            assert_eq!(
                command(&["--log-format", format.as_str()]).1.log_format,
                Some(format)
            );
        }
    }

    #[test]
    fn usage_errors_name_the_argument() {
        let cases: [(&[&str], &str); 17] = [
            (&["--bogus"], "unexpected argument '--bogus' found"),
            (&["-x"], "unexpected argument '-x' found"),
            (&["foo"], "unrecognized subcommand 'foo'"),
            (
                &["check-config", "extra"],
                "unexpected argument 'extra' found",
            ),
            (&["check-config", "run"], "unexpected argument 'run' found"),
            (
                &["--", "check-config"],
                "unexpected argument 'check-config' found",
            ),
            // A subcommand's flag belongs after it.
            (
                &["--format", "json", "list-metrics"],
                "unexpected argument '--format' found",
            ),
            (
                &["run", "--cost", "5"],
                "unexpected argument '--cost' found",
            ),
            (
                &["once", "--version"],
                "unexpected argument '--version' found",
            ),
            (
                &["--listen"],
                "a value is required for '--listen <ADDR>' but none was supplied",
            ),
            (&["--config="], "a value is required for '--config <FILE>'"),
            (
                &["-c", "--listen", "1.2.3.4:5"],
                "a value is required for '--config <FILE>'",
            ),
            (
                &["--listen", "nope"],
                "invalid value 'nope' for '--listen <ADDR>': invalid socket",
            ),
            (
                &["--log-level", "INFO"],
                "invalid value 'INFO' for '--log-level <LEVEL>'\n  [possible values: error, \
                 warn, info, debug, trace]",
            ),
            (
                &["once", "--format", "json"],
                "invalid value 'json' for '--format <FORMAT>'\n  [possible values: \
                 prometheus, openmetrics]",
            ),
            (
                &["hash-password", "--cost", "abc"],
                "invalid value 'abc' for '--cost <COST>': invalid digit found in string",
            ),
            (
                &[
                    "--listen",
                    "1.2.3.4:5",
                    "check-config",
                    "--listen=1.2.3.4:6",
                ],
                "the argument '--listen <ADDR>' cannot be used multiple times",
            ),
        ];
        for (args, expected) in cases {
            let e = error(args);
            assert!(
                e.starts_with(&format!("error: {expected}")),
                "{args:?}: {e}"
            );
            assert!(e.ends_with("For more information, try '--help'."), "{e}");
        }
        for cost in ["3", "32"] {
            let e = error(&["hash-password", "--cost", cost]);
            assert!(e.contains(&format!(
                "'{cost}' for '--cost <COST>': {cost} is not in 4..=31"
            )));
        }
        assert!(error(&["once", "--bogus"]).contains("Usage: vitals once [OPTIONS]"));
    }

    #[test]
    fn help_lists_every_flag_with_its_default_and_hides_the_helper() {
        let top = printed(&["--help"]);
        assert_eq!(top, printed(&["-h"]));
        assert_eq!(top, printed(&["help"]));
        assert!(top.starts_with(&format!("vitals {}:", env!("CARGO_PKG_VERSION"))));
        for s in SUBCOMMANDS.iter().filter(|s| !s.hidden) {
            assert!(
                top.contains(&format!("\n  {} ", s.name)),
                "{}: {top}",
                s.name
            );
        }
        assert!(!top.contains("statfs"), "{top}");
        for flag in FLAGS.iter().filter(|f| f.only.is_none()) {
            assert!(top.contains(&flag.shown()), "{}: {top}", flag.long);
        }
        assert!(top.contains("-c, --config <FILE>") && top.contains("[env: VITALS_CONFIG]"));
        assert!(
            top.contains("(server.listen; default 0.0.0.0:9977)"),
            "{top}"
        );
        assert!(top.contains("(log.level; default info) [possible values: error, warn"));
        assert!(top.contains("-V, --version"));
        assert!(!top.contains("--cost"), "{top}");

        let once = printed(&["once", "--help"]);
        assert_eq!(once, printed(&["help", "once"]));
        assert_eq!(
            once,
            printed(&["--listen", "1.2.3.4:5", "once", "-h", "--bogus"])
        );
        assert!(once.contains("Usage: vitals once [OPTIONS]"), "{once}");
        assert!(
            once.contains("prometheus (Prometheus text format 0.0.4)"),
            "{once}"
        );
        assert!(once.contains("[default: prometheus]") && once.contains("--web.config.file"));
        assert!(!once.contains("--version"), "{once}");
        let hash = printed(&["hash-password", "--help"]);
        assert!(
            hash.contains("--cost <COST>") && hash.contains("[default: 12]"),
            "{hash}"
        );
        assert!(printed(&["list-metrics", "-h"]).contains("[default: markdown]"));
        assert!(printed(&["statfs-helper", "--help"]).contains("statvfs"));
        assert!(printed(&["help", "help"]).contains("Usage: vitals help [COMMAND]"));
        assert!(error(&["help", "nope"]).contains("unrecognized subcommand 'nope'"));
        assert!(error(&["once", "--bogus", "-h"]).contains("'--bogus'"));
    }

    #[test]
    fn version_flag() {
        let v = format!("vitals {}\n", env!("CARGO_PKG_VERSION"));
        assert_eq!(printed(&["--version"]), v);
        assert_eq!(printed(&["-V"]), v);
        assert_eq!(printed(&["--listen", "1.2.3.4:5", "-V"]), v);
    }
}

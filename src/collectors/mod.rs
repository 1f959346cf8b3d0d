//! Collectors: one file per psutil domain. A collector fills a [`Snapshot`] when asked; its
//! name (its key in the [`collectors!`] table) and the metrics it may emit (its module's
//! `CATALOG`) come from the table, and the runner owns everything else (schedule, timeouts,
//! threads, health, publishing).
//!
//! Adding a domain: a file here with its `Settings` (`settings::plain_settings!`), its
//! `CATALOG` and its `Collector`, and one line in the [`collectors!`] table below. Config
//! parsing, building, the catalog, `list-metrics` and the registry all come from that table.

mod settings;

use std::time::Duration;

use crate::catalog::MetricDesc;
use crate::host::{HostError, HostPaths};
use crate::snapshot::Snapshot;

pub use settings::{CollectorSettings, Invalid};

/// What a collector does; who it is (its name, its catalog) is the table's, not its own.
pub trait Collector: Send + 'static {
    /// Reads the host into `out`. A failure of the whole reading is an `Err`; parts it could
    /// skip are recorded with [`Snapshot::skip`] and the rest is still published.
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError>;

    /// True when some metrics need two readings (rates, utilization); `vitals once` then
    /// collects twice.
    fn needs_two_readings(&self) -> bool {
        false
    }
}

/// When and how long a collector runs; every collector's settings carry one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub enabled: bool,
    pub interval: Duration,
    pub timeout: Duration,
}

/// What every collector is built with besides its own settings: where the host is, and the
/// daemon's one pool of statvfs helpers (which outlives the filesystem collectors a reload
/// rebuilds, so a mount still blocked is never asked again).
#[derive(Clone)]
pub struct Context {
    pub paths: HostPaths,
    pub statfs: std::sync::Arc<crate::statfs::StatfsPool>,
}

impl PartialEq for Context {
    fn eq(&self, other: &Self) -> bool {
        self.paths == other.paths && std::sync::Arc::ptr_eq(&self.statfs, &other.statfs)
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

/// A collector ready for the runner, under its name in the [`collectors!`] table (its registry
/// slot, its task, its `collector` label).
pub struct Scheduled {
    pub name: &'static str,
    pub collector: Box<dyn Collector>,
    pub schedule: Schedule,
}

/// One line per collector, in catalog order: its config key (= its module, `<key>.rs`, and its
/// name in labels) and how to build it from `(ctx: &Context, settings: &Settings)`. This is the only
/// list of collectors: it defines `[collectors]` of the config ([`Collectors`]), the built
/// collectors, their catalogs and their order everywhere.
macro_rules! collectors {
    ($($name:ident => |$ctx:ident, $s:ident| $make:expr),* $(,)?) => {
        $(pub mod $name;)*

        /// `[collectors]` of the config: the shared keys, then one section per collector.
        #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Collectors {
            /// A collector's last snapshot stops being served after this many intervals
            /// without a successful collection.
            pub stale_after: u32,
            $(pub $name: $name::Settings,)*
        }

        impl Default for Collectors {
            fn default() -> Self {
                Self {
                    stale_after: 3,
                    $($name: $name::Settings::default(),)*
                }
            }
        }

        /// Every collector's name, in table order.
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];

        impl Collectors {
            /// Each collector's name and schedule, in table order.
            pub fn schedules(&self) -> Vec<(&'static str, Schedule)> {
                vec![$((stringify!($name), self.$name.schedule())),*]
            }

            /// Each collector's own checks of its section: the first failure, with the
            /// collector's name.
            pub fn validate(&self) -> Result<(), (&'static str, Invalid)> {
                $(self.$name.validate().map_err(|e| (stringify!($name), e))?;)*
                Ok(())
            }

            /// True when the two configs give this collector the same section.
            pub fn same_section(&self, other: &Collectors, name: &str) -> bool {
                match name {
                    $(stringify!($name) => self.$name == other.$name,)*
                    _ => false,
                }
            }

            /// Builds the named collector from its section (enabled or not).
            pub fn build_one(&self, name: &str, ctx: &Context) -> Option<Scheduled> {
                match name {
                    $(stringify!($name) => {
                        let $ctx = ctx;
                        let $s = &self.$name;
                        let collector: Box<dyn Collector> = Box::new($make);
                        Some(Scheduled { name: stringify!($name), collector, schedule: $s.schedule() })
                    })*
                    _ => None,
                }
            }
        }

        /// Every collector's catalog, enabled or not, for `list-metrics` and docs.
        pub fn catalogs() -> Vec<(&'static str, &'static [&'static MetricDesc])> {
            vec![$((stringify!($name), $name::CATALOG)),*]
        }
    };
}

collectors! {
    cpu => |ctx, s| cpu::CpuCollector::new(ctx.paths.clone(), s),
    memory => |ctx, _s| memory::MemoryCollector::new(ctx.paths.clone()),
    sensors => |ctx, _s| sensors::SensorsCollector::new(ctx.paths.clone()),
    battery => |ctx, _s| battery::BatteryCollector::new(ctx.paths.clone()),
    host => |ctx, _s| host::HostCollector::new(ctx.paths.clone()),
    users => |ctx, s| users::UsersCollector::new(ctx.paths.clone(), s),
    processes => |ctx, s| processes::ProcessesCollector::new(ctx.paths.clone(), s),
    filesystem => |ctx, s| filesystem::FilesystemCollector::with_pool(ctx.paths.clone(), s, ctx.statfs.clone()),
    disk => |ctx, s| disk::DiskCollector::new(ctx.paths.clone(), s),
    network => |ctx, s| network::NetworkCollector::new(ctx.paths.clone(), s),
    interfaces => |ctx, s| interfaces::InterfacesCollector::new(ctx.paths.clone(), s),
    connections => |ctx, s| connections::ConnectionsCollector::new(ctx.paths.clone(), s),
    pressure => |ctx, _s| pressure::PressureCollector::new(ctx.paths.clone()),
    cgroups => |ctx, s| cgroups::CgroupsCollector::new(ctx.paths.clone(), s),
}

/// A collector's place in the table, which orders the registry and the runner's tasks;
/// names not in it (tests) go last.
pub fn position(name: &str) -> usize {
    NAMES.iter().position(|n| *n == name).unwrap_or(usize::MAX)
}

impl Collectors {
    /// The enabled collectors, in table order.
    pub fn build(&self, ctx: &Context) -> Vec<Scheduled> {
        self.schedules()
            .into_iter()
            .filter(|(_, s)| s.enabled)
            .filter_map(|(name, _)| self.build_one(name, ctx))
            .collect()
    }
}

//! Host data: where the host's files are ([`HostPaths`]), reading them, and pure parsers of
//! their text, one module per file format. Nothing outside this module names `/proc` or `/sys`.

pub mod bytes;
pub mod cpu_sysfs;
pub mod cpuinfo;
pub mod diskstats;
pub mod hwmon;
pub mod loadavg;
pub mod meminfo;
pub mod mounts;
pub mod net_dev;
pub mod net_if;
pub mod os_release;
pub mod passwd;
pub mod power_supply;
pub mod proc_net;
pub mod proc_pid_cgroup;
pub mod proc_pid_cmdline;
pub mod proc_pid_io;
pub mod proc_pid_limits;
pub mod proc_pid_smaps;
pub mod proc_pid_stat;
pub mod proc_pid_status;
pub mod proc_stat;
pub mod sock_diag;
pub mod utmp;
pub mod vmstat;

use std::io;
use std::path::{Path, PathBuf};

/// Roots of the host's filesystems. In a container these point at bind mounts of the host's
/// (`/host/proc`, `/host/sys`, `/host/root`); in tests, at fixture trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        Self {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
        }
    }
}

impl HostPaths {
    /// A whole host tree under one directory: `root/proc`, `root/sys` and `root` itself, as
    /// the fixture trees are laid out.
    pub fn under(root: &Path) -> HostPaths {
        HostPaths {
            procfs: root.join("proc"),
            sysfs: root.join("sys"),
            rootfs: root.to_path_buf(),
        }
    }

    pub fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }

    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }

    pub fn root(&self, rel: &str) -> PathBuf {
        self.rootfs.join(rel.trim_start_matches('/'))
    }

    /// True when `procfs` is a mounted proc filesystem (the live kernel's, in a container
    /// too) rather than a fixture tree: numbers only a syscall gives exactly may then come
    /// from the syscall.
    pub fn procfs_is_live(&self) -> bool {
        rustix::fs::statfs(&self.procfs).is_ok_and(|s| s.f_type == rustix::fs::PROC_SUPER_MAGIC)
    }
}

/// A failure reading or understanding a host file. `kind()` is the label value of
/// `vitals_collector_errors_total`.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("parsing {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
}

impl HostError {
    pub fn kind(&self) -> &'static str {
        match self {
            HostError::Read { .. } => "read",
            HostError::Parse { .. } => "parse",
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, HostError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// A parser's complaint, before it is tied to the file it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub fn at(self, path: &Path) -> HostError {
        HostError::Parse {
            path: path.to_path_buf(),
            detail: self.0,
        }
    }
}

pub fn read(path: &Path) -> Result<String, HostError> {
    std::fs::read_to_string(path).map_err(|source| HostError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads and parses in one step, attaching the path to either failure.
pub fn read_parsed<T>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, HostError> {
    let text = read(path)?;
    parse(&text).map_err(|e| e.at(path))
}

/// The file's text, or `None` when it cannot be read for any reason: psutil's treatment of
/// optional sysfs attributes (sensor labels, limits, battery files).
pub fn read_optional(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Reads a sysfs attribute holding one unsigned number.
pub fn read_u64(path: &Path) -> Result<u64, HostError> {
    read_parsed(path, |t| {
        t.trim()
            .parse::<u64>()
            .map_err(|e| ParseError(format!("{:?}: {e}", t.trim())))
    })
}

/// Names in a directory, sorted; a missing directory is an empty list.
pub fn list_dir(path: &Path) -> Result<Vec<String>, HostError> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HostError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Parses a whole number field, naming it in the error.
pub(crate) fn num<T: std::str::FromStr>(field: &str, what: &str) -> Result<T, ParseError>
where
    T::Err: std::fmt::Display,
{
    field
        .parse::<T>()
        .map_err(|e| ParseError(format!("{what}: {field:?}: {e}")))
}

#[cfg(test)]
mod tests {
    /// A fixture file and a function running every parser that reads that format.
    type ParserCase = (&'static str, fn(&str));

    /// Every parser on every prefix of every fixture file, and on byte-flipped copies:
    /// malformed host text is an error or a partial result, never a panic.
    #[test]
    fn parsers_never_panic_on_damaged_files() {
        let files: [ParserCase; 14] = [
            (include_str!("../../tests/fixtures/modern/proc/stat"), |t| {
                drop(super::proc_stat::parse_proc_stat(t))
            }),
            (
                include_str!("../../tests/fixtures/modern/proc/meminfo"),
                |t| {
                    if let Ok(m) = super::meminfo::parse_meminfo(t) {
                        super::meminfo::virtual_memory(&m, Some(1 << 40));
                    }
                },
            ),
            (
                include_str!("../../tests/fixtures/legacy/proc/zoneinfo"),
                |t| drop(super::meminfo::parse_zoneinfo_low(t)),
            ),
            (
                include_str!("../../tests/fixtures/modern/proc/cpuinfo"),
                |t| {
                    drop(super::cpuinfo::parse_cpuinfo_mhz(t));
                    drop(super::cpuinfo::parse_cpuinfo_cores(t));
                },
            ),
            (
                include_str!("../../tests/fixtures/modern/proc/vmstat"),
                |t| drop(super::vmstat::parse_vmstat(t)),
            ),
            (
                include_str!("../../tests/fixtures/modern/proc/loadavg"),
                |t| {
                    drop(super::loadavg::parse_loadavg(t));
                    drop(super::cpu_sysfs::parse_cpu_list(t));
                },
            ),
            (
                include_str!("../../tests/fixtures/modern/etc/os-release"),
                |t| drop(super::os_release::parse_os_release(t)),
            ),
            (
                include_str!("../../tests/fixtures/modern/proc/1044/stat"),
                |t| {
                    let _ = super::proc_pid_stat::parse_state_threads(t.as_bytes());
                    drop(super::utmp::users(t.as_bytes()));
                },
            ),
            (
                include_str!("../../tests/fixtures/filesystem-mounts/mounts"),
                |t| {
                    if let Ok(m) = super::mounts::parse_mounts(t) {
                        drop(super::mounts::distinct(&m, |_| true));
                    }
                    drop(super::mounts::partition_name(t, 8, 0));
                },
            ),
            (
                include_str!("../../tests/fixtures/disk-formats/diskstats-20"),
                |t| drop(super::diskstats::parse_diskstats(t)),
            ),
            (
                include_str!("../../tests/fixtures/network-edge/proc/net/dev"),
                |t| drop(super::net_dev::parse_net_dev(t)),
            ),
            (
                include_str!("../../tests/fixtures/modern/proc/net/tcp6"),
                |t| {
                    drop(super::proc_net::parse_inet_table(t));
                    super::proc_net::count_unix_table(t);
                },
            ),
            (
                include_str!("../../tests/fixtures/modern/proc/net/udp"),
                |t| drop(super::proc_net::parse_inet_table(t)),
            ),
            (
                include_str!("../../tests/fixtures/modern/proc/net/if_inet6"),
                |t| {
                    drop(super::proc_net::parse_if_inet6(t));
                    drop(super::net_if::parse_flags(t));
                    super::net_if::parse_speed(t);
                },
            ),
        ];
        for (text, parse) in files {
            for end in (0..=text.len()).filter(|i| text.is_char_boundary(*i)) {
                parse(&text[..end]);
            }
            for (i, replacement) in (0..text.len()).zip(
                [" ", "\n", "x", "-", ":", "99999999999999999999999"]
                    .iter()
                    .cycle(),
            ) {
                if text.is_char_boundary(i) && text.is_char_boundary(i + 1) {
                    parse(&format!("{}{}{}", &text[..i], replacement, &text[i + 1..]));
                }
            }
        }
    }
}

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

use std::ffi::OsString;
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
    pub fn kind(&self) -> crate::snapshot::ErrorKind {
        match self {
            HostError::Read { .. } => crate::snapshot::ErrorKind::Read,
            HostError::Parse { .. } => crate::snapshot::ErrorKind::Parse,
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

/// The file's bytes: for files holding host names, which need not be UTF-8 (interface and
/// disk names, sensor labels). [`read`] fails on the first byte that is not.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, HostError> {
    std::fs::read(path).map_err(|source| HostError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// [`read_parsed`] for a parser of bytes.
pub fn read_parsed_bytes<T>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, ParseError>,
) -> Result<T, HostError> {
    let bytes = read_bytes(path)?;
    parse(&bytes).map_err(|e| e.at(path))
}

/// [`read_optional`] for an attribute that may not be UTF-8 (a sensor's label or name).
pub fn read_optional_bytes(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
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

/// Names in a directory, sorted; a missing directory is an empty list. A name that is not
/// UTF-8 comes back lossily converted: use [`list_dir_os`] for names that become labels or
/// paths.
pub fn list_dir(path: &Path) -> Result<Vec<String>, HostError> {
    let mut names: Vec<String> = list_dir_os(path)?
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Names in a directory as the kernel gives them (bytes, not necessarily UTF-8), sorted by
/// their bytes; a missing directory is an empty list.
pub fn list_dir_os(path: &Path) -> Result<Vec<OsString>, HostError> {
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
    let mut names: Vec<OsString> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    names.sort();
    Ok(names)
}

/// Python's `str.strip()` on text psutil decodes with `surrogateescape`: Unicode whitespace
/// is removed from both ends, where a byte that is not UTF-8 is never whitespace.
pub fn strip(bytes: &[u8]) -> &[u8] {
    // Python's whitespace is Rust's plus the four ASCII separators U+001C..U+001F.
    let space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
    // Only the valid UTF-8 at either end can be whitespace.
    let head = bytes.utf8_chunks().next().map_or("", |c| c.valid());
    let bytes = &bytes[head.len() - head.trim_start_matches(space).len()..];
    let tail = match bytes.utf8_chunks().last() {
        Some(c) if c.invalid().is_empty() => c.valid(),
        _ => "",
    };
    &bytes[..bytes.len() - (tail.len() - tail.trim_end_matches(space).len())]
}

/// The fields of one line of bytes split on ASCII whitespace: `str::split_ascii_whitespace`
/// for text that may hold a name that is not UTF-8.
pub(crate) fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
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
    /// The same for a parser of bytes.
    type ByteParserCase = (&'static [u8], fn(&[u8]));

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
                    if let Ok(m) = super::mounts::parse_mounts(t.as_bytes()) {
                        drop(super::mounts::distinct(&m, |_| true));
                    }
                    drop(super::mounts::partition_name(t, 8, 0));
                },
            ),
            (
                include_str!("../../tests/fixtures/disk-formats/diskstats-20"),
                |t| drop(super::diskstats::parse_diskstats(t.as_bytes())),
            ),
            (
                include_str!("../../tests/fixtures/network-edge/proc/net/dev"),
                |t| drop(super::net_dev::parse_net_dev(t.as_bytes())),
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
                    drop(super::proc_net::parse_if_inet6(t.as_bytes()));
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

    /// The parsers of bytes on every prefix of their non-UTF-8 fixtures, and on copies with
    /// one byte replaced by one that is never UTF-8, or by a separator.
    #[test]
    fn byte_parsers_never_panic_on_damaged_files() {
        let files: [ByteParserCase; 3] = [
            (
                include_bytes!("../../tests/fixtures/non-utf8/proc/net/dev"),
                |t| drop(super::net_dev::parse_net_dev(t)),
            ),
            (
                include_bytes!("../../tests/fixtures/non-utf8/proc/diskstats"),
                |t| drop(super::diskstats::parse_diskstats(t)),
            ),
            (
                include_bytes!("../../tests/fixtures/non-utf8/proc/net/if_inet6"),
                |t| drop(super::proc_net::parse_if_inet6(t)),
            ),
        ];
        for (bytes, parse) in files {
            for end in 0..=bytes.len() {
                parse(&bytes[..end]);
                super::strip(&bytes[..end]);
            }
            for (i, b) in (0..bytes.len()).zip([0xffu8, 0xc3, b':', b'\n', b' '].iter().cycle()) {
                let mut damaged = bytes.to_vec();
                damaged[i] = *b;
                parse(&damaged);
            }
        }
    }

    #[test]
    fn strip_is_pythons_on_surrogateescaped_text() {
        use super::strip;
        assert_eq!(strip(b"  eth0 \n"), b"eth0");
        assert_eq!(strip(b"\x1c\tCPU\xc2\xa0"), b"CPU", "Python's whitespace");
        assert_eq!(strip(b" \xe9 "), b"\xe9");
        assert_eq!(strip(b"\xe9 a\xff"), b"\xe9 a\xff");
        assert_eq!(strip(b" \xff\xc2\xa0x\xc2\xa0 "), b"\xff\xc2\xa0x");
        assert_eq!(strip(b" \n "), b"");
        assert_eq!(strip(b""), b"");
    }
}

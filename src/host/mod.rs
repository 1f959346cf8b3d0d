//! Host data: where the host's files are ([`HostPaths`]), reading them, and pure parsers of
//! their text, one module per file format. Nothing outside this module names `/proc` or `/sys`.

pub mod bytes;
pub mod cgroup;
pub mod cgroup_names;
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
pub mod proc_pid_environ;
pub mod proc_pid_fd;
pub mod proc_pid_io;
pub mod proc_pid_limits;
pub mod proc_pid_smaps;
pub mod proc_pid_stat;
pub mod proc_pid_statm;
pub mod proc_pid_status;
pub mod proc_stat;
pub mod psi;
pub mod sock_diag;
pub mod taskstats;
pub mod taskstats_listener;
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
    /// The file holds more than its kind's [`Limit`]: counted as a parse error.
    #[error("parsing {path}: longer than {}, the most vitals reads of {}", .limit.describe_size(), .limit.what())]
    TooLarge { path: PathBuf, limit: Limit },
}

impl HostError {
    pub fn kind(&self) -> crate::error_kind::ErrorKind {
        match self {
            HostError::Read { .. } => crate::error_kind::ErrorKind::Read,
            HostError::Parse { .. } | HostError::TooLarge { .. } => {
                crate::error_kind::ErrorKind::Parse
            }
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
    /// The complaint about the file at `path`, cut to [`DETAIL_CHARS`]: it may quote a line of
    /// the host's text, which can be megabytes long.
    pub fn at(self, path: &Path) -> HostError {
        HostError::Parse {
            path: path.to_path_buf(),
            detail: crate::shorten::shorten(&self.0, DETAIL_CHARS).into_owned(),
        }
    }
}

/// The most characters of a parser's complaint a message keeps.
pub const DETAIL_CHARS: usize = 300;

/// The most vitals reads of one host file, by kind of file. Every read of a host file goes
/// through [`read_bytes_with`], so no file, however long (a `/proc/stat` that is a link to
/// `/dev/zero`, a FUSE file that never ends), is read until memory runs out: past its cap
/// the read stops and the file is [`HostError::TooLarge`], a parse error of that
/// collection. Each cap is far above what the kernel writes on the largest machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// 64 KiB: a sysfs attribute, or a file of one value or a few lines (`loadavg`,
    /// `uptime`, `sys/kernel/*`, `os-release`). The kernel writes a sysfs attribute into
    /// one page: 4 KiB, 64 KiB on arm64 and ppc64 kernels with 64 KiB pages.
    Attribute,
    /// 16 MiB: a /proc table that grows with the machine (`stat`, `meminfo`, `cpuinfo`,
    /// `diskstats`, `net/dev`, `mounts`, `partitions`). The largest, `cpuinfo`, takes about
    /// 2 KB a CPU: 16 MiB at the kernel's limit of 8,192 CPUs.
    Table,
    /// 64 MiB: `/proc/net/{tcp,tcp6,udp,udp6,unix}`, read where netlink is not (a fixture
    /// tree, a sandbox without sock_diag). About 150 bytes a socket: some 400,000 sockets.
    Sockets,
    /// [`utmp::MAX_RECORDS`] records of [`utmp::RECORD`] bytes (48 MiB).
    Utmp,
}

impl Limit {
    pub const fn bytes(self) -> u64 {
        match self {
            Limit::Attribute => 64 << 10,
            Limit::Table => 16 << 20,
            Limit::Sockets => 64 << 20,
            Limit::Utmp => (utmp::MAX_RECORDS * utmp::RECORD) as u64,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Limit::Attribute => "a sysfs attribute or one-value file",
            Limit::Table => "a /proc table",
            Limit::Sockets => "a /proc/net socket table",
            Limit::Utmp => "a utmp file (131,072 records)",
        }
    }

    fn describe_size(self) -> String {
        let b = self.bytes();
        if b.is_multiple_of(1 << 20) {
            format!("{} MiB", b >> 20)
        } else {
            format!("{} KiB", b >> 10)
        }
    }
}

/// The file's bytes, at most `limit` of them: the one read of a host file every other
/// helper here goes through. A file longer than its limit is [`HostError::TooLarge`].
pub fn read_bytes_with(path: &Path, limit: Limit) -> Result<Vec<u8>, HostError> {
    let mut bytes = Vec::new();
    read_into(path, limit, &mut bytes)?;
    Ok(bytes)
}

/// [`read_bytes_with`] into a buffer the caller reuses (emptied first): for a scan that
/// reads one small file per process or device.
pub fn read_into(path: &Path, limit: Limit, buf: &mut Vec<u8>) -> Result<(), HostError> {
    use std::io::Read;
    let failed = |source| HostError::Read {
        path: path.to_path_buf(),
        source,
    };
    buf.clear();
    let mut file = std::fs::File::open(path).map_err(failed)?;
    let cap = limit.bytes();
    // A regular file (utmp, a fixture tree) gives its size; /proc and /sys files give 0.
    let hint = file.metadata().map_or(0, |m| m.len()).min(cap);
    buf.reserve(usize::try_from(hint).unwrap_or(0));
    (&mut file).take(cap).read_to_end(buf).map_err(failed)?;
    if buf.len() as u64 == cap && !at_end(&mut file).map_err(failed)? {
        return Err(HostError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(())
}

/// True when nothing is left to read.
fn at_end(file: &mut std::fs::File) -> io::Result<bool> {
    use std::io::Read;
    let mut probe = [0u8; 1];
    loop {
        match file.read(&mut probe) {
            Ok(n) => return Ok(n == 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// [`read_bytes_with`] as text; a file that is not UTF-8 is a read error, as
/// `std::fs::read_to_string` has it.
pub fn read_with(path: &Path, limit: Limit) -> Result<String, HostError> {
    String::from_utf8(read_bytes_with(path, limit)?).map_err(|e| HostError::Read {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

/// A /proc table's text ([`Limit::Table`]).
pub fn read(path: &Path) -> Result<String, HostError> {
    read_with(path, Limit::Table)
}

/// A sysfs attribute's text ([`Limit::Attribute`]).
pub fn read_attribute(path: &Path) -> Result<String, HostError> {
    read_with(path, Limit::Attribute)
}

/// A /proc table's bytes ([`Limit::Table`]): for files holding host names, which need not
/// be UTF-8 (interface and disk names, mount points). [`read`] fails on the first byte that
/// is not.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, HostError> {
    read_bytes_with(path, Limit::Table)
}

/// [`read_parsed`] for a parser of bytes.
pub fn read_parsed_bytes<T>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, ParseError>,
) -> Result<T, HostError> {
    let bytes = read_bytes(path)?;
    parse(&bytes).map_err(|e| e.at(path))
}

/// Reads a /proc table and parses it in one step, attaching the path to either failure.
pub fn read_parsed<T>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, HostError> {
    read_parsed_with(path, Limit::Table, parse)
}

/// [`read_parsed`] with another limit.
pub fn read_parsed_with<T>(
    path: &Path,
    limit: Limit,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, HostError> {
    let text = read_with(path, limit)?;
    parse(&text).map_err(|e| e.at(path))
}

/// An optional sysfs attribute's text: `None` when it cannot be read for any reason
/// (psutil's treatment of sensor labels, limits, battery files), but an error when it is
/// longer than [`Limit::Attribute`], so that the collection counts it.
pub fn read_optional(path: &Path) -> Result<Option<String>, HostError> {
    optional(read_attribute(path))
}

/// [`read_optional`] for an attribute that may not be UTF-8 (a sensor's label or name).
pub fn read_optional_bytes(path: &Path) -> Result<Option<Vec<u8>>, HostError> {
    optional(read_bytes_with(path, Limit::Attribute))
}

fn optional<T>(read: Result<T, HostError>) -> Result<Option<T>, HostError> {
    match read {
        Ok(v) => Ok(Some(v)),
        Err(e @ HostError::TooLarge { .. }) => Err(e),
        Err(_) => Ok(None),
    }
}

/// Reads a sysfs attribute (or a /proc/sys file) holding one unsigned number.
pub fn read_u64(path: &Path) -> Result<u64, HostError> {
    read_parsed_with(path, Limit::Attribute, |t| {
        t.trim()
            .parse::<u64>()
            .map_err(|e| ParseError(format!("{:?}: {e}", t.trim())))
    })
}

/// The most names vitals takes from one directory listing: above the entries of a
/// `devices/system/cpu` with 8,192 CPUs and any real number of hwmon chips, thermal zones
/// or power supplies; a directory with more is broken or hostile, and a parse error.
pub const MAX_DIR_ENTRIES: usize = 65_536;

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
/// their bytes; a missing directory is an empty list, one of more than [`MAX_DIR_ENTRIES`]
/// names a parse error.
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
    let mut names = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        if names.len() == MAX_DIR_ENTRIES {
            return Err(HostError::Parse {
                path: path.to_path_buf(),
                detail: format!("more than {MAX_DIR_ENTRIES} entries"),
            });
        }
        names.push(entry.file_name());
    }
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
    fn reads_stop_at_the_cap() {
        use super::{HostError, Limit, read_attribute, read_bytes, read_optional};
        use crate::error_kind::ErrorKind;
        let dir = std::env::temp_dir().join(format!("vitals-cap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cap = Limit::Attribute.bytes() as usize;
        let at_cap = dir.join("at_cap");
        std::fs::write(&at_cap, vec![b'1'; cap]).unwrap();
        assert_eq!(read_attribute(&at_cap).unwrap().len(), cap);
        let over = dir.join("over");
        std::fs::write(&over, vec![b'1'; cap + 1]).unwrap();
        let err = read_attribute(&over).unwrap_err();
        assert!(matches!(err, HostError::TooLarge { .. }), "{err}");
        assert_eq!(err.kind(), ErrorKind::Parse);
        assert!(err.to_string().contains("longer than 64 KiB"), "{err}");
        assert!(read_optional(&over).is_err(), "over the cap is counted");
        assert_eq!(read_optional(&dir.join("missing")).unwrap(), None);
        // A file that never ends: 16 MiB read, then an error, not a read until out of memory.
        let err = read_bytes(std::path::Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("longer than 16 MiB"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn long_complaints_are_cut() {
        let e = super::ParseError("x".repeat(1 << 20)).at(std::path::Path::new("/p"));
        assert!(e.to_string().len() < 400, "{}", e.to_string().len());
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

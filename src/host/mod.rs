//! Host data: where the host's files are ([`HostPaths`]), reading them, and pure parsers of
//! their text, one module per file format. Nothing outside this module names `/proc` or `/sys`.

pub mod btf;
pub mod bytes;
pub mod cgroup;
pub mod cgroup_names;
pub mod cpu_freq;
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
#[cfg(test)]
pub mod scratch;
pub mod sock_diag;
pub mod task_free;
pub mod taskstats;
pub mod taskstats_listener;
pub mod uptime;
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

/// The most vitals reads of one file, by kind of file. Every file vitals reads goes through
/// [`read_capped_into`] (host files through [`read_bytes_with`], the config, web config and
/// PEM files through [`read_file`]), so no file, however long (a `/proc/stat` that is a link
/// to `/dev/zero`, a FUSE file that never ends, `--config /dev/zero`), is read until memory
/// runs out: past its cap the read stops; a host file is then [`HostError::TooLarge`], a
/// parse error of that collection. Each cap is far above what real files hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// 64 KiB: a sysfs attribute, or a file of one value or a few lines (`loadavg`,
    /// `uptime`, `sys/kernel/*`, `os-release`). The kernel writes a sysfs attribute into
    /// one page: 4 KiB, 64 KiB on arm64 and ppc64 kernels with 64 KiB pages.
    Attribute,
    /// 16 MiB: a /proc table that grows with the machine (`stat`, `meminfo`, `cpuinfo`,
    /// `diskstats`, `net/dev`, `mounts`, `partitions`). The largest, `cpuinfo`, takes about
    /// 2 KB a CPU: 16 MiB at the kernel's limit of 8,192 CPUs. Also `/etc/passwd`: some
    /// 200,000 accounts of 80 bytes.
    Table,
    /// 64 MiB: `/proc/net/{tcp,tcp6,udp,udp6,unix}`, read where netlink is not (a fixture
    /// tree, a sandbox without sock_diag). About 150 bytes a socket: some 400,000 sockets.
    Sockets,
    /// [`utmp::MAX_RECORDS`] records of [`utmp::RECORD`] bytes (48 MiB).
    Utmp,
    /// 64 MiB: the config file or the web config file. A real one is a few KB; room enough
    /// that a file with one absurd value still gets its message naming the key.
    Config,
    /// 1 MiB: a PEM file (TLS certificate, key or CA, for the listener or OTLP): a few KB.
    Pem,
}

impl Limit {
    pub const fn bytes(self) -> u64 {
        match self {
            Limit::Attribute => 64 << 10,
            Limit::Table => 16 << 20,
            Limit::Sockets => 64 << 20,
            Limit::Utmp => (utmp::MAX_RECORDS * utmp::RECORD) as u64,
            Limit::Config => 64 << 20,
            Limit::Pem => 1 << 20,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Limit::Attribute => "a sysfs attribute or one-value file",
            Limit::Table => "a /proc table",
            Limit::Sockets => "a /proc/net socket table",
            Limit::Utmp => "a utmp file (131,072 records)",
            Limit::Config => "a config file",
            Limit::Pem => "a PEM file",
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
    match read_capped_into(path, limit, buf) {
        Ok(true) => Ok(()),
        Ok(false) => Err(HostError::TooLarge {
            path: path.to_path_buf(),
            limit,
        }),
        Err(source) => Err(HostError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The one capped read of every file vitals reads: at most `limit` bytes into `buf`
/// (emptied first); false when the file holds more.
pub fn read_capped_into(path: &Path, limit: Limit, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    read_capped_from(&mut std::fs::File::open(path)?, limit.bytes(), buf)
}

/// [`read_capped_into`] from a file already open (one vitals also writes: the OTLP queue's),
/// appending at most `cap` bytes to `buf`; false when the file holds more.
pub fn read_capped_from(file: &mut std::fs::File, cap: u64, buf: &mut Vec<u8>) -> io::Result<bool> {
    use std::io::Read;
    // A regular file (utmp, a fixture tree) gives its size; /proc and /sys files give 0.
    let hint = file.metadata().map_or(0, |m| m.len()).min(cap);
    buf.reserve(usize::try_from(hint).unwrap_or(0));
    let before = buf.len();
    file.take(cap).read_to_end(buf)?;
    Ok((buf.len() - before) as u64 != cap || at_end(file)?)
}

/// A file that is not the host's (the config, the web config, a PEM file), capped like
/// host files: one longer than `limit` is an error saying so, not read to the end.
pub fn read_file(path: &Path, limit: Limit) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if read_capped_into(path, limit, &mut buf)? {
        Ok(buf)
    } else {
        Err(io::Error::other(format!(
            "larger than {} bytes, the most vitals reads of {}",
            limit.bytes(),
            limit.what()
        )))
    }
}

/// [`read_file`] as UTF-8 text.
pub fn read_file_text(path: &Path, limit: Limit) -> io::Result<String> {
    String::from_utf8(read_file(path, limit)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()))
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

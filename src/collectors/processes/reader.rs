//! Reading `/proc/<pid>/*` cheaply: the procfs directory is opened once per tick and each
//! file is opened relative to it; one buffer for file contents, one for directory entries
//! and one for the relative path are reused for every process and tick, so the steady state
//! allocates nothing per process. A file that vanishes with its process is not an error.

use std::fmt::Write as _;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir};
use rustix::io::Errno;

/// Why a file of a process could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The process exited (or the file does not exist on this kernel): not worth a word.
    Gone,
    /// Permission denied (ptrace access mode checks: other users' io, fd, smaps when
    /// unprivileged) or any other error: the value is left out and counted.
    Denied,
}

fn classify(e: Errno) -> Failure {
    if e == Errno::NOENT || e == Errno::SRCH {
        Failure::Gone
    } else {
        Failure::Denied
    }
}

/// Most bytes read of one per-process file: far above any `stat`, `status`, `io` or
/// `smaps_rollup` (about 1 KB each), and above a command line at the kernel's usual
/// argument limit (2 MiB), so memory stays bounded whatever a process or a tree holds.
pub const MAX_FILE: usize = 4 << 20;

pub struct Reader {
    dir: Option<OwnedFd>,
    path: String,
    buf: Vec<u8>,
    dirbuf: Vec<u8>,
}

impl Default for Reader {
    fn default() -> Self {
        Reader {
            dir: None,
            path: String::with_capacity(64),
            buf: vec![0; 4096],
            dirbuf: Vec::with_capacity(16 * 1024),
        }
    }
}

impl Reader {
    /// Opens the procfs directory for this tick and lists the numeric entries into `pids`, in
    /// ascending order.
    pub fn list(&mut self, procfs: &Path, pids: &mut Vec<u32>) -> std::io::Result<()> {
        pids.clear();
        let dir = rustix::fs::open(
            procfs,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut entries = RawDir::new(&dir, self.dirbuf.spare_capacity_mut());
        while let Some(entry) = entries.next() {
            if let Some(pid) = pid_of(entry?.file_name().to_bytes()) {
                pids.push(pid);
            }
        }
        // procfs lists pids in ascending order; a fixture directory may not. The order
        // decides which names get a group first under max_groups, and which children are
        // read before their parent.
        pids.sort_unstable();
        self.dir = Some(dir);
        Ok(())
    }

    /// The contents of `<procfs>/<pid>/<file>`, at most [`MAX_FILE`] bytes of it: a longer
    /// file (a huge command line, a hostile fixture) is cut there, and a record cut short
    /// fails its parser like any malformed one.
    pub fn read(&mut self, pid: u32, file: &str) -> Result<&[u8], Failure> {
        let fd = self.open(pid, file, OFlags::RDONLY)?;
        let mut n = 0;
        loop {
            if n == self.buf.len() {
                if self.buf.len() >= MAX_FILE {
                    break;
                }
                self.buf.resize((self.buf.len() * 2).min(MAX_FILE), 0);
            }
            match rustix::io::read(&fd, &mut self.buf[n..]) {
                Ok(0) => break,
                Ok(r) => {
                    n += r;
                    // procfs returns a whole record per read when the buffer can hold it,
                    // and a regular file returns less only at its end: a short read is the
                    // end, which saves the read that would return 0.
                    if n < self.buf.len() {
                        break;
                    }
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(classify(e)),
            }
        }
        Ok(&self.buf[..n])
    }

    /// `num_fds()`: the entries of `<procfs>/<pid>/fd`.
    pub fn count_fds(&mut self, pid: u32) -> Result<u64, Failure> {
        let fd = self.open(pid, "fd", OFlags::RDONLY | OFlags::DIRECTORY)?;
        let mut n = 0;
        let mut entries = RawDir::new(&fd, self.dirbuf.spare_capacity_mut());
        while let Some(entry) = entries.next() {
            let entry = entry.map_err(classify)?;
            let name = entry.file_name().to_bytes();
            // Only descriptor numbers: `.` and `..` are not fds (nor is a placeholder file
            // in a fixture tree).
            if name.first().is_some_and(u8::is_ascii_digit) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The numeric entries of `<procfs>/<pid>/<dir>` (`task`, `fd`) into `out`, ascending.
    pub fn entries(&mut self, pid: u32, dir: &str, out: &mut Vec<u32>) -> Result<(), Failure> {
        out.clear();
        let fd = self.open(pid, dir, OFlags::RDONLY | OFlags::DIRECTORY)?;
        let mut entries = RawDir::new(&fd, self.dirbuf.spare_capacity_mut());
        while let Some(entry) = entries.next() {
            if let Some(n) = pid_of(entry.map_err(classify)?.file_name().to_bytes()) {
                out.push(n);
            }
        }
        out.sort_unstable();
        Ok(())
    }

    /// The target of the link `<procfs>/<pid>/<file>` (`exe`, `fd/3`), as the kernel
    /// writes it (a deleted file's path ends in ` (deleted)`).
    pub fn readlink(&mut self, pid: u32, file: &str) -> Result<Vec<u8>, Failure> {
        let dir = self.dir.as_ref().ok_or(Failure::Gone)?;
        self.path.clear();
        let _ = write!(self.path, "{pid}/{file}");
        rustix::fs::readlinkat(dir, self.path.as_str(), Vec::new())
            .map(|c| c.into_bytes())
            .map_err(classify)
    }

    /// `len(open_files())`: the descriptors of `<procfs>/<pid>/fd` whose link is an absolute
    /// path, not deleted, to a regular file (psutil reads the link and stats that path; the
    /// stat here goes through the link, the same file while its path is not deleted).
    pub fn count_regular_files(&mut self, pid: u32, fds: &mut Vec<u32>) -> Result<u64, Failure> {
        self.entries(pid, "fd", fds)?;
        let mut n = 0;
        let mut file = String::new();
        for &fd in fds.iter() {
            file.clear();
            let _ = write!(file, "fd/{fd}");
            let Ok(target) = self.readlink(pid, &file) else {
                continue;
            };
            if !target.starts_with(b"/") || target.ends_with(b" (deleted)") {
                continue;
            }
            let Some(dir) = self.dir.as_ref() else {
                break;
            };
            self.path.clear();
            let _ = write!(self.path, "{pid}/{file}");
            if rustix::fs::statat(dir, self.path.as_str(), AtFlags::empty())
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
            {
                n += 1;
            }
        }
        Ok(n)
    }

    fn open(&mut self, pid: u32, file: &str, flags: OFlags) -> Result<OwnedFd, Failure> {
        let dir = self.dir.as_ref().ok_or(Failure::Gone)?;
        self.path.clear();
        let _ = write!(self.path, "{pid}/{file}");
        rustix::fs::openat(
            dir,
            self.path.as_str(),
            flags | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(classify)
    }

    /// Closes the procfs directory after a tick.
    pub fn close(&mut self) {
        self.dir = None;
    }
}

/// A directory name that is a pid.
fn pid_of(name: &[u8]) -> Option<u32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(name: &str) -> std::path::PathBuf {
        let root =
            std::env::temp_dir().join(format!("vitals-reader-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("7/fd")).unwrap();
        std::fs::create_dir_all(root.join("self")).unwrap();
        std::fs::write(root.join("7/stat"), "x".repeat(10_000)).unwrap();
        std::fs::write(root.join("7/fd/0"), "").unwrap();
        std::fs::write(root.join("7/fd/3"), "").unwrap();
        std::fs::write(root.join("7/fd/.keep"), "").unwrap();
        std::fs::create_dir_all(root.join("7/io")).unwrap();
        root
    }

    #[test]
    fn lists_pids_reads_files_and_counts_fds() {
        let root = tree("a");
        let mut r = Reader::default();
        let mut pids = Vec::new();
        r.list(&root, &mut pids).unwrap();
        assert_eq!(pids, [7]);
        assert_eq!(r.read(7, "stat").unwrap().len(), 10_000, "the buffer grows");
        assert_eq!(r.count_fds(7), Ok(2));
        let mut fds = Vec::new();
        assert_eq!(r.entries(7, "fd", &mut fds), Ok(()));
        assert_eq!(fds, [0, 3]);
        assert_eq!(
            r.count_regular_files(7, &mut fds),
            Ok(0),
            "not links: no path, no file"
        );
        assert_eq!(r.readlink(7, "exe"), Err(Failure::Gone));
        assert_eq!(r.read(7, "status"), Err(Failure::Gone));
        assert_eq!(r.read(8, "stat"), Err(Failure::Gone));
        assert_eq!(
            r.read(7, "io"),
            Err(Failure::Denied),
            "a directory: unreadable"
        );
        r.close();
        assert_eq!(r.read(7, "stat"), Err(Failure::Gone));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn pid_names() {
        assert_eq!(pid_of(b"1234"), Some(1234));
        assert_eq!(pid_of(b"self"), None);
        assert_eq!(pid_of(b""), None);
        assert_eq!(pid_of(b"99999999999"), None);
    }
}

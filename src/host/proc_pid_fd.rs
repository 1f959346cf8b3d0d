//! `/proc/<pid>/fd`: which sockets a process holds, the walk `ss -p` and psutil's
//! `net_connections()` make. Each entry is a link whose text names what the descriptor
//! refers to; a socket's is `socket:[<inode>]`, the inode sock_diag and `/proc/net/*` report
//! for the socket. One `readlink` per descriptor is the whole cost, so the walk reuses its
//! buffers: a directory buffer for the entries, a stack buffer for each link's text and a
//! string for the relative path, opened under a procfs directory the caller holds (any root:
//! the live `/proc`, a container's `/host/proc`, a fixture tree).

use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags, RawDir};
use rustix::io::Errno;

/// The inode of a socket descriptor's link text (`socket:[12345]`), `None` for anything else
/// (a file path, `pipe:[...]`, `anon_inode:[eventfd]`, a truncated or malformed text).
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Longest link text read: `socket:[` + 20 digits + `]` is 29 bytes. A longer text (a path)
/// is cut, and a cut text is never a socket's.
const LINK_MAX: usize = 64;

/// Walks descriptor directories with buffers reused for every process and tick.
pub struct FdWalker {
    path: String,
    dirbuf: Vec<u8>,
    pids: Vec<u32>,
}

impl Default for FdWalker {
    fn default() -> Self {
        FdWalker {
            path: String::with_capacity(32),
            dirbuf: Vec::with_capacity(16 * 1024),
            pids: Vec::new(),
        }
    }
}

/// What a walk of every process found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    /// Processes whose descriptors were read.
    pub read: usize,
    /// Processes whose descriptors could not be read (permission denied: another user's,
    /// when unprivileged). Processes that exited during the walk are in neither count.
    pub denied: usize,
}

impl FdWalker {
    /// Calls `each(pid, inode)` for every socket every process under `procfs` holds, pids in
    /// ascending order (a socket several processes hold, as a listener shared by a server's
    /// workers, comes once per holder). Fails only when `procfs` cannot be listed.
    pub fn every_process(
        &mut self,
        procfs: &Path,
        mut each: impl FnMut(u32, u64),
    ) -> std::io::Result<Walk> {
        let dir = rustix::fs::open(
            procfs,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut pids = std::mem::take(&mut self.pids);
        pids.clear();
        let mut entries = RawDir::new(&dir, self.dirbuf.spare_capacity_mut());
        while let Some(entry) = entries.next() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if let Some(pid) = std::str::from_utf8(name).ok().and_then(|n| n.parse().ok())
                && name.iter().all(u8::is_ascii_digit)
            {
                pids.push(pid);
            }
        }
        pids.sort_unstable();
        let mut walk = Walk::default();
        for &pid in &pids {
            match self.sockets(&dir, pid, |inode| each(pid, inode)) {
                Ok(_) => walk.read += 1,
                Err(Errno::NOENT | Errno::SRCH) => {}
                Err(_) => walk.denied += 1,
            }
        }
        self.pids = pids;
        Ok(walk)
    }

    /// Calls `each` with the inode of every socket process `pid` holds, reading
    /// `<procfs>/<pid>/fd` relative to `procfs`, an open procfs directory; returns how many
    /// descriptors were looked at. The errors are the kernel's: `NOENT`/`SRCH` when the
    /// process is gone, `ACCES`/`PERM` when its descriptors are not ours to read (another
    /// user's process, unprivileged). A descriptor closed during the walk is skipped, as is
    /// an entry that is not a link.
    pub fn sockets(
        &mut self,
        procfs: impl AsFd,
        pid: u32,
        mut each: impl FnMut(u64),
    ) -> Result<usize, Errno> {
        self.path.clear();
        let _ = write!(self.path, "{pid}/fd");
        let dir = rustix::fs::openat(
            procfs,
            self.path.as_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut seen = 0;
        let mut link = [0u8; LINK_MAX];
        let mut entries = RawDir::new(&dir, self.dirbuf.spare_capacity_mut());
        while let Some(entry) = entries.next() {
            let entry = entry?;
            let name = entry.file_name();
            if !name.to_bytes().first().is_some_and(u8::is_ascii_digit) {
                continue;
            }
            seen += 1;
            match rustix::fs::readlinkat_raw(&dir, name, &mut link[..]) {
                Ok(n) if n < LINK_MAX => {
                    if let Some(inode) = socket_inode(&link[..n]) {
                        each(inode);
                    }
                }
                // Closed meanwhile, or not a link (a plain file in a fixture tree).
                Ok(_) | Err(Errno::NOENT | Errno::INVAL) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links_give_their_inode() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"socket:[0]"), Some(0));
        assert_eq!(
            socket_inode(b"socket:[18446744073709551615]"),
            Some(u64::MAX)
        );
        for other in [
            &b"/dev/null"[..],
            b"pipe:[12345]",
            b"anon_inode:[eventfd]",
            b"socket:[]",
            b"socket:[12a]",
            b"socket:[-1]",
            b"socket:[12345",
            b"socket:[18446744073709551616]",
            b"socket:[123456789012345678901]",
            b"/tmp/socket:[1]",
            b"",
        ] {
            assert_eq!(
                socket_inode(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    fn procfs() -> std::os::fd::OwnedFd {
        rustix::fs::open(
            "/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn finds_the_sockets_this_process_holds() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = rustix::fs::fstat(&listener).unwrap().st_ino;
        let _file = std::fs::File::open("/proc/self/stat").unwrap();
        let mut w = FdWalker::default();
        for _ in 0..2 {
            let mut found = Vec::new();
            let seen = w
                .sockets(procfs(), std::process::id(), |i| found.push(i))
                .unwrap();
            assert!(found.contains(&inode), "{found:?} lacks {inode}");
            assert!(seen > found.len(), "the file is looked at, not reported");
        }
    }

    #[test]
    fn every_process_walk_finds_this_one_and_counts_the_unreadable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = rustix::fs::fstat(&listener).unwrap().st_ino;
        let mut w = FdWalker::default();
        let mut holders = Vec::new();
        let walk = w
            .every_process(Path::new("/proc"), |pid, i| {
                if i == inode {
                    holders.push(pid);
                }
            })
            .unwrap();
        assert_eq!(holders, [std::process::id()]);
        assert!(walk.read >= 1, "{walk:?}");
        if std::fs::read_dir("/proc/1/fd").is_err() {
            assert!(
                walk.denied > 0,
                "pid 1's descriptors are not ours: {walk:?}"
            );
        }
        assert!(
            w.every_process(Path::new("/nonexistent"), |_, _| {})
                .is_err()
        );
    }

    #[test]
    fn a_missing_process_or_tree_is_the_kernels_error() {
        let mut w = FdWalker::default();
        assert_eq!(w.sockets(procfs(), u32::MAX, |_| {}), Err(Errno::NOENT));
        // A fixture tree whose fd entries are plain files: looked at, no sockets.
        let root = std::env::temp_dir().join(format!("vitals-fdwalk-{}", std::process::id()));
        std::fs::create_dir_all(root.join("7/fd")).unwrap();
        std::fs::write(root.join("7/fd/3"), "").unwrap();
        std::os::unix::fs::symlink("socket:[99]", root.join("7/fd/4")).unwrap();
        std::os::unix::fs::symlink("/".repeat(200), root.join("7/fd/5")).unwrap();
        std::fs::write(root.join("7/fd/.keep"), "").unwrap();
        let dir =
            rustix::fs::open(&root, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let mut found = Vec::new();
        let seen = w.sockets(&dir, 7, |i| found.push(i)).unwrap();
        assert_eq!((seen, found), (3, vec![99]));
        std::fs::remove_dir_all(&root).unwrap();
    }
}

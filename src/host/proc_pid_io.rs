//! `/proc/<pid>/io`: psutil's `io_counters()` (read_chars, write_chars, read_bytes,
//! write_bytes). Readable only with ptrace access to the process: as root, or for one's own
//! processes.

use super::proc_pid_status::first_number;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PidIo {
    /// Bytes passed to read-like syscalls (rchar): files, pipes, sockets, cache hits.
    pub rchar: u64,
    pub wchar: u64,
    /// Bytes fetched from storage (read_bytes).
    pub read_bytes: u64,
    /// Bytes sent to storage or dirtied in the page cache (write_bytes).
    pub write_bytes: u64,
    /// read and write syscalls (syscr, syscw: `read_count`, `write_count`); `None` when the
    /// line is missing.
    pub syscr: Option<u64>,
    pub syscw: Option<u64>,
}

/// `None` when one of the four lines is missing, where psutil raises.
pub fn parse_pid_io(text: &[u8]) -> Option<PidIo> {
    let (mut rchar, mut wchar, mut read, mut write) = (None, None, None, None);
    let (mut syscr, mut syscw) = (None, None);
    for line in text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let slot = match &line[..colon] {
            b"rchar" => &mut rchar,
            b"wchar" => &mut wchar,
            b"read_bytes" => &mut read,
            b"write_bytes" => &mut write,
            b"syscr" => &mut syscr,
            b"syscw" => &mut syscw,
            _ => continue,
        };
        *slot = first_number(&line[colon + 1..]);
    }
    Some(PidIo {
        rchar: rchar?,
        wchar: wchar?,
        read_bytes: read?,
        write_bytes: write?,
        syscr,
        syscw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_counters() {
        let text = b"rchar: 100\nwchar: 200\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\n\
            write_bytes: 8192\ncancelled_write_bytes: 0\n";
        assert_eq!(
            parse_pid_io(text),
            Some(PidIo {
                rchar: 100,
                wchar: 200,
                read_bytes: 4096,
                write_bytes: 8192,
                syscr: Some(3),
                syscw: Some(4),
            })
        );
        assert_eq!(parse_pid_io(b"rchar: 1\nwchar: 2\n"), None);
        assert_eq!(parse_pid_io(b""), None);
    }
}

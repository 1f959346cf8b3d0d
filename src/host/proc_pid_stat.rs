//! `/proc/<pid>/stat`: the state letter, parent, flags, fault and CPU counters, thread count,
//! start time and memory sizes of one process. The command name (field 2) may hold spaces,
//! parentheses and newlines, so it is taken between the first `(` and the last `)` and the
//! other fields are counted from that `)`, as psutil does.

/// psutil's `Process.status()` names for the state letters (`PROC_STATUSES`), in the order
/// vitals exports them. `X` and `x` are both `dead`.
pub const STATES: [&str; 11] = [
    "running",
    "sleeping",
    "disk-sleep",
    "stopped",
    "tracing-stop",
    "zombie",
    "dead",
    "wake-kill",
    "waking",
    "idle",
    "parked",
];

/// Index of `zombie` in [`STATES`].
pub const ZOMBIE: usize = 5;

/// `PF_KTHREAD` in the flags field: the task is a kernel thread.
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// Index into [`STATES`] of a state letter; `None` for a letter psutil does not know
/// (psutil returns `?`).
pub fn state_index(letter: u8) -> Option<usize> {
    Some(match letter {
        b'R' => 0,
        b'S' => 1,
        b'D' => 2,
        b'T' => 3,
        b't' => 4,
        b'Z' => 5,
        b'X' | b'x' => 6,
        b'K' => 7,
        b'W' => 8,
        b'I' => 9,
        b'P' => 10,
        _ => return None,
    })
}

/// The fields of one stat line that vitals uses. Times are in clock ticks, sizes in bytes
/// (`vsize`) and pages (`rss_pages`), as the kernel writes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PidStat<'a> {
    /// The command name as the kernel wrote it (at most 15 bytes for a process, longer for
    /// some kernel threads), possibly not UTF-8.
    pub comm: &'a [u8],
    pub state: u8,
    pub ppid: u32,
    pub flags: u32,
    pub minflt: u64,
    pub cminflt: u64,
    pub majflt: u64,
    pub cmajflt: u64,
    pub utime: u64,
    pub stime: u64,
    /// CPU time of the children this process has waited for (and of their waited-for
    /// children), added when each is reaped.
    pub cutime: u64,
    pub cstime: u64,
    pub num_threads: u64,
    /// Clock ticks after boot when the process started: with the pid, its identity.
    pub starttime: u64,
    pub vsize: u64,
    pub rss_pages: u64,
    /// The controlling terminal's device number (0: none), as `terminal()` decodes it.
    pub tty_nr: u64,
    /// `nice()`, -20..19.
    pub nice: i64,
    /// `cpu_num()`: the CPU the process last ran on; `None` on a line cut short.
    pub processor: Option<u64>,
    /// `cpu_times().iowait` in ticks (delayacct_blkio_ticks); `None` on a line cut short.
    pub blkio_ticks: Option<u64>,
}

impl PidStat<'_> {
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Parses one stat file; `None` when it is malformed or too short.
pub fn parse_pid_stat(stat: &[u8]) -> Option<PidStat<'_>> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let mut fields = stat[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let mut next = || fields.next();
    let state = *next()?.first()?;
    let ppid = unsigned(next()?)?;
    // pgrp session
    next()?;
    next()?;
    let tty_nr = signed(next()?)?;
    // tpgid
    next()?;
    let flags = unsigned(next()?)?;
    let minflt = unsigned(next()?)?;
    let cminflt = unsigned(next()?)?;
    let majflt = unsigned(next()?)?;
    let cmajflt = unsigned(next()?)?;
    let utime = unsigned(next()?)?;
    let stime = unsigned(next()?)?;
    let cutime = signed(next()?)?;
    let cstime = signed(next()?)?;
    // priority
    next()?;
    let nice = nice(next()?)?;
    let num_threads = signed(next()?)?;
    // itrealvalue
    next()?;
    let starttime = unsigned(next()?)?;
    let vsize = unsigned(next()?)?;
    let rss_pages = signed(next()?)?;
    // rsslim .. cnswap, exit_signal
    for _ in 0..14 {
        next();
    }
    let processor = next().and_then(signed);
    // rt_priority policy
    next();
    next();
    let blkio_ticks = next().and_then(unsigned);
    Some(PidStat {
        comm: &stat[open + 1..close],
        state,
        ppid: u32::try_from(ppid).ok()?,
        flags: u32::try_from(flags).ok()?,
        minflt,
        cminflt,
        majflt,
        cmajflt,
        utime,
        stime,
        cutime,
        cstime,
        num_threads,
        starttime,
        vsize,
        rss_pages,
        tty_nr,
        nice,
        processor,
        blkio_ticks,
    })
}

/// psutil's `terminal()` for a stat `tty_nr`: the device's path under /dev, `None` for no
/// terminal. psutil looks the device number up among /dev/tty* and /dev/pts/*; this decodes
/// it by the kernel's fixed numbering of those devices (pts: majors 136-143; tty: major 4,
/// minors below 64 virtual consoles, 64-255 serial ports; major 5 minor 0: /dev/tty).
pub fn terminal(tty_nr: u64) -> Option<String> {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match (major, minor) {
        (0, _) => None,
        (136..=143, m) => Some(format!("/dev/pts/{}", (major - 136) * 256 + m)),
        (4, m @ 0..=63) => Some(format!("/dev/tty{m}")),
        (4, m @ 64..=255) => Some(format!("/dev/ttyS{}", m - 64)),
        (5, 0) => Some("/dev/tty".into()),
        _ => None,
    }
}

/// A nice value as the kernel prints it (`%ld`, -20..19).
fn nice(field: &[u8]) -> Option<i64> {
    match field.strip_prefix(b"-") {
        Some(rest) => unsigned(rest)
            .and_then(|n| i64::try_from(n).ok())
            .map(|n| -n),
        None => unsigned(field).and_then(|n| i64::try_from(n).ok()),
    }
}

/// (state letter, num_threads) from the bytes of one stat file; `None` when malformed.
pub fn parse_state_threads(stat: &[u8]) -> Option<(u8, u64)> {
    parse_pid_stat(stat).map(|s| (s.state, s.num_threads))
}

fn unsigned(field: &[u8]) -> Option<u64> {
    if field.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &d in field {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// A field the kernel prints as signed (`%ld`) but that is never negative in practice; a
/// negative value reads as 0.
fn signed(field: &[u8]) -> Option<u64> {
    match field.strip_prefix(b"-") {
        Some(rest) => unsigned(rest).map(|_| 0),
        None => unsigned(field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] =
        b"4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 1200 30 4 5 15 3 60 70 20 0 7 0 \
                     123456 1000000 200 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0\n";

    #[test]
    fn fields_after_the_last_paren() {
        let s = parse_pid_stat(LINE).unwrap();
        assert_eq!(s.comm, b"a) b (c)");
        assert_eq!(s.state, b'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.flags, 4194560);
        assert!(!s.is_kernel_thread());
        assert_eq!((s.minflt, s.cminflt, s.majflt, s.cmajflt), (1200, 30, 4, 5));
        assert_eq!((s.utime, s.stime, s.cutime, s.cstime), (15, 3, 60, 70));
        assert_eq!(s.num_threads, 7);
        assert_eq!(s.starttime, 123456);
        assert_eq!(s.vsize, 1000000);
        assert_eq!(s.rss_pages, 200);
        assert_eq!((s.tty_nr, s.nice), (0, 0));
        assert_eq!((s.processor, s.blkio_ticks), (Some(0), None));
        assert_eq!(parse_state_threads(LINE), Some((b'S', 7)));
    }

    #[test]
    fn hostile_names_are_bytes() {
        let line = b"7 (x\n) (\xff\xfe)) I 2 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 0 -20 1 0 5 0 0 1 1";
        let s = parse_pid_stat(line).unwrap();
        assert_eq!(s.comm, b"x\n) (\xff\xfe)");
        assert_eq!(s.state, b'I');
        assert!(s.is_kernel_thread());
        // An empty name is a name.
        let s = parse_pid_stat(b"9 () R 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 0 0 1 0 5 0 0").unwrap();
        assert_eq!(s.comm, b"");
    }

    #[test]
    fn nice_terminal_cpu_and_iowait() {
        let line = b"5 (vi) S 1 5 5 34817 5 0 0 0 0 0 0 0 0 0 30 10 1 0 9 0 0 0 0 0 0 0 0 0 0 \
                     0 0 0 0 0 17 3 0 0 42 0 0\n";
        let s = parse_pid_stat(line).unwrap();
        assert_eq!((s.nice, s.tty_nr), (10, 34817));
        assert_eq!((s.processor, s.blkio_ticks), (Some(3), Some(42)));
        assert_eq!(terminal(s.tty_nr).as_deref(), Some("/dev/pts/1"));
        let s = parse_pid_stat(b"1 (a) S 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 39 -20 1 0 5 0 0").unwrap();
        assert_eq!((s.nice, s.processor, s.blkio_ticks), (-20, None, None));
    }

    #[test]
    fn terminals_by_device_number() {
        assert_eq!(terminal(0), None);
        assert_eq!(terminal(4 << 8 | 1).as_deref(), Some("/dev/tty1"));
        assert_eq!(terminal(4 << 8 | 64).as_deref(), Some("/dev/ttyS0"));
        assert_eq!(terminal(5 << 8).as_deref(), Some("/dev/tty"));
        // pts 300: major 137, minor 44.
        assert_eq!(terminal(137 << 8 | 44).as_deref(), Some("/dev/pts/300"));
        // minor above 255 sits in bits 20..31.
        assert_eq!(
            terminal(136 << 8 | (1 << 20)).as_deref(),
            Some("/dev/pts/256")
        );
    }

    #[test]
    fn malformed_lines_are_none() {
        assert_eq!(parse_state_threads(b"1 (init) Z 0"), None);
        assert_eq!(parse_state_threads(b"garbage"), None);
        assert_eq!(parse_pid_stat(b"1 )x( S 1"), None);
        assert_eq!(
            parse_pid_stat(b"1 (a) S 1 0 0 0 -1 0 x 0 0 0 0 0 0 0 0 0 1 0 5 0 0"),
            None
        );
    }

    #[test]
    fn negative_signed_fields_read_as_zero() {
        let s = parse_pid_stat(b"1 (a) S 1 0 0 0 -1 0 0 0 0 0 0 0 -5 0 0 0 1 0 5 0 -1").unwrap();
        assert_eq!((s.cutime, s.rss_pages), (0, 0));
    }

    #[test]
    fn letters_map_to_psutil_names() {
        assert_eq!(state_index(b'Z').map(|i| STATES[i]), Some("zombie"));
        assert_eq!(state_index(b'x').map(|i| STATES[i]), Some("dead"));
        assert_eq!(state_index(b'D').map(|i| STATES[i]), Some("disk-sleep"));
        assert_eq!(STATES[ZOMBIE], "zombie");
        assert_eq!(state_index(b'?'), None);
    }
}

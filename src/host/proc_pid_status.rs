//! `/proc/<pid>/status`: the real uid (psutil's `username()`), RSS, swap, the file-backed and
//! shared-memory parts of RSS (`memory_info().shared`), the context switches of the
//! thread-group leader (`num_ctx_switches()`), and whether it ignores SIGCHLD (the kernel
//! then reaps its children). Other lines are skipped unparsed.
//!
//! RSS comes from here rather than from `stat`: since Linux 6.2 the kernel keeps RSS in
//! per-CPU counters, and `stat` reports their fast approximate sum while `statm` (psutil's
//! `memory_info().rss`) and `status` report the exact one.

/// The lines vitals uses; a line that is absent (a kernel thread has no `Vm*` or `Rss*`
/// lines) is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PidStatus {
    pub real_uid: Option<u32>,
    pub rss_kib: Option<u64>,
    pub swap_kib: Option<u64>,
    pub rss_file_kib: Option<u64>,
    pub rss_shmem_kib: Option<u64>,
    pub voluntary_ctxt_switches: Option<u64>,
    pub nonvoluntary_ctxt_switches: Option<u64>,
    /// `uids()`: real, effective, saved.
    pub uids: Option<[u32; 3]>,
    /// `gids()`: real, effective, saved.
    pub gids: Option<[u32; 3]>,
    /// `len(cpu_affinity())`: the CPUs of Cpus_allowed_list.
    pub cpus_allowed: Option<u64>,
    /// SigIgn has SIGCHLD: the process's children are reaped by the kernel as they end.
    pub ignores_sigchld: bool,
}

/// SIGCHLD's bit in the SigIgn mask (signal n is bit n - 1).
const SIGCHLD_BIT: u64 = 1 << (17 - 1);

impl PidStatus {
    /// `memory_info().shared`: statm's shared pages are the file-backed and shmem pages,
    /// the two lines here, in kB.
    pub fn shared_bytes(&self) -> Option<u64> {
        Some(kib(self.rss_file_kib?.saturating_add(self.rss_shmem_kib?)))
    }

    /// `memory_info().rss`; 0 without a VmRSS line (a kernel thread or a zombie).
    pub fn rss_bytes(&self) -> u64 {
        kib(self.rss_kib.unwrap_or(0))
    }

    /// `memory_full_info().swap`; 0 without a VmSwap line.
    pub fn swap_bytes(&self) -> u64 {
        kib(self.swap_kib.unwrap_or(0))
    }
}

/// kB to bytes, saturating: a kernel never reports 16 EiB, a damaged file may.
fn kib(n: u64) -> u64 {
    n.saturating_mul(1024)
}

pub fn parse_pid_status(text: &[u8]) -> PidStatus {
    let mut s = PidStatus::default();
    for line in text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (key, rest) = (&line[..colon], &line[colon + 1..]);
        match key {
            b"Uid" => {
                s.real_uid = first_number(rest).and_then(|n| u32::try_from(n).ok());
                s.uids = three_ids(rest);
            }
            b"Gid" => s.gids = three_ids(rest),
            b"Cpus_allowed_list" => s.cpus_allowed = cpu_list_len(rest),
            b"SigIgn" => {
                s.ignores_sigchld = std::str::from_utf8(rest)
                    .ok()
                    .and_then(|t| u64::from_str_radix(t.trim(), 16).ok())
                    .is_some_and(|m| m & SIGCHLD_BIT != 0)
            }
            b"VmRSS" => s.rss_kib = first_number(rest),
            b"VmSwap" => s.swap_kib = first_number(rest),
            b"RssFile" => s.rss_file_kib = first_number(rest),
            b"RssShmem" => s.rss_shmem_kib = first_number(rest),
            b"voluntary_ctxt_switches" => s.voluntary_ctxt_switches = first_number(rest),
            b"nonvoluntary_ctxt_switches" => s.nonvoluntary_ctxt_switches = first_number(rest),
            _ => {}
        }
    }
    s
}

/// The first three ids of a `Uid:` or `Gid:` line (real, effective, saved).
fn three_ids(rest: &[u8]) -> Option<[u32; 3]> {
    let mut ids = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| std::str::from_utf8(t).ok()?.parse::<u32>().ok());
    Some([ids.next()??, ids.next()??, ids.next()??])
}

/// The number of CPUs in a cpu list such as `0-3,8,10-11`; `None` when malformed.
pub fn cpu_list_len(rest: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(rest).ok()?.trim();
    if text.is_empty() {
        return Some(0);
    }
    let mut n: u64 = 0;
    for part in text.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?),
            None => {
                let a = part.parse::<u64>().ok()?;
                (a, a)
            }
        };
        n = n.checked_add(b.checked_sub(a)?.checked_add(1)?)?;
    }
    Some(n)
}

/// The first whitespace-separated token of `rest` as an unsigned number.
pub(crate) fn first_number(rest: &[u8]) -> Option<u64> {
    let token = rest
        .split(|b| b.is_ascii_whitespace())
        .find(|t| !t.is_empty())?;
    std::str::from_utf8(token).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_affinity() {
        let s = parse_pid_status(
            b"Uid:\t1000\t0\t33\t0\nGid:\t5\t6\t7\t8\nCpus_allowed:\tf\nCpus_allowed_list:\t0-3,8,10-11\n",
        );
        assert_eq!(s.uids, Some([1000, 0, 33]));
        assert_eq!(s.gids, Some([5, 6, 7]));
        assert_eq!(s.real_uid, Some(1000));
        assert_eq!(s.cpus_allowed, Some(7));
        assert_eq!(cpu_list_len(b"0"), Some(1));
        assert_eq!(cpu_list_len(b"3-1"), None);
        assert_eq!(cpu_list_len(b"x"), None);
        assert_eq!(parse_pid_status(b"Uid:\t1\t2\n").uids, None);
    }

    #[test]
    fn sigchld_ignored() {
        // SIGPIPE (13) and SIGCHLD (17) ignored; SIGPIPE alone; a damaged mask.
        assert!(parse_pid_status(b"SigIgn:\t0000000000011000\n").ignores_sigchld);
        assert!(!parse_pid_status(b"SigIgn:\t0000000000001000\n").ignores_sigchld);
        assert!(!parse_pid_status(b"SigIgn:\tzz\n").ignores_sigchld);
    }

    #[test]
    fn the_used_lines() {
        let text = b"Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t33\t0\t0\t0\n\
            VmSize:\t  10000 kB\nVmRSS:\t    500 kB\nRssAnon:\t 100 kB\nRssFile:\t 380 kB\n\
            RssShmem:\t  20 kB\nVmSwap:\t      8 kB\nThreads:\t1\n\
            voluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t7\n";
        let s = parse_pid_status(text);
        assert_eq!(s.real_uid, Some(33));
        assert_eq!(s.rss_kib, Some(500));
        assert_eq!(s.swap_kib, Some(8));
        assert_eq!(s.shared_bytes(), Some(400 * 1024));
        assert_eq!(s.voluntary_ctxt_switches, Some(150));
        assert_eq!(s.nonvoluntary_ctxt_switches, Some(7));
    }

    #[test]
    fn a_kernel_thread_has_no_memory_lines() {
        let s = parse_pid_status(
            b"Name:\tkthreadd\nUid:\t0\t0\t0\t0\nvoluntary_ctxt_switches:\t3\nnonvoluntary_ctxt_switches:\t0\n",
        );
        assert_eq!(s.real_uid, Some(0));
        assert_eq!(s.swap_kib, None);
        assert_eq!(s.shared_bytes(), None);
        assert_eq!(parse_pid_status(b""), PidStatus::default());
        assert_eq!(parse_pid_status(b"Uid:\tx\n").real_uid, None);
    }
}

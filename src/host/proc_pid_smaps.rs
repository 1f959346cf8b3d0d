//! `/proc/<pid>/smaps_rollup`: psutil's `memory_full_info()` USS (the `Private_*` lines:
//! clean, dirty, hugetlb) and PSS. Reading it takes the target's mmap lock, which stalls a
//! large process while the kernel walks its page tables: vitals reads it only when asked.

/// (uss, pss) in bytes. An empty file gives zeros, as psutil's parser does.
pub fn parse_smaps_rollup(text: &[u8]) -> Option<(u64, u64)> {
    let (mut uss, mut pss) = (0u64, 0u64);
    for line in text.split(|&b| b == b'\n') {
        if line.starts_with(b"Private_") {
            let kib = super::proc_pid_status::first_number(line.split(|&b| b == b':').nth(1)?)?;
            uss = uss.checked_add(kib.checked_mul(1024)?)?;
        } else if let Some(rest) = line.strip_prefix(b"Pss:") {
            pss = super::proc_pid_status::first_number(rest)?.checked_mul(1024)?;
        }
    }
    Some((uss, pss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uss_is_every_private_line() {
        let text = b"00400000-7ffd0000 ---p 00000000 00:00 0    [rollup]\nRss:  800 kB\n\
            Pss:  500 kB\nPss_Anon:  300 kB\nPss_File:  200 kB\nShared_Clean:  300 kB\n\
            Private_Clean:  100 kB\nPrivate_Dirty:  300 kB\nPrivate_Hugetlb:  0 kB\nSwap:  0 kB\n";
        assert_eq!(parse_smaps_rollup(text), Some((400 * 1024, 500 * 1024)));
        assert_eq!(parse_smaps_rollup(b""), Some((0, 0)));
        assert_eq!(parse_smaps_rollup(b"Pss: x kB\n"), None);
    }
}

//! `/proc/<pid>/limits`: the soft limit on open files (RLIMIT_NOFILE), for the ratio of open
//! descriptors to what the process may open. Readable by everyone.

/// The soft `Max open files` limit; `None` when unlimited or absent.
pub fn parse_nofile_soft(text: &[u8]) -> Option<u64> {
    let line = text
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"Max open files"))?;
    super::proc_pid_status::first_number(line).filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit() {
        let text =
            b"Limit                     Soft Limit           Hard Limit           Units     \n\
            Max processes             95000                95000                processes \n\
            Max open files            1024                 524288               files     \n";
        assert_eq!(parse_nofile_soft(text), Some(1024));
        assert_eq!(
            parse_nofile_soft(
                b"Max open files            unlimited            unlimited            files\n"
            ),
            None
        );
        assert_eq!(parse_nofile_soft(b""), None);
    }
}

//! `/proc/<pid>/smaps_rollup`: psutil's `memory_full_info()` USS (the `Private_*` lines:
//! clean, dirty, hugetlb) and PSS. Reading it takes the target's mmap lock, which stalls a
//! large process while the kernel walks its page tables: vitals reads it only when asked.
//!
//! And `/proc/self/smaps`, the daemon's own mappings one by one: which of them hold only
//! clean pages of a file ([`clean_file_mappings`], for src/pages.rs).

/// The daemon's own mappings: always its own procfs, not the host's `procfs` root (in a
/// container that is the host's, where `self` is not this process).
pub const SELF_SMAPS: &str = "/proc/self/smaps";

/// A mapping whose resident pages can be unmapped and faulted in again from the file
/// unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanMapping {
    pub start: usize,
    pub len: usize,
    pub rss_kib: u64,
    pub path: String,
}

/// The mappings of an smaps text that are private, not writable, backed by a file, resident,
/// and have no anonymous (copy-on-write) and no dirty page: only there does unmapping lose
/// nothing. A mapping whose `Anonymous:` or `Private_Dirty:` line is missing or unreadable
/// is left out, as is anything after a header line that cannot be read.
pub fn clean_file_mappings(text: &[u8]) -> Vec<CleanMapping> {
    struct Entry {
        mapping: CleanMapping,
        eligible: bool,
        anonymous: Option<u64>,
        private_dirty: Option<u64>,
    }
    let keep = |e: Entry| {
        (e.eligible
            && e.anonymous == Some(0)
            && e.private_dirty == Some(0)
            && e.mapping.rss_kib > 0)
            .then_some(e.mapping)
    };
    let mut out = Vec::new();
    let mut current: Option<Entry> = None;
    for line in text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = &line[..colon];
        if key.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            let field = || super::proc_pid_status::first_number(&line[colon + 1..]);
            if let Some(e) = current.as_mut() {
                match key {
                    b"Rss" => e.mapping.rss_kib = field().unwrap_or(0),
                    b"Anonymous" => e.anonymous = field(),
                    b"Private_Dirty" => e.private_dirty = field(),
                    _ => {}
                }
            }
            continue;
        }
        // A header: `start-end perms offset dev inode [path]`; the colon was the device's.
        if let Some(done) = current.take() {
            out.extend(keep(done));
        }
        let Some(entry) = header(line) else {
            return out;
        };
        current = Some(entry);
    }
    out.extend(current.and_then(keep));
    return out;

    fn header(line: &[u8]) -> Option<Entry> {
        let line = std::str::from_utf8(line).ok()?;
        let mut fields = line.splitn(6, ' ');
        let (start, end) = fields.next()?.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        let perms = fields.next()?.as_bytes();
        let path = fields.nth(3).unwrap_or("").trim_start();
        let eligible = matches!(perms, [b'r', b'-', _, b'p']) && path.starts_with('/');
        Some(Entry {
            mapping: CleanMapping {
                start,
                len: end.checked_sub(start)?,
                rss_kib: 0,
                path: path.to_string(),
            },
            eligible,
            anonymous: None,
            private_dirty: None,
        })
    }
}

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

    const SMAPS: &str = include_str!("../../tests/fixtures/smaps/self.txt");

    #[test]
    fn only_clean_private_read_only_file_mappings_are_chosen() {
        let chosen = clean_file_mappings(SMAPS.as_bytes());
        let got: Vec<_> = chosen
            .iter()
            .map(|m| (m.start, m.len, m.rss_kib, m.path.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (0x5581_0000_0000, 0x1f_6000, 1092, "/usr/bin/vitals"),
                (0x5581_001f_6000, 0x462_000, 3712, "/usr/bin/vitals"),
                (
                    0x7f3a_1000_0000,
                    0x2_8000,
                    160,
                    "/usr/lib/x86_64-linux-gnu/libc.so.6"
                ),
                (
                    0x7f3a_1002_8000,
                    0x15_5000,
                    1140,
                    "/usr/lib/x86_64-linux-gnu/libc.so.6"
                ),
                (0x7f3a_2000_0000, 0x1000, 4, "/tmp/a file with spaces"),
            ]
        );
    }

    #[test]
    fn a_mapping_without_its_safety_lines_is_left_out() {
        let text = "7f00-8f00 r-xp 00000000 fd:01 12 /lib/x.so\nRss: 8 kB\nPrivate_Dirty: 0 kB\n";
        assert_eq!(clean_file_mappings(text.as_bytes()), []);
        let text = "7f00-8f00 r-xp 00000000 fd:01 12 /lib/x.so\nRss: 8 kB\nAnonymous: 0 kB\n\
            Private_Dirty: x kB\n";
        assert_eq!(clean_file_mappings(text.as_bytes()), []);
    }

    #[test]
    fn an_unreadable_header_ends_the_list() {
        let good = "7f00-8f00 r-xp 00000000 fd:01 12 /lib/x.so\nRss: 8 kB\nAnonymous: 0 kB\n\
            Private_Dirty: 0 kB\n";
        let text = format!("{good}zz-8f00 r-xp 0 fd:01 12 /lib/y.so\nRss: 8 kB\n{good}");
        assert_eq!(clean_file_mappings(text.as_bytes()).len(), 1);
        assert_eq!(clean_file_mappings(b"9000-8000 r-xp 0 fd:01 1 /x\n"), []);
        assert_eq!(clean_file_mappings(b""), []);
    }
}

//! `/proc/<pid>/limits`: the soft limit on open files (RLIMIT_NOFILE), for the ratio of open
//! descriptors to what the process may open, and every resource's soft and hard limit
//! (psutil's `rlimit()`, which asks prlimit(2) for the same numbers). Readable by everyone.

/// The kernel's row names and psutil's resource names (`RLIMIT_<NAME>` lower-cased), in the
/// kernel's order.
pub const RESOURCES: [(&str, &str); 16] = [
    ("Max cpu time", "cpu"),
    ("Max file size", "fsize"),
    ("Max data size", "data"),
    ("Max stack size", "stack"),
    ("Max core file size", "core"),
    ("Max resident set", "rss"),
    ("Max processes", "nproc"),
    ("Max open files", "nofile"),
    ("Max locked memory", "memlock"),
    ("Max address space", "as"),
    ("Max file locks", "locks"),
    ("Max pending signals", "sigpending"),
    ("Max msgqueue size", "msgqueue"),
    ("Max nice priority", "nice"),
    ("Max realtime priority", "rtprio"),
    ("Max realtime timeout", "rttime"),
];

/// One resource's limits; `None` is unlimited (psutil's `RLIM_INFINITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// psutil's name, from [`RESOURCES`].
    pub resource: &'static str,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// Every row whose name and both values parse, in file order.
pub fn parse_limits(text: &[u8]) -> Vec<Rlimit> {
    let mut out = Vec::with_capacity(RESOURCES.len());
    for line in text.split(|&b| b == b'\n') {
        let Some((rest, resource)) = RESOURCES.iter().find_map(|(row, name)| {
            line.strip_prefix(row.as_bytes())
                .filter(|r| r.first().is_some_and(u8::is_ascii_whitespace))
                .map(|r| (r, *name))
        }) else {
            continue;
        };
        let mut words = rest
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let (Some(soft), Some(hard)) = (words.next(), words.next()) else {
            continue;
        };
        let (Some(soft), Some(hard)) = (limit(soft), limit(hard)) else {
            continue;
        };
        out.push(Rlimit {
            resource,
            soft,
            hard,
        });
    }
    out
}

/// `unlimited` or a number: `Some(None)` or `Some(Some(n))`; `None` when neither.
fn limit(word: &[u8]) -> Option<Option<u64>> {
    if word == b"unlimited" {
        return Some(None);
    }
    Some(Some(std::str::from_utf8(word).ok()?.parse().ok()?))
}

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

    #[test]
    fn every_resource() {
        let text =
            b"Limit                     Soft Limit           Hard Limit           Units     \n\
            Max cpu time              unlimited            unlimited            seconds   \n\
            Max file size             1048576              unlimited            bytes     \n\
            Max processes             95000                95000                processes \n\
            Max open files            1024                 524288               files     \n\
            Max realtime timeout      unlimited            unlimited            us        \n\
            Max bogus                 1                    2                    x         \n\
            Max locked memory         x                    2                    bytes     \n";
        let l = parse_limits(text);
        assert_eq!(l.len(), 5);
        assert_eq!(
            l[1],
            Rlimit {
                resource: "fsize",
                soft: Some(1048576),
                hard: None
            }
        );
        assert_eq!(l[3].resource, "nofile");
        assert_eq!((l[3].soft, l[3].hard), (Some(1024), Some(524288)));
        assert_eq!(l[4].resource, "rttime");
        assert!(parse_limits(b"").is_empty());
    }
}

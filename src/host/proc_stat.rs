//! `/proc/stat`: CPU times per CPU and in total, context switches, interrupts, boot time.

use super::cpu_sysfs::MAX_CPUS;
use super::{ParseError, num};

/// psutil's `scputimes` fields on Linux, in `/proc/stat` order.
pub const CPU_FIELDS: [&str; 10] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
];

/// Ticks per field; `len` is how many fields this kernel reports (7 to 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTicks {
    pub ticks: [u64; 10],
    pub len: usize,
}

impl CpuTicks {
    pub fn fields(&self) -> &[u64] {
        &self.ticks[..self.len]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcStat {
    /// The aggregate `cpu` line.
    pub total: CpuTicks,
    /// `cpuN` lines as (N, ticks), in file order. Offline CPUs have no line.
    pub per_cpu: Vec<(u32, CpuTicks)>,
    pub ctxt: Option<u64>,
    /// First number of the `intr` line: all interrupts since boot.
    pub intr: Option<u64>,
    /// First number of the `softirq` line.
    pub softirq: Option<u64>,
    pub btime: Option<u64>,
    /// Processes and threads created since boot (the `processes` line).
    pub processes: Option<u64>,
}

/// Parses `/proc/stat`. Like psutil, the number of CPU fields is fixed by the aggregate line
/// and applied to every per-CPU line.
pub fn parse_proc_stat(text: &str) -> Result<ProcStat, ParseError> {
    let mut stat = ProcStat::default();
    let mut width = None;
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let Some(key) = words.next() else { continue };
        if key == "cpu" {
            let ticks = parse_ticks(words, 10, key)?;
            width = Some(ticks.len);
            stat.total = ticks;
        } else if let Some(n) = key.strip_prefix("cpu") {
            let n: u32 = num(n, "cpu line")?;
            // Each line becomes a dozen series: no more lines than the kernel has CPUs.
            if n >= MAX_CPUS || stat.per_cpu.len() == MAX_CPUS as usize {
                return Err(ParseError(format!(
                    "{key} line: more CPUs than the kernel's limit of {MAX_CPUS}"
                )));
            }
            let w = width.ok_or_else(|| ParseError(format!("{key} line before the cpu line")))?;
            stat.per_cpu.push((n, parse_ticks(words, w, key)?));
        } else {
            let first = || -> Result<Option<u64>, ParseError> {
                let w = line
                    .split_ascii_whitespace()
                    .nth(1)
                    .ok_or_else(|| ParseError(format!("{key} line without a value")))?;
                num(w, key).map(Some)
            };
            match key {
                "ctxt" => stat.ctxt = first()?,
                "intr" => stat.intr = first()?,
                "softirq" => stat.softirq = first()?,
                "btime" => stat.btime = first()?,
                "processes" => stat.processes = first()?,
                _ => {}
            }
        }
    }
    if width.is_none() {
        return Err(ParseError("no cpu line".into()));
    }
    Ok(stat)
}

fn parse_ticks<'a>(
    words: impl Iterator<Item = &'a str>,
    width: usize,
    key: &str,
) -> Result<CpuTicks, ParseError> {
    let mut t = CpuTicks::default();
    for w in words.take(width) {
        t.ticks[t.len] = num(w, key)?;
        t.len += 1;
    }
    if t.len < 4 {
        return Err(ParseError(format!(
            "{key} line has {} fields, want at least 4",
            t.len
        )));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_fields_are_kept() {
        let s = parse_proc_stat(
            "cpu  10 1 20 300 4 0 5 6 7 8\ncpu0 5 1 10 150 2 0 3 3 4 4\ncpu1 5 0 10 150 2 0 2 3 3 4\n\
             intr 1234 0 1 2\nctxt 999\nbtime 1700000000\nprocesses 77\nsoftirq 55 1 2\n",
        )
        .unwrap();
        assert_eq!(s.total.fields(), &[10, 1, 20, 300, 4, 0, 5, 6, 7, 8]);
        assert_eq!(s.per_cpu.len(), 2);
        assert_eq!(s.per_cpu[1].0, 1);
        assert_eq!(
            (s.ctxt, s.intr, s.softirq, s.btime, s.processes),
            (Some(999), Some(1234), Some(55), Some(1700000000), Some(77))
        );
    }

    #[test]
    fn old_kernels_without_guest_fields() {
        let s = parse_proc_stat("cpu 1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\n").unwrap();
        assert_eq!(s.total.len, 8);
        assert_eq!(s.per_cpu[0].1.fields(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(s.ctxt, None);
    }

    #[test]
    fn offline_cpus_keep_their_numbers() {
        let s =
            parse_proc_stat("cpu 1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\ncpu3 1 2 3 4 5 6 7\n").unwrap();
        assert_eq!(
            s.per_cpu.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![0, 3]
        );
    }

    #[test]
    fn malformed_text_is_an_error_not_a_panic() {
        for bad in [
            "",
            "cpu x 1 2 3",
            "cpu 1 2",
            "cpu0 1 2 3 4\n",
            "cpu 1 2 3 4\nctxt\n",
            "cpu 1 2 3 4\ncpuX 1 2 3 4",
            "cpu 1 2 3 4\ncpu8192 1 2 3 4",
            "cpu 1 2 3 4\ncpu4294967295 1 2 3 4",
        ] {
            assert!(parse_proc_stat(bad).is_err(), "{bad:?}");
        }
        let many = format!("cpu 1 2 3 4\n{}", "cpu0 1 2 3 4\n".repeat(8193));
        assert!(parse_proc_stat(&many).is_err(), "more lines than CPUs");
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    #[test]
    fn fixture_trees() {
        let modern =
            parse_proc_stat(include_str!("../../tests/fixtures/modern/proc/stat")).unwrap();
        assert_eq!((modern.total.len, modern.per_cpu.len()), (10, 4));
        assert_eq!(modern.per_cpu[3].1.fields()[8], 20125, "guest of cpu3");
        let legacy =
            parse_proc_stat(include_str!("../../tests/fixtures/legacy/proc/stat")).unwrap();
        assert_eq!((legacy.total.len, legacy.per_cpu.len()), (8, 2));
        assert_eq!(legacy.btime, Some(1300000000));
    }
}

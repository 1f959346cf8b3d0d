//! `/sys/devices/system/cpu`: the online list, topology and cpufreq attributes.

use super::{ParseError, num};

/// The most CPUs a Linux kernel can have (`CONFIG_NR_CPUS` is at most 8,192): a CPU number
/// at or above it, in a cpu list or a `/proc/stat` line, is an error for that file, so that a
/// list such as `0-4294967295` is never expanded.
pub const MAX_CPUS: u32 = 8192;

/// CPUs in a kernel cpu list such as `0-3,8,10-11`, in the list's order. Every CPU number is
/// below [`MAX_CPUS`] and the list holds at most that many, repeats included, so the result
/// is bounded whatever the text.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, ParseError> {
    let mut cpus = Vec::new();
    let cpu = |s: &str| -> Result<u32, ParseError> {
        let n: u32 = num(s, "cpu list")?;
        if n >= MAX_CPUS {
            return Err(ParseError(format!(
                "cpu list names CPU {n}, beyond the kernel's limit of {MAX_CPUS} CPUs"
            )));
        }
        Ok(n)
    };
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (cpu(a)?, cpu(b)?),
            None => {
                let n = cpu(part)?;
                (n, n)
            }
        };
        if b < a {
            return Err(ParseError(format!(
                "cpu list range {part:?} goes backwards"
            )));
        }
        // Both ends are below MAX_CPUS, so the sum cannot overflow.
        if cpus.len() + (b - a) as usize >= MAX_CPUS as usize {
            return Err(ParseError(format!(
                "cpu list holds more than the kernel's limit of {MAX_CPUS} CPUs"
            )));
        }
        cpus.extend(a..=b);
    }
    Ok(cpus)
}

/// A cpufreq attribute in kHz (`scaling_cur_freq`: `2100000`).
pub fn parse_khz(text: &str) -> Result<u64, ParseError> {
    num(text.trim(), "cpufreq kHz")
}

/// The number in `cpu12` or `policy3`, for numeric sorting and labels.
pub fn trailing_number(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_list("0-2,5,7-8").unwrap(), vec![0, 1, 2, 5, 7, 8]);
        assert_eq!(parse_cpu_list("3").unwrap(), vec![3]);
        assert!(parse_cpu_list("2-1").is_err());
        assert!(parse_cpu_list("a").is_err());
        let online = include_str!("../../tests/fixtures/modern/sys/devices/system/cpu/online");
        assert_eq!(parse_cpu_list(online).unwrap(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn huge_and_hostile_lists_are_errors_not_allocations() {
        for text in [
            "0-4294967295",
            "0-4294967296",
            "4294967295",
            "0-8192",
            "8192",
            "0-8191,0",
            "0-4095,0-4095,0",
            "99999999999999999999-1",
        ] {
            assert!(parse_cpu_list(text).is_err(), "{text}");
        }
        assert_eq!(parse_cpu_list("0-8191").unwrap().len(), 8192);
        assert_eq!(parse_cpu_list("8191").unwrap(), vec![8191]);
        // Repeats count towards the cap: 4,096 parts of two CPUs each fill it exactly.
        let pairs = vec!["0-1"; 4096].join(",");
        assert_eq!(parse_cpu_list(&pairs).unwrap().len(), 8192);
        assert!(parse_cpu_list(&format!("{pairs},0")).is_err());
    }

    /// xorshift64: a small deterministic generator, so that a failure repeats.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// A CPU number: mostly small, often at the cap's edge, sometimes anything.
        fn number(&mut self) -> u64 {
            match self.below(6) {
                0 | 1 => self.below(64),
                2 => 8188 + self.below(8),
                3 => [u64::from(u32::MAX), 1 << 32, u64::MAX][self.below(3) as usize],
                4 => self.below(1 << 33),
                _ => self.below(8192),
            }
        }
    }

    /// Property test: random lists of ranges and single CPUs, with numbers from 0 to
    /// u64::MAX, as text. The parser accepts exactly the lists whose numbers are all below
    /// MAX_CPUS, whose ranges go forwards and whose expansion holds at most MAX_CPUS CPUs,
    /// and then gives that expansion; it never panics. Damaged copies of the same texts
    /// only have to give an error or a bounded list.
    #[test]
    fn cpu_list_property() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..4000 {
            let parts: Vec<(u64, u64)> = (0..1 + rng.below(6))
                .map(|_| {
                    let a = rng.number();
                    match rng.below(3) {
                        0 => (a, a),
                        1 => (a, rng.number()),
                        _ => (a, a.saturating_add(rng.below(40))),
                    }
                })
                .collect();
            let text = parts
                .iter()
                .map(|&(a, b)| {
                    if a == b && rng.below(2) == 0 {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect::<Vec<_>>()
                .join(",");
            let valid = parts
                .iter()
                .all(|&(a, b)| a <= b && b < u64::from(MAX_CPUS))
                && parts.iter().map(|&(a, b)| b - a + 1).sum::<u64>() <= u64::from(MAX_CPUS);
            let got = parse_cpu_list(&format!("{text}\n"));
            if valid {
                let want: Vec<u32> = parts
                    .iter()
                    .flat_map(|&(a, b)| a as u32..=b as u32)
                    .collect();
                assert_eq!(got.as_ref(), Ok(&want), "{text}");
            } else {
                assert!(got.is_err(), "{text}: {got:?}");
            }
            let mut damaged = text.into_bytes();
            let at = rng.below(damaged.len() as u64) as usize;
            damaged[at] = b"-,x 9"[rng.below(5) as usize];
            if let Ok(cpus) = parse_cpu_list(&String::from_utf8_lossy(&damaged)) {
                assert!(cpus.len() <= MAX_CPUS as usize);
                assert!(cpus.iter().all(|&c| c < MAX_CPUS));
            }
        }
    }

    #[test]
    fn khz() {
        assert_eq!(parse_khz("2100000\n"), Ok(2_100_000));
        assert!(parse_khz("").is_err());
        assert!(parse_khz("<unknown>\n").is_err());
    }

    #[test]
    fn numbers_in_names() {
        assert_eq!(trailing_number("cpu12", "cpu"), Some(12));
        assert_eq!(trailing_number("cpufreq", "cpu"), None);
        assert_eq!(trailing_number("policy3", "policy"), Some(3));
    }
}

#[cfg(test)]
mod fuzz_found {
    #[test]
    fn a_range_the_fuzzer_found_is_an_error_not_an_allocation() {
        assert!(super::parse_cpu_list("0000,08-402000010").is_err());
    }
}

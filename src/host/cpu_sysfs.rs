//! `/sys/devices/system/cpu`: the online list, topology and cpufreq attributes.

use super::{ParseError, num};

/// CPUs in a kernel cpu list such as `0-3,8,10-11`.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, ParseError> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (num(a, "cpu list")?, num(b, "cpu list")?);
                if b < a {
                    return Err(ParseError(format!(
                        "cpu list range {part:?} goes backwards"
                    )));
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(num(part, "cpu list")?),
        }
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

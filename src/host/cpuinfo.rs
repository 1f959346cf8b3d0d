//! `/proc/cpuinfo`: the per-CPU `cpu MHz` lines and the core count psutil falls back to.

use std::collections::HashMap;

use super::{ParseError, num};

/// Every `cpu MHz` value, in file order (psutil's `_cpu_get_cpuinfo_freq`).
pub fn parse_cpuinfo_mhz(text: &str) -> Result<Vec<f64>, ParseError> {
    text.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("cpu mhz"))
        .map(|l| {
            let v = l.split_once(':').map(|(_, v)| v.trim()).unwrap_or("");
            num(v, "cpu MHz")
        })
        .collect()
}

/// Physical cores as the sum of `cpu cores` over distinct `physical id`s, psutil's second
/// method when sysfs topology is missing. `None` when the file has neither key.
pub fn parse_cpuinfo_cores(text: &str) -> Result<Option<u64>, ParseError> {
    let mut per_package: HashMap<u64, u64> = HashMap::new();
    let (mut id, mut cores) = (None, None);
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.trim().to_ascii_lowercase();
        if line.is_empty() {
            if let (Some(i), Some(c)) = (id, cores) {
                per_package.insert(i, c);
            }
            (id, cores) = (None, None);
        } else if let Some((key, value)) = line.split_once(':') {
            match key.trim() {
                "physical id" => id = Some(num(value.trim(), "physical id")?),
                "cpu cores" => cores = Some(num(value.trim(), "cpu cores")?),
                _ => {}
            }
        }
    }
    let sum: u64 = per_package.values().sum();
    Ok((sum > 0).then_some(sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_SOCKETS: &str = "processor\t: 0\nphysical id\t: 0\ncpu cores\t: 2\ncpu MHz\t\t: 2445.426\n\n\
processor\t: 1\nphysical id\t: 0\ncpu cores\t: 2\ncpu MHz\t\t: 2400.000\n\n\
processor\t: 2\nphysical id\t: 1\ncpu cores\t: 4\ncpu MHz\t\t: 1200.5\n";

    #[test]
    fn mhz_per_cpu() {
        assert_eq!(
            parse_cpuinfo_mhz(TWO_SOCKETS).unwrap(),
            vec![2445.426, 2400.0, 1200.5]
        );
        assert!(parse_cpuinfo_mhz("cpu MHz : fast\n").is_err());
    }

    #[test]
    fn cores_per_package_are_summed() {
        assert_eq!(parse_cpuinfo_cores(TWO_SOCKETS).unwrap(), Some(6));
        assert_eq!(parse_cpuinfo_cores("processor : 0\n").unwrap(), None);
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    #[test]
    fn fixture_trees() {
        let modern = include_str!("../../tests/fixtures/modern/proc/cpuinfo");
        assert_eq!(parse_cpuinfo_mhz(modern).unwrap().len(), 4);
        assert_eq!(parse_cpuinfo_cores(modern).unwrap(), Some(2));
        let legacy = include_str!("../../tests/fixtures/legacy/proc/cpuinfo");
        assert_eq!(parse_cpuinfo_cores(legacy).unwrap(), Some(2));
    }
}

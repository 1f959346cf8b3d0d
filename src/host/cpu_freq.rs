//! psutil's `cpu_freq()` from `/sys/devices/system/cpu` (the cpufreq policies or per-CPU
//! cpufreq directories) and `/proc/cpuinfo`; the attribute parsers are in [`super::cpu_sysfs`].

use std::path::{Path, PathBuf};

use super::cpu_sysfs::{parse_khz, trailing_number};
use super::cpuinfo::parse_cpuinfo_mhz;
use super::{HostError, HostPaths, list_dir, read_attribute, read_optional, read_parsed, read_u64};

/// psutil's list of cpufreq directories: `cpufreq/policyN`, else `cpuN/cpufreq`, in
/// numeric order; empty without cpufreq.
pub fn frequency_dirs(paths: &HostPaths) -> Result<Vec<PathBuf>, HostError> {
    let cpu_dir = paths.sys("devices/system/cpu");
    let mut dirs: Vec<(u32, PathBuf)> = list_dir(&cpu_dir.join("cpufreq"))?
        .iter()
        .filter_map(|n| trailing_number(n, "policy").map(|i| (i, cpu_dir.join("cpufreq").join(n))))
        .collect();
    if dirs.is_empty() {
        dirs = list_dir(&cpu_dir)?
            .iter()
            .filter_map(|n| trailing_number(n, "cpu").map(|i| (i, cpu_dir.join(n).join("cpufreq"))))
            .filter(|(_, p)| p.is_dir())
            .collect();
    }
    dirs.sort_by_key(|(i, _)| *i);
    Ok(dirs.into_iter().map(|(_, p)| p).collect())
}

/// One entry of psutil's `cpu_freq(percpu=True)`, in hertz.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frequency {
    pub current_hz: f64,
    /// None where psutil reports 0.0 for min and max (no cpufreq).
    pub min_max_hz: Option<(f64, f64)>,
}

/// psutil's Linux `cpu_freq()`: cpufreq policies (or per-CPU cpufreq dirs) when they exist,
/// with the current value taken from /proc/cpuinfo when it lists exactly one MHz value per
/// policy; otherwise the cpuinfo MHz values alone.
///
/// Without one MHz value per policy, the current value is `scaling_cur_freq`, and only when
/// that cannot be read, `cpuinfo_cur_freq`. As psutil's `bcat(..., fallback=None)`, a file
/// that cannot be read for any reason is passed over: `cpuinfo_cur_freq` is readable by
/// root only, and every attribute of an offline CPU's policy fails with EBUSY. When neither
/// can be read, a CPU whose `online` is `0` reports zeros; any other is an error, as psutil
/// raises. A value that is read but is not a number is an error too (psutil's `int()`).
pub fn cpu_freq(paths: &HostPaths, dirs: &[PathBuf]) -> Result<Vec<Frequency>, HostError> {
    let mhz = match read_parsed(&paths.proc("cpuinfo"), parse_cpuinfo_mhz) {
        Ok(v) => v,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e),
    };
    if dirs.is_empty() {
        return Ok(mhz
            .into_iter()
            .map(|m| Frequency {
                current_hz: m * 1e6,
                min_max_hz: None,
            })
            .collect());
    }
    let cpu_dir = paths.sys("devices/system/cpu");
    let khz = |dir: &Path, file: &str| -> Result<Option<u64>, HostError> {
        let path = dir.join(file);
        read_optional(&path)?
            .map(|text| parse_khz(&text).map_err(|e| e.at(&path)))
            .transpose()
    };
    let mut out = Vec::with_capacity(dirs.len());
    for (i, dir) in dirs.iter().enumerate() {
        let current_hz = if dirs.len() == mhz.len() {
            mhz[i] * 1e6
        } else {
            let current = match khz(dir, "scaling_cur_freq")? {
                Some(v) => Some(v),
                None => khz(dir, "cpuinfo_cur_freq")?,
            };
            match current {
                Some(v) => v as f64 * 1e3,
                None => {
                    let online = cpu_dir.join(format!("cpu{i}")).join("online");
                    if read_attribute(&online).is_ok_and(|t| t == "0\n") {
                        out.push(Frequency {
                            current_hz: 0.0,
                            min_max_hz: Some((0.0, 0.0)),
                        });
                        continue;
                    }
                    return Err(HostError::Parse {
                        path: dir.clone(),
                        detail: "no readable current frequency file (scaling_cur_freq, cpuinfo_cur_freq)".into(),
                    });
                }
            }
        };
        let min = read_u64(&dir.join("scaling_min_freq"))? as f64 * 1e3;
        let max = read_u64(&dir.join("scaling_max_freq"))? as f64 * 1e3;
        out.push(Frequency {
            current_hz,
            min_max_hz: Some((min, max)),
        });
    }
    Ok(out)
}

/// Tests only: a copy of the modern fixture where cpuinfo has no MHz line, so the current
/// frequency comes from cpufreq, and where `cpuinfo_cur_freq` cannot be read. As root no
/// file mode stops a read, so the file is a directory (EISDIR), which fails the read as
/// EACCES does for a daemon that is not root.
#[cfg(test)]
pub(crate) fn unreadable_cpuinfo_cur_freq(test: &str) -> super::scratch::Scratch {
    let tree = super::scratch::Scratch::of("modern", test);
    let root = &tree.0;
    std::fs::write(root.join("proc/cpuinfo"), "processor : 0\n").unwrap();
    for i in 0..4 {
        let policy = root.join(format!("sys/devices/system/cpu/cpufreq/policy{i}"));
        std::fs::write(
            policy.join("scaling_cur_freq"),
            format!("{}\n", 1_000_000 + i),
        )
        .unwrap();
        std::fs::create_dir(policy.join("cpuinfo_cur_freq")).unwrap();
    }
    tree
}

/// Tests only: [`unreadable_cpuinfo_cur_freq`] where policy3's current frequency cannot
/// be read either (an inactive policy's attributes fail with EBUSY; a directory fails the
/// read too), and cpu3's `online` says `online`.
#[cfg(test)]
pub(crate) fn policy3_unreadable(test: &str, online: &str) -> super::scratch::Scratch {
    let tree = unreadable_cpuinfo_cur_freq(test);
    let policy3 = tree.0.join("sys/devices/system/cpu/cpufreq/policy3");
    std::fs::remove_file(policy3.join("scaling_cur_freq")).unwrap();
    std::fs::create_dir(policy3.join("scaling_cur_freq")).unwrap();
    std::fs::write(tree.0.join("sys/devices/system/cpu/cpu3/online"), online).unwrap();
    tree
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::scratch::Scratch;

    fn fixture(name: &str) -> HostPaths {
        HostPaths::under(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
        )
    }

    fn freq(p: &HostPaths) -> Result<Vec<Frequency>, HostError> {
        cpu_freq(p, &frequency_dirs(p)?)
    }

    #[test]
    fn frequency_follows_psutil_sources() {
        // cpufreq policies with one cpuinfo MHz line each: current comes from cpuinfo.
        let f = freq(&fixture("modern")).unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(
            f[2],
            Frequency {
                current_hz: 3101.558e6,
                min_max_hz: Some((400e6, 3400e6))
            }
        );
        // No cpufreq at all: cpuinfo alone, no min/max.
        let f = freq(&fixture("legacy")).unwrap();
        assert_eq!(
            f,
            vec![
                Frequency {
                    current_hz: 2200e6,
                    min_max_hz: None
                };
                2
            ]
        );
    }

    #[test]
    fn an_unreadable_cpuinfo_cur_freq_is_not_read_when_scaling_cur_freq_is() {
        let tree = unreadable_cpuinfo_cur_freq("freq-unreadable");
        let want: Vec<Frequency> = (0..4)
            .map(|i| Frequency {
                current_hz: (1_000_000 + i) as f64 * 1e3,
                min_max_hz: Some((400e6, 3400e6)),
            })
            .collect();
        assert_eq!(freq(&tree.paths()).unwrap(), want);
    }

    #[test]
    fn an_offline_policy_that_cannot_be_read_reports_zeros() {
        // Online but without a readable current frequency: psutil raises.
        let tree = policy3_unreadable("freq-online", "1\n");
        let err = freq(&tree.paths()).unwrap_err();
        assert!(err.to_string().contains("policy3"), "{err}");
        let tree = policy3_unreadable("freq-offline", "0\n");
        let f = freq(&tree.paths()).unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(f[2].current_hz, 1_000_002e3);
        assert_eq!(
            f[3],
            Frequency {
                current_hz: 0.0,
                min_max_hz: Some((0.0, 0.0))
            }
        );
    }

    #[test]
    fn a_current_frequency_that_is_not_a_number_is_an_error() {
        let tree = unreadable_cpuinfo_cur_freq("freq-garbage");
        let policy1 = tree.0.join("sys/devices/system/cpu/cpufreq/policy1");
        std::fs::write(policy1.join("scaling_cur_freq"), "<unknown>\n").unwrap();
        assert_eq!(freq(&tree.paths()).unwrap_err().kind(), "parse");
    }

    #[test]
    fn frequency_from_scaling_cur_freq_when_cpuinfo_disagrees() {
        let tree = Scratch::of("modern", "freq");
        std::fs::write(tree.0.join("proc/cpuinfo"), "processor : 0\n").unwrap();
        assert_eq!(freq(&tree.paths()).unwrap()[0].current_hz, 2100000e3);
    }
}

//! The battery: psutil's `sensors_battery()`, from `/sys/class/power_supply`.
//!
//! psutil 7.2.2's rules, kept exactly:
//! - the battery is the alphabetically first entry whose name starts with `BAT` or contains
//!   `battery` (any case); none means no battery;
//! - energy is `energy_now` else `charge_now`, power `power_now` else `current_now`, full
//!   `energy_full` else `charge_full` (so µWh and µAh, µW and µA may meet, as in psutil);
//! - percent = 100 x energy / full when both exist (0 when full is 0), else the integer in
//!   `capacity`; without either there is no battery reading at all;
//! - plugged: `AC0/online`, else `AC/online`, equal to 1; without them the battery's
//!   `status` (`discharging` is unplugged, `charging` and `full` plugged, anything else
//!   unknown). psutil looks at no other adapter name (`ADP1`, `ACAD`, a `Mains` type), so
//!   neither does vitals: on such laptops the status decides, as in psutil;
//! - seconds left: unlimited when plugged; else energy / |power| x 3600 (unknown when power
//!   is 0); else `time_to_empty_now` minutes x 60 (unknown when negative); else unknown.
//!
//! psutil would raise on a file holding something other than a whole number; vitals treats
//! such a file as missing.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{HostError, HostPaths, list_dir_os};

/// psutil's `POWER_TIME_UNLIMITED` / `POWER_TIME_UNKNOWN` / a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SecondsLeft {
    Unlimited,
    Unknown,
    Seconds(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Battery {
    /// The power_supply entry it was read from (`BAT0`): bytes, not necessarily UTF-8.
    pub name: OsString,
    /// psutil's `percent` (0-100, may exceed 100 on a worn battery's `energy_full`).
    pub percent: f64,
    pub secsleft: SecondsLeft,
    pub power_plugged: Option<bool>,
}

/// The files psutil reads, as whole numbers where it reads numbers; `None` when missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatteryFiles {
    pub energy_now: Option<i64>,
    pub power_now: Option<i64>,
    pub energy_full: Option<i64>,
    pub time_to_empty: Option<i64>,
    pub capacity: Option<i64>,
    pub ac_online: Option<i64>,
    pub status: Option<String>,
}

/// psutil's choice of battery among the power_supply entries (compared as bytes; only
/// ASCII letters can lower-case into `battery`).
pub fn pick_battery(entries: &[OsString]) -> Option<&OsString> {
    entries
        .iter()
        .filter(|n| {
            let n = n.as_bytes();
            n.starts_with(b"BAT")
                || n.to_ascii_lowercase()
                    .windows(b"battery".len())
                    .any(|w| w == b"battery")
        })
        .min()
}

/// psutil's arithmetic on the files; `None` when it returns None (no percent).
pub fn battery_from(name: &OsStr, f: &BatteryFiles) -> Option<Battery> {
    let percent = match (f.energy_now, f.energy_full) {
        (Some(now), Some(full)) => {
            if full == 0 {
                0.0
            } else {
                100.0 * now as f64 / full as f64
            }
        }
        _ => match f.capacity {
            Some(c) if c != -1 => c as f64,
            _ => return None,
        },
    };
    let power_plugged = match f.ac_online {
        Some(online) => Some(online == 1),
        None => match f.status.as_deref().map(|s| s.trim().to_lowercase()) {
            Some(s) if s == "discharging" => Some(false),
            Some(s) if s == "charging" || s == "full" => Some(true),
            _ => None,
        },
    };
    let secsleft = if power_plugged == Some(true) {
        SecondsLeft::Unlimited
    } else if let (Some(energy), Some(power)) = (f.energy_now, f.power_now) {
        if power == 0 {
            SecondsLeft::Unknown
        } else {
            // Python's int() truncates toward zero.
            SecondsLeft::Seconds((energy as f64 / power.unsigned_abs() as f64 * 3600.0) as i64)
        }
    } else if let Some(minutes) = f.time_to_empty {
        let secs = minutes.saturating_mul(60);
        if secs < 0 {
            SecondsLeft::Unknown
        } else {
            SecondsLeft::Seconds(secs)
        }
    } else {
        SecondsLeft::Unknown
    };
    Some(Battery {
        name: name.to_os_string(),
        percent,
        secsleft,
        power_plugged,
    })
}

fn whole(path: &Path) -> Result<Option<i64>, HostError> {
    Ok(super::read_optional(path)?.and_then(|t| t.trim().parse().ok()))
}

fn first_whole(dir: &Path, names: &[&str]) -> Result<Option<i64>, HostError> {
    for n in names {
        if let Some(v) = whole(&dir.join(n))? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// psutil's `sensors_battery()`: `None` without a battery (or without a percent).
pub fn battery(paths: &HostPaths) -> Result<Option<Battery>, HostError> {
    let class = paths.sys("class/power_supply");
    let entries = list_dir_os(&class)?;
    let Some(name) = pick_battery(&entries) else {
        return Ok(None);
    };
    let root = class.join(name);
    let files = BatteryFiles {
        energy_now: first_whole(&root, &["energy_now", "charge_now"])?,
        power_now: first_whole(&root, &["power_now", "current_now"])?,
        energy_full: first_whole(&root, &["energy_full", "charge_full"])?,
        time_to_empty: whole(&root.join("time_to_empty_now"))?,
        capacity: whole(&root.join("capacity"))?,
        ac_online: first_whole(&class, &["AC0/online", "AC/online"])?,
        status: super::read_optional(&root.join("status"))?,
    };
    Ok(battery_from(name, &files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_battery_by_name() {
        let e: Vec<OsString> = ["AC", "BAT1", "BAT0", "hidpp_battery_0", "Wacom_BATTERY"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(pick_battery(&e).and_then(|n| n.to_str()), Some("BAT0"));
        assert_eq!(pick_battery(&e[..1]), None);
        assert_eq!(
            pick_battery(&e[4..]).and_then(|n| n.to_str()),
            Some("Wacom_BATTERY")
        );
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/non-utf8");
        let b = battery(&HostPaths::under(&root)).unwrap().unwrap();
        assert_eq!(
            (b.name.as_bytes(), b.percent),
            (&b"BAT\xb9"[..], 100.0 * 38_420_000.0 / 50_450_000.0)
        );
    }

    #[test]
    fn energy_files_give_percent_and_seconds_left() {
        let f = BatteryFiles {
            energy_now: Some(30_000_000),
            power_now: Some(-10_000_000),
            energy_full: Some(40_000_000),
            ac_online: Some(0),
            ..Default::default()
        };
        let b = battery_from("BAT0".as_ref(), &f).unwrap();
        assert_eq!(b.percent, 75.0);
        assert_eq!(b.power_plugged, Some(false));
        assert_eq!(b.secsleft, SecondsLeft::Seconds(10800));
    }

    #[test]
    fn plugged_means_unlimited_and_zero_power_unknown() {
        let mut f = BatteryFiles {
            energy_now: Some(1),
            power_now: Some(0),
            energy_full: Some(0),
            status: Some("Full\n".into()),
            ..Default::default()
        };
        let b = battery_from("BAT0".as_ref(), &f).unwrap();
        assert_eq!((b.percent, b.secsleft), (0.0, SecondsLeft::Unlimited));
        f.status = Some("Unknown".into());
        let b = battery_from("BAT0".as_ref(), &f).unwrap();
        assert_eq!((b.power_plugged, b.secsleft), (None, SecondsLeft::Unknown));
    }

    #[test]
    fn capacity_and_time_to_empty_fallbacks() {
        let f = BatteryFiles {
            capacity: Some(42),
            time_to_empty: Some(-1),
            status: Some("Discharging".into()),
            ..Default::default()
        };
        let b = battery_from("BAT0".as_ref(), &f).unwrap();
        assert_eq!((b.percent, b.secsleft), (42.0, SecondsLeft::Unknown));
        let f = BatteryFiles {
            time_to_empty: Some(90),
            ..f
        };
        assert_eq!(
            battery_from("BAT0".as_ref(), &f).unwrap().secsleft,
            SecondsLeft::Seconds(5400)
        );
        assert_eq!(
            battery_from("BAT0".as_ref(), &BatteryFiles::default()),
            None
        );
    }
}

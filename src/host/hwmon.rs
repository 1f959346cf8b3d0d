//! Temperatures and fans: psutil's `sensors_temperatures()` and `sensors_fans()`, from
//! `/sys/class/hwmon/hwmon*/{temp,fan}*_*` (and the `device/` subdirectory older kernels
//! use), with `/sys/class/thermal/thermal_zone*` only when hwmon has no temperature at all.
//!
//! psutil's rules kept here (7.2.2, `_pslinux.py`):
//! - a sensor is every distinct `<dir>/<prefix>N` before the first `_` of a matching file;
//!   it is skipped when its `_input` or the chip's `name` cannot be read or parsed;
//! - temperatures are millidegrees Celsius; `_max` is psutil's `high`, `_crit` its
//!   `critical`, each absent when missing or not a number; `_label` is the label, else `""`;
//! - fans come from `hwmon*/fan*_*`, and from `hwmon*/device/fan*_*` only when the first
//!   finds nothing; the speed is the whole number in `_input`;
//! - thermal zones: `type` is the chip name, the label is `""`, `critical` comes from a trip
//!   point whose type is `critical` and `high` from one whose type is `high` (a type the
//!   kernel never writes, so it is always absent).
//!
//! - psutil's `sensors_temperatures()` wrapper (`__init__.py`) then fills a missing (or
//!   zero: it tests truthiness) limit from the other one: high without critical makes
//!   critical = high, critical without high makes high = critical ([`psutil_limits`]).
//!
//! Each sensor also gets an id psutil does not have, `<chip>:<sensor>` ([`chip_ids`]): the
//! chip is named by its device (the `device` link resolved, else the device directory the
//! chip sits in), which survives reboots where `hwmonN` does not, and told apart by its
//! `name` where one device has several chips.
//!
//! Chip names, labels and directory names are bytes, not necessarily UTF-8 (psutil decodes
//! them with `surrogateescape`); they are kept as bytes here and escaped where they become
//! labels.
//!
//! An attribute longer than the 64 KiB cap of a sysfs attribute (`Limit::Attribute`) is no
//! sensor's: it fails the temperatures (or the fans), counted as a parse error.
//!
//! Where psutil raises (a fan whose `_input` is not a number, a fan chip without `name`),
//! vitals skips that sensor instead. psutil divides a zone's trip temperature by 1000 again
//! on every later trip point of the same zone, in its set's hash order; vitals divides once.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use super::{HostError, HostPaths, list_dir, list_dir_os, read_optional, read_optional_bytes};

/// One temperature sensor, psutil's `shwtemp` plus where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Temperature {
    /// psutil's dict key: the chip's `name` (hwmon) or the zone's `type`.
    pub chip: OsString,
    /// psutil's `label`.
    pub label: OsString,
    /// A stable identifier unique on the host: `<chip>:<sensor>`, the chip named by its
    /// device; see [`chip_ids`] and [`sensor_id`].
    pub id: OsString,
    pub current: f64,
    pub high: Option<f64>,
    pub critical: Option<f64>,
}

/// One fan, psutil's `sfan` plus its chip and id.
#[derive(Debug, Clone, PartialEq)]
pub struct Fan {
    pub chip: OsString,
    pub label: OsString,
    pub id: OsString,
    /// psutil's `int()` of `_input`: a driver's negative error value passes through.
    pub rpm: i64,
}

/// psutil's `x.split('_')[0]` over the names of one directory: the distinct sensors
/// (`temp1`, `temp2`) having a file `<prefix>*_*`, sorted.
pub fn sensor_bases(names: &[OsString], prefix: &str) -> Vec<OsString> {
    let mut bases: Vec<OsString> = names
        .iter()
        .map(|n| n.as_bytes())
        .filter(|n| {
            n.strip_prefix(prefix.as_bytes())
                .is_some_and(|rest| rest.contains(&b'_'))
        })
        .filter_map(|n| n.split(|&b| b == b'_').next())
        .map(|base| OsString::from_vec(base.to_vec()))
        .collect();
    bases.sort();
    bases.dedup();
    bases
}

/// psutil's `float(text)`: surrounding whitespace allowed, anything else is an error.
pub fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() || t.contains('_') {
        return None;
    }
    t.parse::<f64>().ok()
}

/// A sysfs millidegree value in degrees Celsius.
pub fn parse_millidegrees(text: &str) -> Option<f64> {
    parse_float(text).map(|v| v / 1000.0)
}

/// The hwmon directories (`hwmon*` under `/sys/class/hwmon`), sorted by name as psutil's
/// sorted glob paths are.
fn hwmon_dirs(paths: &HostPaths) -> Result<Vec<PathBuf>, HostError> {
    let class = paths.sys("class/hwmon");
    Ok(list_dir_os(&class)?
        .into_iter()
        .filter(|n| n.as_bytes().starts_with(b"hwmon"))
        .map(|n| class.join(n))
        .collect())
}

/// The name of the device a chip belongs to (`coretemp.0`, `nvme0`, `0000:03:00.0`, `phy0`),
/// which does not move between boots the way `hwmonN` numbers can. `chip_dir` is the chip's
/// directory where it really is (`/sys/class/hwmon/hwmonN` resolved), relative to the sysfs
/// root; `link` the target of its `device` link. The link is resolved against the chip's
/// directory, so `../../../nct6775.656` and `../..` (from `phy0/hwmon/hwmon8`) both name the
/// device. Without a link, a chip under its device (`devices/platform/nct6775.656/hwmon/hwmon3`)
/// takes that device. `None` for a chip with neither (`devices/virtual/hwmon/hwmonN`).
pub fn device_of(chip_dir: &Path, link: Option<&Path>) -> Option<OsString> {
    if let Some(name) = link.and_then(|l| {
        lexical(&chip_dir.join(l))
            .file_name()
            .map(OsStr::to_os_string)
    }) {
        return Some(name);
    }
    let mut up = chip_dir.parent()?;
    if up.file_name() == Some(OsStr::new("hwmon")) {
        up = up.parent()?; // the class's glue directory between a device and its chips
    }
    let device = up.file_name()?;
    let under_devices = up.starts_with("devices") && up != Path::new("devices");
    (under_devices && device != "virtual").then(|| device.to_os_string())
}

/// `path` with `.` and `dir/..` taken out by name, without following links: sysfs links are
/// relative, and a fixture's may point nowhere.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// One chip (hwmon directory): its `hwmonN` name and its device ([`device_of`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ChipIdentity {
    pub hwmon: OsString,
    pub device: Option<OsString>,
}

/// The id of every chip: its device's name, unique on most hosts. Where several chips share
/// a device (a Wi-Fi card with one per band: `phy0/hwmon/hwmon{8,9,10}`), each is
/// `<device>/<name>` with the chip's `name` (`phy0/mt7996_phy0_1`), and where those repeat
/// too, `<device>/<name>.<k>`, k counting that name's chips in `hwmonN` order. A chip
/// without a device is `hwmonN`. `name` reads chip i's `name` file (`None` when unreadable:
/// the chip's `hwmonN` stands in); it is called only for chips of a shared device.
pub fn chip_ids(
    chips: &[ChipIdentity],
    mut name: impl FnMut(usize) -> Option<OsString>,
) -> Vec<OsString> {
    let devices: Vec<&OsString> = chips
        .iter()
        .map(|c| c.device.as_ref().unwrap_or(&c.hwmon))
        .collect();
    let shared = |i: usize| {
        chips[i].device.is_some() && devices.iter().filter(|d| **d == devices[i]).count() > 1
    };
    let names: Vec<Option<OsString>> = (0..chips.len())
        .map(|i| shared(i).then(|| name(i).unwrap_or_else(|| chips[i].hwmon.clone())))
        .collect();
    (0..chips.len())
        .map(|i| {
            let mut id = devices[i].clone();
            let Some(own) = &names[i] else {
                return id;
            };
            id.push("/");
            id.push(own);
            let mut twins: Vec<usize> = (0..chips.len())
                .filter(|&j| devices[j] == devices[i] && names[j].as_ref() == Some(own))
                .collect();
            if twins.len() > 1 {
                twins.sort_by_key(|&j| hwmon_number(&chips[j].hwmon));
                let k = twins.iter().position(|&j| j == i).unwrap_or_default();
                id.push(format!(".{k}"));
            }
            id
        })
        .collect()
}

/// `hwmon10` sorts after `hwmon9`; a name without a number last.
fn hwmon_number(hwmon: &OsStr) -> (u64, &OsStr) {
    let number = hwmon
        .as_bytes()
        .strip_prefix(b"hwmon")
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse().ok());
    (number.unwrap_or(u64::MAX), hwmon)
}

/// The hwmon directories with their chips' ids.
fn chips(paths: &HostPaths) -> Result<Vec<(PathBuf, OsString)>, HostError> {
    let dirs = hwmon_dirs(paths)?;
    // The chip's real place in the tree: /sys/class/hwmon/hwmonN links into /sys/devices.
    let root = std::fs::canonicalize(&paths.sysfs).unwrap_or_else(|_| paths.sysfs.clone());
    let identities: Vec<ChipIdentity> = dirs
        .iter()
        .map(|dir| {
            let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
            let rel = real.strip_prefix(&root).unwrap_or(&real);
            let link = std::fs::read_link(dir.join("device")).ok();
            ChipIdentity {
                hwmon: dir.file_name().map(OsStr::to_os_string).unwrap_or_default(),
                device: device_of(rel, link.as_deref()),
            }
        })
        .collect();
    let ids = chip_ids(&identities, |i| {
        read_name(&dirs[i].join("name")).ok().flatten()
    });
    Ok(dirs.into_iter().zip(ids).collect())
}

/// `<chip>:<sensor>`, e.g. `coretemp.1:temp3`: unique even where psutil's (chip, label)
/// pairs repeat, as on a two-socket server whose packages both have a `Core 0`.
pub fn sensor_id(device: &OsStr, sensor: &OsStr) -> OsString {
    let mut id = device.to_os_string();
    id.push(":");
    id.push(sensor);
    id
}

/// `<dir>/<base>_<suffix>`, a sensor's attribute file.
fn attribute(dir: &Path, base: &OsStr, suffix: &str) -> PathBuf {
    let mut name = base.to_os_string();
    name.push("_");
    name.push(suffix);
    dir.join(name)
}

/// A name or label file's text as psutil has it: `cat(path).strip()`, as bytes.
fn read_name(path: &Path) -> Result<Option<OsString>, HostError> {
    Ok(read_optional_bytes(path)?.map(|b| OsString::from_vec(super::strip(&b).to_vec())))
}

/// An optional millidegree attribute in degrees; `None` when unreadable or not a number.
fn read_millidegrees(path: &Path) -> Result<Option<f64>, HostError> {
    Ok(read_optional(path)?.and_then(|t| parse_millidegrees(&t)))
}

/// (directory holding the sensor files, sensor base name, device name) for every sensor
/// with the given prefix, in psutil's order. `device_too`: also look in `hwmon*/device/`
/// (always for temperatures; for fans psutil does so only when the first look finds none).
fn bases(
    paths: &HostPaths,
    prefix: &str,
    device_too: DeviceDir,
) -> Result<Vec<(PathBuf, OsString, OsString)>, HostError> {
    let mut direct = Vec::new();
    let mut nested = Vec::new();
    for (dir, device) in chips(paths)? {
        for base in sensor_bases(&list_dir_os(&dir)?, prefix) {
            direct.push((dir.clone(), base, device.clone()));
        }
        if device_too != DeviceDir::Never {
            let sub = dir.join("device");
            // A dangling or unreadable `device` link holds no sensors.
            let names = list_dir_os(&sub).unwrap_or_default();
            for base in sensor_bases(&names, prefix) {
                nested.push((sub.clone(), base, device.clone()));
            }
        }
    }
    let mut all = match device_too {
        DeviceDir::Also => {
            direct.extend(nested);
            direct
        }
        DeviceDir::WhenNoneDirect if direct.is_empty() => nested,
        _ => direct,
    };
    all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(all)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceDir {
    Never,
    Also,
    WhenNoneDirect,
}

/// psutil's `sensors_temperatures()`, flattened; an empty list on a host without sensors.
pub fn temperatures(paths: &HostPaths) -> Result<Vec<Temperature>, HostError> {
    let mut out = Vec::new();
    let found = bases(paths, "temp", DeviceDir::Also)?;
    for (dir, base, device) in &found {
        let Some(current) = read_millidegrees(&attribute(dir, base, "input"))? else {
            continue;
        };
        let Some(chip) = read_name(&dir.join("name"))? else {
            continue;
        };
        let limit = |suffix: &str| read_millidegrees(&attribute(dir, base, suffix));
        let (high, critical) = psutil_limits(limit("max")?, limit("crit")?);
        out.push(Temperature {
            chip,
            label: read_name(&attribute(dir, base, "label"))?.unwrap_or_default(),
            id: sensor_id(device, base),
            current,
            high,
            critical,
        });
    }
    if found.is_empty() {
        out.extend(thermal_zones(paths)?);
    }
    Ok(out)
}

/// psutil's wrapper on (high, critical): a limit that is missing or 0 takes the other's
/// value when that one is set and non-zero.
pub fn psutil_limits(high: Option<f64>, critical: Option<f64>) -> (Option<f64>, Option<f64>) {
    let set = |v: Option<f64>| v.is_some_and(|x| x != 0.0);
    if set(high) && !set(critical) {
        (high, high)
    } else if set(critical) && !set(high) {
        (critical, critical)
    } else {
        (high, critical)
    }
}

/// psutil's fallback: every `thermal_zone*` with a readable `temp` and `type`.
pub fn thermal_zones(paths: &HostPaths) -> Result<Vec<Temperature>, HostError> {
    let class = paths.sys("class/thermal");
    let mut out = Vec::new();
    for zone in list_dir_os(&class)?
        .into_iter()
        .filter(|n| n.as_bytes().starts_with(b"thermal_zone"))
    {
        let dir = class.join(&zone);
        let Some(current) = read_millidegrees(&dir.join("temp"))? else {
            continue;
        };
        let Some(chip) = read_name(&dir.join("type"))? else {
            continue;
        };
        // Trip point names are numbered ASCII; one that is not UTF-8 cannot be parsed.
        let names = list_dir(&dir).unwrap_or_default();
        let (high, critical) = trip_limits(&names, |name| read_optional(&dir.join(name)))?;
        let (high, critical) = psutil_limits(high, critical);
        out.push(Temperature {
            chip,
            label: OsString::new(),
            id: zone,
            current,
            high,
            critical,
        });
    }
    Ok(out)
}

/// A zone's (high, critical) from its `trip_point_N_type` / `trip_point_N_temp` files:
/// psutil takes the trip points named by the first three `_`-separated words of each
/// `trip_point*` file; of several of one type, which wins depends on psutil's set order,
/// so vitals takes the lowest-numbered.
pub fn trip_limits(
    names: &[String],
    read: impl Fn(&str) -> Result<Option<String>, HostError>,
) -> Result<(Option<f64>, Option<f64>), HostError> {
    let mut points: Vec<(u64, String)> = names
        .iter()
        .filter(|n| n.starts_with("trip_point"))
        .filter_map(|n| {
            let point = n.split('_').take(3).collect::<Vec<_>>().join("_");
            let number = point.strip_prefix("trip_point_")?.parse::<u64>().ok()?;
            Some((number, point))
        })
        .collect();
    points.sort();
    points.dedup();
    let (mut high, mut critical) = (None, None);
    for (_, point) in &points {
        let kind = read(&format!("{point}_type"))?.unwrap_or_default();
        let slot = match kind.trim() {
            "critical" => &mut critical,
            "high" => &mut high,
            _ => continue,
        };
        if slot.is_none() {
            *slot = read(&format!("{point}_temp"))?.and_then(|t| parse_millidegrees(&t));
        }
    }
    Ok((high, critical))
}

/// psutil's `sensors_fans()`, flattened.
pub fn fans(paths: &HostPaths) -> Result<Vec<Fan>, HostError> {
    let mut out = Vec::new();
    for (dir, base, device) in bases(paths, "fan", DeviceDir::WhenNoneDirect)? {
        let Some(rpm) = read_optional(&attribute(&dir, &base, "input"))?
            .and_then(|t| t.trim().parse::<i64>().ok())
        else {
            continue;
        };
        let Some(chip) = read_name(&dir.join("name"))? else {
            continue;
        };
        out.push(Fan {
            chip,
            label: read_name(&attribute(&dir, &base, "label"))?.unwrap_or_default(),
            id: sensor_id(&device, &base),
            rpm,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::bytes::escape_os;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn os_names(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn bases_are_the_distinct_prefixes_before_the_first_underscore() {
        let mut n = os_names(&[
            "name",
            "temp1_input",
            "temp1_label",
            "temp10_input",
            "temp2_crit_alarm",
            "temperature",
            "fan1_input",
            "device",
        ]);
        assert_eq!(sensor_bases(&n, "temp"), ["temp1", "temp10", "temp2"]);
        assert_eq!(sensor_bases(&n, "fan"), ["fan1"]);
        n.push(OsString::from_vec(b"temp\xe9_input".to_vec()));
        assert_eq!(sensor_bases(&n, "temp")[3].as_bytes(), b"temp\xe9");
    }

    #[test]
    fn names_and_labels_are_bytes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/non-utf8");
        let paths = HostPaths::under(&root);
        let t = temperatures(&paths).unwrap();
        assert_eq!(t[0].label.as_bytes(), b"Syst\xe8me");
        let got: Vec<String> = t
            .iter()
            .map(|t| {
                let [chip, label, id] = [&t.chip, &t.label, &t.id].map(|n| escape_os(n));
                format!("{chip}|{label}|{id}|{}", t.current)
            })
            .collect();
        assert_eq!(
            got,
            [
                r"nct6798|Syst\xe8me|hwmon0:temp1|41",
                r"nct6798|CPU|hwmon0:temp2|52.5",
                r"th\xe9rm||th\xe9rm.0:temp1|38",
            ]
        );
        let f = fans(&paths).unwrap();
        assert_eq!(f.len(), 1);
        // Stripped as psutil strips: the trailing space goes, the Latin-1 byte stays.
        assert_eq!(f[0].label.as_bytes(), b"Pompe \xe0 eau");
    }

    #[test]
    fn the_device_is_the_resolved_link_or_the_directory_the_chip_sits_in() {
        let device = |dir: &str, link: Option<&str>| {
            device_of(Path::new(dir), link.map(Path::new)).map(|d| d.into_string().unwrap())
        };
        let some = |s: &str| Some(s.to_string());
        // A chip directory in class/hwmon (fixture trees), the link one level up per `..`.
        assert_eq!(
            device("class/hwmon/hwmon3", Some("../../../coretemp.0")),
            some("coretemp.0")
        );
        // `../..` from the chip's real place names the device it sits in.
        let radio = "devices/platform/soc/18000000.wifi/ieee80211/phy0/hwmon/hwmon8";
        assert_eq!(device(radio, Some("../..")), some("phy0"));
        assert_eq!(device(radio, Some("./../../")), some("phy0"));
        // No link: the device the chip sits under, past the class's `hwmon` directory.
        let nct = "devices/platform/nct6775.656/hwmon/hwmon3";
        assert_eq!(device(nct, None), some("nct6775.656"));
        assert_eq!(
            device("devices/virtual/thermal/thermal_zone0/hwmon0", None),
            some("thermal_zone0")
        );
        // A chip with no device at all, or a directory that is not under devices/.
        assert_eq!(device("devices/virtual/hwmon/hwmon5", None), None);
        assert_eq!(device("class/hwmon/hwmon3", None), None);
        assert_eq!(device("devices/hwmon/hwmon3", None), None);
        // A link that names nothing falls back to the directory.
        assert_eq!(device(nct, Some("/")), some("nct6775.656"));
    }

    #[test]
    fn chips_of_one_device_are_told_apart_by_name_then_by_number() {
        let chip = |hwmon: &str, device: Option<&str>| ChipIdentity {
            hwmon: hwmon.into(),
            device: device.map(OsString::from),
        };
        let chips = [
            chip("hwmon0", Some("coretemp.0")),
            chip("hwmon10", Some("phy0")),
            chip("hwmon11", Some("asus-nb-wmi")),
            chip("hwmon4", None),
            chip("hwmon8", Some("phy0")),
            chip("hwmon9", Some("phy0")),
            chip("hwmon7", Some("asus-nb-wmi")),
            chip("hwmon12", Some("asus-nb-wmi")),
        ];
        let names = [
            "coretemp",
            "mt7996_phy0_2",
            "asus",
            "x",
            "mt7996_phy0_0",
            "mt7996_phy0_1",
            "asus",
            "asus_fan",
        ];
        let mut asked = Vec::new();
        let ids = chip_ids(&chips, |i| {
            asked.push(i);
            Some(names[i].into())
        });
        assert_eq!(
            ids,
            [
                "coretemp.0",
                "phy0/mt7996_phy0_2",
                "asus-nb-wmi/asus.1",
                "hwmon4",
                "phy0/mt7996_phy0_0",
                "phy0/mt7996_phy0_1",
                "asus-nb-wmi/asus.0",
                "asus-nb-wmi/asus_fan",
            ]
        );
        // Names are read for the shared devices' chips only.
        assert_eq!(asked, [1, 2, 4, 5, 6, 7]);
        // An unreadable name: the chip's hwmonN.
        let ids = chip_ids(&chips[4..6], |i| (i == 0).then(|| "mt".into()));
        assert_eq!(ids, ["phy0/mt", "phy0/hwmon9"]);
    }

    #[test]
    fn a_radio_with_a_chip_per_band_and_chips_without_device_links() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sensors-router");
        let paths = HostPaths::under(&root);
        let temps: Vec<(String, f64)> = temperatures(&paths)
            .unwrap()
            .into_iter()
            .map(|t| (t.id.into_string().unwrap(), t.current))
            .collect();
        assert_eq!(
            temps,
            [
                ("thermal_zone0:temp1".to_string(), 58.2),
                ("sfp2:temp1".to_string(), 49.613),
                ("phy0/mt7996_phy0_2:temp1".to_string(), 66.0),
                ("phy0/mt7996_phy0_0:temp1".to_string(), 53.0),
                ("phy0/mt7996_phy0_1:temp1".to_string(), 61.0),
            ]
        );
        assert_eq!(fan_ids(&paths), ["pwm-fan:fan1"]);
        // The Super I/O chip under devices/platform/nct6775.656/hwmon, with no `device` link.
        let desktop = root.with_file_name("sensors-amd-desktop");
        assert_eq!(
            fan_ids(&HostPaths::under(&desktop)),
            ["0000:03:00.0:fan1", "nct6775.656:fan1", "nct6775.656:fan2"]
        );
    }

    fn fan_ids(paths: &HostPaths) -> Vec<String> {
        fans(paths)
            .unwrap()
            .into_iter()
            .map(|f| f.id.into_string().unwrap())
            .collect()
    }

    #[test]
    fn millidegrees_follow_python_float() {
        assert_eq!(parse_millidegrees("45000\n"), Some(45.0));
        assert_eq!(parse_millidegrees(" -5500 "), Some(-5.5));
        assert_eq!(parse_millidegrees(""), None);
        assert_eq!(parse_millidegrees("N/A"), None);
    }

    #[test]
    fn one_limit_fills_the_other_as_psutil_does() {
        assert_eq!(psutil_limits(Some(80.0), None), (Some(80.0), Some(80.0)));
        assert_eq!(psutil_limits(None, Some(96.0)), (Some(96.0), Some(96.0)));
        assert_eq!(
            psutil_limits(Some(0.0), Some(96.0)),
            (Some(96.0), Some(96.0))
        );
        assert_eq!(psutil_limits(Some(0.0), None), (Some(0.0), None));
        assert_eq!(
            psutil_limits(Some(86.0), Some(96.0)),
            (Some(86.0), Some(96.0))
        );
    }

    #[test]
    fn trip_points_give_critical_and_never_passive() {
        let n = names(&[
            "trip_point_0_temp",
            "trip_point_0_type",
            "trip_point_1_hyst",
            "trip_point_1_temp",
            "trip_point_1_type",
            "type",
        ]);
        let read = |f: &str| {
            Ok(match f {
                "trip_point_0_type" => Some("passive\n".to_string()),
                "trip_point_0_temp" => Some("90000\n".to_string()),
                "trip_point_1_type" => Some("critical\n".to_string()),
                "trip_point_1_temp" => Some("105000\n".to_string()),
                _ => None,
            })
        };
        assert_eq!(trip_limits(&n, read).unwrap(), (None, Some(105.0)));
    }
}

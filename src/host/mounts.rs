//! The mount table (`/proc/<pid>/mounts`, the fstab-like format of `disk_partitions()`), and
//! the choice of which mounts are distinct filesystems.

use std::collections::{HashMap, HashSet};

use super::ParseError;

/// One line of the mount table, with the kernel's octal escapes (`\040` for a space) undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    pub options: String,
}

impl Mount {
    /// `ro` or `rw`, from the first mount option as the kernel writes it.
    pub fn mode(&self) -> &'static str {
        if self.options.split(',').next() == Some("ro") {
            "ro"
        } else {
            "rw"
        }
    }
}

/// Parses a mount table. psutil reports the source `none` as an empty device; so does this.
pub fn parse_mounts(text: &str) -> Result<Vec<Mount>, ParseError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split_ascii_whitespace();
        let (Some(device), Some(mountpoint), Some(fstype), Some(options)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(ParseError(format!(
                "mount line with too few fields: {line:?}"
            )));
        };
        let device = unescape(device);
        out.push(Mount {
            device: if device == "none" {
                String::new()
            } else {
                device
            },
            mountpoint: unescape(mountpoint),
            fstype: unescape(fstype),
            options: unescape(options),
        });
    }
    Ok(out)
}

/// Undoes the kernel's `\ooo` escapes (space, tab, newline, backslash in mount fields).
pub fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| {
            bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3'
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A device name that identifies one filesystem wherever it is mounted: a block device path
/// (`/dev/sda1`) or a network source (`server:/export`, `//server/share`). Sources like
/// `tmpfs`, `overlay` or an empty one are shared by unrelated filesystems.
fn names_one_filesystem(device: &str) -> bool {
    device.starts_with('/') || device.contains(':')
}

/// The mounts of distinct filesystems among those `keep` accepts, in mount-table order.
///
/// - A mount point listed twice shows only its last mount (the one on top); the earlier
///   ones are hidden under it.
/// - A filesystem mounted at several places (bind mounts, a device mounted twice) is
///   reported once, at its first accepted mount point, so that a sum over devices does not
///   count it twice. Filesystems are told apart by device name where that name identifies
///   one ([`names_one_filesystem`]); other sources are only merged on equal mount points.
pub fn distinct(mounts: &[Mount], keep: impl Fn(&Mount) -> bool) -> Vec<Mount> {
    // A node running many containers lists thousands of mounts: index, do not rescan.
    let top: HashMap<&str, usize> = mounts
        .iter()
        .enumerate()
        .map(|(i, m)| (m.mountpoint.as_str(), i))
        .collect();
    let mut filesystems: HashSet<(&str, &str)> = HashSet::new();
    let mut out = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        if top.get(m.mountpoint.as_str()) != Some(&i) || !keep(m) {
            continue;
        }
        if names_one_filesystem(&m.device)
            && !filesystems.insert((m.device.as_str(), m.fstype.as_str()))
        {
            continue;
        }
        out.push(m.clone());
    }
    out
}

/// The `/dev/<name>` of the block device `major:minor` in `/proc/partitions` text, the
/// first way psutil resolves the root filesystem's `/dev/root` or `rootfs` device.
pub fn partition_name(partitions: &str, major: u32, minor: u32) -> Option<String> {
    partitions.lines().skip(2).find_map(|line| {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        match f.as_slice() {
            [ma, mi, _, name, ..]
                if ma.parse() == Ok(major) && mi.parse() == Ok(minor) && !name.is_empty() =>
            {
                Some(format!("/dev/{name}"))
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = include_str!("../../tests/fixtures/filesystem-mounts/mounts");

    fn mounts() -> Vec<Mount> {
        parse_mounts(TABLE).expect("fixture parses")
    }

    #[test]
    fn octal_escapes_are_undone() {
        assert_eq!(unescape(r"/mnt/my\040disk"), "/mnt/my disk");
        assert_eq!(unescape(r"a\011b\012c\134d"), "a\tb\nc\\d");
        // Not an escape: kept as written.
        assert_eq!(unescape(r"a\9b\04"), r"a\9b\04");
        let m = mounts();
        assert!(m.iter().any(|m| m.mountpoint == "/media/usb stick"));
    }

    #[test]
    fn fields_and_mode() {
        let m = mounts();
        let root = &m[0];
        assert_eq!(
            (
                root.device.as_str(),
                root.mountpoint.as_str(),
                root.fstype.as_str()
            ),
            ("/dev/sda2", "/", "ext4")
        );
        assert_eq!(root.mode(), "rw");
        let ro = m.iter().find(|m| m.mountpoint == "/media/usb stick");
        assert_eq!(ro.map(Mount::mode), Some("ro"));
        // psutil: a source of "none" is an empty device.
        assert!(
            m.iter()
                .any(|m| m.fstype == "rpc_pipefs" && m.device.is_empty())
        );
        assert!(parse_mounts("only two").is_err());
    }

    #[test]
    fn bind_mounts_and_duplicates_are_reported_once() {
        let all = mounts();
        let d = distinct(&all, |_| true);
        let points: Vec<&str> = d.iter().map(|m| m.mountpoint.as_str()).collect();
        // /dev/sda2 is bind-mounted under /var/lib/kubelet and mounted again at /srv/again.
        assert_eq!(
            all.iter().filter(|m| m.device == "/dev/sda2").count(),
            3,
            "{all:?}"
        );
        assert_eq!(d.iter().filter(|m| m.device == "/dev/sda2").count(), 1);
        assert!(points.contains(&"/"));
        // /dev/shm is listed twice: one series.
        assert_eq!(points.iter().filter(|p| **p == "/dev/shm").count(), 1);
        // tmpfs at different places are different filesystems.
        assert!(points.contains(&"/run") && points.contains(&"/dev/shm"));
        // The same NFS export mounted twice is one filesystem.
        assert_eq!(
            d.iter().filter(|m| m.device == "nas:/export/home").count(),
            1
        );
    }

    #[test]
    fn the_filter_runs_before_the_first_mount_is_chosen() {
        // Excluding "/" makes the next mount of /dev/sda2 the one reported.
        let d = distinct(&mounts(), |m| m.mountpoint != "/");
        let sda2: Vec<&str> = d
            .iter()
            .filter(|m| m.device == "/dev/sda2")
            .map(|m| m.mountpoint.as_str())
            .collect();
        assert_eq!(sda2, ["/var/lib/kubelet/pods/1234/volumes/data"]);
    }

    #[test]
    fn a_covered_mount_point_shows_its_top_mount() {
        let d = distinct(
            &parse_mounts("/dev/sdb1 /data ext4 rw 0 0\n/dev/sdc1 /data xfs ro 0 0\n").unwrap(),
            |_| true,
        );
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].device.as_str(), d[0].mode()), ("/dev/sdc1", "ro"));
    }

    #[test]
    fn root_device_from_partitions() {
        let text = "major minor  #blocks  name\n\n 254        0   52428800 vda\n 254        1   52427776 vda1\n";
        assert_eq!(partition_name(text, 254, 1).as_deref(), Some("/dev/vda1"));
        assert_eq!(partition_name(text, 8, 0), None);
    }
}

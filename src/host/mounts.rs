//! The mount table (`/proc/<pid>/mounts`, the fstab-like format of `disk_partitions()`), and
//! the choice of which mounts are distinct filesystems.
//!
//! The table is bytes: a mount point or device need not be UTF-8 (a Latin-1 USB label, an
//! SMB share name), so both are kept as the kernel's bytes, which statvfs needs as they are.
//! Labels show them through [`super::bytes::escape`].

use std::collections::{HashMap, HashSet};

use super::ParseError;
use super::bytes::escape;

/// One line of the mount table, with the kernel's octal escapes (`\040` for a space) undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub device: Vec<u8>,
    pub mountpoint: Vec<u8>,
    /// Filesystem type and options: the kernel's names, escaped like labels if ever not UTF-8.
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

/// The most mounts vitals takes from one table; more is a parse error. It is the kernel's
/// default limit of mounts in one namespace (`fs.mount-max`).
pub const MAX_MOUNTS: usize = 100_000;

/// Parses a mount table of at most [`MAX_MOUNTS`] lines. psutil reports the source `none`
/// as an empty device; so does this.
pub fn parse_mounts(text: &[u8]) -> Result<Vec<Mount>, ParseError> {
    let mut out = Vec::new();
    for line in text
        .split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
    {
        if out.len() == MAX_MOUNTS {
            return Err(ParseError(format!("more than {MAX_MOUNTS} mounts")));
        }
        let mut fields = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty());
        let (Some(device), Some(mountpoint), Some(fstype), Some(options)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(ParseError(format!(
                "mount line with too few fields: {:?}",
                escape(line)
            )));
        };
        let device = unescape(device);
        out.push(Mount {
            device: if device == b"none" {
                Vec::new()
            } else {
                device
            },
            mountpoint: unescape(mountpoint),
            fstype: escape(&unescape(fstype)).into_owned(),
            options: escape(&unescape(options)).into_owned(),
        });
    }
    Ok(out)
}

/// Undoes the kernel's `\ooo` escapes (space, tab, newline, backslash in mount fields).
pub fn unescape(field: &[u8]) -> Vec<u8> {
    if !field.contains(&b'\\') {
        return field.to_vec();
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field.get(i + 1..i + 4).filter(|d| {
            field[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3'
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

/// A device name that identifies one filesystem wherever it is mounted: a block device path
/// (`/dev/sda1`) or a network source (`server:/export`, `//server/share`). Sources like
/// `tmpfs`, `overlay` or an empty one are shared by unrelated filesystems.
fn names_one_filesystem(device: &[u8]) -> bool {
    device.starts_with(b"/") || device.contains(&b':')
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
    let top: HashMap<&[u8], usize> = mounts
        .iter()
        .enumerate()
        .map(|(i, m)| (m.mountpoint.as_slice(), i))
        .collect();
    let mut filesystems: HashSet<(&[u8], &str)> = HashSet::new();
    let mut out = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        if top.get(m.mountpoint.as_slice()) != Some(&i) || !keep(m) {
            continue;
        }
        if names_one_filesystem(&m.device)
            && !filesystems.insert((m.device.as_slice(), m.fstype.as_str()))
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
        parse_mounts(TABLE.as_bytes()).expect("fixture parses")
    }

    fn at<'a>(m: &'a [Mount], mountpoint: &str) -> Option<&'a Mount> {
        m.iter().find(|m| m.mountpoint == mountpoint.as_bytes())
    }

    #[test]
    fn octal_escapes_are_undone() {
        assert_eq!(unescape(br"/mnt/my\040disk"), b"/mnt/my disk");
        assert_eq!(unescape(br"a\011b\012c\134d"), b"a\tb\nc\\d");
        // Not an escape: kept as written.
        assert_eq!(unescape(br"a\9b\04"), br"a\9b\04");
        // A byte that is not UTF-8, written raw or escaped, is kept as that byte.
        assert_eq!(unescape(b"/media/caf\xe9"), b"/media/caf\xe9");
        assert_eq!(unescape(br"/media/caf\351"), b"/media/caf\xe9");
        assert!(at(&mounts(), "/media/usb stick").is_some());
    }

    #[test]
    fn fields_and_mode() {
        let m = mounts();
        let root = &m[0];
        assert_eq!(
            (
                root.device.as_slice(),
                root.mountpoint.as_slice(),
                root.fstype.as_str()
            ),
            (&b"/dev/sda2"[..], &b"/"[..], "ext4")
        );
        assert_eq!(root.mode(), "rw");
        assert_eq!(at(&m, "/media/usb stick").map(Mount::mode), Some("ro"));
        // psutil: a source of "none" is an empty device.
        assert!(
            m.iter()
                .any(|m| m.fstype == "rpc_pipefs" && m.device.is_empty())
        );
        assert!(parse_mounts(b"only two").is_err());
    }

    #[test]
    fn names_that_are_not_utf8_are_kept_as_bytes() {
        let table = include_bytes!("../../tests/fixtures/filesystem-mounts/mounts-latin1");
        let m = parse_mounts(table).unwrap();
        let usb = &m[1];
        assert_eq!(usb.mountpoint, b"/media/caf\xe9 cr\xe8me");
        assert_eq!(usb.device, b"/dev/sdb1");
        assert_eq!((usb.fstype.as_str(), usb.mode()), ("vfat", "ro"));
        let smb = &m[2];
        assert_eq!(smb.device, b"//files/\xc9quipe");
        assert_eq!(smb.mountpoint, b"/mnt/\xc9quipe");
        // The same Latin-1 name, once as raw bytes and once escaped by the kernel.
        assert_eq!(m[3].mountpoint, b"/mnt/\xc9quipe-2");
    }

    #[test]
    fn bind_mounts_and_duplicates_are_reported_once() {
        let all = mounts();
        let d = distinct(&all, |_| true);
        let points: Vec<&[u8]> = d.iter().map(|m| m.mountpoint.as_slice()).collect();
        // /dev/sda2 is bind-mounted under /var/lib/kubelet and mounted again at /srv/again.
        assert_eq!(
            all.iter().filter(|m| m.device == b"/dev/sda2").count(),
            3,
            "{all:?}"
        );
        assert_eq!(d.iter().filter(|m| m.device == b"/dev/sda2").count(), 1);
        assert!(points.contains(&&b"/"[..]));
        // /dev/shm is listed twice: one series.
        assert_eq!(points.iter().filter(|p| **p == b"/dev/shm").count(), 1);
        // tmpfs at different places are different filesystems.
        assert!(points.contains(&&b"/run"[..]) && points.contains(&&b"/dev/shm"[..]));
        // The same NFS export mounted twice is one filesystem.
        assert_eq!(
            d.iter().filter(|m| m.device == b"nas:/export/home").count(),
            1
        );
    }

    #[test]
    fn the_filter_runs_before_the_first_mount_is_chosen() {
        // Excluding "/" makes the next mount of /dev/sda2 the one reported.
        let d = distinct(&mounts(), |m| m.mountpoint != b"/");
        let sda2: Vec<&[u8]> = d
            .iter()
            .filter(|m| m.device == b"/dev/sda2")
            .map(|m| m.mountpoint.as_slice())
            .collect();
        assert_eq!(sda2, [b"/var/lib/kubelet/pods/1234/volumes/data"]);
    }

    #[test]
    fn a_covered_mount_point_shows_its_top_mount() {
        let d = distinct(
            &parse_mounts(b"/dev/sdb1 /data ext4 rw 0 0\n/dev/sdc1 /data xfs ro 0 0\n").unwrap(),
            |_| true,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].device.as_slice(), d[0].mode()),
            (&b"/dev/sdc1"[..], "ro")
        );
    }

    #[test]
    fn root_device_from_partitions() {
        let text = "major minor  #blocks  name\n\n 254        0   52428800 vda\n 254        1   52427776 vda1\n";
        assert_eq!(partition_name(text, 254, 1).as_deref(), Some("/dev/vda1"));
        assert_eq!(partition_name(text, 8, 0), None);
    }
}

//! Filesystems: `disk_partitions()` and `disk_usage()` for each mounted filesystem, from the
//! mount table and statvfs(2), with protection against mounts whose statvfs never returns.
//!
//! The mount table is `<procfs>/1/mounts`, the mount namespace of the host's init: in a
//! container with the host's procfs at /host/proc, `self` would be the container's own
//! namespace. `<procfs>/self/mounts` (what psutil reads) is the fallback when pid 1's table
//! cannot be read. statvfs runs on `<rootfs>/<mount point>`; labels show the host's path.
//!
//! Mount points and devices are the kernel's bytes, which need not be UTF-8: statvfs gets
//! them as they are, and labels (and the `mountpoints` filter, which matches the label)
//! show them through [`escape`]: a name that is not plain UTF-8 has `\xNN` for each invalid
//! byte and `\\` for each backslash, reversibly.
//!
//! A dead NFS, CIFS or FUSE server makes statvfs block forever (psutil and df hang with it).
//! statvfs therefore runs in a helper process ([`crate::statfs`]), each mount waited for at
//! most `statfs_timeout`. A mount that does not answer is marked stuck: its helper is left
//! blocked (that one process is all it ever costs), later ticks leave the mount alone and
//! export `vitals_filesystem_stuck` for it, until that helper exits and the mount is read
//! again. The helpers and the stuck set live in a [`StatfsPool`] that outlives collectors,
//! so a collector rebuilt by a config reload does not ask a blocked mount again.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use rustix::fs::StatVfs;

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::interval::Interval;
use crate::filter::Filter;
use crate::host::bytes::escape;
use crate::host::mounts::{Mount, distinct, parse_mounts, partition_name};
use crate::host::{self, HostError, HostPaths};
use crate::snapshot::{ErrorKind, Snapshot};
use crate::statfs::{Outcome, StatfsPool};

/// Mount points left out by default: the kernel's pseudo trees, per-user runtime mounts,
/// and the volumes and layers container runtimes mount for their containers.
pub const DEFAULT_MOUNTPOINT_EXCLUDE: &str = r"/(dev|proc|sys)(/.*)?|/run/(user|containerd|docker|k3s|netns|credentials|snapd/ns)/.*|/var/lib/(docker|containers|kubelet|lxcfs|rancher|incus|lxd)/.+";

/// Filesystem types left out by default: those without a device of their own (psutil's
/// `all=False` leaves out the "nodev" types of /proc/filesystems) and container layers.
/// Disk filesystems, network filesystems (nfs, nfs4, cifs, smb3, ceph, glusterfs, 9p,
/// virtiofs) and FUSE (`fuse`, `fuseblk`, every `fuse.*` subtype) are kept: they are the
/// ones that fill up and the ones that hang.
pub const DEFAULT_FS_TYPE_EXCLUDE: &str = "autofs|binfmt_misc|bpf|cgroup2?|configfs|cpuset|debugfs|devpts|devtmpfs|efivarfs|fusectl|hugetlbfs|mqueue|nsfs|overlay|aufs|pipefs|proc|pstore|ramfs|rpc_pipefs|securityfs|selinuxfs|sockfs|sysfs|tmpfs|tracefs|nfsd";

super::settings::plain_settings!(
    check = check_settings;
    10,
    10,
    /// Longest wait for one mount's statvfs; must be shorter than `timeout`.
    statfs_timeout: Interval = Interval::secs(5),
    /// Which mount points (the host's paths, as the label shows them) are exported.
    mountpoints: Filter = Filter::new(None, Some(DEFAULT_MOUNTPOINT_EXCLUDE)),
    /// Which filesystem types are exported.
    fs_types: Filter = Filter::new(None, Some(DEFAULT_FS_TYPE_EXCLUDE)),
);

fn check_settings(s: &Settings) -> Result<(), super::Invalid> {
    if s.statfs_timeout.0 >= s.timeout.0 {
        return Err(super::Invalid {
            key: "statfs_timeout",
            message: format!(
                "statfs_timeout {} must be shorter than the collector's timeout {}: a hung mount would time the whole collection out",
                s.statfs_timeout, s.timeout
            ),
        });
    }
    Ok(())
}

const DEVICE: &str = "system.device";
const MOUNTPOINT: &str = "system.filesystem.mountpoint";
const TYPE: &str = "system.filesystem.type";
const MODE: &str = "system.filesystem.mode";
const STATE: &str = "system.filesystem.state";

/// How the labels show names that are not UTF-8, appended to each help text.
macro_rules! escaping {
    () => {
        " (a device or mount point that is not UTF-8 is escaped: \\xNN per invalid byte, \\\\ per backslash)"
    };
}

pub static USAGE: MetricDesc = MetricDesc {
    name: "system.filesystem.usage",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: concat!(
        "Filesystem space by state: used = (f_blocks - f_bfree) x f_frsize and free = f_bavail x f_frsize as psutil computes them; reserved (for root) = total - used - free, so the states sum to the limit",
        escaping!()
    ),
    attributes: &[DEVICE, MOUNTPOINT, TYPE, MODE, STATE],
    source: "disk_usage(mountpoint).used, .free; disk_partitions() for the labels",
    extension: false,
};

pub static LIMIT: MetricDesc = MetricDesc {
    name: "system.filesystem.limit",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: concat!("Filesystem size, f_blocks x f_frsize", escaping!()),
    attributes: &[DEVICE, MOUNTPOINT, TYPE, MODE],
    source: "disk_usage(mountpoint).total",
    extension: false,
};

pub static UTILIZATION: MetricDesc = MetricDesc {
    name: "system.filesystem.utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: concat!(
        "Share of the space an unprivileged user can have (used + free, without the reserved blocks) by state; state used is psutil's percent / 100 (unrounded), what df shows as Use%",
        escaping!()
    ),
    attributes: &[DEVICE, MOUNTPOINT, TYPE, MODE, STATE],
    source: "disk_usage(mountpoint).percent",
    extension: false,
};

pub static INODES_USAGE: MetricDesc = MetricDesc {
    name: "system.filesystem.inodes.usage",
    unit: "{inode}",
    instrument: Instrument::UpDownCounter,
    help: concat!(
        "Inodes by state: used = f_files - f_ffree, free = f_ffree (as df -i); 0 on filesystems without an inode table",
        escaping!()
    ),
    attributes: &[DEVICE, MOUNTPOINT, TYPE, MODE, STATE],
    source: "os.statvfs(mountpoint).f_files, .f_ffree",
    extension: true,
};

pub static INODES_LIMIT: MetricDesc = MetricDesc {
    name: "system.filesystem.inodes.limit",
    unit: "{inode}",
    instrument: Instrument::UpDownCounter,
    help: concat!("Inodes the filesystem can hold, f_files", escaping!()),
    attributes: &[DEVICE, MOUNTPOINT, TYPE, MODE],
    source: "os.statvfs(mountpoint).f_files",
    extension: true,
};

pub static STUCK: MetricDesc = MetricDesc {
    name: "vitals.filesystem.stuck",
    unit: "",
    instrument: Instrument::Gauge,
    help: concat!(
        "1 for a mount whose statvfs did not answer within statfs_timeout (a dead NFS, CIFS or FUSE server); its helper process is left blocked, the mount is not read again until that process exits, and it has no usage series meanwhile",
        escaping!()
    ),
    attributes: &[DEVICE, MOUNTPOINT, TYPE],
    source: "vitals",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[
    &USAGE,
    &LIMIT,
    &UTILIZATION,
    &INODES_USAGE,
    &INODES_LIMIT,
    &STUCK,
];

pub struct FilesystemCollector {
    paths: HostPaths,
    settings: Settings,
    /// The statvfs helpers and the mounts they are blocked on; shared across rebuilds.
    pool: Arc<StatfsPool>,
}

impl FilesystemCollector {
    /// A collector with a pool of its own. The daemon should share one pool between the
    /// collectors it builds ([`FilesystemCollector::with_pool`]): a collector with its own
    /// pool does not know the mounts an earlier one left stuck.
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        Self::with_pool(paths, settings, Arc::new(StatfsPool::new()))
    }

    pub fn with_pool(paths: HostPaths, settings: &Settings, pool: Arc<StatfsPool>) -> Self {
        Self {
            paths,
            settings: settings.clone(),
            pool,
        }
    }

    /// The host's mount table: pid 1's, else this process's.
    fn mount_table(&self) -> Result<Vec<Mount>, HostError> {
        let init = self.paths.proc("1/mounts");
        let (path, text) = match host::read_bytes(&init) {
            Ok(text) => (init, text),
            Err(_) => {
                let own = self.paths.proc("self/mounts");
                let text = host::read_bytes(&own)?;
                (own, text)
            }
        };
        parse_mounts(&text).map_err(|e| e.at(&path))
    }

    /// psutil's first way to name the device behind `/dev/root` or `rootfs`: the root's
    /// device number looked up in /proc/partitions.
    fn root_device(&self) -> Option<String> {
        let dev = rustix::fs::stat(&self.paths.rootfs).ok()?.st_dev;
        let text = host::read(&self.paths.proc("partitions")).ok()?;
        partition_name(&text, rustix::fs::major(dev), rustix::fs::minor(dev))
    }

    /// Where statvfs finds a mount point of the host: under `rootfs`.
    fn host_path(&self, mountpoint: &[u8]) -> PathBuf {
        let start = mountpoint
            .iter()
            .position(|b| *b != b'/')
            .unwrap_or(mountpoint.len());
        self.paths
            .rootfs
            .join(OsStr::from_bytes(&mountpoint[start..]))
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Exports one filesystem's statvfs the way psutil's `disk_usage` reads it.
fn export_usage(st: &StatVfs, labels: &[(&'static str, &str); 4], out: &mut Snapshot) {
    let total = st.f_blocks.saturating_mul(st.f_frsize);
    let used = st
        .f_blocks
        .saturating_sub(st.f_bfree)
        .saturating_mul(st.f_frsize);
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    let reserved = total.saturating_sub(used).saturating_sub(free);
    let with_state = |state: &'static str| {
        let [a, b, c, d] = *labels;
        [a, b, c, d, (STATE, state)]
    };
    out.add(&LIMIT, labels, total as f64);
    for (state, bytes) in [("used", used), ("free", free), ("reserved", reserved)] {
        out.add(&USAGE, &with_state(state), bytes as f64);
    }
    let user_total = used.saturating_add(free);
    for (state, bytes) in [("used", used), ("free", free)] {
        out.add(&UTILIZATION, &with_state(state), ratio(bytes, user_total));
    }
    let inodes_used = st.f_files.saturating_sub(st.f_ffree);
    out.add(&INODES_LIMIT, labels, st.f_files as f64);
    for (state, n) in [("used", inodes_used), ("free", st.f_ffree)] {
        out.add(&INODES_USAGE, &with_state(state), n as f64);
    }
}

impl Collector for FilesystemCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let s = &self.settings;
        let mut mounts = distinct(&self.mount_table()?, |m| {
            s.mountpoints.allows(&escape(&m.mountpoint)) && s.fs_types.allows(&m.fstype)
        });
        let is_root = |m: &Mount| m.device == b"/dev/root" || m.device == b"rootfs";
        if mounts.iter().any(is_root)
            && let Some(dev) = self.root_device()
        {
            for m in mounts.iter_mut().filter(|m| is_root(m)) {
                m.device = dev.clone().into_bytes();
            }
        }
        let targets: Vec<PathBuf> = mounts
            .iter()
            .map(|m| self.host_path(&m.mountpoint))
            .collect();
        let outcomes = self.pool.statvfs(&targets, s.statfs_timeout.0);
        for ((m, target), outcome) in mounts.iter().zip(&targets).zip(outcomes) {
            let device = escape(&m.device);
            let mountpoint = escape(&m.mountpoint);
            let labels = [
                (DEVICE, &*device),
                (MOUNTPOINT, &*mountpoint),
                (TYPE, m.fstype.as_str()),
                (MODE, m.mode()),
            ];
            let target = escape(target.as_os_str().as_bytes());
            match outcome {
                Outcome::Stat(st) => export_usage(&st, &labels, out),
                Outcome::Failed(e) => out.skip(ErrorKind::Read, format!("statvfs {target}: {e}")),
                // The helper could not be started or died: the mount could not be read.
                Outcome::NoHelper(e) => out.skip(ErrorKind::Read, format!("statvfs {target}: {e}")),
                Outcome::Stuck => {
                    out.add(&STUCK, &labels[..3], 1.0);
                    out.skip(
                        ErrorKind::Timeout,
                        format!(
                            "statvfs of {mountpoint} did not answer within {}; not read again until it returns",
                            s.statfs_timeout
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    fn real_statvfs(path: &Path) -> rustix::io::Result<StatVfs> {
        rustix::fs::statvfs(path)
    }

    fn fixture_collector(mounts: &[u8]) -> (tempdir::Dir, FilesystemCollector) {
        fixture_collector_with(
            mounts,
            Settings::default(),
            StatfsPool::in_process(real_statvfs),
        )
    }

    fn fixture_collector_with(
        mounts: &[u8],
        settings: Settings,
        pool: StatfsPool,
    ) -> (tempdir::Dir, FilesystemCollector) {
        let dir = tempdir::Dir::new();
        std::fs::create_dir_all(dir.0.join("proc/self")).unwrap();
        std::fs::write(dir.0.join("proc/self/mounts"), mounts).unwrap();
        let paths = HostPaths::under(&dir.0);
        let c = FilesystemCollector::with_pool(paths, &settings, Arc::new(pool));
        (dir, c)
    }

    mod tempdir {
        use std::path::PathBuf;
        use std::sync::atomic::{AtomicU32, Ordering};

        pub struct Dir(pub PathBuf);

        impl Dir {
            pub fn new() -> Dir {
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "vitals-fs-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn labels_of(s: &Snapshot, name: &str) -> Vec<Vec<String>> {
        s.family(name)
            .map(|f| {
                f.samples
                    .iter()
                    .map(|x| x.labels.iter().map(|(_, v)| v.clone()).collect())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn default_filters_keep_disks_network_and_fuse() {
        let table = include_bytes!("../../tests/fixtures/filesystem-mounts/mounts");
        let s = Settings::default();
        let kept: Vec<String> = distinct(&parse_mounts(table).unwrap(), |m| {
            s.mountpoints.allows(&escape(&m.mountpoint)) && s.fs_types.allows(&m.fstype)
        })
        .into_iter()
        .map(|m| escape(&m.mountpoint).into_owned())
        .collect();
        assert_eq!(
            kept,
            [
                "/",
                "/boot/efi",
                "/home",
                "/media/usb stick",
                "/snap/core22/1380",
                "/mnt/nas",
                "/mnt/share",
                "/mnt/remote",
            ]
            .map(String::from)
        );
        // /srv/again is /dev/sda2 again and /mnt/nas-again the same export: each filesystem
        // is reported at its first kept mount.
    }

    #[test]
    fn usage_follows_psutil_and_labels_show_the_host_path() {
        let (dir, mut c) = fixture_collector(b"/dev/sdz9 /data ext4 ro,relatime 0 0\n");
        std::fs::create_dir_all(dir.0.join("data")).unwrap();
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        assert!(s.skipped.is_empty(), "{:?}", s.skipped);
        assert_eq!(
            labels_of(&s, LIMIT.name),
            [["/dev/sdz9", "/data", "ext4", "ro"].map(String::from)]
        );
        let st = rustix::fs::statvfs(dir.0.join("data")).unwrap();
        let limit = s.family(LIMIT.name).unwrap().samples[0].value;
        assert_eq!(limit, (st.f_blocks * st.f_frsize) as f64);
        let usage: f64 = s
            .family(USAGE.name)
            .unwrap()
            .samples
            .iter()
            .map(|x| x.value)
            .sum();
        assert_eq!(usage, limit, "used + free + reserved = total");
    }

    #[test]
    fn a_mount_point_that_is_not_utf8_is_read_and_its_label_escaped() {
        let settings = Settings {
            // The filter sees the label: the invalid byte as \xe9.
            mountpoints: Filter::new(Some(r"/media/caf\\xe9.*"), None),
            ..Settings::default()
        };
        let (dir, mut c) = fixture_collector_with(
            b"/dev/sdz9 /media/caf\xe9\\040cr\xe8me vfat rw 0 0\n/dev/sdz8 /other ext4 rw 0 0\n",
            settings,
            StatfsPool::in_process(real_statvfs),
        );
        let real = dir.0.join(OsStr::from_bytes(b"media/caf\xe9 cr\xe8me"));
        std::fs::create_dir_all(&real).unwrap();
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        assert!(s.skipped.is_empty(), "{:?}", s.skipped);
        let labels = labels_of(&s, LIMIT.name);
        assert_eq!(
            labels,
            [["/dev/sdz9", r"/media/caf\xe9 cr\xe8me", "vfat", "rw"].map(String::from)]
        );
        assert_eq!(
            crate::host::bytes::unescape(&labels[0][1]),
            b"/media/caf\xe9 cr\xe8me"
        );
        let st = rustix::fs::statvfs(&real).unwrap();
        let limit = s.family(LIMIT.name).unwrap().samples[0].value;
        assert_eq!(limit, (st.f_blocks * st.f_frsize) as f64);
    }

    #[test]
    fn an_unreadable_mount_is_skipped_and_the_rest_exported() {
        let (dir, mut c) =
            fixture_collector(b"/dev/sdz9 /data ext4 rw 0 0\n/dev/sdz8 /gone ext4 rw 0 0\n");
        std::fs::create_dir_all(dir.0.join("data")).unwrap();
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        assert_eq!(labels_of(&s, LIMIT.name).len(), 1);
        assert_eq!(s.skipped.len(), 1);
        assert_eq!(s.skipped[0].kind, "read");
        assert!(s.skipped[0].detail.contains("gone"), "{:?}", s.skipped);
    }

    #[test]
    fn without_a_helper_each_mount_is_a_read_skip() {
        let (_dir, mut c) = fixture_collector_with(
            b"/dev/sdz9 /data ext4 rw 0 0\n/dev/sdz8 /more ext4 rw 0 0\n",
            Settings::default(),
            StatfsPool::with_program("/nonexistent/vitals"),
        );
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        assert!(s.family(LIMIT.name).is_none());
        assert_eq!(s.skipped.len(), 2);
        for skip in &s.skipped {
            assert_eq!(skip.kind, "read");
            assert!(
                skip.detail.contains("starting the statfs helper"),
                "{skip:?}"
            );
        }
    }

    #[test]
    fn pid_1_table_first_then_self() {
        let (dir, c) = fixture_collector(b"/dev/a / ext4 rw 0 0\n");
        assert_eq!(c.mount_table().unwrap()[0].device, b"/dev/a");
        std::fs::create_dir_all(dir.0.join("proc/1")).unwrap();
        std::fs::write(dir.0.join("proc/1/mounts"), "/dev/b / ext4 rw 0 0\n").unwrap();
        assert_eq!(c.mount_table().unwrap()[0].device, b"/dev/b");
    }

    static RELEASE: AtomicBool = AtomicBool::new(false);
    static HUNG_CALLS: AtomicUsize = AtomicUsize::new(0);

    /// statvfs that never answers for `/hung` until [`RELEASE`] is set.
    fn hanging_statvfs(path: &Path) -> rustix::io::Result<StatVfs> {
        if path.ends_with("hung") {
            HUNG_CALLS.fetch_add(1, Ordering::SeqCst);
            while !RELEASE.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        rustix::fs::statvfs(path.parent().unwrap_or(path))
    }

    #[test]
    fn a_hung_mount_holds_one_helper_across_rebuilds_until_it_returns() {
        let table = b"/dev/sdz9 /data ext4 rw 0 0\nnas:/x /hung nfs4 rw 0 0\n";
        let settings = Settings {
            statfs_timeout: Interval(Duration::from_millis(100)),
            ..Settings::default()
        };
        let (dir, c) = fixture_collector_with(
            table,
            settings.clone(),
            StatfsPool::in_process(hanging_statvfs),
        );
        std::fs::create_dir_all(dir.0.join("data")).unwrap();
        let pool = c.pool.clone();
        let mut c = Some(c);
        for tick in 0..6 {
            // A reload every other tick: a new collector on the same pool.
            if tick % 2 == 1 {
                c = Some(FilesystemCollector::with_pool(
                    HostPaths::under(&dir.0),
                    &settings,
                    pool.clone(),
                ));
            }
            let c = c.as_mut().unwrap();
            let start = Instant::now();
            let mut s = Snapshot::default();
            c.collect(&mut s).unwrap();
            assert!(start.elapsed() < Duration::from_millis(1000));
            assert_eq!(labels_of(&s, LIMIT.name)[0][1], "/data");
            assert_eq!(
                labels_of(&s, STUCK.name),
                [["nas:/x", "/hung", "nfs4"].map(String::from)]
            );
            assert_eq!(s.skipped.len(), 1);
            assert_eq!(s.skipped[0].kind, "timeout");
            assert!(s.skipped[0].detail.contains("/hung"));
            assert_eq!(pool.stuck(), 1);
        }
        assert_eq!(
            HUNG_CALLS.load(Ordering::SeqCst),
            1,
            "one blocked call, not one per tick or per collector"
        );
        RELEASE.store(true, Ordering::SeqCst);
        let mut c = c.unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let mut s = Snapshot::default();
            c.collect(&mut s).unwrap();
            if s.family(STUCK.name).is_none() {
                assert_eq!(
                    labels_of(&s, LIMIT.name).len(),
                    2,
                    "read again once it returned"
                );
                break;
            }
            assert!(Instant::now() < end, "still stuck after its call returned");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(HUNG_CALLS.load(Ordering::SeqCst), 2);
        assert_eq!(pool.stuck(), 0);
    }

    #[test]
    fn a_missing_table_fails_the_tick() {
        let mut c = FilesystemCollector::new(
            HostPaths {
                procfs: Path::new("/nonexistent").into(),
                ..HostPaths::default()
            },
            &Settings::default(),
        );
        assert_eq!(
            c.collect(&mut Snapshot::default()).unwrap_err().kind(),
            "read"
        );
    }
}

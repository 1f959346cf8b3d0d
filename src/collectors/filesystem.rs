//! Filesystems: `disk_partitions()` and `disk_usage()` for each mounted filesystem, from the
//! mount table and statvfs(2), with protection against mounts whose statvfs never returns.
//!
//! The mount table is `<procfs>/1/mounts`, the mount namespace of the host's init: in a
//! container with the host's procfs at /host/proc, `self` would be the container's own
//! namespace. `<procfs>/self/mounts` (what psutil reads) is the fallback when pid 1's table
//! cannot be read. statvfs runs on `<rootfs>/<mount point>`; labels show the host's path.
//!
//! A dead NFS, CIFS or FUSE server makes statvfs block forever (psutil and df hang with it).
//! Each statvfs therefore runs on its own thread and is waited for at most `statfs_timeout`.
//! A mount that does not answer is marked stuck: later ticks leave it alone (its one blocked
//! thread is all it ever costs) and export `vitals_filesystem_stuck` for it, until the
//! blocked call returns and the mount is read again.

use std::collections::HashMap;
use std::path::Path;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use rustix::fs::StatVfs;

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::interval::Interval;
use crate::filter::Filter;
use crate::host::mounts::{Mount, distinct, parse_mounts, partition_name};
use crate::host::{self, HostError, HostPaths};
use crate::snapshot::{ErrorKind, Snapshot};

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
    /// Which mount points (the host's paths) are exported.
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

pub static USAGE: MetricDesc = MetricDesc {
    name: "system.filesystem.usage",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Filesystem space by state: used = (f_blocks - f_bfree) x f_frsize and free = f_bavail x f_frsize as psutil computes them; reserved (for root) = total - used - free, so the states sum to the limit",
    attributes: &[DEVICE, MOUNTPOINT, TYPE, MODE, STATE],
    source: "disk_usage(mountpoint).used, .free; disk_partitions() for the labels",
    extension: false,
};

pub static LIMIT: MetricDesc = MetricDesc {
    name: "system.filesystem.limit",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Filesystem size, f_blocks x f_frsize",
    attributes: &[DEVICE, MOUNTPOINT, TYPE, MODE],
    source: "disk_usage(mountpoint).total",
    extension: false,
};

pub static UTILIZATION: MetricDesc = MetricDesc {
    name: "system.filesystem.utilization",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "Share of the space an unprivileged user can have (used + free, without the reserved blocks) by state; state used is psutil's percent / 100 (unrounded), what df shows as Use%",
    attributes: &[DEVICE, MOUNTPOINT, TYPE, MODE, STATE],
    source: "disk_usage(mountpoint).percent",
    extension: false,
};

pub static INODES_USAGE: MetricDesc = MetricDesc {
    name: "system.filesystem.inodes.usage",
    unit: "{inode}",
    instrument: Instrument::UpDownCounter,
    help: "Inodes by state: used = f_files - f_ffree, free = f_ffree (as df -i); 0 on filesystems without an inode table",
    attributes: &[DEVICE, MOUNTPOINT, TYPE, MODE, STATE],
    source: "os.statvfs(mountpoint).f_files, .f_ffree",
    extension: true,
};

pub static INODES_LIMIT: MetricDesc = MetricDesc {
    name: "system.filesystem.inodes.limit",
    unit: "{inode}",
    instrument: Instrument::UpDownCounter,
    help: "Inodes the filesystem can hold, f_files",
    attributes: &[DEVICE, MOUNTPOINT, TYPE, MODE],
    source: "os.statvfs(mountpoint).f_files",
    extension: true,
};

pub static STUCK: MetricDesc = MetricDesc {
    name: "vitals.filesystem.stuck",
    unit: "",
    instrument: Instrument::Gauge,
    help: "1 for a mount whose statvfs did not answer within statfs_timeout (a dead NFS, CIFS or FUSE server); it is not read again until the blocked call returns, and has no usage series meanwhile",
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

/// Name of the threads that run statvfs, so that a blocked one can be found in
/// `/proc/<pid>/task/*/comm`.
pub const STATFS_THREAD: &str = "vitals-statfs";

pub struct FilesystemCollector {
    paths: HostPaths,
    settings: Settings,
    /// Mounts whose statvfs has not returned, by mount point, with the thread blocked in it.
    stuck: HashMap<String, JoinHandle<()>>,
    /// statvfs(2); tests put a call that blocks in its place.
    statvfs: fn(&Path) -> rustix::io::Result<StatVfs>,
}

impl FilesystemCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        Self {
            paths,
            settings: settings.clone(),
            stuck: HashMap::new(),
            statvfs: |path| rustix::fs::statvfs(path),
        }
    }

    /// The host's mount table: pid 1's, else this process's.
    fn mount_table(&self) -> Result<Vec<Mount>, HostError> {
        let init = self.paths.proc("1/mounts");
        let (path, text) = match host::read(&init) {
            Ok(text) => (init, text),
            Err(_) => {
                let own = self.paths.proc("self/mounts");
                let text = host::read(&own)?;
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

    /// statvfs of each mount on its own thread; `None` for those that did not answer in
    /// time (now marked stuck) or were stuck already.
    fn stat_all(
        &mut self,
        mounts: &[Mount],
        out: &mut Snapshot,
    ) -> Vec<Option<rustix::io::Result<StatVfs>>> {
        self.stuck.retain(|_, thread| !thread.is_finished());
        let (tx, rx) = mpsc::channel();
        let mut threads: Vec<Option<JoinHandle<()>>> = Vec::with_capacity(mounts.len());
        for (i, m) in mounts.iter().enumerate() {
            if self.stuck.contains_key(&m.mountpoint) {
                threads.push(None);
                continue;
            }
            let path: PathBuf = self.paths.root(&m.mountpoint);
            let tx = tx.clone();
            let statvfs = self.statvfs;
            let spawned = std::thread::Builder::new()
                .name(STATFS_THREAD.into())
                .spawn(move || {
                    // The receiver is gone when the answer came too late: nothing to do.
                    let _ = tx.send((i, statvfs(&path)));
                });
            match spawned {
                Ok(thread) => threads.push(Some(thread)),
                Err(e) => {
                    out.skip(
                        ErrorKind::Thread,
                        format!("starting statvfs of {}: {e}", m.mountpoint),
                    );
                    threads.push(None);
                }
            }
        }
        drop(tx);
        let mut results: Vec<Option<rustix::io::Result<StatVfs>>> =
            mounts.iter().map(|_| None).collect();
        let deadline = Instant::now() + self.settings.statfs_timeout.0;
        while let Ok((i, result)) =
            rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            results[i] = Some(result);
        }
        for ((m, result), thread) in mounts.iter().zip(&results).zip(threads) {
            if let (None, Some(thread)) = (result, thread) {
                self.stuck.insert(m.mountpoint.clone(), thread);
            }
        }
        results
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
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn catalog(&self) -> &'static [&'static MetricDesc] {
        CATALOG
    }

    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let s = &self.settings;
        let mut mounts = distinct(&self.mount_table()?, |m| {
            s.mountpoints.allows(&m.mountpoint) && s.fs_types.allows(&m.fstype)
        });
        if mounts
            .iter()
            .any(|m| m.device == "/dev/root" || m.device == "rootfs")
            && let Some(dev) = self.root_device()
        {
            for m in mounts
                .iter_mut()
                .filter(|m| m.device == "/dev/root" || m.device == "rootfs")
            {
                m.device = dev.clone();
            }
        }
        let results = self.stat_all(&mounts, out);
        let timeout = self.settings.statfs_timeout;
        for (m, result) in mounts.iter().zip(results) {
            let labels = [
                (DEVICE, m.device.as_str()),
                (MOUNTPOINT, m.mountpoint.as_str()),
                (TYPE, m.fstype.as_str()),
                (MODE, m.mode()),
            ];
            match result {
                Some(Ok(st)) => export_usage(&st, &labels, out),
                Some(Err(e)) => out.skip(
                    ErrorKind::Read,
                    format!("statvfs {}: {e}", self.paths.root(&m.mountpoint).display()),
                ),
                None if self.stuck.contains_key(&m.mountpoint) => {
                    out.add(&STUCK, &labels[..3], 1.0);
                    out.skip(
                        ErrorKind::Timeout,
                        format!(
                            "statvfs of {} did not answer within {timeout}; not read again until it returns",
                            m.mountpoint
                        ),
                    );
                }
                // No thread could be started: already recorded by stat_all.
                None => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    fn fixture_collector(mounts: &str) -> (tempdir::Dir, FilesystemCollector) {
        let dir = tempdir::Dir::new();
        std::fs::create_dir_all(dir.0.join("proc/self")).unwrap();
        std::fs::write(dir.0.join("proc/self/mounts"), mounts).unwrap();
        let paths = HostPaths::under(&dir.0);
        (dir, FilesystemCollector::new(paths, &Settings::default()))
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
        let table = include_str!("../../tests/fixtures/filesystem-mounts/mounts");
        let s = Settings::default();
        let kept: Vec<String> = distinct(&parse_mounts(table).unwrap(), |m| {
            s.mountpoints.allows(&m.mountpoint) && s.fs_types.allows(&m.fstype)
        })
        .into_iter()
        .map(|m| m.mountpoint)
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
        let (dir, mut c) = fixture_collector("/dev/sdz9 /data ext4 ro,relatime 0 0\n");
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
    fn an_unreadable_mount_is_skipped_and_the_rest_exported() {
        let (dir, mut c) =
            fixture_collector("/dev/sdz9 /data ext4 rw 0 0\n/dev/sdz8 /gone ext4 rw 0 0\n");
        std::fs::create_dir_all(dir.0.join("data")).unwrap();
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        assert_eq!(labels_of(&s, LIMIT.name).len(), 1);
        assert_eq!(s.skipped.len(), 1);
        assert!(s.skipped[0].detail.contains("gone"), "{:?}", s.skipped);
    }

    #[test]
    fn pid_1_table_first_then_self() {
        let (dir, c) = fixture_collector("/dev/a / ext4 rw 0 0\n");
        assert_eq!(c.mount_table().unwrap()[0].device, "/dev/a");
        std::fs::create_dir_all(dir.0.join("proc/1")).unwrap();
        std::fs::write(dir.0.join("proc/1/mounts"), "/dev/b / ext4 rw 0 0\n").unwrap();
        assert_eq!(c.mount_table().unwrap()[0].device, "/dev/b");
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
    fn a_hung_mount_holds_one_thread_and_is_reported_until_it_returns() {
        let (dir, mut c) =
            fixture_collector("/dev/sdz9 /data ext4 rw 0 0\nnas:/x /hung nfs4 rw 0 0\n");
        std::fs::create_dir_all(dir.0.join("data")).unwrap();
        c.settings.statfs_timeout = Interval(Duration::from_millis(100));
        c.statvfs = hanging_statvfs;
        for _ in 0..5 {
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
        }
        assert_eq!(
            HUNG_CALLS.load(Ordering::SeqCst),
            1,
            "one blocked call, not one per tick"
        );
        RELEASE.store(true, Ordering::SeqCst);
        let end = Instant::now() + Duration::from_secs(5);
        while c.stuck.values().any(|t| !t.is_finished()) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        assert!(s.family(STUCK.name).is_none());
        assert_eq!(
            labels_of(&s, LIMIT.name).len(),
            2,
            "read again once it returned"
        );
        assert_eq!(HUNG_CALLS.load(Ordering::SeqCst), 2);
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

//! Logged-in users: `users()`, from the utmp file under the rootfs root. Sessions are
//! counted per user; the session list itself (terminal, remote host, pid) is sensitive and
//! grows with every login, so it is an opt-in `_info` metric.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::host::utmp::{self, User};
use crate::host::{self, HostError, HostPaths, Limit};
use crate::snapshot::Snapshot;

super::settings::plain_settings!(
    15,
    5,
    /// Also export one `system_users_session_info` series per session.
    sessions_info: bool = false,
);

const USER: &str = "user.name";
const TERMINAL: &str = "user.terminal";
const HOST: &str = "user.host";
const PID: &str = "process.pid";

pub static COUNT: MetricDesc = MetricDesc {
    name: "system.users.count",
    unit: "{session}",
    instrument: Instrument::UpDownCounter,
    help: "Login sessions per user: USER_PROCESS records of var/run/utmp under the rootfs root, as psutil's users(); no series when nobody is logged in",
    attributes: &[USER],
    source: "users() grouped by .name",
    extension: true,
};

pub static SESSION_INFO: MetricDesc = MetricDesc {
    name: "system.users.session.info",
    unit: "",
    instrument: Instrument::Gauge,
    help: "Always 1, one series per login session (opt-in: collectors.users.sessions_info): user_terminal is psutil's terminal (empty when None), user_host its host (localhost for a local or :0 session)",
    attributes: &[USER, TERMINAL, HOST, PID],
    source: "users()",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[&COUNT, &SESSION_INFO];

pub struct UsersCollector {
    paths: HostPaths,
    sessions_info: bool,
}

impl UsersCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        Self {
            paths,
            sessions_info: settings.sessions_info,
        }
    }

    /// glibc's `_PATH_UTMP`, `/var/run/utmp`, under the rootfs root. `/var/run` is usually a
    /// link to `/run`; an absolute link target is taken inside the root too, so a container
    /// reads the host's file rather than its own.
    fn utmp_path(&self) -> PathBuf {
        let var_run = self.paths.root("var/run");
        match std::fs::read_link(&var_run) {
            Ok(target) if target.is_absolute() => self
                .paths
                .rootfs
                .join(target.strip_prefix("/").unwrap_or(&target))
                .join("utmp"),
            _ => var_run.join("utmp"),
        }
    }
}

/// Sessions per user name, sorted by name: one map insertion per session, so 100,000
/// sessions of distinct users cost what 100,000 of one user do.
pub fn sessions_per_user(users: &[User]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for u in users {
        *counts.entry(u.name.as_str()).or_insert(0) += 1;
    }
    counts
}

impl Collector for UsersCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let path = self.utmp_path();
        let data = match host::read_bytes_with(&path, Limit::Utmp) {
            Ok(data) => data,
            // No utmp (a container, a minimal system): glibc then reports no entries.
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        let users = utmp::users(&data);
        for (name, n) in sessions_per_user(&users) {
            out.add(&COUNT, &[(USER, name)], n as f64);
        }
        if self.sessions_info {
            for u in &users {
                let pid = u.pid.to_string();
                out.add(
                    &SESSION_INFO,
                    &[
                        (USER, &u.name),
                        (TERMINAL, u.terminal.as_deref().unwrap_or("")),
                        (HOST, &u.host),
                        (PID, &pid),
                    ],
                    1.0,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A root whose var/run is an absolute link to /run, as on the host: the file is read
    /// inside the root, not from the container's own /run.
    #[test]
    fn absolute_var_run_link_stays_inside_the_root() {
        let root = std::env::temp_dir().join(format!("vitals-utmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("run")).unwrap();
        std::fs::create_dir_all(root.join("var")).unwrap();
        std::os::unix::fs::symlink("/run", root.join("var/run")).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modern/var/run/utmp"),
            root.join("run/utmp"),
        )
        .unwrap();
        let paths = HostPaths::under(&root);
        let mut c = UsersCollector::new(paths, &Settings::default());
        assert_eq!(c.utmp_path(), root.join("run/utmp"));
        let mut out = Snapshot::default();
        c.collect(&mut out).unwrap();
        assert_eq!(out.family(COUNT.name).map(|f| f.samples.len()), Some(3));
        assert!(out.family(SESSION_INFO.name).is_none(), "opt-in only");
        let _ = std::fs::remove_dir_all(&root);
    }
}

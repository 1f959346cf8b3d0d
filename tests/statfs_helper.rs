//! The real `vitals statfs-helper` process behind a `StatfsPool`: answers that match
//! statvfs(2) on paths of any bytes, errno passed through, a helper killed between calls
//! replaced, and the subcommand hidden from `--help`. A helper blocked on a dead mount is
//! tested against a real hung FUSE server in tests/python/test_disk_hung_mount.py.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use vitals::statfs::{Outcome, StatfsPool};

const BIN: &str = env!("CARGO_BIN_EXE_vitals");
const TIMEOUT: Duration = Duration::from_secs(5);

/// This process's children running `statfs-helper`.
fn helpers() -> Vec<u32> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace() {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline
                .split(|b| *b == 0)
                .any(|arg| arg == b"statfs-helper")
            {
                pids.push(pid.parse().unwrap());
            }
        }
    }
    pids
}

/// Waits (10 s at most) until `pid` has exited: a zombie its parent has not reaped yet, or
/// gone.
fn wait_until_dead(pid: u32) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the command name's closing parenthesis.
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        if matches!(state, None | Some('Z' | 'X')) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{pid} still alive: {stat}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_helper_answers_like_statvfs_and_is_replaced_when_it_dies() {
    // A name that is not UTF-8 (Latin-1): the helper gets the bytes as they are.
    let mut name = format!("vitals-statfs-{}-", std::process::id()).into_bytes();
    name.extend_from_slice(b"\xe9t\xe9");
    let latin1 = std::env::temp_dir().join(OsStr::from_bytes(&name));
    std::fs::create_dir_all(&latin1).unwrap();

    let pool = StatfsPool::with_program(BIN);
    let paths = [
        PathBuf::from("/"),
        latin1.clone(),
        PathBuf::from("/nonexistent/vitals"),
    ];
    let check = |out: &[Outcome]| {
        let Outcome::Stat(root) = &out[0] else {
            panic!("{out:?}");
        };
        let expected = rustix::fs::statvfs("/").unwrap();
        assert_eq!(
            (root.f_blocks, root.f_frsize, root.f_files, root.f_flag),
            (
                expected.f_blocks,
                expected.f_frsize,
                expected.f_files,
                expected.f_flag
            )
        );
        let Outcome::Stat(st) = &out[1] else {
            panic!("{out:?}");
        };
        assert_eq!(
            st.f_fsid,
            rustix::fs::statvfs(&latin1).unwrap().f_fsid,
            "the path with invalid UTF-8 reached statvfs"
        );
        assert!(
            matches!(&out[2], Outcome::Failed(e) if e.kind() == std::io::ErrorKind::NotFound),
            "{out:?}"
        );
    };
    for _ in 0..3 {
        check(&pool.statvfs(&paths, TIMEOUT));
    }
    let running = helpers();
    assert_eq!(
        running.len(),
        1,
        "one helper serves every call: {running:?}"
    );

    // Killed between two calls: the next call finds it gone and starts another.
    let killed = Command::new("kill")
        .args(["-KILL", &running[0].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_until_dead(running[0]);
    check(&pool.statvfs(&paths, TIMEOUT));
    let now = helpers();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now, running);
    assert_eq!(pool.stuck(), 0);
    std::fs::remove_dir_all(&latin1).unwrap();
}

#[test]
fn the_helper_subcommand_is_hidden() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("list-metrics"), "{help}");
    assert!(!help.contains("statfs"), "{help}");
}

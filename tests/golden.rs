//! Golden expositions: `vitals once` on the fixture trees, compared with checked-in files.
//! Self-metrics (the `vitals_*` families: durations, timestamps, build) are volatile and left
//! out; nothing else is.
//!
//! Filesystem usage comes from statvfs on the fixture tree's directories, so its values are
//! those of whatever disk holds the checkout: they are masked as `<statvfs>`, and the golden
//! file pins which mounts are exported and with which labels.
//!
//! After a deliberate change, regenerate and review the diff:
//!     UPDATE_GOLDEN=1 cargo test --test golden

use std::path::Path;
use std::process::Command;

fn once(fixture: &str, format: &str) -> String {
    once_with(fixture, format, None)
}

fn once_with(fixture: &str, format: &str, config: Option<&str>) -> String {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let root = fixtures.join(fixture);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitals"));
    if let Some(config) = config {
        cmd.arg("--config")
            .arg(fixtures.join("configs").join(config));
    }
    let out = cmd
        .args(["once", "--format", format, "--procfs"])
        .arg(root.join("proc"))
        .arg("--sysfs")
        .arg(root.join("sys"))
        .arg("--rootfs")
        .arg(&root)
        .output()
        .expect("running vitals once");
    assert!(
        out.status.success(),
        "vitals once failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 exposition");
    text.lines()
        .filter(|l| !metric_of(l).starts_with("vitals_"))
        .map(|l| format!("{}\n", mask_host_dependent(l)))
        .collect()
}

/// The metric family a line of an exposition is about: a sample's name, or the name a
/// `# TYPE`, `# HELP` or `# UNIT` line describes (empty for `# EOF`).
fn metric_of(line: &str) -> &str {
    let rest = match line.strip_prefix("# ") {
        Some(comment) => comment.split_once(' ').map_or("", |(_, rest)| rest),
        None => line,
    };
    rest.split(['{', ' ']).next().unwrap_or("")
}

#[test]
fn only_self_metric_lines_are_left_out() {
    for line in [
        "# HELP vitals_collector_up Whether the last collection succeeded",
        "# TYPE vitals_build_info gauge",
        "vitals_collector_up{collector=\"cpu\"} 1",
        "vitals_http_requests_total 3",
    ] {
        assert!(metric_of(line).starts_with("vitals_"), "{line}");
    }
    for line in [
        "# TYPE process_group_count gauge",
        "process_group_count{process_group=\"vitals_agent\"} 1",
        "system_filesystem_limit_bytes{system_filesystem_mountpoint=\"/srv/vitals_data\"} 1",
        "# EOF",
    ] {
        assert!(!metric_of(line).starts_with("vitals_"), "{line}");
    }
}

fn check(fixture: &str, format: &str, file: &str) {
    compare(once(fixture, format), file);
}

fn compare(got: String, file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).expect("writing golden file");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if got != want {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (w, g))| w != g)
            .take(10)
            .map(|(i, (w, g))| format!("line {}:\n  want {w}\n  got  {g}", i + 1))
            .collect();
        panic!(
            "{file} differs ({} vs {} lines); regenerate with UPDATE_GOLDEN=1 if intended\n{}",
            want.lines().count(),
            got.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn modern_kernel_prometheus_text() {
    check("modern", "prometheus", "modern.prom");
}

#[test]
fn modern_kernel_openmetrics() {
    check("modern", "openmetrics", "modern.om");
}

#[test]
fn legacy_kernel_prometheus_text() {
    check("legacy", "prometheus", "legacy.prom");
}

// Sensors and system. The sensor trees are sysfs only, so they run the sensors and battery
// collectors alone; tests/python/test_sensors_fixture_oracle.py checks the same trees
// against psutil itself.

#[test]
fn sensors_laptop() {
    compare(
        once_with("sensors-laptop", "prometheus", Some("sensors-only.toml")),
        "sensors-laptop.prom",
    );
}

#[test]
fn sensors_server() {
    compare(
        once_with("sensors-server", "prometheus", Some("sensors-only.toml")),
        "sensors-server.prom",
    );
}

#[test]
fn sensors_amd_desktop() {
    compare(
        once_with(
            "sensors-amd-desktop",
            "prometheus",
            Some("sensors-only.toml"),
        ),
        "sensors-amd-desktop.prom",
    );
}

#[test]
fn sensors_rpi() {
    compare(
        once_with("sensors-rpi", "openmetrics", Some("sensors-only.toml")),
        "sensors-rpi.om",
    );
}

/// A router: three chips under one Wi-Fi device (`phy0/mt7996_phy0_N` ids), chips without a
/// `device` link or with one written as `../..`.
#[test]
fn sensors_router() {
    compare(
        once_with("sensors-router", "prometheus", Some("sensors-only.toml")),
        "sensors-router.prom",
    );
}

/// Interface, disk, sensor and power supply names that are not UTF-8, escaped in their
/// labels (`host::bytes::escape`), in both formats.
#[test]
fn names_that_are_not_utf8() {
    for (format, file) in [
        ("prometheus", "non-utf8.prom"),
        ("openmetrics", "non-utf8.om"),
    ] {
        compare(once_with("non-utf8", format, Some("non-utf8.toml")), file);
    }
}

#[test]
fn users_session_list_when_enabled() {
    compare(
        once_with("modern", "prometheus", Some("users-sessions.toml")),
        "modern-users-sessions.prom",
    );
}

/// Replaces the value of a `system_filesystem_*` sample, which depends on the disk under the
/// fixture tree, by `<statvfs>`.
fn mask_host_dependent(line: &str) -> String {
    match line.rsplit_once(' ') {
        Some((series, _)) if line.starts_with("system_filesystem_") => {
            format!("{series} <statvfs>")
        }
        _ => line.to_string(),
    }
}

/// The opt-in listener series on the modern tree, capped at six of its seven addresses.
#[test]
fn modern_kernel_listeners() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let out = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .arg("--config")
        .arg(root.join("network-config/listening.toml"))
        .args(["once", "--format", "prometheus", "--procfs"])
        .arg(root.join("modern/proc"))
        .arg("--sysfs")
        .arg(root.join("modern/sys"))
        .output()
        .expect("running vitals once");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 exposition");
    let got: String = text
        .lines()
        .filter(|l| {
            l.contains("system_network_listener")
                || (l.starts_with("vitals_collector_series_dropped_total")
                    && l.contains("connections"))
                || (l.starts_with("vitals_collector_errors_total")
                    && l.contains("connections")
                    && !l.ends_with(" 0"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/modern-listeners.prom");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).expect("writing golden file");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(got, want, "regenerate with UPDATE_GOLDEN=1 if intended");
}

// Processes: the tests/fixtures/processes tree (scripts/make_process_fixtures.py), with the
// default grouping (one group per comm, kernel threads together) and with rules.
// tests/python/test_process_fixture_oracle.py checks the same tree against psutil.

#[test]
fn processes_default_groups() {
    compare(
        once_with("processes", "prometheus", Some("processes-only.toml")),
        "processes.prom",
    );
}

#[test]
fn processes_rules_and_top() {
    compare(
        once_with("processes", "openmetrics", Some("processes-rules.toml")),
        "processes-rules.om",
    );
}

// Services, containers and pods: the cgroup v2 trees of scripts/make_cgroup_fixtures.py,
// with the cgroups and pressure collectors alone.

fn cgroups(fixture: &str) {
    compare(
        once_with(fixture, "prometheus", Some("cgroups-only.toml")),
        &format!("{fixture}.prom"),
    );
}

#[test]
fn cgroups_systemd_host() {
    cgroups("cgroups-systemd");
}

#[test]
fn cgroups_kubernetes_systemd_driver() {
    cgroups("cgroups-k8s-systemd");
}

#[test]
fn cgroups_kubernetes_cgroupfs_driver_cri_o() {
    cgroups("cgroups-k8s-cgroupfs");
}

#[test]
fn cgroups_docker() {
    cgroups("cgroups-docker");
}

#[test]
fn cgroups_podman() {
    cgroups("cgroups-podman");
}

//! The cgroups collector on the fixture trees of scripts/make_cgroup_fixtures.py, through
//! the real binary: the kubelet's working set, selection and the cap.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const TREES: [&str; 5] = [
    "cgroups-systemd",
    "cgroups-k8s-systemd",
    "cgroups-k8s-cgroupfs",
    "cgroups-docker",
    "cgroups-podman",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `vitals once` on a tree with the cgroups collector alone and `extra` in its section.
fn once(tree: &str, extra: &str) -> String {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "vitals-cgroups-{tree}-{}-{run}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = String::new();
    for name in vitals::collectors::NAMES
        .iter()
        .filter(|n| **n != "cgroups")
    {
        config.push_str(&format!("[collectors.{name}]\nenabled = false\n"));
    }
    config.push_str(&format!("[collectors.cgroups]\n{extra}\n"));
    let cfg = dir.join("vitals.toml");
    std::fs::write(&cfg, config).unwrap();
    let root = fixture(tree);
    let out = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .arg("--config")
        .arg(&cfg)
        .args(["once", "--procfs"])
        .arg(root.join("proc"))
        .arg("--sysfs")
        .arg(root.join("sys"))
        .arg("--rootfs")
        .arg(&root)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// cgroup_path -> value of the family's samples (the first per path).
fn by_path(text: &str, family: &str) -> HashMap<String, f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(family)?.strip_prefix("{cgroup_path=\""))
        .filter_map(|rest| {
            let (path, tail) = rest.split_once('"')?;
            let value = tail.rsplit(' ').next()?.parse().ok()?;
            Some((path.to_string(), value))
        })
        .collect()
}

fn stat_value(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
        .unwrap()
}

#[test]
fn working_set_is_usage_minus_inactive_file_floored_at_zero() {
    let mut floored = 0;
    for tree in TREES {
        let text = once(tree, "");
        let ws = by_path(&text, "container_memory_working_set_bytes");
        assert!(!ws.is_empty(), "{tree}: no working set");
        for (path, got) in ws {
            let dir = fixture(tree)
                .join("sys/fs/cgroup")
                .join(path.trim_start_matches('/'));
            let current: i64 = std::fs::read_to_string(dir.join("memory.current"))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            let stat = std::fs::read_to_string(dir.join("memory.stat")).unwrap();
            let want = (current - stat_value(&stat, "inactive_file") as i64).max(0);
            floored += usize::from(want == 0);
            assert_eq!(got, want as f64, "{tree} {path}");
        }
    }
    assert_eq!(
        floored, 1,
        "the fixture's one cgroup with inactive_file > current"
    );
}

#[test]
fn selected_cgroups_never_contain_one_another() {
    for tree in TREES {
        let paths: Vec<String> = by_path(&once(tree, ""), "container_cpu_time_seconds_total")
            .into_keys()
            .collect();
        assert!(paths.len() >= 3, "{tree}: {paths:?}");
        for a in &paths {
            for b in &paths {
                assert!(!b.starts_with(&format!("{a}/")), "{tree}: {a} contains {b}");
            }
        }
    }
}

#[test]
fn include_exclude_and_the_cap_fold_the_rest() {
    let all = by_path(
        &once("cgroups-systemd", ""),
        "container_cpu_time_seconds_total",
    );
    assert!(all.contains_key("/system.slice/nginx.service"));
    assert!(
        !all.contains_key("/system.slice"),
        "slices are not workloads"
    );

    let text = once(
        "cgroups-systemd",
        "workloads = false\ninclude = \"/system\\\\.slice/.*\\\\.service\"\nexclude = \".*/sshd\\\\.service\"",
    );
    let mut got: Vec<String> = by_path(&text, "container_memory_usage_bytes")
        .into_keys()
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "/system.slice/nginx.service",
            "/system.slice/postgresql.service"
        ]
    );

    let text = once("cgroups-systemd", "max_cgroups = 3");
    assert_eq!(by_path(&text, "container_cpu_time_seconds_total").len(), 3);
    let folded = all.len() - 3;
    assert!(
        text.contains(&format!("\nvitals_cgroups_folded {folded}\n")),
        "{text}"
    );
}

#[test]
fn kubernetes_labels_from_the_kubelet_files() {
    for tree in ["cgroups-k8s-systemd", "cgroups-k8s-cgroupfs"] {
        let text = once(tree, "");
        let line = text
            .lines()
            .find(|l| {
                l.starts_with("container_memory_usage_bytes{")
                    && l.contains("k8s_container_name=\"nginx\"")
            })
            .unwrap_or_else(|| panic!("{tree}: no nginx container\n{text}"));
        for label in [
            "k8s_pod_uid=\"0f1e2d3c-4b5a-6978-8a9b-aabbccddeeff\"",
            "k8s_pod_name=\"web-7f9c8d-abcde\"",
            "k8s_namespace_name=\"shop\"",
            "k8s_pod_qos_class=\"Guaranteed\"",
        ] {
            assert!(line.contains(label), "{tree}: {label} missing in {line}");
        }
        assert_eq!(
            line.contains("container_runtime_name=\"cri-o\""),
            tree.ends_with("cgroupfs"),
            "{line}"
        );
    }
}

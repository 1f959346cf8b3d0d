//! Golden expositions: `vitals once` on the fixture trees, compared with checked-in files.
//! Self-metrics (`vitals_` lines: durations, timestamps, build) are volatile and left out.
//!
//! After a deliberate change, regenerate and review the diff:
//!     UPDATE_GOLDEN=1 cargo test --test golden

use std::path::Path;
use std::process::Command;

fn once(fixture: &str, format: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let out = Command::new(env!("CARGO_BIN_EXE_vitals"))
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
        .filter(|l| !l.contains("vitals_"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn check(fixture: &str, format: &str, file: &str) {
    let got = once(fixture, format);
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
                || (l.starts_with("vitals_collector_errors_total")
                    && l.contains("connections")
                    && l.contains("limit"))
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

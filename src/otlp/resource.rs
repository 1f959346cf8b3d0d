//! The OTLP resource: who is sending. Detected from the host (under the configured roots, so a
//! DaemonSet reports the node, not the container), then the user's attributes over them.

use crate::host::os_release::{self, parse_os_release};
use crate::host::{self, HostPaths};

/// `host.arch` as the semantic conventions spell it, from uname's machine.
fn arch(machine: &str) -> &str {
    match machine {
        "x86_64" | "amd64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "i386" | "i486" | "i586" | "i686" => "x86",
        "armv7l" | "armv6l" | "arm" => "arm32",
        "ppc64le" | "ppc64" => "ppc64",
        "ppc" => "ppc32",
        "s390x" => "s390x",
        other => other,
    }
}

fn first_line(text: &str) -> Option<String> {
    let l = text.lines().next()?.trim();
    (!l.is_empty()).then(|| l.to_string())
}

/// The detected attributes, then `user` merged over them (a user key replaces a detected one).
pub fn attributes(paths: &HostPaths, user: &[(String, String)]) -> Vec<(String, String)> {
    let live = paths.procfs_is_live();
    let uname = rustix::system::uname();
    let (nodename, release, machine) = if live {
        (
            uname.nodename().to_string_lossy().into_owned(),
            uname.release().to_string_lossy().into_owned(),
            uname.machine().to_string_lossy().into_owned(),
        )
    } else {
        let read = |f: &str| {
            host::read(&paths.proc(&format!("sys/kernel/{f}")))
                .ok()
                .and_then(|t| first_line(&t))
                .unwrap_or_default()
        };
        (read("hostname"), read("osrelease"), read("arch"))
    };
    let machine_id = ["etc/machine-id", "var/lib/dbus/machine-id"]
        .iter()
        .find_map(|rel| {
            host::read(&paths.root(rel))
                .ok()
                .and_then(|t| first_line(&t))
        });
    let description = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|rel| host::read(&paths.root(rel)).ok())
        .and_then(|t| os_release::get(&parse_os_release(&t), "PRETTY_NAME").map(str::to_string))
        .unwrap_or_else(|| format!("Linux {release}"));
    let instance = host::read(&paths.proc("sys/kernel/random/uuid"))
        .ok()
        .and_then(|t| first_line(&t))
        .unwrap_or_else(|| {
            format!(
                "{nodename}-{}-{}",
                std::process::id(),
                crate::snapshot::unix_nanos()
            )
        });
    let mut out: Vec<(String, String)> = vec![
        ("service.name".into(), "vitals".into()),
        ("service.version".into(), env!("CARGO_PKG_VERSION").into()),
        ("service.instance.id".into(), instance),
        ("host.name".into(), nodename),
        ("host.arch".into(), arch(&machine).to_string()),
        ("os.type".into(), "linux".into()),
        ("os.description".into(), description),
    ];
    if let Some(id) = machine_id {
        out.push(("host.id".into(), id));
    }
    for (k, v) in user {
        match out.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detected_from_a_fixture_tree_and_overridden_by_the_user() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modern");
        let attrs = attributes(
            &HostPaths::under(&root),
            &[
                ("service.name".into(), "node-agent".into()),
                ("deployment.environment".into(), "prod".into()),
            ],
        );
        let get = |k: &str| {
            attrs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("service.name"), Some("node-agent"));
        assert_eq!(get("deployment.environment"), Some("prod"));
        assert_eq!(get("os.type"), Some("linux"));
        assert!(get("os.description").is_some_and(|d| !d.is_empty()));
        assert!(get("service.instance.id").is_some_and(|d| !d.is_empty()));
        assert_eq!(arch("x86_64"), "amd64");
        assert_eq!(arch("aarch64"), "arm64");
    }
}

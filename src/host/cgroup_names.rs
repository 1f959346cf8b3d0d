//! What a cgroup is, from its path and the host's files alone (no API server, no runtime
//! socket): the systemd unit and slice, the container id and runtime, the Kubernetes pod UID
//! and QoS class, and the names the kubelet's log directories and the Docker and Podman
//! state files give.
//!
//! The path spellings (as the kubelet, containerd, CRI-O, Docker and Podman create them):
//! - systemd driver: `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with
//!   _ for ->.slice/cri-containerd-<id>.scope` (`crio-<id>.scope` for CRI-O; the Guaranteed
//!   class has no QoS slice: `kubepods.slice/kubepods-pod<uid>.slice`);
//! - cgroupfs driver: `kubepods/burstable/pod<uid>/<id>` (`kubepods/pod<uid>/<id>` for
//!   Guaranteed; CRI-O writes `crio-<id>` there too);
//! - Docker: `system.slice/docker-<id>.scope` (systemd) or `docker/<id>` (cgroupfs);
//! - Podman: `machine.slice/libpod-<id>.scope`, rootless under `user@<uid>.service`, or
//!   `libpod_parent/libpod-<id>` (cgroupfs). The `*-conmon-<id>.scope` cgroups hold the
//!   runtime's monitor, not the container.

/// What a cgroup's path says it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The last component, when it is a systemd unit (`.service`, `.scope`, `.slice`, ...).
    pub unit: Option<String>,
    /// The nearest ancestor that is a slice.
    pub slice: Option<String>,
    pub container_id: Option<String>,
    /// `docker`, `containerd`, `cri-o` or `podman`, where the spelling says.
    pub runtime: Option<&'static str>,
    pub pod_uid: Option<String>,
    /// Kubernetes' spelling: `Guaranteed`, `Burstable`, `BestEffort`.
    pub qos: Option<&'static str>,
}

impl Identity {
    /// A service, a scope (a session, a container run by systemd) or a container: what the
    /// default selection exports.
    pub fn is_workload(&self) -> bool {
        self.container_id.is_some()
            || self
                .unit
                .as_deref()
                .is_some_and(|u| u.ends_with(".service") || u.ends_with(".scope"))
    }
}

const UNIT_SUFFIXES: &[&str] = &[".service", ".scope", ".slice", ".socket", ".mount", ".swap"];

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container id and runtime a path component names, if it names a container.
fn container(component: &str, parent: Option<&str>) -> Option<(String, Option<&'static str>)> {
    const PREFIXES: &[(&str, &str)] = &[
        ("docker-", "docker"),
        ("cri-containerd-", "containerd"),
        ("crio-", "cri-o"),
        ("libpod-", "podman"),
    ];
    let bare = component.strip_suffix(".scope").unwrap_or(component);
    for (prefix, runtime) in PREFIXES {
        if let Some(id) = bare.strip_prefix(prefix)
            && is_container_id(id)
        {
            return Some((id.to_string(), Some(runtime)));
        }
    }
    if is_container_id(component) {
        let runtime = match parent {
            Some("docker") => Some("docker"),
            _ => None,
        };
        return Some((component.to_string(), runtime));
    }
    None
}

/// The pod UID and QoS class a path component names, if it is a pod's cgroup.
fn pod(component: &str, parent: Option<&str>) -> Option<(String, &'static str)> {
    let qos = |q: &str| match q {
        "burstable" => "Burstable",
        "besteffort" => "BestEffort",
        _ => "Guaranteed",
    };
    if let Some(rest) = component
        .strip_prefix("kubepods-")
        .and_then(|r| r.strip_suffix(".slice"))
    {
        let (class, uid) = match rest.split_once("-pod") {
            Some((class, uid)) => (class, uid),
            None => ("", rest.strip_prefix("pod")?),
        };
        if uid.is_empty() || class.contains('-') {
            return None;
        }
        return Some((uid.replace('_', "-"), qos(class)));
    }
    let uid = component.strip_prefix("pod")?;
    let parent = parent?;
    let class = match parent {
        "kubepods" => "",
        "burstable" | "besteffort" => parent,
        _ => return None,
    };
    (!uid.is_empty()).then(|| (uid.to_string(), qos(class)))
}

/// What the path (relative to the hierarchy's root, `/` separated) says the cgroup is.
pub fn classify(path: &str) -> Identity {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut id = Identity::default();
    let Some((last, ancestors)) = components.split_last() else {
        return id;
    };
    if UNIT_SUFFIXES.iter().any(|s| last.ends_with(s)) {
        id.unit = Some(last.to_string());
    }
    id.slice = ancestors
        .iter()
        .rev()
        .find(|c| c.ends_with(".slice"))
        .map(|s| s.to_string());
    for (i, c) in components.iter().enumerate() {
        let parent = i.checked_sub(1).map(|p| components[p]);
        if let Some((uid, qos)) = pod(c, parent) {
            id.pod_uid = Some(uid);
            id.qos = Some(qos);
        }
    }
    let parent = ancestors.last().copied();
    if let Some((cid, runtime)) = container(last, parent) {
        id.container_id = Some(cid);
        id.runtime = runtime;
    }
    id
}

/// `/var/log/pods/<namespace>_<pod>_<uid>`: (namespace, pod name, uid). Namespace and pod
/// names are DNS names, which hold no `_`.
pub fn parse_pod_log_dir(name: &str) -> Option<(&str, &str, &str)> {
    let mut parts = name.split('_');
    let (Some(ns), Some(pod), Some(uid), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (!ns.is_empty() && !pod.is_empty() && !uid.is_empty()).then_some((ns, pod, uid))
}

/// `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`: (container name, id).
pub fn parse_container_log(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".log")?;
    let (rest, id) = stem.rsplit_once('-')?;
    if !is_container_id(id) {
        return None;
    }
    let mut parts = rest.splitn(3, '_');
    let (Some(_pod), Some(_ns), Some(container)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (!container.is_empty()).then_some((container, id))
}

/// Docker's `/var/lib/docker/containers/<id>/config.v2.json`: the container's name,
/// without Docker's leading `/`.
pub fn parse_docker_config(json: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(rename = "Name")]
        name: String,
    }
    let c: Config = serde_json::from_slice(json).ok()?;
    let name = c.name.trim_start_matches('/');
    (!name.is_empty()).then(|| name.to_string())
}

/// Podman's (containers/storage) `overlay-containers/containers.json`: (id, first name) of
/// every container.
pub fn parse_podman_containers(json: &[u8]) -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Container {
        id: String,
        #[serde(default)]
        names: Vec<String>,
    }
    let Ok(list) = serde_json::from_slice::<Vec<Container>>(json) else {
        return Vec::new();
    };
    list.into_iter()
        .filter_map(|c| Some((c.id, c.names.into_iter().next()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn systemd_units_and_slices() {
        let id = classify("system.slice/nginx.service");
        assert_eq!(id.unit.as_deref(), Some("nginx.service"));
        assert_eq!(id.slice.as_deref(), Some("system.slice"));
        assert!(id.is_workload());
        let id = classify("user.slice/user-1000.slice/session-3.scope");
        assert_eq!(id.slice.as_deref(), Some("user-1000.slice"));
        assert!(id.is_workload());
        let id = classify("system.slice");
        assert_eq!(
            (id.unit.as_deref(), id.slice.as_deref(), id.is_workload()),
            (Some("system.slice"), None, false)
        );
        assert_eq!(classify(""), Identity::default());
    }

    #[test]
    fn kubernetes_systemd_driver() {
        let id = classify(&format!(
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6b4e_12ab.slice/cri-containerd-{ID}.scope"
        ));
        assert_eq!(id.pod_uid.as_deref(), Some("6b4e-12ab"));
        assert_eq!(id.qos, Some("Burstable"));
        assert_eq!(id.container_id.as_deref(), Some(ID));
        assert_eq!(id.runtime, Some("containerd"));
        assert_eq!(
            id.slice.as_deref(),
            Some("kubepods-burstable-pod6b4e_12ab.slice")
        );
        let id = classify(&format!(
            "kubepods.slice/kubepods-pod77.slice/crio-{ID}.scope"
        ));
        assert_eq!(
            (id.pod_uid.as_deref(), id.qos, id.runtime),
            (Some("77"), Some("Guaranteed"), Some("cri-o"))
        );
        let pod =
            classify("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1_2.slice");
        assert_eq!(
            (pod.pod_uid.as_deref(), pod.qos),
            (Some("1-2"), Some("BestEffort"))
        );
        assert!(!pod.is_workload());
        let conmon = classify(&format!(
            "kubepods.slice/kubepods-pod77.slice/crio-conmon-{ID}.scope"
        ));
        assert_eq!(conmon.container_id, None);
    }

    #[test]
    fn kubernetes_cgroupfs_driver() {
        let id = classify(&format!("kubepods/besteffort/pod1-2-3/{ID}"));
        assert_eq!(
            (id.pod_uid.as_deref(), id.qos, id.container_id.as_deref()),
            (Some("1-2-3"), Some("BestEffort"), Some(ID))
        );
        let id = classify(&format!("kubepods/pod9/crio-{ID}"));
        assert_eq!(
            (id.pod_uid.as_deref(), id.qos, id.runtime),
            (Some("9"), Some("Guaranteed"), Some("cri-o"))
        );
        assert_eq!(classify("other/pod9").pod_uid, None);
    }

    #[test]
    fn docker_and_podman() {
        let id = classify(&format!("system.slice/docker-{ID}.scope"));
        assert_eq!(
            (id.container_id.as_deref(), id.runtime),
            (Some(ID), Some("docker"))
        );
        let id = classify(&format!("docker/{ID}"));
        assert_eq!(id.runtime, Some("docker"));
        let id = classify(&format!(
            "user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"
        ));
        assert_eq!(id.runtime, Some("podman"));
        let id = classify(&format!("libpod_parent/libpod-{ID}"));
        assert_eq!(id.runtime, Some("podman"));
    }

    #[test]
    fn kubelet_log_names() {
        assert_eq!(
            parse_pod_log_dir("kube-system_coredns-5d78c9869d-abcde_6b4e-12ab"),
            Some(("kube-system", "coredns-5d78c9869d-abcde", "6b4e-12ab"))
        );
        assert_eq!(parse_pod_log_dir("a_b"), None);
        assert_eq!(
            parse_container_log(&format!("coredns-5d78_kube-system_coredns-{ID}.log")),
            Some(("coredns", ID))
        );
        assert_eq!(parse_container_log("x_y_z-123.log"), None);
    }

    #[test]
    fn runtime_state_files() {
        assert_eq!(
            parse_docker_config(br#"{"ID":"x","Name":"/web","State":{}}"#).as_deref(),
            Some("web")
        );
        assert_eq!(parse_docker_config(b"{"), None);
        assert_eq!(
            parse_podman_containers(br#"[{"id":"a","names":["db"],"image":"i"},{"id":"b"}]"#),
            vec![("a".to_string(), "db".to_string())]
        );
        assert!(parse_podman_containers(b"nope").is_empty());
    }
}

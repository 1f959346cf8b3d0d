"""deploy/kubernetes rendered by `kubectl kustomize` (the base and both overlays), every object
validated against the Kubernetes 1.32 schemas by kubernetes-validate (offline, strict: an
unknown field is an error), the ServiceMonitor and PodMonitor against the prometheus-operator
CRDs' schemas (tests/fixtures/crds, made strict the same way), and the ConfigMap's vitals.toml
through `vitals check-config`."""
import copy
import shutil
import subprocess

import pytest
import yaml

from conftest import BIN, REPO

K8S = REPO / "deploy" / "kubernetes"
CRDS = REPO / "tests" / "fixtures" / "crds"
VERSION = "1.32.0"
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl renders the kustomization")
kv = pytest.importorskip("kubernetes_validate")


def render(path):
    run = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return [d for d in yaml.safe_load_all(run.stdout) if d]


def strict(schema):
    """An openAPIV3Schema where an object with listed properties admits no other."""
    schema = copy.deepcopy(schema)

    def walk(s):
        if isinstance(s, dict):
            if ("properties" in s and "additionalProperties" not in s
                    and not s.get("x-kubernetes-preserve-unknown-fields")):
                s["additionalProperties"] = False
            for v in s.values():
                walk(v)
        elif isinstance(s, list):
            for v in s:
                walk(v)
    walk(schema)
    return schema


def crd_validators():
    import jsonschema
    out = {}
    for f in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(f.read_text())
        assert kv.validate(crd, VERSION, strict=True)
        for v in crd["spec"]["versions"]:
            key = (f'{crd["spec"]["group"]}/{v["name"]}', crd["spec"]["names"]["kind"])
            out[key] = jsonschema.Draft7Validator(strict(v["schema"]["openAPIV3Schema"]))
    return out


def validate(obj, crds):
    key = (obj["apiVersion"], obj["kind"])
    if key in crds:
        errors = [e.message for e in crds[key].iter_errors(obj)]
        assert not errors, (key, errors)
    else:
        kv.validate(obj, VERSION, strict=True)


@pytest.mark.parametrize("path", ["", "overlays/servicemonitor", "overlays/podmonitor"])
def test_rendered_objects_validate(path):
    crds = crd_validators()
    objs = render(K8S / path)
    kinds = sorted(o["kind"] for o in objs)
    base = ["ConfigMap", "DaemonSet", "Namespace", "Service", "ServiceAccount"]
    extra = {"": [], "overlays/servicemonitor": ["ServiceMonitor"], "overlays/podmonitor": ["PodMonitor"]}[path]
    assert kinds == sorted(base + extra)
    for o in objs:
        validate(o, crds)


def test_validation_catches_a_misspelt_field():
    crds = crd_validators()
    objs = {o["kind"]: o for o in render(K8S / "overlays/servicemonitor")}
    ds = copy.deepcopy(objs["DaemonSet"])
    ds["spec"]["template"]["spec"]["hostPid"] = True
    with pytest.raises(kv.ValidationError):
        validate(ds, crds)
    sm = copy.deepcopy(objs["ServiceMonitor"])
    sm["spec"]["endpoints"][0]["intervall"] = "15s"
    with pytest.raises(AssertionError):
        validate(sm, crds)


def test_daemonset_is_shaped_for_a_node_agent():
    objs = {o["kind"]: o for o in render(K8S)}
    ds = objs["DaemonSet"]
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostPID"] and spec["hostNetwork"]
    assert spec["automountServiceAccountToken"] is False
    assert objs["ServiceAccount"]["automountServiceAccountToken"] is False
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert {"operator": "Exists"} in spec["tolerations"]
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] == 65534
    assert ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == 1
    (c,) = spec["containers"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and sc["capabilities"]["drop"] == ["ALL"]
    assert sc["allowPrivilegeEscalation"] is False
    assert {"--procfs=/host/proc", "--sysfs=/host/sys", "--rootfs=/host/root"} <= set(c["args"])
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    hostpaths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    for path, host in [("/host/proc", "/proc"), ("/host/sys", "/sys"), ("/host/root", "/")]:
        assert mounts[path]["readOnly"] and hostpaths[mounts[path]["name"]] == host
    assert mounts["/host/root"]["mountPropagation"] == "HostToContainer"
    # The ConfigMap the pods mount is the generated one (its name carries the content hash).
    cm = objs["ConfigMap"]
    assert cm["metadata"]["name"].startswith("vitals-config-")
    assert any(v.get("configMap", {}).get("name") == cm["metadata"]["name"] for v in spec["volumes"])


def test_configmap_config_is_valid_and_excludes_pod_plumbing(tmp_path):
    cm = {o["kind"]: o for o in render(K8S)}["ConfigMap"]
    text = cm["data"]["vitals.toml"]
    cfg = tmp_path / "vitals.toml"
    cfg.write_text(text)
    run = subprocess.run([str(BIN), "check-config", "--config", str(cfg)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    for needle in ["veth", "cali", "flannel", "cni", "kubelet", "containerd", "/host/proc"]:
        assert needle in text, needle


def test_cgroups_collector_reads_the_node_cgroups_and_kubelet_names():
    """The cgroups collector finds the node's cgroup v2 hierarchy under --sysfs and the
    kubelet's log directories under --rootfs: both are in read-only host mounts."""
    objs = {o["kind"]: o for o in render(K8S)}
    spec = objs["DaemonSet"]["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    hostpaths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    # /sys/fs/cgroup is under the /sys hostPath (kubelet binds hostPaths recursively) and
    # /var/log/{pods,containers} under /.
    assert hostpaths[mounts["/host/sys"]["name"]] == "/sys" and mounts["/host/sys"]["readOnly"]
    assert hostpaths[mounts["/host/root"]["name"]] == "/" and mounts["/host/root"]["readOnly"]
    text = objs["ConfigMap"]["data"]["vitals.toml"]
    assert "[collectors.cgroups]" in text
    assert "enabled = false" not in text.split("[collectors.cgroups]")[1].split("[")[0]

"""The dashboards and the node_exporter compatibility rules, on a real Prometheus.

One Prometheus (the Debian package, 2.42) scrapes two vitals every second: one on this host,
and one on a fixture tree with sensors, a battery and logged-in users (hardware and sessions
this host lacks). It loads deploy/prometheus/*.rules.yml and the node-mixin's own recording
rules and alerts, rendered by jsonnet from tests/fixtures/node-mixin with
nodeExporterSelector job="vitals". Then every panel target of every dashboard, variables
substituted, must return at least one series through the HTTP API, and so must the
node-mixin's and "Node Exporter Full"'s main queries on the node_* series the compatibility
rules record. The host vitals also reads live cgroups the stack creates (a busy loop and a
sleeper, tests/python/cgroup_support.py); a third vitals reads the Kubernetes node fixture
tests/fixtures/cgroups-k8s-systemd, for the series of controllers a hybrid host's unified
hierarchy does not have (memory, io, pids, CPU quota). Panels on process and OTLP metrics are checked once the binary's catalog has
them (`vitals list-metrics`), and skipped with the reason until then.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml

from cgroup_support import LiveCgroups
from conftest import BIN, REPO, Daemon

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("jsonnet") is None,
    reason="prometheus and jsonnet are installed by scripts/test.sh",
)

DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))
FIXTURES = REPO / "tests" / "fixtures"
MIXIN = FIXTURES / "node-mixin"
RATE_INTERVAL = "20s"  # what Grafana's $__rate_interval is for a 1 s scrape at a short range

HOST_CONFIG = """
[collectors.cpu]
interval = "1s"
timeout = "1s"
[collectors.memory]
interval = "1s"
timeout = "1s"
[collectors.disk]
interval = "1s"
timeout = "1s"
[collectors.network]
interval = "1s"
timeout = "1s"
[collectors.processes]
interval = "1s"
timeout = "1s"
[collectors.cgroups]
interval = "1s"
timeout = "1s"
[collectors.pressure]
interval = "1s"
timeout = "1s"
"""
# The Kubernetes node fixture's cgroups, for the workloads dashboard.
CGROUP_FIXTURE_CONFIG = "\n".join(
    f"[collectors.{c}]\nenabled = false" for c in
    ("cpu", "memory", "sensors", "battery", "host", "users", "processes", "filesystem", "disk", "network",
     "interfaces", "connections")
) + '\n[collectors.cgroups]\ninterval = "1s"\ntimeout = "1s"\n'
# cgroup series only the fixture has: the controllers a hybrid host's unified hierarchy lacks.
CGROUP_FIXTURE_ONLY = re.compile(
    r"\b(container_memory_\w+|container_disk_\w+|container_cpu_throttling_\w+|container_cpu_limit|container_task_\w+)\b"
    r"|k8s_pod_uid")
# Sensors and battery from a laptop's sysfs, sessions from a utmp: the hardware this host lacks.
FIXTURE_CONFIG = "\n".join(
    f"[collectors.{c}]\nenabled = false" for c in
    ("cpu", "memory", "host", "processes", "filesystem", "disk", "network", "interfaces", "connections")
) + (
    '\n[collectors.sensors]\ninterval = "1s"\ntimeout = "1s"\n[collectors.battery]\ninterval = "1s"\ntimeout = "1s"\n')
# Series only the fixture vitals has.
FIXTURE_ONLY = re.compile(r"\b(hw_\w+|system_users_count)\b")
# Queries that count a failure state (a stuck mount, a failing collector): empty on a healthy
# host, so only their evaluation is checked.
FAILURE_STATE = re.compile(r"== [01]\)")
GATES = {
    "processes": ("process.count", re.compile(r"(?<!system_)\bprocess_\w+")),
    "otlp": ("vitals.otlp.exports", re.compile(r"\bvitals_otlp_\w+")),
}
# node-mixin alerts on node_exporter collectors vitals has no source for (docs/node-exporter-compat.md).
MIXIN_ALERTS_UNCOVERED = {
    "NodeHighNumberConntrackEntriesUsed", "NodeTextFileCollectorScrapeError", "NodeClockSkewDetected",
    "NodeClockNotSynchronising", "NodeRAIDDegraded", "NodeRAIDDiskFailure", "NodeFileDescriptorLimit",
    "NodeMemoryMajorPagesFaults", "NodeSystemdServiceFailed", "NodeSystemdServiceCrashlooping",
    "NodeBondingDegraded",
}
MIXIN_RULES_UNCOVERED = {"instance:node_vmstat_pgmajfault:rate5m"}


def catalog():
    return subprocess.run([str(BIN), "list-metrics"], capture_output=True, text=True, check=True).stdout


class Stack:
    def __init__(self, tmp):
        from otlp_receiver import Receiver
        # The host vitals also pushes OTLP to a real receiver, for the OTLP panels.
        self.receiver = Receiver()
        otlp = (f'[otlp]\nenabled = true\nendpoint = "http://127.0.0.1:{self.receiver.port}"\n'
                'interval = "1s"\ntimeout = "1s"\n')
        try:
            self.cgroups = LiveCgroups(f"vitals-dashboards-{os.getpid()}.slice")
        except pytest.skip.Exception:
            self.cgroups = None  # not root: the workload panels' live series are then missing
        self.host = Daemon([], HOST_CONFIG + otlp, tmp / "host")
        k8s = FIXTURES / "cgroups-k8s-systemd"
        self.cgroup_fixture = Daemon(["--procfs", str(k8s / "proc"), "--sysfs", str(k8s / "sys"),
                                      "--rootfs", str(k8s)], CGROUP_FIXTURE_CONFIG, tmp / "cgroups")
        self.cgroup_fixture_instance = self.cgroup_fixture.base.removeprefix("http://")
        laptop = FIXTURES / "sensors-laptop"
        modern = FIXTURES / "modern"
        self.fixture = Daemon(["--procfs", str(modern / "proc"), "--sysfs", str(laptop / "sys"),
                               "--rootfs", str(modern)], FIXTURE_CONFIG, tmp / "fixture")
        self.host_instance = self.host.base.removeprefix("http://")
        self.fixture_instance = self.fixture.base.removeprefix("http://")
        mixin = subprocess.run(
            ["jsonnet", "-J", str(MIXIN), "-e",
             "local m = (import 'config.libsonnet') + (import 'alerts/alerts.libsonnet')"
             " + (import 'rules/rules.libsonnet') + {_config+:: {nodeExporterSelector: 'job=\"vitals\"'}};"
             " {groups: m.prometheusAlerts.groups + m.prometheusRules.groups}"],
            capture_output=True, text=True, check=True).stdout
        self.mixin = json.loads(mixin)
        (tmp / "node-mixin.rules.json").write_text(mixin)
        cfg = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(REPO / "deploy" / "prometheus" / "node-exporter-compat.rules.yml"),
                           str(REPO / "deploy" / "prometheus" / "vitals.rules.yml"),
                           str(tmp / "node-mixin.rules.json")],
            "scrape_configs": [{"job_name": "vitals", "static_configs": [
                {"targets": [self.host_instance, self.fixture_instance, self.cgroup_fixture_instance]}]}],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(cfg))
        self.port = free_port()
        self.prom = subprocess.Popen(
            ["prometheus", f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=open(tmp / "prometheus.log", "w"))
        self.wait(lambda: self.query('count(up{job="vitals"} == 1) == 3'), 60, "the three vitals scraped")
        # Rates need two samples in the window, recorded rates two evaluations of the rules.
        self.wait(lambda: self.query(f"rate(system_network_io_bytes_total[{RATE_INTERVAL}])")
                  and self.query('instance:node_cpu_utilisation:rate5m{job="vitals"}'), 60,
                  "rates and recorded rates")

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def wait(self, ready, seconds, what):
        end = time.time() + seconds
        while True:
            try:
                if ready():
                    return
            except OSError:
                pass
            if time.time() > end:
                raise TimeoutError(f"Prometheus never had {what}")
            time.sleep(0.5)

    def stop(self):
        self.prom.terminate()
        self.prom.wait(10)
        for d in (self.host, self.fixture, self.cgroup_fixture):
            d.stop()
        if self.cgroups:
            self.cgroups.close()
        self.receiver.close()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboards")
    for sub in ("host", "fixture", "cgroups"):
        (tmp / sub).mkdir()
    s = Stack(tmp)
    yield s
    s.stop()


def targets(dashboard):
    d = json.loads(dashboard.read_text())
    for p in d["panels"]:
        for tg in p.get("targets", []):
            yield p["title"], tg["expr"]


def substitute(expr, instance):
    return (expr.replace("$__rate_interval", RATE_INTERVAL).replace("$job", "vitals")
            .replace("$instance", instance).replace("$process_group", ".*").replace("$process_pid", ".*")
            .replace("$cgroup", ".*"))


def gate_of(expr):
    return next((g for g, (_, names) in GATES.items() if names.search(expr)), None)


def check_target(stack, title, expr):
    """The target returns a series; None when it does, else what is wrong."""
    instance = (stack.fixture_instance if FIXTURE_ONLY.search(expr) else
                stack.cgroup_fixture_instance if CGROUP_FIXTURE_ONLY.search(expr) else stack.host_instance)
    # A stat that shows 0 for "none": its own series must be there, unless it counts a
    # failure this healthy host does not have.
    inner = expr.removesuffix(" or vector(0)")
    if inner != expr and FAILURE_STATE.search(inner):
        stack.query(substitute(inner, instance))
        return None
    q = substitute(inner, instance)
    end = time.time() + 20
    while not stack.query(q):
        if time.time() > end:
            return f"{title}: {q}"
        time.sleep(1)
    return None


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_target_returns_series(stack, dashboard):
    checked, empty = 0, []
    for title, expr in targets(dashboard):
        if gate_of(expr):
            continue
        checked += 1
        problem = check_target(stack, title, expr)
        if problem:
            empty.append(problem)
    assert not empty, "panel targets without data:\n" + "\n".join(empty)
    if dashboard.stem != "vitals-processes":
        assert checked >= 10


@pytest.mark.parametrize("gate", sorted(GATES))
def test_panels_on_metrics_still_to_come(stack, gate):
    metric, _ = GATES[gate]
    gated = [(d, title, expr) for d in DASHBOARDS for title, expr in targets(d) if gate_of(expr) == gate]
    assert gated, f"no dashboard panel uses the {gate} metrics"
    for _, _, expr in gated:
        stack.query(substitute(expr, stack.host_instance))  # Prometheus parses and evaluates it
    if f"`{metric}`" not in catalog():
        pytest.skip(f"{len(gated)} {gate} panel targets not checked: `vitals list-metrics` has no {metric} yet")
    empty = [p for d, title, expr in gated if (p := check_target(stack, f"{d.stem}/{title}", expr))]
    assert not empty, "panel targets without data:\n" + "\n".join(empty)


def test_per_process_view_with_the_default_config(stack):
    """The processes dashboard's per-process view (process_detail_* and process_top_*) has
    data from the host vitals, whose processes collector runs on the defaults (top_n = 5,
    max_processes = 100, no per_process rule): what a default install shows."""
    assert not re.search(r"top_n|max_processes|per_process", HOST_CONFIG), "the defaults"
    d = REPO / "dashboards" / "vitals-processes.json"
    per_process = [(title, expr) for title, expr in targets(d)
                   if re.search(r"\bprocess_(detail|top)_", expr)]
    assert len(per_process) >= 10, per_process
    empty = [p for title, expr in per_process if (p := check_target(stack, title, expr))]
    assert not empty, "per-process panel targets without data on the default config:\n" + "\n".join(empty)


def test_dashboard_variables_find_the_targets(stack):
    for dashboard in DASHBOARDS:
        d = json.loads(dashboard.read_text())
        for v in d["templating"]["list"]:
            if v["type"] != "query":
                continue
            q = v["query"]["query"]
            m = re.fullmatch(r"label_values\((.*), (\w+)\)", q)
            assert m, q
            selector, label = m.groups()
            if gate_of(selector) and f"`{GATES[gate_of(selector)][0]}`" not in catalog():
                continue
            values = stack.api(f"label/{label}/values",
                               **{"match[]": substitute(selector, stack.host_instance)})
            expected = {"job": "vitals", "instance": stack.host_instance}.get(label)
            assert values and (expected is None or expected in values), (dashboard.name, q, values)


def test_compat_and_mixin_rules_evaluate_without_errors(stack):
    def unhealthy():
        groups = stack.api("rules")["groups"]
        names = {g["name"] for g in groups}
        assert {"node-exporter-compat", "vitals-host", "vitals-self", "node-exporter",
                "node-exporter.rules"} <= names, names
        return [(r["name"], r["health"], r.get("lastError")) for g in groups for r in g["rules"]
                if r["health"] != "ok"]
    stack.wait(lambda: not unhealthy(), 15, "every rule evaluated")
    assert not unhealthy()


def test_compat_rules_record_every_series(stack):
    records = [r["record"] for g in yaml.safe_load(
        (REPO / "deploy" / "prometheus" / "node-exporter-compat.rules.yml").read_text())["groups"]
        for r in g["rules"]]
    empty = []
    for name in records:
        # Hardware and sessions only exist on the fixture vitals; the rest on this host.
        instance = stack.fixture_instance if re.match(r"node_(hwmon|power_supply)", name) else stack.host_instance
        if not stack.query(f'{name}{{job="vitals",instance="{instance}"}}'):
            empty.append(name)
    # A VM may have no cpufreq policy (min and max), a kernel without IRQ time accounting no
    # /proc/pressure/irq; everything else must be there.
    allowed = {"node_cpu_scaling_frequency_min_hertz", "node_cpu_scaling_frequency_max_hertz"}
    if not pathlib.Path("/proc/pressure/irq").exists():
        allowed.add("node_pressure_irq_stalled_seconds_total")
    assert set(empty) <= allowed, empty


def test_node_mixin_recording_rules_have_data(stack):
    records = [r["record"] for g in stack.mixin["groups"] for r in g["rules"] if "record" in r]
    assert len(records) >= 10
    empty = [r for r in records if r not in MIXIN_RULES_UNCOVERED
             and not stack.query(f'{r}{{job="vitals",instance="{stack.host_instance}"}}')]
    assert not empty, empty


def test_node_mixin_alerts_have_their_inputs(stack):
    alerts = [r for g in stack.mixin["groups"] for r in g["rules"] if "alert" in r]
    covered = [a for a in alerts if a["alert"] not in MIXIN_ALERTS_UNCOVERED]
    assert {a["alert"] for a in covered} >= {
        "NodeFilesystemSpaceFillingUp", "NodeFilesystemAlmostOutOfSpace", "NodeFilesystemFilesFillingUp",
        "NodeFilesystemAlmostOutOfFiles", "NodeNetworkReceiveErrs", "NodeNetworkTransmitErrs",
        "NodeCPUHighUsage", "NodeSystemSaturation", "NodeMemoryHighUtilization", "NodeDiskIOSaturation"}
    missing = []
    for a in covered:
        for name in sorted(set(re.findall(r"\bnode_\w+", a["expr"]))):
            if not stack.query(f'{name}{{job="vitals",instance="{stack.host_instance}"}}'):
                missing.append(f'{a["alert"]}: {name}')
    assert not missing, missing


def test_node_mixin_and_node_exporter_full_queries_get_data(stack):
    queries = yaml.safe_load((MIXIN / "dashboard-queries.yml").read_text())
    empty = []
    for q in queries["node_mixin"] + queries["node_exporter_full"]:
        q = (q.replace('%(nodeExporterSelector)s', 'job="vitals"').replace("$nodename", "vm")
             .replace("$node", "$instance"))
        q = substitute(q, stack.host_instance)
        # Zero rates (no drops here) are data too: the USE dashboards hide them with != 0.
        q = q.removesuffix(" != 0")
        m = re.fullmatch(r"label_values\((.*), (\w+)\)", q)
        if m:
            nodename = stack.query(f'node_uname_info{{instance="{stack.host_instance}"}}')[0]["metric"]["nodename"]
            sel = m.group(1).replace('nodename="vm"', f'nodename="{nodename}"')
            if not stack.api(f"label/{m.group(2)}/values", **{"match[]": sel}):
                empty.append(q)
        elif not stack.query(q):
            empty.append(q)
    assert not empty, "queries without data:\n" + "\n".join(empty)

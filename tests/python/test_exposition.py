"""Both exposition formats checked by real consumers: promtool, the Python OpenMetrics
parser, and a real Prometheus server scraping the daemon."""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from conftest import parse_exposition

FAST = """
[collectors.cpu]
interval = "1s"
timeout = "1s"
[collectors.memory]
interval = "1s"
timeout = "1s"
"""
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def wait_for_utilization(daemon, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        if "system_cpu_utilization_ratio{" in daemon.metrics_text():
            return
        time.sleep(0.2)
    raise TimeoutError("no utilization series")


def test_text_format_passes_promtool(start_vitals):
    d = start_vitals(FAST)
    wait_for_utilization(d)
    body = d.metrics_text()
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
    assert r.returncode == 0, f"promtool: {r.stdout}{r.stderr}"
    samples = parse_exposition(body)
    assert samples[("system_cpu_logical_count", frozenset())] == os.cpu_count()


def test_promtool_rejects_a_broken_exposition():
    """The check above can fail: promtool flags a counter without _total."""
    bad = "# HELP system_cpu_time_seconds x\n# TYPE system_cpu_time_seconds counter\nsystem_cpu_time_seconds 1\n"
    r = subprocess.run(["promtool", "check", "metrics"], input=bad, capture_output=True, text=True)
    assert r.returncode != 0


def test_openmetrics_parses_with_types_and_units(start_vitals):
    d = start_vitals(FAST)
    wait_for_utilization(d)
    status, headers, body = d.get("/metrics", {"Accept": PROMETHEUS_ACCEPT})
    text = body.decode()
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(text)}
    cpu_time = families["system_cpu_time_seconds"]
    assert (cpu_time.type, cpu_time.unit) == ("counter", "seconds")
    assert all(s.name == "system_cpu_time_seconds_total" for s in cpu_time.samples)
    assert {s.labels["cpu_mode"] for s in cpu_time.samples} >= {"user", "system", "idle", "iowait"}
    util = families["system_cpu_utilization_ratio"]
    assert (util.type, util.unit) == ("gauge", "ratio")
    assert all(0.0 <= s.value <= 1.0 for s in util.samples)
    assert families["system_memory_limit_bytes"].samples[0].value > 0
    # The same numbers as the text format, family by family (values move between scrapes,
    # so compare the series sets).
    plain = parse_exposition(d.metrics_text())
    om_series = {(s.name, frozenset(s.labels.items())) for f in families.values() for s in f.samples}
    assert om_series == set(plain)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is installed by scripts/test.sh")
def test_a_real_prometheus_scrapes_it(start_vitals, tmp_path):
    d = start_vitals(FAST)
    target = d.base.removeprefix("http://")
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: vitals\n    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def query(expr):
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)["data"]["result"]

    try:
        end = time.time() + 60
        while True:
            try:
                rate = query("sum(rate(system_cpu_time_seconds_total[5s]))")
                if rate:
                    break
            except OSError:
                pass
            assert time.time() < end, "Prometheus never had two scrapes of vitals"
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5) as r:
            active = json.load(r)["data"]["activeTargets"]
        assert [t["health"] for t in active] == ["up"], active
        assert active[0]["lastError"] == ""
        assert float(rate[0]["value"][1]) > 0
        # Prometheus stored every series vitals serves: ten modes per logical CPU.
        stored = query("count(system_cpu_time_seconds_total)")
        assert int(stored[0]["value"][1]) == 10 * os.cpu_count()
        count = query("system_cpu_logical_count")
        assert float(count[0]["value"][1]) == os.cpu_count()
        assert float(query("vitals_collector_up")[0]["value"][1]) == 1
    finally:
        prom.terminate()
        prom.wait(10)

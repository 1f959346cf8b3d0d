"""OTLP push from the real binary to a real OTLP/HTTP receiver (opentelemetry-proto decoding
each request): names, units, kinds and attributes as the catalog documents them, values equal
to the /metrics scrape of the same snapshot, start times, delta temporality, retries, a
receiver that is down and comes up, the environment variables, gzip and https."""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import BIN, Daemon, parse_exposition, wait_until
from otlp_receiver import Receiver, attrs, point_value, points

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def catalog():
    out = subprocess.run([str(BIN), "list-metrics", "--format", "json"], capture_output=True, text=True, check=True)
    return {m["name"]: m for m in json.loads(out.stdout)}


def collectors(cat):
    return sorted({m["collector"] for m in cat.values() if not m["name"].startswith("vitals.")} - {"self (vitals_)"})


def still(cat, interval="1h"):
    """Every collector once, then not again for an hour: the snapshots stay put."""
    return "".join(f'[collectors.{c}]\ninterval = "{interval}"\n' for c in collectors(cat))


def otlp_section(endpoint, extra=""):
    return f'[otlp]\nenabled = true\nendpoint = "{endpoint}"\ninterval = "500ms"\ntimeout = "500ms"\n{extra}'


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def btime_ns(proc="/proc"):
    for line in pathlib.Path(proc, "stat").read_text().splitlines():
        if line.startswith("btime "):
            return int(line.split()[1]) * 10**9
    raise AssertionError("no btime")


def push_after_ready(d, receiver):
    d.wait_ready()
    n = len(receiver.received)
    return receiver.wait(n + 2)


def test_every_metric_arrives_as_documented_with_the_scraped_values(start_vitals, receiver):
    cat = catalog()
    d = start_vitals(still(cat) + otlp_section(f"http://127.0.0.1:{receiver.port}"))
    push = push_after_ready(d, receiver)
    scraped = parse_exposition(d.metrics_text())
    host = push.metrics(scope="vitals")
    own = push.metrics(scope="vitals.self")
    assert host and own
    scraped_families = {name for (name, _) in scraped if not name.startswith("vitals_")}
    pushed_families = set()
    checked = 0
    for name, m in {**host, **own}.items():
        assert name in cat, f"{name} is not in the catalog"
        c = cat[name]
        assert m.unit == c["unit"], (name, m.unit, c["unit"])
        kind = m.WhichOneof("data")
        want = {"counter": "sum", "updowncounter": "sum", "gauge": "gauge"}[c["instrument"]]
        assert kind == want, (name, kind)
        if kind == "sum":
            assert m.sum.is_monotonic == (c["instrument"] == "counter"), name
            assert m.sum.aggregation_temporality == 2, name  # cumulative
        for p in points(m):
            a = attrs(p)
            assert set(a) <= set(c["attributes"]), (name, a, c["attributes"])
            for key in ("cpu.logical_number", "process.pid"):
                if key in a:
                    assert isinstance(a[key], int), (name, key, a[key])
            if name.startswith("vitals."):
                continue  # the daemon's own numbers move between a push and a scrape
            labels = frozenset((k.replace(".", "_"), str(v)) for k, v in a.items())
            key = (c["prometheus_name"], labels)
            assert key in scraped, f"{key} pushed but not scraped"
            assert point_value(p) == scraped[key], (key, point_value(p), scraped[key])
            pushed_families.add(c["prometheus_name"])
            checked += 1
    assert pushed_families == scraped_families, scraped_families ^ pushed_families
    assert checked > 100, checked
    res = push.resource()
    assert res["service.name"] == "vitals"
    assert res["os.type"] == "linux"
    assert res["host.name"] == socket.gethostname()
    for key in ("service.version", "service.instance.id", "host.arch", "os.description"):
        assert res.get(key), key
    if pathlib.Path("/etc/machine-id").exists():
        assert res["host.id"] == pathlib.Path("/etc/machine-id").read_text().strip()


def test_kernel_counters_start_at_boot_and_own_counters_at_start(start_vitals, receiver):
    cat = catalog()
    t0 = time.time_ns()
    d = start_vitals(still(cat) + otlp_section(f"http://127.0.0.1:{receiver.port}"))
    push = push_after_ready(d, receiver)
    boot = btime_ns()
    cpu = push.metrics()["system.cpu.time"]
    assert {p.start_time_unix_nano for p in points(cpu)} == {boot}
    assert all(p.time_unix_nano > boot for p in points(cpu))
    errors = push.metrics()["vitals.collector.errors"]
    starts = {p.start_time_unix_nano for p in points(errors)}
    assert len(starts) == 1 and t0 - 10**9 < starts.pop() < time.time_ns()
    # Gauges carry no start time.
    assert all(p.start_time_unix_nano == 0 for p in points(push.metrics()["system.cpu.load_average.1m"]))


def fixture_host(tmp_path):
    root = tmp_path / "host"
    shutil.copytree(FIXTURES / "modern", root, symlinks=True)
    return root


FAST_NETWORK = """
[collectors.network]
interval = "200ms"
timeout = "200ms"
"""


def nic_points(received, direction="receive"):
    """{interface: point} of system.network.io in one request."""
    m = received.metrics().get("system.network.io")
    if m is None:
        return {}
    return {attrs(p)["network.interface.name"]: p for p in points(m)
            if attrs(p)["network.io.direction"] == direction}


def test_a_series_that_restarts_gets_a_later_start(start_vitals, receiver, tmp_path):
    root = fixture_host(tmp_path)
    dev = root / "proc/net/dev"
    original = dev.read_text()
    d = start_vitals(FAST_NETWORK + otlp_section(f"http://127.0.0.1:{receiver.port}"),
                     args=("--procfs", str(root / "proc"), "--sysfs", str(root / "sys")))
    before = nic_points(push_after_ready(d, receiver))
    boot = btime_ns(root / "proc")
    assert before["eth0"].start_time_unix_nano == boot
    assert before["wlan0"].start_time_unix_nano == boot
    # wlan0 goes away for a while (a USB adapter unplugged) and comes back.
    dev.write_text("\n".join(l for l in original.splitlines() if "wlan0" not in l) + "\n")
    n = len(receiver.received)
    receiver.wait(n + 3)
    assert "wlan0" not in nic_points(receiver.received[-1])
    dev.write_text(original)
    n = len(receiver.received)
    receiver.wait(n + 3)
    after = nic_points(receiver.received[-1])
    assert after["eth0"].start_time_unix_nano == boot, "eth0 did not restart"
    assert after["wlan0"].start_time_unix_nano > before["wlan0"].time_unix_nano, \
        "wlan0 restarted: its start is after the last point before it went"
    assert point_value(after["wlan0"]) == point_value(before["wlan0"])


def test_delta_points_sum_to_the_increase(start_vitals, receiver, tmp_path):
    root = fixture_host(tmp_path)
    dev = root / "proc/net/dev"
    original = dev.read_text()
    d = start_vitals(FAST_NETWORK + otlp_section(f"http://127.0.0.1:{receiver.port}", 'temporality = "delta"\n'),
                     args=("--procfs", str(root / "proc"), "--sysfs", str(root / "sys")))
    d.wait_ready()
    value = 9813345617
    for step in range(8):
        value += 1000 * (step + 1)
        dev.write_text(original.replace("9813345617", str(value)))
        # Pacing, not synchronisation: the eight increases spread over about five pushes
        # (500 ms), so that deltas of one step, of several and of none all occur. The
        # assertions below hold for any spacing; the wait for the last value is on pushes.
        time.sleep(0.3)
    n = len(receiver.received)
    receiver.wait(n + 3)  # the last value pushed
    total = 0.0
    last_end = None
    for r in receiver.received:
        m = r.metrics().get("system.network.io")
        if m is None:
            continue
        assert m.sum.aggregation_temporality == 1, "delta"
        p = nic_points(r).get("eth0")
        if p is None:
            continue
        if last_end is not None:
            assert p.start_time_unix_nano == last_end, "each delta starts where the last ended"
        last_end = p.time_unix_nano
        total += point_value(p)
    assert total == value, f"the deltas sum to the counter ({total} != {value})"
    # Up-down counters and gauges are not turned into deltas.
    assert receiver.received[-1].metrics()["system.memory.usage"].sum.aggregation_temporality == 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_receiver_down_at_start_then_up(start_vitals):
    port = free_port()
    d = start_vitals(otlp_section(f"http://127.0.0.1:{port}"))
    failures = ("vitals_otlp_exports_total", frozenset({("outcome", "failure")}))
    wait_until(lambda: parse_exposition(d.metrics_text()).get(failures, 0) >= 3, "three failed pushes")
    body = parse_exposition(d.metrics_text())
    assert body[("vitals_otlp_export_failures_total", frozenset({("reason", "connect")}))] >= 3
    r = Receiver(port=port)
    try:
        r.wait(2)
    finally:
        r.close()
    body = parse_exposition(d.metrics_text())
    assert body[("vitals_otlp_exports_total", frozenset({("outcome", "success")}))] >= 2
    assert ("vitals_otlp_last_success_timestamp_seconds", frozenset()) in body
    otlp_lines = [e for e in d.logs if "OTLP" in e.get("fields", {}).get("message", "")]
    warnings = [e for e in otlp_lines if e.get("level") == "WARN"]
    assert len(warnings) == 1, f"one warning for the outage, not one per push: {warnings}"
    assert any(e["fields"]["message"] == "OTLP export recovered" for e in otlp_lines)


def test_503_with_retry_after_is_retried_within_the_export(start_vitals):
    r = Receiver(fail_first=1, fail_status=503, retry_after=0)
    try:
        d = start_vitals(otlp_section(f"http://127.0.0.1:{r.port}").replace('timeout = "500ms"', 'timeout = "500ms"'))
        r.wait(1)
        body = parse_exposition(d.metrics_text())
        assert body[("vitals_otlp_export_retries_total", frozenset())] >= 1
        assert body[("vitals_otlp_exports_total", frozenset({("outcome", "failure")}))] == 0
    finally:
        r.close()


def test_environment_variables_and_the_file_over_them(tmp_path, receiver):
    dead = free_port()
    env = dict(os.environ,
               OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
               OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20t0ken,x-scope-orgid=tenant-1",
               OTEL_METRIC_EXPORT_INTERVAL="500",
               OTEL_EXPORTER_OTLP_TIMEOUT="500",
               OTEL_SERVICE_NAME="node-agent")
    cfg = tmp_path / "vitals.toml"
    cfg.write_text("[otlp]\nenabled = true\n")
    out = subprocess.run([str(BIN), "check-config", "--config", str(cfg)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"endpoint = http://127.0.0.1:{receiver.port}/v1/metrics" in out.stdout
    assert "authorization=<redacted>" in out.stdout and "t0ken" not in out.stdout
    proc = subprocess.Popen([str(BIN), "--config", str(cfg), "--listen", "127.0.0.1:0"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        got = receiver.wait(1)
    finally:
        proc.terminate()
        proc.wait(10)
    assert "t0ken" not in proc.stderr.read(), "headers are never logged"
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["authorization"] == "Bearer t0ken"
    assert headers["x-scope-orgid"] == "tenant-1"
    assert got.resource()["service.name"] == "node-agent"
    # The file's endpoint wins over the variable.
    other = Receiver()
    try:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{dead}"
        cfg.write_text(f'[otlp]\nenabled = true\nendpoint = "http://127.0.0.1:{other.port}"\n')
        proc = subprocess.Popen([str(BIN), "--config", str(cfg), "--listen", "127.0.0.1:0"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            got = other.wait(1)
        finally:
            proc.terminate()
            proc.wait(10)
        assert {k.lower(): v for k, v in got.headers.items()}["authorization"] == "Bearer t0ken"
    finally:
        other.close()


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_compression(start_vitals, receiver, compression):
    start_vitals(otlp_section(f"http://127.0.0.1:{receiver.port}", f'compression = "{compression}"\n'))
    got = receiver.wait(1)
    enc = {k.lower(): v for k, v in got.headers.items()}.get("content-encoding")
    assert enc == ("gzip" if compression == "gzip" else None)
    assert "system.cpu.time" in got.metrics()


def make_ca_and_server_cert(tmp_path):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    ca_key, ca = tmp_path / "ca.key", tmp_path / "ca.pem"
    key, csr, cert = tmp_path / "server.key", tmp_path / "server.csr", tmp_path / "server.pem"
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "1", "-subj", "/CN=vitals test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "1", "-extfile", str(ext))
    return ca, cert, key


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl to make the test CA")
def test_https_with_a_test_ca(start_vitals, tmp_path):
    ca, cert, key = make_ca_and_server_cert(tmp_path)
    r = Receiver(tls=(str(cert), str(key)))
    try:
        # Without the CA the certificate is refused: nothing arrives, failures are counted.
        d = start_vitals(otlp_section(f"https://127.0.0.1:{r.port}"))
        failures = ("vitals_otlp_exports_total", frozenset({("outcome", "failure")}))
        wait_until(lambda: parse_exposition(d.metrics_text()).get(failures, 0) >= 1, "a refused push counted")
        assert r.received == []
        d.stop()
        d = start_vitals(otlp_section(f"https://127.0.0.1:{r.port}", f'[otlp.tls]\nca_file = "{ca}"\n'))
        assert "system.cpu.time" in r.wait(1).metrics()
    finally:
        r.close()


def test_shutdown_flushes_a_final_export(start_vitals, receiver):
    d = start_vitals('[otlp]\nenabled = true\nendpoint = "http://127.0.0.1:%d"\ninterval = "1h"\ntimeout = "5s"\n' % receiver.port)
    assert receiver.received == [], "the first push is an interval away"
    t0 = time.monotonic()
    d.stop(signal.SIGTERM)
    assert time.monotonic() - t0 < 5
    assert len(receiver.received) == 1
    assert "system.cpu.time" in receiver.received[0].metrics()


def test_a_partial_success_is_logged_once_and_counted(start_vitals):
    r = Receiver(partial=(7, "7 points had no name we accept"))
    try:
        d = start_vitals(otlp_section(f"http://127.0.0.1:{r.port}"))
        r.wait(4)
        body = parse_exposition(d.metrics_text())
        assert body[("vitals_otlp_points_total", frozenset({("outcome", "rejected")}))] >= 4 * 7
        warned = [e for e in d.logs if e.get("fields", {}).get("message") == "the OTLP receiver rejected part of an export"]
        assert len(warned) == 1, warned
        assert warned[0]["fields"]["rejected"] == 7
    finally:
        r.close()

"""/metrics with a body over the cache's cap (src/export/http.rs CACHE_MAX_BYTES, 2 MiB), over
real HTTP: a generated tree of 600 cgroups with every controller file (27,600 series, about
4 MiB of text). The first scrape is encoded whole and sent with its length; the next ones are
encoded per scrape and streamed (chunked), gzipped as they go, and the daemon does not keep the
body: its RSS grows by far less than one body over the scrapes. A small body stays cached and
is sent with its length."""
import gzip
import sys
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families

from conftest import REPO, parse_exposition

sys.path.insert(0, str(REPO / "scripts"))
from make_cgroup_fixtures import cgroup  # noqa: E402

CGROUPS = 600
CACHE_MAX_BYTES = 2 << 20
OFF = ("cpu", "memory", "sensors", "battery", "host", "users", "processes", "filesystem", "disk",
       "network", "interfaces", "connections", "pressure")
# One collection at start: the container series are the same in every scrape.
CONFIG = "".join(f"[collectors.{c}]\nenabled = false\n" for c in OFF) + (
    '[collectors.cgroups]\ninterval = "1h"\ntimeout = "10s"\nmax_cgroups = 2000\n')
OM = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"}
GZIP = {"Accept-Encoding": "gzip"}


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def get(d, headers=None):
    """Status, headers with lower-case names (hyper sends them so), body."""
    status, got, body = d.get("/metrics", headers=headers, timeout=60)
    return status, {k.lower(): v for k, v in got.items()}, body


def containers(body):
    return [l for l in body.decode().splitlines() if l.startswith("container_")]


def big_daemon(start_vitals, tmp_path, config=""):
    top = tmp_path / "sys" / "fs" / "cgroup"
    top.mkdir(parents=True)
    (top / "cgroup.controllers").write_text("cpu io memory pids\n")
    for i in range(CGROUPS):
        cgroup(top, f"big.slice/b{i:04}.service", cpu_max=50000, memory_max=1 << 30)
    # Ready (every collector published) without a scrape: nothing is encoded yet.
    return start_vitals(config + CONFIG, args=("--sysfs", str(tmp_path / "sys")))


def test_a_large_body_is_streamed_the_same_and_not_kept(start_vitals, tmp_path):
    d = big_daemon(start_vitals, tmp_path)
    rss0 = rss_kib(d.proc.pid)

    status, headers, first = get(d)
    assert status == 200
    assert int(headers["content-length"]) == len(first) > CACHE_MAX_BYTES
    series = containers(first)
    assert sum(l.startswith("container_cpu_time_seconds_total{") for l in series) == 2 * CGROUPS

    status, headers, streamed = get(d)
    assert status == 200
    assert "content-length" not in headers and headers["transfer-encoding"] == "chunked"
    assert containers(streamed) == series
    assert parse_exposition(streamed.decode()).keys() == parse_exposition(first.decode()).keys()

    status, headers, body = get(d, GZIP)
    assert headers["content-encoding"] == "gzip" and headers["transfer-encoding"] == "chunked"
    assert len(body) < len(first) / 4
    assert containers(gzip.decompress(body)) == series

    # OpenMetrics: the first body whole, then streamed, plain and gzipped, all the same.
    _, headers, om_first = get(d, OM)
    assert headers["content-type"].startswith("application/openmetrics-text")
    assert "content-length" in headers
    _, headers, om = get(d, OM)
    assert headers["transfer-encoding"] == "chunked"
    assert om.endswith(b"\n# EOF\n") and containers(om) == containers(om_first)
    _, headers, om_gz = get(d, {**OM, **GZIP})
    assert headers["content-encoding"] == "gzip"
    assert containers(gzip.decompress(om_gz)) == containers(om_first)
    families = {f.name: f for f in om_families(om.decode())}
    assert len(families["container_cpu_time_seconds"].samples) == 2 * CGROUPS

    for _ in range(10):
        assert containers(get(d)[2]) == series
        get(d, {**OM, **GZIP})
    # A kept body would stay resident (two formats: twice its size); chunks come and go.
    grown = (rss_kib(d.proc.pid) - rss0) * 1024
    assert grown < len(first) / 2, f"RSS grew {grown} bytes over scrapes of {len(first)}"


def test_streams_given_up_do_not_lock_scrapes_out(start_vitals, tmp_path):
    # Two requests in flight at most: streams whose clients went (a HEAD, a connection
    # closed with the body unread) must not count against it, or hold the daemon up.
    d = big_daemon(start_vitals, tmp_path, '[server]\nmax_in_flight = 2\n')
    get(d)
    for _ in range(5):
        req = urllib.request.Request(d.base + "/metrics", method="HEAD")
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert resp.status == 200 and resp.read() == b""
        with urllib.request.urlopen(d.base + "/metrics", timeout=60) as resp:
            resp.read(1000)  # and closed with most of the body unread
    # Clients that stop reading, their connections left open: more than max_in_flight.
    stalled = [urllib.request.urlopen(d.base + "/metrics", timeout=60) for _ in range(3)]
    for r in stalled:
        r.read(1000)
    for _ in range(3):
        assert get(d)[0] == 200
    for r in stalled:
        r.close()


def test_a_small_body_is_cached_and_sent_with_its_length(start_vitals):
    d = start_vitals('[collectors.cpu]\ninterval = "1h"\n[collectors.memory]\ninterval = "1h"\n')
    for headers in ({}, GZIP, OM):
        for _ in range(2):
            status, got, body = get(d, headers)
            assert status == 200 and int(got["content-length"]) == len(body) < CACHE_MAX_BYTES
            assert "transfer-encoding" not in got

"""The HTTP endpoint under load, slow clients and hostile bytes, on loopback: 64 keep-alive
clients for 30 s, 1,000 slowloris connections, absurd requests. Bounded in time and count."""
import http.client
import os
import resource
import socket
import statistics
import threading
import time

import pytest

from conftest import parse_exposition
from security_support import Pki, client_context, host_port, https_get

CONFIG = """
[collectors.cpu]
interval = "1s"
timeout = "1s"
[collectors.memory]
interval = "1s"
timeout = "1s"
"""


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {n}: 1,000 slow connections need more")
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def self_metric(d, name, **labels):
    """A vitals_http_* value (the cached body shows them as they are)."""
    for (n, ls), v in parse_exposition(d.metrics_text()).items():
        if n == name and dict(ls) == labels:
            return v
    raise KeyError(name)


def scrape_ms(d):
    start = time.perf_counter()
    status, _, body = d.get("/metrics", timeout=5)
    assert status == 200 and b"system_cpu_time_seconds_total" in body
    return (time.perf_counter() - start) * 1000


def test_64_keep_alive_clients_for_30_seconds(start_vitals):
    d = start_vitals(CONFIG)
    host, port = host_port(d)
    # RSS rises by about 3 MiB within the first seconds of load, to the steady state of 64
    # connections' buffers; growth is measured over the 30 s after a warm-up, where a leak
    # would show. Before src/malloc.rs capped glibc's arenas it grew by 1-2 MiB here and
    # failed a CI run at +2,132 KiB, with heaptrack's heap flat at 2.5 MB throughout.
    warmup, duration = 12.0, 30.0
    stop = threading.Event()
    measuring = threading.Event()
    lock = threading.Lock()
    latencies, statuses, errors = [], {}, []

    def client():
        conn = http.client.HTTPConnection(host, port, timeout=10)
        while not stop.is_set():
            start = time.perf_counter()
            try:
                conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
                continue
            ms = (time.perf_counter() - start) * 1000
            if measuring.is_set():
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        latencies.append(ms)
        conn.close()

    # The collectors' last successes, sampled throughout on a connection of their own.
    gaps = []

    def watch():
        while not stop.is_set():
            try:
                text = d.metrics_text()
                now = time.time()
                for (name, labels), v in parse_exposition(text).items():
                    if name == "vitals_collector_last_success_timestamp_seconds" and \
                            dict(labels)["collector"] in ("cpu", "memory"):
                        gaps.append(now - v)
            except OSError:
                pass  # a 503 under load: the next sample
            time.sleep(0.5)

    threads = [threading.Thread(target=client) for _ in range(64)] + [threading.Thread(target=watch)]
    for t in threads:
        t.start()
    rss_idle = rss_kib(d.proc.pid)
    time.sleep(warmup)
    rss_before = rss_kib(d.proc.pid)
    measuring.set()
    time.sleep(duration)
    measuring.clear()
    rss_after = rss_kib(d.proc.pid)
    stop.set()
    for t in threads:
        t.join(15)

    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[int(len(latencies) * 0.99)]
    total = sum(statuses.values())
    print(f"\nload: {total} requests in {duration:.0f}s ({total / duration:.0f}/s), statuses {statuses}, "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, RSS idle {rss_idle}, {rss_before} -> {rss_after} KiB "
          f"({rss_after - rss_before:+d} KiB), max collector age {max(gaps):.2f} s")
    assert not errors, errors[:5]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.get(200, 0) > total * 0.5
    assert rss_after - rss_before < 2048, (rss_before, rss_after)
    # Collectors on a 1 s interval published on time throughout (age of the last success).
    assert len(gaps) > 20 and max(gaps) < 2.5, max(gaps)
    assert d.proc.poll() is None


class Slow:
    """A connection that sends a request header one byte at a time."""

    REQUEST = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 200

    def __init__(self, addr, request=None):
        if request:
            self.REQUEST = request
        self.sock = socket.create_connection(addr, timeout=5)
        self.sock.setblocking(False)
        self.opened = time.monotonic()
        self.closed = None
        self.sent = 0

    def tick(self, now):
        if self.closed is not None:
            return
        try:
            # EOF or a reset: the server closed it.
            if self.sock.recv(1024) == b"":
                self.closed = now
                return
        except BlockingIOError:
            pass
        except OSError:
            self.closed = now
            return
        try:
            self.sock.send(self.REQUEST[self.sent % len(self.REQUEST):][:1])
            self.sent += 1
        except BlockingIOError:
            pass
        except OSError:
            self.closed = now


def slowloris(d, count, seconds, byte_every=2.0, scrape=scrape_ms, request=None):
    """Opens `count` slow connections and keeps trickling bytes while scraping every 100 ms.
    Returns (connections, scrape latencies in ms, highest fd count of the daemon)."""
    addr = host_port(d)
    conns = [Slow(addr, request) for _ in range(count)]
    latencies, max_fds = [], 0
    end = time.monotonic() + seconds
    next_tick = 0.0
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_tick:
            for c in conns:
                c.tick(now)
            next_tick = now + byte_every
        latencies.append(scrape(d))
        max_fds = max(max_fds, fds(d.proc.pid))
        time.sleep(0.1)
    for c in conns:
        c.tick(time.monotonic())
        c.sock.close()
    return conns, latencies, max_fds


def test_slowloris_under_the_connection_limit_is_closed_at_the_header_timeout(start_vitals):
    raise_fd_limit(4096)
    d = start_vitals(CONFIG + '[server]\nmax_connections = 1100\nheader_read_timeout = "4s"\n')
    conns, latencies, max_fds = slowloris(d, 1000, seconds=8)
    lifetimes = sorted(c.closed - c.opened for c in conns if c.closed is not None)
    print(f"\nslowloris x1000 (limit 1100, header timeout 4 s): scrape p50 {statistics.median(latencies):.1f} ms, "
          f"max {max(latencies):.1f} ms over {len(latencies)} scrapes; closed {len(lifetimes)}/1000 after "
          f"{lifetimes[0]:.1f}-{lifetimes[-1]:.1f} s; daemon fds at most {max_fds}")
    assert max(latencies) < 100, sorted(latencies)[-5:]
    assert len(lifetimes) == 1000
    # Closed by the header timeout (4 s after the accept), seen at the next 2 s tick.
    assert lifetimes[0] >= 3.9 and lifetimes[-1] <= 7.5, (lifetimes[0], lifetimes[-1])
    assert max_fds <= 1100 + 64
    assert fds(d.proc.pid) < 64  # all gone again
    assert self_metric(d, "vitals_http_connections_closed_total", reason="header_timeout") >= 1000
    assert self_metric(d, "vitals_http_connections") <= 2


def test_slowloris_beyond_the_connection_limit_does_not_lock_scrapers_out(start_vitals):
    raise_fd_limit(4096)
    d = start_vitals(CONFIG)  # the default limits: 256 connections, 10 s header timeout
    conns, latencies, max_fds = slowloris(d, 1000, seconds=6)
    closed = sum(c.closed is not None for c in conns)
    print(f"\nslowloris x1000 (default limit 256): scrape p50 {statistics.median(latencies):.1f} ms, "
          f"max {max(latencies):.1f} ms over {len(latencies)} scrapes; {closed} evicted; "
          f"daemon fds at most {max_fds}")
    assert max(latencies) < 100, sorted(latencies)[-5:]
    assert closed >= 1000 - 256
    assert max_fds <= 256 + 64
    assert self_metric(d, "vitals_http_connections_closed_total", reason="evicted") >= 1000 - 256


def test_slowloris_on_the_tls_port(start_vitals, tmp_path):
    """The same against TLS: 1,000 connections trickling the start of a ClientHello. Scrapes
    (each a new TLS handshake) still succeed in under 100 ms; the slow ones are closed at the
    header timeout, which covers the handshake."""
    raise_fd_limit(4096)
    pki = Pki(tmp_path)
    pki.issue("server")
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
    d = start_vitals(CONFIG + '[server]\nmax_connections = 1100\nheader_read_timeout = "4s"\n',
                     args=["--web.config.file", str(web)], ready=False)
    ctx = client_context(pki)

    def tls_scrape(d):
        start = time.perf_counter()
        assert https_get(d, "/healthz", ctx)[0] == 200
        return (time.perf_counter() - start) * 1000

    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 200
    conns, latencies, max_fds = slowloris(d, 1000, seconds=8, scrape=tls_scrape, request=hello)
    lifetimes = sorted(c.closed - c.opened for c in conns if c.closed is not None)
    print(f"\nTLS slowloris x1000: scrape p50 {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms; "
          f"closed {len(lifetimes)}/1000 after {lifetimes[0]:.1f}-{lifetimes[-1]:.1f} s; fds at most {max_fds}")
    # Each scrape here includes a TLS handshake by a Python client, which a busy 2-core
    # machine now and then delays; 95 % within 100 ms, none beyond a second.
    assert sorted(latencies)[int(len(latencies) * 0.95)] < 100, sorted(latencies)[-5:]
    assert max(latencies) < 1000, sorted(latencies)[-5:]
    assert len(lifetimes) == 1000
    assert lifetimes[0] >= 3.9 and lifetimes[-1] <= 7.5
    assert max_fds <= 1100 + 64


def test_idle_and_silent_connections_are_closed(start_vitals):
    d = start_vitals(CONFIG + '[server]\nidle_timeout = "1s"\nheader_read_timeout = "2s"\n')
    addr = host_port(d)
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        start = time.monotonic()
        assert s.recv(4096) == b""  # closed by the server while idle
        assert 0.8 < time.monotonic() - start < 3
    with socket.create_connection(addr, timeout=10) as s:
        start = time.monotonic()
        assert s.recv(4096) == b""  # sent nothing: closed at the header timeout
        assert 1.8 < time.monotonic() - start < 4


def exchange(d, payload, timeout=10):
    """Sends raw bytes; returns the start of the answer, or b"" for a closed connection."""
    with socket.create_connection(host_port(d), timeout=timeout) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close while a huge request is still being sent
        try:
            return s.recv(64)
        except ConnectionResetError:
            return b""


BAD_REQUESTS = {
    "a 100 KiB header": b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    "a 10 MiB header": b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (10 << 20) + b"\r\n\r\n",
    "10,000 headers": b"GET /metrics HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(10_000)) + b"\r\n",
    "HTTP/0.9": b"GET /metrics\r\n\r\n",
    "garbage request line": b"\x00\xff\xfe GARBAGE \x01\x02\r\n\r\n",
    "no version": b"GET\r\n\r\n",
    "a 1 MiB URL": b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "a 10 KiB URL": b"GET /metrics?" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "HTTP/2 preface without TLS": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "bad Content-Length": b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    "two Content-Lengths": b"POST /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "header without colon": b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
    "NUL in a header": b"GET /metrics HTTP/1.1\r\nX-A: a\x00b\r\n\r\n",
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_requests_get_a_4xx_or_a_closed_connection(start_vitals, name):
    d = start_vitals(CONFIG)
    start = time.monotonic()
    answer = exchange(d, BAD_REQUESTS[name])
    elapsed = time.monotonic() - start
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer
    if name == "a 10 KiB URL":
        assert answer.startswith(b"HTTP/1.1 414"), answer
    assert elapsed < 5, elapsed
    assert d.proc.poll() is None
    assert scrape_ms(d) < 1000


def test_only_get_and_head_on_metrics(start_vitals):
    d = start_vitals(CONFIG)
    host, port = host_port(d)
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "FOO"]:
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request(method, "/metrics", body=b"x" if method in ("POST", "PUT", "PATCH") else None)
        r = conn.getresponse()
        r.read()
        assert 400 <= r.status < 500, (method, r.status)
        conn.close()
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("HEAD", "/metrics")
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b""
    conn.close()

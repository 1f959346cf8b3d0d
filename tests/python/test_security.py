"""TLS, mTLS and basic auth from an exporter-toolkit web config, against the real binary, with
certificates made in the test; a verifying client's view of bad certificates; rotation on
disk; SIGHUP; a real Prometheus scraping over TLS with basic auth (deploy/prometheus)."""
import datetime
import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import BIN, wait_until
from security_support import (NOW, Pki, basic, client_context, hash_password, host_port,
                              https_get, served_serial)

REPO = pathlib.Path(__file__).resolve().parents[2]
QUIET = """
[collectors.cpu]
interval = "1s"
timeout = "1s"
[collectors.filesystem]
enabled = false
[collectors.processes]
enabled = false
[collectors.connections]
enabled = false
"""


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path)


def web_config(tmp_path, text, name="web.yml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def start_tls(start_vitals, tmp_path, pki, extra="", users=None, server="server"):
    pki.issue(server)
    text = f"tls_server_config:\n  cert_file: {server}.crt\n  key_file: {server}.key\n" + extra
    if users:
        text += "basic_auth_users:\n" + "".join(f"  {u}: {h}\n" for u, h in users.items())
    path = web_config(tmp_path, text)
    # wait_ready speaks plain HTTP; readiness is checked over TLS by the tests.
    d = start_vitals(QUIET, args=["--web.config.file", str(path)], ready=False)
    return d, path


def wait_ready_tls(d, ctx, headers=None, seconds=15):
    end = time.time() + seconds
    while time.time() < end:
        try:
            if https_get(d, "/readyz", ctx, headers)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("vitals never became ready over TLS")


def test_basic_auth_over_tls(start_vitals, tmp_path, pki):
    extra = "http_server_config:\n  headers:\n    Strict-Transport-Security: max-age=31536000\n"
    d, _ = start_tls(start_vitals, tmp_path, pki, extra, users={"prometheus": hash_password("s3cret")})
    ctx = client_context(pki)
    wait_ready_tls(d, ctx)  # probes are exempt by default

    status, headers, body = https_get(d, "/metrics", ctx, basic("prometheus", "s3cret"))
    assert status == 200 and b"system_cpu_time_seconds_total" in body
    assert headers["strict-transport-security"] == "max-age=31536000"
    for creds in [basic("prometheus", "wrong"), basic("nobody", "s3cret"), {}]:
        status, headers, body = https_get(d, "/metrics", ctx, creds)
        assert status == 401, creds
        assert headers["www-authenticate"] == "Basic"
        assert headers["strict-transport-security"] == "max-age=31536000"
        assert b"system_" not in body
    # Every other path is protected too; the probes are not.
    assert https_get(d, "/", ctx)[0] == 401
    assert https_get(d, "/nope", ctx)[0] == 401
    assert https_get(d, "/healthz", ctx)[0] == 200
    # The cached verification stays exact: a second right and wrong attempt.
    assert https_get(d, "/metrics", ctx, basic("prometheus", "s3cret"))[0] == 200
    assert https_get(d, "/metrics", ctx, basic("prometheus", "s3cret "))[0] == 401
    # The cached body shows the HTTP counts as they are (no collector published meanwhile).
    body = https_get(d, "/metrics", ctx, basic("prometheus", "s3cret"))[2].decode()
    assert "vitals_http_auth_failures_total 6\n" in body, [l for l in body.splitlines() if "auth" in l]


def test_probes_can_be_protected_too(start_vitals, tmp_path):
    path = web_config(tmp_path, f"basic_auth_users:\n  alice: {hash_password('pw')}\n")
    d = start_vitals("[server]\nauth_exempt_probes = false\n" + QUIET,
                     args=["--web.config.file", str(path)], ready=False)
    with pytest.raises(urllib.error.HTTPError) as e:
        d.get("/healthz")
    assert e.value.code == 401
    assert d.get("/healthz", headers=basic("alice", "pw"))[0] == 200


def test_plain_http_to_the_tls_port_fails_cleanly(start_vitals, tmp_path, pki):
    d, _ = start_tls(start_vitals, tmp_path, pki)
    ctx = client_context(pki)
    wait_ready_tls(d, ctx)
    for _ in range(20):
        with socket.create_connection(host_port(d), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                data = b""
            assert data.startswith(b"HTTP/1.1 400") and b"HTTPS server" in data, data[:100]
    assert d.proc.poll() is None
    assert https_get(d, "/metrics", ctx)[0] == 200
    # A connection's close is counted just after its last byte went out.
    wanted = 'vitals_http_connections_closed_total{reason="tls"} 20\n'
    wait_until(lambda: wanted in https_get(d, "/metrics", ctx)[2].decode(), wanted)


def test_a_verifying_client_refuses_expired_and_wrong_host_certificates(start_vitals, tmp_path, pki):
    ctx = client_context(pki)
    pki.issue("expired", not_before=NOW - datetime.timedelta(days=10),
              not_after=NOW - datetime.timedelta(days=1))
    pki.issue("otherhost", dns=("other.example",), ips=("192.0.2.1",))
    for name, why in [("expired", "expired"), ("otherhost", "match")]:
        path = web_config(tmp_path, f"tls_server_config:\n  cert_file: {name}.crt\n  key_file: {name}.key\n",
                          name=f"{name}.yml")
        d = start_vitals(QUIET, args=["--web.config.file", str(path)], ready=False)
        with pytest.raises(ssl.SSLCertVerificationError) as e:
            https_get(d, "/metrics", ctx)
        assert why in str(e.value), e.value
        # The same certificate, not verified: the daemon does serve it.
        assert https_get(d, "/healthz", client_context(pki, verify=False))[0] == 200
        d.stop()


def test_mtls_requires_a_client_certificate_from_the_ca(start_vitals, tmp_path, pki):
    extra = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
    d, _ = start_tls(start_vitals, tmp_path, pki, extra)
    client = pki.issue("client", dns=("scraper",), ips=(), client=True)
    with_cert = client_context(pki, cert=client[:2])
    wait_ready_tls(d, with_cert)
    assert https_get(d, "/metrics", with_cert)[0] == 200

    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        https_get(d, "/metrics", client_context(pki))
    # A certificate from another CA is refused as well.
    (tmp_path / "other").mkdir()
    stranger = Pki(tmp_path / "other")
    foreign = stranger.issue("foreign", dns=("scraper",), ips=(), client=True)
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        https_get(d, "/metrics", client_context(pki, cert=foreign[:2]))
    assert d.proc.poll() is None
    assert https_get(d, "/metrics", with_cert)[0] == 200


def test_a_certificate_rotated_on_disk_is_served_without_restart(start_vitals, tmp_path, pki):
    d, _ = start_tls(start_vitals, tmp_path, pki)
    ctx = client_context(pki)
    wait_ready_tls(d, ctx)
    first = served_serial(d, ctx)
    # As cert-manager's secret volume does: new files, then one rename each.
    crt, key, second = pki.issue("next")
    os.replace(key, tmp_path / "server.key")
    os.replace(crt, tmp_path / "server.crt")
    wait_until(lambda: served_serial(d, ctx) == second, "the rotated certificate served")
    assert first != second
    assert any(e.get("fields", {}).get("message", "").startswith("TLS certificate files changed: reloaded")
               for e in d.logs)
    # A broken rotation (key of another certificate) keeps the good one and is logged once.
    _, other_key, _ = pki.issue("mismatch")
    shutil.copy(other_key, tmp_path / "server.key")

    def errors():
        return [e for e in d.logs if "cannot be used" in e.get("fields", {}).get("message", "")]

    wait_until(errors, "the broken rotation's error in the log")
    assert served_serial(d, ctx) == second
    # Repaired: the next good pair is served, and the broken one was logged once meanwhile
    # (that the watcher's later ticks stay quiet is src/export/tls.rs's unit test).
    crt, key, third = pki.issue("repaired")
    os.replace(key, tmp_path / "server.key")
    os.replace(crt, tmp_path / "server.crt")
    wait_until(lambda: served_serial(d, ctx) == third, "the repaired certificate served")
    assert len(errors()) == 1, errors()
    assert d.proc.poll() is None


def test_sighup_reloads_the_web_config_and_rejects_a_broken_one(start_vitals, tmp_path, pki):
    d, path = start_tls(start_vitals, tmp_path, pki)
    ctx = client_context(pki)
    wait_ready_tls(d, ctx)

    def hup():
        before = len(d.logs)
        d.proc.send_signal(signal.SIGHUP)
        end = time.time() + 10
        while time.time() < end:
            for e in d.logs[before:]:
                m = e.get("fields", {}).get("message", "")
                if m.startswith("config reload"):
                    return e
            time.sleep(0.05)
        raise TimeoutError("no reload verdict")

    text = path.read_text()
    path.write_text(text + "basic_auth_users:\n  alice: not-a-hash\n")
    verdict = hup()
    assert "rejected" in verdict["fields"]["message"]
    assert "basic_auth_users.alice" in verdict["fields"]["error"]
    assert https_get(d, "/metrics", ctx)[0] == 200

    path.write_text(text + f"basic_auth_users:\n  alice: {hash_password('pw')}\n")
    assert hup()["fields"]["message"] == "config reloaded"
    assert https_get(d, "/metrics", ctx)[0] == 401
    assert https_get(d, "/metrics", ctx, basic("alice", "pw"))[0] == 200

    # Back to plain HTTP, on the same listener.
    path.write_text("")
    assert hup()["fields"]["message"] == "config reloaded"
    assert d.get("/metrics")[0] == 200


def test_hash_password_and_check_config(tmp_path):
    h = hash_password("correct horse", cost=5)
    assert h.startswith("$2b$05$") and len(h) == 60
    empty = subprocess.run([str(BIN), "hash-password"], input="", capture_output=True, text=True)
    assert empty.returncode != 0
    cfg = tmp_path / "vitals.toml"
    cfg.write_text("")
    web = web_config(tmp_path, "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n")
    out = subprocess.run([str(BIN), "check-config", "-c", str(cfg), "--web.config.file", str(web)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "TLS_RSA_WITH_RC4_128_SHA" in out.stderr, out.stderr
    web.write_text("tls_server_config:\n  cert_fil: a.crt\n")
    out = subprocess.run([str(BIN), "check-config", "-c", str(cfg), "--web.config.file", str(web)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "cert_fil" in out.stderr and "line 2" in out.stderr, out.stderr
    # `run` refuses to start with it, exit 2 like any config error.
    out = subprocess.run([str(BIN), "run", "-c", str(cfg), "--listen", "127.0.0.1:0",
                          "--web.config.file", str(web)], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2, out.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is installed by scripts/test.sh")
def test_a_real_prometheus_scrapes_over_tls_with_basic_auth(start_vitals, tmp_path, pki):
    d, _ = start_tls(start_vitals, tmp_path, pki, users={"prometheus": hash_password("scrape-pw")})
    _, port = host_port(d)
    (tmp_path / "password").write_text("scrape-pw\n")
    example = (REPO / "deploy" / "prometheus" / "scrape-tls-basic-auth.yml").read_text()
    cfg_text = (example
                .replace("/etc/prometheus/vitals-ca.crt", str(pki.ca_file))
                .replace("/etc/prometheus/vitals-password", str(tmp_path / "password"))
                .replace("node1.example.com:9977", f"localhost:{port}")
                .replace("scrape_interval: 30s", "scrape_interval: 1s"))
    assert str(pki.ca_file) in cfg_text and f"localhost:{port}" in cfg_text
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(cfg_text)
    prom_port = free_port()
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def query(expr):
        url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)["data"]["result"]

    try:
        end = time.time() + 60
        while True:
            try:
                if query("sum(rate(system_cpu_time_seconds_total[5s]))"):
                    break
            except OSError:
                pass
            assert time.time() < end, "Prometheus never scraped vitals twice over TLS"
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/targets", timeout=5) as r:
            active = json.load(r)["data"]["activeTargets"]
        assert [t["health"] for t in active] == ["up"], active
        assert active[0]["scrapeUrl"].startswith("https://")
        # One bcrypt verification, then the cache: the log shows no failed attempt.
        assert float(query("vitals_collector_up{collector=\"cpu\"}")[0]["value"][1]) == 1
    finally:
        prom.terminate()
        prom.wait(10)


def test_tls_with_basic_auth_under_load_pays_bcrypt_once(start_vitals, tmp_path, pki):
    """16 keep-alive TLS clients with basic auth (a cost-10 hash, ~50 ms a verification) for
    10 s: no error but 503s, and far more requests than bcrypt alone would allow (2 at a time),
    so the verification cache works; wrong passwords meanwhile are all refused."""
    import http.client
    import threading
    d, _ = start_tls(start_vitals, tmp_path, pki, users={"prometheus": hash_password("pw", cost=10)})
    ctx = client_context(pki)
    wait_ready_tls(d, ctx)
    host, port = host_port(d)
    stop = threading.Event()
    lock = threading.Lock()
    statuses, errors = {}, []

    def client(password):
        conn = http.client.HTTPSConnection("localhost", port, timeout=10, context=ctx)
        while not stop.is_set():
            try:
                conn.request("GET", "/metrics", headers=basic("prometheus", password))
                r = conn.getresponse()
                r.read()
                with lock:
                    key = (password, r.status)
                    statuses[key] = statuses.get(key, 0) + 1
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPSConnection("localhost", port, timeout=10, context=ctx)
        conn.close()

    threads = [threading.Thread(target=client, args=("pw",)) for _ in range(16)]
    threads.append(threading.Thread(target=client, args=("wrong",)))
    start = time.time()
    for t in threads:
        t.start()
    time.sleep(10)
    stop.set()
    for t in threads:
        t.join(15)
    elapsed = time.time() - start
    ok = statuses.get(("pw", 200), 0)
    print(f"\nTLS + basic auth, 16 clients: {ok / elapsed:.0f} requests/s served, statuses {statuses}")
    assert not errors, errors[:5]
    assert {s for (p, s) in statuses if p == "pw"} <= {200, 503}, statuses
    assert {s for (p, s) in statuses if p == "wrong"} <= {401, 503}, statuses
    assert statuses.get(("wrong", 401), 0) > 0
    assert ok / elapsed > 200, statuses

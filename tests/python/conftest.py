"""Shared fixtures: the real vitals binary started on a free loopback port."""
import json
import os
import pathlib
import signal
import subprocess
import threading
import time
import urllib.request

import pytest


def wait_until(check, what="condition", seconds=10):
    """Polls `check` until it returns something true, and returns that; fails naming `what`
    after `seconds`. The way tests wait: on a condition with a deadline, never a bare sleep."""
    end = time.time() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.time() >= end:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("VITALS_BIN", REPO / "target" / "release" / "vitals"))


class Daemon:
    """A running `vitals run`, its stderr log lines parsed as JSON."""

    def __init__(self, args, config_text, tmp_path):
        cfg = tmp_path / "vitals.toml"
        cfg.write_text(config_text)
        self.proc = subprocess.Popen(
            [str(BIN), "--config", str(cfg), "--listen", "127.0.0.1:0", "--log-format", "json", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.logs = []
        self._addr = threading.Event()
        self.base = None
        threading.Thread(target=self._read_logs, daemon=True).start()
        if not self._addr.wait(10):
            self.stop()
            raise RuntimeError(f"vitals did not report its address; logs: {self.logs}")

    def _read_logs(self):
        for line in self.proc.stderr:
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"raw": line}
            self.logs.append(entry)
            fields = entry.get("fields", {})
            if fields.get("message") == "vitals listening":
                self.base = f"http://{fields['addr']}"
                self._addr.set()

    def get(self, path, headers=None, timeout=5):
        req = urllib.request.Request(self.base + path, headers=headers or {})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()

    def wait_ready(self, seconds=15):
        end = time.time() + seconds
        while time.time() < end:
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError("vitals never became ready")

    def metrics_text(self):
        return self.get("/metrics")[2].decode()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def start_vitals(tmp_path):
    """start_vitals(config_text="", args=()) -> a ready Daemon, stopped after the test."""
    started = []

    def start(config_text="", args=(), ready=True):
        d = Daemon(list(args), config_text, tmp_path)
        started.append(d)
        if ready:
            d.wait_ready()
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


def parse_exposition(text):
    """Samples of a Prometheus 0.0.4 body as {(name, frozenset(labels.items())): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out

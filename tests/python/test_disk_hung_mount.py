"""A real hung mount: a FUSE filesystem whose statfs never answers (hung_fuse.py), mounted
while vitals runs on the live host with a 1 s interval and a 300 ms statfs timeout.

vitals must keep answering /metrics at once, report the mount in vitals_filesystem_stuck,
keep exporting the other mounts and collectors, log the mount once, and hold exactly one
blocked thread for it however many ticks pass. Once the FUSE server dies the blocked call
returns and the mount stops being reported stuck.

Needs root, /dev/fuse and Debian's python3-fusepy (scripts/test.sh installs it). The FUSE
server is killed with SIGKILL and the mount lazily unmounted whatever happens: a request
already sent to a FUSE server waits uninterruptibly, so nothing else frees a blocked caller.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

from conftest import parse_exposition

HERE = pathlib.Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"
THREAD = "vitals-statfs"
CONFIG = """
[collectors.filesystem]
interval = "1s"
timeout = "1s"
statfs_timeout = "300ms"

[collectors.cpu]
interval = "1s"
timeout = "1s"
"""


def fusepy_available():
    probe = "import importlib.util as u; exit(not (u.find_spec('fusepy') or u.find_spec('fuse')))"
    return os.path.exists(SYSTEM_PYTHON) and subprocess.run([SYSTEM_PYTHON, "-c", probe]).returncode == 0


pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse") or not fusepy_available(),
    reason="needs root, /dev/fuse and python3-fusepy",
)


def mounted(path):
    escaped = str(path).replace("\\", "\\134").replace(" ", "\\040")
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == escaped for line in f)


@pytest.fixture
def hung_mount(tmp_path):
    """A mounted hung FUSE filesystem (with a space in its path): (path, server process)."""
    mnt = tmp_path / "hung mnt"
    mnt.mkdir()
    server = subprocess.Popen([SYSTEM_PYTHON, str(HERE / "hung_fuse.py"), str(mnt)], stderr=subprocess.PIPE)
    try:
        end = time.time() + 10
        while not mounted(mnt):
            assert server.poll() is None, server.stderr.read().decode()
            assert time.time() < end, "FUSE filesystem never mounted"
            time.sleep(0.05)
        yield mnt, server
    finally:
        kill_server(server)
        subprocess.run(["umount", "-l", str(mnt)], stderr=subprocess.DEVNULL)
        subprocess.run(["fusermount3", "-uz", str(mnt)], stderr=subprocess.DEVNULL)
        assert not mounted(mnt)


def kill_server(server):
    if server.poll() is None:
        server.send_signal(signal.SIGKILL)
        server.wait(10)


def statfs_threads(pid):
    n = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            n += (task / "comm").read_text().strip() == THREAD
        except OSError:
            pass  # the thread ended while we looked
    return n


def settled_statfs_threads(pid):
    """Threads named vitals-statfs, ignoring the microseconds a healthy mount's thread lives."""
    counts = []
    for _ in range(5):
        counts.append(statfs_threads(pid))
        time.sleep(0.02)
    return min(counts)


def series(samples, name):
    return [dict(labels) for (n, labels) in samples if n == name]


def test_a_hung_mount_never_stalls_vitals(hung_mount, start_vitals):
    mnt, server = hung_mount
    d = start_vitals(CONFIG)
    try:
        seen_stuck = 0
        threads = []
        latencies = []
        cpu_success = []
        end = time.time() + 8  # eight filesystem ticks
        while time.time() < end:
            t0 = time.monotonic()
            body = d.metrics_text()
            latencies.append(time.monotonic() - t0)
            samples = parse_exposition(body)
            stuck = series(samples, "vitals_filesystem_stuck")
            if stuck:
                seen_stuck += 1
                assert stuck == [{
                    "system_device": "hungfs",
                    "system_filesystem_mountpoint": str(mnt),
                    "system_filesystem_type": "fuse.hung",
                }]
                threads.append(settled_statfs_threads(d.proc.pid))
            mounts = {s["system_filesystem_mountpoint"] for s in series(samples, "system_filesystem_limit_bytes")}
            assert "/" in mounts, mounts
            assert str(mnt) not in mounts
            cpu_success.append(samples[("vitals_collector_last_success_timestamp_seconds", frozenset({("collector", "cpu")}))])
            time.sleep(0.25)

        print(f"scrapes={len(latencies)} max_latency={max(latencies) * 1000:.1f}ms "
              f"stuck_seen={seen_stuck} statfs_threads={threads}")
        assert max(latencies) < 0.25, latencies
        assert seen_stuck >= len(latencies) - 4, "the stuck mount is reported on every scrape after the first tick"
        assert threads and set(threads) == {1}, f"one blocked thread for the mount, not one per tick: {threads}"
        assert cpu_success[-1] - cpu_success[0] >= 5, "the cpu collector kept publishing"
        warnings = [e for e in d.logs
                    if e.get("level") == "WARN" and str(mnt) in str(e.get("fields", {}).get("skipped", ""))]
        assert len(warnings) == 1, warnings
        body = d.metrics_text()
        if shutil.which("promtool"):
            r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
            assert r.returncode == 0, f"promtool: {r.stdout}{r.stderr}"
        errors = parse_exposition(body)
        assert errors[("vitals_collector_errors_total", frozenset({("collector", "filesystem"), ("kind", "timeout")}))] >= 5

        # The server dies: the blocked statfs returns, the thread ends, the mount is no
        # longer stuck (it now fails at once with "transport endpoint is not connected").
        kill_server(server)
        end = time.time() + 5
        while series(parse_exposition(d.metrics_text()), "vitals_filesystem_stuck"):
            assert time.time() < end, "the mount stayed stuck after its server died"
            time.sleep(0.1)
        assert settled_statfs_threads(d.proc.pid) == 0
    finally:
        # vitals cannot exit while a thread waits on the FUSE server: kill the server first.
        kill_server(server)

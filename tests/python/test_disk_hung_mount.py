"""A real hung mount: a FUSE filesystem whose statfs never answers (hung_fuse.py), mounted
while vitals runs on the live host with a 1 s interval and a 300 ms statfs timeout.

vitals must keep answering /metrics at once, report the mount in vitals_filesystem_stuck,
keep exporting the other mounts and collectors, log the mount once, and hold exactly one
blocked `vitals statfs-helper` process for it however many ticks pass, beside the one helper
that serves the other mounts. Once the FUSE server dies the blocked call returns, the helper
exits and the mount stops being reported stuck. SIGTERM while the mount still hangs stops
vitals at once: the blocked helper is left behind, orphaned, and ends when the connection is
aborted (/sys/fs/fuse/connections/N/abort).

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

from conftest import BIN, parse_exposition, wait_until

HERE = pathlib.Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"
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


def helper_pids():
    """Running (not zombie) `vitals statfs-helper` processes of the binary under test."""
    pids = []
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue  # it ended while we looked
        if argv[:2] == [str(BIN).encode(), b"statfs-helper"] and "zombie" not in state:
            pids.append(int(proc.name))
    return pids


def pipes(pid):
    out = set()
    for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("pipe:"):
            out.add(target)
    return out


def daemon_helpers(daemon_pid):
    """(live, stuck) helper pids of a daemon: a helper is live while the daemon holds the other
    end of its standard input, stuck once the daemon has let go of it. Helpers are listed
    before the daemon's descriptors, so one started in between is not taken for stuck."""
    mine = []
    for pid in helper_pids():
        try:
            status = pathlib.Path(f"/proc/{pid}/status").read_text().splitlines()
            ppid = int(next(line.split()[1] for line in status if line.startswith("PPid:")))
            stdin = os.readlink(f"/proc/{pid}/fd/0")
        except (OSError, StopIteration):
            continue
        if ppid == daemon_pid:
            mine.append((pid, stdin))
    held = pipes(daemon_pid)
    return [p for p, i in mine if i in held], [p for p, i in mine if i not in held]


def alive(pid):
    try:
        return "zombie" not in pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def fuse_connection(path):
    """The /sys/fs/fuse/connections entry of a FUSE mount: its device's minor number."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(path).replace(" ", "\\040"):
                return int(fields[2].split(":")[1])
    raise AssertionError(f"{path} is not mounted")


def abort_fuse(path):
    """Aborts a FUSE connection, failing every request it holds (fusectl, mounted if need be)."""
    conns = pathlib.Path("/sys/fs/fuse/connections")
    mounted_here = False
    with open("/proc/self/mounts") as f:
        fusectl = any(line.split()[1] == str(conns) for line in f)
    if not fusectl:
        subprocess.run(["mount", "-t", "fusectl", "fusectl", str(conns)], check=True)
        mounted_here = True
    try:
        (conns / str(fuse_connection(path)) / "abort").write_text("1")
    finally:
        if mounted_here:
            subprocess.run(["umount", str(conns)], check=False)


def series(samples, name):
    return [dict(labels) for (n, labels) in samples if n == name]


def test_a_hung_mount_never_stalls_vitals(hung_mount, start_vitals):
    mnt, server = hung_mount
    d = start_vitals(CONFIG)
    try:
        seen_stuck = 0
        stuck_helpers = []
        live_helpers = []
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
                live, stuck_now = daemon_helpers(d.proc.pid)
                live_helpers.append(live)
                stuck_helpers.append(stuck_now)
            mounts = {s["system_filesystem_mountpoint"] for s in series(samples, "system_filesystem_limit_bytes")}
            assert "/" in mounts, mounts
            assert str(mnt) not in mounts
            cpu_success.append(samples[("vitals_collector_last_success_timestamp_seconds", frozenset({("collector", "cpu")}))])
            time.sleep(0.25)

        print(f"scrapes={len(latencies)} max_latency={max(latencies) * 1000:.1f}ms "
              f"stuck_seen={seen_stuck} stuck_helpers={stuck_helpers} live_helpers={live_helpers}")
        assert max(latencies) < 0.25, latencies
        assert seen_stuck >= len(latencies) - 4, "the stuck mount is reported on every scrape after the first tick"
        assert stuck_helpers and all(len(s) == 1 for s in stuck_helpers), \
            f"one blocked helper for the mount, not one per tick: {stuck_helpers}"
        assert len({s[0] for s in stuck_helpers}) == 1, f"the same helper all along: {stuck_helpers}"
        assert all(len(live) <= 1 for live in live_helpers), live_helpers
        assert len({p for live in live_helpers for p in live}) == 1, \
            f"one long-lived helper serves every tick: {live_helpers}"
        blocked = stuck_helpers[0][0]
        for pid in (blocked, live_helpers[-1][0]):
            fds = {os.readlink(fd) for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir()}
            assert not any(t.startswith("socket:") for t in fds), f"a helper holds a socket: {fds}"
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

        # The server dies: the blocked statfs returns, the helper exits and is reaped, the
        # mount is no longer stuck (it now fails at once: "transport endpoint is not connected").
        kill_server(server)
        end = time.time() + 5
        while series(parse_exposition(d.metrics_text()), "vitals_filesystem_stuck"):
            assert time.time() < end, "the mount stayed stuck after its server died"
            time.sleep(0.1)
        assert not alive(blocked), "the released helper was reaped"
        live, stuck_now = daemon_helpers(d.proc.pid)
        assert stuck_now == [] and len(live) == 1, (live, stuck_now)
    finally:
        # vitals cannot exit while a thread waits on the FUSE server: kill the server first.
        kill_server(server)


def test_sigterm_stops_vitals_at_once_while_a_mount_hangs(hung_mount, start_vitals):
    mnt, server = hung_mount
    d = start_vitals(CONFIG)
    blocked = None
    try:
        # Serve a few ticks with the mount stuck.
        stuck_scrapes = 0
        end = time.time() + 10
        while stuck_scrapes < 8:
            assert time.time() < end, "the mount was never reported stuck"
            if series(parse_exposition(d.metrics_text()), "vitals_filesystem_stuck"):
                stuck_scrapes += 1
                live, stuck_now = daemon_helpers(d.proc.pid)
                assert len(stuck_now) == 1, stuck_now
                assert blocked in (None, stuck_now[0]), (blocked, stuck_now)
                blocked = stuck_now[0]
            time.sleep(0.25)
        assert alive(blocked)

        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        code = d.proc.wait(5)
        took = time.monotonic() - t0
        print(f"exit after SIGTERM: {took * 1000:.0f} ms, code {code}")
        assert code == 0
        assert took < 5
        # vitals did not wait for its blocked helper: it still waits on the FUSE server.
        assert alive(blocked), "the blocked helper was not waited for, so it is still there"
    finally:
        if blocked is not None and alive(blocked) and mounted(mnt):
            abort_fuse(mnt)
            end = time.time() + 5
            while alive(blocked):
                assert time.time() < end, "the helper did not end when its connection was aborted"
                time.sleep(0.05)
        kill_server(server)


def filesystem_ticked_since(d, t):
    """The samples, once the filesystem collector has finished a collection that began at or
    after `t` (wall clock); None before."""
    samples = parse_exposition(d.metrics_text())
    me = frozenset({("collector", "filesystem")})
    last = samples.get(("vitals_collector_last_success_timestamp_seconds", me))
    took = samples.get(("vitals_collector_duration_seconds", me), 0.0)
    return samples if last is not None and last - took >= t else None


def threads(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith("Threads:")))


def test_reloads_keep_the_stuck_mount_and_start_no_second_helper(hung_mount, start_vitals):
    mnt, server = hung_mount
    d = start_vitals(CONFIG)
    cfg = pathlib.Path(d.proc.args[d.proc.args.index("--config") + 1])
    try:
        end = time.time() + 10
        while not series(parse_exposition(d.metrics_text()), "vitals_filesystem_stuck"):
            assert time.time() < end, "the mount was never reported stuck"
            time.sleep(0.2)
        # The helper blocked on the mount, once the daemon has let go of it.
        stuck = wait_until(lambda: daemon_helpers(d.proc.pid)[1], "a stuck statfs helper")
        assert len(stuck) == 1, stuck
        blocked = stuck[0]
        base_threads = threads(d.proc.pid)
        # Reloads that rebuild the filesystem collector (its section changes) and reloads
        # of an unrelated section, alternating.
        variants = [
            CONFIG.replace('interval = "1s"\ntimeout = "1s"\nstatfs_timeout', 'interval = "2s"\ntimeout = "1s"\nstatfs_timeout'),
            CONFIG + '\n[collectors.memory]\ninterval = "2s"\ntimeout = "1s"\n',
            CONFIG,
        ]
        counts = []
        for i in range(6):
            before = len(d.logs)
            cfg.write_text(variants[i % len(variants)])
            d.proc.send_signal(signal.SIGHUP)
            end = time.time() + 10
            while not any(e.get("fields", {}).get("message") == "config reloaded" for e in d.logs[before:]):
                assert time.time() < end, "no reload"
                time.sleep(0.05)
            # At least one filesystem tick of the new collector: a success that began after
            # the reload was logged.
            reloaded = time.time()
            samples = wait_until(lambda: filesystem_ticked_since(d, reloaded),
                                 "a filesystem collection after the reload")
            assert series(samples, "vitals_filesystem_stuck"), "still reported stuck after the reload"
            live, stuck = daemon_helpers(d.proc.pid)
            assert stuck == [blocked], f"no second helper on the blocked mount: {stuck}"
            assert len(live) <= 1, live
            counts.append(threads(d.proc.pid))
        print(f"threads: start {base_threads}, after each reload {counts}")
        assert max(counts) <= base_threads + 1, (base_threads, counts)
    finally:
        kill_server(server)

"""The processes collector run as an ordinary user (nobody, through setpriv), with root's
processes around: other users' /proc/<pid>/io and fd cannot be read. Those values are left
out, each skipped read is counted in vitals_process_reads_denied_total, nothing is logged per
process, and everything else is there. Also on a procfs mounted with hidepid=2 (in a mount
namespace of vitals' own), where other users' processes are not even listed."""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

import conftest
from process_support import config, spawn, kill, value, wait_ticks, group_values

NOBODY = 65534


SETPRIV = f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups"


@pytest.fixture
def as_nobody(monkeypatch):
    """as_nobody(script) -> a directory for conftest.Daemon: vitals is started through a
    wrapper whose last line is `script` ({bin} is the real binary)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to become nobody")
    real = str(conftest.BIN)
    d = tempfile.mkdtemp(prefix="vitals-nobody-")
    os.chmod(d, 0o755)

    def install(script):
        path = os.path.join(d, "vitals-as-nobody")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + script.format(bin=real) + "\n")
        os.chmod(path, 0o755)
        monkeypatch.setattr(conftest, "BIN", path)
        return d

    yield install
    shutil.rmtree(d, ignore_errors=True)


def start_as_nobody(tmp_dir, text, procfs=None):
    args = ["--procfs", procfs] if procfs else []
    d = conftest.Daemon(args, text, pathlib.Path(tmp_dir))
    d.wait_ready()
    return d


def mine():
    """A helper owned by nobody, in its own group."""
    def demote():
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    # The system's Python: the test's own (a virtualenv under root's home) may be out of
    # nobody's reach.
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    return spawn("vt-mine", "files = [open('/dev/null') for _ in range(5)]\nprint('ready', flush=True)",
                 python=python, preexec_fn=demote, cwd="/")


def no_process_logs(logs):
    bad = [l for l in logs if l.get("level") in ("WARN", "ERROR")
           or "/proc/" in str(l) or "denied" in str(l).lower()]
    assert not bad, bad


def test_unprivileged_reads_are_counted_not_logged(as_nobody):
    tmp = as_nobody("exec " + SETPRIV + ' {bin} "$@"')
    helper = mine()
    d = start_as_nobody(tmp, config())
    try:
        v = wait_ticks(d, 3)
        io = v[("vitals_process_reads_denied_total", frozenset({("file", "io")}))]
        fd = v[("vitals_process_reads_denied_total", frozenset({("file", "fd")}))]
        assert io > 0 and fd > 0, (io, fd)
        # Root's kernel threads: everything but fds and io.
        k = group_values(v, "kernel")
        assert value(v, "process_thread_count", "kernel") > 0
        assert ("process_cpu_time_seconds_total", frozenset({("cpu_mode", "system")})) in k
        assert ("process_context_switches_total", frozenset({("process_context_switch_type", "voluntary")})) in k
        assert ("process_memory_usage_bytes", frozenset()) in k
        assert not [n for n, _ in k if n in ("process_disk_io_bytes_total", "process_unix_file_descriptor_count")]
        # The helper is nobody's own: all of it.
        assert value(v, "process_unix_file_descriptor_count", "vt-mine") >= 8
        assert value(v, "process_disk_io_bytes_total", "vt-mine", disk_io_direction="read") is not None
        assert value(v, "process_memory_usage_bytes", "vt-mine") > 0
        # The system-wide counts are whole.
        total = sum(x for (n, _), x in v.items() if n == "system_process_count")
        assert sum(x for (n, _), x in v.items() if n == "process_count") == total
        assert v[("vitals_collector_up", frozenset({("collector", "processes")}))] == 1
        no_process_logs(d.logs)
    finally:
        d.stop()
        kill(helper)


def test_hidepid_procfs(as_nobody):
    if not shutil.which("unshare"):
        pytest.skip("needs unshare")
    mnt = tempfile.mkdtemp(prefix="vitals-hidepid-")
    os.chmod(mnt, 0o755)
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t proc -o hidepid=2 proc {mnt}"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a procfs here: {probe.stderr!r}")
    tmp = as_nobody("exec unshare -m --propagation private sh -c "
                    f"'mount -t proc -o hidepid=2 proc {mnt} && exec {SETPRIV} {{bin}} \"$@\"' vitals \"$@\"")
    helper = mine()
    d = start_as_nobody(tmp, config(), procfs=mnt)
    try:
        v = wait_ticks(d, 3)
        scanned = v[("vitals_process_scanned", frozenset())]
        # Only nobody's processes are listed: vitals and the helper (and any other of nobody's).
        assert 2 <= scanned < 20, scanned
        assert value(v, "process_unix_file_descriptor_count", "vt-mine") >= 8
        assert "kernel" not in {dict(l).get("process_group") for (_, l) in v}
        assert v[("vitals_process_reads_denied_total", frozenset({("file", "io")}))] == 0
        no_process_logs(d.logs)
    finally:
        d.stop()
        kill(helper)
        os.rmdir(mnt)

"""Exit reasons from taskstats exit records, with the real binary as root:

- processes of one group (comm vt-exits) end by SIGKILL, SIGSEGV and exit(3), once each:
  process_exits_total shows each once, under its reason and signal;
- a process killed by the OOM killer in a memory-limited cgroup (cgroup v1 memory
  controller) counts as SIGKILL;
- run as nobody (no CAP_NET_ADMIN), or as root in a pid namespace of its own (a container:
  the kernel refuses taskstats registration there, as a host without it would), vitals says
  once in its log that exit records are unavailable, and why, and
  vitals_process_accounting_mode shows mode cutime.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import conftest
from conftest import parse_exposition
from process_support import config, wait_ticks

NOBODY = 65534
MEMCG = pathlib.Path("/sys/fs/cgroup/memory")


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("exit records need root (CAP_NET_ADMIN)")


def exits(v, group):
    """{(reason, signal): count} of process_exits_total for `group`."""
    out = {}
    for (name, labels), value in v.items():
        d = dict(labels)
        if name == "process_exits_total" and d.get("process_group") == group:
            out[(d["process_exit_reason"], d.get("process_exit_signal", ""))] = value
    return out


def named(tmp_path, comm):
    """A path whose basename becomes the comm of the Python started through it."""
    link = tmp_path / comm
    if not link.exists():
        link.symlink_to(sys.executable)
    return str(link)


def wait_exits(daemon, group, want, timeout=20):
    end = time.time() + timeout
    got = None
    while time.time() < end:
        v = parse_exposition(daemon.metrics_text())
        got = exits(v, group)
        if all(got.get(k, 0) >= n for k, n in want.items()):
            return got, v
        time.sleep(0.1)
    raise AssertionError(f"{group}: wanted {want}, got {got}")


def test_sigkill_sigsegv_and_exit_3_count_once_each(start_vitals, tmp_path):
    needs_root()
    d = start_vitals(config())
    v = wait_ticks(d)
    mode = {dict(l)["mode"]: x for (n, l), x in v.items() if n == "vitals_process_accounting_mode"}
    assert mode == {"exit_records": 1, "cutime_after_loss": 0, "cutime": 0}, mode
    python = named(tmp_path, "vt-exits")
    endings = [
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
        "import ctypes; ctypes.string_at(0)",
        "import sys; sys.exit(3)",
    ]
    codes = [subprocess.run([python, "-c", code]).returncode for code in endings]
    assert codes == [-signal.SIGKILL, -signal.SIGSEGV, 3]
    want = {("signal", "SIGKILL"): 1, ("signal", "SIGSEGV"): 1, ("exit_nonzero", ""): 1}
    got, v = wait_exits(d, "vt-exits", want)
    # Two more ticks: nothing is counted twice later.
    v = wait_ticks(d)
    assert exits(v, "vt-exits") == want
    assert v[("vitals_process_exit_records_total", frozenset())] >= 3


def test_an_oom_kill_counts_as_sigkill(start_vitals, tmp_path):
    needs_root()
    if not (MEMCG / "memory.limit_in_bytes").exists():
        pytest.skip("no cgroup v1 memory controller")
    cg = MEMCG / f"vitals-oom-{os.getpid()}"
    cg.mkdir()
    try:
        (cg / "memory.limit_in_bytes").write_text(str(32 << 20))
        swap = cg / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(32 << 20))
        (cg / "memory.swappiness").write_text("0")
        d = start_vitals(config())
        wait_ticks(d)
        code = (f"open({str(cg / 'cgroup.procs')!r}, 'w').write(str(__import__('os').getpid()))\n"
                "b = bytearray(512 << 20)\n")
        rc = subprocess.run([named(tmp_path, "vt-oom"), "-c", code]).returncode
        assert rc == -signal.SIGKILL, rc
        oom = dict(line.split() for line in (cg / "memory.oom_control").read_text().splitlines())
        if "oom_kill" in oom:
            assert int(oom["oom_kill"]) >= 1
        wait_exits(d, "vt-oom", {("signal", "SIGKILL"): 1})
    finally:
        for _ in range(50):
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def fallback_run(monkeypatch, wrap, reason, stop=signal.SIGTERM):
    """Runs vitals through the shell line `wrap` (which ends by exec'ing its argument list)
    and checks the cutime fallback, logged once with `reason`; `stop` ends the wrapper."""
    # Under /tmp, readable by nobody (pytest's tmp_path is root's alone).
    d = pathlib.Path(tempfile.mkdtemp(prefix="vitals-exits-fallback-"))
    os.chmod(d, 0o755)
    wrapper = d / "vitals-wrapped"
    wrapper.write_text(f"#!/bin/sh\nexec {wrap} {conftest.BIN} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setattr(conftest, "BIN", str(wrapper))
    daemon = conftest.Daemon([], config(), d)
    try:
        daemon.wait_ready()
        wait_ticks(daemon, n=3)
        v = parse_exposition(daemon.metrics_text())
        mode = {dict(l)["mode"]: x for (n, l), x in v.items() if n == "vitals_process_accounting_mode"}
        assert mode == {"exit_records": 0, "cutime_after_loss": 0, "cutime": 1}, mode
        assert ("vitals_process_exit_records_total", frozenset()) not in v
        said = [e for e in daemon.logs
                if "exit records unavailable" in e.get("fields", {}).get("message", "")]
        assert len(said) == 1, daemon.logs
        assert said[0]["fields"]["reason"] == reason, said
    finally:
        daemon.stop(stop)
        shutil.rmtree(d, ignore_errors=True)


def test_unprivileged_falls_back_to_cutime_and_says_so_once(monkeypatch):
    needs_root()
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv")
    fallback_run(monkeypatch, f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups "
                              "--inh-caps=-all --bounding-set=-all", "no privilege")


def test_without_taskstats_in_a_pid_namespace_falls_back_and_says_so_once(monkeypatch):
    needs_root()
    if not shutil.which("unshare"):
        pytest.skip("needs unshare")
    # unshare --fork ignores SIGTERM; SIGKILL ends it and --kill-child then ends vitals.
    fallback_run(monkeypatch, "unshare --pid --fork --kill-child", "not the initial namespaces",
                 stop=signal.SIGKILL)

"""The conservation law, shortened for CI: under the churn of bench/exit_churn.py (every
parent pattern of issue 18, 200 short processes a second for 15 s), scraped every second:

- no group counter ever decreases;
- the increase of sum(process_cpu_time_seconds_total) over all groups is within 2 % under the
  CPU time of all tasks (3 % without the teardown program: no BTF or no CAP_BPF) and never
  more than 2 % over it. Measured in 15 s runs on an idle machine: 0.9904, 0.9907 and 0.9908
  of cpuacct with the program, 0.9821-0.9838 without (0.967 and 0.969 before the tails were
  credited against the records sent before each reaper's reading, 0.93 to 0.96 before the
  reapers' cutime credited tails at all; docs/performance.md). The kernel charges a process's
  last ~0.3 ms (freeing its memory and files) after its exit record; its reaper's cutime sees
  it, and for the children nobody waits for (a parent with SIGCHLD ignored: one pattern in
  five here) the task's final clock read by the eBPF program when the kernel frees it. What
  stays under in 15 s is the window's edges (tails are credited a tick after they happen). The
  cutime fallback is 15-21% under or over on the same churn, process-exporter 78% under. The
  kernel's measure is the root cpuacct group's usage (the scheduler's runtime, the clock
  /proc/<pid>/stat's utime + stime are scaled to); system_cpu_time_seconds_total{cpu_mode=~
  "user|nice|system"} samples ticks instead and differs from it by the host's tick sampling
  error (printed, not asserted: 7.5 % under to 4.5 % over cpuacct in the runs of
  docs/performance.md).

bench/exit_conservation.py runs the full 60 s version and the comparisons.
"""
import os
import pathlib
import subprocess
import sys
import threading
import time

import pytest

from conftest import parse_exposition
from process_support import last_tick, wait_ticks

REPO = pathlib.Path(__file__).resolve().parents[2]
CPUACCT = pathlib.Path("/sys/fs/cgroup/cpuacct/cpuacct.usage")
CONFIG = "".join(f'[collectors.{c}]\ninterval = "1s"\ntimeout = "1s"\n' for c in ("cpu", "processes")) + "".join(f"[collectors.{c}]\nenabled = false\n" for c in (
    "memory", "sensors", "battery", "host", "users", "filesystem", "disk", "network", "interfaces",
    "connections"))

COUNTERS = ("process_cpu_time_seconds_total", "process_disk_io_bytes_total", "process_io_bytes_total",
            "process_context_switches_total", "process_paging_faults_total")


def sums(v):
    groups = sum(x for (n, _), x in v.items() if n == "process_cpu_time_seconds_total")
    ticks = sum(x for (n, l), x in v.items() if n == "system_cpu_time_seconds_total"
                and dict(l).get("cpu_mode") in ("user", "nice", "system")
                and "cpu_logical_number" in dict(l))
    return groups, ticks


def at_tick(daemon):
    """The exposition of a fresh tick and the cpuacct usage (s) read as soon as it appeared."""
    first, _ = last_tick(daemon)
    end = time.time() + 10
    while time.time() < end:
        t, v = last_tick(daemon)
        if t != first:
            return v, int(CPUACCT.read_text()) / 1e9
        time.sleep(0.005)
    raise TimeoutError("no tick")


def counters(v):
    return {k: x for k, x in v.items() if k[0] in COUNTERS}


def test_groups_sum_to_the_kernels_task_cpu_under_churn(start_vitals):
    if os.geteuid() != 0:
        pytest.skip("exit records need root")
    if not CPUACCT.exists():
        pytest.skip("no cpuacct controller")
    d = start_vitals(CONFIG)
    v = wait_ticks(d, n=3)
    assert v[("vitals_process_accounting_mode", frozenset({("mode", "exit_records")}))] == 1
    v0, acct0 = at_tick(d)
    churn = subprocess.Popen([sys.executable, str(REPO / "bench" / "exit_churn.py"), "15", "200"],
                             stdout=subprocess.PIPE, text=True)
    prev = counters(v0)
    decreases = []
    while churn.poll() is None:
        v = parse_exposition(d.metrics_text())
        now = counters(v)
        decreases += [(k, prev[k], x) for k, x in now.items() if k in prev and x < prev[k]]
        prev = now
        time.sleep(1)
    started = int(churn.stdout.read())
    wait_ticks(d, n=2)
    v1, acct1 = at_tick(d)
    assert not decreases, decreases[:5]
    g0, t0 = sums(v0)
    g1, t1 = sums(v1)
    groups, acct, ticks = g1 - g0, acct1 - acct0, t1 - t0
    lost = v1.get(("vitals_process_exit_records_lost_total", frozenset()), 0)
    print(f"churn started {started}; groups {groups:.2f} s, cpuacct {acct:.2f} s "
          f"({groups / acct:.4f}), /proc/stat ticks {ticks:.2f} s ({groups / ticks:.4f}); lost {lost}")
    # 200/s asked; a machine shared with builds forks fewer.
    assert started > 15 * 40
    assert lost == 0
    under = 0.98 if ("vitals_process_teardown_cpu_time_seconds_total", frozenset()) in v1 else 0.97
    assert groups >= under * acct, (groups, acct, under)
    # Nothing counted twice (the cutime fallback was 21% over on this churn). Against cpuacct
    # only: the ticks are sampled, and a CI run under churn saw them 7% under cpuacct
    # (16.14 s against 17.36 s, groups 17.06 s).
    assert groups <= 1.02 * acct, (groups, acct, ticks)

"""Churn: a parent in its own group (comm vt-churn) forks 100 children a second for 30 s,
each burning a few milliseconds of CPU and exiting; it reaps them. vitals (1 s interval) is
scraped every second meanwhile.

- No counter of any group ever decreases between two scrapes.
- The vt-churn group's CPU time grows by the parent's own CPU plus its children's, as psutil
  reports them for the parent (user + system + children_user + children_system), within
  10%: most children live less than an interval and are never seen, the others are seen
  and counted once.
"""
import select
import subprocess
import time

import psutil

from conftest import parse_exposition
from process_support import config, kill, spawn, value, wait_ticks

CHURN = """
import os, sys, time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
print('ready', flush=True)
sys.stdin.readline()
stop = time.monotonic() + float(sys.argv[1]) if len(sys.argv) > 1 else time.monotonic() + 30
start, n = time.monotonic(), 0
while time.monotonic() < stop:
    if os.fork() == 0:
        burn(0.003)
        os._exit(0)
    n += 1
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break
    delay = start + n / 100 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
print(n, flush=True)
"""

COUNTERS = ("process_cpu_time_seconds_total", "process_disk_io_bytes_total", "process_io_bytes_total",
            "process_context_switches_total", "process_paging_faults_total")


def cpu_total(t):
    return t.user + t.system + t.children_user + t.children_system


def test_churn_counters_never_decrease_and_children_count_once(start_vitals):
    d = start_vitals(config())
    wait_ticks(d, 1)
    parent = spawn("vt-churn", CHURN, stdin=subprocess.PIPE)
    try:
        p = psutil.Process(parent.pid)
        v0 = wait_ticks(d, 2)
        before = cpu_total(p.cpu_times())
        g0 = sum(value(v0, "process_cpu_time_seconds_total", "vt-churn", cpu_mode=m) for m in ("user", "system"))
        parent.stdin.write("go\n")
        parent.stdin.flush()
        prev, decreases, scrapes = None, [], 0
        end = time.time() + 60
        while time.time() < end:
            v = parse_exposition(d.metrics_text())
            scrapes += 1
            cur = {k: x for k, x in v.items() if k[0] in COUNTERS}
            if prev:
                decreases += [(k, prev[k], x) for k, x in cur.items() if k in prev and x < prev[k]]
            prev = cur
            if select.select([parent.stdout], [], [], 0)[0]:
                break  # the parent printed how many it forked: the churn is over
            time.sleep(1)
        forked = int(parent.stdout.readline())
        assert forked >= 2000, f"the machine is too busy: only {forked} children in 30 s"
        assert scrapes >= 25
        assert not decreases, decreases[:10]
        v1 = wait_ticks(d, 2)
        after = cpu_total(p.cpu_times())
        g1 = sum(value(v1, "process_cpu_time_seconds_total", "vt-churn", cpu_mode=m) for m in ("user", "system"))
        want, got = after - before, g1 - g0
        print(f"churn: {forked} children; group CPU +{got:.2f} s, psutil (parent + children) +{want:.2f} s")
        assert want > 3.0, want
        assert abs(got - want) <= 0.1 * want, (got, want)
    finally:
        kill(parent)


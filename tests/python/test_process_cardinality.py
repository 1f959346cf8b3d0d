"""Cardinality: 1,000 processes with distinct comms and max_groups = 100. vitals exports 100
groups plus "other", counts the folded names, and the groups still add up to the system-wide
process count (one walk of /proc for both)."""
import psutil

from process_support import config, kill, spawn, wait_ticks

MANY = """
import os, signal
kids = []
for i in range(1000):
    pid = os.fork()
    if pid == 0:
        set_comm(f'vt-card-{i:04d}')
        signal.pause()
        os._exit(0)
    kids.append(pid)
print('ready', flush=True)
"""


def test_max_groups_folds_into_other(start_vitals):
    # top_n = 0: the groups' cardinality alone (per-process series are bounded apart, by
    # max_processes: test_process_detail_oracle.py).
    d = start_vitals(config("max_groups = 100\ntop_n = 0\n"))
    wait_ticks(d, 1)
    parent = spawn("vt-card", MANY)
    try:
        v = wait_ticks(d, 2)
        groups = {dict(l)["process_group"] for (n, l), _ in v.items() if n == "process_memory_usage_bytes"}
        assert len(groups) == 101 and "other" in groups, len(groups)
        card = {g for g in groups if g.startswith("vt-card-")}
        assert len(card) < 100
        folded = v[("vitals_process_groups_folded", frozenset())]
        comms = {p.info["name"] for p in psutil.process_iter(["name"])}
        assert 900 <= folded <= len(comms), (folded, len(comms))
        total = sum(x for (n, _), x in v.items() if n == "system_process_count")
        assert sum(x for (n, _), x in v.items() if n == "process_count") == total
        assert total > 1000
        # Each group's series are few: about 20 per group, so the whole collector stays
        # near 2,000 series however many names there are.
        series = v[("vitals_collector_series", frozenset({("collector", "processes")}))]
        assert series < 101 * 25, series
    finally:
        children = psutil.Process(parent.pid).children()
        kill(parent)
        for c in children:
            c.kill()
        psutil.wait_procs(children, timeout=10)

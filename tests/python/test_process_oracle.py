"""psutil 7.2.2 as the oracle for the per-group process metrics on this live host.

The test starts vitals (processes collector alone, 1 s interval), then helper processes
with comms of their own, so each is alone in its group (the default grouping is one group
per comm):

- vt-busy: a busy loop (its CPU keeps moving: every counter is bracketed by psutil readings
  taken before the tick and after the scrape);
- vt-sleeper: 8 threads and 50 more open files, asleep;
- vt-writer: wrote 10 MB to a file, asleep;
- vt-zparent and its child vt-zombie, a zombie it never reaps.

The helpers were born after vitals started, so their counters hold their whole lifetime,
which is what psutil reports. Quiescent processes must match exactly.
"""
import os
import time

import psutil
import pytest

from process_support import clk, config, group_values, kill, spawn, stat_fields, value, wait_ticks

BUSY = "print('ready', flush=True)\nwhile True:\n    pass\n"
SLEEPER = """
import threading, time
for _ in range(7):
    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
files = [open('/dev/null') for _ in range(50)]
print('ready', flush=True)
"""
ZPARENT = """
import os
pid = os.fork()
if pid == 0:
    set_comm('vt-zombie')
    os._exit(0)
import time
while open(f'/proc/{pid}/stat').read().split(') ')[1][0] != 'Z':
    time.sleep(0.01)
print('ready', flush=True)
"""


def writer_body(path):
    return f"""
with open({str(path)!r}, 'wb') as f:
    for _ in range(10):
        f.write(b'x' * (1 << 20))
    f.flush()
    os.fsync(f.fileno())
print('ready', flush=True)
""".replace("with open", "import os\nwith open", 1)


def psutil_sums(pids):
    """What vitals must export for a group of these pids, from psutil (and stat for faults)."""
    out = {"count": {}}
    totals = dict.fromkeys(["user", "system", "rss", "vms", "shared", "threads", "fds", "read_bytes",
                            "write_bytes", "read_chars", "write_chars", "vol", "invol", "major", "minor"], 0)
    for pid in pids:
        p = psutil.Process(pid)
        with p.oneshot():
            st = p.status()
            out["count"][st] = out["count"].get(st, 0) + 1
            t = p.cpu_times()
            totals["user"] += t.user + t.children_user
            totals["system"] += t.system + t.children_system
            m = p.memory_info()
            totals["rss"] += m.rss
            totals["vms"] += m.vms
            totals["shared"] += m.shared
            totals["threads"] += p.num_threads()
            totals["fds"] += p.num_fds()
            io = p.io_counters()
            totals["read_bytes"] += io.read_bytes
            totals["write_bytes"] += io.write_bytes
            totals["read_chars"] += io.read_chars
            totals["write_chars"] += io.write_chars
            c = p.num_ctx_switches()
            totals["vol"] += c.voluntary
            totals["invol"] += c.involuntary
        f = stat_fields(pid)
        totals["major"] += int(f[12]) + int(f[13])
        totals["minor"] += int(f[10]) + int(f[11])
    out.update(totals)
    return out


def exported(v, g):
    get = lambda name, **l: value(v, name, g, **l)
    count = {dict(labels)["process_state"]: x for (name, labels), x in group_values(v, g).items()
             if name == "process_count" and x}
    return {
        "count": count,
        "user": get("process_cpu_time_seconds_total", cpu_mode="user"),
        "system": get("process_cpu_time_seconds_total", cpu_mode="system"),
        "rss": get("process_memory_usage_bytes"),
        "vms": get("process_memory_virtual_bytes"),
        "shared": get("process_memory_shared_bytes"),
        "threads": get("process_thread_count"),
        "fds": get("process_unix_file_descriptor_count"),
        "read_bytes": get("process_disk_io_bytes_total", disk_io_direction="read"),
        "write_bytes": get("process_disk_io_bytes_total", disk_io_direction="write"),
        "read_chars": get("process_io_bytes_total", disk_io_direction="read"),
        "write_chars": get("process_io_bytes_total", disk_io_direction="write"),
        "vol": get("process_context_switches_total", process_context_switch_type="voluntary"),
        "invol": get("process_context_switches_total", process_context_switch_type="involuntary"),
        "major": get("process_paging_faults_total", system_paging_fault_type="major"),
        "minor": get("process_paging_faults_total", system_paging_fault_type="minor"),
    }


@pytest.fixture
def helpers(start_vitals, tmp_path):
    d = start_vitals(config())
    wait_ticks(d, 1)
    procs = {
        "vt-busy": spawn("vt-busy", BUSY),
        "vt-sleeper": spawn("vt-sleeper", SLEEPER),
        "vt-writer": spawn("vt-writer", writer_body(tmp_path / "ten-megabytes")),
        "vt-zparent": spawn("vt-zparent", ZPARENT),
    }
    zombie = [c.pid for c in psutil.Process(procs["vt-zparent"].pid).children()]
    yield d, procs, zombie
    kill(*procs.values())


def test_groups_equal_psutil_sums(helpers):
    d, procs, zombie = helpers
    assert len(zombie) == 1
    groups = {g: [p.pid] for g, p in procs.items()}
    groups["vt-zombie"] = zombie
    quiet = [g for g in groups if g != "vt-busy"]
    for attempt in range(3):
        before = {g: psutil_sums(pids) for g, pids in groups.items()}
        v = wait_ticks(d, 2)
        after = {g: psutil_sums(pids) for g, pids in groups.items()}
        if all(before[g] == after[g] for g in quiet):
            break
    for g in quiet:
        assert before[g] == after[g], f"{g} moved while measured"
        got, want = exported(v, g), after[g]
        for key in want:
            if key in ("user", "system"):
                assert got[key] == pytest.approx(want[key], abs=1e-9), (g, key)
            else:
                assert got[key] == want[key], (g, key, got[key], want[key])
    # The busy loop: each counter between the two readings around the tick.
    got, lo, hi = exported(v, "vt-busy"), before["vt-busy"], after["vt-busy"]
    for key in lo:
        if key == "count":
            assert sum(got["count"].values()) == 1
        else:
            assert lo[key] - 1e-9 <= got[key] <= hi[key] + 1e-9, (key, lo[key], got[key], hi[key])
    # Specific expectations of each helper, so that the test can fail for a wrong reason too.
    s = exported(v, "vt-sleeper")
    assert s["threads"] == 8 and s["fds"] >= 53
    w = exported(v, "vt-writer")
    assert w["write_chars"] >= 10 << 20 and w["write_bytes"] >= 10 << 20
    z = exported(v, "vt-zombie")
    assert z["count"] == {"zombie": 1} and z["rss"] == 0


def test_busy_loop_utilization(helpers):
    d, procs, _ = helpers
    p = psutil.Process(procs["vt-busy"].pid)
    wait_ticks(d, 1)
    p.cpu_percent()
    v = wait_ticks(d, 3)
    pct = p.cpu_percent()  # one core's worth: about 100, less when the machine is busy
    ratio = sum(value(v, "process_cpu_utilization_ratio", "vt-busy", cpu_mode=m) for m in ("user", "system"))
    ncpu = psutil.cpu_count()
    assert 0 < ratio <= 1.0 / ncpu * 1.1
    # Over roughly the same three seconds, within a third of psutil's figure.
    assert ratio * ncpu * 100 == pytest.approx(pct, rel=0.35), (ratio, pct)
    # The group's oldest start time is psutil's create_time.
    assert value(v, "process_oldest_start_time_seconds", "vt-busy") == pytest.approx(p.create_time(), abs=0.01)

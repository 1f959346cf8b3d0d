"""The taskstats listener's cost at RATE (1,000) exits a second, beside its floor.

Starts vitals (processes collector alone, 1 s interval, exit records on) and
bench/taskstats_floor.c (a socket registered the same way that receives the records and does
nothing else), then forks RATE short-lived processes a second for SECONDS (30) with
bench/fork_rate.c. Reports the
CPU of vitals' `taskstats` thread (/proc/PID/task/TID/stat), of its `vitals-freed` thread
(the task-free ring of the teardown, drained every 250 ms) and of the eBPF program that fills
that ring (run_time_ns in the program's fdinfo, with kernel.bpf_stats_enabled set for the
run), of the whole daemon, and of the floor, as a share of one core, with the records each
received.

usage: python3 bench/exit_listener_cost.py [--seconds 30] [--rate 1000] [--vitals PATH]
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procstat import CLOCK_TICKS, cpu_ticks, free_port  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
OTHERS = ("cpu", "memory", "sensors", "battery", "host", "users", "filesystem", "disk", "network",
          "interfaces", "connections")


def thread_ticks(pid, name):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            s = f.read()
        if s[s.index("(") + 1:s.rindex(")")] == name:
            fields = s[s.rindex(")") + 2:].split()
            return int(fields[11]) + int(fields[12])
    raise KeyError(name)


def prog_stats(pid):
    """(run_cnt, run_time_ns) of the daemon's eBPF programs (needs kernel.bpf_stats_enabled),
    None when it has none."""
    found = None
    for fd in pathlib.Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            info = dict(l.split(":", 1) for l in fd.read_text().splitlines() if ":" in l)
        except OSError:
            continue
        if "prog_type" in info and "run_cnt" in info:
            cnt, ns = int(info["run_cnt"]), int(info["run_time_ns"])
            found = (found[0] + cnt, found[1] + ns) if found else (cnt, ns)
    return found


def records(url):
    for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
        if line.startswith("vitals_process_exit_records_total "):
            return float(line.split()[1])
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--vitals", default=str(REPO / "target" / "release" / "vitals"))
    a = ap.parse_args()
    stats = pathlib.Path("/proc/sys/kernel/bpf_stats_enabled")
    stats_before = stats.read_text() if stats.exists() else None
    if stats_before is not None:
        stats.write_text("1")
    try:
        run(a)
    finally:
        if stats_before is not None:
            stats.write_text(stats_before)


def run(a):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="vitals-exit-cost-"))
    floor_bin = tmp / "taskstats_floor"
    subprocess.run(["cc", "-O2", "-o", str(floor_bin), str(REPO / "bench" / "taskstats_floor.c")], check=True)
    fork_bin = tmp / "fork_rate"
    subprocess.run(["cc", "-O2", "-o", str(fork_bin), str(REPO / "bench" / "fork_rate.c")], check=True)
    cfg = tmp / "vitals.toml"
    cfg.write_text("".join(f"[collectors.{c}]\nenabled = false\n" for c in OTHERS)
                   + '[collectors.processes]\ninterval = "1s"\ntimeout = "1s"\n')
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    vitals = subprocess.Popen([a.vitals, "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.time() + 15
        while True:
            try:
                records(url)
                break
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.1)
        time.sleep(2)
        floor = subprocess.Popen([str(floor_bin), str(a.seconds + 1)], stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        t0, d0, r0 = thread_ticks(vitals.pid, "taskstats"), cpu_ticks(vitals.pid), records(url)
        f0, b0 = thread_ticks(vitals.pid, "vitals-freed"), prog_stats(vitals.pid)
        forks = subprocess.run([str(fork_bin), str(a.seconds), str(a.rate)], check=True,
                               capture_output=True, text=True).stdout.split()
        n, elapsed = int(forks[0]), float(forks[1])
        time.sleep(1.5)
        t1, d1, r1 = thread_ticks(vitals.pid, "taskstats"), cpu_ticks(vitals.pid), records(url)
        f1, b1 = thread_ticks(vitals.pid, "vitals-freed"), prog_stats(vitals.pid)
        floor_records, floor_cpu = floor.communicate()[0].split()
    finally:
        vitals.terminate()
        vitals.wait()
    floor_share = float(floor_cpu) / (a.seconds + 1)
    print(f"{n} exits in {elapsed:.1f} s ({n / elapsed:.0f}/s)")
    print(f"vitals taskstats thread: {(t1 - t0) / CLOCK_TICKS:.2f} s CPU = "
          f"{100 * (t1 - t0) / CLOCK_TICKS / elapsed:.2f}% of a core, {r1 - r0:.0f} records")
    print(f"vitals-freed thread:     {(f1 - f0) / CLOCK_TICKS:.2f} s CPU = "
          f"{100 * (f1 - f0) / CLOCK_TICKS / elapsed:.2f}% of a core")
    if b0 is not None and b1 is not None:
        runs, ns = b1[0] - b0[0], b1[1] - b0[1]
        print(f"eBPF program (kernel):   {ns / 1e9:.4f} s CPU = {100 * ns / 1e9 / elapsed:.3f}% of a core, "
              f"{runs} tasks freed, {ns / max(runs, 1):.0f} ns each")
    print(f"vitals whole daemon:     {(d1 - d0) / CLOCK_TICKS:.2f} s CPU = "
          f"{100 * (d1 - d0) / CLOCK_TICKS / elapsed:.2f}% of a core (1 s ticks of the processes collector)")
    print(f"floor (recv only):       {float(floor_cpu):.2f} s CPU = {100 * floor_share:.2f}% of a core, "
          f"{floor_records} records")


if __name__ == "__main__":
    main()

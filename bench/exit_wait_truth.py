"""The churn's own tree against the truth: bench/exit_churn.py run under os.wait4, whose
rusage is the churn's CPU with everything it waited for (its children's whole lives,
teardown included), beside what vitals' groups gained over the same window.

Use it with the waiting patterns (wait, the default); the groups also hold this script's own
CPU (printed, and taken out of the "python" group's figure) and whatever else the machine
ran (printed per group).

usage: python3 bench/exit_wait_truth.py [VITALS_BINARY [SECONDS [PATTERN,...]]]
(as root; vitals runs only the processes collector at 1 s, exit_records = true;
needs prometheus_client: the venv of tests/python/requirements.txt)
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exit_conservation as ec  # noqa: E402
from procstat import free_port  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def by_group(v):
    out = {}
    for (name, labels), x in v.items():
        if name == "process_cpu_time_seconds_total":
            g = dict(labels).get("process_group", "?")
            out[g] = out.get(g, 0.0) + x
    return out


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "target" / "release" / "vitals")
    seconds = sys.argv[2] if len(sys.argv) > 2 else "20"
    patterns = sys.argv[3] if len(sys.argv) > 3 else "wait"
    cfg = pathlib.Path(tempfile.mkdtemp(prefix="vitals-wait-truth-")) / "vitals.toml"
    cfg.write_text("".join(f"[collectors.{c}]\nenabled = false\n" for c in ec.OTHERS)
                   + '[collectors.processes]\ninterval = "1s"\ntimeout = "1s"\nexit_records = true\n')
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    daemon = subprocess.Popen([binary, "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ec.wait_ready(url)
        time.sleep(3)
        v0, k0 = ec.vitals_tick(url)
        me0 = os.times()
        churn = subprocess.Popen([sys.executable, str(REPO / "bench" / "exit_churn.py"), seconds, "200",
                                  patterns], stdout=subprocess.DEVNULL)
        _, _, ru = os.wait4(churn.pid, 0)
        time.sleep(3)  # the last records and the tails they leave: two 1 s ticks
        v1, k1 = ec.vitals_tick(url)
        me1 = os.times()
    finally:
        daemon.terminate()
        daemon.wait()
    g0, g1 = by_group(v0), by_group(v1)
    gained = {g: g1[g] - g0.get(g, 0.0) for g in g1}
    for g, x in sorted(gained.items()):
        if x > 0.05:
            print(f"{g:30} {x:8.2f} s")
    me = (me1.user + me1.system) - (me0.user + me0.system)
    truth = ru.ru_utime + ru.ru_stime
    tree = gained.get("python", 0.0) + gained.get("sh", 0.0) + gained.get("timeout", 0.0) - me
    print(f"all groups {sum(gained.values()):.2f} s, cpuacct {k1[0] - k0[0]:.2f} s, /proc/stat {k1[1] - k0[1]:.2f} s")
    print(f"this script {me:.2f} s; the churn's tree by vitals (python + sh + timeout groups, less this "
          f"script) {tree:.2f} s against its rusage {truth:.2f} s: {tree / truth:.4f}")


if __name__ == "__main__":
    main()

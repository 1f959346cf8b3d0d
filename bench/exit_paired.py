"""Two vitals builds side by side under the same churn: the conservation ratio of each
against the same kernel figures, to see what a change to the exit accounting does without
the run-to-run noise of bench/exit_conservation.py (which runs one after the other).

usage: python3 bench/exit_paired.py NEW_BINARY OLD_BINARY [SECONDS [PATTERN,...]]
(as root; each daemon runs only the processes collector at 1 s, exit_records = true;
PATTERN: the patterns of bench/exit_churn.py, all by default)
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


def total(v, mode=None):
    return sum(x for (n, labels), x in v.items() if n == "process_cpu_time_seconds_total"
               and (mode is None or dict(labels).get("cpu_mode") == mode))


def main():
    new, old = sys.argv[1], sys.argv[2]
    seconds = sys.argv[3] if len(sys.argv) > 3 else "60"
    patterns = sys.argv[4:5]
    cfg = pathlib.Path(tempfile.mkdtemp(prefix="vitals-paired-")) / "vitals.toml"
    cfg.write_text("".join(f"[collectors.{c}]\nenabled = false\n" for c in ec.OTHERS)
                   + '[collectors.processes]\ninterval = "1s"\ntimeout = "1s"\nexit_records = true\n')
    daemons, urls = [], []
    try:
        for binary in (new, old):
            port = free_port()
            daemons.append(subprocess.Popen([binary, "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}/metrics")
        for url in urls:
            ec.wait_ready(url)
        time.sleep(3)
        before = [ec.vitals_tick(u) for u in urls]
        churn = subprocess.run([sys.executable, str(REPO / "bench" / "exit_churn.py"), seconds, "200", *patterns],
                               capture_output=True, text=True, check=True)
        time.sleep(3)  # two 1 s ticks: the last records and the tails they leave
        after = [ec.vitals_tick(u) for u in urls]
    finally:
        for d in daemons:
            d.terminate()
            d.wait()
    for name, (v0, k0), (v1, k1) in zip(("new", "old"), before, after):
        groups, acct = total(v1) - total(v0), k1[0] - k0[0]
        print(f"{name} started {churn.stdout.strip()} groups {groups:.2f} s "
              f"(system {total(v1, 'system') - total(v0, 'system'):.2f}) cpuacct {acct:.2f} s ratio {groups / acct:.4f}")


if __name__ == "__main__":
    main()

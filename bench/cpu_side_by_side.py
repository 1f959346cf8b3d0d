"""Several vitals builds started together with the `vitals` row's config of bench/compare.py
(cpu and memory at 1 s), each scraped once a second, and their CPU (utime + stime of
/proc/PID/stat), minor faults and RSS over WINDOW seconds after the first SETTLE seconds:
differences of a few clock ticks a minute that one compare.py run cannot separate.

usage: python3 bench/cpu_side_by_side.py NAME=BINARY [NAME=BINARY ...] [--window 240] [--settle 70]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procstat import CLOCK_TICKS, free_port  # noqa: E402

OFF = ("sensors", "battery", "host", "users", "filesystem", "disk", "network", "interfaces",
       "connections", "processes", "cgroups", "pressure")


def stat(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12]), int(f[7])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="+", help="NAME=BINARY")
    ap.add_argument("--window", type=float, default=240)
    ap.add_argument("--settle", type=float, default=70,
                    help="seconds before the window (the startup pages are released at 5 and 60 s)")
    a = ap.parse_args()
    cfg = os.path.join(tempfile.mkdtemp(prefix="vitals-cpu-"), "vitals.toml")
    with open(cfg, "w") as f:
        f.write("".join(f"[collectors.{c}]\nenabled = false\n" for c in OFF)
                + "".join(f'[collectors.{c}]\ninterval = "1s"\ntimeout = "1s"\n' for c in ("cpu", "memory")))
    runs = []
    try:
        for b in a.builds:
            name, binary = b.split("=", 1)
            port = free_port()
            p = subprocess.Popen([binary, "--config", cfg, "--listen", f"127.0.0.1:{port}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            runs.append((name, p, f"http://127.0.0.1:{port}/metrics"))

        def scrape_for(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                t = time.monotonic()
                for _, p, url in runs:
                    if p.poll() is not None:
                        raise SystemExit(f"{p.args[0]} exited with {p.returncode}")
                    try:
                        urllib.request.urlopen(url, timeout=2).read()
                    except OSError:
                        pass
                time.sleep(max(0.0, 1 - (time.monotonic() - t)))

        scrape_for(a.settle)
        before = {name: stat(p.pid) for name, p, _ in runs}
        scrape_for(a.window)
        for name, p, _ in runs:
            cpu, minflt = stat(p.pid)
            rss = next(int(line.split()[1]) for line in open(f"/proc/{p.pid}/status") if line.startswith("VmRSS"))
            ticks = cpu - before[name][0]
            print(f"{name:16} CPU {ticks * 1000 / CLOCK_TICKS / a.window:.2f} ms/s ({ticks} ticks)  "
                  f"minflt {minflt - before[name][1]}  RSS {rss / 1024:.1f} MiB")
        print(f"window {a.window:.0f} s after {a.settle:.0f} s; one tick is "
              f"{1000 / CLOCK_TICKS / a.window:.3f} ms/s")
    finally:
        for _, p, _ in runs:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()

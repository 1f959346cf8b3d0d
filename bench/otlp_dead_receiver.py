#!/usr/bin/env python3
"""OTLP with the receiver dead: vitals pushes every second to a loopback port nobody listens
on, for MINUTES (default 10). Reports RSS after the first minute and at the end, the failed
exports counted, and how many log lines the failures produced (one per state change is the
target, not one per push). Not part of CI: run it by hand.

    python3 bench/otlp_dead_receiver.py [--minutes 10] [--bin target/release/vitals]
"""
import argparse
import pathlib
import subprocess
import tempfile
import time
import urllib.request

from procstat import free_port, status_kib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--bin", default="target/release/vitals")
    args = ap.parse_args()
    dead, http = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = pathlib.Path(tmp) / "vitals.toml"
        cfg.write_text(f'[server]\nlisten = "127.0.0.1:{http}"\n'
                       f'[otlp]\nenabled = true\nendpoint = "http://127.0.0.1:{dead}"\n'
                       'interval = "1s"\ntimeout = "1s"\n')
        log = pathlib.Path(tmp) / "log"
        with open(log, "w") as err:
            proc = subprocess.Popen([args.bin, "--config", str(cfg)], stdout=subprocess.DEVNULL, stderr=err)
            try:
                time.sleep(60)
                first = status_kib(proc.pid, "VmRSS")
                time.sleep(max(0, args.minutes * 60 - 60))
                last = status_kib(proc.pid, "VmRSS")
                body = urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5).read().decode()
            finally:
                proc.terminate()
                proc.wait(10)
        failed = next(l for l in body.splitlines() if l.startswith('vitals_otlp_exports_total{outcome="failure"}'))
        lines = [l for l in log.read_text().splitlines() if "OTLP" in l]
    print(f"minutes={args.minutes} rss_after_1min={first} KiB rss_end={last} KiB growth={last - first} KiB")
    print(failed)
    print(f"OTLP log lines: {len(lines)}")
    for l in lines:
        print("  " + l[:200])


if __name__ == "__main__":
    main()

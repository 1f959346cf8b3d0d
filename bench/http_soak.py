#!/usr/bin/env python3
"""/metrics under sustained load: CLIENTS keep-alive clients (default 64) scrape with gzip for
MINUTES (default 5). Prints vitals' RSS every 30 s, its CPU per request, and its RSS a few
seconds after the load stops (after a heap trim, src/malloc.rs). A leak shows as RSS that
keeps rising and stays up once the clients are gone. Not part of CI: run it by hand.

    python3 bench/http_soak.py [--minutes 5] [--clients 64] [--bin target/release/vitals]

Any NAME=VALUE arguments go into vitals' environment, e.g. MALLOC_ARENA_MAX=16 to compare
with glibc's default arena count.
"""
import argparse
import http.client
import os
import pathlib
import subprocess
import tempfile
import threading
import time

from procstat import cpu_seconds, free_port, status_kib

CONFIG = """[server]
listen = "127.0.0.1:{port}"
[collectors.cpu]
interval = "1s"
timeout = "1s"
[collectors.memory]
interval = "1s"
timeout = "1s"
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--bin", default="target/release/vitals")
    ap.add_argument("env", nargs="*", metavar="NAME=VALUE")
    args = ap.parse_args()
    env = dict(os.environ)
    for kv in args.env:
        name, _, value = kv.partition("=")
        env[name] = value
    port = free_port()
    lock = threading.Lock()
    stop = threading.Event()
    counts = {"ok": 0, "503": 0, "errors": 0}

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            try:
                conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
                r = conn.getresponse()
                r.read()
                key = "ok" if r.status == 200 else str(r.status)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                key = "errors"
            with lock:
                counts[key] = counts.get(key, 0) + 1
        conn.close()

    with tempfile.TemporaryDirectory() as tmp:
        cfg = pathlib.Path(tmp) / "vitals.toml"
        cfg.write_text(CONFIG.format(port=port))
        proc = subprocess.Popen([args.bin, "--config", str(cfg)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(2)
            idle = status_kib(proc.pid, "VmRSS")
            cpu0 = cpu_seconds(proc.pid)
            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            for t in threads:
                t.start()
            print(f"idle RSS {idle} KiB; {args.clients} clients for {args.minutes:g} min")
            start = time.time()
            end = start + args.minutes * 60
            while time.time() < end:
                time.sleep(min(30, max(0, end - time.time())))
                with lock:
                    n = counts["ok"]
                print(f"{time.time() - start:6.0f} s  RSS {status_kib(proc.pid, 'VmRSS')} KiB  {n} × 200", flush=True)
            stop.set()
            for t in threads:
                t.join(15)
            cpu = cpu_seconds(proc.pid) - cpu0
            time.sleep(6)  # one heap trim after the connections closed
            after = status_kib(proc.pid, "VmRSS")
        finally:
            proc.terminate()
            proc.wait(10)
    total = sum(counts.values())
    print(f"requests {total} ({total / (args.minutes * 60):.0f}/s): {counts}")
    print(f"vitals CPU {cpu:.1f} s: {cpu / max(1, total) * 1e6:.0f} µs per request")
    print(f"RSS 6 s after the load: {after} KiB")


if __name__ == "__main__":
    main()

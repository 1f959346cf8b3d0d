#!/usr/bin/env python3
"""An OTLP receiver outage: vitals pushes every second to a real OTLP/HTTP receiver
(tests/python/otlp_receiver.py), which is stopped for MINUTES and started again. Reports what
arrived (every push, by the time of its self-metrics snapshot: missing and duplicated ones),
how long the backlog took to drain, and the bounds during the outage: RSS, the queue's bytes
and the directory's size, sampled every 5 s, and the drops by reason. Not part of CI (the
tests run a 20 s outage): run it by hand, with the venv of tests/python/requirements.txt.

    # issue 20's acceptance run: 10 minutes, nothing lost
    .venv/bin/python bench/otlp_outage.py --minutes 10 --max-bytes 8388608 --dir
    # the bound check: 30 minutes into a 1 MiB queue on disk
    .venv/bin/python bench/otlp_outage.py --minutes 30 --max-bytes 1048576 --dir
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.request

from procstat import free_port, status_kib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
from otlp_receiver import Receiver, identity  # noqa: E402


def scrape(http):
    """The vitals_otlp_ samples; {} when the daemon does not answer within 30 s (the machine
    stalled: a shared one did, for seconds, under memory pressure)."""
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=30).read().decode()
    except OSError as e:
        print(f"scrape failed: {e}", flush=True)
        return {}
    out = {}
    for line in body.splitlines():
        if line.startswith("vitals_otlp_"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


FULL = 'vitals_otlp_queue_dropped_total{reason="full"}'


def dir_bytes(path):
    return sum(f.stat().st_size for f in path.iterdir()) if path and path.exists() else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--max-bytes", type=int, default=8 << 20)
    ap.add_argument("--drain-rate", type=int, default=10)
    ap.add_argument("--dir", action="store_true", help="keep the queue in a directory")
    ap.add_argument("--bin", default="target/release/vitals")
    args = ap.parse_args()
    http = free_port()
    r = Receiver()
    port = r.port
    with tempfile.TemporaryDirectory() as tmp:
        qdir = pathlib.Path(tmp) / "queue" if args.dir else None
        cfg = pathlib.Path(tmp) / "vitals.toml"
        cfg.write_text(f'[server]\nlisten = "127.0.0.1:{http}"\n'
                       f'[otlp]\nenabled = true\nendpoint = "http://127.0.0.1:{port}"\n'
                       'interval = "1s"\ntimeout = "1s"\n'
                       f'[otlp.queue]\nmax_bytes = {args.max_bytes}\nmax_age = "24h"\n'
                       f'drain_rate = {args.drain_rate}\n'
                       + (f'dir = "{qdir}"\n' if qdir else ""))
        proc = subprocess.Popen([args.bin, "--config", str(cfg)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            r.wait(5, seconds=30)
            rss0 = status_kib(proc.pid, "VmRSS")
            r.close()
            before = list(r.received)
            down = time.time()
            samples = []
            while time.time() < down + args.minutes * 60:
                time.sleep(5)
                m = scrape(http)
                samples.append((status_kib(proc.pid, "VmRSS"), m.get("vitals_otlp_queue_size_bytes", 0),
                                dir_bytes(qdir), m.get("vitals_otlp_queue_requests", 0)))
                if len(samples) % 12 == 0:  # a line a minute, so that a cut run still tells
                    print(f"{time.time() - down:5.0f} s: RSS max {max(s[0] for s in samples)} KiB, queue "
                          f"bytes max {max(s[1] for s in samples):.0f}, directory max "
                          f"{max(s[2] for s in samples)}, written "
                          f"{m.get('vitals_otlp_queue_disk_written_bytes_total', 0):.0f}, dropped full "
                          f"{m.get(FULL, 0):.0f}", flush=True)
            r = Receiver(port=port)
            back = time.time()
            while scrape(http).get("vitals_otlp_queue_requests", 1) > 0:
                if time.time() > back + 3600:
                    break
                time.sleep(0.5)
            drained = time.time() - back
            time.sleep(3)
            final = scrape(http)
            rss_end = status_kib(proc.pid, "VmRSS")
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                print("vitals did not stop within 30 s of SIGTERM: killed", flush=True)
                proc.kill()
                proc.wait()
            r.close()
    got = [identity(x.request) for x in r.received]
    ids = sorted(set(got) | {identity(x.request) for x in before})
    missing = sum(max(0, round((b - a) / 1e9) - 1) for a, b in zip(ids, ids[1:]))
    # The backlog: collected during the outage, received after it; fresh: received within 2 s.
    backlog = [x for x in r.received if identity(x.request) / 1e9 < back]
    fresh = sorted(x.at for x in r.received if x.at - identity(x.request) / 1e9 <= 2 and x.at >= back)
    fresh = [t for t in fresh if t <= back + drained]
    first = min(got) / 1e9 - down if got else float("nan")
    # Pushes are 1 s apart: a longer gap is a push the producer made late (a loaded machine)
    # or one lost; by where the gap falls.
    late = {"before": [], "during": [], "after": []}
    for a, b in zip(ids, ids[1:]):
        if (b - a) / 1e9 >= 1.5:
            late["before" if b / 1e9 < down else "during" if b / 1e9 < back else "after"].append((b - a) / 1e9)
    print(f"outage={args.minutes} min max_bytes={args.max_bytes} dir={bool(qdir)} drain_rate={args.drain_rate}")
    print(f"received after the outage: {len(got)} requests, {len(set(got))} distinct pushes, "
          f"{len(got) - len(set(got))} duplicated; {missing} missing from the first push before the "
          f"outage to the last after it; the oldest received was collected {first:+.1f} s after the "
          f"receiver stopped")
    print("gaps of 1.5 s or more between pushes: " + "; ".join(
        f"{k} the outage {len(v)}" + (f" (longest {max(v):.1f} s)" if v else "") for k, v in late.items()))
    span = (max(x.at for x in backlog) - min(x.at for x in backlog)) if len(backlog) > 1 else 0
    print(f"backlog drained in {drained:.1f} s: {len(backlog)} requests, "
          f"{len(backlog) / span if span else float('nan'):.2f}/s; fresh pushes during the drain: "
          f"{len(fresh)}, largest gap between them "
          f"{max((b - a for a, b in zip(fresh, fresh[1:])), default=float('nan')):.2f} s")
    print(f"RSS: {rss0} KiB before the outage, max {max(s[0] for s in samples)} KiB during, {rss_end} KiB after")
    print(f"queue bytes max {max(s[1] for s in samples):.0f} (bound {args.max_bytes}); "
          f"directory max {max(s[2] for s in samples)} bytes; queued max {max(s[3] for s in samples):.0f}; "
          f"a request {max(s[1] / s[3] for s in samples if s[3]):.0f} bytes at most on average (with 32 of framing)")
    for k, v in sorted(final.items()):
        if "dropped" in k or "disk" in k:
            print(f"  {k} {v:.0f}")
    print(f"cpu count {os.cpu_count()}; the machine may be shared: see docs/performance.md")


if __name__ == "__main__":
    main()

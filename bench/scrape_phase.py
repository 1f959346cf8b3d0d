#!/usr/bin/env python3
"""Where in the collection cycle the slow scrapes fall: bench/cgroups.py's p99 over 200
scrapes is their second-worst and moves by several ms between runs; this places each scrape
in the cgroups collector's cycle instead.

vitals runs the cgroups collector alone (as bench/cgroups.py does) over 1,000 cgroups, either
a generated fixture tree (every controller's files) or, with --live, cgroups made in this
machine's v2 hierarchy (needs root). Scrapes every 100 ms for --seconds; for each, its
latency and how long after the collector's last publish (its
vitals_collector_last_success_timestamp_seconds, read from the body) it started. Prints the
slowest scrapes with that offset and the collection's duration, then p50 and p99. A scrape
that starts between (interval - duration) and the interval after a publish overlapped a
collection.

usage: bench/scrape_phase.py [--vitals target/release/vitals] [--seconds 30]
       [--interval 1s|1h] [--live] [-n 1000]
(--interval 1h: one collection at start, then idle: the same series with no collection.)
"""
import argparse
import os
import pathlib
import re
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))
import cgroups as cb  # noqa: E402
from make_cgroup_fixtures import cgroup  # noqa: E402

LAST = re.compile(rb'vitals_collector_last_success_timestamp_seconds\{collector="cgroups"\} (\S+)')
TOOK = re.compile(rb'vitals_collector_duration_seconds\{collector="cgroups"\} (\S+)')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitals", default=str(HERE.parent / "target" / "release" / "vitals"))
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--interval", default="1s")
    ap.add_argument("--live", action="store_true")
    ap.add_argument("-n", type=int, default=1000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vitals-scrape-phase-")
    made = None
    if a.live:
        top = next((t for t in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")
                    if os.path.isfile(f"{t}/cgroup.controllers")), None)
        if top is None:
            sys.exit("no cgroup v2 hierarchy")
        made = pathlib.Path(top) / f"vitals-phase-{os.getpid()}.slice"
        made.mkdir()
        for i in range(a.n):
            (made / f"b{i:04}.service").mkdir()
        sysfs = "/sys"
    else:
        sysfs = pathlib.Path(tmp) / "sys"
        ftop = sysfs / "fs/cgroup"
        ftop.mkdir(parents=True)
        (ftop / "cgroup.controllers").write_text("cpu io memory pids\n")
        for i in range(a.n):
            cgroup(ftop, f"bench.slice/b{i:04}.service", cpu_max=50000, memory_max=1 << 30)
    proc, url = cb.start(a.vitals, tmp, sysfs, interval=a.interval)
    rows = []
    try:
        cb.wait_series(url, a.n)
        end = time.monotonic() + a.seconds
        while time.monotonic() < end:
            t, wall = time.monotonic(), time.time()
            body = cb.get(url)
            took = time.monotonic() - t
            last, dur = LAST.search(body), TOOK.search(body)
            rows.append((took, wall - float(last.group(1)) if last else float("nan"),
                         float(dur.group(1)) if dur else float("nan")))
            time.sleep(max(0.0, 0.1 - took))
    finally:
        proc.terminate()
        proc.wait()
        if made is not None:
            for d in made.glob("*.service"):
                d.rmdir()
            made.rmdir()
    for took, after, dur in sorted(rows, reverse=True)[:8]:
        print(f"{took * 1e3:7.2f} ms, started {after * 1e3:8.1f} ms after the last publish "
              f"(collection {dur * 1e3:.1f} ms)")
    lat = sorted(r[0] for r in rows)
    print(f"{len(lat)} scrapes: p50 {lat[len(lat) // 2] * 1e3:.2f} ms, "
          f"p99 {lat[int(len(lat) * 0.99)] * 1e3:.2f} ms "
          f"({'live' if a.live else 'fixture'} tree, interval {a.interval})")


if __name__ == "__main__":
    main()

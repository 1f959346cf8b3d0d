#!/usr/bin/env python3
"""The cgroups collector's cost with 1,000 cgroups, side by side with the floor, in one run.

Two trees of 1,000 services each (`b0000.service` ... under one slice):
  live     created in this machine's cgroup v2 hierarchy (needs root; on a hybrid host the
           unified hierarchy has no controllers: cpu.stat, cgroup.procs and *.pressure only)
  fixture  generated with every file of cpu, memory, io and pids (scripts/make_cgroup_fixtures.py's
           cgroup()), read through --sysfs

For each, vitals runs the cgroups collector alone at a 1 s interval (max_cgroups = 2000):
  vitals ms/tick   utime+stime of the daemon (/proc/PID/stat) over -w seconds with no scrape
                   (so no encoding either) / ticks: the collector's own cost
  floor ms/cycle   bench/cgroup_floor.c: walk the same tree and open, read, close the same
                   files with no parsing (getrusage), run right after
  /metrics p50/p99 scrapes once every 100 ms over -w seconds while the collector ticks; the
                   same with the cgroups collector off (no container series), and with the
                   same series but the collector idle (interval 1h: one collection at start,
                   scraped as long as the ticking one), which isolates what a running
                   collection does to scrapes from the size of the body
  RSS growth       VmRSS of vitals after the collector-only window and after the scrapes,
                   minus VmRSS before the 1,000 cgroups existed

CPU time, not wall time, so that other work on the machine slows but does not inflate the
figures. usage: bench/cgroups.py [--vitals target/release/vitals] [-n 1000] [-w 20]
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from procstat import cpu_seconds, free_port, status_kib

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "scripts"))
from make_cgroup_fixtures import cgroup  # noqa: E402

OFF = ("cpu", "memory", "sensors", "battery", "host", "users", "processes", "filesystem", "disk",
       "network", "interfaces", "connections", "pressure")


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def start(binary, tmp, sysfs, cgroups_on=True, interval="1s"):
    name = f"vitals-{cgroups_on}-{interval}"
    cfg = pathlib.Path(tmp) / f"{name}.toml"
    text = "".join(f"[collectors.{c}]\nenabled = false\n" for c in OFF)
    text += (f'[collectors.cgroups]\ninterval = "{interval}"\ntimeout = "1s"\nmax_cgroups = 2000\n'
             f"enabled = {'true' if cgroups_on else 'false'}\n")
    cfg.write_text(text)
    port = free_port()
    log = open(pathlib.Path(tmp) / f"{name}.log", "w")
    p = subprocess.Popen([binary, "--config", str(cfg), "--listen", f"127.0.0.1:{port}",
                          "--sysfs", str(sysfs)], stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/metrics"
    end = time.time() + 30
    while time.time() < end:
        try:
            get(url)
            return p, url
        except OSError:
            time.sleep(0.1)
    sys.exit("vitals did not start: " + (pathlib.Path(tmp) / f"{name}.log").read_text()[-2000:])


def series(url):
    body = get(url)
    return sum(1 for l in body.decode().splitlines() if l.startswith("container_")), len(body)


def wait_series(url, n):
    """Until the exposition holds n cgroups' CPU series (or 60 s)."""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if get(url).decode().count("container_cpu_time_seconds_total{") >= n:
            return
        time.sleep(0.2)
    sys.exit(f"vitals did not export {n} cgroups within 60 s")


def scrape_latencies(url, seconds):
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        get(url)
        out.append(time.monotonic() - t)
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t)))
    out.sort()
    return out[len(out) // 2] * 1e3, out[int(len(out) * 0.99)] * 1e3


def measure(binary, tmp, sysfs, root, make, remove, window, floor, n):
    baseline, burl = start(binary, tmp, sysfs, cgroups_on=False)
    base_p50, base_p99 = scrape_latencies(burl, window / 2)
    baseline.terminate()
    baseline.wait()
    vitals, url = start(binary, tmp, sysfs)
    idle = None
    try:
        # After the daemon's first release of its startup pages (src/pages.rs, at 5 s), so
        # that the growth is the cgroups' and not hidden by the release.
        time.sleep(7)
        rss0 = status_kib(vitals.pid, "VmRSS") / 1024
        make()
        wait_series(url, n)
        time.sleep(2)
        # The collector alone: no scrape during the window, so no encoding either.
        c0, t0 = cpu_seconds(vitals.pid), time.monotonic()
        time.sleep(window)
        cpu, wall = cpu_seconds(vitals.pid) - c0, time.monotonic() - t0
        rss_collect = status_kib(vitals.pid, "VmRSS") / 1024
        # Scrapes every 100 ms while the collector ticks every second.
        p50, p99 = scrape_latencies(url, window)
        rss1 = status_kib(vitals.pid, "VmRSS") / 1024
        nseries, body = series(url)
        vitals.terminate()
        vitals.wait()
        # The same series with the collector idle: one collection at start, none after.
        idle, iurl = start(binary, tmp, sysfs, interval="1h")
        wait_series(iurl, n)
        # As long as the ticking window: p99s over the same number of scrapes.
        idle_p50, idle_p99 = scrape_latencies(iurl, window)
        fl = float(subprocess.run([floor, "20", str(root)], capture_output=True, text=True,
                                  check=True).stdout)
    finally:
        for p in (vitals, idle):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait()
        remove()
    ms = cpu * 1000 / round(wall)
    return dict(vitals_ms=round(ms, 2), floor_ms=round(fl, 2), vs_floor=round(ms / fl, 2),
                p50_ms=round(p50, 2), p99_ms=round(p99, 2), base_p50_ms=round(base_p50, 2),
                base_p99_ms=round(base_p99, 2), idle_p50_ms=round(idle_p50, 2),
                idle_p99_ms=round(idle_p99, 2), rss0_mib=round(rss0, 2),
                rss_collect_mib=round(rss_collect - rss0, 2),
                rss_growth_mib=round(rss1 - rss0, 2), series=nseries, body_kib=body // 1024,
                load=float(open("/proc/loadavg").read().split()[0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitals", default=str(REPO / "target" / "release" / "vitals"))
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("-w", "--window", type=int, default=20)
    ap.add_argument("--trees", default="live,fixture")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vitals-bench-cgroups-")
    floor = os.path.join(tmp, "cgroup_floor")
    subprocess.run(["cc", "-O2", "-o", floor, str(HERE / "cgroup_floor.c")], check=True)
    rows = {}
    try:
        # Live: the machine's v2 hierarchy.
        for top in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            if os.path.isfile(f"{top}/cgroup.controllers"):
                break
        else:
            sys.exit("no cgroup v2 hierarchy")
        sl = pathlib.Path(top) / f"vitals-bench-{os.getpid()}.slice"

        def make_live():
            sl.mkdir()
            for i in range(a.n):
                (sl / f"b{i:04}.service").mkdir()

        def remove_live():
            for d in sl.glob("*.service"):
                d.rmdir()
            if sl.exists():
                sl.rmdir()

        sysfs = "/sys"
        if "live" in a.trees:
            rows["live"] = measure(a.vitals, tmp, sysfs, sl, make_live, remove_live, a.window, floor, a.n)
            print(json.dumps({"live": rows["live"]}), flush=True)

        # Fixture: every file of every controller.
        fsys = pathlib.Path(tmp) / "sys"
        ftop = fsys / "fs/cgroup"
        ftop.mkdir(parents=True)
        (ftop / "cgroup.controllers").write_text("cpu io memory pids\n")

        def make_fixture():
            for i in range(a.n):
                cgroup(ftop, f"bench.slice/b{i:04}.service", cpu_max=50000, memory_max=1 << 30)

        rows["fixture"] = measure(a.vitals, tmp, fsys, ftop / "bench.slice", make_fixture,
                                  lambda: None, a.window, floor, a.n)
        print(json.dumps({"fixture": rows["fixture"]}), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{a.n} cgroups; {os.cpu_count()} CPUs; window {a.window} s\n")
    print("| tree | series | body KiB | vitals ms/tick | floor ms/cycle | vitals/floor "
          "| /metrics p50 / p99 ms: collector off | same series, collector idle "
          "| collector ticking | RSS growth MiB: collecting / after scrapes | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['series']} | {r['body_kib']} | {r['vitals_ms']} | {r['floor_ms']} "
              f"| {r['vs_floor']} | {r['base_p50_ms']} / {r['base_p99_ms']} "
              f"| {r['idle_p50_ms']} / {r['idle_p99_ms']} | {r['p50_ms']} / {r['p99_ms']} "
              f"| {r['rss_collect_mib']} / {r['rss_growth_mib']} | {r['load']} |")
    print("command: " + " ".join(["python3", "bench/cgroups.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()

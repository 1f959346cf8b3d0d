#!/usr/bin/env python3
"""The processes collector's cost at 2,000 and 10,000 extra processes, in one run.

Starts three vitals (the processes collector alone, 1 s interval, one group per name):
groups-only (top_n = 0), the default config (top_n = 5: per-process series for the top 5
by CPU, RSS and disk I/O), pinned (default plus a per_process = true rule on the
sleepers: max_processes = 100 processes with per-process series) and sockets (default plus
sockets = true: socket owners by one readlink per descriptor), and
process-exporter (Debian's prometheus-process-exporter, one group per comm, -threads=false,
-gather-smaps=false), then for each count of extra sleeping processes (bench/sleepers.c,
forked from one parent, all named vt-sleeper) measures, one after the other (the vitals variants in turns, --rounds slices each):

  vitals           CPU per tick: utime+stime of the daemon (/proc/PID/stat) over -w seconds
                   of 1 s ticks, scraped once a second, divided by the ticks (groups-only;
                   default and pinned the same way, one after the other)
  process-exporter CPU per scrape: the same, scraped once a second (it reads /proc on
                   each scrape), divided by the scrapes
  floor            CPU per cycle of bench/proc_floor.c: open, read and close stat, status
                   and io and list fd/ of every pid, with no parsing (getrusage)
  RSS              vitals' VmRSS, before any extra process and at each count

CPU time, not wall time, so that other work on the machine slows but does not inflate the
figures; the load average is printed too. Needs root only to install process-exporter
(--no-install: stop instead).

usage: bench/processes.py [--vitals target/release/vitals] [--counts 2000,10000] [-w 30]
                          [--rounds 3] [--no-process-exporter]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from procstat import cpu_seconds, free_port, status_kib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PE = "prometheus-process-exporter"

OFF = ("cpu", "memory", "sensors", "battery", "host", "users", "filesystem", "disk", "network",
       "interfaces", "connections")


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def wait_up(url, proc, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            sys.exit(f"exited early: {proc.args}")
        try:
            get(url)
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"no answer from {url}")


def pids():
    return sum(1 for n in os.listdir("/proc") if n.isdigit())


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cc(src, out):
    subprocess.run(["cc", "-O2", "-o", out, os.path.join(HERE, src)], check=True)
    return out


def measure(proc, url, window):
    """CPU seconds of `proc` over `window` one-second scrapes, and the wall time."""
    get(url)
    c0, t0 = cpu_seconds(proc.pid), time.monotonic()
    for i in range(window):
        get(url)
        time.sleep(max(0.0, t0 + i + 1 - time.monotonic()))
    return cpu_seconds(proc.pid) - c0, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitals", default=os.path.join(REPO, "target", "release", "vitals"))
    ap.add_argument("--counts", default="2000,10000")
    ap.add_argument("-w", "--window", type=int, default=30, help="seconds measured per daemon and count")
    ap.add_argument("--rounds", type=int, default=3, help="turns the vitals variants take within the window")
    ap.add_argument("--floor-cycles", type=int, default=20)
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-process-exporter", action="store_true", help="measure vitals alone")
    a = ap.parse_args()
    counts = [int(c) for c in a.counts.split(",")]

    with_pe = not a.no_process_exporter
    if with_pe and not shutil.which(PE):
        if a.no_install:
            sys.exit(f"{PE} is not installed")
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", PE], check=True)
    tmp = tempfile.mkdtemp(prefix="vitals-bench-")
    floor = cc("proc_floor.c", os.path.join(tmp, "proc_floor"))
    sleepers_bin = cc("sleepers.c", os.path.join(tmp, "sleepers"))

    variants = {
        "groups": "top_n = 0\n",
        "default": "",
        "pinned": '[[collectors.processes.group]]\nname = "pinned"\ncomm = ["vt-sleeper"]\nper_process = true\n',
        "sockets": "sockets = true\n",
    }
    cfgs = {}
    for name, extra in variants.items():
        cfgs[name] = os.path.join(tmp, f"vitals-{name}.toml")
        with open(cfgs[name], "w") as f:
            f.write("".join(f"[collectors.{c}]\nenabled = false\n" for c in OFF))
            f.write('[collectors.processes]\ninterval = "1s"\ntimeout = "1s"\n' + extra)
    pcfg = os.path.join(tmp, "process-exporter.yml")
    with open(pcfg, "w") as f:
        f.write('process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".*"]\n')
    daemons = {}
    for name, cfg in cfgs.items():
        port = free_port()
        daemons[name] = (subprocess.Popen([a.vitals, "--config", cfg, "--listen", f"127.0.0.1:{port}"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                         f"http://127.0.0.1:{port}/metrics")
    vitals, vurl = daemons["groups"]
    pe, purl = None, None
    if with_pe:
        pport = free_port()
        pe = subprocess.Popen([PE, f"-web.listen-address=127.0.0.1:{pport}", f"-config.path={pcfg}",
                               "-threads=false", "-gather-smaps=false"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        purl = f"http://127.0.0.1:{pport}/metrics"
    sleepers = None
    rows = []
    try:
        for proc, url in daemons.values():
            wait_up(url, proc)
        if pe:
            wait_up(purl, pe)
        time.sleep(3)
        rss0, base = status_kib(vitals.pid, "VmRSS") / 1024, pids()
        have = 0
        for n in counts:
            if sleepers:
                os.killpg(sleepers.pid, signal.SIGKILL)
                sleepers.wait()
                time.sleep(2)
            sleepers = subprocess.Popen([sleepers_bin, str(n)], stdout=subprocess.PIPE, text=True,
                                        start_new_session=True)
            if sleepers.stdout.readline().strip() != "ready":
                sys.exit("sleepers did not start")
            have = n
            time.sleep(5)  # let both see the new processes once before measuring
            total = pids()
            load = loadavg()
            # The vitals variants take turns, a.rounds slices of the window each, so that
            # the machine's load moving under the run falls on all of them alike.
            spent = {k: [0.0, 0.0] for k in daemons}
            for _ in range(a.rounds):
                for k, (proc, url) in daemons.items():
                    c, w = measure(proc, url, max(1, a.window // a.rounds))
                    spent[k][0] += c
                    spent[k][1] += round(w)
            (vcpu, vwall), (dcpu, dwall), (ncpu, nwall), (scpu, swall) = (
                spent[k] for k in ("groups", "default", "pinned", "sockets"))
            pcpu = measure(pe, purl, a.window)[0] if pe else float("nan")
            fl = subprocess.run([floor, str(a.floor_cycles)], capture_output=True, text=True, check=True)
            floor_ms = float(fl.stdout)
            v_ms = vcpu * 1000 / round(vwall)
            p_ms = pcpu * 1000 / a.window
            d_ms = dcpu * 1000 / round(dwall)
            n_ms = ncpu * 1000 / round(nwall)
            s_ms = scpu * 1000 / round(swall)
            rows.append(dict(extra=have, pids=total, load=load, vitals_ms=round(v_ms, 2),
                             default_ms=round(d_ms, 2), default_vs_groups=round(d_ms / v_ms, 3),
                             pinned_ms=round(n_ms, 2), pinned_vs_groups=round(n_ms / v_ms, 3),
                             sockets_ms=round(s_ms, 2), sockets_vs_groups=round(s_ms / v_ms, 3),
                             vitals_us_per_process=round(v_ms * 1000 / total, 2),
                             process_exporter_ms=round(p_ms, 2), floor_ms=round(floor_ms, 2),
                             vs_process_exporter=round(v_ms / p_ms, 3), vs_floor=round(v_ms / floor_ms, 2),
                             rss_mib=round(status_kib(vitals.pid, "VmRSS") / 1024, 2), load_after=loadavg()))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        if sleepers:
            os.killpg(sleepers.pid, signal.SIGKILL)
            sleepers.wait()
        for p in [proc for proc, _ in daemons.values()] + ([pe] if pe else []):
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nbaseline: {base} pids, vitals RSS {rss0:.2f} MiB; {os.cpu_count()} CPUs; window {a.window} s\n")
    print("| extra processes | pids | load | vitals ms/tick | µs/process | process-exporter ms/scrape | "
          "vitals/p-e | floor ms | vitals/floor | vitals RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['extra']} | {r['pids']} | {r['load']:.2f}–{r['load_after']:.2f} | {r['vitals_ms']} | "
              f"{r['vitals_us_per_process']} | {r['process_exporter_ms']} | {r['vs_process_exporter']} | "
              f"{r['floor_ms']} | {r['vs_floor']} | {r['rss_mib']} |")
    print("\nPer-process series and socket owners (groups-only is top_n = 0; default top_n = 5; pinned")
    print("adds a per_process rule on the sleepers, 100 of them with per-process series; sockets is")
    print("the default plus sockets = true, one readlink per descriptor of every grouped process):\n")
    print("| extra processes | groups-only ms/tick | default ms/tick | default/groups | pinned ms/tick | "
          "pinned/groups | sockets ms/tick | sockets/groups |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['extra']} | {r['vitals_ms']} | {r['default_ms']} | {r['default_vs_groups']} | "
              f"{r['pinned_ms']} | {r['pinned_vs_groups']} | {r['sockets_ms']} | {r['sockets_vs_groups']} |")
    print(f"\nRSS growth from 0 to {rows[-1]['extra']} extra processes: {rows[-1]['rss_mib'] - rss0:.2f} MiB")
    print("command: " + " ".join(["python3", "bench/processes.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()

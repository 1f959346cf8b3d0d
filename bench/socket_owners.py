#!/usr/bin/env python3
"""The cost of socket owners: one walk of every process's /proc/<pid>/fd, side by side.

With N extra processes holding F descriptors each (bench/sleepers.c N F) and a TCP listener
with 5 established clients in this script, measures in one run, one after the other:

  floor        CPU per cycle of bench/fd_floor.c: list every fd directory and readlink each
               entry, nothing else (getrusage)
  ss -tanp     CPU per run of `ss -tanp` (every TCP socket with its owners), output to
               /dev/null (getrusage of the children)
  connections  vitals' connections collector alone at 1 s, listening = true, CPU per tick
               (utime+stime of the daemon over -w one-second ticks), with listening_owners
               off and on: the difference is the walk
  processes    vitals' processes collector alone at 1 s, with sockets off and on

and checks that vitals and ss name the same owner for the listener. CPU time, not wall time,
so that other work on the machine slows but does not inflate the figures.

usage: bench/socket_owners.py [--vitals target/release/vitals] [-n 2000] [--fds 50] [-w 20]
"""
import argparse
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from procstat import cpu_seconds, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OFF = ("cpu", "memory", "sensors", "battery", "host", "users", "filesystem", "disk", "network",
       "interfaces")


def cc(src, out):
    subprocess.run(["cc", "-O2", "-o", out, os.path.join(HERE, src)], check=True)
    return out


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read().decode()


def children_cpu_ms():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1e3


def ss_ms(runs):
    subprocess.run(["ss", "-tanp"], stdout=subprocess.DEVNULL, check=True)
    c0 = children_cpu_ms()
    for _ in range(runs):
        subprocess.run(["ss", "-tanp"], stdout=subprocess.DEVNULL, check=True)
    return (children_cpu_ms() - c0) / runs


def ss_owner(port):
    out = subprocess.run(["ss", "-tlnp", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    pids = re.findall(r"pid=(\d+)", out)
    return pids[-1] if pids else None


def vitals_ms(binary, tmp, collector, keys, window):
    """CPU milliseconds per 1 s tick of `collector` alone with `keys`, and the exposition."""
    cfg = os.path.join(tmp, "vitals.toml")
    off = [c for c in OFF + ("connections", "processes") if c != collector]
    with open(cfg, "w") as f:
        f.write("".join(f"[collectors.{c}]\nenabled = false\n" for c in off))
        f.write(f'[collectors.{collector}]\ninterval = "1s"\ntimeout = "1s"\n{keys}\n')
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    p = subprocess.Popen([binary, "--config", cfg, "--listen", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.time() + 30
        while True:
            try:
                get(url)
                break
            except OSError:
                assert time.time() < end and p.poll() is None, "vitals did not start"
                time.sleep(0.1)
        time.sleep(3)  # past the first ticks
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        time.sleep(window)
        cpu = cpu_seconds(p.pid) - c0
        ticks = time.monotonic() - t0
        return cpu / ticks * 1e3, get(url)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitals", default=os.path.join(REPO, "target", "release", "vitals"))
    ap.add_argument("-n", type=int, default=2000, help="extra processes")
    ap.add_argument("--fds", type=int, default=50, help="descriptors each extra process holds")
    ap.add_argument("-w", "--window", type=int, default=20, help="seconds measured per vitals run")
    ap.add_argument("--runs", type=int, default=10, help="ss runs and floor cycles")
    a = ap.parse_args()
    if not shutil.which("ss"):
        sys.exit("ss (iproute2) is not installed")
    tmp = tempfile.mkdtemp(prefix="vitals-bench-")
    floor = cc("fd_floor.c", os.path.join(tmp, "fd_floor"))
    sleepers = subprocess.Popen([cc("sleepers.c", os.path.join(tmp, "sleepers")), str(a.n), str(a.fds)],
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
    held = [listener.accept()[0] for _ in clients]
    try:
        if sleepers.stdout.readline().strip() != "ready":
            sys.exit("sleepers did not start")
        procs = sum(1 for n in os.listdir("/proc") if n.isdigit())
        out = subprocess.run([floor, str(a.runs)], capture_output=True, text=True, check=True).stdout.split()
        floor_ms, fds, socks = float(out[0]), int(out[1]), int(out[2])
        ss = ss_ms(a.runs)
        conn = 'listening = true\n'
        c_off, _ = vitals_ms(a.vitals, tmp, "connections", conn, a.window)
        c_on, text = vitals_ms(a.vitals, tmp, "connections", conn + "listening_owners = true", a.window)
        m = re.search(rf'system_network_listener_info{{[^}}]*network_local_port="{port}"[^}}]*process_pid="(\d+)"', text)
        vitals_owner = m.group(1) if m else None
        p_off, _ = vitals_ms(a.vitals, tmp, "processes", "", a.window)
        p_on, _ = vitals_ms(a.vitals, tmp, "processes", "sockets = true", a.window)
        load = open("/proc/loadavg").read().split()[0]
        print(f"{procs} processes, {fds} descriptors ({socks} sockets) walked; load average {load}")
        print(f"listener owner: vitals {vitals_owner}, ss {ss_owner(port)}, this script {os.getpid()}")
        print(f"{'':38}{'CPU ms':>10}")
        print(f"{'floor (fd_floor.c, one walk)':38}{floor_ms:10.1f}")
        print(f"{'ss -tanp (one run)':38}{ss:10.1f}")
        print(f"{'connections, listening_owners off':38}{c_off:10.1f}")
        print(f"{'connections, listening_owners on':38}{c_on:10.1f}")
        print(f"{'  the walk (on - off)':38}{c_on - c_off:10.1f}")
        print(f"{'processes, sockets off':38}{p_off:10.1f}")
        print(f"{'processes, sockets on':38}{p_on:10.1f}")
        print(f"{'  the walk (on - off)':38}{p_on - p_off:10.1f}")
        print(f"connections with owners / ss -tanp = {c_on / ss:.2f}; "
              f"its walk / floor = {(c_on - c_off) / floor_ms:.2f}; "
              f"processes' walk / floor = {(p_on - p_off) / floor_ms:.2f}")
    finally:
        for s in clients + held + [listener]:
            s.close()
        os.killpg(sleepers.pid, signal.SIGKILL)
        sleepers.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

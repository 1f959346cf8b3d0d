#!/usr/bin/env python3
"""What vitals costs next to node_exporter and collectd, measured the same way on this host.

Starts each exporter in turn on a free loopback port (node_exporter with its default
collectors, collectd with cpu, memory, swap and load every second behind write_prometheus,
vitals three times: with the collectors covering collectd's plugins, then with every
collector, all at a 1 s interval, then with its built-in default config; each --also binary
like the first), then measures it:

  latency  N back-to-back GET /metrics on one kept-alive connection: p50 and p99, in ms
  cpu      one GET per second for W seconds: the daemon's utime+stime (/proc/PID/stat) in
           ms per second of wall time, i.e. what keeping 1 s numbers fresh and serving them costs
  memory   VmRSS and VmHWM (/proc/PID/status) after that window, in MiB
  output   series (sample lines) and bytes of one /metrics body

and prints the size of each vitals binary as built and stripped (strip(1) on a copy).

Builds nothing: build vitals first (cargo build --release). Installs the Debian packages
prometheus-node-exporter, collectd-core, libprotobuf-c1 and libmicrohttpd12 with apt-get
when they are missing (as root, or through sudo), unless --no-install is given.
"""

import argparse
import gzip
import http.client
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from procstat import CLOCK_TICKS, cpu_ticks, free_port, status_kib

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024

PACKAGES = ["prometheus-node-exporter", "collectd-core", "libprotobuf-c1", "libmicrohttpd12"]
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
COLLECTD = "/usr/sbin/collectd"

# What Prometheus sends on a scrape (--prometheus-headers).
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}

COLLECTD_CONF = """\
Hostname "localhost"
FQDNLookup false
AutoLoadPlugin false
BaseDir "{dir}"
PIDFile "{dir}/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 1
LoadPlugin cpu
LoadPlugin memory
LoadPlugin swap
LoadPlugin load
LoadPlugin write_prometheus
<Plugin write_prometheus>
  Host "127.0.0.1"
  Port "{port}"
</Plugin>
"""


# --- setup -------------------------------------------------------------------------------


def missing_packages():
    missing = []
    for pkg in PACKAGES:
        q = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                           capture_output=True, text=True)
        if q.returncode != 0 or "install ok installed" not in q.stdout:
            missing.append(pkg)
    return missing


def install_packages(allowed):
    if not shutil.which("dpkg-query"):
        sys.exit("compare.py: not a Debian-like system (no dpkg-query); install node_exporter "
                 "and collectd with write_prometheus yourself")
    missing = missing_packages()
    if not missing:
        return
    if not allowed:
        sys.exit(f"compare.py: missing packages {' '.join(missing)} (--no-install was given)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if sudo and not shutil.which("sudo"):
        sys.exit(f"compare.py: missing packages {' '.join(missing)}; install them as root")
    print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env)


def vitals_collectors(binary):
    """Collector names, from the [collectors.NAME] tables of the default config."""
    out = subprocess.run([binary, "print-default-config"], capture_output=True, text=True,
                         check=True).stdout
    return re.findall(r"^\[collectors\.([A-Za-z0-9_]+)\]", out, re.MULTILINE)


# The vitals collectors that cover collectd's plugins here: cpu (cpu, load) and memory
# (memory, swap). The like-for-like comparison runs only these.
COLLECTD_DOMAINS = ("cpu", "memory")


def vitals_config(binary, port, only=None):
    """Every collector at a 1 s interval, or only those named in `only`."""
    lines = ["[server]", f'listen = "127.0.0.1:{port}"', ""]
    for name in vitals_collectors(binary):
        lines.append(f"[collectors.{name}]")
        if only is None or name in only:
            lines += ['interval = "1s"', 'timeout = "1s"']
            if name == "filesystem":
                lines.append('statfs_timeout = "500ms"')  # must stay below the timeout
            lines.append("")
        else:
            lines += ["enabled = false", ""]
    return "\n".join(lines)


@dataclass
class Exporter:
    name: str
    argv: list
    port: int
    version: str = ""


def exporters(vitals, workdir, also=()):
    """The daemons, each with its config written into workdir; `also` is (name, binary)
    pairs run like `vitals`."""
    out = []
    port = free_port()
    out.append(Exporter("node_exporter", [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                        port, version([NODE_EXPORTER, "--version"], r"version (\S+)")))
    port = free_port()
    conf = workdir / "collectd.conf"
    conf.write_text(COLLECTD_CONF.format(dir=workdir, port=port))
    out.append(Exporter("collectd", [COLLECTD, "-f", "-C", str(conf)], port,
                        version([COLLECTD, "-h"], r"collectd (\S+?),")))
    runs = [("vitals", vitals, COLLECTD_DOMAINS), ("vitals-all", vitals, None)]
    runs += [(name, binary, COLLECTD_DOMAINS) for name, binary in also]
    for name, binary, only in runs:
        port = free_port()
        conf = workdir / f"{name}.toml"
        conf.write_text(vitals_config(binary, port, only))
        out.append(Exporter(name, [binary, "--config", str(conf), "--log-level", "warn"], port,
                            version([binary, "--version"], r"vitals (\S+)")))
    # The shipped defaults (every default collector at its default interval), on loopback.
    port = free_port()
    out.append(Exporter("vitals-default",
                        [vitals, "--listen", f"127.0.0.1:{port}", "--log-level", "warn"], port,
                        version([vitals, "--version"], r"vitals (\S+)")))
    return out


def binary_sizes(binary, workdir):
    """(bytes as built, bytes stripped) of a binary; stripped is None without strip(1)."""
    built = os.path.getsize(binary)
    strip = shutil.which("strip")
    if strip is None:
        return built, None
    copy = workdir / "stripped"
    subprocess.run([strip, "-o", str(copy), binary], check=True)
    stripped = os.path.getsize(copy)
    copy.unlink()
    return built, stripped


def version(argv, pattern):
    p = subprocess.run(argv, capture_output=True, text=True)
    m = re.search(pattern, p.stdout + p.stderr)
    return m.group(1) if m else "?"


# --- measuring ---------------------------------------------------------------------------


class Client:
    """GET /metrics on one persistent HTTP/1.1 connection, reopened only when the server
    closes it, so that every exporter is timed on its serving and not on TCP setup."""

    def __init__(self, port, headers):
        self.port, self.headers = port, headers
        self.conn, self.connects = None, 0

    def get(self):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.connects += 1
            try:
                self.conn.request("GET", "/metrics", headers=self.headers)
                r = self.conn.getresponse()
                body = r.read()
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if r.will_close:
                self.close()
            if r.status != 200:
                raise RuntimeError(f"GET /metrics on port {self.port}: HTTP {r.status}")
            return body, r.getheader("Content-Encoding")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def loadavg_1m():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def percentile(sorted_values, p):
    """Nearest rank."""
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


@dataclass
class Result:
    name: str
    version: str
    p50_ms: float
    p99_ms: float
    cpu_ms_per_s: float
    rss_mib: float
    hwm_mib: float
    series: int
    bytes: int
    connects: int
    load: str
    notes: list = field(default_factory=list)


def wait_until_serving(exporter, proc, log, seconds=20):
    client = Client(exporter.port, {})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            sys.exit(f"compare.py: {exporter.name} exited with {proc.returncode}:\n"
                     f"{log.read().decode(errors='replace')[-2000:]}")
        try:
            client.get()
            return
        except (OSError, RuntimeError, http.client.HTTPException):
            time.sleep(0.1)
        finally:
            client.close()
    sys.exit(f"compare.py: {exporter.name} did not serve /metrics on port {exporter.port} "
             f"within {seconds} s")


def measure(exporter, proc, args, headers):
    client = Client(exporter.port, headers)
    load = loadavg_1m()
    try:
        for _ in range(args.warmup):
            client.get()
        latencies = []
        for _ in range(args.requests):
            start = time.perf_counter()
            body, encoding = client.get()
            latencies.append((time.perf_counter() - start) * 1000)
        latencies.sort()

        # One scrape per second on a fixed grid, as Prometheus does at a 1 s interval.
        ticks0, wall0 = cpu_ticks(proc.pid), time.monotonic()
        for i in range(args.window):
            client.get()
            time.sleep(max(0.0, wall0 + i + 1 - time.monotonic()))
        cpu_ms_per_s = ((cpu_ticks(proc.pid) - ticks0) * 1000 / CLOCK_TICKS
                        / (time.monotonic() - wall0))
        rss, hwm = status_kib(proc.pid, "VmRSS"), status_kib(proc.pid, "VmHWM")
    finally:
        client.close()

    text = (gzip.decompress(body) if encoding == "gzip" else body).decode(errors="replace")
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    result = Result(exporter.name, exporter.version, percentile(latencies, 50),
                    percentile(latencies, 99), cpu_ms_per_s, rss * 1024 / MIB, hwm * 1024 / MIB,
                    series, len(body), client.connects, load)
    if encoding:
        result.notes.append(f"body {encoding}, {len(text)} bytes decoded")
    if client.connects > 1:
        result.notes.append(f"server closed the connection: {client.connects} connects")
    return result


def run(exporter, args, headers, workdir):
    log = open(workdir / f"{exporter.name}.log", "w+b")
    print(f"{exporter.name}: {shlex.join(exporter.argv)}", file=sys.stderr, flush=True)
    proc = subprocess.Popen(exporter.argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        wait_until_serving(exporter, proc, log)
        time.sleep(args.settle)  # a few collection intervals, so rates have two readings
        return measure(exporter, proc, args, headers)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --- report ------------------------------------------------------------------------------


def ratio(a, b):
    return f"{a / b:.3f}" if b else "n/a"


def report(results, args, sizes=()):
    print("| exporter | p50 ms | p99 ms | CPU ms/s | RSS MiB | HWM MiB | series | bytes | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r.name} | {r.p50_ms:.3f} | {r.p99_ms:.3f} | {r.cpu_ms_per_s:.2f} "
              f"| {r.rss_mib:.1f} | {r.hwm_mib:.1f} | {r.series} | {r.bytes} | {r.load} |")
    print()
    by_name = {r.name: r for r in results}
    v = by_name["vitals"]
    for other in ("node_exporter", "collectd"):
        o = by_name[other]
        print(f"- vitals/{other}: p50 {ratio(v.p50_ms, o.p50_ms)}, "
              f"CPU {ratio(v.cpu_ms_per_s, o.cpu_ms_per_s)}")
    c = by_name["collectd"]
    print(f"- collectd exposes far fewer series ({c.series}, plugins cpu memory swap load only) "
          f"than vitals ({v.series}) and node_exporter "
          f"({by_name['node_exporter'].series}): its latency and bytes are for a smaller body.")
    print(f"- vitals runs the collectors that cover collectd's plugins ({', '.join(COLLECTD_DOMAINS)}); "
          f"vitals-all runs every collector ({by_name['vitals-all'].series} series), all at 1 s; "
          "vitals-default runs the built-in default config (default collectors and intervals).")
    for name, r in by_name.items():
        if name.startswith("vitals"):
            print(f"- {name}: RSS {ratio(r.rss_mib, c.rss_mib)} of collectd's")
    for name, path, (built, stripped) in sizes:
        shown = f"{stripped} bytes stripped" if stripped is not None else "no strip(1) here"
        print(f"- binary of {name}: {built} bytes as built, {shown} ({path})")
    print("- node_exporter reads the host on each scrape; collectd and vitals every second in "
          "the background, whether scraped or not.")
    for r in results:
        for note in r.notes:
            print(f"- {r.name}: {note}")
    print()
    print(f"Host: {os.cpu_count()} CPUs, Linux {platform.release()}; load is the 1-minute "
          f"load average as each exporter's measurement began ({loadavg_1m()} at the end). "
          "Versions: "
          + "; ".join(f"{r.name} {r.version}" for r in results) + ".")
    sent = "Prometheus's scrape headers" if args.prometheus_headers else "no Accept header"
    print(f"{args.requests} requests for latency; CPU over {args.window} s at one scrape per "
          f"second, in whole clock ticks, so to within {1000 / CLOCK_TICKS / args.window:.2f} "
          f"ms/s; {sent}.")
    print()
    print("Command:")
    print()
    print(f"    {shlex.join(['python3', *sys.argv])}")


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Prints a Markdown table, the vitals/node_exporter and vitals/collectd ratios "
               "and the command line. See bench/README.md.")
    ap.add_argument("--vitals", default=str(REPO / "target/release/vitals"), metavar="PATH",
                    help="the vitals binary (default: %(default)s)")
    ap.add_argument("-n", "--requests", type=int, default=500, metavar="N",
                    help="back-to-back GETs for the latency percentiles (default: %(default)s)")
    ap.add_argument("-w", "--window", type=int, default=30, metavar="W",
                    help="seconds of one scrape per second for the CPU figure "
                         "(default: %(default)s)")
    ap.add_argument("--warmup", type=int, default=20, metavar="K",
                    help="untimed GETs before the latency run (default: %(default)s)")
    ap.add_argument("--settle", type=float, default=3.0, metavar="S",
                    help="seconds between the first answer and the measurements "
                         "(default: %(default)s)")
    ap.add_argument("--prometheus-headers", action="store_true",
                    help="send Prometheus's scrape Accept and Accept-Encoding: gzip headers "
                         "(default: none, so every exporter answers uncompressed text)")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=PATH",
                    help="another vitals binary (e.g. a --no-default-features build) run like "
                         "the `vitals` row under NAME; repeatable")
    ap.add_argument("--no-install", action="store_true",
                    help="fail instead of installing missing packages with apt-get")
    args = ap.parse_args()
    if args.requests < 1 or args.window < 1:
        ap.error("--requests and --window must be at least 1")

    vitals = os.path.abspath(args.vitals)
    if not os.access(vitals, os.X_OK):
        sys.exit(f"compare.py: no vitals binary at {vitals}; build it with "
                 "`cargo build --release` or give --vitals PATH")
    also = []
    for spec in args.also:
        name, sep, path = spec.partition("=")
        path = os.path.abspath(path)
        if not sep or not name.startswith("vitals-") or not os.access(path, os.X_OK):
            ap.error(f"--also {spec}: expected vitals-NAME=PATH to an executable")
        also.append((name, path))
    install_packages(not args.no_install)
    headers = PROMETHEUS_HEADERS if args.prometheus_headers else {}

    with tempfile.TemporaryDirectory(prefix="vitals-compare-") as tmp:
        results = [run(e, args, headers, Path(tmp))
                   for e in exporters(vitals, Path(tmp), also)]
        sizes = [(name, path, binary_sizes(path, Path(tmp)))
                 for name, path in [("vitals", vitals), *also]]
    report(results, args, sizes)


if __name__ == "__main__":
    main()

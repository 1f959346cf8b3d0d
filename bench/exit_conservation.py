"""The conservation law of issue 18, full length: for SECONDS (60) under bench/exit_churn.py
(200 short processes a second through every parent pattern), scraped every second, the
increase of sum(process CPU over all groups) against the CPU of all tasks, for:

- vitals, exit_records = true (taskstats; needs root);
- vitals, exit_records = false (the cutime fallback);
- process-exporter (/usr/bin/prometheus-process-exporter, every process in a group by
  comm), when installed;
- netdata's apps.plugin (/usr/lib/netdata/plugins.d/apps.plugin, run alone every second, its
  default apps_groups.conf), when installed.

The CPU of all tasks is measured two ways by this script: the root cpuacct group's usage (the
scheduler's runtime, which /proc/<pid>/stat's utime + stime are scaled to) and /proc/stat's
user + nice + system (tick samples). Also checks that no group counter decreases.

usage: python3 bench/exit_conservation.py [--seconds 60] [--vitals target/release/vitals] [--only-records]
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procstat import CLOCK_TICKS, free_port  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
CPUACCT = pathlib.Path("/sys/fs/cgroup/cpuacct/cpuacct.usage")
EXPORTER = "/usr/bin/prometheus-process-exporter"
APPS_PLUGIN = "/usr/lib/netdata/plugins.d/apps.plugin"
OTHERS = ("cpu", "memory", "sensors", "battery", "host", "users", "filesystem", "disk", "network",
          "interfaces", "connections")


def kernel():
    f = open("/proc/stat").readline().split()[1:]
    ticks = (int(f[0]) + int(f[1]) + int(f[2])) / CLOCK_TICKS
    acct = int(CPUACCT.read_text()) / 1e9 if CPUACCT.exists() else float("nan")
    return acct, ticks


def scrape(url):
    from prometheus_client.parser import text_string_to_metric_families
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def vitals_tick(url):
    """The exposition of vitals' next processes tick and the kernel's figures read as soon as
    it was published (the scrape alone may be up to an interval old)."""
    key = ("vitals_collector_last_success_timestamp_seconds", frozenset({("collector", "processes")}))
    first = scrape(url).get(key)
    end = time.time() + 10
    while time.time() < end:
        v = scrape(url)
        if v.get(key) != first:
            return v, kernel()
        time.sleep(0.01)
    raise TimeoutError("no tick")


def on_demand(url):
    """Exporters that read /proc when scraped: the scrape and the kernel's figures together."""
    return scrape(url), kernel()


def wait_ready(url, deadline=15):
    """Until `url` answers (the daemon is listening), at most `deadline` seconds."""
    end = time.time() + deadline
    while True:
        try:
            scrape(url)
            return
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.1)


def run(name, cmd, url, cpu_name, seconds, counters, aligned=on_demand):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url)
        time.sleep(3)
        v0, k0 = aligned(url)
        churn = subprocess.Popen([sys.executable, str(REPO / "bench" / "exit_churn.py"), str(seconds), "200"],
                                 stdout=subprocess.PIPE, text=True)
        prev, decreases = {k: x for k, x in v0.items() if k[0] in counters}, 0
        while churn.poll() is None:
            time.sleep(1)
            now = {k: x for k, x in scrape(url).items() if k[0] in counters}
            decreases += sum(1 for k, x in now.items() if k in prev and x < prev[k])
            prev = now
        started = int(churn.stdout.read())
        time.sleep(3)  # the last exits' records, two 1 s ticks
        v1, k1 = aligned(url)
    finally:
        proc.terminate()
        proc.wait()
    total = lambda v: sum(x for (n, _), x in v.items() if n == cpu_name)  # noqa: E731
    report(name, started, total(v1) - total(v0), k0, k1, decreases)
    lost = [k for k in v1 if k[0] == "vitals_process_exit_records_lost_total"]
    if lost:
        print(f"{'':28} exit records lost in the window: {v1[lost[0]] - v0.get(lost[0], 0):.0f}")


def report(name, started, groups, k0, k1, decreases):
    acct, ticks = k1[0] - k0[0], k1[1] - k0[1]
    print(f"{name:28} started {started:6}  groups {groups:8.2f} s  cpuacct {acct:8.2f} s "
          f"ratio {groups / acct:.4f}  /proc/stat {ticks:8.2f} s ratio {groups / ticks:.4f}  "
          f"decreases {decreases}", flush=True)


def apps_plugin(seconds):
    """netdata's apps.plugin run alone, every second: the sum over its apps.cpu chart (the
    percentage of a core each app group used over each update) times the update's length,
    from the update after the churn started to the one 3 s after it ended."""
    proc = subprocess.Popen([APPS_PLUGIN, "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    scale, state = {}, {"chart": False}

    def update():
        """The next apps.cpu update: (seconds of CPU over all groups, its length in s)."""
        pct, usec, inside = 0.0, 0, False
        for line in proc.stdout:
            w = line.split()
            if w[:1] == ["CHART"]:
                state["chart"] = w[1] == "apps.cpu"
            elif w[:1] == ["DIMENSION"] and state["chart"]:
                scale[w[1]] = int(w[4]) / int(w[5])
            elif w[:2] == ["BEGIN", "apps.cpu"]:
                inside, usec, pct = True, int(w[2]), 0.0
            elif inside and w[:1] == ["SET"]:
                pct += int(w[3]) * scale.get(w[1], 1e-4)
            elif inside and w[:1] == ["END"]:
                return pct / 100 * usec / 1e6, usec
        raise EOFError("apps.plugin stopped")

    try:
        for _ in range(3):
            update()
        k0 = kernel()
        churn = subprocess.Popen([sys.executable, str(REPO / "bench" / "exit_churn.py"), str(seconds), "200"],
                                 stdout=subprocess.PIPE, text=True)
        cpu = 0.0
        while churn.poll() is None:
            cpu += update()[0]
        started = int(churn.stdout.read())
        for _ in range(3):
            cpu += update()[0]
        k1 = kernel()
    finally:
        proc.kill()
        proc.wait()
    report("netdata apps.plugin", started, cpu, k0, k1, "n/a (rates)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--vitals", default=str(REPO / "target" / "release" / "vitals"))
    ap.add_argument("--only-records", action="store_true",
                    help="measure only vitals with exit_records = true (no fallback, no peers)")
    a = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="vitals-conservation-"))
    vitals_counters = ("process_cpu_time_seconds_total", "process_paging_faults_total",
                       "process_io_bytes_total", "process_disk_io_bytes_total",
                       "process_context_switches_total")
    for mode in ("true",) if a.only_records else ("true", "false"):
        cfg = tmp / f"vitals-{mode}.toml"
        cfg.write_text("".join(f"[collectors.{c}]\nenabled = false\n" for c in OTHERS)
                       + f'[collectors.processes]\ninterval = "1s"\ntimeout = "1s"\nexit_records = {mode}\n')
        port = free_port()
        run(f"vitals exit_records={mode}", [a.vitals, "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
            f"http://127.0.0.1:{port}/metrics", "process_cpu_time_seconds_total", a.seconds, vitals_counters,
            aligned=vitals_tick)
    if a.only_records:
        return
    if os.path.exists(EXPORTER):
        cfg = tmp / "process-exporter.yml"
        cfg.write_text("process_names:\n  - name: \"{{.Comm}}\"\n    cmdline:\n    - '.*'\n")
        port = free_port()
        run("process-exporter", [EXPORTER, "-config.path", str(cfg), "-web.listen-address",
                                 f"127.0.0.1:{port}", "-threads=false"],
            f"http://127.0.0.1:{port}/metrics", "namedprocess_namegroup_cpu_seconds_total", a.seconds,
            ("namedprocess_namegroup_cpu_seconds_total",))
    else:
        print(f"{EXPORTER} not installed: skipped (apt-get install prometheus-process-exporter)")
    if os.path.exists(APPS_PLUGIN):
        apps_plugin(a.seconds)
    else:
        print(f"{APPS_PLUGIN} not installed: skipped (apt-get install netdata)")


if __name__ == "__main__":
    main()

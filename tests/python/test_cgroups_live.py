"""The cgroups and pressure collectors on this machine's live kernel: cgroups created in the
v2 hierarchy with a busy loop and a sleeper, the exported CPU equal to cpu.stat read around
the scrape, a removed cgroup's series gone at the next tick, and host PSI equal to
/proc/pressure read around the scrape."""
import pathlib
import re
import time

import pytest

from cgroup_support import LiveCgroups, cpu_stat
from otlp_receiver import Receiver, attrs, point_value, points

CONFIG = """
[collectors.cgroups]
interval = "500ms"
timeout = "500ms"
[collectors.pressure]
interval = "500ms"
timeout = "500ms"
"""


@pytest.fixture
def live():
    cg = LiveCgroups()
    yield cg
    cg.close()


def samples(text, name):
    """[(labels dict, value)] of a family."""
    out = []
    for m in re.finditer(rf"^{name}\{{(.*)\}} (\S+)$", text, re.M):
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
        out.append((labels, float(m.group(2))))
    return out


def last_success(text, collector):
    m = re.search(rf'^vitals_collector_last_success_timestamp_seconds{{collector="{collector}"}} (\S+)$',
                  text, re.M)
    return float(m.group(1)) if m else 0.0


def ended_after(daemon, collector, t):
    """/metrics once a collection of `collector` has ended after time t."""
    end = time.time() + 15
    while time.time() < end:
        text = daemon.metrics_text()
        if last_success(text, collector) > t:
            return text
        time.sleep(0.05)
    raise TimeoutError(f"no {collector} collection after {t}")


def scrape_after(daemon, collector, t):
    """/metrics once a collection of `collector` that started after time t has ended: the
    one after the first to end past t (collections of one collector never overlap)."""
    return ended_after(daemon, collector, last_success(ended_after(daemon, collector, t), collector))


def cpu_seconds(text, path):
    got = {l["cpu_mode"]: v for l, v in samples(text, "container_cpu_time_seconds_total")
           if l.get("cgroup_path") == path}
    return got


def test_cpu_equals_cpu_stat_around_the_scrape_and_removed_cgroups_go(start_vitals, live):
    d = start_vitals(CONFIG)
    for name in ("busy.service", "sleeper.service"):
        before = cpu_stat(live.path(name))
        t = time.time()
        text = scrape_after(d, "cgroups", t)
        after = cpu_stat(live.path(name))
        got = cpu_seconds(text, live.label(name))
        assert set(got) == {"user", "system"}, (name, got)
        for mode in ("user", "system"):
            lo, hi = before[f"{mode}_usec"] / 1e6, after[f"{mode}_usec"] / 1e6
            assert lo <= got[mode] <= hi, (name, mode, lo, got[mode], hi)
        labels = next(l for l, _ in samples(text, "container_cpu_time_seconds_total")
                      if l.get("cgroup_path") == live.label(name))
        assert labels["systemd_unit"] == name
        assert labels["systemd_slice"] == live.slice.name
        procs = [v for l, v in samples(text, "container_process_count")
                 if l.get("cgroup_path") == live.label(name)]
        assert procs and procs[0] >= 1
    busy = cpu_seconds(text, live.label("busy.service"))
    assert busy["user"] + busy["system"] > 0, "the busy loop used CPU"

    live.remove("busy.service")
    t = time.time()
    text = scrape_after(d, "cgroups", t)
    assert live.label("busy.service") not in text, "the removed cgroup's series are gone"
    assert live.label("sleeper.service") in text


def test_host_psi_equals_proc_pressure_around_the_scrape(start_vitals):
    if not pathlib.Path("/proc/pressure/cpu").exists():
        pytest.skip("no PSI in this kernel")

    def read():
        out = {}
        for f in pathlib.Path("/proc/pressure").iterdir():
            try:
                text = f.read_text()
            except OSError:
                continue
            for line in text.splitlines():
                kind, *fields = line.split()
                out[(f.name, kind)] = int(dict(x.split("=") for x in fields)["total"]) / 1e6
        return out

    d = start_vitals(CONFIG)
    before = read()
    text = scrape_after(d, "pressure", time.time())
    after = read()
    got = {(l["pressure_resource"], l["pressure_kind"]): v
           for l, v in samples(text, "system_pressure_stall_time_seconds_total")}
    assert set(got) == set(before), (got, before)
    for key, value in got.items():
        assert before[key] - 1e-6 <= value <= after[key] + 1e-6, (key, before[key], value, after[key])


def test_a_recreated_cgroup_restarts_its_counters_never_backwards(start_vitals, live):
    """busy.service removed and made again under the same path at once (so no tick need see
    it gone): /metrics then shows the new cgroup's own cpu.stat, and over OTLP every series
    point with the same start time is at least the one before it, the recreated cgroup's
    points carrying a later start time."""
    receiver = Receiver()
    try:
        d = start_vitals(CONFIG + f'''
[otlp]
enabled = true
endpoint = "http://127.0.0.1:{receiver.port}"
interval = "500ms"
timeout = "500ms"
''')
        label = live.label("busy.service")
        end = time.time() + 20
        while True:
            old = cpu_seconds(scrape_after(d, "cgroups", time.time()), label)
            if old.get("user", 0) + old.get("system", 0) >= 0.2:
                break
            assert time.time() < end, f"the busy loop never used 0.2 s of CPU: {old}"
        n = len(receiver.received)
        receiver.wait(n + 1)

        live.remove("busy.service")
        live.path("busy.service").mkdir()
        removed = time.time()
        before = cpu_stat(live.path("busy.service"))
        text = scrape_after(d, "cgroups", removed)
        after = cpu_stat(live.path("busy.service"))
        got = cpu_seconds(text, label)
        for mode in ("user", "system"):
            assert before[f"{mode}_usec"] / 1e6 <= got[mode] <= after[f"{mode}_usec"] / 1e6, (mode, got)
        assert got["user"] + got["system"] < old["user"] + old["system"], (old, got)
        n = len(receiver.received)
        receiver.wait(n + 2)
    finally:
        receiver.close()

    by_start = {}
    for r in receiver.received:
        m = r.metrics().get("container.cpu.time")
        for p in points(m) if m else []:
            a = attrs(p)
            if a.get("cgroup.path") == label:
                by_start.setdefault((a["cpu.mode"], p.start_time_unix_nano), []).append(
                    (p.time_unix_nano, point_value(p)))
    for (mode, start), series in by_start.items():
        series.sort()
        values = [v for _, v in series]
        assert values == sorted(values), (mode, start, series)
    # A mode the old cgroup had used more of than the new one (user, at least: the loop
    # spins in user space) restarts with a later start time.
    dropped = [mode for mode in ("user", "system") if got[mode] < old[mode]]
    assert "user" in dropped, (old, got)
    for mode in dropped:
        starts = sorted(s for m, s in by_start if m == mode)
        assert len(starts) >= 2, (mode, starts)
        last = by_start[(mode, starts[-1])]
        assert starts[-1] > starts[0] and last[-1][1] <= got[mode] + 1, (mode, starts, last)

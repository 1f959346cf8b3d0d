"""psutil 7.2.2 as the oracle for every CPU and memory number vitals exports on this host.

Pairing a scrape with psutil readings
-------------------------------------
vitals collects on its own 1 s schedule and /metrics serves the latest snapshot, so a scrape
shows the host as it was at some earlier instant. The test therefore polls psutil and /metrics
alternately (every ~20 ms) and keeps each psutil reading with the wall-clock interval [t0, t1]
it was taken in.

`vitals_collector_last_success_timestamp_seconds` (call it L) is the wall-clock time a
collection was published. A collector's task is sequential (tick, collect, publish, next tick),
so collection k read /proc inside (L[k-1], L[k]]. The last psutil reading finished before
L[k-1] and the first one started after L[k] therefore bracket vitals' reading: a counter must
lie between them, a gauge inside the range psutil saw between them. The bracket is about one
interval wide, and `capture` refuses a wider one.

A scrape's self-metrics are computed just after its snapshots are gathered, so a collection
published in between would make L belong to a newer snapshot than the one served. A scrape is
only trusted when the scrape before it showed the same L.

For /proc/stat there is a much tighter bracket. A CPU's total time (every mode but guest and
guest_nice) is a clock: it keeps growing, at about one second per second (0.96-0.98 on this
VM), whatever the load. vitals' total for that CPU says when its reading happened: readings
whose total is below it came before, readings whose total is above it came after
(`Capture.locate`). Each mode, and ctxt/intr/softirq from the same read, must then match psutil
at that instant: within a tick, or the ~50 ms between the readings around it, instead of a
whole interval. A wrong mode shifts vitals' total and with it the located instant, so the
other modes stop matching.
"""
import math
import os
import pathlib
import subprocess
import time
from dataclasses import dataclass

import psutil
import pytest

from conftest import BIN, parse_exposition

INTERVAL = 1.0
CONFIG = """
[collectors.cpu]
interval = "1s"
timeout = "1s"

[collectors.memory]
interval = "1s"
timeout = "1s"
"""

TICK = 1.0 / os.sysconf("SC_CLK_TCK")  # one /proc/stat tick: the resolution of cpu_times
MIB = 1024 * 1024

# psutil's scputimes fields, in order, and the cpu_mode value vitals uses for each.
CPU_FIELDS = psutil.cpu_times()._fields
MODE = {f: ("interrupt" if f == "irq" else f) for f in CPU_FIELDS}
GUEST_FIELDS = ("guest", "guest_nice")  # already counted inside user and nice

# Per-CPU idle and iowait can step back by a tick (psutil #392, NO_HZ accounting) and vitals
# holds them at their highest value, so a CPU's total may be off by a few ticks either way.
CLOCK_SLACK = 3 * TICK

# Memory moves between psutil's readings; see `envelope`. 4 MiB covers allocator and page
# cache noise smaller than any step psutil itself observed between two readings ~20 ms apart.
MEMORY_FLOOR = 4 * MIB


# --------------------------------------------------------------------------- readings


@dataclass
class Reading:
    """Everything psutil says about CPU and memory, read between wall-clock t0 and t1."""

    t0: float
    t1: float
    cpu_times: list
    cpu_stats: object
    cpu_freq: list
    loadavg: tuple
    vm: object
    swap: object


def read_psutil():
    t0 = time.time()
    values = dict(
        cpu_times=psutil.cpu_times(percpu=True),
        cpu_stats=psutil.cpu_stats(),
        cpu_freq=psutil.cpu_freq(percpu=True),
        loadavg=psutil.getloadavg(),
        vm=psutil.virtual_memory(),
        swap=psutil.swap_memory(),
    )
    return Reading(t0, time.time(), **values)


@dataclass
class Scrape:
    samples: dict
    published: float  # L: when the collection behind these samples was published
    took: float  # how long that collection took


def scrape(daemon, collector):
    samples = parse_exposition(daemon.metrics_text())
    me = frozenset({("collector", collector)})
    assert samples.get(("vitals_collector_up", me)) == 1, f"the {collector} collector is not up"
    return Scrape(
        samples,
        samples[("vitals_collector_last_success_timestamp_seconds", me)],
        samples[("vitals_collector_duration_seconds", me)],
    )


@dataclass
class Capture:
    """Two consecutive collections of one collector and the psutil readings around them."""

    prev: Scrape
    cur: Scrape
    readings: list

    def before(self, t):
        """The last reading finished by wall-clock t."""
        return [r for r in self.readings if r.t1 <= t][-1]

    def after(self, t):
        """The first reading started after wall-clock t."""
        return next(r for r in self.readings if r.t0 >= t)

    def bracket(self):
        """(lo, hi): readings taken before and after the collection behind `cur`."""
        return self.before(self.prev.published), self.after(self.cur.published)

    def locate(self, clock, value, slack):
        """(lo, hi): the last reading whose clock is below `value` and the first above it, by
        more than `slack`: the readings just before and just after the moment the clock read
        `value`, for a clock that never steps back by more than `slack`. None when no reading
        lies on one side (vitals' value is outside what psutil saw)."""
        below = [r for r in self.readings if clock(r) < value - slack]
        above = [r for r in self.readings if clock(r) > value + slack]
        return (below[-1], above[0]) if below and above else None

    def previous(self, r):
        """The reading before r (r itself when it is the first)."""
        return self.readings[max(0, self.readings.index(r) - 1)]

    def window(self):
        """Every reading from lo to hi: what psutil saw while vitals read `cur`."""
        lo, hi = self.bracket()
        return self.readings[self.readings.index(lo) : self.readings.index(hi) + 1]


def capture(daemon, collector, timeout=20):
    readings = [read_psutil()]
    trusted = []  # scrapes known to hold the collection their L names, one per L
    last = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = scrape(daemon, collector)
        readings.append(read_psutil())
        if last is not None and s.published == last.published:
            if not trusted or trusted[-1].published != s.published:
                trusted.append(s)
        last = s
        if len(trusted) >= 2:
            prev, cur = trusted[-2], trusted[-1]
            consecutive = cur.published - prev.published < 1.5 * INTERVAL
            # Some reading must precede prev's read, and a few must follow cur's for `locate`.
            bracketable = prev.published - prev.took - 0.1 > readings[0].t1
            if consecutive and bracketable:
                while time.time() < cur.published + 0.15:
                    time.sleep(0.02)
                    readings.append(read_psutil())
                c = Capture(prev, cur, readings)
                lo, hi = c.bracket()
                width = hi.t0 - lo.t1
                assert width < 2 * INTERVAL, f"bracket of {width:.3f}s is too wide to mean much"
                return c
        time.sleep(0.02)
    raise AssertionError(f"no two consecutive {collector} collections seen in {timeout}s")


@pytest.fixture
def vitals(start_vitals):
    assert psutil.__version__ == "7.2.2", f"the oracle is psutil 7.2.2, not {psutil.__version__}"
    return start_vitals(CONFIG)


# --------------------------------------------------------------------------- checking


def fmt(name, labels):
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


class Checks:
    """Collects every mismatch so that one run reports all of them, with numbers."""

    def __init__(self, samples):
        self.samples = samples
        self.problems = []

    def value(self, name, labels):
        """vitals' value for one series; None (and a problem) when it is missing."""
        v = self.samples.get((name, frozenset(labels.items())))
        if v is None:
            self.problems.append(f"{fmt(name, labels)}: missing from vitals")
        return v

    def between(self, name, labels, lo, hi, what, got=None):
        got = self.value(name, labels) if got is None else got
        if got is not None and not lo <= got <= hi:
            self.problems.append(
                f"{fmt(name, labels)}: vitals={got!r}, psutil {what} allows [{lo!r}, {hi!r}]"
            )

    def equal(self, name, labels, expected, what, tol=0.0):
        got = self.value(name, labels)
        if got is not None and not abs(got - expected) <= tol:
            self.problems.append(
                f"{fmt(name, labels)}: vitals={got!r}, psutil {what}={expected!r} (tol {tol})"
            )

    def absent(self, name, why):
        present = [dict(k[1]) for k in self.samples if k[0] == name]
        if present:
            self.problems.append(f"{name}: expected no series ({why}), vitals has {present}")

    def fail(self, message):
        self.problems.append(message)

    def done(self):
        assert not self.problems, f"{len(self.problems)} mismatch(es):\n" + "\n".join(self.problems)


def series(samples, name):
    """{label pairs as a sorted tuple: value} for one sample name."""
    return {tuple(sorted(k[1])): v for k, v in samples.items() if k[0] == name}


def envelope(values, floor):
    """(lo, hi) for a gauge read at some moment between these psutil readings.

    The readings are ~20 ms apart and the value may move beyond both between two of them. The
    slack is the largest step psutil itself saw between consecutive readings (a host whose
    memory churns gets a proportionally wider range) plus `floor`.
    """
    steps = [abs(b - a) for a, b in zip(values, values[1:])]
    slack = floor + max(steps, default=0)
    return min(values) - slack, max(values) + slack


def cpu_numbers():
    """The cpu_logical_number of each entry of psutil's percpu lists: the cpuN lines of
    /proc/stat, in order (an offline CPU has no line, so index and number can differ)."""
    with open("/proc/stat") as f:
        return [int(line.split()[0][3:]) for line in f if line[:3] == "cpu" and line[3].isdigit()]


def cpu_labels(f, cpu):
    return {"cpu_mode": MODE[f], "cpu_logical_number": cpu}


def vitals_cpu_times(samples, cpu):
    """{psutil field: vitals' system_cpu_time_seconds_total} for one CPU (nan when missing)."""
    key = "system_cpu_time_seconds_total"
    return {
        f: samples.get((key, frozenset(cpu_labels(f, cpu).items())), math.nan) for f in CPU_FIELDS
    }


def non_guest_total(times):
    return sum(times[f] for f in CPU_FIELDS if f not in GUEST_FIELDS)


def shares(prev, cur):
    """psutil's cpu_times_percent() / 100 for one CPU, unrounded: per-field deltas clamped at
    0, divided by the total of the deltas leaving out guest and guest_nice. Returns (shares,
    total).

    psutil divides by max(1, total), a divide-by-zero guard that assumes integer times; Linux
    times are seconds with 0.01 resolution, so for a window under 1 s of CPU time psutil's
    percentages sum to less than 100. vitals, and this oracle, divide by the total.
    """
    deltas = {f: max(0.0, cur[f] - prev[f]) for f in CPU_FIELDS}
    total = non_guest_total(deltas)
    return {f: (min(1.0, d / total) if total > 0 else 0.0) for f, d in deltas.items()}, total


def catalog(section):
    """{prometheus name: label names} for one section of docs/metrics.md (every section
    when None), or of `vitals list-metrics` (which generates that file) when the file is
    absent."""
    doc = pathlib.Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
    if doc.exists():
        text = doc.read_text()
    else:
        run = subprocess.run([str(BIN), "list-metrics"], check=True, capture_output=True, text=True)
        text = run.stdout
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif section in (None, current) and line.startswith("| `"):
            name, _type, _unit, labels = [c.strip() for c in line.strip("|").split("|")][:4]
            out[name.strip("`")] = frozenset(
                () if labels == "-" else (label.strip() for label in labels.split(","))
            )
    assert out, f"no '{section}' section in the metrics catalog"
    return out


# --------------------------------------------------------------------------- cpu


def psutil_cpu(r, i):
    """{field: seconds} of CPU i in reading r."""
    return r.cpu_times[i]._asdict()


def locate_cpu(check, c, s, i, cpu):
    """The readings just before and after scrape s's /proc/stat read, by CPU i's clock."""
    value = non_guest_total(vitals_cpu_times(s.samples, cpu))
    found = c.locate(lambda r: non_guest_total(psutil_cpu(r, i)), value, CLOCK_SLACK)
    if found is None:
        seen = [non_guest_total(psutil_cpu(r, i)) for r in (c.readings[0], c.readings[-1])]
        check.fail(f"cpu {cpu}: vitals' total time {value!r} is outside psutil's {seen}")
    return found


def locate_stat_read(check, c, s, numbers):
    """The same for the whole /proc/stat read, by the clock of all CPUs together."""
    value = sum(non_guest_total(vitals_cpu_times(s.samples, cpu)) for cpu in numbers)
    clock = lambda r: sum(non_guest_total(psutil_cpu(r, i)) for i in range(len(numbers)))
    found = c.locate(clock, value, CLOCK_SLACK * len(numbers))
    if found is None:
        seen = [clock(r) for r in (c.readings[0], c.readings[-1])]
        check.fail(f"all cpus: vitals' total time {value!r} is outside psutil's {seen}")
    return found


def check_cpu_times(check, c, numbers):
    """system_cpu_time_seconds_total: counters, one tick of slack for a counter stepping back.
    First between the readings around the whole collection, then between those around the
    instant CPU i's clock places it at."""
    name = "system_cpu_time_seconds_total"
    lo, hi = c.bracket()
    for i, cpu in enumerate(numbers):
        for f in CPU_FIELDS:
            low, high = psutil_cpu(lo, i)[f], psutil_cpu(hi, i)[f]
            what = f"cpu_times(percpu=True)[{i}].{f}"
            check.between(name, cpu_labels(f, cpu), low - TICK, high + TICK, what)
        located = locate_cpu(check, c, c.cur, i, cpu)
        if located is None:
            continue
        at_lo, at_hi = located
        for f in CPU_FIELDS:
            low, high = psutil_cpu(at_lo, i)[f], psutil_cpu(at_hi, i)[f]
            what = f"cpu_times(percpu=True)[{i}].{f} at the instant of vitals' read"
            check.between(name, cpu_labels(f, cpu), low - TICK, high + TICK, what)


def check_utilization(check, c, i, cpu):
    name = "system_cpu_utilization_ratio"
    ratios = {f: check.value(name, cpu_labels(f, cpu)) for f in CPU_FIELDS}
    if None in ratios.values():
        return
    before, after = vitals_cpu_times(c.prev.samples, cpu), vitals_cpu_times(c.cur.samples, cpu)
    expected, elapsed = shares(before, after)

    # Invariants: every share in [0, 1]; the non-guest shares sum to 1 when time elapsed.
    for f, r in ratios.items():
        check.between(name, cpu_labels(f, cpu), 0.0, 1.0, "share range", got=r)
    total = non_guest_total(ratios)
    if elapsed > 0 and abs(total - 1) > 1e-6:
        where = f'{name}{{cpu_logical_number="{cpu}"}}'
        check.fail(f"{where}: non-guest shares sum to {total!r}, not 1")

    # Exact: psutil's cpu_times_percent formula on the two cpu_times readings vitals published
    # (each checked against psutil by check_cpu_times). Only float rounding may differ.
    for f in CPU_FIELDS:
        check.equal(
            name, cpu_labels(f, cpu), expected[f],
            "cpu_times_percent formula on vitals' consecutive cpu_times", tol=1e-9,
        )

    # From psutil readings alone: each of vitals' two reads lies between two psutil readings,
    # so vitals' delta of a mode lies between (cur_lo - prev_hi) and (cur_hi - prev_lo),
    # likewise the total, and the share between the extreme quotients. A tick of slack on
    # each bound for counters stepping back.
    prev, cur = locate_cpu(check, c, c.prev, i, cpu), locate_cpu(check, c, c.cur, i, cpu)
    if prev is None or cur is None:
        return
    plo, phi = [psutil_cpu(r, i) for r in prev]
    clo, chi = [psutil_cpu(r, i) for r in cur]
    total_lo = non_guest_total(clo) - non_guest_total(phi) - TICK
    total_hi = non_guest_total(chi) - non_guest_total(plo) + TICK
    if total_lo <= 0:
        check.fail(f"cpu {cpu}: psutil readings too sparse to bound vitals' window")
        return
    for f in CPU_FIELDS:
        d_lo = max(0.0, clo[f] - phi[f] - TICK)
        d_hi = chi[f] - plo[f] + TICK
        check.between(
            name, cpu_labels(f, cpu), d_lo / total_hi, min(1.0, d_hi / total_lo),
            f"cpu_times(percpu=True)[{i}] deltas over vitals' window", got=ratios[f],
        )


def test_cpu_times_and_utilization(vitals):
    c = capture(vitals, "cpu")
    check = Checks(c.cur.samples)
    numbers = [str(n) for n in cpu_numbers()]
    assert all(len(r.cpu_times) == len(numbers) for r in c.readings), "a CPU went on/offline"

    expected = {tuple(sorted(cpu_labels(f, cpu).items())) for cpu in numbers for f in CPU_FIELDS}
    for family in ("system_cpu_time_seconds_total", "system_cpu_utilization_ratio"):
        got = set(series(c.cur.samples, family))
        if got != expected:
            check.fail(f"{family}: missing {sorted(expected - got)}, extra {sorted(got - expected)}")
    check.done()  # the checks below read every one of these series

    check_cpu_times(check, c, numbers)
    for i, cpu in enumerate(numbers):
        check_utilization(check, c, i, cpu)
    check.done()


def check_frequency(check, c):
    """cpuinfo "cpu MHz" is re-estimated on every read where frequency scaling is active, so
    vitals' value may sit a little outside what psutil's readings ~20 ms apart saw: 1% around
    their range. (On a VM without cpufreq it does not move at all.)"""
    freqs = [r.cpu_freq for r in c.window()]
    name = "system_cpu_frequency_hertz"
    got = series(c.cur.samples, name)
    if len(got) != len(freqs[-1]):
        check.fail(f"{name}: {len(got)} series, psutil cpu_freq(percpu=True) has {len(freqs[-1])}")
    for i in range(len(freqs[-1])):
        current = [f[i].current * 1e6 for f in freqs]
        check.between(
            name, {"cpu_logical_number": str(i)}, min(current) * 0.99, max(current) * 1.01,
            f"cpu_freq(percpu=True)[{i}].current*1e6",
        )
    # min and max come from scaling_min_freq/scaling_max_freq; without cpufreq psutil says 0
    # and vitals exports nothing.
    for bound in ("min", "max"):
        name = f"system_cpu_frequency_{bound}_hertz"
        values = [getattr(f, bound) for f in freqs[-1]]
        if all(v == 0 for v in values):
            check.absent(name, f"psutil cpu_freq(percpu=True) {bound} is 0 for every CPU")
            continue
        for i, v in enumerate(values):
            what = f"cpu_freq(percpu=True)[{i}].{bound}*1e6"
            check.equal(name, {"cpu_logical_number": str(i)}, v * 1e6, what, tol=1e-3)


def check_cpu_stats(check, c):
    """ctxt, intr and softirq: counters from the same /proc/stat read as the cpu lines. First
    between the readings around the whole collection, then around the instant the CPU
    clocks place that read at."""
    numbers = [str(n) for n in cpu_numbers()]
    brackets = [("", c.bracket())]
    located = locate_stat_read(check, c, c.cur, numbers)
    if located is not None:
        # The clock places lo's cpu_times before vitals' read, but psutil reads cpu_stats just
        # after cpu_times, possibly past it: the reading before lo is wholly before it.
        lo, hi = located
        brackets.append((" at the instant of vitals' read", (c.previous(lo), hi)))
    for name, field in (
        ("system_cpu_context_switches_total", "ctx_switches"),
        ("system_cpu_interrupts_total", "interrupts"),
        ("system_cpu_soft_interrupts_total", "soft_interrupts"),
    ):
        for where, (lo, hi) in brackets:
            low, high = getattr(lo.cpu_stats, field), getattr(hi.cpu_stats, field)
            check.between(name, {}, low, high, f"cpu_stats().{field}{where}")


def test_cpu_counts_frequency_stats_and_load(vitals):
    c = capture(vitals, "cpu")
    check = Checks(c.cur.samples)

    check.equal("system_cpu_logical_count", {}, psutil.cpu_count(), "cpu_count()")
    physical = psutil.cpu_count(logical=False)
    check.equal("system_cpu_physical_count", {}, physical, "cpu_count(logical=False)")
    check_frequency(check, c)
    check_cpu_stats(check, c)

    # Load average: psutil's getloadavg() is glibc's, from sysinfo(2), and so is vitals'.
    # The kernel updates it every 5 s, possibly inside the window: hence the range over the
    # window, with no slack.
    window = c.window()
    for k, horizon in enumerate(("1m", "5m", "15m")):
        values = [r.loadavg[k] for r in window]
        check.between(
            f"system_cpu_load_average_{horizon}", {}, min(values), max(values), f"getloadavg()[{k}]",
        )
    check.done()


# --------------------------------------------------------------------------- memory


def test_virtual_memory(vitals):
    c = capture(vitals, "memory")
    check = Checks(c.cur.samples)
    vms = [r.vm for r in c.window()]
    total = vms[0].total
    assert all(vm.total == total for vm in vms), "MemTotal changed during the test"
    check.equal("system_memory_limit_bytes", {}, total, "virtual_memory().total")

    def gauge(name, labels, attr, got=None):
        lo, hi = envelope([getattr(vm, attr) for vm in vms], MEMORY_FLOOR)
        check.between(name, labels, lo, hi, f"virtual_memory().{attr}", got=got)

    for state in ("used", "free", "buffers", "cached"):
        gauge("system_memory_usage_bytes", {"system_memory_state": state}, state)
    gauge("system_memory_linux_available_bytes", {}, "available")
    gauge("system_memory_shared_bytes", {}, "shared")
    gauge("system_memory_linux_active_bytes", {}, "active")
    gauge("system_memory_linux_inactive_bytes", {}, "inactive")

    slab = series(c.cur.samples, "system_memory_linux_slab_usage_bytes")
    states = {dict(k)["linux_memory_slab_state"] for k in slab}
    if states != {"reclaimable", "unreclaimable"}:
        check.fail(f"system_memory_linux_slab_usage_bytes: states {sorted(states)}")
    gauge("sum(system_memory_linux_slab_usage_bytes)", {}, "slab", got=sum(slab.values()))

    # psutil's definitions, exact within vitals' single reading: used = total - available,
    # and each state's ratio is its bytes over the total.
    name = "system_memory_usage_bytes"
    usage = {dict(k)["system_memory_state"]: v for k, v in series(c.cur.samples, name).items()}
    available = c.cur.samples.get(("system_memory_linux_available_bytes", frozenset()))
    if "used" in usage and available is not None and usage["used"] != total - available:
        check.fail(
            f"system_memory_usage_bytes{{system_memory_state=\"used\"}}={usage['used']!r}, "
            f"psutil's total - available = {total - available!r}"
        )
    for state, v in usage.items():
        labels = {"system_memory_state": state}
        what = f"{state} / total"
        check.equal("system_memory_utilization_ratio", labels, v / total, what, tol=1e-12)

    # percent is rounded to 0.1: the unrounded ratio lies within 0.0005 of percent / 100.
    lo, hi = envelope([vm.percent / 100 for vm in vms], 0.0005 + MEMORY_FLOOR / total)
    labels = {"system_memory_state": "used"}
    check.between("system_memory_utilization_ratio", labels, lo, hi, "virtual_memory().percent/100")
    check.done()


def test_swap_memory(vitals):
    c = capture(vitals, "memory")
    check = Checks(c.cur.samples)
    swaps = [r.swap for r in c.window()]
    total = swaps[0].total
    assert all(s.total == total for s in swaps), "swap was added or removed during the test"

    name = "system_paging_usage_bytes"
    usage = {dict(k)["system_paging_state"]: v for k, v in series(c.cur.samples, name).items()}
    if set(usage) != {"used", "free"}:
        check.fail(f"{name}: states {sorted(usage)}, want used and free")
    if sum(usage.values()) != total:
        check.fail(f"sum({name})={sum(usage.values())!r}, psutil swap_memory().total={total!r}")
    for state in ("used", "free"):
        lo, hi = envelope([getattr(s, state) for s in swaps], MEMORY_FLOOR)
        check.between(name, {"system_paging_state": state}, lo, hi, f"swap_memory().{state}")

    # Utilization: psutil's percent / 100 (rounded to 0.1 there), and 0 without swap.
    name = "system_paging_utilization_ratio"
    for state in ("used", "free"):
        expected = usage.get(state, math.nan) / total if total else 0.0
        check.equal(name, {"system_paging_state": state}, expected, f"{state} / total", tol=1e-12)
    if total:
        lo, hi = envelope([s.percent / 100 for s in swaps], 0.0005 + MEMORY_FLOOR / total)
        check.between(name, {"system_paging_state": "used"}, lo, hi, "swap_memory().percent/100")

    # sin/sout: counters read between lo and hi.
    lo, hi = c.bracket()
    for direction, attr in (("in", "sin"), ("out", "sout")):
        check.between(
            "system_paging_io_bytes_total", {"system_paging_direction": direction},
            getattr(lo.swap, attr), getattr(hi.swap, attr), f"swap_memory().{attr}",
        )
    check.done()


# --------------------------------------------------------------------------- catalog


def test_every_cataloged_family_psutil_has_is_exported(vitals):
    # After two cpu collections, so that utilization (which needs a previous one) is there.
    samples = capture(vitals, "cpu").cur.samples
    exported = {}
    for name, labels in samples:
        exported.setdefault(name, set()).add(frozenset(k for k, _ in labels))
    documented = {**catalog("cpu"), **catalog("memory")}

    freqs = psutil.cpu_freq(percpu=True)
    psutil_lacks = set()
    if not freqs:
        psutil_lacks.add("system_cpu_frequency_hertz")
    if all(f.min == 0 and f.max == 0 for f in freqs):
        psutil_lacks |= {"system_cpu_frequency_min_hertz", "system_cpu_frequency_max_hertz"}

    problems = []
    for name, labels in documented.items():
        if name in psutil_lacks:
            if name in exported:
                problems.append(f"{name}: exported, but psutil has no value on this host")
        elif name not in exported:
            problems.append(f"{name}: documented, psutil has a value, vitals exports no series")
        elif exported[name] != {labels}:
            got = sorted(sorted(s) for s in exported[name])
            problems.append(f"{name}: label names {got}, the catalog says {sorted(labels)}")
    # Other domains' collectors run too; their own tests check their families.
    cataloged = catalog(None)
    undocumented = sorted(n for n in exported if n.startswith("system_") and n not in cataloged)
    if undocumented:
        problems.append(f"exported but not in the catalog: {undocumented}")
    assert not problems, "\n".join(problems)

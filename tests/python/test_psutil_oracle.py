"""psutil 7.2.2 as the oracle for every CPU and memory number vitals exports on this host.

Pairing a scrape with psutil readings
-------------------------------------
vitals collects on its own 1 s schedule and /metrics serves the latest snapshot, so a scrape
shows the host as it was at some earlier instant. The test therefore polls psutil and /metrics
alternately (every ~20 ms) and keeps each psutil reading with the wall-clock interval
[t0, t1] it was taken in.

`vitals_collector_last_success_timestamp_seconds` (call it L) is the wall-clock time a
collection was published. A collector's task is sequential (tick, collect, publish, next tick),
so collection k read /proc strictly inside (L[k-1], L[k]]. The last psutil reading finished
before L[k-1] and the first one started after L[k] therefore bracket vitals' reading: a counter
must lie between them and a gauge inside the range psutil covered between them. That bracket is
at most about one interval wide.

A scrape's self-metrics are computed just after its snapshots are gathered, so a collection
published in between would make L belong to a newer snapshot than the one served. A scrape is
only trusted when the scrape before it showed the same L (see `capture`).
"""
import math
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

TICK = 1.0 / 100  # one /proc/stat tick at CLK_TCK = 100 (checked in `clock_tick`)
MIB = 1024 * 1024

# psutil's scputimes fields, in order, and the cpu_mode value vitals uses for each.
CPU_FIELDS = psutil.cpu_times()._fields
MODE = {f: ("interrupt" if f == "irq" else f) for f in CPU_FIELDS}
GUEST_FIELDS = ("guest", "guest_nice")  # already inside user and nice

# How long after reading /proc a collection may take to be published (task wake-up). Only the
# loose utilization comparison relies on it; every other bracket uses L[k-1] and is exact.
PUBLISH_LATENCY = 0.1

pytestmark = pytest.mark.skipif(psutil.__version__ != "7.2.2", reason="the oracle is psutil 7.2.2")


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
    self_label = frozenset({("collector", collector)})
    assert samples.get(("vitals_collector_up", self_label)) == 1, f"{collector} collector is not up"
    return Scrape(
        samples,
        samples[("vitals_collector_last_success_timestamp_seconds", self_label)],
        samples[("vitals_collector_duration_seconds", self_label)],
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

    def tight_bracket(self, s):
        """A narrower bracket for scrape s, assuming it was published within PUBLISH_LATENCY."""
        return self.before(s.published - s.took - PUBLISH_LATENCY), self.after(s.published)

    def window(self):
        """Every reading from lo to hi: what psutil saw while vitals read `cur`."""
        lo, hi = self.bracket()
        return self.readings[self.readings.index(lo) : self.readings.index(hi) + 1]


def capture(daemon, collector, timeout=20):
    readings = [read_psutil()]
    trusted = []  # scrapes whose samples are known to belong to their L, distinct L
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
            bracketable = prev.published - prev.took - PUBLISH_LATENCY > readings[0].t1
            if consecutive and bracketable:
                c = Capture(prev, cur, readings)
                lo, hi = c.bracket()
                assert hi.t0 - lo.t1 < 2.5 * INTERVAL, f"bracket {hi.t0 - lo.t1:.3f}s is too wide"
                return c
        time.sleep(0.02)
    raise AssertionError(f"no two consecutive {collector} collections observed in {timeout}s")


@pytest.fixture
def vitals(start_vitals):
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

    def value(self, name, **labels):
        """vitals' value for one series; None (and a problem) when it is missing."""
        v = self.samples.get((name, frozenset(labels.items())))
        if v is None:
            self.problems.append(f"{fmt(name, labels)}: missing from vitals")
        return v

    def between(self, name, labels, lo, hi, what, got=None):
        got = self.value(name, **labels) if got is None else got
        if got is not None and not lo <= got <= hi:
            self.problems.append(
                f"{fmt(name, labels)}: vitals={got!r}, psutil {what} allows [{lo!r}, {hi!r}]"
            )

    def equal(self, name, labels, expected, what, tol=0.0):
        got = self.value(name, **labels)
        if got is not None and not abs(got - expected) <= tol:
            self.problems.append(
                f"{fmt(name, labels)}: vitals={got!r}, psutil {what}={expected!r} (tolerance {tol})"
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
    """{labels dict as sorted tuple: value} for one sample name."""
    return {tuple(sorted(k[1])): v for k, v in samples.items() if k[0] == name}


def envelope(values, floor):
    """(lo, hi) a gauge read at some moment between these readings may take.

    The readings are ~20 ms apart; between two of them the value may briefly go beyond both.
    The slack is the largest step psutil itself saw between consecutive readings (so a host
    whose memory churns gets a proportionally wider range) plus `floor` for movement smaller
    than any single step.
    """
    steps = [abs(b - a) for a, b in zip(values, values[1:])]
    slack = floor + max(steps, default=0)
    return min(values) - slack, max(values) + slack


def cpu_numbers():
    """The cpu_logical_number of each entry of psutil's percpu lists: the cpuN lines of
    /proc/stat, in order (an offline CPU has no line, so index and number can differ)."""
    with open("/proc/stat") as f:
        return [int(line.split()[0][3:]) for line in f if line[:3] == "cpu" and line[3].isdigit()]


def shares(prev, cur):
    """psutil's cpu_times_percent(percpu=True) / 100 for one CPU, unrounded: per-field deltas
    clamped at 0, the total leaving out guest and guest_nice.

    psutil divides by max(1, total) (a divide-by-zero guard that assumes integer times); on
    Linux times are seconds with 0.01 resolution, so for windows shorter than 1 s of CPU time
    psutil's percentages sum to less than 100. vitals (and this oracle) divide by the total.
    """
    deltas = {f: max(0.0, cur[f] - prev[f]) for f in CPU_FIELDS}
    total = sum(d for f, d in deltas.items() if f not in GUEST_FIELDS)
    return {f: (min(1.0, d / total) if total > 0 else 0.0) for f, d in deltas.items()}, total


def catalog(section):
    """{prometheus name: label names} for one section of docs/metrics.md, or of
    `vitals list-metrics` (which generates that file) when the file is absent."""
    doc = pathlib.Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
    if doc.exists():
        text = doc.read_text()
    else:
        text = subprocess.run([str(BIN), "list-metrics"], check=True, capture_output=True, text=True).stdout
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif current == section and line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            labels = cells[3]
            out[cells[0].strip("`")] = frozenset() if labels == "-" else frozenset(
                l.strip() for l in labels.split(",")
            )
    assert out, f"no '{section}' section in the metrics catalog"
    return out


# --------------------------------------------------------------------------- cpu


def test_clock_tick_is_what_the_tolerances_assume():
    # TICK above is one /proc/stat tick; psutil divides by the same CLK_TCK.
    assert psutil._psplatform.CLOCK_TICKS == 100


def test_cpu_times_and_utilization(vitals):
    c = capture(vitals, "cpu")
    check = Checks(c.cur.samples)
    numbers = cpu_numbers()
    lo, hi = c.bracket()
    assert len(lo.cpu_times) == len(hi.cpu_times) == len(numbers)

    # system_cpu_time_seconds_total: a counter read between lo and hi. One tick of slack each
    # way: per-CPU idle/iowait can step back by a tick (psutil #392), which vitals holds at
    # its highest value.
    name = "system_cpu_time_seconds_total"
    for i, n in enumerate(numbers):
        for f in CPU_FIELDS:
            labels = {"cpu_mode": MODE[f], "cpu_logical_number": str(n)}
            low, high = getattr(lo.cpu_times[i], f), getattr(hi.cpu_times[i], f)
            check.between(name, labels, low - TICK, high + TICK, f"cpu_times(percpu=True)[{i}].{f}")
    expected = {(("cpu_logical_number", str(n)), ("cpu_mode", MODE[f])) for n in numbers for f in CPU_FIELDS}
    for family in (name, "system_cpu_utilization_ratio"):
        got = set(series(c.cur.samples, family))
        if got != expected:
            check.fail(f"{family}: series missing {sorted(expected - got)}, unexpected {sorted(got - expected)}")

    # system_cpu_utilization_ratio over vitals' own window (prev -> cur collection).
    name = "system_cpu_utilization_ratio"
    plo, phi = c.tight_bracket(c.prev)
    clo, chi = c.tight_bracket(c.cur)
    for i, n in enumerate(numbers):
        cpu = str(n)

        def vitals_times(s):
            return {f: s.samples.get((("system_cpu_time_seconds_total"), frozenset({("cpu_mode", MODE[f]), ("cpu_logical_number", cpu)})), math.nan) for f in CPU_FIELDS}

        ratios = {f: check.value(name, cpu_mode=MODE[f], cpu_logical_number=cpu) for f in CPU_FIELDS}
        if None in ratios.values():
            continue
        # Invariants: every share in [0, 1]; the non-guest shares sum to 1 when time elapsed.
        expected_shares, elapsed = shares(vitals_times(c.prev), vitals_times(c.cur))
        for f, r in ratios.items():
            check.between(name, {"cpu_mode": MODE[f], "cpu_logical_number": cpu}, 0.0, 1.0, "share range", got=r)
        total = sum(r for f, r in ratios.items() if f not in GUEST_FIELDS)
        if elapsed > 0 and abs(total - 1) > 1e-6:
            check.fail(f"{name}{{cpu_logical_number=\"{cpu}\"}}: non-guest shares sum to {total!r}, not 1")

        # Exact: psutil's cpu_times_percent formula applied to the two cpu_times readings
        # vitals published (checked against psutil above). Only float rounding differs.
        for f in CPU_FIELDS:
            check.equal(
                name, {"cpu_mode": MODE[f], "cpu_logical_number": cpu}, expected_shares[f],
                "cpu_times_percent formula on vitals' consecutive cpu_times", tol=1e-9,
            )

        # Loose, straight from psutil: each collection lies between two psutil readings, so
        # vitals' delta per mode lies between (cur_lo - prev_hi) and (cur_hi - prev_lo), and
        # likewise the total; the share lies between the extreme quotients. One tick of
        # slack per bound for counters that step back.
        def t(r, f):
            return getattr(r.cpu_times[i], f)

        def tot(r):
            return sum(t(r, f) for f in CPU_FIELDS if f not in GUEST_FIELDS)

        total_lo, total_hi = tot(clo) - tot(phi) - TICK, tot(chi) - tot(plo) + TICK
        if total_lo <= 0:
            check.fail(f"cpu {cpu}: psutil readings too sparse to bound vitals' window")
            continue
        for f in CPU_FIELDS:
            d_lo = max(0.0, t(clo, f) - t(phi, f) - TICK)
            d_hi = t(chi, f) - t(plo, f) + TICK
            check.between(
                name, {"cpu_mode": MODE[f], "cpu_logical_number": cpu},
                d_lo / total_hi, min(1.0, d_hi / total_lo),
                f"cpu_times(percpu=True)[{i}] deltas around vitals' window", got=ratios[f],
            )
    check.done()


def test_cpu_counts_frequency_stats_and_load(vitals):
    c = capture(vitals, "cpu")
    check = Checks(c.cur.samples)
    lo, hi = c.bracket()
    window = c.window()

    check.equal("system_cpu_logical_count", {}, psutil.cpu_count(), "cpu_count()")
    check.equal("system_cpu_physical_count", {}, psutil.cpu_count(logical=False), "cpu_count(logical=False)")

    # Frequency: cpuinfo "cpu MHz" is re-estimated on every read where frequency scaling is
    # active, so vitals' value may sit a little outside what the ~20 ms apart psutil readings
    # saw: 1% around their range. (On a VM without cpufreq it does not move at all.)
    freqs = [r.cpu_freq for r in window]
    got = series(c.cur.samples, "system_cpu_frequency_hertz")
    if len(got) != len(freqs[0]):
        check.fail(f"system_cpu_frequency_hertz: {len(got)} series, psutil cpu_freq(percpu=True) has {len(freqs[0])}")
    for i in range(len(freqs[0])):
        current = [f[i].current * 1e6 for f in freqs]
        check.between(
            "system_cpu_frequency_hertz", {"cpu_logical_number": str(i)},
            min(current) * 0.99, max(current) * 1.01, f"cpu_freq(percpu=True)[{i}].current*1e6",
        )
    for bound in ("min", "max"):
        name = f"system_cpu_frequency_{bound}_hertz"
        psutil_values = [getattr(f, bound) for f in freqs[-1]]
        if all(v == 0 for v in psutil_values):
            check.absent(name, f"psutil cpu_freq(percpu=True) {bound} is 0 for every CPU: no cpufreq")
        else:
            for i, v in enumerate(psutil_values):
                check.equal(name, {"cpu_logical_number": str(i)}, v * 1e6, f"cpu_freq(percpu=True)[{i}].{bound}*1e6", tol=1e-3)

    # cpu_stats: counters read between lo and hi, nothing else to allow.
    for name, field in (
        ("system_cpu_context_switches_total", "ctx_switches"),
        ("system_cpu_interrupts_total", "interrupts"),
        ("system_cpu_soft_interrupts_total", "soft_interrupts"),
    ):
        check.between(name, {}, getattr(lo.cpu_stats, field), getattr(hi.cpu_stats, field), f"cpu_stats().{field}")

    # Load average: psutil's getloadavg() is os.getloadavg(), the kernel's fixed-point value
    # (1/2048 steps); vitals reads /proc/loadavg, which prints it to two decimals after adding
    # 10/2048: printed - exact lies in [-0.00512, +0.00489]. The kernel updates it every 5 s,
    # possibly inside the window, hence the range over the window.
    for k, name in enumerate(("system_cpu_load_average_1m", "system_cpu_load_average_5m", "system_cpu_load_average_15m")):
        values = [r.loadavg[k] for r in window]
        check.between(name, {}, min(values) - 0.0052, max(values) + 0.0052, f"getloadavg()[{k}]")
    check.done()


# --------------------------------------------------------------------------- memory

# Memory moves between psutil's readings; see `envelope`. 4 MiB covers allocator and page
# cache noise on an otherwise quiet host between two readings ~20 ms apart.
MEMORY_FLOOR = 4 * MIB


def test_virtual_memory(vitals):
    c = capture(vitals, "memory")
    check = Checks(c.cur.samples)
    window = c.window()
    vms = [r.vm for r in window]
    total = vms[0].total
    assert all(vm.total == total for vm in vms), "MemTotal changed during the test"

    check.equal("system_memory_limit_bytes", {}, total, "virtual_memory().total")

    def field(name, labels, attr):
        lo, hi = envelope([getattr(vm, attr) for vm in vms], MEMORY_FLOOR)
        check.between(name, labels, lo, hi, f"virtual_memory().{attr}")

    for state in ("used", "free", "buffers", "cached"):
        field("system_memory_usage_bytes", {"system_memory_state": state}, state)
    field("system_memory_linux_available_bytes", {}, "available")
    field("system_memory_shared_bytes", {}, "shared")
    field("system_memory_linux_active_bytes", {}, "active")
    field("system_memory_linux_inactive_bytes", {}, "inactive")

    slab = series(c.cur.samples, "system_memory_linux_slab_usage_bytes")
    states = {dict(k)["linux_memory_slab_state"] for k in slab}
    if states != {"reclaimable", "unreclaimable"}:
        check.fail(f"system_memory_linux_slab_usage_bytes: states {sorted(states)}")
    lo, hi = envelope([vm.slab for vm in vms], MEMORY_FLOOR)
    check.between("sum(system_memory_linux_slab_usage_bytes)", {}, lo, hi, "virtual_memory().slab", got=sum(slab.values()))

    # psutil's own definitions, exact within vitals' single reading.
    used = check.value("system_memory_usage_bytes", system_memory_state="used")
    available = check.value("system_memory_linux_available_bytes")
    if used is not None and available is not None and used != total - available:
        check.fail(f"system_memory_usage_bytes{{state=used}}={used!r} != total - available = {total - available!r}")
    for state in ("used", "free", "buffers", "cached"):
        v = c.cur.samples.get(("system_memory_usage_bytes", frozenset({("system_memory_state", state)})))
        if v is not None:
            check.equal("system_memory_utilization_ratio", {"system_memory_state": state}, v / total,
                        f"{state} / total (vitals' own {state})", tol=1e-12)

    # percent is rounded to 0.1: the unrounded ratio lies within 0.0005 of percent/100, plus
    # the memory slack expressed as a ratio.
    pct_lo, pct_hi = envelope([vm.percent / 100 for vm in vms], 0.0005 + MEMORY_FLOOR / total)
    check.between("system_memory_utilization_ratio", {"system_memory_state": "used"}, pct_lo, pct_hi, "virtual_memory().percent/100")
    check.done()


def test_swap_memory(vitals):
    c = capture(vitals, "memory")
    check = Checks(c.cur.samples)
    lo, hi = c.bracket()
    swaps = [r.swap for r in c.window()]
    total = swaps[0].total
    assert all(s.total == total for s in swaps), "swap was added or removed during the test"

    usage = series(c.cur.samples, "system_paging_usage_bytes")
    states = {dict(k)["system_paging_state"] for k in usage}
    if states != {"used", "free"}:
        check.fail(f"system_paging_usage_bytes: states {sorted(states)}, want used and free")
    if sum(usage.values()) != total:
        check.fail(f"sum(system_paging_usage_bytes)={sum(usage.values())!r}, psutil swap_memory().total={total!r}")
    for state in ("used", "free"):
        low, high = envelope([getattr(s, state) for s in swaps], MEMORY_FLOOR)
        check.between("system_paging_usage_bytes", {"system_paging_state": state}, low, high, f"swap_memory().{state}")

    # Utilization: psutil's percent / 100 (rounded to 0.1), and 0 without swap.
    if total == 0:
        for state in ("used", "free"):
            check.equal("system_paging_utilization_ratio", {"system_paging_state": state}, 0.0, "no swap: percent")
    else:
        for state in ("used", "free"):
            v = usage.get((("system_paging_state", state),))
            if v is not None:
                check.equal("system_paging_utilization_ratio", {"system_paging_state": state}, v / total,
                            f"{state} / total (vitals' own {state})", tol=1e-12)
        pct_lo, pct_hi = envelope([s.percent / 100 for s in swaps], 0.0005 + MEMORY_FLOOR / total)
        check.between("system_paging_utilization_ratio", {"system_paging_state": "used"}, pct_lo, pct_hi, "swap_memory().percent/100")

    # sin/sout: counters read between lo and hi.
    for direction, attr in (("in", "sin"), ("out", "sout")):
        check.between("system_paging_io_bytes_total", {"system_paging_direction": direction},
                      getattr(lo.swap, attr), getattr(hi.swap, attr), f"swap_memory().{attr}")
    check.done()


# --------------------------------------------------------------------------- catalog


def test_every_cataloged_family_psutil_has_is_exported(vitals):
    c = capture(vitals, "cpu")
    samples = parse_exposition(vitals.metrics_text())
    exported = {}
    for name, labels in samples:
        exported.setdefault(name, set()).add(frozenset(k for k, _ in labels))

    freqs = psutil.cpu_freq(percpu=True)
    no_cpufreq = all(f.min == 0 and f.max == 0 for f in freqs)
    problems = []
    documented = {}
    for section in ("cpu", "memory"):
        documented.update(catalog(section))
    for name, labels in documented.items():
        psutil_has_it = not (no_cpufreq and name in ("system_cpu_frequency_min_hertz", "system_cpu_frequency_max_hertz"))
        psutil_has_it &= not (name == "system_cpu_frequency_hertz" and not freqs)
        if not psutil_has_it:
            if name in exported:
                problems.append(f"{name}: exported, but psutil has no value on this host")
            continue
        if name not in exported:
            problems.append(f"{name}: documented, psutil has a value, vitals exports no series")
        elif exported[name] != {labels}:
            problems.append(f"{name}: label names {sorted(map(sorted, exported[name]))}, catalog says {sorted(labels)}")
    undocumented = sorted(n for n in exported if n.startswith("system_") and n not in documented)
    if undocumented:
        problems.append(f"exported but not in the catalog: {undocumented}")
    assert c.cur.published > 0
    assert not problems, "\n".join(problems)

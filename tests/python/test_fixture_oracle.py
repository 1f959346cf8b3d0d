"""psutil as the oracle on the fixture trees: psutil reads /proc from PROCFS_PATH, so pointing
it and `vitals once --procfs` at the same fixture must give the same numbers, exactly."""
import pathlib
import subprocess

import psutil
import pytest

from conftest import BIN, REPO, parse_exposition

FIXTURES = REPO / "tests" / "fixtures"


def vitals_once(fixture):
    root = FIXTURES / fixture
    out = subprocess.run(
        [str(BIN), "once", "--procfs", str(root / "proc"), "--sysfs", str(root / "sys"), "--rootfs", str(root)],
        capture_output=True, text=True, check=True,
    )
    return parse_exposition(out.stdout)


@pytest.fixture
def procfs():
    saved = psutil.PROCFS_PATH

    def point(fixture):
        psutil.PROCFS_PATH = str(FIXTURES / fixture / "proc")

    yield point
    psutil.PROCFS_PATH = saved


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


@pytest.mark.parametrize("fixture", ["modern", "legacy"])
def test_memory_equals_psutil(fixture, procfs):
    procfs(fixture)
    vm, sw = psutil.virtual_memory(), psutil.swap_memory()
    v = vitals_once(fixture)
    assert value(v, "system_memory_limit_bytes") == vm.total
    assert value(v, "system_memory_linux_available_bytes") == vm.available
    for state in ("used", "free", "buffers", "cached"):
        assert value(v, "system_memory_usage_bytes", system_memory_state=state) == getattr(vm, state), state
    assert value(v, "system_memory_shared_bytes") == vm.shared
    assert value(v, "system_memory_linux_active_bytes") == vm.active
    assert value(v, "system_memory_linux_inactive_bytes") == vm.inactive
    slab = sum(value(v, "system_memory_linux_slab_usage_bytes", linux_memory_slab_state=s)
               for s in ("reclaimable", "unreclaimable"))
    assert slab == vm.slab
    assert round(value(v, "system_memory_utilization_ratio", system_memory_state="used") * 100, 1) == vm.percent
    assert value(v, "system_paging_usage_bytes", system_paging_state="used") == sw.used
    assert value(v, "system_paging_usage_bytes", system_paging_state="free") == sw.free
    assert round(value(v, "system_paging_utilization_ratio", system_paging_state="used") * 100, 1) == sw.percent
    assert value(v, "system_paging_io_bytes_total", system_paging_direction="in") == sw.sin
    assert value(v, "system_paging_io_bytes_total", system_paging_direction="out") == sw.sout


def test_cpu_times_and_stats_equal_psutil(procfs):
    # psutil fixes its cpu_times fields from the host's /proc/stat at import; this host's
    # kernel has all ten, like the modern fixture.
    procfs("modern")
    v = vitals_once("modern")
    modes = {"irq": "interrupt"}
    for n, times in enumerate(psutil.cpu_times(percpu=True)):
        for field in times._fields:
            got = value(v, "system_cpu_time_seconds_total", cpu_mode=modes.get(field, field), cpu_logical_number=str(n))
            assert got == pytest.approx(getattr(times, field), abs=1e-9), (n, field)
    stats = psutil.cpu_stats()
    assert value(v, "system_cpu_context_switches_total") == stats.ctx_switches
    assert value(v, "system_cpu_interrupts_total") == stats.interrupts
    assert value(v, "system_cpu_soft_interrupts_total") == stats.soft_interrupts

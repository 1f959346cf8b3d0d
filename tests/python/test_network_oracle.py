"""psutil 7.2.2 as the oracle for the network collectors, on the live host and on the fixture
trees (psutil reads /proc from PROCFS_PATH).

Live counters move between readings, so a collection is bracketed by two psutil readings with
no scrape in between (`quiet_reading`): each counter must lie between them. Interface status
and addresses must be equal; socket counts must be equal when psutil saw none move.
"""
import psutil
import pytest

from network_support import nonzero, psutil_counts, quiet_reading, vitals_counts
from test_fixture_oracle import procfs, vitals_once  # noqa: F401 (procfs is a fixture)

INTERVAL = 1.0
CONFIG = """
[collectors.network]
interval = "1s"
timeout = "1s"

[collectors.interfaces]
interval = "1s"
timeout = "1s"

[collectors.connections]
interval = "1s"
timeout = "1s"
"""

# psutil's snetio field -> (vitals metric, direction)
NETIO = {
    "bytes_recv": ("system_network_io_bytes_total", "receive"),
    "bytes_sent": ("system_network_io_bytes_total", "transmit"),
    "packets_recv": ("system_network_packet_count_total", "receive"),
    "packets_sent": ("system_network_packet_count_total", "transmit"),
    "errin": ("system_network_errors_total", "receive"),
    "errout": ("system_network_errors_total", "transmit"),
    "dropin": ("system_network_packet_dropped_total", "receive"),
    "dropout": ("system_network_packet_dropped_total", "transmit"),
}


def netio(samples, nic, field):
    name, direction = NETIO[field]
    return samples[(name, frozenset({("network_interface_name", nic), ("network_io_direction", direction)}))]


def per_nic(samples, name):
    return {
        dict(labels)["network_interface_name"]: value
        for (n, labels), value in samples.items()
        if n == name
    }


@pytest.fixture
def vitals(start_vitals):
    assert psutil.__version__ == "7.2.2", f"the oracle is psutil 7.2.2, not {psutil.__version__}"
    return start_vitals(CONFIG)


def test_per_nic_counters_lie_between_psutil_readings(vitals):
    samples, lo, hi = quiet_reading(
        vitals, lambda: psutil.net_io_counters(pernic=True, nowrap=True), INTERVAL, "network"
    )
    assert set(lo) == set(hi) == set(per_nic(samples, "system_network_io_bytes_total"))
    for nic in lo:
        for field in NETIO:
            got = netio(samples, nic, field)
            assert getattr(lo[nic], field) <= got <= getattr(hi[nic], field), (nic, field)


def test_if_stats_equal_psutil(vitals):
    samples, stats, again = quiet_reading(vitals, psutil.net_if_stats, INTERVAL, "interfaces")
    assert stats == again, "an interface changed during the reading"
    assert per_nic(samples, "system_network_interface_up") == {n: float(s.isup) for n, s in stats.items()}
    assert per_nic(samples, "system_network_interface_speed_bytes_per_second") == {
        n: s.speed * 125000 for n, s in stats.items()
    }
    assert per_nic(samples, "system_network_interface_duplex") == {n: float(s.duplex) for n, s in stats.items()}
    assert per_nic(samples, "system_network_interface_mtu_bytes") == {n: float(s.mtu) for n, s in stats.items()}


FAMILY = {2: "ipv4", 10: "ipv6", psutil.AF_LINK: "link"}


def test_if_addrs_equal_psutil(vitals):
    samples, addrs, again = quiet_reading(vitals, psutil.net_if_addrs, INTERVAL, "interfaces")
    assert addrs == again, "an address changed during the reading"
    want = {
        (nic, FAMILY[a.family], a.address, a.netmask, a.broadcast, a.ptp)
        for nic, entries in addrs.items()
        for a in entries
    }
    got = set()
    for (name, labels), value in samples.items():
        if name == "system_network_interface_address_info":
            d = dict(labels)
            assert value == 1
            got.add((
                d["network_interface_name"], d["network_type"], d["network_interface_address"],
                d.get("network_interface_netmask"), d.get("network_interface_broadcast"),
                d.get("network_interface_peer"),
            ))
    assert got == want


def test_connection_counts_by_state_equal_psutil(vitals):
    """Each count equals psutil's when psutil saw it stay put across the reading, and lies
    between psutil's two readings when it moved (TIME_WAIT sockets expire all the time on a
    busy machine). Retried until no count moved back and forth between the readings."""
    for _ in range(10):
        samples, before, after = quiet_reading(vitals, lambda: psutil_counts("inet"), INTERVAL)
        got = vitals_counts(samples)
        keys = set(before) | set(after) | set(nonzero(got))
        outside = {
            k: (before.get(k, 0), got.get(k, 0), after.get(k, 0))
            for k in keys
            if not min(before.get(k, 0), after.get(k, 0)) <= got.get(k, 0) <= max(before.get(k, 0), after.get(k, 0))
        }
        if not outside:
            break
    # Unix sockets are left out: psutil counts one per owning descriptor and merges
    # ownerless duplicates; vitals counts each socket once (the live test compares netlink
    # with /proc/net/unix instead).
    assert not outside, f"(psutil before, vitals, psutil after) outside psutil's range: {outside}"
    assert sum(before.get(k, 0) == after.get(k, 0) == got.get(k, 0) for k in keys) >= len(keys) // 2


# --------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("fixture", ["modern", "legacy"])
def test_fixture_counters_and_connections_equal_psutil(fixture, procfs):
    procfs(fixture)
    samples = vitals_once(fixture)
    for nic, c in psutil.net_io_counters(pernic=True, nowrap=False).items():
        for field in NETIO:
            assert netio(samples, nic, field) == getattr(c, field), (nic, field)
    assert nonzero(vitals_counts(samples)) == dict(+psutil_counts("inet"))
    unix = len(psutil.net_connections("unix"))
    assert vitals_counts(samples)[("unix", "", "")] == unix

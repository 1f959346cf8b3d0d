"""The connections collector on the live host: sockets the test opens move the exported
counts by exactly that much, and the netlink and /proc/net sources agree.

Other processes on the machine open and close sockets too. Each check therefore counts, with
psutil, every socket not on the test's own ports just before and just after vitals' reading
(and scrapes only after both, a scrape being a connection too); when those two agree nothing
foreign moved, and vitals' count must equal them plus the test's own sockets. A reading during
which foreign sockets moved is retried.
"""
import socket
import subprocess
import time
from collections import Counter

from conftest import BIN, parse_exposition
from network_support import psutil_counts, quiet_reading, vitals_counts

CONFIG = """
[collectors.connections]
interval = "1s"
timeout = "1s"
listening = true
"""
INTERVAL = 1.0
N = 5  # established loopback connections, two sockets each


class OwnSockets:
    """A TCP listener on 127.0.0.1, N connections to it, and a bound UDP socket."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(N)
        self.port = self.listener.getsockname()[1]
        self.clients, self.servers = [], []
        for _ in range(N):
            c = socket.create_connection(("127.0.0.1", self.port))
            self.clients.append(c)
            self.servers.append(self.listener.accept()[0])
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp_port = self.udp.getsockname()[1]

    def ports(self):
        return (self.port, self.udp_port)

    def expected(self):
        return Counter({
            ("tcp", "ipv4", "listen"): 1,
            ("tcp", "ipv4", "established"): 2 * N,
            ("udp", "ipv4", ""): 1,
        })

    def close(self):
        # The accepted side closes first, so TIME_WAIT lands on it (port self.port).
        for s in self.servers + self.clients + [self.listener, self.udp]:
            s.close()


# The counts the test's sockets move; TIME_WAIT, which other sockets enter and leave all the
# time on a busy machine, is not one of them.
KEYS = [("tcp", "ipv4", "listen"), ("tcp", "ipv4", "established"), ("udp", "ipv4", "")]


def reading(daemon, ports):
    """vitals' counts, and psutil's counts of every socket not on `ports`, from a collection
    during which psutil saw none of KEYS move."""
    for _ in range(10):
        samples, before, after = quiet_reading(
            daemon, lambda: psutil_counts(exclude_ports=ports), INTERVAL
        )
        if all(before[k] == after[k] for k in KEYS):
            return vitals_counts(samples), after, samples
    raise AssertionError("foreign sockets kept moving")


def test_own_sockets_move_the_counts_by_exactly_that_much(start_vitals):
    d = start_vitals(CONFIG)
    before, foreign_before, _ = reading(d, ())
    own = OwnSockets()
    try:
        after, foreign_after, samples = reading(d, own.ports())
    finally:
        own.close()
    expected = own.expected()
    for key in KEYS:
        # Without the test's sockets vitals counts what psutil counts; with them, every other
        # socket plus exactly the test's...
        assert before.get(key, 0) == foreign_before[key], key
        assert after.get(key, 0) == foreign_after[key] + expected[key], key
        # ... so between the readings the count moved by the test's sockets and by what
        # psutil saw move elsewhere, nothing more.
        moved = after.get(key, 0) - before.get(key, 0)
        elsewhere = foreign_after[key] - foreign_before[key]
        assert moved - elsewhere == expected[key], (key, moved, elsewhere)
    # The listener and the UDP socket are listed as listening, by port.
    listeners = {
        (dict(l)["network_transport"], dict(l)["network_local_address"], dict(l)["network_local_port"])
        for (n, l) in samples
        if n == "system_network_listener_info"
    }
    assert ("tcp", "127.0.0.1", str(own.port)) in listeners
    assert ("udp", "127.0.0.1", str(own.udp_port)) in listeners


def once_counts(source):
    config = f'[collectors.connections]\nsource = "{source}"\n'
    out = subprocess.run(
        [str(BIN), "--config", "/dev/stdin", "once", "--format", "prometheus"],
        input=config, capture_output=True, text=True, check=True,
    )
    return vitals_counts(parse_exposition(out.stdout))


def test_netlink_and_procfs_sources_agree():
    """`vitals once` with each source forced, procfs before and after netlink: every netlink
    count lies between the two procfs counts (equal where nothing moved). Retried while
    sockets elsewhere move back and forth between the runs."""
    own = OwnSockets()
    try:
        for _ in range(20):
            lo, netlink, hi = once_counts("procfs"), once_counts("netlink"), once_counts("procfs")
            outside = {
                k: (lo.get(k, 0), netlink.get(k, 0), hi.get(k, 0))
                for k in set(lo) | set(netlink) | set(hi)
                if not min(lo.get(k, 0), hi.get(k, 0)) <= netlink.get(k, 0) <= max(lo.get(k, 0), hi.get(k, 0))
            }
            if not outside:
                break
            time.sleep(0.1)
        assert not outside, f"(procfs, netlink, procfs) {outside}"
        assert set(netlink) == set(lo), "the same series from both sources"
        assert netlink[("tcp", "ipv4", "established")] >= 2 * N
        assert netlink[("unix", "", "")] > 0
    finally:
        own.close()

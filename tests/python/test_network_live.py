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


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6 = ipv6_loopback()


class OwnSockets:
    """TCP listeners with N connections each, on 127.0.0.1 and (with IPv6) on ::1, an IPv6
    listener on the IPv4-mapped ::ffff:127.0.0.1 with one connection from an IPv4 socket,
    and a bound UDP socket. Both TCP families come from the collector's one netlink dump."""

    def __init__(self):
        self.listeners, self.clients, self.servers = [], [], []
        self.addresses = []  # (local address, port) of each listener
        self.listen(socket.AF_INET, "127.0.0.1", "127.0.0.1", N)
        if IPV6:
            self.listen(socket.AF_INET6, "::1", "::1", N)
            # The accepted socket is IPv6 with a mapped address; the client is IPv4.
            self.listen(socket.AF_INET6, "::ffff:127.0.0.1", "127.0.0.1", 1)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp_port = self.udp.getsockname()[1]

    def listen(self, family, address, connect_to, n):
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.bind((address, 0))
        listener.listen(n)
        port = listener.getsockname()[1]
        self.listeners.append(listener)
        self.addresses.append((address, port))
        for _ in range(n):
            self.clients.append(socket.create_connection((connect_to, port)))
            self.servers.append(listener.accept()[0])

    def ports(self):
        return tuple(port for _, port in self.addresses) + (self.udp_port,)

    def expected(self):
        counts = Counter({
            ("tcp", "ipv4", "listen"): 1,
            ("tcp", "ipv4", "established"): 2 * N,
            ("udp", "ipv4", ""): 1,
        })
        if IPV6:
            counts[("tcp", "ipv6", "listen")] += 2
            counts[("tcp", "ipv6", "established")] += 2 * N + 1
            counts[("tcp", "ipv4", "established")] += 1
        return counts

    def close(self):
        # The accepted side closes first, so TIME_WAIT lands on it (a listener's port).
        for s in self.servers + self.clients + self.listeners + [self.udp]:
            s.close()


# The counts the test's sockets move; TIME_WAIT, which other sockets enter and leave all the
# time on a busy machine, is not one of them.
KEYS = [
    ("tcp", "ipv4", "listen"), ("tcp", "ipv4", "established"),
    ("tcp", "ipv6", "listen"), ("tcp", "ipv6", "established"),
    ("udp", "ipv4", ""),
]


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
    for address, port in own.addresses:
        assert ("tcp", address, str(port)) in listeners
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
        if IPV6:
            assert netlink[("tcp", "ipv6", "established")] >= 2 * N + 1
        assert netlink[("unix", "", "")] > 0
    finally:
        own.close()

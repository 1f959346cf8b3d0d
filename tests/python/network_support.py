"""Helpers for the network tests: a collection bracketed by psutil readings, and psutil's
socket counts keyed like vitals' (vitals_collector_last_success_timestamp_seconds is L, the
wall-clock time a collection was published)."""
import socket
import time
from collections import Counter

import psutil

from conftest import parse_exposition

COUNT = "system_network_connection_count"
FAMILY = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
TRANSPORT = {socket.SOCK_STREAM: "tcp", socket.SOCK_DGRAM: "udp"}
# psutil's CONN_* status -> vitals' network_connection_state
STATE = {
    "ESTABLISHED": "established", "SYN_SENT": "syn_sent", "SYN_RECV": "syn_received",
    "FIN_WAIT1": "fin_wait_1", "FIN_WAIT2": "fin_wait_2", "TIME_WAIT": "time_wait",
    "CLOSE": "closed", "CLOSE_WAIT": "close_wait", "LAST_ACK": "last_ack",
    "LISTEN": "listen", "CLOSING": "closing",
}


def quiet_reading(daemon, read_psutil, interval, collector="connections", tries=10):
    """(vitals samples, psutil before, psutil after) for a collection that ran between two
    psutil readings, with no scrape in between (a scrape is itself a connection).

    The /metrics request comes only after the second psutil reading, so the collection it
    shows must have started after the first reading ended (L - duration >= t1) and ended
    before the request (L <= t3). Retried when a newer collection slipped in."""
    for _ in range(tries):
        before = read_psutil()
        t1 = time.time()
        # Not a wait for a condition that can be polled: any look at the daemon (a scrape)
        # would be a connection of its own in the window. Whether a collection fell in it
        # is checked below from the daemon's own timestamps, and the window retried if not.
        time.sleep(1.3 * interval)
        after = read_psutil()
        t3 = time.time()
        samples = parse_exposition(daemon.metrics_text())
        me = frozenset({("collector", collector)})
        published = samples[("vitals_collector_last_success_timestamp_seconds", me)]
        took = samples[("vitals_collector_duration_seconds", me)]
        if t1 <= published - took and published <= t3:
            return samples, before, after
    raise AssertionError(f"no collection fell between two psutil readings in {tries} tries")


def vitals_counts(samples):
    """{(transport, family, state): n} from a scrape; unix is ('unix', '', '')."""
    out = {}
    for (name, labels), value in samples.items():
        if name == COUNT:
            d = dict(labels)
            key = (d["network_transport"], d.get("network_type", ""), d.get("network_connection_state", ""))
            out[key] = int(value)
    return out


def psutil_counts(kind="inet", exclude_ports=()):
    """psutil.net_connections(kind) counted by vitals' keys, leaving out sockets on any of
    `exclude_ports` (local or remote)."""
    counts = Counter()
    for c in psutil.net_connections(kind):
        ports = {a.port for a in (c.laddr, c.raddr) if a}
        if ports & set(exclude_ports):
            continue
        state = STATE.get(c.status, "") if c.type == socket.SOCK_STREAM else ""
        counts[(TRANSPORT[c.type], FAMILY[c.family], state)] += 1
    return counts


def nonzero(counts):
    return {k: v for k, v in counts.items() if v and k[0] != "unix"}

"""Sockets and their owners, live, with psutil as the oracle: a server started as a binary
whose name is longer than 15 bytes listens on a TCP port and holds 5 established connections
from a client process.

- connections.listening_owners: the listener's process_pid is psutil.net_connections()'s pid
  for it, and process_executable_name that process's psutil name() (the whole name);
- processes.sockets: each group's process_network_connection_count equals psutil's
  Process.net_connections() counted over the group's processes, and each process with series
  of its own has its own counts;
- run as nobody, the processes whose descriptors cannot be read are counted, not logged.

Only the test's own processes and port are compared: other sockets on the machine come and
go. Each check reads psutil, scrapes, reads psutil again, and retries (up to a deadline)
until the two psutil readings agree and vitals equals them."""
import os
import shutil
import socket
import sys
import time
from collections import Counter

import psutil
import pytest

from conftest import Daemon, parse_exposition
from process_support import SET_COMM, kill, wait_ticks
from test_process_unprivileged import SETPRIV, as_nobody, no_process_logs, start_as_nobody  # noqa: F401

LONG = "averyveryverylongserver"
CLIENTS = 5

COLLECTORS_OFF = "".join(
    f"[collectors.{c}]\nenabled = false\n"
    for c in ("cpu", "memory", "sensors", "battery", "host", "users", "filesystem", "disk", "network",
              "interfaces"))

CONFIG = COLLECTORS_OFF + f"""
[collectors.connections]
interval = "1s"
timeout = "1s"
listening = true
listening_owners = true

[collectors.processes]
interval = "1s"
timeout = "1s"
sockets = true

# Both groups' processes get series of their own (per_process), whatever the top N.
[[collectors.processes.group]]
name = "sockserver"
comm = ["{LONG[:15]}"]
per_process = true

[[collectors.processes.group]]
name = "sockclient"
comm = ["vt-sockclient"]
per_process = true
"""

STATES = {
    psutil.CONN_ESTABLISHED: "established", psutil.CONN_SYN_SENT: "syn_sent",
    psutil.CONN_SYN_RECV: "syn_received", psutil.CONN_FIN_WAIT1: "fin_wait_1",
    psutil.CONN_FIN_WAIT2: "fin_wait_2", psutil.CONN_TIME_WAIT: "time_wait",
    psutil.CONN_CLOSE: "closed", psutil.CONN_CLOSE_WAIT: "close_wait",
    psutil.CONN_LAST_ACK: "last_ack", psutil.CONN_LISTEN: "listen", psutil.CONN_CLOSING: "closing",
}


def kind(c):
    """vitals' labels for one of psutil's pconn tuples."""
    labels = {
        "network_transport": "tcp" if c.type == socket.SOCK_STREAM else "udp",
        "network_type": "ipv4" if c.family == socket.AF_INET else "ipv6",
    }
    if c.type == socket.SOCK_STREAM:
        labels["network_connection_state"] = STATES[c.status]
    return frozenset(labels.items())


def psutil_counts(pids):
    return Counter(kind(c) for pid in pids for c in psutil.Process(pid).net_connections(kind="inet"))


def vitals_counts(v, name, **who):
    out = Counter()
    for (n, labels), x in v.items():
        d = dict(labels)
        if n == name and all(d.pop(k, None) == w for k, w in who.items()):
            out[frozenset(d.items())] = x
    return out


@pytest.fixture
def server_and_clients(tmp_path):
    """The server (a Python started through a link named LONG, so that comm is cut and
    psutil's name() is the whole name) and its client; yields (server, client, port)."""
    binary = tmp_path / LONG
    os.symlink(shutil.which("python3", path="/usr/bin:/bin") or sys.executable, binary)
    code = f"""
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen({CLIENTS})
print(s.getsockname()[1], flush=True)
held = [s.accept()[0] for _ in range({CLIENTS})]
print("ready", flush=True)
while True:
    time.sleep(3600)
"""
    import subprocess
    server = subprocess.Popen([str(binary), "-c", code], stdout=subprocess.PIPE, text=True, cwd="/")
    port = int(server.stdout.readline())
    client_code = SET_COMM + f"""set_comm("vt-sockclient")
import socket, time
held = [socket.create_connection(("127.0.0.1", {port})) for _ in range({CLIENTS})]
print("ready", flush=True)
while True:
    time.sleep(3600)
"""
    client = subprocess.Popen([sys.executable, "-c", client_code], stdout=subprocess.PIPE, text=True, cwd="/")
    try:
        assert client.stdout.readline().strip() == "ready"
        assert server.stdout.readline().strip() == "ready"
        yield server, client, port
    finally:
        kill(server, client)


def unreadable_fds():
    """Processes whose /proc/<pid>/fd links cannot be read: psutil's AccessDenied."""
    n = 0
    for pid in psutil.pids():
        fd = f"/proc/{pid}/fd"
        try:
            for name in os.listdir(fd):
                try:
                    os.readlink(f"{fd}/{name}")
                except FileNotFoundError:
                    pass
        except (FileNotFoundError, ProcessLookupError):
            pass
        except PermissionError:
            n += 1
    return n


def settled(check, timeout=30):
    """Runs check() -> (ok, detail) until ok or the deadline; fails with the last detail."""
    end = time.time() + timeout
    while True:
        ok, detail = check()
        if ok:
            return
        assert time.time() < end, detail
        time.sleep(0.2)


def test_owners_and_counts_equal_psutil(server_and_clients, tmp_path):
    server, client, port = server_and_clients
    d = Daemon([], CONFIG, tmp_path)
    try:
        d.wait_ready()
        wait_ticks(d, 2)
        owners = [c for c in psutil.net_connections(kind="tcp")
                  if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
        assert [c.pid for c in owners] == [server.pid]
        want_name = psutil.Process(server.pid).name()
        assert want_name == LONG, "psutil's name() is the whole name"

        def listener():
            v = parse_exposition(d.metrics_text())
            got = [dict(l) for (n, l) in v if n == "system_network_listener_info"
                   and dict(l).get("network_local_port") == str(port)]
            want = {"network_transport": "tcp", "network_type": "ipv4", "network_local_address": "127.0.0.1",
                    "network_local_port": str(port), "process_pid": str(server.pid),
                    "process_executable_name": want_name}
            return got == [want], got
        settled(listener)

        groups = {"sockserver": [server.pid], "sockclient": [client.pid]}
        names = {p[0]: psutil.Process(p[0]).name() for p in groups.values()}

        def counts():
            before = {g: psutil_counts(p) for g, p in groups.items()}
            v = parse_exposition(d.metrics_text())
            after = {g: psutil_counts(p) for g, p in groups.items()}
            got = {g: vitals_counts(v, "process_network_connection_count", process_group=g) for g in groups}
            # The per-process counts carry the labels of every process_detail_* series.
            per_process = {g: vitals_counts(v, "process_detail_network_connection_count",
                                            process_group=g, process_pid=str(p[0]),
                                            process_executable_name=names[p[0]])
                           for g, p in groups.items()}
            return before == after == got == per_process, (before, after, got, per_process)
        settled(counts)
        # The expected shape, so that a test that compares two empty sets cannot pass.
        listen = frozenset({("network_transport", "tcp"), ("network_type", "ipv4"),
                            ("network_connection_state", "listen")})
        established = frozenset({("network_transport", "tcp"), ("network_type", "ipv4"),
                                 ("network_connection_state", "established")})
        assert psutil_counts([server.pid]) == {listen: 1, established: CLIENTS}
        assert psutil_counts([client.pid]) == {established: CLIENTS}

        def denied():
            # Even root may be refused another process's descriptors (no CAP_SYS_PTRACE over
            # it, e.g. a sandbox's pid 1): vitals counts exactly the processes psutil's
            # readlinks are refused on, which its Process.net_connections() reports as
            # AccessDenied.
            before = unreadable_fds()
            v = parse_exposition(d.metrics_text())
            after = unreadable_fds()
            got = (v[("vitals_connections_owners_denied", frozenset())],
                   v[("vitals_process_sockets_denied", frozenset())])
            return before == after and got == (before, before), (before, after, got)
        settled(denied)
    finally:
        d.stop()


def test_unreadable_descriptors_are_counted_not_logged(as_nobody, server_and_clients):  # noqa: F811
    server, _, port = server_and_clients
    tmp = as_nobody("exec " + SETPRIV + ' {bin} "$@"')
    d = start_as_nobody(tmp, CONFIG)
    try:
        v = wait_ticks(d, 3)
        assert v[("vitals_connections_owners_denied", frozenset())] > 0
        assert v[("vitals_process_sockets_denied", frozenset())] > 0
        # Root's server cannot be read: its listener is there, without an owner.
        got = [dict(l) for (n, l) in v if n == "system_network_listener_info"
               and dict(l).get("network_local_port") == str(port)]
        assert len(got) == 1 and "process_pid" not in got[0], got
        no_process_logs(d.logs)
    finally:
        d.stop()

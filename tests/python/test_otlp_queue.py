"""The OTLP queue from the real binary to a real OTLP/HTTP receiver: a receiver outage in the
middle of 1 s pushes (every push arrives afterwards with its own timestamps, the backlog at
the configured rate while fresh pushes keep flowing), a SIGTERM and a SIGKILL with a queue
directory and the starts after them, a disk that fills, a corrupted queue file, a small
max_bytes, and delta temporality across an outage.

A request is known by otlp_receiver.identity: the time of the self-metrics snapshot the push
gathered, unique per push. The 10-minute outage is bench/otlp_outage.py."""
import gzip
import resource
import signal
import struct
import time
import zlib

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from conftest import parse_exposition
from otlp_receiver import Receiver, identity, point_value
from test_otlp import FAST_NETWORK, fixture_host, free_port, nic_points

INTERVAL = 1.0


def config(port, queue="", extra=""):
    return (f'[otlp]\nenabled = true\nendpoint = "http://127.0.0.1:{port}"\ninterval = "1s"\n'
            f'timeout = "800ms"\n{extra}[otlp.queue]\n{queue}')


def metric(d, name, **labels):
    return parse_exposition(d.metrics_text()).get((name, frozenset(labels.items())))


def wait_for(cond, seconds, what):
    end = time.time() + seconds
    while True:
        got = cond()
        if got:
            return got
        if time.time() > end:
            raise TimeoutError(what)
        time.sleep(0.1)


NO_PROCESSES = "[collectors.processes]\nenabled = false\n"


def body_bytes(received):
    """The request's size as sent (gzipped by vitals)."""
    return int({k.lower(): v for k, v in received.headers.items()}["content-length"])


def queued(d):
    return metric(d, "vitals_otlp_queue_requests") or 0


def assert_contiguous(ids, what):
    """Pushes 1 s apart, none missing: no gap longer than 1.5 intervals."""
    ids = sorted(ids)
    gaps = [(b - a) / 1e9 for a, b in zip(ids, ids[1:])]
    assert max(gaps) < 1.5 * INTERVAL, f"{what}: a push is missing (gap {max(gaps):.2f} s)"


# The queue file (src/otlp/queue_file.rs): "VQ" kind 0 len crc | payload.
def records(data):
    """[(start, end, kind, payload)] of a queue file that checks whole."""
    out, at = [], 0
    while at + 12 <= len(data):
        assert data[at:at + 2] == b"VQ", at
        kind = data[at + 2]
        (length,) = struct.unpack_from("<I", data, at + 4)
        (crc,) = struct.unpack_from("<I", data, at + 8)
        payload = data[at + 12:at + 12 + length]
        if len(payload) < length or zlib.crc32(data[at:at + 8] + payload) != crc:
            break  # a record being written
        out.append((at, at + 12 + length, kind, payload))
        at += 12 + length
    return out


def queued_identities(data):
    done = {struct.unpack_from("<Q", p)[0] for (_, _, k, p) in records(data) if k == 2}
    out = {}
    for (start, end, kind, p) in records(data):
        seq, _, _ = struct.unpack_from("<QQI", p)
        if kind == 1 and seq not in done:
            req = ExportMetricsServiceRequest()
            req.ParseFromString(gzip.decompress(p[20:]))
            out[identity(req)] = (start, end)
    return out


RATE = 3  # drain_rate of the outage test: backlog requests a second


def test_an_outage_loses_nothing_and_the_backlog_drains_at_its_rate(start_vitals):
    r = Receiver()
    port = r.port
    d = start_vitals(config(port, f"drain_rate = {RATE}\n"))
    r.wait(2)
    r.close()
    down_at = time.time()
    wait_for(lambda: queued(d) >= 10, 30, "10 pushes queued during the outage")
    assert metric(d, "vitals_otlp_queue_size_bytes") > 0
    assert metric(d, "vitals_otlp_queue_oldest_age_seconds") >= 7
    outage = time.time() - down_at
    r = Receiver(port=port)
    try:
        back_at = time.time()
        wait_for(lambda: queued(d) == 0, 60, "the backlog drained")
        drained_at = time.time()
        got = list(r.received)
    finally:
        r.close()
    ids = [identity(x.request) for x in got]
    # Everything from the first push after the outage began to the last, none missing.
    assert_contiguous(ids, "after the outage")
    assert min(ids) / 1e9 < down_at + INTERVAL, "the first push of the outage arrived"
    assert len(ids) - len(set(ids)) <= 1, "at most one request sent twice"
    # The backlog kept its own timestamps: collected during the outage, received after it.
    backlog = [x for x in got if x.at - identity(x.request) / 1e9 > 2 * INTERVAL]
    assert len(backlog) >= outage - 2, (len(backlog), outage)
    assert all(identity(x.request) / 1e9 < back_at for x in backlog)
    # At the configured rate, not faster: n requests take (n - 1) / RATE seconds at least;
    # fresh pushes kept flowing meanwhile.
    span = max(x.at for x in backlog) - min(x.at for x in backlog)
    assert span >= (len(backlog) - 1) / RATE * 0.8, f"{len(backlog)} backlog requests in {span:.1f} s"
    fresh = sorted(x.at for x in got if x.at - identity(x.request) / 1e9 <= 2 * INTERVAL and x.at >= back_at)
    assert len(fresh) >= span - 2, f"fresh pushes starved: {len(fresh)} in a {span:.1f} s drain"
    assert max(b - a for a, b in zip(fresh, fresh[1:])) < 2.5 * INTERVAL
    assert drained_at - back_at < len(backlog) / RATE + 10
    body = parse_exposition(d.metrics_text())
    for reason in ("full", "too_old", "corrupt", "rejected"):
        assert body[("vitals_otlp_queue_dropped_total", frozenset({("reason", reason)}))] == 0


def queue_on_disk(start_vitals, tmp_path):
    """A daemon pushing to a dead port with a queue directory, 4 pushes queued there."""
    port = free_port()
    qdir = tmp_path / "queue"
    cfg = config(port, f'dir = "{qdir}"\n')
    d = start_vitals(cfg)
    wait_for(lambda: queued(d) >= 4, 30, "4 pushes queued")
    return d, cfg, qdir, port


def test_sigterm_then_sigkill_during_an_outage_keep_the_queue_for_the_next_start(start_vitals, tmp_path):
    d, cfg, qdir, port = queue_on_disk(start_vitals, tmp_path)
    path = qdir / "queue.log"
    # A second daemon on the same directory does not share it: memory only, said once.
    other = start_vitals(cfg)
    assert metric(other, "vitals_otlp_queue_disk_up") == 0
    assert any("unusable" in e.get("fields", {}).get("message", "") for e in other.logs)
    other.stop()
    assert metric(d, "vitals_otlp_queue_disk_up") == 1
    # SIGTERM: the final export is attempted (and fails); all that is queued stays on disk.
    n = queued(d)
    term_at = time.time()
    assert d.stop() == 0
    kept = queued_identities(path.read_bytes())
    assert len(kept) >= n + 1, f"{len(kept)} requests on disk, {n} queued before SIGTERM"
    assert max(kept) / 1e9 >= term_at, "the final push at SIGTERM was queued too"
    # The next start, still in the outage, takes them in; then SIGKILL.
    d = start_vitals(cfg)
    wait_for(lambda: queued(d) >= len(kept) + 2, 20, "the kept requests and new pushes queued")
    before = queued_identities(path.read_bytes())
    assert kept.keys() <= before.keys()
    assert metric(d, "vitals_otlp_queue_disk_written_bytes_total") >= sum(e - s for s, e in before.values())
    d.stop(signal.SIGKILL)
    r = Receiver(port=port)
    try:
        d = start_vitals(cfg)
        wait_for(lambda: before.keys() <= {identity(x.request) for x in r.received}, 30,
                 "everything queued before the kill arrived")
        wait_for(lambda: queued(d) == 0, 30, "the queue emptied")
        # Nothing left: an empty file once the queue is (between pushes).
        wait_for(lambda: path.stat().st_size == 0, 10, "the file emptied")
        ids = [identity(x.request) for x in r.received]
    finally:
        r.close()
    assert len(ids) - len(set(ids)) <= 1, "at most one request sent twice"
    assert metric(d, "vitals_otlp_queue_dropped_total", reason="corrupt") == 0


def test_a_full_disk_leaves_the_queue_in_memory_with_one_log_line(start_vitals, tmp_path):
    d, cfg, qdir, port = queue_on_disk(start_vitals, tmp_path)
    path = qdir / "queue.log"
    # A file-size limit on the running daemon: the next record's write fails (EFBIG) after
    # its first 100 bytes, as on a disk that fills.
    limit = path.stat().st_size + 100
    resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (limit, limit))
    n = queued(d)
    wait_for(lambda: metric(d, "vitals_otlp_queue_disk_up") == 0, 10, "the directory given up")
    wait_for(lambda: queued(d) >= n + 3, 10, "pushes still queued, in memory")
    assert d.proc.poll() is None
    lines = [e for e in d.logs if "kept in memory only" in e.get("fields", {}).get("message", "")]
    assert len(lines) == 1, lines
    # What the file held went stale (memory sends it now): emptied, not sent again later.
    assert path.stat().st_size == 0
    assert lines[0]["fields"].get("file_emptied") is True
    r = Receiver(port=port)
    try:
        wait_for(lambda: queued(d) == 0, 30, "the backlog drained from memory")
        ids = [identity(x.request) for x in r.received]
    finally:
        r.close()
    assert len(ids) >= n + 3
    assert_contiguous(ids, "every push since the start")
    assert len(ids) - len(set(ids)) <= 1


def test_a_corrupt_queue_file_is_skipped_counted_and_the_rest_delivered(start_vitals, tmp_path):
    d, cfg, qdir, port = queue_on_disk(start_vitals, tmp_path)
    d.stop(signal.SIGKILL)
    path = qdir / "queue.log"
    data = bytearray(path.read_bytes())
    recs = queued_identities(bytes(data))
    order = sorted(recs, key=lambda i: recs[i][0])
    # Flip bytes in the second record's body; cut the last one in its middle.
    flipped, torn = order[1], order[-1]
    s, e = recs[flipped]
    for i in range(s + 40, s + 48):
        data[i] ^= 0x5A
    s, e = recs[torn]
    del data[(s + e) // 2:]
    path.write_bytes(bytes(data))
    r = Receiver(port=port)
    try:
        d = start_vitals(cfg)
        assert d.proc.poll() is None
        want = set(order) - {flipped, torn}
        wait_for(lambda: want <= {identity(x.request) for x in r.received}, 30, "the intact records arrived")
        got = {identity(x.request) for x in r.received}
    finally:
        r.close()
    assert flipped not in got and torn not in got
    assert metric(d, "vitals_otlp_queue_dropped_total", reason="corrupt") == 2
    assert any(e.get("fields", {}).get("records") == 2 for e in d.logs), "one log line says how many"


def test_a_small_queue_drops_the_oldest_first_and_counts(start_vitals):
    r = Receiver()
    port = r.port
    max_bytes = 40 * 1024
    # Without the process groups a request's size does not follow what else the host runs.
    d = start_vitals(NO_PROCESSES + config(port, f"max_bytes = {max_bytes}\n"))
    r.wait(2)
    size = max(body_bytes(x) for x in r.received)
    assert size * 3 < max_bytes, f"a request is {size} bytes gzipped: too big for the test"
    r.close()
    wait_for(lambda: (metric(d, "vitals_otlp_queue_dropped_total", reason="full") or 0) >= 3, 30,
             "requests dropped for room")
    sizes = [metric(d, "vitals_otlp_queue_size_bytes") for _ in range(5)]
    assert max(sizes) <= max_bytes
    held = queued(d)
    recovered_at = time.time()
    r = Receiver(port=port)
    try:
        wait_for(lambda: queued(d) == 0, 30, "the backlog drained")
        got = [x for x in r.received]
    finally:
        r.close()
    dropped = metric(d, "vitals_otlp_queue_dropped_total", reason="full")
    ids = sorted(identity(x.request) for x in got)
    # What arrived is the newest: from the oldest kept on, none missing.
    assert_contiguous(ids, "the kept suffix")
    backlog = [i for i in ids if i / 1e9 < recovered_at]
    assert len(backlog) >= held - 1
    assert dropped >= 3
    assert metric(d, "vitals_otlp_points_total", outcome="dropped") > 0


def test_delta_sums_to_the_counter_across_an_outage(start_vitals, tmp_path):
    root = fixture_host(tmp_path)
    dev = root / "proc/net/dev"
    original = dev.read_text()
    r = Receiver()
    port = r.port
    d = start_vitals(FAST_NETWORK + config(port, "drain_rate = 20\n", 'temporality = "delta"\n'),
                     args=("--procfs", str(root / "proc"), "--sysfs", str(root / "sys")))
    r.wait(2)
    value = 9813345617
    step = 0

    def bump(n):
        nonlocal value, step
        for _ in range(n):
            step += 1
            value += 1000 * step
            dev.write_text(original.replace("9813345617", str(value)))
            time.sleep(0.4)

    bump(3)
    r.close()
    bump(7)
    wait_for(lambda: queued(d) >= 3, 20, "pushes queued")
    r2 = Receiver(port=port)
    try:
        bump(3)
        wait_for(lambda: queued(d) == 0, 30, "the backlog drained")
        n = len(r2.received)
        r2.wait(n + 2)  # the last value pushed
        got = r.received + r2.received
    finally:
        r2.close()
    total = 0.0
    for x in got:
        p = nic_points(x).get("eth0")
        if p is not None:
            total += point_value(p)
    assert total == value, f"the deltas sum to the counter ({total} != {value})"
    # Each delta starts where another ended: sorted by start, they chain.
    spans = sorted((p.start_time_unix_nano, p.time_unix_nano) for x in got
                   for p in [nic_points(x).get("eth0")] if p is not None)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), "no increase counted twice or lost"

"""The OTLP queue from the real binary to a real OTLP/HTTP receiver: a receiver outage in the
middle of 1 s pushes (every push arrives afterwards with its own timestamps, the backlog at
the configured rate while fresh pushes keep flowing), a SIGKILL and restart with a queue
directory, a corrupted queue file, a small max_bytes, and delta temporality across an outage.

A request is known by otlp_receiver.identity: the time of the self-metrics snapshot the push
gathered, unique per push. The 10-minute outage is bench/otlp_outage.py."""
import gzip
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


def test_an_outage_loses_nothing_and_the_backlog_drains_at_its_rate(start_vitals):
    r = Receiver()
    port = r.port
    d = start_vitals(config(port, "drain_rate = 2\n"))
    r.wait(3)
    r.close()
    down_at = time.time()
    wait_for(lambda: queued(d) >= 20, 40, "20 pushes queued during the outage")
    assert metric(d, "vitals_otlp_queue_size_bytes") > 0
    assert metric(d, "vitals_otlp_queue_oldest_age_seconds") >= 15
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
    # At the configured rate: 2 a second, so ~n/2 seconds; fresh pushes kept flowing.
    span = max(x.at for x in backlog) - min(x.at for x in backlog)
    assert span >= (len(backlog) - 1) / 2 * 0.8, f"{len(backlog)} backlog requests in {span:.1f} s"
    fresh = sorted(x.at for x in got if x.at - identity(x.request) / 1e9 <= 2 * INTERVAL and x.at >= back_at)
    assert len(fresh) >= span - 2, f"fresh pushes starved: {len(fresh)} in a {span:.1f} s drain"
    assert max(b - a for a, b in zip(fresh, fresh[1:])) < 2.5 * INTERVAL
    assert drained_at - back_at < len(backlog) / 2 + 10
    body = parse_exposition(d.metrics_text())
    for reason in ("full", "too_old", "corrupt", "rejected"):
        assert body[("vitals_otlp_queue_dropped_total", frozenset({("reason", reason)}))] == 0


def queue_on_disk(start_vitals, tmp_path):
    """A daemon pushing to a dead port with a queue directory, 6 pushes queued there."""
    port = free_port()
    qdir = tmp_path / "queue"
    cfg = config(port, f'dir = "{qdir}"\n')
    d = start_vitals(cfg)
    wait_for(lambda: queued(d) >= 6, 30, "6 pushes queued")
    return d, cfg, qdir, port


def test_sigkill_during_an_outage_then_restart_delivers_what_was_queued(start_vitals, tmp_path):
    d, cfg, qdir, port = queue_on_disk(start_vitals, tmp_path)
    # A second daemon on the same directory does not share it: memory only, said once.
    other = start_vitals(cfg)
    assert metric(other, "vitals_otlp_queue_disk_up") == 0
    assert any("unusable" in e.get("fields", {}).get("message", "") for e in other.logs)
    other.stop()
    before = queued_identities((qdir / "queue.log").read_bytes())
    assert len(before) >= 6
    assert metric(d, "vitals_otlp_queue_disk_up") == 1
    assert metric(d, "vitals_otlp_queue_disk_written_bytes_total") >= sum(e - s for s, e in before.values())
    d.stop(signal.SIGKILL)
    r = Receiver(port=port)
    try:
        d = start_vitals(cfg)
        wait_for(lambda: before.keys() <= {identity(x.request) for x in r.received}, 30,
                 "everything queued before the kill arrived")
        wait_for(lambda: queued(d) == 0, 30, "the queue emptied")
        # Nothing left: an empty file once the queue is (between pushes).
        wait_for(lambda: (qdir / "queue.log").stat().st_size == 0, 10, "the file emptied")
    finally:
        r.close()
    assert metric(d, "vitals_otlp_queue_dropped_total", reason="corrupt") == 0


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
    max_bytes = 64 * 1024
    d = start_vitals(config(port, f"max_bytes = {max_bytes}\n"))
    r.wait(2)
    size = len(gzip.compress(r.received[-1].request.SerializeToString()))
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

    bump(4)
    r.close()
    bump(10)
    wait_for(lambda: queued(d) >= 3, 20, "pushes queued")
    r2 = Receiver(port=port)
    try:
        bump(4)
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

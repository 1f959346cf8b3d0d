#!/usr/bin/env python3
"""The size of one OTLP request at a given config (the default when none is given): vitals
pushes to a real OTLP/HTTP receiver (tests/python/otlp_receiver.py), and the second request
is measured as sent (Content-Length, vitals' own gzip) and as protobuf, with its points and
the metrics that weigh most. The queue's sizing rule (README, [otlp.queue]) takes this figure.

    .venv/bin/python bench/otlp_request_size.py [--config-extra TOML] [--bin target/release/vitals]
"""
import argparse
import collections
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
from otlp_receiver import Receiver, points  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config-extra", default="", help="TOML put before [otlp]")
    ap.add_argument("--bin", default="target/release/vitals")
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    r = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = pathlib.Path(tmp) / "vitals.toml"
        cfg.write_text(f'[server]\nlisten = "127.0.0.1:0"\n{args.config_extra}\n[otlp]\nenabled = true\n'
                       f'endpoint = "http://127.0.0.1:{r.port}"\ninterval = "2s"\ntimeout = "1s"\n')
        proc = subprocess.Popen([args.bin, "--config", str(cfg)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            got = r.wait(2, seconds=60)
        finally:
            proc.terminate()
            proc.wait(30)
            r.close()
    sent = int({k.lower(): v for k, v in got.headers.items()}["content-length"])
    weight, count = collections.Counter(), collections.Counter()
    for rm in got.request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                weight[m.name] += m.ByteSize()
                count[m.name] += len(points(m))
    procs = sum(1 for p in pathlib.Path("/proc").iterdir() if p.name.isdigit())
    print(f"one request: {sent} bytes sent (gzip), {got.request.ByteSize()} bytes of protobuf, "
          f"{sum(count.values())} points in {len(weight)} metrics; {procs} processes on the host")
    for name, b in weight.most_common(args.top):
        print(f"  {b:8d} bytes {count[name]:6d} points  {name}")


if __name__ == "__main__":
    main()

"""A real OTLP/HTTP receiver for the tests: decodes each ExportMetricsServiceRequest with the
opentelemetry-proto package, records it with its headers, and answers as told (200, or a
status with Retry-After for the first N requests). Optionally over TLS."""
import gzip
import http.server
import ssl
import threading
import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)


class Received:
    def __init__(self, request, headers, at):
        self.request = request
        self.headers = headers
        self.at = at

    def metrics(self, scope=None):
        """{name: Metric} over the request's scopes (or one scope)."""
        out = {}
        for rm in self.request.resource_metrics:
            for sm in rm.scope_metrics:
                if scope is None or sm.scope.name == scope:
                    for m in sm.metrics:
                        out[m.name] = m
        return out

    def resource(self):
        return {kv.key: value(kv.value) for kv in self.request.resource_metrics[0].resource.attributes}


def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def points(metric):
    kind = metric.WhichOneof("data")
    return list(getattr(metric, kind).data_points)


def point_value(p):
    return p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)


def identity(request):
    """The push a request came from: the time of the registry's own self-metrics snapshot,
    made at each gather, so unique per push (ns)."""
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == "vitals.otlp.exports":
                    return points(m)[0].time_unix_nano
    raise AssertionError("a request without vitals.otlp.exports")


def attrs(p):
    return {kv.key: value(kv.value) for kv in p.attributes}


class Receiver:
    def __init__(self, port=0, fail_first=0, fail_status=503, retry_after=None, tls=None, partial=None):
        self.received = []
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.retry_after = retry_after
        self.requests_seen = 0
        self.partial = partial  # (rejected points, message) in every answer
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests_seen += 1
                if receiver.requests_seen <= receiver.fail_first:
                    self.send_response(receiver.fail_status)
                    if receiver.retry_after is not None:
                        self.send_header("Retry-After", str(receiver.retry_after))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                req = ExportMetricsServiceRequest()
                req.ParseFromString(body)
                receiver.received.append(Received(req, dict(self.headers), time.time()))
                answer = ExportMetricsServiceResponse()
                if receiver.partial:
                    answer.partial_success.rejected_data_points = receiver.partial[0]
                    answer.partial_success.error_message = receiver.partial[1]
                answer = answer.SerializeToString()
                self.send_response(200 if self.path == "/v1/metrics" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n=1, seconds=15):
        end = time.time() + seconds
        while len(self.received) < n:
            if time.time() > end:
                raise TimeoutError(f"{len(self.received)} OTLP requests, wanted {n}")
            time.sleep(0.05)
        return self.received[-1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

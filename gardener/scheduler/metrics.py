"""The scheduler's Prometheus metrics (in a registry of its own) and the HTTP endpoint serving them and /healthz."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.attempts = Counter(
            "gardener_scheduler_schedule_attempts",
            "Scheduling attempts by result: scheduled, unschedulable (no Seed fits) or error (binding failed).",
            ["result"],
            registry=self.registry,
        )
        self.failures = Counter(
            "gardener_scheduler_schedule_failures",
            "Unschedulable attempts by reason; an attempt counts once for each distinct reason among its Seeds.",
            ["reason"],
            registry=self.registry,
        )
        self.bind_latency = Histogram(
            "gardener_scheduler_bind_latency_seconds",
            "From first seeing an unscheduled Shoot to the API server accepting its binding.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pending = Gauge(
            "gardener_scheduler_pending_shoots",
            "Shoots waiting for a Seed, including those that fit nowhere.",
            registry=self.registry,
        )

    def scheduled(self, latency: float) -> None:
        self.attempts.labels("scheduled").inc()
        self.bind_latency.observe(latency)

    def unschedulable(self, reasons: Iterable[str]) -> None:
        self.attempts.labels("unschedulable").inc()
        for reason in reasons:
            self.failures.labels(reason).inc()

    def error(self) -> None:
        self.attempts.labels("error").inc()


def serve(registry: CollectorRegistry, *, address: str, port: int, healthy: Callable[[], bool]) -> ThreadingHTTPServer:
    """/metrics, and /healthz answering 200 once `healthy()` holds; runs in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok = healthy()
                self._reply(200 if ok else 503, b"ok" if ok else b"not synced", "text/plain")
            else:
                self._reply(404, b"not found", "text/plain")

        def _reply(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server

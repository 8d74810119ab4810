"""The agent's /metrics (Prometheus) and /healthz, served on a loopback port."""

from __future__ import annotations

import socket
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pods = Gauge("nodeagent_pods", "Pods with a worker on this node", registry=self.registry)
        self.containers_running = Gauge(
            "nodeagent_containers_running", "Container processes running", registry=self.registry
        )
        self.container_restarts = Counter(
            "nodeagent_container_restarts", "Containers restarted after they exited", registry=self.registry
        )
        self.workload_pods_created = Counter(
            "nodeagent_workload_pods_created", "Pods created for Deployments and StatefulSets", registry=self.registry
        )
        self.services = Gauge("nodeagent_service_proxies", "Service addresses with a proxy", registry=self.registry)
        self.proxy_connections = Counter(
            "nodeagent_proxy_connections", "Connections accepted by service proxies", registry=self.registry
        )
        self.reconcile_errors = Counter(
            "nodeagent_reconcile_errors", "Failed reconciles", ["queue"], registry=self.registry
        )


class MetricsServer:
    """GET /metrics and /healthz; healthy while `healthy()` says so (caches synced, loop alive)."""

    def __init__(self, metrics: Metrics, *, healthy: Callable[[], bool]) -> None:
        self._metrics = metrics
        self._healthy = healthy
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        app = web.Application()
        app.router.add_get("/metrics", self._serve_metrics)
        app.router.add_get("/healthz", self._serve_health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        await web.SockSite(self._runner, sock).start()
        self.port = int(sock.getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve_metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _serve_health(self, _: web.Request) -> web.Response:
        if self._healthy():
            return web.Response(text="ok")
        return web.Response(status=503, text="not ready")

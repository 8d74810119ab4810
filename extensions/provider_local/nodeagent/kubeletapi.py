"""The kubelet's HTTPS API (upstream's port 10250, pkg/kubelet/server/server.go): what the API server reaches for
`kubectl logs`, `exec`, `attach`, `port-forward` and `nodes/proxy`, and what monitoring scrapes.

Routes as upstream's: `/healthz`, `/pods`, `/containerLogs/{ns}/{pod}/{container}`, `/exec` and `/attach` (with
or without the pod's uid), `/portForward/{ns}/{pod}[/{uid}]`, `/metrics` and `/metrics/resource`. Every request
is authenticated and authorized first (`kubeletauth`). The server sees pods only through a `PodSource`, which the
kubelet implements from its pod workers, so that this module knows HTTP, streams and /proc, not pod life cycles.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import importlib
import json
import logging
import math
import os
import socket
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from extensions.provider_local.nodeagent import logs
from extensions.provider_local.nodeagent.channels import (
    STDOUT,
    ChannelSession,
    ExecLaunch,
    StreamOptions,
    StreamOptionsError,
    internal_error_status,
    negotiate,
    offered_protocols,
    run_command,
    success_status,
)
from extensions.provider_local.nodeagent.kubeletauth import KubeletAuth
from gardener.runtime.process import PidFile

__all__ = ["ExecLaunch", "KubeletServer", "PodSource"]

log = logging.getLogger("provider_local.nodeagent.kubeletapi")

Obj = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TEXT = "text/plain; charset=utf-8"
METRICS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
#: upstream's request-metric buckets (the root of a path, `metrics/<x>` for metrics endpoints); others are "other"
_BUCKETS = frozenset(
    {
        "healthz",
        "pods",
        "stats",
        "metrics",
        "metrics/cadvisor",
        "metrics/probes",
        "metrics/resource",
        "logs",
        "debug",
        "run",
        "exec",
        "attach",
        "portForward",
        "containerLogs",
        "configz",
        "runningpods",
        "checkpoint",
    }
)
_METHODS = frozenset({"OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT"})
# upstream's map, whose "portforward" never matches the "portForward" bucket: port-forwards count as short
_LONG_RUNNING = frozenset({"exec", "attach", "portforward", "debug"})


class PodSource(Protocol):
    """The pods this node runs, as the kubelet knows them."""

    def pods(self) -> list[Obj]:
        """Every pod bound to this node, each with its current status (the kubelet's, not the API's copy)."""
        ...

    def pod(self, namespace: str, name: str) -> Obj | None:
        """One of them, with its current status; None when this node does not run it."""
        ...

    def container_dir(self, namespace: str, name: str, container: str) -> Path | None:
        """`<pod-dir>/containers/<container>` (pid file, `log`, `log.previous`, their indexes); None if unknown."""
        ...

    def exec_launch(self, namespace: str, name: str, container: str, command: Sequence[str]) -> ExecLaunch:
        """How `command` runs in the container: the same environment and directory, the argv mapped through the
        image table. Raises (with a message for the user) when it cannot run here, e.g. an unknown image."""
        ...


@dataclass(frozen=True)
class _Streaming:
    """An exec or attach request that passed the checks: its container's running instance, the subprotocol."""

    namespace: str
    pod: str
    container: str
    options: StreamOptions
    directory: Path
    instance: PidFile
    protocol: str


def _instance(source: PodSource, namespace: str, name: str, container: str) -> tuple[Path, PidFile] | None:
    """The container's directory and running process, if it runs."""
    directory = source.container_dir(namespace, name, container)
    record = PidFile.read(directory / "pid") if directory is not None else None
    if directory is None or record is None or not record.alive():
        return None
    return directory, record


def _connected(request: web.Request) -> Callable[[], bool]:
    return lambda: request.transport is not None and not request.transport.is_closing()


def _bucket(path: str) -> str:
    parts = path.lstrip("/").split("/", 2)
    root = f"{parts[0]}/{parts[1]}" if parts[0] == "metrics" and len(parts) > 1 else parts[0]
    return root if root in _BUCKETS else "other"


class KubeletServer:
    """The node's kubelet API on one HTTPS socket."""

    def __init__(self, source: PodSource, *, auth: KubeletAuth, clock: Callable[[], float] = time.time) -> None:
        self._source = source
        self._auth = auth
        self._clock = clock
        self._requests: Counter[tuple[str, str, str, str]] = Counter()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.app = web.Application(middlewares=[self._count, auth.middleware()])
        routes = self.app.router
        routes.add_get("/healthz", self._healthz)
        routes.add_get("/pods", self._pods)
        routes.add_get("/metrics", self._metrics)
        routes.add_get("/metrics/resource", self._resource_metrics)
        routes.add_get("/containerLogs/{ns}/{pod}/{container}", self._container_logs)
        for kind, handler in (("exec", self._exec), ("attach", self._attach)):
            for path in (f"/{kind}/{{ns}}/{{pod}}/{{container}}", f"/{kind}/{{ns}}/{{pod}}/{{uid}}/{{container}}"):
                routes.add_get(path, handler)
                routes.add_post(path, handler)
        for path in ("/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"):
            routes.add_get(path, self._port_forward)
            routes.add_post(path, self._port_forward)

    async def start(self, *, host: str, port: int, ssl_context: ssl.SSLContext) -> int:
        """Listen on host:port (0: any free port); the bound port."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        await web.SockSite(self._runner, sock, ssl_context=ssl_context).start()
        self.port = int(sock.getsockname()[1])
        log.info("Kubelet API serving", extra={"address": host, "port": self.port})
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = _bucket(request.path)
        method = request.method if request.method in _METHODS else "other"
        self._requests[(method, path, "readwrite", str(path in _LONG_RUNNING).lower())] += 1
        return await handler(request)

    # ---- plain endpoints ----

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok", headers={"Content-Type": TEXT, "X-Content-Type-Options": "nosniff"})

    async def _pods(self, _: web.Request) -> web.Response:
        items = [{k: v for k, v in pod.items() if k not in ("kind", "apiVersion")} for pod in self._source.pods()]
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return web.Response(body=json.dumps(body).encode(), content_type="application/json")

    # ---- logs ----

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        ns, name, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        try:
            options = logs.parse_options(request.query, now=dt.datetime.now(dt.UTC))
            pod = self._source.pod(ns, name)
            if pod is None:
                raise logs.LogRequestError(404, f'pod "{name}" does not exist')
            if not logs.has_container(pod, container):
                raise logs.LogRequestError(404, f'container "{container}" not found in pod "{name}"')
            directory = self._source.container_dir(ns, name, container)
            if directory is None:
                raise logs.LogRequestError(400, f'container "{container}" in pod "{name}" is not available')
            source = logs.choose(pod, container, previous=options.previous, directory=directory)
        except logs.LogRequestError as exc:
            return web.Response(status=exc.status, text=exc.message)
        response = web.StreamResponse(headers={"Content-Type": TEXT})
        await response.prepare(request)
        try:
            await logs.stream(source, options, response.write, alive=_connected(request))
            await response.write_eof()
        except ConnectionError:
            pass  # the client went away
        return response

    # ---- exec and attach ----

    async def _streaming_request(self, request: web.Request) -> _Streaming | web.Response:
        """Upstream's checks before an exec or attach starts, in its order: what to run, or the error answer."""
        try:
            options = StreamOptions.from_query(request.query)
        except StreamOptionsError as exc:
            return web.Response(status=400, text=str(exc))
        ns, name, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        pod = self._source.pod(ns, name)
        if pod is None:
            return web.Response(status=404, text="pod does not exist")
        uid = request.match_info.get("uid")
        instance = _instance(self._source, ns, name, container)
        if instance is None or (uid and uid != (pod.get("metadata") or {}).get("uid")):
            return web.Response(status=500, text=f'container not found ("{container}")')
        if request.headers.get("Upgrade", "").lower() != "websocket":
            if request.headers.get("Upgrade"):
                return web.Response(status=400, text="unable to upgrade: this kubelet streams over WebSockets only")
            return web.Response(status=500, text="Upgrade request required\n")
        protocol = negotiate(offered_protocols(request))
        if protocol is None:
            return web.Response(status=403)  # what Go's websocket server answers when no subprotocol fits
        return _Streaming(
            namespace=ns,
            pod=name,
            container=container,
            options=options,
            directory=instance[0],
            instance=instance[1],
            protocol=protocol,
        )

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        req = await self._streaming_request(request)
        if isinstance(req, web.Response):
            return req
        where = {"pod": f"{req.namespace}/{req.pod}", "container": req.container}
        command = request.query.getall("command", [])
        session = await ChannelSession.accept(request, protocol=req.protocol, options=req.options)
        try:
            launch = self._source.exec_launch(req.namespace, req.pod, req.container, command)
        except Exception as exc:
            log.info("Exec refused", extra={**where, "error": str(exc)})
            await session.finish(internal_error_status(f"error executing command in container: {exc}"))
            return session.response
        log.info("Exec", extra={**where, "tty": req.options.tty})
        await run_command(session, launch, command=command)
        return session.response

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        """Our containers write to their log file, not to a terminal: attach streams what they write from now on
        (stdout and stderr together, on stdout) until they stop; there is no stdin to write to."""
        req = await self._streaming_request(request)
        if isinstance(req, web.Response):
            return req
        session = await ChannelSession.accept(request, protocol=req.protocol, options=req.options)

        async def write(data: bytes) -> None:
            if req.options.stdout:
                await session.send(STDOUT, data)

        await logs.follow_output(req.directory / logs.LOG, req.instance, write, alive=lambda: not session.gone.is_set())
        if session.gone.is_set():
            await session.close()
        else:
            await session.finish(success_status())
        return session.response

    # ---- port-forward ----

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        ns, name = request.match_info["ns"], request.match_info["pod"]
        pod = self._source.pod(ns, name)
        if pod is None:
            return web.Response(status=404, text="pod does not exist")
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        if request.match_info.get("uid") and request.match_info["uid"] != uid:
            return web.Response(status=404, text="pod not found")
        address = str((pod.get("status") or {}).get("podIP") or "")

        async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            if not address:
                raise ConnectionRefusedError("the pod has no IP address yet")
            return await asyncio.open_connection(address, port)

        # imported here: the module is optional for everything else this server does
        portforward = importlib.import_module("extensions.provider_local.nodeagent.portforward")
        handle: Callable[..., Awaitable[web.StreamResponse]] = portforward.handle
        return await handle(request, dial=dial, pod_uid=uid)

    # ---- metrics ----

    async def _metrics(self, _: web.Request) -> web.Response:
        running = exited = pods_running = 0
        for pod in self._source.pods():
            m, status = pod.get("metadata") or {}, pod.get("status") or {}
            # a pod's "sandbox" here is its address and directory, there from start until it is done
            if status.get("podIP") and status.get("phase") not in ("Succeeded", "Failed"):
                pods_running += 1
            for container in _container_statuses(pod):
                if _instance(self._source, str(m.get("namespace")), str(m.get("name")), str(container.get("name"))):
                    running += 1
                elif "terminated" in (container.get("state") or {}):
                    exited += 1
        containers = [({"container_state": "exited"}, exited, None), ({"container_state": "running"}, running, None)]
        text = "".join(
            [
                _family(
                    "kubelet_http_requests_total",
                    "counter",
                    "[ALPHA] Number of the http requests received since the server started",
                    [
                        ({"method": k[0], "path": k[1], "server_type": k[2], "long_running": k[3]}, n, None)
                        for k, n in self._requests.items()
                    ],
                ),
                _family(
                    "kubelet_running_containers", "gauge", "[ALPHA] Number of containers currently running", containers
                ),
                _family(
                    "kubelet_running_pods",
                    "gauge",
                    "[ALPHA] Number of pods that have a running pod sandbox",
                    [({}, pods_running, None)],
                ),
            ]
        )
        return web.Response(body=text.encode(), headers={"Content-Type": METRICS_TEXT})

    async def _resource_metrics(self, _: web.Request) -> web.Response:
        text = resource_metrics(self._source, now=self._clock())
        return web.Response(body=text.encode(), headers={"Content-Type": METRICS_TEXT})


def _container_statuses(pod: Obj) -> list[Obj]:
    status = pod.get("status") or {}
    return [*(status.get("containerStatuses") or []), *(status.get("initContainerStatuses") or [])]


# ---- Prometheus text, as Go's expfmt writes it ------------------------------------------------------------------


def go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64): the shortest digits, in exponent form from 1e6 and below 1e-4."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    digits = decimal.Decimal(repr(float(value))).normalize()
    exponent = digits.adjusted()
    if exponent < -4 or exponent >= 6:
        mantissa = format(digits.scaleb(-exponent), "f")
        return f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return format(digits, "f")


Sample = tuple[dict[str, str], float, int | None]


def _family(name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> str:
    """One metric family; no text at all without samples, as Go's registry leaves out empty families."""
    rows = []
    for labels, value, stamp in samples:
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        series = f"{name}{{{label_text}}}" if label_text else name
        rows.append(f"{series} {go_float(value)}" + (f" {stamp}" if stamp is not None else "") + "\n")
    if not rows:
        return ""
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n" + "".join(sorted(rows))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


# ---- resource usage from /proc ----------------------------------------------------------------------------------


def _proc_table(proc: Path) -> dict[int, list[tuple[int, int]]]:
    """session id -> [(pid, CPU ticks incl. waited-for children)] of every process."""
    sessions: dict[int, list[tuple[int, int]]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        sessions.setdefault(int(fields[3]), []).append((int(entry.name), ticks))
    return sessions


def _memory(proc: Path, pid: int) -> int:
    """Proportional set size (shared pages split among their users, so sums add up), else resident size."""
    try:
        for line in (proc / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int((proc / str(pid) / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _node_usage(proc: Path) -> tuple[float, int]:
    fields = [int(f) for f in (proc / "stat").read_text().splitlines()[0].split()[1:]]
    busy = sum(fields[i] for i in (0, 1, 2, 5, 6, 7) if i < len(fields))  # not idle, iowait or guest (in user)
    info = {}
    for line in (proc / "meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        info[key] = int(rest.split()[0]) * 1024
    used = info.get("MemTotal", 0) - info.get("MemFree", 0)
    return busy / os.sysconf("SC_CLK_TCK"), max(used - info.get("Inactive(file)", 0), 0)


def _started(status: Obj) -> float | None:
    started = ((status.get("state") or {}).get("running") or {}).get("startedAt")
    try:
        return dt.datetime.fromisoformat(str(started).replace("Z", "+00:00")).timestamp() if started else None
    except ValueError:
        return None


def resource_metrics(source: PodSource, *, now: float, proc: Path = Path("/proc")) -> str:
    """upstream's /metrics/resource from /proc: a container is its process session (the session its main process
    leads): CPU is the time of its live processes and of the children they waited for, memory their proportional
    set size. Execs run in sessions of their own and are not counted; CPU of a process that exited unwaited is
    lost, so a counter may step back."""
    stamp = int(now * 1000)
    tick = os.sysconf("SC_CLK_TCK")
    failed = 0
    node_cpu: list[Sample] = []
    node_memory: list[Sample] = []
    samples: dict[str, list[Sample]] = {k: [] for k in ("cpu", "memory", "start", "pod_cpu", "pod_memory")}
    try:
        cpu, memory = _node_usage(proc)
        node_cpu.append(({}, cpu, stamp))
        node_memory.append(({}, memory, stamp))
        sessions = _proc_table(proc)
    except (OSError, ValueError, IndexError) as exc:
        log.warning("Cannot read node usage", extra={"error": str(exc)})
        sessions, failed = {}, 1
    for pod in source.pods():
        m = pod.get("metadata") or {}
        ns, name = str(m.get("namespace") or ""), str(m.get("name") or "")
        pod_labels = {"namespace": ns, "pod": name}
        pod_cpu, pod_memory, any_running = 0.0, 0, False
        for status in _container_statuses(pod):
            container = str(status.get("name") or "")
            instance = _instance(source, ns, name, container)
            if instance is None:
                continue
            members = sessions.get(instance[1].pid, [])
            cpu_seconds = sum(t for _, t in members) / tick
            memory_bytes = sum(_memory(proc, pid) for pid, _ in members)
            labels = {**pod_labels, "container": container}
            samples["cpu"].append((labels, cpu_seconds, stamp))
            samples["memory"].append((labels, memory_bytes, stamp))
            started = _started(status)
            if started is not None:
                samples["start"].append((labels, started, None))
            pod_cpu, pod_memory, any_running = pod_cpu + cpu_seconds, pod_memory + memory_bytes, True
        if any_running:
            samples["pod_cpu"].append((pod_labels, pod_cpu, stamp))
            samples["pod_memory"].append((pod_labels, pod_memory, stamp))
    stable = "[STABLE] "
    return "".join(
        [
            _family(
                "container_cpu_usage_seconds_total",
                "counter",
                stable + "Cumulative cpu time consumed by the container in core-seconds",
                samples["cpu"],
            ),
            _family(
                "container_memory_working_set_bytes",
                "gauge",
                stable + "Current working set of the container in bytes",
                samples["memory"],
            ),
            _family(
                "container_start_time_seconds",
                "gauge",
                stable + "Start time of the container since unix epoch in seconds",
                samples["start"],
            ),
            _family(
                "node_cpu_usage_seconds_total",
                "counter",
                stable + "Cumulative cpu time consumed by the node in core-seconds",
                node_cpu,
            ),
            _family(
                "node_memory_working_set_bytes",
                "gauge",
                stable + "Current working set of the node in bytes",
                node_memory,
            ),
            _family(
                "pod_cpu_usage_seconds_total",
                "counter",
                stable + "Cumulative cpu time consumed by the pod in core-seconds",
                samples["pod_cpu"],
            ),
            _family(
                "pod_memory_working_set_bytes",
                "gauge",
                stable + "Current working set of the pod in bytes",
                samples["pod_memory"],
            ),
            _family(
                "resource_scrape_error",
                "gauge",
                stable + "1 if there was an error while getting container metrics, 0 otherwise",
                [({}, failed, None)],
            ),
        ]
    )

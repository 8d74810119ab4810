"""The health checks behind a Shoot's conditions: each answers (status, reason, message) from what it sees.

Checks of the shoot itself go through its public address with its own CA, the way a user reaches it, so a
broken load balancer or certificate shows up as `APIServerAvailable=False`.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from gardener.apis.core import conditions as cond
from gardener.runtime.pki import KeyPair
from gardenlet.components.health import workload_problem

Obj = dict[str, Any]
REQUEST_TIMEOUT = 5.0


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str
    message: str


def ssl_context(ca_pem: bytes, client: KeyPair | None = None) -> ssl.SSLContext:
    """Trust only the shoot CA; present the client certificate if given (loaded through a private temp dir)."""
    ctx = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
    if client is not None:
        with tempfile.TemporaryDirectory(prefix="gardenlet-tls-") as tmp:
            paths = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
            for path, data in zip(paths, (client.cert_pem, client.key_pem), strict=True):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
            ctx.load_cert_chain(*paths)
    return ctx


async def get_json(url: str, ctx: ssl.SSLContext, *, timeout: float = REQUEST_TIMEOUT) -> tuple[int, Any]:
    """(status code, decoded JSON or text) of a GET; OSError/aiohttp errors when unreachable."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.get(url, ssl=ctx) as response,
    ):
        text = await response.text()
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, text


async def api_server_available(base_url: str, ca_pem: bytes, *, timeout: float = REQUEST_TIMEOUT) -> Verdict:
    try:
        code, body = await get_json(f"{base_url}/healthz", ssl_context(ca_pem), timeout=timeout)
    except (OSError, TimeoutError, aiohttp.ClientError, ssl.SSLError) as exc:
        return Verdict(cond.FALSE, "HealthzRequestFailed", f"API server /healthz cannot be reached: {_why(exc)}")
    if code != 200:
        return Verdict(cond.FALSE, "HealthzRequestFailed", f"API server /healthz answered {code}: {str(body)[:200]}")
    return Verdict(
        cond.TRUE, "HealthzRequestSucceeded", "API server /healthz endpoint responded with success status code."
    )


def _why(exc: BaseException) -> str:
    """The cause in words that stay the same from one check to the next (the condition is rewritten only when its
    message changes): aiohttp's connector errors print the SSL context's memory address, so name the OS error."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        exc = exc.os_error
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def control_plane(workloads: Iterable[Obj], *, expected: Iterable[str]) -> Verdict:
    """All control-plane Deployments and StatefulSets exist and have rolled out."""
    seen = {f"{w['kind']}/{w['metadata']['name']}": w for w in workloads}
    missing = [name for name in expected if name not in seen]
    if missing:
        return Verdict(cond.FALSE, "ControlPlaneMissing", f"Missing control plane components: {', '.join(missing)}.")
    problems = [p for w in seen.values() if (p := workload_problem(w)) is not None]
    if problems:
        return Verdict(cond.FALSE, "ControlPlaneUnhealthy", "; ".join(problems))
    return Verdict(cond.TRUE, "ControlPlaneRunning", "All control plane components are healthy.")


def _ready(node: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


def every_node_ready(nodes: Iterable[Obj], *, workerless: bool, minimum: int) -> Verdict:
    if workerless:
        return Verdict(cond.TRUE, "NoWorkers", "Shoot has no workers, so there are no nodes to check.")
    nodes = list(nodes)
    not_ready = sorted(n["metadata"]["name"] for n in nodes if not _ready(n))
    if not_ready:
        return Verdict(cond.FALSE, "NodeUnhealthy", f"Nodes not ready: {', '.join(not_ready)}.")
    if len(nodes) < minimum:
        return Verdict(cond.FALSE, "MissingNodes", f"Too few nodes registered: {len(nodes)} of at least {minimum}.")
    return Verdict(cond.TRUE, "EveryNodeReady", "All nodes are ready.")


def system_components(workloads: Iterable[Obj]) -> Verdict:
    """The shoot's kube-system Deployments and StatefulSets have rolled out."""
    problems = [p for w in workloads if (p := workload_problem(w)) is not None]
    if problems:
        return Verdict(cond.FALSE, "SystemComponentsUnhealthy", "; ".join(problems))
    return Verdict(cond.TRUE, "SystemComponentsRunning", "All system components are healthy.")


def hibernated_control_plane(workloads: Iterable[Obj], pods: Iterable[Obj], *, expected: Iterable[str]) -> Verdict:
    """A hibernated shoot's control plane is down: its workloads are kept, at zero replicas, and none of its pods
    runs any more. Seen, not assumed: a scale-down that did not take effect is a problem the user must read."""
    seen = {f"{w['kind']}/{w['metadata']['name']}": w for w in workloads}
    missing = [name for name in expected if name not in seen]
    if missing:
        return Verdict(cond.FALSE, "ControlPlaneMissing", f"Missing control plane components: {', '.join(missing)}.")
    problems = []
    for name, workload in sorted(seen.items()):
        wanted = int((workload.get("spec") or {}).get("replicas", 1))
        running = int((workload.get("status") or {}).get("replicas") or 0)
        if wanted:
            problems.append(f"{name} wants {wanted} replicas")
        elif running:
            problems.append(f"{name} still has {running} replicas")
    alive = sorted(
        p["metadata"]["name"] for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    )
    if alive:
        problems.append(f"pods {', '.join(alive)} still exist")
    if problems:
        return Verdict(cond.FALSE, "HibernationIncomplete", "Shoot is hibernated, but: " + "; ".join(problems) + ".")
    return Verdict(cond.TRUE, "ShootHibernated", "Shoot cluster is hibernated: its control plane is scaled down.")

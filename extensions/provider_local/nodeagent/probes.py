"""Startup, readiness and liveness probes: httpGet (http and https, certificates not verified),
tcpSocket, exec, and grpc (checked as a TCP connect).

A probe's host defaults to the pod's address; named ports resolve through the container's ports.
Thresholds and periods follow the Kubernetes defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

Obj = dict[str, Any]


@dataclass(frozen=True)
class ProbeTarget:
    """Where a probe of one container goes, and how an exec probe runs."""

    host: str
    ports: Mapping[str, int]
    env: Mapping[str, str]
    cwd: str
    #: turns an exec probe's command into a host argv (volume paths, image programs)
    argv: Callable[[Sequence[str]], list[str]]


@dataclass(frozen=True)
class ProbeSpec:
    initial_delay: float
    period: float
    timeout: float
    success_threshold: int
    failure_threshold: int

    @classmethod
    def of(cls, probe: Obj) -> ProbeSpec:
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds", 0)),
            period=float(probe.get("periodSeconds", 10)),
            timeout=float(probe.get("timeoutSeconds", 1)),
            success_threshold=int(probe.get("successThreshold", 1)),
            failure_threshold=int(probe.get("failureThreshold", 3)),
        )


def resolve_port(port: Any, ports: Mapping[str, int]) -> int:
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    if port in ports:
        return ports[str(port)]
    raise ValueError(f"unknown port {port!r}")


async def _http(action: Obj, target: ProbeTarget, timeout: float) -> bool:
    scheme = str(action.get("scheme", "HTTP")).lower()
    host = action.get("host") or target.host
    port = resolve_port(action.get("port"), target.ports)
    path = str(action.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    headers = {str(h["name"]): str(h.get("value", "")) for h in action.get("httpHeaders") or []}
    headers.setdefault("User-Agent", "kube-probe/provider-local")
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.get(f"{scheme}://{host}:{port}{path}", headers=headers, ssl=False, allow_redirects=False) as resp,
    ):
        return 200 <= resp.status < 400


async def _tcp(host: str, port: int, timeout: float) -> bool:
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _exec(command: Sequence[str], target: ProbeTarget, timeout: float) -> bool:
    proc = await asyncio.create_subprocess_exec(
        *target.argv(command),
        env=dict(target.env),
        cwd=target.cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return await asyncio.wait_for(proc.wait(), timeout) == 0
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def probe_once(probe: Obj, target: ProbeTarget) -> bool:
    """One probe attempt; any error or timeout counts as a failure."""
    timeout = ProbeSpec.of(probe).timeout
    try:
        if "httpGet" in probe:
            return await asyncio.wait_for(_http(probe["httpGet"], target, timeout), timeout + 1)
        if "tcpSocket" in probe:
            action = probe["tcpSocket"]
            return await _tcp(
                action.get("host") or target.host, resolve_port(action.get("port"), target.ports), timeout
            )
        if "grpc" in probe:
            return await _tcp(target.host, resolve_port(probe["grpc"].get("port"), target.ports), timeout)
        if "exec" in probe:
            return await _exec([str(c) for c in probe["exec"].get("command") or []], target, timeout)
    except (OSError, TimeoutError, ValueError, aiohttp.ClientError):
        return False
    return False


async def run_probe(
    probe: Obj,
    target: ProbeTarget,
    *,
    on_result: Callable[[bool], Awaitable[bool]],
) -> None:
    """Probe every period; report a verdict when a threshold is crossed. `on_result` returns False to stop."""
    spec = ProbeSpec.of(probe)
    await asyncio.sleep(spec.initial_delay)
    successes = failures = 0
    verdict: bool | None = None
    while True:
        if await probe_once(probe, target):
            successes, failures = successes + 1, 0
            if successes >= spec.success_threshold and verdict is not True:
                verdict = True
                if not await on_result(True):
                    return
        else:
            successes, failures = 0, failures + 1
            if failures >= spec.failure_threshold and verdict is not False:
                verdict = False
                if not await on_result(False):
                    return
        await asyncio.sleep(spec.period)

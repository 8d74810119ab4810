"""Startup, readiness and liveness probes, and the postStart/preStop handlers that reach a container the same way.

Probes: httpGet (http and https, certificates not verified), tcpSocket, exec, and grpc (checked as a TCP
connect). A probe's host defaults to the pod's address; named ports resolve through the container's ports.
Thresholds and periods follow the Kubernetes defaults.

Lifecycle handlers (`run_handler`) are what upstream's kubelet runs for `lifecycle.postStart` and
`lifecycle.preStop`: exec, httpGet (any answer counts, as upstream's handler runner ignores the status code) and
sleep; a tcpSocket handler fails, as it does upstream. Failures carry upstream's messages. They share the probes'
targets so a handler runs with the container's environment, address and image programs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
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


def _http_request(action: Obj, target: ProbeTarget) -> tuple[str, dict[str, str]]:
    """The URL and headers of an httpGet action; ValueError for a port the container does not name."""
    scheme = str(action.get("scheme", "HTTP")).lower()
    host = action.get("host") or target.host
    port = resolve_port(action.get("port"), target.ports)
    path = str(action.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    headers = {str(h["name"]): str(h.get("value", "")) for h in action.get("httpHeaders") or []}
    return f"{scheme}://{host}:{port}{path}", headers


async def _http_get(url: str, headers: dict[str, str], timeout: float | None) -> int:
    """GET without following redirects or verifying certificates; the status code."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.get(url, headers=headers, ssl=False, allow_redirects=False) as resp,
    ):
        return resp.status


async def _http(action: Obj, target: ProbeTarget, timeout: float) -> bool:
    url, headers = _http_request(action, target)
    headers.setdefault("User-Agent", "kube-probe/provider-local")
    return 200 <= await _http_get(url, headers, timeout) < 400


async def _tcp(host: str, port: int, timeout: float) -> bool:
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _command(
    command: Sequence[str], target: ProbeTarget, *, timeout: float | None, capture: bool
) -> tuple[int, bytes, bytes]:
    """Run a command beside the container (its own session, killed whole on timeout or cancellation)."""
    output = asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL
    proc = await asyncio.create_subprocess_exec(
        *target.argv(command),
        env=dict(target.env),
        cwd=target.cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout)
        return int(proc.returncode or 0), stdout or b"", stderr or b""
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def _exec(command: Sequence[str], target: ProbeTarget, timeout: float) -> bool:
    code, _, _ = await _command(command, target, timeout=timeout, capture=False)
    return code == 0


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


# ---- lifecycle handlers ----

#: upstream's kubelet sends `kube-lifecycle/<major>.<minor>` with a hook's HTTP request
LIFECYCLE_USER_AGENT = "kube-lifecycle/1.32"
#: a hook's output is quoted into the container's status message: keep that message small
MAX_HOOK_OUTPUT = 10 * 1024


class HandlerError(Exception):
    """A lifecycle handler failed; the text is upstream's message, which may quote the handler's output."""


def _go_quote(text: str) -> str:
    """Close to Go's %q, which upstream's messages use."""
    return json.dumps(text, ensure_ascii=False)


async def run_handler(handler: Obj, target: ProbeTarget, *, container: str, pod: str) -> None:
    """Run a postStart or preStop handler to its end, as upstream's handler runner does; HandlerError if it failed.

    `pod` is the pod as upstream names it in these messages (`<name>_<namespace>(<uid>)`). There is no timeout:
    the caller bounds a preStop handler by the grace period and cancels a handler whose container is gone.
    """
    where = f"for Container {_go_quote(container)} in Pod {_go_quote(pod)}"
    try:
        if "exec" in handler:
            await _exec_handler([str(c) for c in (handler["exec"] or {}).get("command") or []], target, where=where)
        elif "httpGet" in handler:
            await _http_handler(handler["httpGet"] or {}, target, where=where)
        elif "sleep" in handler:
            await asyncio.sleep(max(int((handler["sleep"] or {}).get("seconds") or 0), 0))
        else:
            raise HandlerError(f"Cannot run handler: invalid handler: {json.dumps(handler, sort_keys=True)}")
    except (TypeError, ValueError, AttributeError) as exc:
        raise HandlerError(f"Cannot run handler: {exc}") from exc


async def _exec_handler(command: list[str], target: ProbeTarget, *, where: str) -> None:
    shown = "[" + " ".join(command) + "]"
    try:
        code, stdout, stderr = await _command(command, target, timeout=None, capture=True)
    except OSError as exc:
        error = f"cannot execute {command[0] if command else ''!r}: {exc.strerror or exc}"
        raise HandlerError(f'Exec lifecycle hook ({shown}) {where} failed - error: {error}, message: ""') from exc
    if code == 0:
        return
    # upstream's output is stdout then stderr; its error quotes stderr after the exit code
    output = (stdout + stderr)[-MAX_HOOK_OUTPUT:].decode(errors="replace")
    error = f"command '{' '.join(command)}' exited with {code}: {stderr[-MAX_HOOK_OUTPUT:].decode(errors='replace')}"
    raise HandlerError(f"Exec lifecycle hook ({shown}) {where} failed - error: {error}, message: {_go_quote(output)}")


async def _http_handler(action: Obj, target: ProbeTarget, *, where: str) -> None:
    path = action.get("path", "")
    try:
        url, headers = _http_request(action, target)
    except ValueError as exc:
        raise HandlerError(f"HTTP lifecycle hook ({path}) {where} failed - error: {exc}") from exc
    headers.setdefault("User-Agent", LIFECYCLE_USER_AGENT)
    try:
        await _http_get(url, headers, None)
    except (OSError, aiohttp.ClientError) as exc:
        raise HandlerError(f"HTTP lifecycle hook ({path}) {where} failed - error: Get {_go_quote(url)}: {exc}") from exc

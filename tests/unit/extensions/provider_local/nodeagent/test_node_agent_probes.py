"""The node agent's probes against real local servers: tcpSocket, httpGet over http and https, exec."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from extensions.provider_local.nodeagent.probes import ProbeTarget, probe_once, run_probe
from tests.helpers import write_tls_pair


def _target(ports: dict[str, int] | None = None) -> ProbeTarget:
    return ProbeTarget(host="127.0.0.1", ports=ports or {}, env={"PATH": "/usr/bin:/bin"}, cwd="/", argv=list)


def _self_signed(directory: Path) -> ssl.SSLContext:
    """A serving context with a throw-away certificate nobody trusts (probes do not verify)."""
    write_tls_pair(directory, common_name="probe-test")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    return ctx


async def _serve(ctx: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def bad(_: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    app.router.add_get("/healthz", ok)
    app.router.add_get("/broken", bad)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = int(runner.addresses[0][1])
    return runner, port


@pytest.fixture
async def http_port() -> AsyncIterator[int]:
    runner, port = await _serve()
    yield port
    await runner.cleanup()


async def test_http_probe_by_number_and_by_name(http_port: int) -> None:
    target = _target({"http": http_port})
    assert await probe_once({"httpGet": {"path": "/healthz", "port": http_port}}, target)
    assert await probe_once({"httpGet": {"path": "healthz", "port": "http"}}, target)
    assert not await probe_once({"httpGet": {"path": "/broken", "port": "http"}}, target)
    assert not await probe_once({"httpGet": {"path": "/healthz", "port": "nope"}}, target)


async def test_https_probe_skips_verification(tmp_path: Path) -> None:
    runner, port = await _serve(_self_signed(tmp_path))
    try:
        assert await probe_once({"httpGet": {"path": "/healthz", "port": port, "scheme": "HTTPS"}}, _target())
        assert not await probe_once({"httpGet": {"path": "/healthz", "port": port}}, _target()), "plain HTTP fails"
    finally:
        await runner.cleanup()


async def test_tcp_probe(http_port: int) -> None:
    assert await probe_once({"tcpSocket": {"port": http_port}}, _target())
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    assert not await probe_once({"tcpSocket": {"port": port}}, _target()), "nothing listens any more"


async def test_exec_probe_exit_codes_and_timeout() -> None:
    assert await probe_once({"exec": {"command": ["true"]}}, _target())
    assert not await probe_once({"exec": {"command": ["false"]}}, _target())
    assert not await probe_once({"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 0.2}, _target())
    assert not await probe_once({"exec": {"command": ["/no/such/program"]}}, _target())


async def test_thresholds_decide_verdicts(http_port: int) -> None:
    verdicts: list[bool] = []
    probe: dict[str, Any] = {
        "httpGet": {"path": "/broken", "port": http_port},
        "periodSeconds": 0.01,
        "failureThreshold": 3,
    }

    async def record(ok: bool) -> bool:
        verdicts.append(ok)
        return False

    await asyncio.wait_for(run_probe(probe, _target(), on_result=record), timeout=10)
    assert verdicts == [False]
    probe["httpGet"]["path"] = "/healthz"
    await asyncio.wait_for(run_probe(probe, _target(), on_result=record), timeout=10)
    assert verdicts == [False, True]

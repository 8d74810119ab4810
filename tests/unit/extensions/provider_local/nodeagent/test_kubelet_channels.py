"""The remote command WebSocket protocol of exec (`extensions.provider_local.nodeagent.channels`), spoken by a real
aiohttp server on loopback to a WebSocket client, with real processes: framing per protocol version, the status
on the error stream as upstream writes it, stdin and its half-close, a pseudo-terminal that follows resizes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer

from extensions.provider_local.nodeagent.channels import (
    ChannelSession,
    ExecLaunch,
    StreamOptions,
    StreamOptionsError,
    go_json,
    negotiate,
    offered_protocols,
    run_command,
)
from tests.helpers import aeventually


def test_stream_options_as_upstream() -> None:
    assert StreamOptions.from_query({"output": "1", "error": "1", "tty": "1", "input": "true"}) == StreamOptions(
        stdin=False, stdout=True, stderr=False, tty=True
    )
    with pytest.raises(StreamOptionsError, match="you must specify at least 1 of stdin, stdout, stderr"):
        StreamOptions.from_query({"tty": "1"})
    assert negotiate(["v6.channel.k8s.io", "v4.channel.k8s.io", "v5.channel.k8s.io"]) == "v4.channel.k8s.io"
    assert negotiate([]) == ""
    assert negotiate(["SPDY/3.1+portforward.k8s.io"]) is None
    assert go_json({"message": "a<b>&c é"}) == '{"message":"a\\u003cb\\u003e\\u0026c é"}'.encode()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[BaseTestServer]:
    async def handle(request: web.Request) -> web.StreamResponse:
        protocol = negotiate(offered_protocols(request))
        if protocol is None:
            return web.Response(status=403)
        session = await ChannelSession.accept(
            request, protocol=protocol, options=StreamOptions.from_query(request.query)
        )
        command = request.query.getall("command")
        launch = ExecLaunch(argv=tuple(command), env={"PATH": os.environ["PATH"], "LC_ALL": "C"}, cwd=tmp_path)
        await run_command(session, launch, command=command)
        return session.response

    app = web.Application()
    app.router.add_get("/exec", handle)
    async with TestServer(app, host="127.0.0.1") as test_server:
        yield test_server


@dataclass
class Session:
    protocol: str
    frames: list[tuple[int, bytes]] = field(default_factory=list)

    def channel(self, number: int) -> bytes:
        return b"".join(data for ch, data in self.frames if ch == number)


def _url(server: BaseTestServer, *command: str, **streams: str) -> str:
    query = "&".join([*(f"command={c}" for c in command), *(f"{k}={v}" for k, v in streams.items())])
    return str(server.make_url(f"/exec?{query}"))


def _decode(msg: aiohttp.WSMessage, *, b64: bool) -> tuple[int, bytes]:
    if b64:
        text = str(msg.data)
        return ord(text[0]) - ord("0"), base64.b64decode(text[1:])
    data = bytes(msg.data)
    return data[0], data[1:]


async def _run(
    server: BaseTestServer, url: str, protocol: str, *, send: list[bytes | str] | None = None, b64: bool = False
) -> Session:
    async with aiohttp.ClientSession() as client, client.ws_connect(url, protocols=[protocol]) as ws:
        session = Session(protocol=ws.protocol or "")
        for item in send or []:
            if isinstance(item, str):
                await ws.send_str(item)
            else:
                await ws.send_bytes(item)
        async for msg in ws:
            if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                session.frames.append(_decode(msg, b64=b64))
        return session


async def test_v5_and_v4_report_output_and_exit_codes_as_upstream(server: BaseTestServer) -> None:
    ok = await _run(server, _url(server, "sh", "-c", "echo%2042", output="1", error="1"), "v5.channel.k8s.io")
    assert ok.protocol == "v5.channel.k8s.io"
    assert ok.frames[0] == (1, b"")  # the streams are open
    assert ok.channel(1) == b"42\n"
    assert ok.channel(3) == b'{"metadata":{},"status":"Success"}'

    failed = await _run(server, _url(server, "sh", "-c", "echo%20oops>%262;exit%203", error="1"), "v5.channel.k8s.io")
    assert failed.frames[0] == (2, b"")
    assert failed.channel(2) == b"oops\n"
    assert json.loads(failed.channel(3)) == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: command terminated with exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    v4 = await _run(server, _url(server, "sh", "-c", "exit%203", output="1"), "v4.channel.k8s.io")
    assert json.loads(v4.channel(3))["message"] == (
        "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
    )


async def test_older_versions_write_only_failures_as_text(server: BaseTestServer) -> None:
    ok = await _run(server, _url(server, "true", output="1"), "channel.k8s.io")
    assert ok.channel(3) == b""
    failed = await _run(server, _url(server, "false", output="1"), "v2.channel.k8s.io")
    assert (
        failed.channel(3) == b"command terminated with non-zero exit code: error executing command [false], exit code 1"
    )
    missing = await _run(server, _url(server, "no-such-program", output="1"), "v4.channel.k8s.io")
    error = 'error executing command in container: exec: "no-such-program": executable file not found in $PATH'
    assert json.loads(missing.channel(3)) == {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {error}",
        "reason": "InternalError",
        "details": {"causes": [{"message": error}]},
        "code": 500,
    }
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await _run(server, _url(server, "true", output="1"), "v9.channel.k8s.io")
    assert refused.value.status == 403


async def test_stdin_until_the_v5_close_signal_and_in_base64(server: BaseTestServer) -> None:
    cat = await _run(
        server,
        _url(server, "cat", input="1", output="1"),
        "v5.channel.k8s.io",
        send=[b"\x00hello ", b"\x00world\n", b"\xff\x00"],
    )
    assert cat.channel(1) == b"hello world\n"
    assert json.loads(cat.channel(3))["status"] == "Success"

    b64 = await _run(
        server,
        _url(server, "sh", "-c", "read%20x;echo%20got%20$x", input="1", output="1"),
        "v4.base64.channel.k8s.io",
        send=["0" + base64.b64encode(b"abc\n").decode()],
        b64=True,
    )
    assert b64.protocol == "v4.base64.channel.k8s.io"
    assert b64.channel(1) == b"got abc\n"


async def test_tty_follows_resizes(server: BaseTestServer) -> None:
    url = _url(server, "sh", "-c", "read%20a;stty%20size;read%20b;stty%20size", input="1", output="1", tty="1")
    async with aiohttp.ClientSession() as client, client.ws_connect(url, protocols=["v5.channel.k8s.io"]) as ws:
        output = bytearray()

        async def until(text: bytes) -> None:
            while text not in output:
                msg = await asyncio.wait_for(ws.receive(), 10)
                assert msg.type == aiohttp.WSMsgType.BINARY, msg
                output.extend(bytes(msg.data)[1:])

        await ws.send_bytes(b'\x04{"Width":80,"Height":24}')
        await ws.send_bytes(b"\x00one\n")
        await until(b"24 80")
        # one resize split across two messages, as a JSON stream allows
        await ws.send_bytes(b'\x04{"Width":13')
        await ws.send_bytes(b'\x042,"Height":40}')
        await ws.send_bytes(b"\x00two\n")
        await until(b"40 132")
        assert b"one\r\n" in output  # the terminal echoes and ends lines as terminals do
        await until(b'"status":"Success"')


async def test_a_client_that_goes_away_takes_the_command_along(server: BaseTestServer) -> None:
    url = _url(server, "sh", "-c", "echo%20$$;exec%20sleep%2060", output="1")
    async with aiohttp.ClientSession() as client, client.ws_connect(url, protocols=["v5.channel.k8s.io"]) as ws:
        pid = b""
        while not pid.endswith(b"\n"):
            pid += bytes((await asyncio.wait_for(ws.receive(), 10)).data)[1:]
    leader = int(pid)

    def gone() -> bool:
        try:
            os.kill(leader, 0)
        except ProcessLookupError:
            return True
        state = Path(f"/proc/{leader}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state == "Z"

    try:
        await aeventually(gone, timeout=10, what="the exec's process is killed")
    finally:
        if not gone():
            os.kill(leader, signal.SIGKILL)

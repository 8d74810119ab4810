"""The kubelet's port-forward endpoint over real sockets, driven the way client-go drives it.

An aiohttp app on a loopback port serves `/portForward/{ns}/{pod}` with the node agent's handler; its `dial`
reaches a local echo server (and an HTTP server that closes after answering). A SPDY client made of our
codec plays kubectl's part (client-go tools/portforward handleConnection): per forwarded connection an error
stream (closed for writing at once, read to EOF) and a data stream with the same requestID; once the remote
side is done the client resets the data stream. Both transports kubectl 1.37 uses are covered: the WebSocket
tunnel (`SPDY/3.1+portforward.k8s.io`) and the plain `Upgrade: SPDY/3.1`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from extensions.provider_local.nodeagent import portforward, spdy
from tests.helpers import aeventually

TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"


@dataclass
class Backends:
    """The pod's side: an echo server, an HTTP server that closes after one answer, and a refusing port."""

    echo_port: int
    http_port: int
    refused_port: int
    open_connections: set[asyncio.StreamWriter] = field(default_factory=set)


@dataclass
class Kubelet:
    url: str
    backends: Backends


async def _echo(backends: Backends, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    backends.open_connections.add(writer)
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        backends.open_connections.discard(writer)
        writer.close()


async def _http_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.0 200 OK\r\n\r\nhello from the pod")
    await writer.drain()
    writer.close()


@pytest.fixture
async def kubelet() -> AsyncIterator[Kubelet]:
    backends = Backends(0, 0, 0)
    echo = await asyncio.start_server(lambda r, w: _echo(backends, r, w), "127.0.0.1", 0)
    http = await asyncio.start_server(_http_once, "127.0.0.1", 0)
    refusing = socket.socket()  # bound, never listening: connecting to it is refused
    refusing.bind(("127.0.0.1", 0))
    backends.echo_port = echo.sockets[0].getsockname()[1]
    backends.http_port = http.sockets[0].getsockname()[1]
    backends.refused_port = refusing.getsockname()[1]

    async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    async def serve(request: web.Request) -> web.StreamResponse:
        return await portforward.handle(request, dial=dial)

    app = web.Application()
    app.router.add_route("*", "/portForward/{ns}/{pod}", serve)
    app.router.add_route("*", "/portForward/{ns}/{pod}/{uid}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Kubelet(f"http://127.0.0.1:{port}", backends)
    finally:
        await runner.cleanup()
        for server in (echo, http):
            server.close()
        refusing.close()


class _WebSocketChannel:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws

    async def read(self) -> bytes:
        message = await self._ws.receive()
        return bytes(message.data) if message.type == aiohttp.WSMsgType.BINARY else b""

    async def write(self, data: bytes) -> None:
        await self._ws.send_bytes(data)

    async def close(self) -> None:
        await self._ws.close()


class _SocketChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def read(self) -> bytes:
        return await self._reader.read(65536)

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()


@contextlib.asynccontextmanager
async def _connect(kubelet: Kubelet, transport: str, path: str) -> AsyncIterator[spdy.Session]:
    """A client session over the given transport; it says GOAWAY and closes when the block ends."""
    async with contextlib.AsyncExitStack() as stack:
        channel: spdy.Channel
        if transport == "websocket":
            http = await stack.enter_async_context(aiohttp.ClientSession())
            ws = await stack.enter_async_context(http.ws_connect(kubelet.url + path, protocols=(TUNNEL_PROTOCOL,)))
            assert ws.protocol == TUNNEL_PROTOCOL
            channel = _WebSocketChannel(ws)
        else:
            host, port = kubelet.url.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                "X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n".encode()
            )
            head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
            assert head.startswith("http/1.1 101 ")
            for expected in (
                "connection: upgrade",
                "upgrade: spdy/3.1",
                "x-stream-protocol-version: portforward.k8s.io",
            ):
                assert f"\r\n{expected}\r\n" in head, head
            channel = _SocketChannel(reader, writer)
        session = spdy.Session(channel, server=False)
        reading = asyncio.get_running_loop().create_task(session.run())
        try:
            yield session
        finally:
            await session.close()
            await asyncio.wait_for(reading, 10)


async def _read_all(stream: spdy.Stream) -> bytes:
    out = bytearray()
    while chunk := await stream.read(1 << 20):
        out += chunk
    return bytes(out)


async def _forward(session: spdy.Session, *, port: int, request_id: int, payload: bytes) -> tuple[bytes, str]:
    """One forwarded connection as client-go makes it: what came back on the data stream, and the error text."""
    async with asyncio.timeout(20):
        return await _forward_once(session, port=port, request_id=request_id, payload=payload)


async def _forward_once(session: spdy.Session, *, port: int, request_id: int, payload: bytes) -> tuple[bytes, str]:
    headers = (("port", str(port)), ("requestid", str(request_id)))
    error = await session.open_stream((("streamtype", "error"), *headers))
    await error.close()  # the client never writes to it
    error_text = asyncio.get_running_loop().create_task(_read_all(error))
    data = await session.open_stream((("streamtype", "data"), *headers))
    sending = asyncio.get_running_loop().create_task(data.write(payload))
    received = bytearray()
    while len(received) < len(payload) and (chunk := await data.read(1 << 20)):
        received += chunk
    await sending
    await data.close()  # our half-close reaches the pod as EOF; the pod's close comes back as FIN
    received += await _read_all(data)
    await data.reset()
    return bytes(received), (await error_text).decode()


@pytest.mark.parametrize("transport", ["websocket", "spdy"])
async def test_forwarded_connections_round_trip(kubelet: Kubelet, transport: str) -> None:
    backends = kubelet.backends
    async with _connect(kubelet, transport, "/portForward/default/echo/uid-1") as session:
        payloads = [os.urandom(size) for size in (1, 100, 70_000, 1 << 20, 3)]
        results = await asyncio.gather(
            *(_forward(session, port=backends.echo_port, request_id=i, payload=p) for i, p in enumerate(payloads))
        )
        assert [(len(received), error) for received, error in results] == [(len(p), "") for p in payloads]
        assert [received for received, _ in results] == payloads

        received, error = await _forward(session, port=backends.refused_port, request_id=10, payload=b"")
        assert received == b""
        assert error == (
            f"error forwarding port {backends.refused_port} to pod echo_default, uid uid-1: connect: connection refused"
        )

        # the session goes on after a failure; a pod that closes first ends the stream with FIN at once
        request = b"GET / HTTP/1.0\r\n\r\n"
        headers = (("port", str(backends.http_port)), ("requestid", "11"))
        error_stream = await session.open_stream((("streamtype", "error"), *headers))
        await error_stream.close()
        data = await session.open_stream((("streamtype", "data"), *headers))
        await data.write(request)
        assert await asyncio.wait_for(_read_all(data), 10) == b"HTTP/1.0 200 OK\r\n\r\nhello from the pod"
        await data.reset()  # as client-go does before it waits for the error stream
        assert await asyncio.wait_for(_read_all(error_stream), 10) == b""

        # streams the kubelet cannot use are refused, as upstream resets them
        with pytest.raises(spdy.StreamClosedError, match="refused"):
            await session.open_stream((("streamtype", "data"), ("requestid", "12")))
        with pytest.raises(spdy.StreamClosedError, match="refused"):
            await session.open_stream((("streamtype", "stdin"), ("port", "80")))
        await asyncio.wait_for(session.ping(), 10)

        # a connection still open when the client goes away is closed on the pod's side too
        headers = (("port", str(backends.echo_port)), ("requestid", "13"))
        await session.open_stream((("streamtype", "error"), *headers))
        pending = await session.open_stream((("streamtype", "data"), *headers))
        await pending.write(b"ping")
        assert await asyncio.wait_for(pending.read(), 10) == b"ping"
        assert len(backends.open_connections) == 1
    await aeventually(lambda: not backends.open_connections, timeout=10, what="the pod connection closed")


async def test_old_clients_without_request_ids_are_paired_by_stream_id(kubelet: Kubelet) -> None:
    async with _connect(kubelet, "spdy", "/portForward/default/echo") as session:
        port = (("port", str(kubelet.backends.refused_port)),)
        error = await session.open_stream((("streamtype", "error"), *port))
        await error.close()
        data = await session.open_stream((("streamtype", "data"), *port))  # id = error's id + 2
        assert data.id == error.id + 2
        assert (
            (await asyncio.wait_for(_read_all(error), 10))
            .decode()
            .endswith("to pod echo_default, uid : connect: connection refused")
        )
        assert await asyncio.wait_for(_read_all(data), 10) == b""


async def test_handshake_errors_are_answered_before_any_upgrade(kubelet: Kubelet) -> None:
    url = kubelet.url + "/portForward/default/echo"
    upgrade = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, headers=upgrade) as response:
            assert response.status == 400
            assert await response.text() == "unable to upgrade: X-Stream-Protocol-Version is required\n"
        async with http.post(url, headers={**upgrade, "X-Stream-Protocol-Version": "v4.channel.k8s.io"}) as response:
            assert response.status == 403
            assert response.headers["X-Accepted-Stream-Protocol-Versions"] == "portforward.k8s.io"
            assert await response.text() == (
                "unable to upgrade: unable to negotiate protocol: client supports [v4.channel.k8s.io], "
                "server accepts [portforward.k8s.io]\n"
            )
        async with http.post(url, headers={"X-Stream-Protocol-Version": "portforward.k8s.io"}) as response:
            assert response.status == 400
            assert await response.text() == "unable to upgrade: missing upgrade headers in request\n"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, protocols=("v4.channel.k8s.io",))
        assert refused.value.status == 400

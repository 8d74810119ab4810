"""The kubelet's end of `kubectl port-forward`: SPDY/3.1 streams, tunneled in a WebSocket or over an upgrade.

kubectl >= 1.31 opens a WebSocket with subprotocol `SPDY/3.1+portforward.k8s.io` and sends SPDY frames in its
binary messages; its fallback (and older clients) upgrade the HTTP connection itself (`Upgrade: SPDY/3.1`,
`X-Stream-Protocol-Version: portforward.k8s.io`). The API server relays either connection here untouched, so
this module speaks for the kubelet (upstream pkg/kubelet/cri/streaming/portforward/httpstream.go): every
forwarded connection is a pair of streams sharing a `requestID` header, `data` for the bytes and `error` for
upstream's error text. How a pod port is reached is the caller's `dial`. Only the node agent imports this.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from extensions.provider_local.nodeagent import spdy

log = logging.getLogger("provider_local.nodeagent.portforward")

PROTOCOL_V1 = "portforward.k8s.io"
SUPPORTED_PROTOCOLS = (PROTOCOL_V1,)
SPDY_31 = "SPDY/3.1"
TUNNELING_PREFIX = "SPDY/3.1+"  # k8s.io/apimachinery/pkg/util/portforward.WebsocketsSPDYTunnelingPrefix
KUBERNETES_SUFFIX = ".k8s.io"
HEADER_PROTOCOL_VERSION = "X-Stream-Protocol-Version"
HEADER_ACCEPTED_VERSIONS = "X-Accepted-Stream-Protocol-Versions"
STREAM_TYPE_HEADER, PORT_HEADER, REQUEST_ID_HEADER = "streamType", "port", "requestID"
STREAM_TYPE_DATA, STREAM_TYPE_ERROR = "data", "error"
STREAM_CREATION_TIMEOUT = 30.0  # remotecommand.DefaultStreamCreationTimeout: both streams of a pair by then
IDLE_TIMEOUT = 4 * 3600.0  # the kubelet's default streamingConnectionIdleTimeout
CLOSE_GRACE = 1.0  # once one direction ended, the other gets this long (containerd's portForward)
CHUNK = 32 * 1024
READ_HIGH_WATER = 1 << 20  # upgraded connection: bytes buffered before the socket is paused

Dial = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def handle(request: web.Request, *, dial: Dial, pod_uid: str | None = None) -> web.StreamResponse:
    """Serve one port-forward session for the pod named by the route (`ns`, `pod`, optional `uid`).

    The caller has already checked that the pod exists; `dial(port)` connects to the pod's port. `pod_uid`
    (else the route's `uid`) only appears in error texts, as upstream's `uid %v`.
    """
    namespace, name = request.match_info.get("ns", ""), request.match_info.get("pod", "")
    forwarder = _Forwarder(
        dial=dial,
        pod=f"{name}_{namespace}",  # kubecontainer.GetPodFullName, what the kubelet puts in its error texts
        uid=request.match_info.get("uid", "") if pod_uid is None else pod_uid,
        connection=f"{request.remote}",
    )
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _serve_websocket(request, forwarder)
    return await _serve_upgrade(request, forwarder)


def _error(status: int, text: str) -> web.Response:
    """An error answered before any upgrade, as Go's http.Error writes it."""
    return web.Response(status=status, text=text + "\n", headers={"X-Content-Type-Options": "nosniff"})


def _negotiate(client_protocols: list[str]) -> str | web.Response:
    """httpstream.Handshake: the first protocol of the client's that we speak, or the error response."""
    if not client_protocols:
        return _error(400, f"unable to upgrade: {HEADER_PROTOCOL_VERSION} is required")
    for protocol in client_protocols:
        if protocol in SUPPORTED_PROTOCOLS:
            return protocol
    response = _error(
        403,
        f"unable to upgrade: unable to negotiate protocol: client supports [{' '.join(client_protocols)}], "
        f"server accepts [{' '.join(SUPPORTED_PROTOCOLS)}]",
    )
    for protocol in SUPPORTED_PROTOCOLS:
        response.headers.add(HEADER_ACCEPTED_VERSIONS, protocol)
    return response


def _header_values(request: web.Request, name: str) -> list[str]:
    return [item.strip() for value in request.headers.getall(name, []) for item in value.split(",") if item.strip()]


async def _serve_websocket(request: web.Request, forwarder: _Forwarder) -> web.StreamResponse:
    # the API server's TunnelingHandler (streamtunnel.go) takes these apart the same way
    offered = _header_values(request, "Sec-WebSocket-Protocol")
    tunneled = [
        p.removeprefix(TUNNELING_PREFIX)
        for p in offered
        if p.startswith(TUNNELING_PREFIX) and p.endswith(KUBERNETES_SUFFIX)
    ]
    if not tunneled:
        return _error(400, "unable to upgrade: no tunneling spdy protocols provided")
    negotiated = _negotiate(tunneled)
    if isinstance(negotiated, web.Response):
        return negotiated
    ws = web.WebSocketResponse(protocols=(TUNNELING_PREFIX + negotiated,))
    await ws.prepare(request)
    await _run(_WebSocketChannel(ws), forwarder, transport="websocket")
    return ws


async def _serve_upgrade(request: web.Request, forwarder: _Forwarder) -> web.StreamResponse:
    negotiated = _negotiate(_header_values(request, HEADER_PROTOCOL_VERSION))
    if isinstance(negotiated, web.Response):
        return negotiated
    connection, upgrade = request.headers.get("Connection", ""), request.headers.get("Upgrade", "")
    if "upgrade" not in connection.lower() or SPDY_31.lower() not in upgrade.lower():
        return _error(400, "unable to upgrade: missing upgrade headers in request")
    channel = _UpgradedChannel(request)
    response = web.StreamResponse(
        status=101,
        headers={"Connection": "Upgrade", "Upgrade": SPDY_31, HEADER_PROTOCOL_VERSION: negotiated},
    )
    await response.prepare(request)
    response.force_close()
    channel.response = response
    await _run(channel, forwarder, transport="spdy")
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response


async def _run(channel: spdy.Channel, forwarder: _Forwarder, *, transport: str) -> None:
    session = spdy.Session(
        channel, server=True, on_stream=forwarder.on_stream, name=forwarder.connection, idle_timeout=IDLE_TIMEOUT
    )
    log.info("Port forward session started", extra={"pod": forwarder.pod, "transport": transport})
    try:
        await session.run()
    finally:
        await forwarder.stop()
        await session.close()
        log.info("Port forward session ended", extra={"pod": forwarder.pod, "transport": transport})


class _WebSocketChannel:
    """SPDY bytes in binary WebSocket messages; message borders mean nothing (client-go writes a frame in pieces)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws

    async def read(self) -> bytes:
        while True:
            message = await self._ws.receive()
            if message.type != WSMsgType.BINARY:
                return b""  # closed, failed, or text, which the tunnel never carries (client-go refuses it too)
            if message.data:
                return bytes(message.data)

    async def write(self, data: bytes) -> None:
        await self._ws.send_bytes(data)

    async def close(self) -> None:
        await self._ws.close()


class _UpgradedChannel:
    """The HTTP connection after our 101, as a byte channel.

    aiohttp treats only `websocket` and `tcp` as upgrades, so after this request it would parse the next bytes
    as HTTP again. `RequestHandler.set_parser` is the hook aiohttp's own WebSocketResponse uses to take over
    the bytes that follow a request; installed before the 101 goes out (the client sends nothing before it has
    read the 101), every later byte comes to `feed_data` instead. Writes go through the prepared 101 response,
    which passes bytes through as they are (a 1xx has no body framing) and waits for the socket to drain;
    reading pauses while the session lags behind.
    """

    def __init__(self, request: web.Request) -> None:
        self.response: web.StreamResponse | None = None
        self._transport = request.transport
        self._buffer = bytearray()
        self._eof = False
        self._paused = False
        self._readable = asyncio.Event()
        set_parser: Callable[[Any], None] = request.protocol.set_parser  # typed for WebSocketReader; duck-typed
        set_parser(self)

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._buffer += data
        self._readable.set()
        if len(self._buffer) > READ_HIGH_WATER and not self._paused and self._transport is not None:
            self._transport.pause_reading()
            self._paused = True
        return False, b""

    def feed_eof(self) -> None:
        self._eof = True
        self._readable.set()

    async def read(self) -> bytes:
        while not self._buffer and not self._eof:
            self._readable.clear()
            await self._readable.wait()
        data = bytes(self._buffer)
        self._buffer.clear()
        if self._paused and self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()
            self._paused = False
        return data

    async def write(self, data: bytes) -> None:
        if self.response is None:
            raise ConnectionError("the upgrade was not answered")
        await self.response.write(data)

    async def close(self) -> None:
        self.feed_eof()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


@dataclass
class _Pair:
    """The streams of one forwarded connection, gathered as they arrive (httpStreamPair)."""

    request_id: str
    data: spdy.Stream | None = None
    error: spdy.Stream | None = None
    timer: asyncio.TimerHandle | None = None

    def add(self, stream: spdy.Stream) -> str | None:
        """Take `stream`; the problem if its kind is already taken."""
        if stream.header(STREAM_TYPE_HEADER) == STREAM_TYPE_ERROR:
            if self.error is not None:
                return "error stream already assigned"
            self.error = stream
        else:
            if self.data is not None:
                return "data stream already assigned"
            self.data = stream
        return None


class _Forwarder:
    """Pairs a session's streams by request and forwards each complete pair to the pod (httpStreamHandler)."""

    def __init__(self, *, dial: Dial, pod: str, uid: str, connection: str) -> None:
        self.pod = pod
        self.uid = uid
        self.connection = connection
        self._dial = dial
        self._pairs: dict[str, _Pair] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def on_stream(self, stream: spdy.Stream) -> None:
        """The session's new-stream handler: refuse malformed streams, pair the others."""
        _validate(stream)
        request_id = _request_id(stream)
        pair = self._pairs.get(request_id)
        if pair is None:
            pair = self._pairs[request_id] = _Pair(request_id)
            pair.timer = asyncio.get_running_loop().call_later(STREAM_CREATION_TIMEOUT, self._expire, pair)
        if (problem := pair.add(stream)) is not None:
            message = f"error processing stream for request {request_id}: {problem}"
            log.warning("Port forward stream refused", extra={"pod": self.pod, "request": request_id, "error": problem})
            self._spawn(_give_up(pair.error, message, drop=stream, finish=False))
        elif pair.data is not None and pair.error is not None:
            if pair.timer is not None:
                pair.timer.cancel()
            del self._pairs[request_id]
            self._spawn(self._forward(pair.data, pair.error))

    async def stop(self) -> None:
        for pair in self._pairs.values():
            if pair.timer is not None:
                pair.timer.cancel()
        self._pairs.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _expire(self, pair: _Pair) -> None:
        if self._pairs.get(pair.request_id) is not pair:
            return
        del self._pairs[pair.request_id]
        message = f"(conn={self.connection}, request={pair.request_id}) timed out waiting for streams"
        log.warning("Port forward streams timed out", extra={"pod": self.pod, "request": pair.request_id})
        self._spawn(_give_up(pair.error, message, drop=pair.data, finish=True))

    async def _forward(self, data: spdy.Stream, error: spdy.Stream) -> None:
        port = int(data.header(PORT_HEADER))
        try:
            try:
                reader, writer = await self._dial(port)
            except Exception as exc:  # whatever reaching the pod failed with goes to the client, as upstream
                reason = _reason(exc)
                log.warning("Port forward failed", extra={"pod": self.pod, "port": port, "error": reason})
                text = f"error forwarding port {port} to pod {self.pod}, uid {self.uid}: {reason}"
                with contextlib.suppress(ConnectionError):
                    await error.write(text.encode())
                return
            log.debug("Forwarding a connection", extra={"pod": self.pod, "port": port, "request": _request_id(data)})
            await _splice(data, reader, writer)
        finally:
            await error.close()
            await data.close()
            error.abandon()
            data.abandon()


async def _give_up(error: spdy.Stream | None, message: str, *, drop: spdy.Stream | None, finish: bool) -> None:
    """Tell the client on the pair's error stream (if it came; ended with FIN if `finish`) and reset `drop`."""
    if error is not None:
        with contextlib.suppress(ConnectionError):
            await error.write(message.encode())
        if finish:
            await error.close()
    if drop is not None and drop is not error:
        await drop.reset()


async def _splice(stream: spdy.Stream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy both ways. When one direction ends, its end is passed on as a half-close (FIN to the client, EOF to
    the pod) and the other direction gets CLOSE_GRACE to finish: socat's behaviour, which the dockershim used
    and containerd keeps as its one-second grace."""

    async def to_pod() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await stream.read(CHUNK):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

    async def to_client() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(CHUNK):
                await stream.write(data)
        await stream.close()

    loop = asyncio.get_running_loop()
    tasks = {loop.create_task(to_pod()), loop.create_task(to_client())}
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_GRACE)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


def _validate(stream: spdy.Stream) -> None:
    """httpStreamReceived: a stream needs a valid port and stream type, else it is reset (texts as upstream)."""
    port = stream.header(PORT_HEADER)
    if not port:
        raise spdy.StreamRejected(f"{json.dumps(PORT_HEADER)} header is required")
    if not (port.isascii() and port.isdigit()):
        raise spdy.StreamRejected(
            f"unable to parse {json.dumps(port)} as a port: strconv.ParseUint: parsing {json.dumps(port)}: "
            "invalid syntax"
        )
    if int(port) > 0xFFFF:
        raise spdy.StreamRejected(
            f"unable to parse {json.dumps(port)} as a port: strconv.ParseUint: parsing {json.dumps(port)}: "
            "value out of range"
        )
    if int(port) < 1:
        raise spdy.StreamRejected(f"port {json.dumps(port)} must be > 0")
    kind = stream.header(STREAM_TYPE_HEADER)
    if not kind:
        raise spdy.StreamRejected(f"{json.dumps(STREAM_TYPE_HEADER)} header is required")
    if kind not in (STREAM_TYPE_DATA, STREAM_TYPE_ERROR):
        raise spdy.StreamRejected(f"invalid stream type {json.dumps(kind)}")


def _request_id(stream: spdy.Stream) -> str:
    """The `requestID` header; old clients without it get upstream's guess from the stream ids (error n, data n+2)."""
    request_id = stream.header(REQUEST_ID_HEADER)
    if request_id:
        return request_id
    offset = 0 if stream.header(STREAM_TYPE_HEADER) == STREAM_TYPE_ERROR else 2
    return str(stream.id - offset)


def _reason(exc: Exception) -> str:
    """Why reaching the pod failed, worded like the tail of Go's net errors ("connect: connection refused")."""
    if isinstance(exc, TimeoutError):
        return "i/o timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"connect: {os.strerror(exc.errno).lower()}"
    return str(exc) or type(exc).__name__

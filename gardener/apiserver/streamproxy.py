"""Relaying a client's request to a backend (a kubelet, a pod): plain HTTP, a WebSocket, or any other upgrade.

kube-apiserver does this in its UpgradeAwareHandler. Here a WebSocket (kubectl exec, attach and port-forward speak
it first) is relayed message by message: the backend is dialed first, the client is then accepted with the
subprotocol the backend chose, and text, binary and close frames (with their codes) go both ways. Any other upgrade
(kubectl's fallback `Upgrade: SPDY/3.1`) is relayed byte for byte once the backend answered `101`, as kube does:
aiohttp has no hijack, but a request handler may hand the rest of its connection to a parser of its own
(`RequestHandler.set_parser`, the hook aiohttp's WebSocketResponse uses) and write to the connection with an
`aiohttp.http.StreamWriter`, which is all a byte pipe needs. Only `podproxy` imports this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
from collections.abc import Awaitable, Iterable
from typing import Any, cast

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.http import StreamWriter
from multidict import CIMultiDict, CIMultiDictProxy

from gardener.apiserver.errors import StatusError, go_quote
from gardener.apiserver.kubeletclient import Endpoint, KubeletClient, Unreachable

log = logging.getLogger("gardener.apiserver.streamproxy")

#: request headers that belong to one hop, or to the client's credentials, and never reach the backend
_NOT_FORWARDED = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: response headers not passed back: hop-by-hop, and the CORS headers kube's proxy transport strips
_NOT_RETURNED = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "date",
        "server",
        "access-control-allow-credentials",
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-allow-origin",
    }
)
#: how long a refused upgrade's answer may take to arrive in full (kube sets the same deadline)
_REFUSAL_DEADLINE = 10.0
_MAX_HEAD = 64 * 1024
_MAX_REFUSAL_BODY = 1 << 20
_CHUNK = 64 * 1024
#: close codes an endpoint may send (RFC 6455 7.4); others (1005, 1006, 1015, unassigned) become 1000
_SENDABLE_CLOSE = frozenset({*range(1000, 1004), *range(1007, 1015), *range(3000, 5000)})


def is_upgrade(request: web.BaseRequest) -> bool:
    """kube's httpstream.IsUpgradeRequest: a Connection header that mentions `upgrade`."""
    return any("upgrade" in value.lower() for value in request.headers.getall("Connection", []))


def is_websocket(request: web.BaseRequest) -> bool:
    return is_upgrade(request) and request.headers.get("Upgrade", "").lower() == "websocket"


def dial_failed(exc: Unreachable) -> StatusError:
    """What kube answers when the backend of an upgrade cannot be dialed: a 500 without reason."""
    return StatusError(500, "", f"error dialing backend: {exc}")


_GENERIC = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted, but may still be processing the request",
    ),
}


def generic_server_response(code: int, body: str, *, resource: str = "", name: str = "") -> StatusError:
    """kube's NewGenericServerResponse (verb empty): how kube words a backend's answer it cannot decode."""
    reason, message = _GENERIC.get(
        code, ("", f"the server responded with the status code {code} but did not return more information")
    )
    if code == 403:
        reason, message = "Forbidden", body
    elif code not in _GENERIC and code >= 500:
        reason, message = (
            "InternalError",
            f"an error on the server ({go_quote(body)}) has prevented the request from succeeding",
        )
    if resource:
        message += f" ( {resource} {name})" if name else f" ( {resource})"
        return StatusError(
            code,
            reason,
            message,
            {"group": "", "kind": resource, "name": name} if name else {"group": "", "kind": resource},
        )
    return StatusError(code, reason, message, {})


def forwarded_headers(request: web.BaseRequest, *, keep: Iterable[str] = ()) -> CIMultiDict[str]:
    """The client's headers a backend may see (no credentials, no hop-by-hop ones), plus X-Forwarded-For."""
    kept = {k.lower() for k in keep}
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value)
        for name, value in request.headers.items()
        if name.lower() in kept or (name.lower() not in _NOT_FORWARDED and not name.lower().startswith("impersonate-"))
    )
    if request.remote:
        prior = ", ".join(headers.getall("X-Forwarded-For", []))
        headers.popall("X-Forwarded-For", None)
        headers["X-Forwarded-For"] = f"{prior}, {request.remote}" if prior else request.remote
    return headers


def _returned(headers: CIMultiDictProxy[str] | Iterable[tuple[str, str]]) -> CIMultiDict[str]:
    items = headers.items() if isinstance(headers, CIMultiDictProxy) else headers
    return CIMultiDict((name, value) for name, value in items if name.lower() not in _NOT_RETURNED)


async def stream_response(
    request: web.BaseRequest, backend: aiohttp.ClientResponse, *, content_type: str | None = None
) -> web.StreamResponse:
    """Pass a backend's answer on as it arrives (a followed log is written chunk by chunk)."""
    try:
        headers = _returned(backend.headers)
        if content_type is not None:
            headers = CIMultiDict({"Content-Type": content_type})
        out = web.StreamResponse(status=backend.status, reason=backend.reason, headers=headers)
        await out.prepare(request)
        try:
            async for chunk in backend.content.iter_any():
                await out.write(chunk)
        except aiohttp.ClientError as exc:
            # the backend broke off mid-answer: like kube's copy loop, end the answer where it stopped
            log.info("Backend answer broke off", extra={"path": request.path, "error": str(exc) or type(exc).__name__})
            backend.close()
        await out.write_eof()
        return out
    except BaseException:
        backend.close()  # the client went away mid-stream: the backend's connection is not reusable
        raise
    finally:
        backend.release()


async def proxy_http(
    request: web.BaseRequest,
    *,
    kubelet: KubeletClient,
    endpoint: Endpoint,
    url: str,
    tls: Any,
) -> web.StreamResponse:
    """kube's proxy transport: forward the request, answer 503 `error trying to reach service` if it cannot."""
    headers = forwarded_headers(request)
    headers["X-Forwarded-Uri"] = request.path
    headers["X-Forwarded-Host"] = request.host
    headers["X-Forwarded-Proto"] = "https"
    data = request.content if request.can_read_body else None
    try:
        backend = await kubelet.request(request.method, endpoint, url, tls=tls, headers=headers, data=data)
    except Unreachable as exc:
        raise StatusError(503, "ServiceUnavailable", f"error trying to reach service: {exc}") from None
    return await stream_response(request, backend)


# ---- WebSocket, message by message ----


async def relay_websocket(
    request: web.BaseRequest, *, kubelet: KubeletClient, endpoint: Endpoint, url: str, verify: bool = True
) -> web.StreamResponse:
    """Dial the backend's WebSocket offering the client's subprotocols, then accept the client with the chosen one
    and relay messages until both sides have closed."""
    offered = [p.strip() for value in request.headers.getall("Sec-WebSocket-Protocol", []) for p in value.split(",")]
    try:
        backend = await kubelet.websocket(endpoint, url, protocols=[p for p in offered if p], verify=verify)
    except Unreachable as exc:
        raise dial_failed(exc) from None
    except aiohttp.WSServerHandshakeError as exc:
        # the backend refused (its answer's body is not kept by aiohttp): its code, for the client to fall back on
        code = exc.status if exc.status >= 400 else 500
        reason = generic_server_response(code, "").reason
        raise StatusError(code, reason, f"unable to upgrade connection: {_phrase(exc.status)}", {}) from None
    try:
        client = web.WebSocketResponse(
            protocols=(backend.protocol,) if backend.protocol else (), max_msg_size=0, compress=False
        )
        await client.prepare(request)
        log.debug("Relaying a WebSocket", extra={"backend": endpoint.hostport, "protocol": backend.protocol or ""})
        await _both(_forward(client, backend), _forward(backend, client))
        return client
    finally:
        await backend.close()


async def _forward(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    """Messages from `source` to `sink` until `source` closes; its close code and reason close `sink`."""
    try:
        while True:
            msg = await source.receive()
            if msg.type is WSMsgType.BINARY:
                await sink.send_bytes(msg.data)
            elif msg.type is WSMsgType.TEXT:
                await sink.send_str(msg.data)
            elif msg.type is WSMsgType.CLOSE:
                code = msg.data if msg.data in _SENDABLE_CLOSE else aiohttp.WSCloseCode.OK
                await sink.close(code=code, message=str(msg.extra or "").encode())
                return
            else:  # the source went away without a close frame (CLOSED), or broke (ERROR)
                lost = (
                    aiohttp.WSCloseCode.INTERNAL_ERROR
                    if msg.type is WSMsgType.ERROR
                    else aiohttp.WSCloseCode.GOING_AWAY
                )
                await sink.close(code=lost)
                return
    except (ConnectionError, RuntimeError):
        return  # the sink is gone already; the other direction ends with it


# ---- any other upgrade, byte for byte ----


class _Tunnel:
    """What aiohttp's connection feeds the bytes after an upgrade to (the parser interface of `set_parser`)."""

    def __init__(self, reader: aiohttp.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


async def relay_upgrade(
    request: web.BaseRequest, *, kubelet: KubeletClient, endpoint: Endpoint, target: str, verify: bool = True
) -> web.StreamResponse:
    """kube's tryUpgrade: send the request to the backend, echo a refusal, or pipe bytes after its `101`.

    `target` is the backend's path and query, escaped.
    """
    try:
        reader, writer = await kubelet.connect(endpoint, verify=verify)
    except Unreachable as exc:
        raise dial_failed(exc) from None
    try:
        headers = forwarded_headers(request, keep=("Connection", "Upgrade"))
        head = [f"{request.method} {target} HTTP/1.1", f"Host: {endpoint.hostport}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        status, phrase, backend_headers = await _read_head(reader)
        if status != 101:
            if status < 400:
                raise StatusError(500, "", f"invalid upgrade response: status code {status}")
            try:
                body = await asyncio.wait_for(_read_body(reader, backend_headers), _REFUSAL_DEADLINE)
            except TimeoutError:
                body = b""
            refusal = _returned(backend_headers)
            refusal.popall("Content-Length", None)
            return web.Response(status=status, reason=phrase, headers=refusal, body=body)
        out = web.StreamResponse(status=101, reason=phrase, headers=_returned(backend_headers))
        tunnel = aiohttp.StreamReader(request.protocol, _CHUNK, loop=asyncio.get_running_loop())
        # from here on aiohttp hands what the client sends to the tunnel instead of parsing it as HTTP
        request.protocol.set_parser(cast(Any, _Tunnel(tunnel)))
        request.protocol.keep_alive(False)
        out.force_close()
        await out.prepare(request)
        sink = StreamWriter(request.protocol, asyncio.get_running_loop())
        log.debug("Relaying an upgraded connection", extra={"backend": endpoint.hostport, "path": target})
        await _first(_pipe_to_backend(tunnel, writer), _pipe_to_client(reader, sink))
        return out
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise StatusError(500, "", f"error proxying to backend: {exc or 'EOF'}") from None
    finally:
        writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await writer.wait_closed()


def _phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return str(code)


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, str, list[tuple[str, str]]]:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise StatusError(500, "", "net/http: response header too long") from None
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise StatusError(500, "", f"malformed HTTP response {lines[0]!r}")
    headers = [(n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines[1:] if line)]
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    """A refusal's body, framed by Content-Length or chunked encoding, else up to the connection's end."""
    fields = {n.lower(): v for n, v in headers}
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = b""
        while len(body) < _MAX_REFUSAL_BODY:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += (await reader.readexactly(size + 2))[:-2]
        return body
    length = fields.get("content-length", "")
    if length.isdigit():
        return await reader.readexactly(min(int(length), _MAX_REFUSAL_BODY))
    return await reader.read(_MAX_REFUSAL_BODY)


async def _pipe_to_backend(tunnel: aiohttp.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await tunnel.readany():
        writer.write(chunk)
        await writer.drain()


async def _pipe_to_client(reader: asyncio.StreamReader, sink: StreamWriter) -> None:
    while chunk := await reader.read(_CHUNK):
        await sink.write(chunk)


async def _first(*coros: Awaitable[None]) -> None:
    """Run the pipes until one of them ends (its side closed); the other is stopped."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await task


async def _both(*coros: Awaitable[None]) -> None:
    """Run both directions of a WebSocket relay: a close travels through both; a failure stops the other."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

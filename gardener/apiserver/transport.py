"""The API server's connections: limits and timeouts, and errors of the HTTP parser as `Status` objects.

kube-apiserver's http.Server closes a client that trickles its headers, an idle keep-alive connection and a
stalled TLS handshake, and answers 413/414/431 itself; aiohttp's server does neither on its own, so the
runner, site and protocol here add it. Long requests (watches, exec) are never cut by the idle timeout.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from gardener.apiserver import errors
from gardener.apiserver.errors import StatusError
from gardener.apiserver.httputil import status_response

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("gardener.apiserver.http")


@dataclass(frozen=True)
class ConnectionLimits:
    """What one connection may cost the server; the defaults follow kube-apiserver's http.Server."""

    #: request line (method, URL, version): 414 past it. Must differ from `max_header_bytes`, which is how
    #: the two are told apart (aiohttp reports both as one error type)
    max_url_bytes: int = 64 * 1024
    #: one header field (name and value): 431 past it
    max_header_bytes: int = 32 * 1024
    max_headers: int = 256
    #: seconds until a request's line and headers have all arrived (kube: ReadHeaderTimeout 32 s); then the
    #: connection is closed, as Go does. Counted from the connection's start, and from the first byte of each
    #: later request on it
    header_timeout: float = 32.0
    #: seconds a kept-alive connection may wait for its next request (kube: IdleTimeout 90 s). Never applies
    #: while a request runs, so watches and other long requests are not cut
    idle_timeout: float = 90.0
    #: seconds for the TLS handshake
    tls_handshake_timeout: float = 10.0
    #: connections one client IP may have open (0: unlimited); the ones past it get a 429 and are closed
    max_connections_per_client: int = 1000


class LimitedRunner(web.AppRunner):
    """An AppRunner whose connections are `_Connection`s (limits, timeouts, Status errors)."""

    def __init__(self, app: web.Application, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(
            app,
            keepalive_timeout=limits.idle_timeout,
            max_line_size=limits.max_url_bytes,
            max_field_size=limits.max_header_bytes,
            max_headers=limits.max_headers,
            # kube-apiserver does not decode Content-Encoding on requests either (and a gzip bomb costs CPU)
            auto_decompress=False,
            **kwargs,
        )
        self.limits = limits

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return _Server(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            limits=self.limits,
            **server._kwargs,
        )


class LimitedSite(web.TCPSite):
    """A TCPSite whose TLS handshakes are bounded in time (asyncio's default is 60 s)."""

    def __init__(
        self,
        runner: LimitedRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext,
        backlog: int,
    ) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context, backlog=backlog)
        self._handshake_timeout = runner.limits.tls_handshake_timeout

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            server,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=self._handshake_timeout,
        )


class _Server(web.Server):
    """Hands out `_Connection`s and counts open connections per client IP."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.per_client: collections.Counter[str] = collections.Counter()

    def __call__(self) -> RequestHandler:
        return _Connection(self, loop=self._loop, **self._kwargs)


#: how long a connection refused by the parser stays open after its answer, reading and dropping what the client
#: still sends (Go's closeWriteAndWait waits 500 ms): closing with unread data makes the kernel send a reset,
#: which can reach the client before it has read the 413/414/431 answer
LINGER_SECONDS = 0.5


class _LingeringClose:
    """A transport whose `close` happens `delay` seconds later; everything else is the wrapped transport's."""

    def __init__(self, transport: asyncio.BaseTransport, *, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        self._transport = transport
        self._loop = loop
        self._delay = delay
        self._closing = False

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._loop.call_later(self._delay, self._transport.close)

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Connection(RequestHandler):
    """aiohttp's HTTP/1 connection with a header timeout, a per-client cap, and Status bodies for the errors
    its parser answers itself (malformed requests, an over-long URL or header), where aiohttp writes plain text.
    """

    def __init__(self, manager: _Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._server_ref = manager
        self._limits = manager.limits
        self._head_timer: asyncio.TimerHandle | None = None
        self._client = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._client = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if self._client:
            counts = self._server_ref.per_client
            counts[self._client] += 1
            limit = self._limits.max_connections_per_client
            if limit and counts[self._client] > limit:
                if counts[self._client] == limit + 1:  # once per excursion over the limit, not per connection
                    log.warning(
                        "Refusing connections from a client over its limit; they get 429 and are closed",
                        extra={"client": self._client, "limit": limit},
                    )
                self._request_handler = self._refuse
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_head_timer()
        if self._client:
            counts = self._server_ref.per_client
            counts[self._client] -= 1
            if counts[self._client] <= 0:
                del counts[self._client]
            self._client = ""
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages:
            self._stop_head_timer()  # a whole request head has arrived
        elif data and self._waiter is not None and self._head_timer is None:
            self._start_head_timer()  # the first bytes of the next request on a kept-alive connection

    def _start_head_timer(self) -> None:
        if self._limits.header_timeout > 0 and self._head_timer is None:
            self._head_timer = self._loop.call_later(self._limits.header_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._messages or self._waiter is None:
            return  # a request is being handled: its head did arrive
        log.debug("Closing a connection whose request head did not arrive in time", extra={"client": self._client})
        self.force_close()

    async def _refuse(self, request: BaseRequest) -> web.StreamResponse:
        limit = self._limits.max_connections_per_client
        response = status_response(
            errors.too_many_requests(f"too many open connections from {self._client} (limit {limit}), try again later")
        )
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        # A body the client broke (bad chunked encoding) fails again when aiohttp drains it after our 400.
        if isinstance(kw.get("exc_info"), RequestPayloadError):
            log.debug("Dropped a connection whose request body could not be read", extra={"client": self._client})
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        error = self._status_for(status, exc, message)
        if error.code >= 500:
            self.log_exception("Error handling request", exc_info=exc)
        else:
            log.debug("Refused a malformed request", extra={"code": error.code, "error": error.message})
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        response = status_response(error)
        response.force_close()
        self._close = True  # what else arrives on this connection is dropped, not parsed
        if self.transport is not None and not isinstance(self.transport, _LingeringClose):
            self.transport = _LingeringClose(self.transport, loop=self._loop, delay=LINGER_SECONDS)  # type: ignore[assignment]
        return response

    def _status_for(self, status: int, exc: BaseException | None, message: str | None) -> StatusError:
        if isinstance(exc, LineTooLong):
            limit = str(exc.args[1]) if len(exc.args) > 1 else ""
            if limit == str(self.max_line_size) and self.max_line_size != self.max_field_size:
                return errors.request_uri_too_long(self.max_line_size)
            return errors.request_header_fields_too_large(f"a header field is longer than {self.max_field_size} bytes")
        if isinstance(exc, BadHttpMessage) and "Too many headers" in exc.message:
            return errors.request_header_fields_too_large(f"more than {self.max_headers} header fields")
        if status == 504:
            return StatusError(504, "Timeout", "the request timed out")
        if 400 <= status < 500:
            return errors.bad_request(f"malformed HTTP request: {message or exc or 'bad request'}")
        return errors.internal("an internal error occurred; see the server log")

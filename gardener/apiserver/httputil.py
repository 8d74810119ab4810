"""Small HTTP helpers: JSON responses, request bodies in JSON, YAML or protobuf, query flags.

`read_body` is the one way a request body enters the server: it bounds the size (413 past
`MAX_BODY_BYTES`, kube-apiserver's limit), picks the decoder from the Content-Type (415 for a type the
API does not take) and hands back plain JSON values only (dict with str keys, list, str, int, float,
bool, None) nested at most `MAX_DEPTH` deep. Everything downstream (validation, patches, storage,
orjson) can then rely on that instead of failing on a YAML date, a byte string or a 10,000-deep list.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict

from gardener.apiserver import errors
from gardener.apiserver.errors import StatusError

if TYPE_CHECKING:
    import ssl

    import yaml

log = logging.getLogger("gardener.apiserver.http")

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
#: what POST, PUT and DELETE bodies may be, in the order kube-apiserver lists them in its 415 answer
BODY_TYPES = (JSON, YAML, PROTOBUF)
#: PATCH bodies, and the syntax each is written in
PATCH_BODY_TYPES = {
    "application/json-patch+json": JSON,
    "application/merge-patch+json": JSON,
    "application/strategic-merge-patch+json": JSON,
    "application/apply-patch+yaml": YAML,
}
#: kube-apiserver's limit for request bodies (`--max-request-bytes` default, 3 MiB)
MAX_BODY_BYTES = 3 * 1024 * 1024
#: the app setting that overrides MAX_BODY_BYTES (ServerConfig.max_request_bytes)
MAX_BODY_BYTES_KEY = web.AppKey("max_body_bytes", int)
#: How deep a body may nest (containers within containers). kube's JSON decoder allows 10,000; here the
#: server's own code is recursive (deepcopy, patches, field managers, schema validation: a few Python frames
#: per level, against a recursion limit of 1000) and orjson serialises at most 254 levels, of which stored
#: objects, lists, tables and managedFields add up to about ten. 128 leaves room for all of that and is
#: far deeper than real objects: the deepest manifests in this repository nest 10 levels, large CRDs 30-50.
MAX_DEPTH = 128
#: values a YAML body may expand to through aliases, on top of two per byte (more than any alias-free YAML
#: can hold): bounds the "billion laughs" shape, which kube's YAML decoder refuses as "excessive aliasing"
YAML_ALIAS_ALLOWANCE = 10_000

#: kube's warning recorder: at most 4 KiB of Warning headers, warnings cut to 256 characters once over
_WARNINGS_MAX_BYTES = 4 * 1024
_WARNING_TRUNCATE = 256


def json_response(obj: Any, *, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    for header in warning_headers(warnings or []):
        headers.add("Warning", header)
    return web.Response(body=orjson.dumps(obj), status=status, content_type=JSON, headers=headers)


def warning_headers(warnings: list[str]) -> list[str]:
    """One `299 - "<text>"` value per warning, as kube's warning recorder writes them.

    The texts can carry what a client sent (an unknown field's name), so control characters are escaped
    (Go's %q style): a CR or LF in a header would make the response unwritable after the write happened.
    Duplicates are dropped and the total is bounded like kube's: past 4 KiB each text is cut to 256
    characters, and what still does not fit is left out.
    """
    texts = list(dict.fromkeys(_printable(w) for w in warnings if w))
    headers = [_warning_value(t) for t in texts]
    if sum(len(h) for h in headers) <= _WARNINGS_MAX_BYTES:
        return headers
    kept: list[str] = []
    written = 0
    for text in texts:
        header = _warning_value(text[:_WARNING_TRUNCATE])
        if written + len(header) > _WARNINGS_MAX_BYTES:
            break
        written += len(header)
        kept.append(header)
    return kept


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif char in "\r\n\t":
            out.append({"\r": "\\r", "\n": "\\n", "\t": "\\t"}[char])
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


def _warning_value(text: str) -> str:
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def raw_json_response(body: bytes, *, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON)


def status_response(exc: StatusError) -> web.Response:
    headers = {}
    if exc.retry_after_seconds is not None:
        headers["Retry-After"] = str(exc.retry_after_seconds)
    return web.Response(body=orjson.dumps(exc.to_status()), status=exc.code, content_type=JSON, headers=headers)


def media_type(request: web.Request) -> str:
    """The Content-Type without parameters; none at all means JSON, as kube's input negotiation does."""
    return (request.headers.get("Content-Type") or JSON).split(";")[0].strip().lower()


async def read_body(request: web.Request, *, allow_empty: bool = False) -> Any:
    """The request's body as JSON values (see the module docstring); every handler reads bodies here.

    The size is checked before decoding (Content-Length first, then while reading, for chunked bodies), the
    media type after the emptiness check: kube negotiates a decoder only for a non-empty body (a DELETE
    without options needs no Content-Type).
    """
    limit = request.config_dict.get(MAX_BODY_BYTES_KEY, MAX_BODY_BYTES)
    raw = await _read_limited(request, limit)
    if not raw or raw.isspace():
        if allow_empty:
            return None
        raise errors.bad_request("the request body is empty")
    media = media_type(request)
    if request.method == "PATCH":
        if media not in PATCH_BODY_TYPES:
            raise errors.unsupported_media_type(media, list(PATCH_BODY_TYPES))
    elif media not in BODY_TYPES:
        raise errors.unsupported_media_type(media, list(BODY_TYPES))
    return decode_body(raw, media)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        raise errors.request_entity_too_large(limit)
    body = bytearray()
    try:
        while chunk := await request.content.readany():
            body += chunk
            if len(body) > limit:
                raise errors.request_entity_too_large(limit)
    except RequestPayloadError as exc:  # a broken chunked encoding
        raise errors.bad_request(f"the body of the request could not be read: {exc}") from None
    return bytes(body)


async def expect_continue(request: web.Request) -> web.StreamResponse | None:
    """The answer to `Expect: 100-continue`: 413 at once for a declared length over the limit (the client then
    does not send it), else "100 Continue" as aiohttp would."""
    if request.headers.get("Expect", "").lower() != "100-continue":
        return status_response(StatusError(417, "BadRequest", "only Expect: 100-continue is supported"))
    limit = request.config_dict.get(MAX_BODY_BYTES_KEY, MAX_BODY_BYTES)
    if request.content_length is not None and request.content_length > limit:
        response = status_response(errors.request_entity_too_large(limit))
        response.force_close()
        return response
    if request.version >= (1, 1):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    return None


def decode_body(raw: bytes, media: str) -> Any:
    """Decode `raw` written as `media` (a body or a patch type) into JSON values; StatusError 400/415 if not."""
    syntax = media if media in BODY_TYPES else PATCH_BODY_TYPES.get(media)
    if syntax is None:
        raise errors.unsupported_media_type(media, list(BODY_TYPES))
    if syntax == PROTOBUF:
        value: Any = _decode_protobuf(raw, media)
    elif syntax == YAML:
        return decode_yaml(raw)
    else:
        value = decode_json(raw)
    check_depth(value)
    return value


def _decode_protobuf(raw: bytes, media: str) -> Any:
    # Imported on the first protobuf body: most clients send JSON, and the decoder is sizeable.
    from gardener.apiserver.protobuf import ProtobufError, decode_k8s_protobuf

    try:
        return decode_k8s_protobuf(raw)
    except ProtobufError as exc:
        if exc.code == 415:
            raise errors.unsupported_media_type(media, [JSON, YAML]) from None
        raise errors.bad_request(f"the body of the request is not valid protobuf: {exc}") from None
    except RecursionError:
        raise _too_deep() from None


def decode_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # orjson stops at 1024 levels
            raise _too_deep() from None
        raise errors.bad_request(f"the body of the request is not valid JSON: {exc}") from None


def check_depth(value: Any, *, limit: int = MAX_DEPTH) -> None:
    """Refuse values whose containers nest more than `limit` deep (iteratively: the input may be deep)."""
    if not isinstance(value, dict | list):
        return
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise _too_deep(limit)
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))


def _too_deep(limit: int = MAX_DEPTH) -> StatusError:
    return errors.bad_request(f"the body of the request nests more than {limit} levels deep")


# ---- YAML ----------------------------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (_TAG + t for t in ("str", "null", "bool", "int", "float"))
_TIMESTAMP, _MERGE, _SEQ, _MAP = (_TAG + t for t in ("timestamp", "merge", "seq", "map"))
_INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1


def decode_yaml(raw: bytes) -> Any:
    """YAML to JSON values the way kube's sigs.k8s.io/yaml does, refusing what JSON cannot hold.

    The document is composed into nodes (aliases stay references, nothing is expanded yet) and then
    converted by `_YAMLToJSON`: timestamps stay the strings they were written as, non-string keys become
    strings, `<<` merges are applied, aliases are expanded into independent copies (a shared object
    would let one mutation change two places) within a budget, and binary, sets, ordered maps, Python
    objects, null keys, .inf and .nan are a 400 naming the problem.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(raw, Loader=loader)
    except RecursionError:  # the pure-Python composer recurses per level (libyaml stops at 1000 itself)
        raise _too_deep() from None
    except (yaml.YAMLError, ValueError) as exc:
        if "maximum nesting depth" in str(exc):  # libyaml's own bound (1000)
            raise _too_deep() from None
        raise errors.bad_request(f"the body of the request is not valid YAML: {exc}") from None
    if node is None:
        return None
    return _YAMLToJSON(budget=2 * len(raw) + YAML_ALIAS_ALLOWANCE).value(node, 1)


class _YAMLToJSON:
    """Converts composed YAML nodes into JSON values; `budget` counts every value produced."""

    def __init__(self, *, budget: int) -> None:
        import yaml

        self._yaml = yaml
        self._budget = budget
        self._limit = budget
        self._scalars = yaml.constructor.SafeConstructor()

    def _spend(self) -> None:
        self._budget -= 1
        if self._budget < 0:
            raise errors.bad_request(
                f"the YAML body of the request expands to more than {self._limit} values through its aliases"
            )

    def value(self, node: yaml.Node, depth: int) -> Any:
        self._spend()
        nodes = self._yaml.nodes
        if isinstance(node, nodes.ScalarNode):
            return self._scalar(node, key=False)
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(node, nodes.SequenceNode):
            if node.tag != _SEQ:
                raise _unsupported_tag(node.tag)
            return [self.value(item, depth + 1) for item in node.value]
        if isinstance(node, nodes.MappingNode):
            if node.tag != _MAP:
                raise _unsupported_tag(node.tag)
            return self._mapping(node, depth)
        raise errors.bad_request(f"the YAML body of the request holds an unsupported node {type(node).__name__}")

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        explicit: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, self._yaml.nodes.ScalarNode) and key_node.tag == _MERGE:
                self._merge(merged, value_node, depth)
                continue
            explicit[self._key(key_node)] = self.value(value_node, depth + 1)
        if not merged:
            return explicit
        merged.update(explicit)  # the mapping's own keys win over merged ones
        return merged

    def _merge(self, into: dict[str, Any], source: yaml.Node, depth: int) -> None:
        """`<<: *a` or `<<: [*a, *b]`: earlier sources win. Each merge level counts as one level of depth,
        so a mapping that merges itself ends as "too deep" rather than in endless recursion."""
        nodes = self._yaml.nodes
        sources = source.value if isinstance(source, nodes.SequenceNode) else [source]
        for item in sources:
            if not isinstance(item, nodes.MappingNode):
                raise errors.bad_request("the YAML body of the request merges (<<) something that is not a mapping")
            self._spend()
            if depth + 1 > MAX_DEPTH:
                raise _too_deep()
            for key, value in self._mapping(item, depth + 1).items():
                into.setdefault(key, value)

    def _key(self, node: yaml.Node) -> str:
        """Keys as sigs.k8s.io/yaml turns them into JSON: strings as they are, numbers and booleans printed."""
        self._spend()
        if not isinstance(node, self._yaml.nodes.ScalarNode):
            raise errors.bad_request("the YAML body of the request has a mapping key that is not a string")
        key = self._scalar(node, key=True)
        if isinstance(key, str):
            return key
        if key is None:
            raise errors.bad_request("the YAML body of the request has a null mapping key")
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, float):
            return go_float32_key(key)
        return str(key)

    def _scalar(self, node: yaml.ScalarNode, *, key: bool) -> Any:
        tag, text = node.tag, node.value
        if tag in (_STR, _MERGE):  # a "<<" in value position is just text
            return _utf8(text)
        if tag == _TIMESTAMP:
            return _utf8(text)  # go-yaml hands timestamps to JSON as the text they were written as
        try:
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return self._scalars.construct_yaml_bool(node)
            if tag in (_INT, _FLOAT):
                if ":" in text:
                    return _utf8(text)  # YAML 1.1 sexagesimal (1:30): go-yaml, like kube, keeps it a string
                number = (
                    self._scalars.construct_yaml_int(node) if tag == _INT else self._scalars.construct_yaml_float(node)
                )
                return _number(number, text, key=key)
        except (ValueError, KeyError, TypeError, OverflowError, self._yaml.YAMLError):
            raise errors.bad_request(
                f"the YAML body of the request has an invalid {_short(tag)} value {text!r}"
            ) from None
        raise _unsupported_tag(tag)


def _number(number: int | float, text: str, *, key: bool) -> int | float:
    if isinstance(number, int) and not _INT64_MIN <= number <= _UINT64_MAX:
        number = float(number)  # like go-yaml and orjson: an integer past 64 bits becomes a float
    if isinstance(number, float) and not math.isfinite(number) and not key:
        raise errors.bad_request(f"the YAML body of the request has a number JSON cannot represent: {text!r}")
    return number


def _utf8(text: str) -> str:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise errors.bad_request("the YAML body of the request has a string that is not valid UTF-8") from None
    return text


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _unsupported_tag(tag: str) -> StatusError:
    hint = "; send base64 text as a plain string" if tag == _TAG + "binary" else ""
    return errors.bad_request(
        f"the YAML body of the request uses the tag {_short(tag)}, which has no JSON equivalent{hint}"
    )


def go_float32_key(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32): how sigs.k8s.io/yaml writes a float mapping key."""
    if math.isnan(value):
        return ".nan"
    try:
        single = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        single = math.copysign(math.inf, value)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    if single == 0:
        return "-0" if math.copysign(1.0, single) < 0 else "0"
    for digits in range(1, 10):  # the shortest decimal that reads back as the same float32
        text = f"{single:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, exp_text = text.split("e")
    exponent = int(exp_text)
    sign = "-" if mantissa.startswith("-") else ""
    significant = mantissa.lstrip("-").replace(".", "")
    if exponent < -4 or exponent >= 6:  # Go's %g switches to exponents outside [-4, 6) for shortest output
        fraction = "." + significant[1:] if len(significant) > 1 else ""
        return f"{sign}{significant[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return f"{single:.{max(len(significant) - (exponent + 1), 0)}f}"


# ---- query parameters ----------------------------------------------------------------------------


def query_bool(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def query_int(request: web.Request, name: str, *, default: int = 0) -> int:
    value = request.query.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'invalid value for {name}: "{value}"') from None


# ---- the transport: limits and timeouts on connections, errors of the HTTP parser as Status ------------------


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

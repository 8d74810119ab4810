"""Small HTTP helpers: JSON responses, warnings, reading request bodies, query flags.

`read_body` is the one way a request body enters the server: it bounds the size (413 past
`MAX_BODY_BYTES`, kube-apiserver's limit), picks the decoder from the Content-Type (415 for a type the
API does not take) and hands back plain JSON values only (see `gardener.apiserver.bodies`).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from multidict import CIMultiDict

from gardener.apiserver import errors
from gardener.apiserver.bodies import BODY_TYPES, JSON, PATCH_BODY_TYPES, decode_body
from gardener.apiserver.errors import StatusError

#: kube-apiserver's limit for request bodies (`--max-request-bytes` default, 3 MiB)
MAX_BODY_BYTES = 3 * 1024 * 1024
#: the app setting that overrides MAX_BODY_BYTES (ServerConfig.max_request_bytes)
MAX_BODY_BYTES_KEY = web.AppKey("max_body_bytes", int)
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

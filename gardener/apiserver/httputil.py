"""Small HTTP helpers: JSON responses, request bodies in JSON or YAML, query flags."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from gardener.apiserver import errors
from gardener.apiserver.errors import StatusError

JSON = "application/json"


def json_response(obj: Any, *, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    headers = {}
    if warnings:
        # kube sends one Warning header per warning: 299 - "<text>"
        headers["Warning"] = ", ".join('299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in warnings)
    return web.Response(body=orjson.dumps(obj), status=status, content_type=JSON, headers=headers)


def raw_json_response(body: bytes, *, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON)


def status_response(exc: StatusError) -> web.Response:
    headers = {}
    if exc.retry_after_seconds is not None:
        headers["Retry-After"] = str(exc.retry_after_seconds)
    return web.Response(body=orjson.dumps(exc.to_status()), status=exc.code, content_type=JSON, headers=headers)


def media_type(request: web.Request) -> str:
    return (request.headers.get("Content-Type") or JSON).split(";")[0].strip().lower()


async def read_body(request: web.Request, *, allow_empty: bool = False) -> Any:
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            return None
        raise errors.bad_request("the request body is empty")
    return decode_body(raw, media_type(request))


def decode_body(raw: bytes, media: str) -> Any:
    if "protobuf" in media:
        # Imported on the first protobuf body: most clients send JSON, and the decoder is sizeable.
        from gardener.apiserver.protobuf import ProtobufError, decode_k8s_protobuf

        try:
            return decode_k8s_protobuf(raw)
        except ProtobufError as exc:
            if exc.code == 415:
                raise errors.unsupported_media_type(media, ["application/json", "application/yaml"]) from None
            raise errors.bad_request(f"the body of the request is not valid protobuf: {exc}") from None
    if "cbor" in media:
        raise errors.unsupported_media_type(media, ["application/json", "application/yaml"])
    if "yaml" in media:
        import yaml

        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"the body of the request is not valid YAML: {exc}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"the body of the request is not valid JSON: {exc}") from None


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

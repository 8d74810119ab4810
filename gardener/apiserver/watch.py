"""Serving WATCH: a chunked stream of newline-delimited JSON events from the event window.

Selector transitions become ADDED/DELETED as clients expect, idle streams get BOOKMARKs so
clients (kopf drops streams silent for 70 s) keep a fresh resourceVersion, and a revision that
is too old ends the stream with an in-stream ERROR carrying a 410 Status.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from gardener.apiserver import errors
from gardener.apiserver.resources import ResourceInfo
from gardener.apiserver.rest import ObjectStore
from gardener.apiserver.selectors import FieldSelector, LabelSelector
from gardener.apiserver.storage.events import ADDED, DELETED, MODIFIED, Event, TooOld

BOOKMARK_INTERVAL = 10.0
MAX_TIMEOUT = 1800


@dataclass(frozen=True)
class WatchRequest:
    info: ResourceInfo
    namespace: str
    resource_version: str
    labels: LabelSelector | None
    fields: FieldSelector | None
    bookmarks: bool
    timeout: float
    send_initial_events: bool
    #: Table apiVersion when the client asked for Table rows (kubectl get -w), else None
    table_version: str | None = None
    include_object: str = "Metadata"


class _Encoder:
    """Renders events as objects, or as one-row Tables (column headers only in the first)."""

    def __init__(self, req: WatchRequest) -> None:
        self._req = req
        self._headers = True

    def line(self, kind: str, obj: dict[str, Any]) -> bytes:
        if self._req.table_version is None:
            return _line(kind, obj)
        from gardener.apiserver import tables

        table = tables.to_table(
            self._req.info,
            [obj],
            include_object=self._req.include_object,
            api_version=self._req.table_version,
            headers=self._headers,
        )
        self._headers = False
        return _line(kind, table)


class _Filter:
    def __init__(self, req: WatchRequest) -> None:
        self._labels = req.labels
        self._fields = req.fields

    def matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if self._labels is not None and not self._labels.matches((obj.get("metadata") or {}).get("labels")):
            return False
        return self._fields is None or self._fields.matches(obj)

    @property
    def trivial(self) -> bool:
        return (self._labels is None or self._labels.empty) and self._fields is None


async def serve_watch(request: web.Request, store: ObjectStore, req: WatchRequest) -> web.StreamResponse:
    window = store.backend.events
    prefix = req.info.list_prefix(req.namespace)
    flt = _Filter(req)
    initial: list[dict[str, Any]] = []
    rv_text = req.resource_version
    if rv_text in ("", "0") or req.send_initial_events:
        revision, initial, _ = await store.list_objects(req.info, req.namespace, labels=req.labels, fields=req.fields)
        start_rv = revision
    else:
        try:
            start_rv = int(rv_text)
        except ValueError:
            raise errors.bad_request(f'invalid resourceVersion "{rv_text}"') from None
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
    response.enable_chunked_encoding()
    try:
        sub = window.subscribe(prefix, after_rv=start_rv)
    except TooOld as exc:
        await response.prepare(request)
        status = errors.gone(str(exc)).to_status()
        await response.write(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
        return response
    await response.prepare(request)
    encoder = _Encoder(req)
    try:
        for obj in initial:
            await response.write(encoder.line(ADDED, obj))
        if req.send_initial_events and req.bookmarks:
            await response.write(_bookmark(req.info, start_rv, initial_end=True))
        await _stream(response, store, req, sub, flt, start_rv, encoder)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        sub.close()
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


async def _stream(
    response: web.StreamResponse,
    store: ObjectStore,
    req: WatchRequest,
    sub: Any,
    flt: _Filter,
    start_rv: int,
    encoder: _Encoder,
) -> None:
    deadline = time.monotonic() + req.timeout
    last_sent = start_rv
    next_bookmark = time.monotonic() + BOOKMARK_INTERVAL
    while True:
        now = time.monotonic()
        if now >= deadline:
            return
        queue = sub.queue
        if queue.empty():
            wait = min(deadline, next_bookmark) - now
            try:
                first: Event | None = await asyncio.wait_for(queue.get(), timeout=wait)
            except TimeoutError:
                if req.bookmarks and time.monotonic() >= next_bookmark:
                    # The queue is empty, so every event up to the published revision has been delivered.
                    last_sent = max(last_sent, store.backend.events.published_rv)
                    await response.write(_bookmark(req.info, last_sent))
                    next_bookmark = time.monotonic() + BOOKMARK_INTERVAL
                continue
        else:
            first = queue.get_nowait()
        # Send everything already queued in one write: one TLS record instead of one per event.
        batch = [first]
        while not queue.empty() and len(batch) < 256:
            batch.append(queue.get_nowait())
        chunk = bytearray()
        for ev in batch:
            if ev is None:
                if chunk:
                    await response.write(bytes(chunk))
                return
            line = _event_line(store, req.info, ev, flt, encoder)
            if line is not None:
                chunk += line
            last_sent = ev.rv
        if chunk:
            await response.write(bytes(chunk))


def _event_line(store: ObjectStore, info: ResourceInfo, ev: Event, flt: _Filter, encoder: _Encoder) -> bytes | None:
    # Selectors match the stored form, as a LIST's do (an events.k8s.io selector names core fields by then).
    stored = orjson.loads(ev.value)
    if flt.trivial:
        return encoder.line(ev.type, store.present(info, stored))
    now_matches = flt.matches(stored)
    obj = store.present(info, stored)
    if ev.type == DELETED:
        return encoder.line(DELETED, obj) if now_matches else None
    was_matching = flt.matches(orjson.loads(ev.prev)) if ev.prev is not None else False
    if now_matches and was_matching:
        return encoder.line(MODIFIED, obj)
    if now_matches:
        return encoder.line(ADDED, obj)
    if was_matching:
        return encoder.line(DELETED, obj)
    return None


def _line(kind: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": kind, "object": obj}) + b"\n"


def _bookmark(info: ResourceInfo, rv: int, *, initial_end: bool = False) -> bytes:
    m: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        m["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": info.kind, "apiVersion": info.api_version, "metadata": m}
    return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"

"""etcd backend over etcd's HTTP/JSON gRPC gateway, so several API server replicas can share one store.

The resourceVersion is etcd's revision: an object's is its key's `mod_revision`, injected into the
JSON on read because etcd assigns it at write time (the stored bytes carry none). Writes are
single-key transactions whose compare is the optimistic lock:

- create: `create_revision == 0` then put, else KeyExists;
- update: `mod_revision == expected` (or, with expected 0, `version > 0`) then put, else read the
  key for RevisionMismatch or KeyNotFound;
- delete: the same compare, then delete with `prev_kv`.

The event window is fed by ONE watch on the key prefix (with `prev_kv`), never by this process's
own writes, so every replica publishes the same events in etcd's revision order. A write returns
only once its own event is in the local window (bounded by `publish_timeout`), so a client that
sees a write's resourceVersion can watch for it on the same replica. The watch resumes after
connection loss from the last published revision; if etcd compacted that revision away, the
window is reset to the current revision and open watches end, so clients relist after a 410.
Progress notifications (etcd's `--experimental-watch-progress-notify-interval`, 10 minutes by
default) advance the window so bookmarks stay fresh when other key spaces write.

Like kube-apiserver, every replica runs a compactor: each interval it bumps a shared counter key
with a compare-and-swap and, if it won, compacts etcd to the revision seen one interval earlier,
so history is kept for at least one interval (the watch window's age).

The watch and compaction loops log and retry whatever fails in them. Should the watch task still die,
`failure` says why, writes stop waiting for their events, and the task's error reaches whoever
supervises it (the API server reports itself unhealthy).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import heapq
import itertools
import logging
import time
from typing import Any

import aiohttp
import orjson

from gardener.apiserver.storage.events import ADDED, DELETED, MODIFIED, Event, EventWindow, TooOld
from gardener.apiserver.storage.interface import (
    IdentityTransformer,
    KeyExists,
    KeyNotFound,
    ListResult,
    RevisionMismatch,
    StorageError,
    Stored,
    Unavailable,
    Unserializable,
    ValueTransformer,
)

log = logging.getLogger("gardener.apiserver.storage.etcd")

#: gRPC status codes that mean "try again later" rather than "this request is wrong"
_RETRYABLE_CODES = {1, 4, 8, 10, 14}  # CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, UNAVAILABLE
_COMPACTED = "required revision has been compacted"
#: objects per range request when a caller lists without a limit (all pages read at one revision)
_LIST_PAGE = 1000
_COMPACT_KEY = "compact_rev_key"


class Compacted(StorageError):
    """The revision asked for is older than etcd's compaction point."""

    def __init__(self, message: str, *, compact_revision: int = 0) -> None:
        super().__init__(message)
        self.compact_revision = compact_revision


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def _prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with `prefix` (etcd's `WithPrefix`)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\x00"  # no upper bound: every key


def _inject(data: bytes, rv: int) -> bytes:
    """Stored JSON (without a resourceVersion) -> the bytes served, with metadata.resourceVersion = rv."""
    obj = orjson.loads(data)
    if not isinstance(obj, dict):
        raise ValueError("stored value is not a JSON object")
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    meta["resourceVersion"] = str(rv)
    return orjson.dumps(obj)


class EtcdBackend:
    def __init__(
        self,
        *,
        servers: list[str],
        prefix: str = "",
        transformer: ValueTransformer | None = None,
        request_timeout: float = 10.0,
        publish_timeout: float = 5.0,
        start_timeout: float = 30.0,
        compaction_interval: float = 300.0,
        window_seconds: float = 300.0,
    ) -> None:
        if not servers:
            raise ValueError("EtcdBackend needs at least one etcd server URL")
        self._servers = [s.rstrip("/") for s in servers]
        self._server = 0
        self._prefix = prefix
        self._prefix_bytes = prefix.encode()
        self._transformer: ValueTransformer = transformer or IdentityTransformer()
        self._request_timeout = request_timeout
        self._publish_timeout = publish_timeout
        self._start_timeout = start_timeout
        self._compaction_interval = compaction_interval
        self._session: aiohttp.ClientSession | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._compact_task: asyncio.Task[None] | None = None
        self._watching: asyncio.Future[None] | None = None
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._waiter_ids = itertools.count()
        self._closing = False
        self.events = EventWindow(start_rv=0, max_age_seconds=window_seconds)
        #: how often the watch had to be re-established, and how often the window was reset by compaction
        self.watch_restarts = 0
        self.window_resets = 0
        #: why the watch task died, once it has (it is not restarted: the process should be)
        self.failure: BaseException | None = None

    # ---- lifecycle ----

    async def start(self) -> None:
        self._closing = False
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300))
        deadline = time.monotonic() + self._start_timeout
        delay = 0.1
        while True:
            try:
                revision = await self._revision_now()
                break
            except Unavailable as exc:
                if time.monotonic() + delay > deadline:
                    await self.close()
                    raise Unavailable(f"etcd at {', '.join(self._servers)} is not reachable: {exc}") from exc
                log.warning("Waiting for etcd", extra={"error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.events.reset(revision)
        loop = asyncio.get_running_loop()
        self._watching = loop.create_future()
        self.failure = None
        self._watch_task = asyncio.create_task(self._watch_loop(), name="etcd-watch")
        self._watch_task.add_done_callback(self._watch_ended)
        done, _ = await asyncio.wait({self._watching}, timeout=self._start_timeout)
        if not done:
            await self.close()
            raise Unavailable("could not establish the etcd watch")
        if self._compaction_interval > 0:
            self._compact_task = asyncio.create_task(self._compact_loop(), name="etcd-compactor")

    async def close(self) -> None:
        self._closing = True
        for task in (self._watch_task, self._compact_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._watch_task = self._compact_task = None
        self._release_waiters(all_=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.events.close_all()

    def current_revision(self) -> int:
        return self.events.published_rv

    def _watch_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._closing:
            return
        exc = task.exception()
        self.failure = exc or RuntimeError("the etcd watch loop ended")
        log.critical("etcd watch task died; the event window no longer follows etcd", exc_info=exc)
        self._release_waiters(all_=True)

    # ---- the gateway ----

    def _key(self, key: str) -> bytes:
        return self._prefix_bytes + key.encode()

    def _unkey(self, raw: bytes) -> str:
        return raw[len(self._prefix_bytes) :].decode()

    async def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the gateway. A refused connection moves on to the next server (nothing was sent, so
        even a write is safe to resend); a read also gets one more try when a kept-alive connection died.
        """
        if self._session is None:
            raise Unavailable("etcd storage is not started")
        data = orjson.dumps(body)
        timeout = aiohttp.ClientTimeout(total=self._request_timeout)
        read_only = path == "/v3/kv/range"
        tries = len(self._servers) + (1 if read_only else 0)
        last: Exception | None = None
        for _ in range(tries):
            base = self._servers[self._server]
            try:
                async with self._session.post(base + path, data=data, timeout=timeout) as resp:
                    payload = await resp.read()
                    status = resp.status
            except aiohttp.ClientConnectorError as exc:
                last = exc
                self._server = (self._server + 1) % len(self._servers)
                continue
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if not read_only:
                    raise Unavailable(f"etcd request {path} failed: {exc!r}") from exc
                last = exc
                continue
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise Unavailable(f"etcd request {path} failed: {exc!r}") from exc
            try:
                result = orjson.loads(payload)
            except orjson.JSONDecodeError:
                raise Unavailable(f"etcd answered {status} with non-JSON: {payload[:200]!r}") from None
            if status != 200 or "error" in result:
                raise _error(result, status)
            if not isinstance(result, dict):
                raise Unavailable(f"etcd answered {status} with unexpected JSON")
            return result
        raise Unavailable(f"no etcd server reachable: {last!r}")

    async def _revision_now(self) -> int:
        resp = await self._call("/v3/kv/range", {"key": _b64(self._key("\x00")), "count_only": True})
        return int(resp["header"]["revision"])

    # ---- reads ----

    def _decode(self, kv: dict[str, Any]) -> Stored:
        key = self._unkey(_unb64(kv["key"]))
        rv = int(kv["mod_revision"])
        plain = self._transformer.from_storage(key, _unb64(kv.get("value")))
        return Stored(key, rv, _inject(plain, rv))

    async def get(self, key: str) -> Stored | None:
        resp = await self._call("/v3/kv/range", {"key": _b64(self._key(key))})
        kvs = resp.get("kvs") or []
        return self._decode(kvs[0]) if kvs else None

    async def list_range(self, prefix: str, *, after_key: str = "", limit: int = 0, at_revision: int = 0) -> ListResult:
        """Keys under `prefix` after `after_key`, all read at one revision: `at_revision` or the current one.

        A revision etcd has compacted away raises TooOld (the API answers 410, the client relists).
        """
        full_prefix = self._key(prefix)
        start = full_prefix
        if after_key:
            start = max(start, self._key(after_key) + b"\x00")
        start = start or b"\x00"  # etcd refuses an empty key
        end = _prefix_end(full_prefix)
        for _attempt in range(3):
            try:
                return await self._list(start, end, limit=limit, revision=at_revision)
            except Compacted as exc:
                if at_revision:
                    raise TooOld(at_revision, exc.compact_revision or self.events.oldest_rv) from None
                # compacted between two pages of an unlimited list: read again at a newer revision
        raise Unavailable("etcd compacted the list's revision three times in a row")

    async def _list(self, start: bytes, end: bytes, *, limit: int, revision: int) -> ListResult:
        """[start, end) in pages of at most `_LIST_PAGE` keys, all read at `revision` (or the first page's)."""
        items: list[Stored] = []
        body: dict[str, Any] = {"key": _b64(start), "range_end": _b64(end)}
        if revision:
            body["revision"] = str(revision)
        while True:
            want = min(_LIST_PAGE, limit - len(items)) if limit > 0 else _LIST_PAGE
            body["limit"] = str(want)
            resp = await self._call("/v3/kv/range", body)
            if not revision:
                revision = int(resp["header"]["revision"])
                body["revision"] = str(revision)
            kvs = resp.get("kvs") or []
            items.extend(self._decode(kv) for kv in kvs)
            more = bool(resp.get("more")) and bool(kvs)
            if not more:
                return ListResult(revision=revision, items=items)
            if limit > 0 and len(items) >= limit:
                return ListResult(revision=revision, items=items, next_key=items[-1].key)
            body["key"] = _b64(_unb64(kvs[-1]["key"]) + b"\x00")

    # ---- writes ----

    def _encode(self, key: str, obj: dict[str, Any]) -> str:
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        meta.pop("resourceVersion", None)
        try:
            data = orjson.dumps(obj)
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise Unserializable(f"{key} cannot be stored as JSON: {exc}") from None
        return _b64(self._transformer.to_storage(key, data))

    @staticmethod
    def _stamp(obj: dict[str, Any], rv: int) -> bytes:
        obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
        return orjson.dumps(obj)

    def _guard(self, ekey: str, expected_rv: int) -> dict[str, Any]:
        if expected_rv:
            return {"target": "MOD", "key": ekey, "mod_revision": str(expected_rv), "result": "EQUAL"}
        return {"target": "VERSION", "key": ekey, "version": "0", "result": "GREATER"}

    def _conflict(self, resp: dict[str, Any], key: str) -> StorageError:
        responses = resp.get("responses") or []
        kvs = (responses[0].get("response_range") or {}).get("kvs") if responses else None
        if not kvs:
            return KeyNotFound(key)
        return RevisionMismatch(self._decode(kvs[0]))

    async def create(self, key: str, obj: dict[str, Any]) -> Stored:
        ekey = _b64(self._key(key))
        txn = {
            "compare": [{"target": "CREATE", "key": ekey, "create_revision": "0", "result": "EQUAL"}],
            "success": [{"request_put": {"key": ekey, "value": self._encode(key, obj)}}],
        }
        resp = await self._call("/v3/kv/txn", txn)
        if not resp.get("succeeded"):
            raise KeyExists(key)
        rv = int(resp["header"]["revision"])
        value = self._stamp(obj, rv)
        await self._until_published(rv)
        return Stored(key, rv, value)

    async def update(self, key: str, obj: dict[str, Any], *, expected_rv: int) -> Stored:
        ekey = _b64(self._key(key))
        txn = {
            "compare": [self._guard(ekey, expected_rv)],
            "success": [{"request_put": {"key": ekey, "value": self._encode(key, obj)}}],
            "failure": [{"request_range": {"key": ekey}}],
        }
        resp = await self._call("/v3/kv/txn", txn)
        if not resp.get("succeeded"):
            raise self._conflict(resp, key)
        rv = int(resp["header"]["revision"])
        value = self._stamp(obj, rv)
        await self._until_published(rv)
        return Stored(key, rv, value)

    async def delete(self, key: str, *, expected_rv: int, last: dict[str, Any]) -> Stored:
        ekey = _b64(self._key(key))
        txn = {
            "compare": [self._guard(ekey, expected_rv)],
            "success": [{"request_delete_range": {"key": ekey, "prev_kv": True}}],
            "failure": [{"request_range": {"key": ekey}}],
        }
        resp = await self._call("/v3/kv/txn", txn)
        if not resp.get("succeeded"):
            raise self._conflict(resp, key)
        rv = int(resp["header"]["revision"])
        value = self._stamp(last, rv)
        await self._until_published(rv)
        return Stored(key, rv, value)

    # ---- read-your-writes through the window ----

    async def _until_published(self, rv: int) -> None:
        if self.events.published_rv >= rv or self._closing or self.failure is not None:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (rv, next(self._waiter_ids), fut))
        done, _ = await asyncio.wait({fut}, timeout=self._publish_timeout)
        if not done:
            fut.cancel()
            log.warning(
                "Write not seen on the etcd watch in time",
                extra={"revision": rv, "published": self.events.published_rv, "timeout": self._publish_timeout},
            )

    def _release_waiters(self, *, all_: bool = False) -> None:
        published = self.events.published_rv
        while self._waiters and (all_ or self._waiters[0][0] <= published):
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)

    # ---- the watch that feeds the window ----

    async def _watch_loop(self) -> None:
        delay = 0.1
        while not self._closing:
            try:
                try:
                    await self._watch_once()
                except Compacted as exc:
                    await self._reset_after_compaction(exc)
                delay = 0.1  # the stream ended cleanly (etcd closed it) or was reset: reconnect at once
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closing:
                    return
                log.warning(
                    "etcd watch lost, reconnecting",
                    extra={"error": repr(exc), "resume_after": self.events.published_rv, "in_seconds": delay},
                )
                self._server = (self._server + 1) % len(self._servers)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            self.watch_restarts += 1

    async def _watch_once(self) -> None:
        if self._session is None:
            raise Unavailable("etcd storage is not started")
        prefix = self._prefix_bytes
        request = {
            "create_request": {
                "key": _b64(prefix or b"\x00"),
                "range_end": _b64(_prefix_end(prefix)),
                "start_revision": str(self.events.published_rv + 1),
                "prev_kv": True,
                "progress_notify": True,
            }
        }
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._request_timeout, sock_read=None)
        # "hasleader" makes etcd cancel the watch if its member loses the leader, instead of going silent.
        headers = {"Grpc-Metadata-hasleader": "true"}
        url = self._servers[self._server] + "/v3/watch"
        async with self._session.post(url, data=orjson.dumps(request), timeout=timeout, headers=headers) as resp:
            if resp.status != 200:
                raise Unavailable(f"etcd watch answered {resp.status}: {(await resp.read())[:200]!r}")
            # One JSON message per line; a catch-up message can be megabytes, arriving in many chunks.
            buf = bytearray()
            async for chunk in resp.content.iter_any():
                scan = len(buf)
                buf.extend(chunk)
                start = 0
                while (nl := buf.find(b"\n", scan)) >= 0:
                    line = bytes(buf[start:nl])
                    start = scan = nl + 1
                    if line.strip():
                        self._on_watch_message(orjson.loads(line))
                del buf[:start]
        raise Unavailable("etcd closed the watch stream")

    def _on_watch_message(self, msg: dict[str, Any]) -> None:
        if "error" in msg:
            err = msg["error"]
            raise _error(err if isinstance(err, dict) else {"message": str(err)}, 0)
        result = msg.get("result") or {}
        if result.get("canceled"):
            compact = int(result.get("compact_revision") or 0)
            if compact:
                raise Compacted(f"watch revision compacted (oldest kept {compact})", compact_revision=compact)
            raise Unavailable(f"etcd canceled the watch: {result.get('cancel_reason', '')}")
        if result.get("created"):
            if self._watching is not None and not self._watching.done():
                self._watching.set_result(None)
            return
        raw_events = result.get("events") or []
        if raw_events:
            events = [ev for ev in (self._event(raw) for raw in raw_events) if ev is not None]
            self.events.publish(events)
            self.events.advance(max(int(raw["kv"]["mod_revision"]) for raw in raw_events))
        else:
            # A progress notification: every event up to this revision has been delivered.
            self.events.advance(int((result.get("header") or {}).get("revision") or 0))
        self._release_waiters()

    def _event(self, raw: dict[str, Any]) -> Event | None:
        kv = raw["kv"]
        key = self._unkey(_unb64(kv["key"]))
        rv = int(kv["mod_revision"])
        if key == _COMPACT_KEY:
            return None
        prev_kv = raw.get("prev_kv")
        try:
            prev = None
            prev_plain = b""
            if prev_kv:
                prev_plain = self._transformer.from_storage(key, _unb64(prev_kv.get("value")))
                prev = _inject(prev_plain, int(prev_kv["mod_revision"]))
            if raw.get("type") == "DELETE":
                if prev is None:
                    log.warning("DELETE event without its previous value", extra={"key": key, "revision": rv})
                    return Event(DELETED, key, rv, _inject(b"{}", rv), None)
                return Event(DELETED, key, rv, _inject(prev_plain, rv), prev)
            value = _inject(self._transformer.from_storage(key, _unb64(kv.get("value"))), rv)
        except Exception as exc:
            log.error("Skipping an undecodable etcd event", extra={"key": key, "revision": rv, "error": repr(exc)})
            return None
        if kv.get("create_revision") == kv.get("mod_revision"):
            return Event(ADDED, key, rv, value, None)
        return Event(MODIFIED, key, rv, value, prev)

    async def _reset_after_compaction(self, exc: Compacted) -> None:
        """Events between our revision and the compaction are gone: end every watch so clients relist."""
        delay = 0.1
        while not self._closing:
            try:
                revision = await self._revision_now()
                break
            except Unavailable:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        else:
            return
        log.warning(
            "etcd compacted past the watch window; resetting it",
            extra={"published": self.events.published_rv, "compacted": exc.compact_revision, "now": revision},
        )
        self.events.close_all()
        self.events.reset(revision)
        self.window_resets += 1
        self._release_waiters()

    # ---- compaction ----

    async def _compact_loop(self) -> None:
        # kube-apiserver's scheme: every replica tries, a compare-and-swap on a counter key picks one
        # per interval, which compacts to the revision the winner saw one interval earlier.
        seen_version = 0
        last_revision = 0
        while not self._closing:
            await asyncio.sleep(self._compaction_interval)
            try:
                seen_version, last_revision = await self.compact_once(seen_version, last_revision)
            except Exception as exc:  # an odd answer from etcd included: try again next interval
                log.warning("etcd compaction failed", extra={"error": repr(exc)})

    async def compact_once(self, seen_version: int, revision: int) -> tuple[int, int]:
        """One compactor step; returns the counter version and the revision to compact next time."""
        ekey = _b64(self._key(_COMPACT_KEY))
        txn = {
            "compare": [{"target": "VERSION", "key": ekey, "version": str(seen_version), "result": "EQUAL"}],
            "success": [{"request_put": {"key": ekey, "value": _b64(str(revision).encode())}}],
            "failure": [{"request_range": {"key": ekey}}],
        }
        resp = await self._call("/v3/kv/txn", txn)
        now = int(resp["header"]["revision"])
        if not resp.get("succeeded"):
            kvs = (resp["responses"][0].get("response_range") or {}).get("kvs") or []
            return (int(kvs[0]["version"]) if kvs else 0), now
        if revision > 0:
            try:
                await self._call("/v3/kv/compaction", {"revision": str(revision)})
                log.info("Compacted etcd", extra={"revision": revision})
            except Compacted:
                pass  # someone compacted further already
        return seen_version + 1, now


def _error(body: dict[str, Any], status: int) -> StorageError:
    message = str(body.get("message") or body.get("error") or f"HTTP {status}")
    code = int(body.get("code") or 0)
    if _COMPACTED in message:
        return Compacted(message)
    if code in _RETRYABLE_CODES or (status >= 500 and not code):
        return Unavailable(f"etcd: {message}")
    return StorageError(f"etcd: {message}")

"""SQLite backend: current state in one table, one global revision, group commit.

Writes go through one writer thread that commits whatever requests are waiting in a single
transaction (one fsync for many writes), so concurrent clients never see "database is locked"
and durable throughput grows with concurrency. A write is acknowledged only after its commit,
so it survives `kill -9`. Reads run on the event loop's own connection (WAL readers never block
the writer); watches come from the in-memory event window, never from polling.

Objects are serialised on the event loop before they are queued (the writer only splices in the
revision), so a value JSON cannot hold fails that one call with `Unserializable`. Any other failure
of one write fails that write alone: every check that can raise runs before its statement, so a failed
write leaves nothing behind for the batch's transaction. Should the writer thread still die, the
`sqlite-writer` task fails with its error (the API server watches its tasks and reports itself
unhealthy), every queued write fails with `Unavailable`, and so does every later one, instead of
waiting forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import secrets
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from gardener.apiserver.storage.events import ADDED, DELETED, MODIFIED, Event, EventWindow
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

log = logging.getLogger("gardener.apiserver.storage.sqlite")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, rv INTEGER NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(name, value) VALUES ('revision', 1);
"""

_MAX_BATCH = 512


def stamp(obj: dict[str, Any], rv: int) -> bytes:
    """Serialise `obj` with its resourceVersion set; the stored bytes are served as they are."""
    obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
    # orjson hands back an over-allocated buffer (~4 KiB); copy it to its size before it is kept.
    return bytes(memoryview(orjson.dumps(obj)))


@dataclass
class _Op:
    kind: str
    key: str
    obj: dict[str, Any] | None
    expected_rv: int
    future: asyncio.Future[Stored]
    #: `obj` as JSON with `marker` (a quoted placeholder) where its resourceVersion goes
    payload: bytes = b""
    marker: bytes = b""
    result: Stored | StorageError | None = field(default=None)
    event: Event | None = field(default=None)
    #: metadata.resourceVersion of `obj` before the placeholder, restored if the write fails
    previous_rv: Any = None


def connect(path: Path, *, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class SQLiteBackend:
    def __init__(self, path: Path, *, synchronous: str = "FULL", transformer: ValueTransformer | None = None) -> None:
        self._path = path
        self._transformer: ValueTransformer = transformer or IdentityTransformer()
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: sqlite3.Connection | None = None
        self._revision = 0
        self.events = EventWindow(start_rv=0)
        self.commits = 0
        self.batched_writes = 0
        #: why the writer thread died, once it has; every write fails with Unavailable from then on
        self.failure: BaseException | None = None
        self._writer_done: asyncio.Future[None] | None = None
        #: the batch the writer thread works on, failed by _writer_stopped if the thread dies with it
        self._in_flight: list[_Op] = []
        self._watchdog: asyncio.Task[None] | None = None
        self._closing = False
        # Placeholders a client cannot guess, so none can occur in the data it sent.
        self._marker_prefix = secrets.token_hex(12)
        self._markers = itertools.count()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        writer = connect(self._path, synchronous=self._synchronous)
        writer.executescript(_SCHEMA)
        self._revision = int(writer.execute("SELECT value FROM meta WHERE name='revision'").fetchone()[0])
        self.events.reset(self._revision)
        self._reader = connect(self._path, synchronous=self._synchronous)
        self._closing = False
        self.failure = None
        self._queue = queue.SimpleQueue()  # a writer that died leaves its stop marker behind
        self._writer_done = self._loop.create_future()
        self._thread = threading.Thread(target=self._writer_loop, args=(writer,), name="sqlite-writer", daemon=True)
        self._thread.start()
        self._watchdog = asyncio.create_task(self._watch_writer(self._writer_done), name="sqlite-writer")

    async def _watch_writer(self, done: asyncio.Future[None]) -> None:
        """Ends with the writer thread: with its error if it died, so whoever supervises tasks learns of it."""
        await done

    async def close(self) -> None:
        self._closing = True
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self._watchdog is not None:
            with contextlib.suppress(Exception):
                await self._watchdog
            self._watchdog = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.events.close_all()

    def current_revision(self) -> int:
        return self.events.published_rv

    # ---- reads (event loop thread) ----

    def _read(self) -> sqlite3.Connection:
        if self._reader is None:
            raise Unavailable("storage is not started")
        return self._reader

    async def get(self, key: str) -> Stored | None:
        row = self._read().execute("SELECT rv, value FROM objects WHERE key=?", (key,)).fetchone()
        return Stored(key, row[0], self._transformer.from_storage(key, row[1])) if row else None

    async def list_range(self, prefix: str, *, after_key: str = "", limit: int = 0, at_revision: int = 0) -> ListResult:
        if at_revision:
            # Changes committed but not yet in the window would be missed by the rebuild below.
            for _ in range(1000):
                if self.events.published_rv >= self._revision:
                    break
                await asyncio.sleep(0.001)
        changes = self.events.first_changes_after(at_revision, prefix) if at_revision else {}
        changes = {k: ev for k, ev in changes.items() if k > after_key}
        if not changes:
            return self._select(prefix, after_key=after_key, limit=limit, revision=at_revision)
        # Rebuild the range as it was at `at_revision`: undo every later change from the event window.
        current = self._select(prefix, after_key=after_key, limit=0, revision=at_revision)
        items = {s.key: s for s in current.items}
        for key, ev in changes.items():
            if ev.type == ADDED or ev.prev is None:
                items.pop(key, None)
            else:
                old_rv = int(orjson.loads(ev.prev)["metadata"]["resourceVersion"])
                items[key] = Stored(key, old_rv, ev.prev)
        ordered = [items[k] for k in sorted(items)]
        next_key = ""
        if limit > 0 and len(ordered) > limit:
            ordered = ordered[:limit]
            next_key = ordered[-1].key
        return ListResult(revision=at_revision, items=ordered, next_key=next_key)

    def _select(self, prefix: str, *, after_key: str, limit: int, revision: int) -> ListResult:
        conn = self._read()
        start = max(prefix, after_key + "\x00") if after_key else prefix
        end = prefix + "\U0010ffff"
        conn.execute("BEGIN")
        try:
            current = int(conn.execute("SELECT value FROM meta WHERE name='revision'").fetchone()[0])
            sql = "SELECT key, rv, value FROM objects WHERE key >= ? AND key < ? ORDER BY key"
            args: tuple[Any, ...] = (start, end)
            if limit > 0:
                sql += " LIMIT ?"
                args = (start, end, limit + 1)
            rows = conn.execute(sql, args).fetchall()
        finally:
            conn.execute("COMMIT")
        next_key = ""
        if limit > 0 and len(rows) > limit:
            rows = rows[:limit]
            next_key = rows[-1][0]
        decode = self._transformer.from_storage
        items = [Stored(k, rv, decode(k, v)) for k, rv, v in rows]
        return ListResult(revision=revision or current, items=items, next_key=next_key)

    # ---- writes (through the writer thread) ----

    async def _submit(self, kind: str, key: str, obj: dict[str, Any] | None, expected_rv: int) -> Stored:
        if self._loop is None or self._thread is None:
            raise Unavailable("storage is not started")
        if self.failure is not None:
            raise Unavailable(f"storage writer stopped: {self.failure!r}")
        fut: asyncio.Future[Stored] = self._loop.create_future()
        op = _Op(kind, key, obj, expected_rv, fut)
        if obj is not None:
            self._serialise(op, obj)
        self._queue.put(op)
        return await fut

    def _serialise(self, op: _Op, obj: dict[str, Any]) -> None:
        """JSON of `obj` with a placeholder resourceVersion, on the event loop (see the module docstring)."""
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise Unserializable(f"metadata of {op.key} is a {type(meta).__name__}, not an object")
        marker = f"{self._marker_prefix}-{next(self._markers)}"
        op.previous_rv = meta.get("resourceVersion")
        meta["resourceVersion"] = marker
        try:
            op.payload = orjson.dumps(obj)
        except (TypeError, orjson.JSONEncodeError) as exc:
            _restore_rv(meta, op.previous_rv)
            raise Unserializable(f"{op.key} cannot be stored as JSON: {exc}") from None
        op.marker = b'"' + marker.encode() + b'"'

    async def create(self, key: str, obj: dict[str, Any]) -> Stored:
        return await self._submit("create", key, obj, 0)

    async def update(self, key: str, obj: dict[str, Any], *, expected_rv: int) -> Stored:
        return await self._submit("update", key, obj, expected_rv)

    async def delete(self, key: str, *, expected_rv: int, last: dict[str, Any]) -> Stored:
        return await self._submit("delete", key, last, expected_rv)

    def _writer_loop(self, conn: sqlite3.Connection) -> None:
        failure: BaseException | None = None
        try:
            while (batch := self._next_batch()) is not None:
                self._in_flight = batch
                self._commit_batch(conn, batch)
                self._in_flight = []
        except BaseException as exc:  # not re-raised: _writer_stopped logs it and tells the watchdog
            failure = exc
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            assert self._loop is not None
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is left to tell
                self._loop.call_soon_threadsafe(self._writer_stopped, failure)

    def _next_batch(self) -> list[_Op] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < _MAX_BATCH:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                self._queue.put(None)
                break
            batch.append(nxt)
        return batch

    def _writer_stopped(self, failure: BaseException | None) -> None:
        """On the event loop once the writer thread is gone: fail what still waits, tell the watchdog."""
        if failure is None and not self._closing:
            failure = RuntimeError("the writer thread ended unexpectedly")
        if failure is not None:
            self.failure = failure
            log.critical("SQLite writer thread died; writes fail from now on", exc_info=failure)
        pending = 0
        waiting: list[_Op | None] = list(self._in_flight)
        self._in_flight = []
        while True:
            try:
                waiting.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for op in waiting:
            if op is not None and not op.future.done():
                pending += 1
                self._fail(op, Unavailable(f"storage writer stopped: {failure!r}"))
        if pending:
            log.error("Failed writes queued behind the dead writer", extra={"writes": pending})
        done = self._writer_done
        if done is not None and not done.done():
            if failure is None:
                done.set_result(None)
            else:
                done.set_exception(Unavailable(f"storage writer died: {failure!r}"))

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        start_rev = self._revision
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                before = self._revision
                try:
                    op.result = self._apply(conn, op)
                except StorageError as exc:
                    op.result = exc
                except sqlite3.Error:
                    raise  # SQLite may have ended the transaction itself: the whole batch fails below
                except Exception as exc:
                    # A bug, not the client's doing; _apply checks everything before its statement, so this
                    # write left nothing behind and the others of the batch commit as usual.
                    log.error("Write failed", exc_info=exc, extra={"key": op.key, "op": op.kind})
                    self._revision = before
                    op.event = None
                    op.result = StorageError(f"storage write of {op.key} failed: {exc!r}")
            if self._revision != start_rev:
                conn.execute("UPDATE meta SET value=? WHERE name='revision'", (self._revision,))
            conn.execute("COMMIT")
        except Exception as exc:
            log.error("Commit failed", extra={"error": repr(exc), "writes": len(batch)})
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            self._revision = start_rev
            for op in batch:
                op.result = Unavailable(f"storage write failed: {exc}")
                op.event = None
        self.commits += 1
        self.batched_writes += len(batch)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._complete, batch)

    def _complete(self, batch: list[_Op]) -> None:
        self.events.publish([op.event for op in batch if op.event is not None])
        for op in batch:
            if isinstance(op.result, Stored):
                if op.obj is not None and isinstance(op.obj.get("metadata"), dict):
                    op.obj["metadata"]["resourceVersion"] = str(op.result.rv)
                if not op.future.done():
                    op.future.set_result(op.result)
            else:
                self._fail(op, op.result or Unavailable("no result"))

    @staticmethod
    def _fail(op: _Op, exc: StorageError) -> None:
        if op.obj is not None and op.marker and isinstance(op.obj.get("metadata"), dict):
            _restore_rv(op.obj["metadata"], op.previous_rv)
        if not op.future.done():
            op.future.set_exception(exc)

    @staticmethod
    def _stamped(op: _Op, rv: int) -> bytes:
        if op.marker:
            return op.payload.replace(op.marker, b'"%d"' % rv, 1)
        assert op.obj is not None
        return stamp(op.obj, rv)

    def _apply(self, conn: sqlite3.Connection, op: _Op) -> Stored:
        row = conn.execute("SELECT rv, value FROM objects WHERE key=?", (op.key,)).fetchone()
        rv = self._revision + 1
        if op.kind == "create":
            if row is not None:
                raise KeyExists(op.key)
            value = self._stamped(op, rv)
            stored = self._transformer.to_storage(op.key, value)
            conn.execute("INSERT INTO objects(key, rv, value) VALUES (?,?,?)", (op.key, rv, stored))
            op.event = Event(ADDED, op.key, rv, value, None)
        elif op.kind == "update":
            if row is None:
                raise KeyNotFound(op.key)
            previous = self._transformer.from_storage(op.key, row[1])
            if op.expected_rv and row[0] != op.expected_rv:
                raise RevisionMismatch(Stored(op.key, row[0], previous))
            value = self._stamped(op, rv)
            stored = self._transformer.to_storage(op.key, value)
            conn.execute("UPDATE objects SET rv=?, value=? WHERE key=?", (rv, stored, op.key))
            op.event = Event(MODIFIED, op.key, rv, value, previous)
        else:
            if row is None:
                raise KeyNotFound(op.key)
            previous = self._transformer.from_storage(op.key, row[1])
            if op.expected_rv and row[0] != op.expected_rv:
                raise RevisionMismatch(Stored(op.key, row[0], previous))
            # Everything that can fail comes before the statement: a failed delete must leave the row.
            value = self._stamped(op, rv) if op.obj is not None else stamp(orjson.loads(previous), rv)
            conn.execute("DELETE FROM objects WHERE key=?", (op.key,))
            op.event = Event(DELETED, op.key, rv, value, previous)
        self._revision = rv
        return Stored(op.key, rv, value)


def _restore_rv(meta: dict[str, Any], previous: Any) -> None:
    if previous is None:
        meta.pop("resourceVersion", None)
    else:
        meta["resourceVersion"] = previous

"""SQLite backend: current state in one table, one global revision, group commit.

Writes go through one writer thread that commits whatever requests are waiting in a single
transaction (one fsync for many writes), so concurrent clients never see "database is locked"
and durable throughput grows with concurrency. A write is acknowledged only after its commit,
so it survives `kill -9`. Reads run on the event loop's own connection (WAL readers never block
the writer); watches come from the in-memory event window, never from polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
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
    result: Stored | StorageError | None = field(default=None)
    event: Event | None = field(default=None)


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

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        writer = connect(self._path, synchronous=self._synchronous)
        writer.executescript(_SCHEMA)
        self._revision = int(writer.execute("SELECT value FROM meta WHERE name='revision'").fetchone()[0])
        self.events.reset(self._revision)
        self._reader = connect(self._path, synchronous=self._synchronous)
        self._thread = threading.Thread(target=self._writer_loop, args=(writer,), name="sqlite-writer", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
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
        assert self._loop is not None
        fut: asyncio.Future[Stored] = self._loop.create_future()
        self._queue.put(_Op(kind, key, obj, expected_rv, fut))
        return await fut

    async def create(self, key: str, obj: dict[str, Any]) -> Stored:
        return await self._submit("create", key, obj, 0)

    async def update(self, key: str, obj: dict[str, Any], *, expected_rv: int) -> Stored:
        return await self._submit("update", key, obj, expected_rv)

    async def delete(self, key: str, *, expected_rv: int, last: dict[str, Any]) -> Stored:
        return await self._submit("delete", key, last, expected_rv)

    def _writer_loop(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
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
                self._commit_batch(conn, batch)
        finally:
            conn.close()

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        start_rev = self._revision
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                try:
                    op.result = self._apply(conn, op)
                except StorageError as exc:
                    op.result = exc
            if self._revision != start_rev:
                conn.execute("UPDATE meta SET value=? WHERE name='revision'", (self._revision,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.error("Commit failed", extra={"error": str(exc), "writes": len(batch)})
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
            if op.future.done():
                continue
            if isinstance(op.result, Stored):
                op.future.set_result(op.result)
            else:
                op.future.set_exception(op.result or Unavailable("no result"))

    def _apply(self, conn: sqlite3.Connection, op: _Op) -> Stored:
        row = conn.execute("SELECT rv, value FROM objects WHERE key=?", (op.key,)).fetchone()
        rv = self._revision + 1
        if op.kind == "create":
            if row is not None:
                raise KeyExists(op.key)
            assert op.obj is not None
            value = stamp(op.obj, rv)
            stored = self._transformer.to_storage(op.key, value)
            conn.execute("INSERT INTO objects(key, rv, value) VALUES (?,?,?)", (op.key, rv, stored))
            op.event = Event(ADDED, op.key, rv, value, None)
        elif op.kind == "update":
            if row is None:
                raise KeyNotFound(op.key)
            previous = self._transformer.from_storage(op.key, row[1])
            if op.expected_rv and row[0] != op.expected_rv:
                raise RevisionMismatch(Stored(op.key, row[0], previous))
            assert op.obj is not None
            value = stamp(op.obj, rv)
            stored = self._transformer.to_storage(op.key, value)
            conn.execute("UPDATE objects SET rv=?, value=? WHERE key=?", (rv, stored, op.key))
            op.event = Event(MODIFIED, op.key, rv, value, previous)
        else:
            if row is None:
                raise KeyNotFound(op.key)
            previous = self._transformer.from_storage(op.key, row[1])
            if op.expected_rv and row[0] != op.expected_rv:
                raise RevisionMismatch(Stored(op.key, row[0], previous))
            conn.execute("DELETE FROM objects WHERE key=?", (op.key,))
            last = op.obj if op.obj is not None else orjson.loads(previous)
            value = stamp(last, rv)
            op.event = Event(DELETED, op.key, rv, value, previous)
        self._revision = rv
        return Stored(op.key, rv, value)

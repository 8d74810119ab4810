"""Watch cache: LISTs of a resource served from memory, kept current from the backend's event window.

The first `list_range` under a resource's key space (`/registry/<group>/<plural>/`) reads that
resource from the inner backend once and subscribes to the window from the list's revision; from
then on every change is applied in revision order (one follower task per resource), and LISTs of
that resource, of any namespace, paged or at an older revision, are answered from memory like
kube-apiserver's watch cache. Writes always go to the inner backend. Prefixes that span several
resources (`/registry/`, a whole group) are passed through.

Consistency: a LIST answers with everything acknowledged before it started. Writes are acknowledged
only after their event is in the local window and the window publishes synchronously on the event
loop, so applying what is queued before answering (no await in between) brings the cache to the
window's revision. With several replicas (etcd), another replica's write reaches this window a few
milliseconds later: given `latest_revision` (etcd's current revision, one small round trip), a LIST
first waits briefly for the window to get there and otherwise reloads the resource from storage,
like kube-apiserver's consistent reads from cache. Reads the cache cannot answer (a revision
outside the window, a page from a newer replica) go to the inner backend.

Each object is held once: the key and the bytes of its stored JSON (shared with the window's
events), in a sorted list for ranges and pages; `stats()` counts objects and bytes per resource.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from gardener.apiserver.storage.events import ADDED, DELETED, Event, EventWindow, Subscription, TooOld
from gardener.apiserver.storage.interface import Backend, ListResult, Stored

log = logging.getLogger("gardener.apiserver.storage.cache")

ROOT = "/registry/"


def resource_prefix(prefix: str) -> str | None:
    """`/registry/<group>/<plural>/` when `prefix` lies within one resource's key space, else None."""
    if not prefix.startswith(ROOT):
        return None
    parts = prefix[len(ROOT) :].split("/", 2)
    if len(parts) < 3 or not parts[0] or not parts[1]:
        return None
    return f"{ROOT}{parts[0]}/{parts[1]}/"


def _successor(prefix: str) -> str:
    """The smallest string greater than every string that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _rv_of(value: bytes) -> int:
    return int(orjson.loads(value)["metadata"]["resourceVersion"])


class _Resource:
    """One resource's objects in key order, as of revision `max(loaded_rv, window.published_rv)`."""

    __slots__ = ("follower", "keys", "loaded_rv", "nbytes", "prefix", "sub", "valid", "values")

    def __init__(self, prefix: str, result: ListResult, sub: Subscription) -> None:
        self.prefix = prefix
        items = sorted(result.items, key=lambda s: s.key)  # backends return key order; be sure
        self.keys: list[str] = [s.key for s in items]
        self.values: list[Stored] = items
        self.nbytes = sum(len(s.value) for s in items)
        self.loaded_rv = result.revision
        self.sub = sub
        self.valid = True
        self.follower: asyncio.Task[None] | None = None

    def apply(self, ev: Event) -> None:
        keys = self.keys
        i = bisect.bisect_left(keys, ev.key)
        present = i < len(keys) and keys[i] == ev.key
        if ev.type == DELETED:
            if present:
                self.nbytes -= len(self.values[i].value)
                del keys[i]
                del self.values[i]
            return
        stored = Stored(ev.key, ev.rv, ev.value)
        if present:
            self.nbytes += len(ev.value) - len(self.values[i].value)
            self.values[i] = stored
        else:
            self.nbytes += len(ev.value)
            keys.insert(i, ev.key)
            self.values.insert(i, stored)

    def drain(self) -> bool:
        """Apply every queued event; False once the subscription has ended (the entry is then stale)."""
        queue = self.sub.queue
        while self.valid and not queue.empty():
            ev = queue.get_nowait()
            if ev is None:
                self.valid = False
            else:
                self.apply(ev)
        return self.valid

    def bounds(self, prefix: str, after_key: str) -> tuple[int, int]:
        keys = self.keys
        lo = bisect.bisect_left(keys, prefix)
        if after_key:
            lo = max(lo, bisect.bisect_right(keys, after_key))
        hi = bisect.bisect_left(keys, _successor(prefix), lo)
        return lo, hi

    def get(self, key: str) -> Stored | None:
        i = bisect.bisect_left(self.keys, key)
        return self.values[i] if i < len(self.keys) and self.keys[i] == key else None


class CachedBackend:
    """A `Backend` that serves LISTs (and GETs of listed resources) of `inner` from memory."""

    def __init__(
        self,
        inner: Backend,
        *,
        latest_revision: Callable[[], Awaitable[int]] | None = None,
        fresh_timeout: float = 0.05,
    ) -> None:
        self._inner = inner
        #: the inner backend's window (the same object for the backend's lifetime): watches are served from it
        self.events: EventWindow = inner.events
        self._latest_revision = latest_revision
        self._fresh_timeout = fresh_timeout
        self._resources: dict[str, _Resource] = {}
        self._loading: dict[str, asyncio.Task[_Resource | None]] = {}
        self._closed = False
        #: LISTs answered from memory, passed to the inner backend, resources loaded (incl. reloads)
        self.hits = 0
        self.misses = 0
        self.loads = 0

    @property
    def inner(self) -> Backend:
        return self._inner

    # ---- lifecycle ----

    async def start(self) -> None:
        self._closed = False
        await self._inner.start()

    async def close(self) -> None:
        self._closed = True
        for task in list(self._loading.values()):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._loading.clear()
        followers = [res.follower for res in self._resources.values() if res.follower is not None]
        for res in list(self._resources.values()):
            self._discard(res)
        for task in followers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._inner.close()

    def current_revision(self) -> int:
        return self._inner.current_revision()

    def stats(self) -> dict[str, Any]:
        """Objects and approximate bytes (the sum of the stored JSON's lengths) per cached resource."""
        resources = {
            prefix: {"objects": len(res.keys), "bytes": res.nbytes} for prefix, res in sorted(self._resources.items())
        }
        return {
            "resources": resources,
            "objects": sum(r["objects"] for r in resources.values()),
            "bytes": sum(r["bytes"] for r in resources.values()),
            "hits": self.hits,
            "misses": self.misses,
            "loads": self.loads,
        }

    # ---- writes go through ----

    async def create(self, key: str, obj: dict[str, Any]) -> Stored:
        return await self._inner.create(key, obj)

    async def update(self, key: str, obj: dict[str, Any], *, expected_rv: int) -> Stored:
        return await self._inner.update(key, obj, expected_rv=expected_rv)

    async def delete(self, key: str, *, expected_rv: int, last: dict[str, Any]) -> Stored:
        return await self._inner.delete(key, expected_rv=expected_rv, last=last)

    # ---- reads ----

    async def get(self, key: str) -> Stored | None:
        # With other replicas writing, the store itself is as cheap as asking it for its revision.
        if self._latest_revision is None and (prefix := resource_prefix(key)) is not None:
            res = self._resources.get(prefix)
            if res is not None:
                if res.drain():
                    return res.get(key)
                self._discard(res)
        return await self._inner.get(key)

    async def list_range(self, prefix: str, *, after_key: str = "", limit: int = 0, at_revision: int = 0) -> ListResult:
        rp = resource_prefix(prefix)
        if rp is None or self._closed:
            return await self._pass(prefix, after_key=after_key, limit=limit, at_revision=at_revision)
        res = await self._ready(rp, consistent=not at_revision)
        # From here to the answer nothing awaits: the window cannot move under us.
        if res is not None and not res.drain():
            self._discard(res)
            res = None
        if res is None:
            return await self._pass(prefix, after_key=after_key, limit=limit, at_revision=at_revision)
        published = self.events.published_rv
        revision = max(res.loaded_rv, published)
        if not at_revision:
            self.hits += 1
            return self._slice(res, prefix, after_key, limit, revision)
        if at_revision > revision or published < res.loaded_rv:
            # A page of a newer replica's list, or changes we hold but the window has not shown yet.
            return await self._pass(prefix, after_key=after_key, limit=limit, at_revision=at_revision)
        try:
            changes = self.events.first_changes_after(at_revision, prefix)
        except TooOld:
            return await self._pass(prefix, after_key=after_key, limit=limit, at_revision=at_revision)
        self.hits += 1
        changes = {k: ev for k, ev in changes.items() if k > after_key}
        if not changes:
            return self._slice(res, prefix, after_key, limit, at_revision)
        return self._rebuild(res, prefix, after_key, limit, at_revision, changes)

    async def _pass(self, prefix: str, *, after_key: str, limit: int, at_revision: int) -> ListResult:
        self.misses += 1
        return await self._inner.list_range(prefix, after_key=after_key, limit=limit, at_revision=at_revision)

    @staticmethod
    def _slice(res: _Resource, prefix: str, after_key: str, limit: int, revision: int) -> ListResult:
        lo, hi = res.bounds(prefix, after_key)
        if 0 < limit < hi - lo:
            items = res.values[lo : lo + limit]
            return ListResult(revision=revision, items=items, next_key=items[-1].key)
        return ListResult(revision=revision, items=res.values[lo:hi])

    @staticmethod
    def _rebuild(
        res: _Resource, prefix: str, after_key: str, limit: int, at_revision: int, changes: dict[str, Event]
    ) -> ListResult:
        """The range as it was at `at_revision`: undo each key's changes since (sqlite.py does the same)."""
        lo, hi = res.bounds(prefix, after_key)
        if limit > 0:
            # At most len(changes) of these can disappear, so the first limit+1 survivors are among them.
            hi = min(hi, lo + limit + 1 + len(changes))
        items = {s.key: s for s in res.values[lo:hi]}
        for key, ev in changes.items():
            if ev.type == ADDED or ev.prev is None:
                items.pop(key, None)
            else:
                items[key] = Stored(key, _rv_of(ev.prev), ev.prev)
        ordered = [items[k] for k in sorted(items)]
        if 0 < limit < len(ordered):
            ordered = ordered[:limit]
            return ListResult(revision=at_revision, items=ordered, next_key=ordered[-1].key)
        return ListResult(revision=at_revision, items=ordered)

    # ---- loading and following ----

    async def _ready(self, rp: str, *, consistent: bool) -> _Resource | None:
        """The resource's entry, loaded if need be and, for a consistent read, caught up with the store."""
        want = 0
        if consistent and self._latest_revision is not None:
            want = await self._latest_revision()
        loop = asyncio.get_running_loop()
        for _attempt in range(3):
            res = self._resources.get(rp)
            if res is None or not res.valid:
                res = await self._load(rp)
                if res is None:
                    return None
            if max(res.loaded_rv, self.events.published_rv) >= want:
                return res
            deadline = loop.time() + self._fresh_timeout
            while self.events.published_rv < want and loop.time() < deadline and res.valid:
                await asyncio.sleep(0.001)
            if self.events.published_rv >= want:
                return self._resources.get(rp)
            # Not seen in time (or the revision is of keys outside our watch): read the store again.
            res = await self._load(rp, stale=res)
            if res is not None and res.loaded_rv >= want:
                return res
        return None

    async def _load(self, rp: str, *, stale: _Resource | None = None) -> _Resource | None:
        task = self._loading.get(rp)
        if task is None:
            task = asyncio.create_task(self._load_now(rp, stale), name=f"watch-cache-load {rp}")
            self._loading[rp] = task
            task.add_done_callback(lambda t: self._loaded(rp, t))
        # Shielded: a client that goes away must not abort a load other requests wait for.
        return await asyncio.shield(task)

    def _loaded(self, rp: str, task: asyncio.Task[_Resource | None]) -> None:
        if self._loading.get(rp) is task:
            del self._loading[rp]
        if not task.cancelled() and task.exception() is not None:
            log.warning("Watch cache load failed", extra={"prefix": rp, "error": repr(task.exception())})

    async def _load_now(self, rp: str, stale: _Resource | None) -> _Resource | None:
        result = await self._inner.list_range(rp)
        if self._closed:
            return None
        try:
            sub = self.events.subscribe(rp, after_rv=result.revision)
        except TooOld:
            return None  # the window was reset meanwhile; the next LIST tries again
        res = _Resource(rp, result, sub)
        res.follower = asyncio.create_task(self._follow(res), name=f"watch-cache {rp}")
        for previous in (self._resources.get(rp), stale):
            if previous is not None:
                self._discard(previous)
        self._resources[rp] = res
        self.loads += 1
        log.debug("Watch cache loaded", extra={"prefix": rp, "objects": len(res.keys), "revision": res.loaded_rv})
        return res

    async def _follow(self, res: _Resource) -> None:
        queue = res.sub.queue
        while res.valid:
            ev = await queue.get()
            if ev is None:
                res.valid = False
                break
            res.apply(ev)
            res.drain()
        self._discard(res)

    def _discard(self, res: _Resource) -> None:
        """Forget an entry (its subscription ended, or a reload replaced it); the next LIST loads again."""
        res.valid = False
        if self._resources.get(res.prefix) is res:
            del self._resources[res.prefix]
        res.sub.close()
        task, res.follower = res.follower, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

"""Garbage collection by ownerReferences: background, foreground and orphan deletion.

Keeps an index of every object's uid and of owner uid -> dependents from the event window, and
works a queue of keys to re-examine, so a deletion anywhere reaches its dependents quickly.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import Registry
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.storage.events import DELETED

log = logging.getLogger("gardener.apiserver.gc")

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
RETRY_SECONDS = 0.5


class GarbageCollector:
    def __init__(self, *, store: ObjectStore, registry: Registry) -> None:
        self._store = store
        self._registry = registry
        self._uids: dict[str, str] = {}  # uid -> key
        self._owners: dict[str, frozenset[str]] = {}  # key -> owner uids
        self._dependents: dict[str, set[str]] = {}  # owner uid -> dependent keys
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._informer = LocalInformer(backend=store.backend, prefix="/registry/", handler=self._on_event, name="gc")
        self._worker: asyncio.Task[None] | None = None
        self._synced = False

    async def start(self) -> None:
        await self._informer.start()
        self._synced = True
        for key in list(self._owners):
            self._enqueue(key)
        self._worker = asyncio.create_task(self._work(), name="gc-worker")

    async def stop(self) -> None:
        await self._informer.stop()
        if self._worker is not None:
            self._worker.cancel()

    def _enqueue(self, key: str) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    async def _on_event(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        m = obj.get("metadata") or {}
        uid = m.get("uid", "")
        old_owners = self._owners.pop(key, frozenset())
        for owner in old_owners:
            deps = self._dependents.get(owner)
            if deps is not None:
                deps.discard(key)
                if not deps:
                    del self._dependents[owner]
        if kind == DELETED:
            if self._uids.get(uid) == key:
                del self._uids[uid]
            for dep in self._dependents.get(uid, ()):
                self._enqueue(dep)
            # A foreground owner may be waiting for this dependent to go.
            for owner in old_owners:
                owner_key = self._uids.get(owner)
                if owner_key is not None:
                    self._enqueue(owner_key)
            return
        self._uids[uid] = key
        owners = frozenset(r.get("uid", "") for r in m.get("ownerReferences") or [] if isinstance(r, dict))
        if owners:
            self._owners[key] = owners
            for owner in owners:
                self._dependents.setdefault(owner, set()).add(key)
            if self._synced and any(o not in self._uids for o in owners):
                self._enqueue(key)
        finalizers = m.get("finalizers") or []
        if m.get("deletionTimestamp") and (ORPHAN in finalizers or FOREGROUND in finalizers):
            self._enqueue(key)

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            try:
                retry = await self._process(key)
            except StatusError as exc:
                log.warning("Garbage collection step failed", extra={"key": key, "error": exc.message})
                retry = exc.code not in (404, 422)
            except Exception:
                log.exception("Garbage collection step failed", extra={"key": key})
                retry = True
            if retry:
                asyncio.get_running_loop().call_later(RETRY_SECONDS, self._enqueue, key)

    async def _process(self, key: str) -> bool:
        """Returns True when the key must be looked at again later."""
        located = self._registry.for_key(key)
        if located is None:
            return False
        info, namespace, name = located
        stored = await self._store.backend.get(key)
        if stored is None:
            return False
        obj = self._store.decode(stored)
        m = obj["metadata"]
        finalizers = m.get("finalizers") or []
        ctx = Context()
        if m.get("deletionTimestamp") and ORPHAN in finalizers:
            await self._orphan_dependents(m["uid"])
            await self._drop_finalizer(info, namespace, name, ORPHAN)
            return False
        if m.get("deletionTimestamp") and FOREGROUND in finalizers:
            dependents = [d for d in self._dependents.get(m["uid"], set()) if d in self._owners]
            for dep in dependents:
                await self._delete_key(dep, policy="Foreground")
            if dependents:
                return True
            await self._drop_finalizer(info, namespace, name, FOREGROUND)
            return False
        owners = self._owners.get(key, frozenset())
        if not owners:
            return False
        missing = {o for o in owners if o not in self._uids}
        if not missing:
            return False
        if missing == owners:
            await self._store.delete(info, namespace, name, ctx=ctx, options={"propagationPolicy": "Background"})
            return False

        def drop_dangling(current: dict[str, Any]) -> dict[str, Any]:
            refs = current["metadata"].get("ownerReferences") or []
            current["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") not in missing]
            return current

        await self._store.guaranteed_update(info, namespace, name, drop_dangling, ctx=ctx)
        return False

    async def _delete_key(self, key: str, *, policy: str) -> None:
        located = self._registry.for_key(key)
        if located is None:
            return
        info, namespace, name = located
        try:
            await self._store.delete(info, namespace, name, ctx=Context(), options={"propagationPolicy": policy})
        except StatusError as exc:
            if exc.code != 404:
                raise

    async def _orphan_dependents(self, owner_uid: str) -> None:
        for dep in list(self._dependents.get(owner_uid, set())):
            located = self._registry.for_key(dep)
            if located is None:
                continue
            info, namespace, name = located

            def strip(current: dict[str, Any]) -> dict[str, Any]:
                refs = current["metadata"].get("ownerReferences") or []
                current["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != owner_uid] or None
                if current["metadata"]["ownerReferences"] is None:
                    del current["metadata"]["ownerReferences"]
                return current

            try:
                await self._store.guaranteed_update(info, namespace, name, strip, ctx=Context())
            except StatusError as exc:
                if exc.code != 404:
                    raise

    async def _drop_finalizer(self, info: Any, namespace: str, name: str, finalizer: str) -> None:
        def drop(current: dict[str, Any]) -> dict[str, Any]:
            current["metadata"]["finalizers"] = [
                f for f in current["metadata"].get("finalizers") or [] if f != finalizer
            ]
            return current

        try:
            await self._store.guaranteed_update(info, namespace, name, drop, ctx=Context())
        except StatusError as exc:
            if exc.code != 404:
                raise

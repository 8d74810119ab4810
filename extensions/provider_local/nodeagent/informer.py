"""List-and-watch caches of one resource across all namespaces, like client-go's informers.

Handlers are plain callbacks that enqueue work; they run on every change with the new object
(or the last known one for a deletion). After a lost watch or an expired resourceVersion the
informer relists and reports the differences, so handlers never miss a transition for long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

from extensions.provider_local.nodeagent.kube import ApiError, KubeClient, Resource

log = logging.getLogger("provider_local.nodeagent.informer")

Obj = dict[str, Any]
Handler = Callable[[str, Obj], None]
Key = tuple[str, str]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
RETRY_SECONDS = 1.0


def key_of(obj: Obj) -> Key:
    m = obj.get("metadata") or {}
    return str(m.get("namespace") or ""), str(m.get("name") or "")


class Informer:
    """Keeps `cache` current for one resource; call `run()` as a task."""

    def __init__(self, client: KubeClient, resource: Resource, *, watch_timeout: int = 300) -> None:
        self.client = client
        self.resource = resource
        self.cache: dict[Key, Obj] = {}
        self.synced = asyncio.Event()
        self._handlers: list[Handler] = []
        self._watch_timeout = watch_timeout
        self._changed = asyncio.Condition()

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.cache.get((namespace, name))

    def items(self, namespace: str | None = None) -> Iterator[Obj]:
        for (ns, _), obj in list(self.cache.items()):
            if namespace is None or ns == namespace:
                yield obj

    async def wait_for(self, namespace: str, name: str, check: Callable[[Obj | None], bool], timeout: float) -> bool:
        """Wait until the cached object satisfies `check`, so a controller sees its own writes."""

        def holds() -> bool:
            return check(self.cache.get((namespace, name)))

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(holds), timeout)
            except TimeoutError:
                return False
        return True

    async def run(self) -> None:
        while True:
            try:
                rv = await self._relist()
                self.synced.set()
                while True:
                    rv = await self._watch(rv)
            except asyncio.CancelledError:
                raise
            except _Expired:
                log.info("Watch expired, relisting", extra={"resource": self.resource.plural})
            except ApiError as exc:
                if exc.status != 410:
                    log.warning("Watch failed", extra={"resource": self.resource.plural, "error": str(exc)})
                    await asyncio.sleep(RETRY_SECONDS)
            except Exception:
                log.exception("Informer failed", extra={"resource": self.resource.plural})
                await asyncio.sleep(RETRY_SECONDS)

    async def _relist(self) -> str:
        doc = await self.client.request("GET", self.resource.path())
        fresh = {key_of(obj): obj for obj in doc.get("items") or []}
        for key in set(self.cache) - set(fresh):
            await self._apply(DELETED, self.cache[key])
        for key, obj in fresh.items():
            obj.setdefault("apiVersion", self.resource.api_version)
            obj.setdefault("kind", self.resource.kind)
            old = self.cache.get(key)
            if old is None or _rv(old) != _rv(obj):
                await self._apply(ADDED if old is None else MODIFIED, obj)
        return str(doc["metadata"]["resourceVersion"])

    async def _watch(self, rv: str) -> str:
        async for event in self.client.watch(self.resource.path(), resource_version=rv, timeout=self._watch_timeout):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Expired()
                raise ApiError(int(obj.get("code") or 500), str(obj.get("message", "")))
            rv = _rv(obj) or rv
            if kind in (ADDED, MODIFIED, DELETED):
                await self._apply(str(kind), obj)
        return rv

    async def _apply(self, kind: str, obj: Obj) -> None:
        key = key_of(obj)
        if kind == DELETED:
            self.cache.pop(key, None)
        else:
            self.cache[key] = obj
        for handler in self._handlers:
            try:
                handler(kind, obj)
            except Exception:
                log.exception("Event handler failed", extra={"resource": self.resource.plural})
        async with self._changed:
            self._changed.notify_all()


class _Expired(Exception):
    """The watch's resourceVersion is too old (410 Gone)."""


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")

"""List+watch caches of one resource, like client-go's informers, for threads (`Informer`) and asyncio
(`AsyncInformer`).

An informer lists once, then watches from the list's resourceVersion and keeps following the resourceVersion of
every event and bookmark, so a watch that ends or breaks resumes where it stopped. Only when the server says that
version is gone (410) does it list again; the `Store` then reports the differences as events, so handlers never
miss a transition for long. Handlers are plain callbacks that enqueue work: they must not block.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError, Gone, api_error
from gardener.runtime.kube import Kube, Obj, Resource, key_of

__all__ = ["ADDED", "DELETED", "MODIFIED", "AsyncInformer", "Handler", "Informer", "Key", "Store"]

log = logging.getLogger("gardener.runtime.informer")

Key = tuple[str, str]
Handler = Callable[[str, Obj], None]
ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Store:
    """The cached objects of one resource by (namespace, name), and the events that bring it up to date."""

    def __init__(self, resource: Resource | None = None) -> None:
        self.resource = resource
        self.cache: dict[Key, Obj] = {}

    def _typed(self, obj: Obj) -> Obj:
        if self.resource is not None:
            obj.setdefault("apiVersion", self.resource.api_version)
            obj.setdefault("kind", self.resource.kind)
        return obj

    def replace(self, items: list[Obj]) -> list[tuple[str, Obj]]:
        """Take a fresh list; the events that turn the old content into it (unchanged objects yield none)."""
        fresh = {key_of(obj): self._typed(obj) for obj in items}
        events = [(DELETED, old) for key, old in self.cache.items() if key not in fresh]
        for key, obj in fresh.items():
            old = self.cache.get(key)
            if old is None or _rv(old) != _rv(obj):
                events.append((ADDED if old is None else MODIFIED, obj))
        self.cache = fresh
        return events

    def apply(self, kind: str, obj: Obj) -> None:
        key = key_of(obj)
        if kind == DELETED:
            self.cache.pop(key, None)
        else:
            self.cache[key] = self._typed(obj)

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.cache.get((namespace, name))

    def items(self, namespace: str | None = None) -> Iterator[Obj]:
        for (ns, _), obj in list(self.cache.items()):
            if namespace is None or ns == namespace:
                yield obj


def _check(event: Obj) -> tuple[str, Obj]:
    kind, obj = str(event.get("type")), event.get("object") or {}
    if kind == "ERROR":
        raise api_error(int(obj.get("code") or 500), obj)
    return kind, obj


class Informer:
    """Keeps a `Store` of one collection current in a thread of its own and calls handlers on every change.

    With `on_replace`, every (re)list hands the whole list to it instead of as events (for callers that keep
    views of their own and rebuild them at once).
    """

    def __init__(
        self,
        kube: Kube,
        resource: Resource | str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        name: str = "",
        on_replace: Callable[[list[Obj]], None] | None = None,
        page_size: int = 500,
        watch_timeout: int = 300,
        retry: float = 1.0,
    ) -> None:
        self.kube = kube
        if isinstance(resource, Resource):
            self.path = resource.path(namespace if resource.namespaced else None)
            self.store = Store(resource)
            self.name = name or resource.plural
        else:
            self.path = resource
            self.store = Store()
            self.name = name or resource
        self.label_selector = label_selector
        self.on_replace = on_replace
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.retry = retry
        self.synced = threading.Event()
        self.healthy = True
        self._handlers: list[Handler] = []
        self._thread: threading.Thread | None = None

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.store.get(namespace, name)

    def items(self, namespace: str | None = None) -> Iterator[Obj]:
        return self.store.items(namespace)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self.run, args=(stop,), name=f"informer-{self.name}", daemon=True)
        self._thread.start()

    def _emit(self, kind: str, obj: Obj) -> None:
        for handler in self._handlers:
            try:
                handler(kind, obj)
            except Exception:
                log.exception("Event handler failed", extra={"resource": self.name})

    def _relist(self) -> str:
        items, rv = self.kube.list_with_version(self.path, label_selector=self.label_selector, page_size=self.page_size)
        events = self.store.replace(items)
        if self.on_replace is not None:
            self.on_replace(items)
        else:
            for kind, obj in events:
                self._emit(kind, obj)
        self.synced.set()
        return rv

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: list, then watch and resume; list again only after 410 Gone."""
        rv = ""
        failures = 0
        while not stop.is_set():
            try:
                if not rv:
                    rv = self._relist()
                rv = self._watch(rv, stop)
                self.healthy = True
                failures = 0
            except Gone:
                log.info("Watch expired, listing again", extra={"resource": self.name})
                rv = ""
            except Exception as exc:  # a broken connection, a restarting server: retry, never die
                self.healthy = False
                failures += 1
                log.warning("List or watch failed", extra={"resource": self.name, "error": repr(exc)[:300]})
                stop.wait(min(self.retry * 2 ** (failures - 1), 30.0))

    def _watch(self, rv: str, stop: threading.Event) -> str:
        events = self.kube.watch(
            self.path, resource_version=rv, timeout=self.watch_timeout, label_selector=self.label_selector
        )
        try:
            for event in events:
                kind, obj = _check(event)
                rv = _rv(obj) or rv
                if kind in (ADDED, MODIFIED, DELETED):
                    self.store.apply(kind, obj)
                    self._emit(kind, obj)
                if stop.is_set():
                    break
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return rv


class AsyncInformer:
    """The same for one asyncio event loop over `AsyncKube`; call `run()` as a task."""

    def __init__(self, client: AsyncKube, resource: Resource, *, watch_timeout: int = 300, retry: float = 1.0) -> None:
        self.client = client
        self.resource = resource
        self.store = Store(resource)
        self.synced = asyncio.Event()
        self._handlers: list[Handler] = []
        self._watch_timeout = watch_timeout
        self._retry = retry
        self._changed = asyncio.Condition()

    @property
    def cache(self) -> dict[Key, Obj]:
        return self.store.cache

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.store.get(namespace, name)

    def items(self, namespace: str | None = None) -> Iterator[Obj]:
        return self.store.items(namespace)

    async def wait_for(self, namespace: str, name: str, check: Callable[[Obj | None], bool], timeout: float) -> bool:
        """Wait until the cached object satisfies `check`, so a controller sees its own writes."""

        def holds() -> bool:
            return check(self.store.get(namespace, name))

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(holds), timeout)
            except TimeoutError:
                return False
        return True

    async def run(self) -> None:
        rv = ""
        failures = 0
        while True:
            try:
                if not rv:
                    rv = await self._relist()
                    self.synced.set()
                rv = await self._watch(rv)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Gone:
                log.info("Watch expired, listing again", extra={"resource": self.resource.plural})
                rv = ""
            except Exception as exc:
                failures += 1
                level = logging.WARNING if isinstance(exc, ApiError) else logging.ERROR
                log.log(
                    level, "List or watch failed", extra={"resource": self.resource.plural, "error": repr(exc)[:300]}
                )
                await asyncio.sleep(min(self._retry * 2 ** (failures - 1), 30.0))

    async def _relist(self) -> str:
        doc: dict[str, Any] = await self.client.request("GET", self.resource.path()) or {}
        for kind, obj in self.store.replace(list(doc.get("items") or [])):
            self._emit(kind, obj)
        await self._notify()
        return str((doc.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, rv: str) -> str:
        async for event in self.client.watch(self.resource.path(), resource_version=rv, timeout=self._watch_timeout):
            kind, obj = _check(event)
            rv = _rv(obj) or rv
            if kind in (ADDED, MODIFIED, DELETED):
                self.store.apply(kind, obj)
                self._emit(kind, obj)
                await self._notify()
        return rv

    def _emit(self, kind: str, obj: Obj) -> None:
        for handler in self._handlers:
            try:
                handler(kind, obj)
            except Exception:
                log.exception("Event handler failed", extra={"resource": self.resource.plural})

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

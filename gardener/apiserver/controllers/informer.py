"""List-then-watch over one key prefix of the local event window, in revision order.

`LocalInformer` hands each change to an async handler; `LocalIndex` keeps what it needs of each object in
memory, for readers on the request path (admission) that must not read storage on every write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import orjson

from gardener.apiserver.storage.events import ADDED, DELETED, Event, EventFilter, Subscription, TooOld
from gardener.apiserver.storage.interface import Backend, StorageError
from gardener.runtime.tasks import cancel_task

log = logging.getLogger("gardener.apiserver.informer")

SYNC_RETRY_SECONDS = 5.0

EventHandler = Callable[[str, str, dict[str, Any]], Awaitable[None]]
T = TypeVar("T")
_NOTHING: Mapping[str, Any] = MappingProxyType({})


class LocalInformer:
    def __init__(
        self,
        *,
        backend: Backend,
        prefix: str,
        handler: EventHandler,
        name: str,
        accept: EventFilter | None = None,
    ) -> None:
        self._backend = backend
        self._prefix = prefix
        self._handler = handler
        self._name = name
        #: the changes the handler acts on (the initial list hands it every object regardless)
        self._accept = accept
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Handle every existing object before returning, then follow changes in the background.

        If the first LIST fails (an object storage cannot read, such as a Secret whose encryption key is
        gone), the server still starts: like a kube informer, this one logs and keeps trying to sync.
        """
        try:
            after: int | None = await self._sync()
        except StorageError as exc:
            log.error("Informer could not list; retrying", extra={"informer": self._name, "error": str(exc)})
            after = None
        self._task = asyncio.create_task(self._run(after), name=f"informer-{self._name}")

    async def _sync_until_done(self) -> int:
        while True:
            try:
                return await self._sync()
            except StorageError as exc:
                log.error("Informer could not list; retrying", extra={"informer": self._name, "error": str(exc)})
                await asyncio.sleep(SYNC_RETRY_SECONDS)

    async def _sync(self) -> int:
        result = await self._backend.list_range(self._prefix)
        for stored in result.items:
            await self._call(ADDED, stored.key, orjson.loads(stored.value))
        return result.revision

    async def _run(self, after: int | None) -> None:
        if after is None:
            after = await self._sync_until_done()
        while True:
            try:
                sub = self._backend.events.subscribe(self._prefix, after_rv=after, accept=self._accept)
            except TooOld:
                after = await self._sync_until_done()
                continue
            try:
                while True:
                    ev = await sub.queue.get()
                    if ev is None:
                        return
                    after = ev.rv
                    await self._call(ev.type, ev.key, orjson.loads(ev.value))
            finally:
                sub.close()

    async def _call(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        try:
            await self._handler(kind, key, obj)
        except Exception:
            log.exception("Informer handler failed", extra={"informer": self._name, "key": key})

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None


class LocalIndex(Generic[T]):
    """The objects under one key prefix, each reduced by `project` to what its readers need, by namespace
    ("" for cluster-scoped objects) and name; kube's shared-informer lister for in-process readers.

    A read first applies what the window has already published (no await in between, as the watch cache
    does), so it sees every write this process acknowledged before the read began: a quota created just
    before a pod applies to that pod. Writes of other replicas arrive with the window's lag, as in kube.
    While the index is not in sync (before `start`, or re-listing after the window dropped it) reads
    answer None and callers read storage instead. `project`'s results are shared: readers must not
    change them.
    """

    def __init__(self, *, backend: Backend, prefix: str, name: str, project: Callable[[dict[str, Any]], T]) -> None:
        self._backend = backend
        self._prefix = prefix
        self._name = name
        self._project = project
        self._objects: dict[str, dict[str, T]] = {}
        #: the window subscription the index follows; None while it is not in sync
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Sync before returning when storage answers, then follow changes in the background."""
        try:
            await self._sync()
        except (StorageError, TooOld) as exc:
            log.error("Index could not list; retrying", extra={"informer": self._name, "error": str(exc)})
        self._task = asyncio.create_task(self._run(), name=f"index-{self._name}")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None
        if self._sub is not None:
            self._sub.close()
            self._sub = None

    def namespace(self, namespace: str) -> Mapping[str, T] | None:
        """One namespace's objects by name (cluster-scoped ones under ""), or None while not in sync."""
        if not self._catch_up():
            return None
        return self._objects.get(namespace, _NOTHING)

    def _catch_up(self) -> bool:
        sub = self._sub
        if sub is None:
            return False
        queue = sub.queue
        while not queue.empty():
            ev = queue.get_nowait()
            if ev is None:
                # the window ended the subscription: hand the end on to the follower, which lists again
                self._sub = None
                queue.put_nowait(None)
                return False
            self._apply(ev)
        return True

    async def _sync(self) -> None:
        result = await self._backend.list_range(self._prefix)
        objects: dict[str, dict[str, T]] = {}
        for stored in result.items:
            self._put(objects, stored.key, stored.value)
        # nothing awaits between the list's answer and subscribing at its revision: no change falls between
        sub = self._backend.events.subscribe(self._prefix, after_rv=result.revision)
        if self._sub is not None:
            self._sub.close()
        self._objects, self._sub = objects, sub

    async def _sync_until_done(self) -> None:
        while True:
            try:
                await self._sync()
                return
            except TooOld:
                continue
            except StorageError as exc:
                log.error("Index could not list; retrying", extra={"informer": self._name, "error": str(exc)})
                await asyncio.sleep(SYNC_RETRY_SECONDS)

    async def _run(self) -> None:
        while True:
            sub = self._sub
            if sub is None:
                await self._sync_until_done()
                continue
            ev = await sub.queue.get()
            if ev is None:
                if self._sub is sub:
                    self._sub = None
                continue
            if self._sub is sub:
                self._apply(ev)
                self._catch_up()

    def _apply(self, ev: Event) -> None:
        namespace, name = self._split(ev.key)
        if ev.type == DELETED:
            names = self._objects.get(namespace)
            if names is not None:
                names.pop(name, None)
                if not names:
                    del self._objects[namespace]
            return
        self._put(self._objects, ev.key, ev.value)

    def _put(self, objects: dict[str, dict[str, T]], key: str, value: bytes) -> None:
        namespace, name = self._split(key)
        try:
            projected = self._project(orjson.loads(value))
        except Exception:
            # an object its readers cannot use is left out, as if it did not exist, and the index goes on
            log.exception("Index could not read an object", extra={"informer": self._name, "key": key})
            objects.get(namespace, {}).pop(name, None)
            return
        objects.setdefault(namespace, {})[name] = projected

    def _split(self, key: str) -> tuple[str, str]:
        namespace, _, name = key[len(self._prefix) :].rpartition("/")
        return namespace, name

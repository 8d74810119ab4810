"""List-then-watch over one key prefix of the local event window, in revision order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from gardener.apiserver.storage.events import ADDED, TooOld
from gardener.apiserver.storage.interface import Backend, StorageError
from gardener.runtime.tasks import cancel_task

log = logging.getLogger("gardener.apiserver.informer")

SYNC_RETRY_SECONDS = 5.0

EventHandler = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class LocalInformer:
    def __init__(self, *, backend: Backend, prefix: str, handler: EventHandler, name: str) -> None:
        self._backend = backend
        self._prefix = prefix
        self._handler = handler
        self._name = name
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
                sub = self._backend.events.subscribe(self._prefix, after_rv=after)
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

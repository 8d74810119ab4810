"""Periodic housekeeping: let go of expired watch history and return freed memory to the OS.

An idle server otherwise keeps its peak memory: expired events stay until the next write, and
glibc keeps freed arenas (a LIST of 10,000 objects leaves tens of MiB behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging

from gardener.apiserver.storage.events import EventWindow
from gardener.runtime.tasks import cancel_task

log = logging.getLogger("gardener.apiserver.housekeeping")


def _malloc_trim() -> None:
    name = ctypes.util.find_library("c")
    if not name:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).malloc_trim(0)


class Housekeeping:
    def __init__(self, *, events: EventWindow, interval: float = 30.0) -> None:
        self._events = events
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        await cancel_task(self._task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self._events.trim()
            gc.collect()
            _malloc_trim()

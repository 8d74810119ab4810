"""A deduplicating work queue with per-key retry backoff, like client-go's rate-limited queue.

A key is processed by at most one worker at a time; adding it while it is processed makes it run
once more afterwards. A reconciler returns a delay to be called again later (polling for time to
pass), or raises to be retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from extensions.provider_local.nodeagent.kube import ApiError

log = logging.getLogger("provider_local.nodeagent.workqueue")

K = TypeVar("K")
Reconciler = Callable[[K], Awaitable[float | None]]

BASE_DELAY = 0.2
MAX_DELAY = 30.0


class WorkQueue(Generic[K]):
    def __init__(self, name: str, reconcile: Reconciler[K], *, workers: int = 4) -> None:
        self.name = name
        self._reconcile = reconcile
        self._workers = workers
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._again: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, key: K) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if key in self._active:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        """Add later; an earlier pending timer for the key wins."""
        loop = asyncio.get_running_loop()
        current = self._timers.get(key)
        when = loop.time() + delay
        if current is not None and current.when() <= when:
            return
        if current is not None:
            current.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"{self.name}-{i}") for i in range(self._workers)]

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            try:
                delay = await self._reconcile(key)
                self._failures.pop(key, None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                delay = min(BASE_DELAY * 2 ** (failures - 1), MAX_DELAY)
                if isinstance(exc, ApiError) and exc.status == 409:
                    # Optimistic concurrency at work: the next attempt reads the newer object.
                    log.debug("Reconcile conflict", extra={"queue": self.name, "key": str(key)})
                elif isinstance(exc, ApiError):
                    log.warning("Reconcile failed", extra={"queue": self.name, "key": str(key), "error": str(exc)})
                else:
                    log.exception("Reconcile failed", extra={"queue": self.name, "key": str(key)})
            finally:
                self._active.discard(key)
            if key in self._again:
                self._again.discard(key)
                self.add(key)
            elif delay is not None:
                self.add_after(key, delay)

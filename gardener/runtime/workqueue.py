"""Work queues of object keys with client-go's guarantees, for threads (`WorkQueue`) and asyncio (`AsyncWorkQueue`).

A key waits at most once however often it is added; a key being processed is never handed to a second worker,
and if it was added meanwhile it comes back once the first worker is done, so no change is lost. Keys can be
added after a delay without a timer per key, and failures back off exponentially per key until `forget`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["AsyncWorkQueue", "Backoff", "WorkQueue"]

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Backoff:
    """Per-key exponential backoff: `base`, 2*`base`, 4*`base` ... up to `cap` seconds."""

    base: float = 0.5
    cap: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.base * 2 ** max(failures - 1, 0), self.cap))


class _Failures(Generic[K]):
    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self._counts: dict[K, int] = {}

    def next(self, key: K) -> float:
        n = self._counts[key] = self._counts.get(key, 0) + 1
        return self.backoff.delay(n)

    def forget(self, key: K) -> None:
        self._counts.pop(key, None)

    def count(self, key: K) -> int:
        return self._counts.get(key, 0)


class WorkQueue(Generic[K]):
    """For worker threads: `get` blocks until a key is due, `done` hands it back."""

    def __init__(self, *, backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._cond = threading.Condition()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._delayed: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._failures: _Failures[K] = _Failures(backoff or Backoff())
        self._clock = clock
        self._closed = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._delayed)

    def add(self, key: K) -> None:
        with self._cond:
            if not self._closed:
                self._add(key)

    def _add(self, key: K) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._delayed, (self._clock() + delay, next(self._seq), key))
            self._cond.notify()

    def add_rate_limited(self, key: K) -> float:
        """Add `key` after its next backoff delay (a failure); returns the delay."""
        with self._cond:
            delay = self._failures.next(key)
        self.add_after(key, delay)
        return delay

    def backoff(self, key: K) -> float:
        """Count a failure of `key`; the delay before its next attempt."""
        with self._cond:
            return self._failures.next(key)

    def forget(self, key: K) -> None:
        """`key` succeeded: its next failure starts the backoff from the beginning."""
        with self._cond:
            self._failures.forget(key)

    def _promote(self) -> float | None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            self._add(heapq.heappop(self._delayed)[2])
        return self._delayed[0][0] - now if self._delayed else None

    def get(self, timeout: float | None = None) -> K | None:
        """The next key (the caller must call `done`), or None after `timeout` or once shut down."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                if self._closed:
                    return None
                wait = self._promote()
                if self._queue:
                    key = self._queue.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                if deadline is not None:
                    left = deadline - self._clock()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def done(self, key: K) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class AsyncWorkQueue(Generic[K]):
    """For asyncio workers of one event loop: `await get()`, then `done`."""

    def __init__(self, *, backoff: Backoff | None = None) -> None:
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._again: set[K] = set()
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._failures: _Failures[K] = _Failures(backoff or Backoff())

    def __len__(self) -> int:
        return self._queue.qsize() + len(self._timers)

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
        if delay <= 0:
            self.add(key)
            return
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

    def add_rate_limited(self, key: K) -> float:
        delay = self._failures.next(key)
        self.add_after(key, delay)
        return delay

    def backoff(self, key: K) -> float:
        return self._failures.next(key)

    def failures(self, key: K) -> int:
        return self._failures.count(key)

    def forget(self, key: K) -> None:
        """`key` succeeded: its next failure starts the backoff from the beginning."""
        self._failures.forget(key)

    def discard(self, key: K) -> None:
        """The object is gone: reset its backoff and drop a pending delayed add (a queued or running key still
        runs once)."""
        self._failures.forget(key)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    async def get(self) -> K:
        key = await self._queue.get()
        self._queued.discard(key)
        self._active.add(key)
        return key

    def done(self, key: K) -> None:
        self._active.discard(key)
        if key in self._again:
            self._again.discard(key)
            self.add(key)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

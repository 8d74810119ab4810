"""A thread-safe work queue of keys, like client-go's: deduplicated, one worker per key, delayed adds.

A key added while a worker holds it is queued again when that worker is done, so no change is lost and no key
is ever reconciled twice at once. Failures back off exponentially per key until `forget`.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(
        self, *, base_backoff: float = 0.5, max_backoff: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cond = threading.Condition()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._delayed: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._failures: dict[K, int] = {}
        self._base = base_backoff
        self._max = max_backoff
        self._clock = clock
        self._closed = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._delayed)

    def add(self, key: K) -> None:
        with self._cond:
            if self._closed or key in self._dirty:
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

    def backoff(self, key: K) -> float:
        """The next delay after a failure of `key`: base, 2*base, 4*base ... up to the maximum."""
        with self._cond:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        return float(min(self._base * (2**n), self._max))

    def forget(self, key: K) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def _promote(self) -> float | None:
        """Move ripe delayed keys into the queue; the seconds until the next one ripens."""
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            if key not in self._dirty:
                self._dirty.add(key)
                if key not in self._processing:
                    self._queue.append(key)
        return self._delayed[0][0] - now if self._delayed else None

    def get(self, timeout: float | None = None) -> K | None:
        """The next key to work on (the caller must call `done`), or None after `timeout` or shutdown."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                wait = self._promote()
                if self._queue:
                    key = self._queue.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                if self._closed:
                    return None
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

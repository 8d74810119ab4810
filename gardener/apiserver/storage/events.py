"""The in-memory window of recent changes that every watch is served from.

Writers publish in revision order from the event loop; a watcher subscribes at a revision, gets
the buffered events after it and then live ones, all through one queue. A revision older than
the window answers "too old" so the client relists, as with kube-apiserver's watch cache.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    key: str
    rv: int
    #: the object after the change; for DELETED the last state stamped with the deletion revision
    value: bytes
    #: the object before the change (None for ADDED), so selector watches can see transitions
    prev: bytes | None
    at: float = 0.0


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


#: which changes under its prefix a subscriber is handed (the others only advance its revision), so a
#: subscriber that acts on a few (deletions, one name) is not woken for every write
EventFilter = Callable[[Event], bool]


@dataclass(eq=False)
class Subscription:
    prefix: str
    queue: asyncio.Queue[Event | None]
    last_rv: int
    window: EventWindow | None = field(default=None, repr=False)
    accept: EventFilter | None = field(default=None, repr=False)

    def close(self) -> None:
        if self.window is not None:
            self.window.unsubscribe(self)
            self.window = None


class EventWindow:
    """Bounded by age and by count; `oldest_rv` is the newest revision whose successors are all kept."""

    def __init__(
        self,
        *,
        start_rv: int,
        max_age_seconds: float = 300.0,
        max_events: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._events: collections.deque[Event] = collections.deque()
        self._subs: set[Subscription] = set()
        self._max_age = max_age_seconds
        self._max_events = max_events
        self._clock = clock
        self.oldest_rv = start_rv
        self.published_rv = start_rv

    def reset(self, rv: int) -> None:
        self._events.clear()
        self.oldest_rv = rv
        self.published_rv = rv

    def publish(self, events: list[Event]) -> None:
        """Called on the event loop, in revision order."""
        now = self._clock()
        for ev in events:
            ev = Event(ev.type, ev.key, ev.rv, ev.value, ev.prev, now)
            self._events.append(ev)
            self.published_rv = max(self.published_rv, ev.rv)
            for sub in self._subs:
                if ev.key.startswith(sub.prefix) and ev.rv > sub.last_rv:
                    sub.last_rv = ev.rv
                    if sub.accept is None or sub.accept(ev):
                        sub.queue.put_nowait(ev)
        self.advance(self.published_rv)
        self._trim(now)

    def advance(self, rv: int) -> None:
        """Note a revision that produced no event for us (another replica's key space, a compaction)."""
        self.published_rv = max(self.published_rv, rv)

    def trim(self) -> None:
        """Drop expired events; called periodically so an idle server lets go of old history."""
        self._trim(self._clock())

    def _trim(self, now: float) -> None:
        events = self._events
        while events and (len(events) > self._max_events or now - events[0].at > self._max_age):
            dropped = events.popleft()
            self.oldest_rv = dropped.rv

    def subscribe(self, prefix: str, *, after_rv: int, accept: EventFilter | None = None) -> Subscription:
        """Events under `prefix` with revision > after_rv (those `accept` takes); raises TooOld if some may be gone."""
        if after_rv < self.oldest_rv:
            raise TooOld(after_rv, self.oldest_rv)
        sub = Subscription(prefix=prefix, queue=asyncio.Queue(), last_rv=after_rv, window=self, accept=accept)
        for ev in self._events:
            if ev.rv > after_rv and ev.key.startswith(prefix):
                if accept is None or accept(ev):
                    sub.queue.put_nowait(ev)
                sub.last_rv = ev.rv
        sub.last_rv = max(sub.last_rv, after_rv)
        self._subs.add(sub)
        return sub

    def first_changes_after(self, rv: int, prefix: str) -> dict[str, Event]:
        """For each key under `prefix` changed after `rv`, its first change: enough to rebuild the state at rv."""
        if rv < self.oldest_rv:
            raise TooOld(rv, self.oldest_rv)
        first: dict[str, Event] = {}
        for ev in reversed(self._events):
            if ev.rv <= rv:
                break
            if ev.key.startswith(prefix):
                first[ev.key] = ev
        return first

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        sub.queue.put_nowait(None)

    def close_all(self) -> None:
        for sub in list(self._subs):
            sub.close()

    @property
    def watcher_count(self) -> int:
        return len(self._subs)

    @property
    def size(self) -> int:
        return len(self._events)

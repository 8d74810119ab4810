"""kube's scheduling queue: activeQ, backoffQ, unschedulable pods and gated pods.

activeQ pops the highest priority first, then the pod queued earliest (PrioritySort). A pod that failed goes to
backoffQ when the failure was an error, or when a cluster event arrived while it was being scheduled (the event
may have changed the verdict); otherwise it waits among the unschedulable pods until an event one of its
rejecting plugins cares about (a Node added, a pod deleted, ...) moves it, or for at most five minutes. Moving
respects the per-pod backoff: 1 s after the first attempt, doubling per attempt, at most 10 s. Pods with
scheduling gates wait, unattempted, until their gates are gone.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gardener.kube_scheduler.cache import PodInfo

__all__ = ["ACTIVE", "BACKOFF", "GATED", "UNSCHEDULABLE", "QueuedPodInfo", "SchedulingQueue"]

ACTIVE, BACKOFF, UNSCHEDULABLE, GATED = "active", "backoff", "unschedulable", "gated"
#: kube's DefaultPodInitialBackoffDuration, DefaultPodMaxBackoffDuration, DefaultPodMaxInUnschedulablePodsDuration
INITIAL_BACKOFF, MAX_BACKOFF, MAX_UNSCHEDULABLE = 1.0, 10.0, 300.0


@dataclass
class QueuedPodInfo:
    info: PodInfo
    #: when the pod was (re-)queued; orders activeQ and starts the backoff
    timestamp: float
    attempts: int = 0
    #: when the pod first entered the queue (the start of kube's pod_scheduling_sli_duration_seconds)
    queued_at: float = 0.0
    #: plugins that rejected the pod in its last attempt (empty: an error, or no node at all)
    unschedulable_plugins: frozenset[str] = frozenset()

    @property
    def uid(self) -> str:
        return self.info.uid


def gated(info: PodInfo) -> bool:
    return bool(info.spec.get("schedulingGates"))


class SchedulingQueue:
    """Single-threaded (one event loop); `pop` waits for work."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        max_unschedulable: float = MAX_UNSCHEDULABLE,
        on_change: Callable[[dict[str, int]], None] | None = None,
        on_incoming: Callable[[str, str], None] | None = None,
    ) -> None:
        """`on_change` gets the counts per queue after every change; `on_incoming(queue, event)` hears of every pod
        put into a queue and why (kube's scheduler_queue_incoming_pods_total)."""
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self.on_change = on_change
        self.on_incoming = on_incoming
        self._pods: dict[str, QueuedPodInfo] = {}
        self._where: dict[str, str] = {}
        #: the unschedulable pods by uid (cluster events scan only these)
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._active: list[tuple[int, float, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._in_flight: dict[str, QueuedPodInfo] = {}
        self._ready = asyncio.Event()
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self.counts = {ACTIVE: 0, BACKOFF: 0, UNSCHEDULABLE: 0, GATED: 0}

    # ---- bookkeeping ----

    def _set(self, qpi: QueuedPodInfo, where: str | None, event: str = "") -> None:
        old = self._where.pop(qpi.uid, None)
        if old is not None:
            self.counts[old] -= 1
            self._pods.pop(qpi.uid, None)
            self._unschedulable.pop(qpi.uid, None)
        if where is not None:
            self._where[qpi.uid] = where
            self._pods[qpi.uid] = qpi
            self.counts[where] += 1
            if where == UNSCHEDULABLE:
                self._unschedulable[qpi.uid] = qpi
            if where == ACTIVE:
                heapq.heappush(self._active, (-qpi.info.priority, qpi.timestamp, next(self._seq), qpi.uid))
                self._ready.set()
            elif where == BACKOFF:
                heapq.heappush(self._backoff, (self.backoff_expiry(qpi), next(self._seq), qpi.uid))
        if self.on_change is not None:
            self.on_change(self.counts)
        if event and where is not None and self.on_incoming is not None:
            self.on_incoming(where, event)

    def backoff_duration(self, attempts: int) -> float:
        """1 s for the first attempt, doubling with every further one, capped at the maximum."""
        duration = self.initial_backoff
        for _ in range(1, attempts):
            if duration > self.max_backoff - duration:
                return self.max_backoff
            duration += duration
        return min(duration, self.max_backoff)

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi.attempts)

    def backing_off(self, qpi: QueuedPodInfo) -> bool:
        return qpi.attempts > 0 and self.backoff_expiry(qpi) > self.clock()

    def where(self, uid: str) -> str | None:
        if uid in self._in_flight:
            return "in-flight"
        return self._where.get(uid)

    def pod_info(self, uid: str) -> PodInfo | None:
        qpi = self._pods.get(uid) or self._in_flight.get(uid)
        return qpi.info if qpi is not None else None

    def __len__(self) -> int:
        return len(self._where)

    # ---- informer events ----

    def add(self, info: PodInfo) -> None:
        """A new pending pod."""
        if info.uid in self._where or info.uid in self._in_flight:
            self.update(info)
            return
        now = self.clock()
        self._set(QueuedPodInfo(info, now, queued_at=now), GATED if gated(info) else ACTIVE, "PodAdd")

    def update(self, info: PodInfo, *, spec_changed: bool = True) -> None:
        """A pending pod changed; an unschedulable or gated pod is moved if the change might matter."""
        flying = self._in_flight.get(info.uid)
        if flying is not None:
            flying.info = info
            return
        qpi = self._pods.get(info.uid)
        if qpi is None:
            self.add(info)
            return
        qpi.info = info
        where = self._where[info.uid]
        if where == GATED and not gated(info):
            self._set(qpi, ACTIVE, "UnscheduledPodUpdate")
        elif where == UNSCHEDULABLE and spec_changed:
            self._set(qpi, BACKOFF if self.backing_off(qpi) else ACTIVE, "UnscheduledPodUpdate")

    def delete(self, uid: str) -> None:
        qpi = self._pods.get(uid)
        if qpi is not None:
            self._set(qpi, None)
        self._in_flight.pop(uid, None)

    # ---- the scheduling loop ----

    async def pop(self) -> QueuedPodInfo:
        while True:
            while self._active:
                _, _, _, uid = heapq.heappop(self._active)
                qpi = self._pods.get(uid)
                if qpi is None or self._where.get(uid) != ACTIVE:
                    continue  # a stale heap entry: the pod was deleted or moved
                self._set(qpi, None)
                qpi.attempts += 1
                self.scheduling_cycle += 1
                self._in_flight[uid] = qpi
                return qpi
            self._ready.clear()
            await self._ready.wait()

    def done(self, uid: str) -> None:
        self._in_flight.pop(uid, None)

    def requeue_failed(self, qpi: QueuedPodInfo, cycle: int) -> None:
        """kube's AddUnschedulableIfNotPresent after a failed attempt."""
        self._in_flight.pop(qpi.uid, None)
        if qpi.uid in self._where:
            return
        qpi.timestamp = self.clock()
        if not qpi.unschedulable_plugins or self.move_request_cycle >= cycle:
            self._set(qpi, BACKOFF, "ScheduleAttemptFailure")
        else:
            self._set(qpi, UNSCHEDULABLE, "ScheduleAttemptFailure")

    def move(self, plugins: Iterable[str] | None, *, event: str = "ForceActivate", exclude: str = "") -> int:
        """A cluster event: move the unschedulable pods one of whose rejecting plugins is among `plugins`
        (all of them for None; pods rejected by no plugin always move). The count of moved pods."""
        interested = None if plugins is None else frozenset(plugins)
        moved = 0
        for uid, qpi in list(self._unschedulable.items()):
            if uid == exclude:
                continue
            if interested is None or not qpi.unschedulable_plugins or qpi.unschedulable_plugins & interested:
                self._set(qpi, BACKOFF if self.backing_off(qpi) else ACTIVE, event)
                moved += 1
        self.move_request_cycle = self.scheduling_cycle
        return moved

    def flush_backoff(self) -> None:
        """Pods whose backoff is over go to activeQ (kube does this every second)."""
        now = self.clock()
        while self._backoff and self._backoff[0][0] <= now:
            _, _, uid = heapq.heappop(self._backoff)
            qpi = self._pods.get(uid)
            if qpi is not None and self._where.get(uid) == BACKOFF:
                if self.backoff_expiry(qpi) > now:
                    heapq.heappush(self._backoff, (self.backoff_expiry(qpi), next(self._seq), uid))
                    continue
                self._set(qpi, ACTIVE, "BackoffComplete")

    def flush_unschedulable(self) -> None:
        """Pods unschedulable for longer than the maximum are retried anyway (kube checks every 30 s)."""
        now = self.clock()
        for qpi in list(self._unschedulable.values()):
            if now - qpi.timestamp > self.max_unschedulable:
                self._set(qpi, BACKOFF if self.backing_off(qpi) else ACTIVE, "UnschedulableTimeout")

    def pending(self) -> Iterable[QueuedPodInfo]:
        return list(self._pods.values())

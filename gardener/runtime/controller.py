"""The controller loop: informers enqueue keys, workers reconcile them, errors decide when to look again.

`reconcile(key)` reads what it needs and returns a `Result` (`requeue_after`: look again then even without a
change; None: only on the next change). It may raise `TemporaryError` (again after its `delay`, or after the
key's backoff when it names none), `PermanentError` (not again until the object changes: its code says why),
or anything else (again after the key's backoff). Every line logged during a reconcile carries the key.

`Controller` and `Manager` run on threads; `AsyncController` runs the same loop as asyncio tasks.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from prometheus_client import Counter, Gauge, Histogram

from gardener.runtime import logs
from gardener.runtime.errors import ApiError, Conflict, PermanentError, TemporaryError
from gardener.runtime.informer import Informer, Key
from gardener.runtime.kube import Kube, Obj, Resource, key_of
from gardener.runtime.serve import serve
from gardener.runtime.workqueue import AsyncWorkQueue, Backoff, WorkQueue

__all__ = ["AsyncController", "Controller", "Key", "Manager", "Mapper", "Result", "key_of", "key_text", "owner_keys"]

log = logging.getLogger("gardener.runtime.controller")

K = TypeVar("K", bound=Hashable)
Mapper = Callable[[Obj], Iterable[Key]]

RECONCILES = Counter("controller_reconciles_total", "Reconciles by controller and result.", ["controller", "result"])
DURATION = Histogram("controller_reconcile_seconds", "Duration of reconciles.", ["controller"])
DEPTH = Gauge("controller_queue_depth", "Keys waiting in a controller's queue.", ["controller"])


@dataclass(frozen=True)
class Result:
    """What a successful reconcile asks for: look again after `requeue_after` seconds, or only on a change."""

    requeue_after: float | None = None


def key_text(key: Hashable) -> str:
    return "/".join(p for p in key if p) if isinstance(key, tuple) else str(key)


def owner_keys(kind: str) -> Mapper:
    """Map an object to the key of its controlling owner of `kind` (same namespace)."""

    def mapper(obj: Obj) -> Iterable[Key]:
        m = obj.get("metadata") or {}
        for ref in m.get("ownerReferences") or []:
            if ref.get("kind") == kind and ref.get("controller"):
                yield (str(m.get("namespace") or ""), str(ref["name"]))

    return mapper


def _outcome(name: str, key: Hashable, exc: Exception | None, result: Result | None, backoff: float) -> float | None:
    """Log and count one reconcile; the delay before the key is looked at again (None: only on a change)."""
    if exc is None:
        RECONCILES.labels(name, "success").inc()
        return result.requeue_after if result is not None else None
    extra = {"controller": name, "error": str(exc)[:500]}
    if isinstance(exc, PermanentError):
        RECONCILES.labels(name, "permanent").inc()
        log.warning("Reconcile failed permanently", extra={**extra, "codes": ",".join(exc.codes)})
        return None
    RECONCILES.labels(name, "error").inc()
    delay = exc.delay if isinstance(exc, TemporaryError) and exc.delay > 0 else backoff
    if isinstance(exc, Conflict):
        # Optimistic concurrency at work: the next attempt reads the newer object.
        log.debug("Reconcile conflict", extra={**extra, "retry": delay})
    elif isinstance(exc, TemporaryError | ApiError):
        log.warning("Reconcile failed", extra={**extra, "retry": delay})
    else:
        log.exception("Reconcile failed", extra={"controller": name, "retry": delay})
    return delay


@dataclass
class Controller(Generic[K]):
    """Worker threads reconciling the keys of one queue."""

    name: str
    reconcile: Callable[[K], Result | None]
    workers: int = 2
    queue: WorkQueue[K] = field(default_factory=WorkQueue)

    def enqueue(self, key: K, delay: float = 0.0) -> None:
        self.queue.add_after(key, delay)

    def process(self, key: K) -> None:
        """Reconcile one key taken from the queue and hand it back."""
        started = time.monotonic()
        result: Result | None = None
        error: Exception | None = None
        with logs.fields(key=key_text(key)):
            try:
                result = self.reconcile(key)
            except Exception as exc:
                error = exc
            backoff = self.queue.backoff(key) if error is not None and not isinstance(error, PermanentError) else 0.0
            if error is None or isinstance(error, PermanentError):
                self.queue.forget(key)
            again = _outcome(self.name, key, error, result, backoff)
        DURATION.labels(self.name).observe(time.monotonic() - started)
        self.queue.done(key)
        if again is not None:
            self.queue.add_after(key, again)
        DEPTH.labels(self.name).set(len(self.queue))

    def work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            key = self.queue.get(timeout=0.5)
            if key is not None:
                self.process(key)


class AsyncController(Generic[K]):
    """Asyncio workers reconciling the keys of one queue; `start()` inside the loop, `await stop()`."""

    def __init__(
        self,
        name: str,
        reconcile: Callable[[K], Awaitable[Result | None]],
        *,
        workers: int = 4,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        self.queue: AsyncWorkQueue[K] = AsyncWorkQueue(backoff=backoff)
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, key: K) -> None:
        self.queue.add(key)

    def add_after(self, key: K, delay: float) -> None:
        self.queue.add_after(key, delay)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"{self.name}-{i}") for i in range(self.workers)]

    async def run(self) -> None:
        """Work until cancelled."""
        self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def stop(self) -> None:
        self.queue.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def process(self, key: K) -> None:
        started = time.monotonic()
        result: Result | None = None
        error: Exception | None = None
        with logs.fields(key=key_text(key)):
            try:
                result = await self.reconcile(key)
            except asyncio.CancelledError:
                self.queue.done(key)
                raise
            except Exception as exc:
                error = exc
            backoff = self.queue.backoff(key) if error is not None and not isinstance(error, PermanentError) else 0.0
            if error is None or isinstance(error, PermanentError):
                self.queue.forget(key)
            again = _outcome(self.name, key, error, result, backoff)
        DURATION.labels(self.name).observe(time.monotonic() - started)
        self.queue.done(key)
        if again is not None:
            self.queue.add_after(key, again)

    async def _work(self) -> None:
        while True:
            await self.process(await self.queue.get())


class Manager:
    """Runs the informers and controllers of one cluster until stopped; one informer per resource is shared by
    every controller that watches it."""

    def __init__(self, kube: Kube, *, namespace: str | None = None) -> None:
        self.kube = kube
        self.namespace = namespace
        self.controllers: list[Controller[Key]] = []
        self._informers: dict[Resource, Informer] = {}
        self._subscribers: dict[Resource, list[tuple[Controller[Key], Mapper]]] = {}
        self._threads: list[threading.Thread] = []

    def add(self, controller: Controller[Key]) -> Controller[Key]:
        self.controllers.append(controller)
        return controller

    def watch(self, controller: Controller[Key], resource: Resource, mapper: Mapper = lambda o: (key_of(o),)) -> None:
        """Enqueue into `controller` the keys `mapper` gives for every change of `resource`."""
        if resource not in self._informers:
            informer = Informer(self.kube, resource, namespace=self.namespace, watch_timeout=120)
            informer.add_handler(functools.partial(self._dispatch, resource))
            self._informers[resource] = informer
            self._subscribers[resource] = []
        self._subscribers[resource].append((controller, mapper))

    def _dispatch(self, resource: Resource, _event: str, obj: Obj) -> None:
        for controller, mapper in self._subscribers[resource]:
            for key in mapper(obj):
                controller.enqueue(key)

    def healthy(self) -> bool:
        return all(i.healthy for i in self._informers.values()) and all(t.is_alive() for t in self._threads)

    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self._informers.values())

    def start(self, stop: threading.Event) -> None:
        for resource, informer in self._informers.items():
            self._spawn(f"informer-{resource.plural}", informer.run, stop)
        for controller in self.controllers:
            for i in range(controller.workers):
                self._spawn(f"{controller.name}-{i}", controller.work, stop)

    def _spawn(self, name: str, target: Callable[[threading.Event], None], stop: threading.Event) -> None:
        thread = threading.Thread(target=target, args=(stop,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def run(self, *, metrics_port: int = 0) -> None:
        """Run until SIGTERM or SIGINT, serving /metrics and /healthz on `metrics_port` (0: not at all)."""
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        if metrics_port:
            serve(metrics_port, self.healthy)
        self.start(stop)
        stop.wait()
        self.stop(stop)

    def stop(self, stop: threading.Event, *, timeout: float = 10.0) -> None:
        stop.set()
        for controller in self.controllers:
            controller.queue.shutdown()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if not thread.name.startswith("informer-"):
                thread.join(max(0.0, deadline - time.monotonic()))

"""Level-triggered controllers: informers enqueue keys, worker threads reconcile them.

A reconcile function gets a key, reads what it needs from the API and returns when to look again (None:
only on the next change). An exception requeues the key with exponential backoff. The `Manager` shares one
informer per resource among the controllers that watch it.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge, Histogram

from extensions.library.informer import Informer, Obj
from extensions.library.kube import Kube, Resource
from extensions.library.serve import serve
from extensions.library.workqueue import WorkQueue

log = logging.getLogger("extensions.library.controller")

Key = tuple[str, str]
Reconcile = Callable[[Key], float | None]
Mapper = Callable[[Obj], Iterable[Key]]

RECONCILES = Counter("controller_reconciles_total", "Reconciles by controller and result.", ["controller", "result"])
DURATION = Histogram("controller_reconcile_seconds", "Duration of reconciles.", ["controller"])
DEPTH = Gauge("controller_queue_depth", "Keys waiting in a controller's queue.", ["controller"])


def key_of(obj: Obj) -> Key:
    m = obj.get("metadata") or {}
    return (str(m.get("namespace") or ""), str(m.get("name") or ""))


def owner_keys(kind: str) -> Mapper:
    """Map an object to the key of its controlling owner of `kind` (same namespace)."""

    def mapper(obj: Obj) -> Iterable[Key]:
        m = obj.get("metadata") or {}
        for ref in m.get("ownerReferences") or []:
            if ref.get("kind") == kind and ref.get("controller"):
                yield (str(m.get("namespace") or ""), str(ref["name"]))

    return mapper


@dataclass
class Controller:
    name: str
    reconcile: Reconcile
    workers: int = 2
    queue: WorkQueue[Key] = field(default_factory=WorkQueue)

    def enqueue(self, key: Key, delay: float = 0.0) -> None:
        self.queue.add_after(key, delay)

    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            started = time.monotonic()
            try:
                again = self.reconcile(key)
            except Exception as exc:
                delay = self.queue.backoff(key)
                RECONCILES.labels(self.name, "error").inc()
                log.warning(
                    "Reconcile failed",
                    extra={"controller": self.name, "key": "/".join(key), "error": repr(exc)[:500], "retry": delay},
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                self.queue.add_after(key, delay)
            else:
                RECONCILES.labels(self.name, "success").inc()
                self.queue.forget(key)
                if again is not None:
                    self.queue.add_after(key, again)
            finally:
                DURATION.labels(self.name).observe(time.monotonic() - started)
                self.queue.done(key)
                DEPTH.labels(self.name).set(len(self.queue))


class Manager:
    """Runs informers and controllers of one cluster until stopped."""

    def __init__(self, kube: Kube, *, namespace: str | None = None) -> None:
        self.kube = kube
        self.namespace = namespace
        self.controllers: list[Controller] = []
        self._informers: dict[Resource, Informer] = {}
        self._subscribers: dict[Resource, list[tuple[Controller, Mapper]]] = {}
        self._threads: list[threading.Thread] = []

    def add(self, controller: Controller) -> Controller:
        self.controllers.append(controller)
        return controller

    def watch(self, controller: Controller, resource: Resource, mapper: Mapper = lambda o: (key_of(o),)) -> None:
        """Enqueue into `controller` the keys `mapper` gives for every change of `resource`."""
        if resource not in self._informers:
            namespace = self.namespace if resource.namespaced else None
            self._informers[resource] = Informer(
                self.kube, resource, functools.partial(self._dispatch, resource), namespace=namespace
            )
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
                self._spawn(f"{controller.name}-{i}", controller._work, stop)

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

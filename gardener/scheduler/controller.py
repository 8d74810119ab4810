"""The scheduler controller: watch Shoots, Seeds and CloudProfiles, bind each unscheduled Shoot to a Seed.

Binding is a merge patch of `spec.seedName` with the Shoot's resourceVersion as precondition, so a Shoot changed
since it was read is never bound on stale facts: the conflict sends it round again with the newer version.

Speed comes from keeping everything a decision needs in memory, fed by one watch per resource: the Seeds, the
CloudProfiles, and how many Shoots each Seed hosts. Worker threads take Shoot keys from a queue, decide under one
lock (counting the Seed they chose at once, so concurrent decisions spread out) and patch outside it. Everything in
memory is rebuilt from the API on start: a restarted scheduler picks up where the objects say it stands.

A Shoot that fits nowhere gets `status.lastOperation` Pending with every Seed's reason and a SchedulingFailed Event,
once per distinct message, and the status label `shoot.gardener.cloud/status: pending`, so that the STATUS column of
`kubectl get shoots` says it waits (Gardener's own table prints `<pending>` for a Shoot without that label; a CRD's
printer columns can only print what is in the object). The gardenlet replaces the label once the Shoot is bound and
built. It is tried again whenever a Seed, a CloudProfile or the region config changes, or a full Seed frees capacity.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from gardener.runtime.errors import ApiError, NotFound, ServerError, Unreachable
from gardener.runtime.informer import Informer
from gardener.runtime.kube import Kube, Obj
from gardener.runtime.workqueue import WorkQueue
from gardener.scheduler import filters, strategy
from gardener.scheduler.filters import Code, Reason, SeedView, ShootView
from gardener.scheduler.metrics import Metrics
from gardener.scheduler.strategy import Decision, Plan, RegionConfigError, Strategy

log = logging.getLogger("gardener.scheduler")

CORE = "/apis/core.gardener.cloud/v1beta1"
MERGE_PATCH = "application/merge-patch+json"
COMPONENT = "gardener-scheduler"
V = TypeVar("V")
#: a bound on cached plans: one per distinct Shoot view, so only many differently-networked Shoots reach it
MAX_PLANS = 10_000
STATUS_LABEL = "shoot.gardener.cloud/status"
PENDING = "pending"


@dataclass(frozen=True)
class Config:
    strategy: Strategy = Strategy.SAME_REGION
    workers: int = 32
    garden_namespace: str = "garden"
    retry_base: float = 0.5
    retry_max: float = 30.0
    #: delay before a Shoot whose binding conflicted is tried again if no newer version arrives first
    conflict_retry: float = 1.0


@dataclass(frozen=True)
class Pending:
    """An unscheduled Shoot as last seen."""

    namespace: str
    name: str
    uid: str
    rv: str
    view: ShootView
    status_seed: str | None
    last_operation: Mapping[str, Any]
    first_seen: float
    #: the Shoot's shoot.gardener.cloud/status label
    status_label: str | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class _Facts(Generic[V]):
    """Views of one kind of object that decisions depend on (Seeds, CloudProfiles, region ConfigMaps), by key.

    Its callbacks run in the informer's thread; `changed` runs under the scheduler's lock, and only when a view
    changed, so a gardenlet's heartbeat on its Seed costs a comparison, not a recomputation.
    """

    def __init__(self, kind: str, view: Callable[[Obj], V], *, lock: threading.Lock, changed: Callable[[], None]):
        self.kind = kind
        self.view = view
        self.views: dict[str, V] = {}
        self._lock = lock
        self._changed = changed

    def replace(self, items: list[Obj]) -> None:
        views = {}
        for obj in items:
            view = self._view(obj)
            if view is not None:
                views[_key(obj)] = view
        with self._lock:
            if views != self.views:
                self.views = views
                self._changed()

    def event(self, kind: str, obj: Obj) -> None:
        key = _key(obj)
        view = None if kind == "DELETED" else self._view(obj)
        with self._lock:
            if self.views.get(key) == view:
                return
            if view is None:
                self.views.pop(key, None)
            else:
                self.views[key] = view
            self._changed()

    def _view(self, obj: Obj) -> V | None:
        try:
            return self.view(obj)
        except (ValueError, KeyError) as exc:
            log.warning("Ignoring a malformed object", extra={"kind": self.kind, "key": _key(obj), "error": str(exc)})
            return None


@dataclass
class _State:
    seed_list: list[SeedView] = field(default_factory=list)
    #: per Shoot key: (spec.seedName, status.seedName), the assumed Seed standing in for spec while binding
    assignments: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    binding: dict[str, str] = field(default_factory=dict)
    unschedulable: set[str] = field(default_factory=set)
    plans: dict[ShootView, Plan] = field(default_factory=dict)
    #: the failure description last written per Shoot, so it is written (and an Event posted) once
    reported: dict[str, str] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])


def _informer(
    kube: Kube,
    path: str,
    name: str,
    on_replace: Callable[[list[Obj]], None],
    on_event: Callable[[str, Obj], None],
    *,
    label_selector: str = "",
) -> Informer:
    """An informer whose lists replace a view at once and whose events update it one by one."""
    informer = Informer(kube, path, name=name, label_selector=label_selector, on_replace=on_replace)
    informer.add_handler(on_event)
    return informer


class Scheduler:
    def __init__(
        self, kube: Kube, *, config: Config, metrics: Metrics, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.kube = kube
        self.config = config
        self.metrics = metrics
        self.clock = clock
        self.queue: WorkQueue[str] = WorkQueue(clock=clock)
        self._lock = threading.Lock()
        self._state = _State()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        lock, changed = self._lock, self._facts_changed
        self.seeds = _Facts("Seed", filters.seed_view, lock=lock, changed=changed)
        self.profiles = _Facts("CloudProfile", filters.cloud_profile_view, lock=lock, changed=changed)
        self.region_configs = _Facts("ConfigMap", _config_part, lock=lock, changed=changed)
        self.informers = [
            _informer(kube, f"{CORE}/seeds", "seeds", self.seeds.replace, self.seeds.event),
            _informer(kube, f"{CORE}/cloudprofiles", "cloudprofiles", self.profiles.replace, self.profiles.event),
            _informer(kube, f"{CORE}/shoots", "shoots", self._shoots, self._shoot),
        ]
        if config.strategy is Strategy.MINIMAL_DISTANCE:
            self.informers.append(
                _informer(
                    kube,
                    f"/api/v1/namespaces/{config.garden_namespace}/configmaps",
                    "region-configs",
                    self.region_configs.replace,
                    self.region_configs.event,
                    label_selector=f"{strategy.REGION_CONFIG_PURPOSE_LABEL}={strategy.REGION_CONFIG_PURPOSE}",
                )
            )
        metrics.pending.set_function(lambda: len(self._state.pending))

    # ---- lifecycle ----

    def start(self) -> None:
        for informer in self.informers:
            informer.start(self._stop)
        for n in range(self.config.workers):
            worker = threading.Thread(target=self._work, name=f"worker-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def healthy(self) -> bool:
        return all(i.synced.is_set() and i.alive for i in self.informers) and all(w.is_alive() for w in self._workers)

    def stop(self) -> None:
        self._stop.set()
        self.queue.shutdown()

    # ---- informer callbacks (informer threads) ----

    def _facts_changed(self) -> None:
        """(Lock held.) Plans are stale; Shoots that fit nowhere may fit now."""
        s = self._state
        s.seed_list = sorted(self.seeds.views.values(), key=lambda seed: seed.name)
        s.plans.clear()
        self._retry_unschedulable()

    def _retry_unschedulable(self) -> None:
        for key in self._state.unschedulable:
            self.queue.add(key)
        self._state.unschedulable.clear()

    def _shoots(self, items: list[Obj]) -> None:
        with self._lock:
            seen = set()
            for obj in items:
                key = _key(obj)
                seen.add(key)
                self._upsert(key, obj)
            for key in (self._state.assignments.keys() | self._state.pending.keys()) - seen:
                self._remove(key)

    def _shoot(self, kind: str, obj: Obj) -> None:
        key = _key(obj)
        with self._lock:
            if kind == "DELETED":
                self._remove(key)
            else:
                self._upsert(key, obj)

    def _upsert(self, key: str, obj: Obj) -> None:
        """(Lock held.)"""
        s = self._state
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        in_flight = s.binding.get(key)
        status_seed = status.get("seedName") or None
        self._assign(key, (spec.get("seedName") or in_flight, status_seed))
        if not filters.wants_scheduling(obj):
            self._forget(key)
            return
        meta = obj["metadata"]
        uid = str(meta.get("uid", ""))
        previous = s.pending.get(key)
        same = previous is not None and previous.uid == uid
        view = filters.shoot_view(obj)
        s.pending[key] = Pending(
            namespace=meta.get("namespace", ""),
            name=meta["name"],
            uid=uid,
            rv=str(meta.get("resourceVersion", "")),
            view=view,
            status_seed=status_seed,
            last_operation=status.get("lastOperation") or {},
            first_seen=previous.first_seen if previous is not None and same else self.clock(),
            status_label=(meta.get("labels") or {}).get(STATUS_LABEL),
        )
        if in_flight is not None:
            return  # the worker binding it looks again if the binding fails
        if key in s.unschedulable and same and previous is not None and previous.view == view:
            return  # e.g. our own status update: nothing that could make it fit has changed
        s.unschedulable.discard(key)
        self.queue.add(key)

    def _remove(self, key: str) -> None:
        """(Lock held.)"""
        self._assign(key, (None, None))
        self._forget(key)

    def _forget(self, key: str) -> None:
        s = self._state
        s.pending.pop(key, None)
        s.unschedulable.discard(key)
        s.reported.pop(key, None)
        s.errors.pop(key, None)

    def _assign(self, key: str, seeds: tuple[str | None, str | None]) -> None:
        """(Lock held.) Record which Seeds the Shoot occupies and keep the per-Seed counts in step."""
        s = self._state
        old = s.assignments.get(key, (None, None))
        if old == seeds:
            return
        freed = False
        for name in {old[0], old[1]} - {None}:
            assert name is not None
            count = s.usage[name] = s.usage.get(name, 0) - 1
            seed = self.seeds.views.get(name)
            freed |= seed is not None and seed.allocatable_shoots is not None and count < seed.allocatable_shoots
        for name in {seeds[0], seeds[1]} - {None}:
            assert name is not None
            s.usage[name] = s.usage.get(name, 0) + 1
        if seeds == (None, None):
            s.assignments.pop(key, None)
        else:
            s.assignments[key] = seeds
        if freed and s.unschedulable:
            self._retry_unschedulable()

    # ---- workers ----

    def _work(self) -> None:
        # Nothing is decided before every informer has listed: a Shoot seen before the Seeds would fit nowhere.
        for informer in self.informers:
            while not informer.synced.wait(0.5):
                if self._stop.is_set():
                    return
        while (key := self.queue.get()) is not None:
            try:
                self._process(key)
            except Exception:
                log.exception("Scheduling failed unexpectedly", extra={"shoot": key})
                self._retry_later(key)
            finally:
                self.queue.done(key)

    def _process(self, key: str) -> None:
        with self._lock:
            entry = self._state.pending.get(key)
            if entry is None or key in self._state.binding:
                return
            decision = self._decide(entry.view)
            if decision.seed is not None:
                self._state.binding[key] = decision.seed
                self._assign(key, (decision.seed, entry.status_seed))
            else:
                self._state.unschedulable.add(key)
        if decision.seed is None:
            self.metrics.unschedulable(sorted(decision.codes))
            self._report(entry, decision.message)
        else:
            self._bind(entry, decision.seed)

    def _decide(self, view: ShootView) -> Decision:
        """(Lock held.)"""
        s = self._state
        plan = s.plans.get(view)
        if plan is None:
            try:
                distances = (
                    strategy.region_distances(
                        self.region_configs.views.values(), cloud_profile=view.cloud_profile or "", region=view.region
                    )
                    if self.config.strategy is Strategy.MINIMAL_DISTANCE
                    else None
                )
            except RegionConfigError as exc:
                plan = Plan(problem=Reason(Code.REGION_CONFIG, str(exc)))
            else:
                profile = self.profiles.views.get(view.cloud_profile or "")
                plan = strategy.plan(view, s.seed_list, profile, strategy=self.config.strategy, distances=distances)
            if len(s.plans) >= MAX_PLANS:
                s.plans.clear()
            s.plans[view] = plan
        return strategy.choose(plan, s.usage)

    def _bind(self, entry: Pending, seed: str) -> None:
        key = entry.key
        body = {"metadata": {"resourceVersion": entry.rv}, "spec": {"seedName": seed}}
        try:
            self.kube.raw(
                "PATCH", f"{CORE}/namespaces/{entry.namespace}/shoots/{entry.name}", body, content_type=MERGE_PATCH
            )
        except ApiError as exc:
            status = exc.status
            with self._lock:
                s = self._state
                s.binding.pop(key, None)
                current = s.pending.get(key)
                if current is not None and s.assignments.get(key, (None, None))[0] == seed:
                    self._assign(key, (None, current.status_seed))
            if status == 404:
                return  # deleted meanwhile
            if status == 409:
                # Our copy is stale; the watch brings the newer one (and queues it). Retry anyway, in case not.
                self.queue.add_after(key, self.config.conflict_retry)
                return
            self.metrics.error()
            log.warning("Binding failed", extra={"shoot": key, "seed": seed, "code": status, "error": str(exc)})
            if not isinstance(exc, Unreachable | ServerError):  # refused (admission, RBAC): tell the user
                self._report(entry, f"binding to seed {seed!r} was refused: {exc.message or exc.reason}")
            self._retry_later(key)
            return
        with self._lock:
            s = self._state
            s.binding.pop(key, None)
            current = s.pending.get(key)
            if current is not None and current.uid == entry.uid:
                self._forget(key)
        self.metrics.scheduled(self.clock() - entry.first_seen)
        log.info("Shoot scheduled to seed", extra={"shoot": key, "seed": seed, "strategy": str(self.config.strategy)})

    def _retry_later(self, key: str) -> None:
        with self._lock:
            errors = self._state.errors[key] = self._state.errors.get(key, 0) + 1
        self.queue.add_after(key, min(self.config.retry_max, self.config.retry_base * 2 ** (errors - 1)))

    def _report(self, entry: Pending, why: str) -> None:
        """Tell the user through the Shoot's status and an Event, once per distinct message."""
        key = entry.key
        description = f"Failed to schedule Shoot: {why}"
        last = entry.last_operation
        with self._lock:
            if self._state.reported.get(key) == description:
                return
            self._state.reported[key] = description
        if last.get("state") == "Pending" and last.get("description") == description:
            self._label_pending(entry)
            return  # written before, by us or a previous run of us
        log.info("Shoot cannot be scheduled", extra={"shoot": key, "reason": why})
        now = _now()
        operation = {"type": "Create", "state": "Pending", "progress": 0, "description": description}
        try:
            self.kube.raw(
                "PATCH",
                f"{CORE}/namespaces/{entry.namespace}/shoots/{entry.name}/status",
                {"status": {"lastOperation": {**operation, "lastUpdateTime": now}}},
                content_type=MERGE_PATCH,
            )
            self.kube.raw("POST", f"/api/v1/namespaces/{entry.namespace}/events", _event(entry, description, now))
        except ApiError as exc:
            with self._lock:
                self._state.reported.pop(key, None)
            if isinstance(exc, NotFound):
                return
            log.warning("Reporting the scheduling failure failed", extra={"shoot": key, "error": str(exc)})
            self._retry_later(key)
            return
        self._label_pending(entry)

    def _label_pending(self, entry: Pending) -> None:
        """Set the status label to pending; a failure is only logged, the status already tells the user."""
        if entry.status_label == PENDING:
            return
        try:
            self.kube.raw(
                "PATCH",
                f"{CORE}/namespaces/{entry.namespace}/shoots/{entry.name}",
                {"metadata": {"labels": {STATUS_LABEL: PENDING}}},
                content_type=MERGE_PATCH,
            )
        except ApiError as exc:
            if not isinstance(exc, NotFound):
                log.warning("Labelling the shoot pending failed", extra={"shoot": entry.key, "error": str(exc)})


def _config_part(obj: Obj) -> Obj:
    """What the scheduler reads of a region ConfigMap."""
    meta = obj["metadata"]
    return {
        "metadata": {
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "annotations": meta.get("annotations") or {},
        },
        "data": obj.get("data") or {},
    }


def _event(entry: Pending, message: str, now: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{entry.name}.{time.time_ns():x}", "namespace": entry.namespace},
        "involvedObject": {
            "apiVersion": "core.gardener.cloud/v1beta1",
            "kind": "Shoot",
            "name": entry.name,
            "namespace": entry.namespace,
            "uid": entry.uid,
            "resourceVersion": entry.rv,
        },
        "reason": "SchedulingFailed",
        "message": message,
        "type": "Warning",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": socket.gethostname(),
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }

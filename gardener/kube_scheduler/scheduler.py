"""The scheduler proper: informer events in, one pod per scheduling cycle, bindings and events out.

kube's ScheduleOne: pop the next pod, run the cycle synchronously against the cache, assume the chosen node
and bind in the background (`POST pods/<name>/binding`), so the next cycle starts at once. A pod that fits
nowhere gets preemption's verdict, a Warning `FailedScheduling` event (events.k8s.io, as kube's scheduler
writes them) and the condition PodScheduled=False/Unschedulable with the same message; a failed binding
forgets the assumption and retries after backoff. Events go out through one bounded queue in the background,
as kube's event broadcaster does, so a burst of pods is never slowed by its own events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gardener.kube_scheduler import metrics as m
from gardener.kube_scheduler import preemption
from gardener.kube_scheduler.algorithm import Algorithm
from gardener.kube_scheduler.cache import Cache, PodInfo
from gardener.kube_scheduler.framework import FitError, NoNodesAvailable
from gardener.kube_scheduler.queue import QueuedPodInfo, SchedulingQueue
from gardener.kube_scheduler.selectors import LabelSelector
from gardener.kube_scheduler.topology import AFFINITY, SPREAD, default_selector
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError, NotFound
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import DELETED, AsyncInformer
from gardener.runtime.kube import PODS, Obj

__all__ = ["Informers", "Scheduler", "pod_scheduled_patch"]

log = logging.getLogger("gardener.kube_scheduler")

SMP = "application/strategic-merge-patch+json"
#: kube's validation.NoteLengthLimit for event messages
NOTE_LENGTH_LIMIT = 1024
#: events waiting to be posted; more are dropped, as kube's broadcaster drops past its queue of 1000
EVENT_QUEUE = 1000
ALL_FILTERS = frozenset(
    {
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        SPREAD,
        AFFINITY,
    }
)
#: which plugins' verdicts a cluster event may change (kube's EventsToRegister of the default plugins)
ASSIGNED_POD_ADD = frozenset({SPREAD, AFFINITY})
ASSIGNED_POD_DELETE = frozenset({"NodeResourcesFit", "NodePorts", SPREAD, AFFINITY})
NODE_LABELS = frozenset({"NodeAffinity", "NodeResourcesFit", SPREAD, AFFINITY})
NODE_TAINTS = frozenset({"NodeUnschedulable", "TaintToleration", "NodeResourcesFit", SPREAD})
NODE_ALLOCATABLE = frozenset({"NodeResourcesFit", "NodePorts"})
NODE_DELETE = frozenset({SPREAD})


@dataclass(frozen=True)
class Informers:
    pods: AsyncInformer
    nodes: AsyncInformer
    namespaces: AsyncInformer
    services: AsyncInformer
    controllers: Mapping[str, AsyncInformer]
    pdbs: AsyncInformer

    def all(self) -> list[AsyncInformer]:
        return [self.pods, self.nodes, self.namespaces, self.services, *self.controllers.values(), self.pdbs]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _truncate(message: str) -> str:
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    return message[: NOTE_LENGTH_LIMIT - 4] + " ..."


def _node_view(node: Obj) -> tuple[Any, ...]:
    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    return (
        meta.get("labels") or {},
        (spec.get("taints") or [], bool(spec.get("unschedulable"))),
        status.get("allocatable"),
    )


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class Scheduler:
    def __init__(
        self,
        client: AsyncKube,
        informers: Informers,
        recorder: EventRecorder,
        *,
        profiles: Mapping[str, int],
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
    ) -> None:
        """`profiles`: scheduler name -> percentageOfNodesToScore (0: kube's adaptive default)."""
        self.client = client
        self.informers = informers
        self.recorder = recorder
        self.cache = Cache()
        self.queue = SchedulingQueue(
            initial_backoff=initial_backoff, max_backoff=max_backoff, on_change=m.set_pending, on_incoming=m.incoming
        )
        self.algorithms = {
            name: Algorithm(
                self.cache,
                percentage_of_nodes_to_score=percentage,
                namespace_labels=self._namespace_labels,
                default_selector=self._default_selector,
                nominated=self._nominated_on,
                any_nominated=lambda: bool(self._nominations),
            )
            for name, percentage in profiles.items()
        }
        self._nominations: dict[str, tuple[str, PodInfo]] = {}
        self._pending_view: dict[str, tuple[Any, Any]] = {}
        self._events: asyncio.Queue[tuple[Obj, str, str, str, str]] = asyncio.Queue(EVENT_QUEUE)
        self._tasks: set[asyncio.Task[None]] = set()
        informers.pods.add_handler(self.on_pod)
        informers.nodes.add_handler(self.on_node)

    # ---- lookups for the plugins ----

    def _namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        ns = self.informers.namespaces.get("", namespace)
        return None if ns is None else (ns.get("metadata") or {}).get("labels") or {}

    def _default_selector(self, pod: PodInfo) -> LabelSelector:
        def controller(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
            informer = self.informers.controllers.get(kind)
            return informer.get(namespace, name) if informer is not None else None

        return default_selector(pod, services=self.informers.services.items(pod.namespace), controller=controller)

    def _nominated_on(self, node: str) -> list[PodInfo]:
        return [info for where, info in self._nominations.values() if where == node]

    def _nominate(self, info: PodInfo, node: str | None) -> None:
        if node:
            self._nominations[info.uid] = (node, info)
        elif node == "":
            self._nominations.pop(info.uid, None)

    # ---- informer handlers ----

    def responsible(self, pod: Obj) -> bool:
        return str((pod.get("spec") or {}).get("schedulerName") or "default-scheduler") in self.algorithms

    def on_pod(self, kind: str, pod: Obj) -> None:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        uid = str(meta.get("uid") or "")
        if spec.get("nodeName"):
            self.queue.delete(uid)
            self._pending_view.pop(uid, None)
            self._nominations.pop(uid, None)
            known = self.cache.pod_node(uid) is not None
            if kind == DELETED or _terminal(pod):
                if known:
                    self.cache.remove_pod(uid)
                    self.queue.move(ASSIGNED_POD_DELETE, event="AssignedPodDelete")
                return
            was_assumed = self.cache.is_assumed(uid)
            previous = self.cache.pod_info(uid)
            info = previous.refresh(pod) if previous is not None else PodInfo.of(pod)
            self.cache.add_pod(info)
            if previous is None or was_assumed:
                self.queue.move(ASSIGNED_POD_ADD, event="AssignedPodAdd")
            elif previous.labels != info.labels:
                self.queue.move(ASSIGNED_POD_ADD, event="AssignedPodUpdate")
            return
        if kind == DELETED or _terminal(pod) or not self.responsible(pod):
            self.queue.delete(uid)
            self._pending_view.pop(uid, None)
            self._nominations.pop(uid, None)
            return
        queued = self.queue.pod_info(uid)
        info = queued.refresh(pod) if queued is not None else PodInfo.of(pod)
        view = (meta.get("labels"), spec)
        changed = self._pending_view.get(uid) != view
        self._pending_view[uid] = view
        nominated = str((pod.get("status") or {}).get("nominatedNodeName") or "")
        if nominated:
            self._nominations[uid] = (nominated, info)
        elif uid in self._nominations:
            self._nominations[uid] = (self._nominations[uid][0], info)
        self.queue.update(info, spec_changed=changed)

    def on_node(self, kind: str, node: Obj) -> None:
        name = str((node.get("metadata") or {}).get("name") or "")
        if kind == DELETED:
            self.cache.remove_node(name)
            self.queue.move(NODE_DELETE, event="NodeDelete")
            return
        old = self.cache.node(name)
        before = _node_view(old.node) if old is not None and old.node is not None else None
        self.cache.add_node(node)
        if before is None:
            self.queue.move(ALL_FILTERS, event="NodeAdd")
            return
        after = _node_view(node)
        for old, new, interested, event in zip(
            before,
            after,
            (NODE_LABELS, NODE_TAINTS, NODE_ALLOCATABLE),
            ("NodeLabelChange", "NodeTaintChange", "NodeAllocatableChange"),
            strict=True,
        ):
            if old != new:
                self.queue.move(interested, event=event)

    # ---- the loops ----

    async def run(self) -> None:
        """Schedule until cancelled (with the queue's flushes and the event poster beside it)."""
        helpers = [
            asyncio.create_task(self._flush(1.0, self.queue.flush_backoff)),
            asyncio.create_task(self._flush(30.0, self.queue.flush_unschedulable)),
            asyncio.create_task(self._post_events()),
        ]
        try:
            while True:
                qpi = await self.queue.pop()
                self.schedule_one(qpi)
                await asyncio.sleep(0)  # let informers, bindings and events move between cycles
        finally:
            for task in [*helpers, *self._tasks]:
                task.cancel()
            await asyncio.gather(*helpers, *self._tasks, return_exceptions=True)

    async def _flush(self, period: float, flush: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(period)
            flush()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def schedule_one(self, qpi: QueuedPodInfo) -> None:
        info = qpi.info
        profile = str(info.spec.get("schedulerName") or "default-scheduler")
        algorithm = self.algorithms.get(profile)
        if algorithm is None or self.cache.is_assumed(info.uid):
            self.queue.done(info.uid)
            return
        if info.deleting:
            self.emit(info.pod, WARNING, "FailedScheduling", f"skip schedule deleting pod: {info.key}", "Scheduling")
            self.queue.done(info.uid)
            return
        start = time.monotonic()
        try:
            result = algorithm.schedule(info)
        except FitError as exc:
            m.ALGORITHM_DURATION.observe(time.monotonic() - start)
            outcome = self._preempt(algorithm, exc)
            exc.diagnosis.postfilter_msg = outcome.message
            self.fail(
                qpi,
                profile,
                start,
                reason="Unschedulable",
                message=exc.message,
                plugins=exc.diagnosis.unschedulable_plugins,
                nominate=outcome.nominate,
            )
            if outcome.victims is not None:
                self._spawn(self._evict(info, outcome.victims))
            return
        except NoNodesAvailable as exc:
            self.fail(qpi, profile, start, reason="Unschedulable", message=str(exc), plugins=set(), nominate="")
            return
        except Exception as exc:
            log.exception("Error selecting node for pod", extra={"pod": info.key})
            self.fail(qpi, profile, start, reason="SchedulerError", message=str(exc), plugins=set(), nominate="")
            return
        m.ALGORITHM_DURATION.observe(time.monotonic() - start)
        self.cache.assume(info, result.node)
        self._nominations.pop(info.uid, None)
        self._spawn(self.bind(qpi, profile, result.node, start))

    def _preempt(self, algorithm: Algorithm, exc: FitError) -> preemption.Outcome:
        m.PREEMPTION_ATTEMPTS.inc()
        if exc.state is None:
            return preemption.Outcome("", None)
        return preemption.preempt(
            algorithm, exc.state, exc.filters, exc.diagnosis, pdbs=list(self.informers.pdbs.items())
        )

    async def bind(self, qpi: QueuedPodInfo, profile: str, node: str, start: float) -> None:
        info = qpi.info
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.uid},
            "target": {"kind": "Node", "name": node},
        }
        try:
            await self.client.create(PODS.path(info.namespace, info.name, "binding"), binding)
        except ApiError as exc:
            log.info("Failed to bind pod", extra={"pod": info.key, "node": node, "error": str(exc)[:300]})
            self.cache.forget(info.uid)
            self.queue.move(ASSIGNED_POD_DELETE, event="AssignedPodDelete", exclude=info.uid)
            self.fail(
                qpi,
                profile,
                start,
                reason="SchedulerError",
                message=f'running Bind plugin "DefaultBinder": {exc.message or exc}',
                plugins=set(),
                nominate="",
            )
            return
        self.queue.done(info.uid)
        now = time.monotonic()
        m.ATTEMPTS.labels(result="scheduled", profile=profile).inc()
        m.ATTEMPT_DURATION.labels(result="scheduled", profile=profile).observe(now - start)
        m.POD_SCHEDULING_ATTEMPTS.observe(qpi.attempts)
        m.SLI_DURATION.labels(attempts=m.attempts_label(qpi.attempts)).observe(now - qpi.queued_at)
        log.debug("Successfully bound pod to node", extra={"pod": info.key, "node": node})
        self.emit(info.pod, NORMAL, "Scheduled", f"Successfully assigned {info.key} to {node}", "Binding")

    def fail(
        self,
        qpi: QueuedPodInfo,
        profile: str,
        start: float,
        *,
        reason: str,
        message: str,
        plugins: set[str],
        nominate: str | None,
    ) -> None:
        """kube's handleSchedulingFailure: metrics, requeue, nomination, event and PodScheduled condition."""
        info = qpi.info
        result = "unschedulable" if reason == "Unschedulable" else "error"
        m.ATTEMPTS.labels(result=result, profile=profile).inc()
        m.ATTEMPT_DURATION.labels(result=result, profile=profile).observe(time.monotonic() - start)
        qpi.unschedulable_plugins = frozenset(plugins)
        current = self.informers.pods.get(info.namespace, info.name)
        if current is None or (current.get("metadata") or {}).get("uid") != info.uid:
            self.queue.done(info.uid)
            return
        if (current.get("spec") or {}).get("nodeName"):
            self.queue.done(info.uid)
            return
        if current is not info.pod:
            qpi.info = info.refresh(current)
        self.queue.requeue_failed(qpi, self.queue.scheduling_cycle)
        self._nominate(qpi.info, nominate)
        log.debug("Unable to schedule pod", extra={"pod": info.key, "reason": reason, "message": message})
        self.emit(current, WARNING, "FailedScheduling", _truncate(message), "Scheduling")
        patch = pod_scheduled_patch(current, reason=reason, message=message, nominate=nominate)
        if patch is not None:
            self._spawn(self._patch_status(info.namespace, info.name, patch))

    async def _patch_status(self, namespace: str, name: str, patch: Obj) -> None:
        with contextlib.suppress(NotFound):
            try:
                await self.client.request("PATCH", PODS.path(namespace, name, "status"), body=patch, content_type=SMP)
            except ApiError as exc:
                log.warning("Error updating pod", extra={"pod": f"{namespace}/{name}", "error": str(exc)[:300]})

    async def _evict(self, preemptor: PodInfo, victims: preemption.Victims) -> None:
        """Carry out preemption: mark every victim DisruptionTarget, delete it, say who preempted it."""
        scheduler = str(preemptor.spec.get("schedulerName") or "default-scheduler")
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": _now(),
            "reason": "PreemptionByScheduler",
            "message": f"{scheduler}: preempting to accommodate a higher priority pod",
        }
        for victim in victims.pods:
            path = PODS.path(victim.namespace, victim.name)
            try:
                await self.client.request(
                    "PATCH", path + "/status", body={"status": {"conditions": [condition]}}, content_type=SMP
                )
                await self.client.delete(path)
            except NotFound:
                continue
            except ApiError as exc:
                log.warning("Preempting pod failed", extra={"pod": victim.key, "error": str(exc)[:300]})
                return
            log.info(
                "Preemptor pod preempted victim pod",
                extra={"preemptor": preemptor.key, "victim": victim.key, "node": victims.node},
            )
            self.emit(
                victim.pod,
                NORMAL,
                "Preempted",
                f"Preempted by pod {preemptor.uid} on node {victims.node}",
                "Preempting",
            )
        m.PREEMPTION_VICTIMS.observe(len(victims.pods))
        for uid, (node, other) in list(self._nominations.items()):
            if node == victims.node and other.priority < preemptor.priority and uid != preemptor.uid:
                self._nominations.pop(uid, None)
                await self._patch_status(other.namespace, other.name, {"status": {"nominatedNodeName": None}})

    # ---- events ----

    def emit(self, obj: Obj, type_: str, reason: str, message: str, action: str) -> None:
        try:
            self._events.put_nowait((obj, type_, reason, message, action))
        except asyncio.QueueFull:
            log.debug("Event dropped", extra={"reason": reason})

    async def _post_events(self) -> None:
        while True:
            obj, type_, reason, message, action = await self._events.get()
            try:
                await self.recorder.event(obj, type_, reason, message, action=action)
            except Exception:  # a lost event must not stop the ones after it
                log.exception("Event not posted", extra={"reason": reason})


def pod_scheduled_patch(pod: Obj, *, reason: str, message: str, nominate: str | None) -> Obj | None:
    """The strategic merge patch of pods/status that kube's updatePod sends, or None when nothing changes."""
    status = pod.get("status") or {}
    old = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
    body: Obj = {}
    if old is None or (old.get("status"), old.get("reason"), old.get("message")) != ("False", reason, message):
        changed_status = old is None or old.get("status") != "False"
        body["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": _now() if changed_status else old.get("lastTransitionTime"),  # type: ignore[union-attr]
                "reason": reason,
                "message": message,
            }
        ]
    if nominate is not None and (status.get("nominatedNodeName") or "") != nominate:
        body["nominatedNodeName"] = nominate or None
    return {"status": body} if body else None

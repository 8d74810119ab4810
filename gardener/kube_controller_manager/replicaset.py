"""kube's ReplicaSet controller (pkg/controller/replicaset): keeps `spec.replicas` pods of a ReplicaSet's template.

A sync claims the namespace's active pods (adopting orphans its selector matches, releasing its own that no longer
match), creates missing pods in slow-start batches or deletes the surplus in upstream's order of preference, and
writes the status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas after minReadySeconds,
observedGeneration, a ReplicaFailure condition while pods cannot be created or deleted). Expectations keep one
observation of the pod cache from creating or deleting twice.

`claim` and the pod predicates are also what the Deployment controller uses for its ReplicaSets.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import cmp_to_key
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.deploymentutil import replicas
from gardener.kube_controller_manager.objects import (
    controller_ref,
    is_terminating,
    labels_of,
    matches_selector,
    meta,
    now_rfc3339,
    owner_ref,
    parse_time,
)
from gardener.kube_controller_manager.podcontrol import Expectations, pod_from_template
from gardener.kube_controller_manager.workloads import is_active, is_available, is_ready, ready_since
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError, Conflict, NotFound, TemporaryError
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import ADDED, DELETED, AsyncInformer, Key
from gardener.runtime.kube import PODS, REPLICASETS, Obj, Resource, key_of

__all__ = ["claim", "is_active", "is_available", "is_ready", "pods_to_delete", "setup"]

log = logging.getLogger("gardener.kube_controller_manager.replicaset")

ACCOUNT = "replicaset-controller"
#: pods created or deleted in one sync at most (upstream's BurstReplicas)
BURST_REPLICAS = 500
#: the first batch of a slow start (controller.SlowStartInitialBatchSize)
SLOW_START_INITIAL_BATCH = 1
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}

# ---- pods ----


# ---- which pods go first ----


def _deletion_cost(pod: Mapping[str, Any]) -> int:
    try:
        return int(str(meta(pod).get("annotations", {}).get(DELETION_COST, "0")))
    except ValueError:
        return 0


def _restarts(pod: Mapping[str, Any]) -> int:
    return max(
        (int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or []), default=0
    )


def _log_rank(when: float, now: float) -> int:
    ns = (now - when) * 1e9
    return int(math.log2(ns)) if ns > 0 else -1


def _newer_first(t1: float | None, t2: float | None, now: float, uid1: str, uid2: str) -> bool | None:
    """afterOrZero with upstream's logarithmic scale (LogarithmicScaleDown): None when it does not decide."""
    if t1 == t2:
        return None
    if not t1 or not t2:
        return not t1
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    if diff == 0:
        return uid1 < uid2
    return diff < 0


def _deleted_before(a: Obj, b: Obj, rank_a: int, rank_b: int, now: float) -> bool:
    """ActivePodsWithRanks.Less: whether `a` is the better pod to delete."""
    node_a, node_b = (a.get("spec") or {}).get("nodeName") or "", (b.get("spec") or {}).get("nodeName") or ""
    if node_a != node_b and (not node_a or not node_b):
        return not node_a
    phase_a = _PHASE_ORDER.get(str((a.get("status") or {}).get("phase") or ""), 0)
    phase_b = _PHASE_ORDER.get(str((b.get("status") or {}).get("phase") or ""), 0)
    if phase_a != phase_b:
        return phase_a < phase_b
    if is_ready(a) != is_ready(b):
        return not is_ready(a)
    if _deletion_cost(a) != _deletion_cost(b):
        return _deletion_cost(a) < _deletion_cost(b)
    if rank_a != rank_b:
        return rank_a > rank_b
    uid_a, uid_b = str(meta(a).get("uid") or ""), str(meta(b).get("uid") or "")
    if is_ready(a) and is_ready(b):
        decided = _newer_first(ready_since(a), ready_since(b), now, uid_a, uid_b)
        if decided is not None:
            return decided
    if _restarts(a) != _restarts(b):
        return _restarts(a) > _restarts(b)
    created_a = parse_time(meta(a).get("creationTimestamp"))
    created_b = parse_time(meta(b).get("creationTimestamp"))
    decided = _newer_first(created_a, created_b, now, uid_a, uid_b)
    return bool(decided)


def pods_to_delete(pods: Sequence[Obj], related: Iterable[Obj], count: int, *, now: float) -> list[Obj]:
    """getPodsToDelete: unscheduled before scheduled, Pending before Unknown before Running, not ready before
    ready, lower pod-deletion-cost first, pods doubled up on a node with related pods first, then the most
    recently ready, the most restarted and the newest (times compared on a logarithmic scale)."""
    if count >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for pod in related:
        if is_active(pod):
            node = str((pod.get("spec") or {}).get("nodeName") or "")
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(pod, on_node.get(str((pod.get("spec") or {}).get("nodeName") or ""), 0)) for pod in pods]

    def compare(x: tuple[Obj, int], y: tuple[Obj, int]) -> int:
        if _deleted_before(x[0], y[0], x[1], y[1], now):
            return -1
        if _deleted_before(y[0], x[0], y[1], x[1], now):
            return 1
        return 0

    return [pod for pod, _ in sorted(ranked, key=cmp_to_key(compare))[:count]]


# ---- owner references ----


async def _still_there(client: AsyncKube, owner: Obj, resource: Resource) -> bool:
    """RecheckDeletionTimestamp: an uncached read before adopting, so a deleted owner adopts nothing."""
    m = meta(owner)
    fresh = await client.get(resource.path(m.get("namespace"), m.get("name")))
    return fresh is not None and meta(fresh).get("uid") == m.get("uid") and not is_terminating(fresh)


async def claim(
    client: AsyncKube,
    owner: Obj,
    candidates: Iterable[Obj],
    *,
    resource: Resource,
    owner_resource: Resource,
    selector: Mapping[str, Any] | None,
) -> list[Obj]:
    """ControllerRefManager.Claim: the candidates `owner` controls after adopting matching orphans and releasing
    its own that its selector no longer matches. A failed adoption or release raises after all were tried."""
    uid = meta(owner).get("uid")
    namespace = meta(owner).get("namespace")
    deleting = is_terminating(owner)
    claimed: list[Obj] = []
    failures: list[str] = []
    may_adopt: bool | None = None
    for obj in candidates:
        ref = controller_ref(obj)
        matches = matches_selector(labels_of(obj), selector)
        refs = [dict(r) for r in meta(obj).get("ownerReferences") or []]
        path = resource.path(meta(obj).get("namespace"), meta(obj).get("name"))
        rv = meta(obj).get("resourceVersion")
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches:
                claimed.append(obj)
                continue
            if deleting:
                continue
            kept = [r for r in refs if r.get("uid") != uid]
            patch = {"metadata": {"ownerReferences": kept or None, "resourceVersion": rv}}
            try:
                await client.patch(path, patch)
                log.info("Released", extra={"owner": meta(owner).get("name"), "object": meta(obj).get("name")})
            except NotFound:
                pass
            except ApiError as exc:
                failures.append(exc.message or str(exc))
            continue
        if deleting or not matches or is_terminating(obj) or meta(obj).get("namespace") != namespace:
            continue
        if may_adopt is None:
            may_adopt = await _still_there(client, owner, owner_resource)
        if not may_adopt:
            failures.append(f"{meta(owner).get('namespace')}/{meta(owner).get('name')} is gone or being deleted")
            break
        patch = {"metadata": {"ownerReferences": [*refs, owner_ref(owner)], "resourceVersion": rv}}
        try:
            claimed.append(await client.patch(path, patch))
            log.info("Adopted", extra={"owner": meta(owner).get("name"), "object": meta(obj).get("name")})
        except NotFound:
            pass
        except ApiError as exc:
            failures.append(exc.message or str(exc))
    if failures:
        raise TemporaryError(f"claiming {resource.plural}: {'; '.join(failures)}")
    return claimed


# ---- status ----


def replica_set_status(
    rs: Mapping[str, Any], pods: Sequence[Obj], failure: Exception | None, *, now: float
) -> tuple[Obj, float | None]:
    """calculateStatus, and when the next pod becomes available (None: no pod is waiting for minReadySeconds)."""
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully = ready = available = 0
    wait: float | None = None
    for pod in pods:
        labels = labels_of(pod)
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully += 1
        if is_ready(pod):
            ready += 1
            if is_available(pod, min_ready, now):
                available += 1
            elif (since := ready_since(pod)) is not None:
                left = since + min_ready - now
                wait = left if wait is None else min(wait, left)
    old = rs.get("status") or {}
    conditions = [dict(c) for c in old.get("conditions") or []]
    has_failure = any(c.get("type") == "ReplicaFailure" for c in conditions)
    if failure is not None and not has_failure:
        diff = len(pods) - replicas(rs)
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        message = failure.message if isinstance(failure, ApiError) else str(failure)
        conditions.append(
            {
                "type": "ReplicaFailure",
                "status": "True",
                "lastTransitionTime": now_rfc3339(),
                "reason": reason,
                "message": message,
            }
        )
    elif failure is None and has_failure:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    status: Obj = {"replicas": len(pods)}
    for key, value in (("fullyLabeledReplicas", fully), ("readyReplicas", ready), ("availableReplicas", available)):
        if value:
            status[key] = value
    generation = meta(rs).get("generation")
    if generation:
        status["observedGeneration"] = generation
    if conditions:
        status["conditions"] = conditions
    return status, (max(wait, 0.0) + 1.0 if wait is not None else None)


async def slow_start_batch(
    count: int, initial: int, call: Callable[[], Awaitable[None]]
) -> tuple[int, Exception | None]:
    """slowStartBatch: calls in batches of 1, 2, 4 ... until one fails; (successes, first error)."""
    done = 0
    size = min(count, initial)
    while size > 0:
        results = await asyncio.gather(*(call() for _ in range(size)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, Exception)]
        done += size - len(errors)
        if errors:
            return done, errors[0]
        count -= size
        size = min(2 * size, count)
    return done, None


def _namespace_terminating(exc: ApiError) -> bool:
    causes = (exc.status_doc.get("details") or {}).get("causes") or []
    return any(c.get("type") == "NamespaceTerminating" for c in causes if isinstance(c, dict))


# ---- the controller ----


class ReplicaSetController:
    def __init__(self, ctx: ControllerContext, client: AsyncKube, recorder: EventRecorder) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = ctx.clock
        self.sets: AsyncInformer = ctx.informer(REPLICASETS)
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.expectations = Expectations()
        #: pods each ReplicaSet deleted and has not yet seen go (UIDTrackingControllerExpectations)
        self.doomed: dict[Key, set[Key]] = {}
        #: the ReplicaSet each pod was last seen controlled by, to wake it when that changes
        self.pod_owner: dict[Key, Key] = {}
        self.controller: AsyncController[Key] = AsyncController(
            "replicaset", self.reconcile, workers=ctx.options.workers
        )
        self.sets.add_handler(self.on_replica_set)
        self.pods.add_handler(self.on_pod)

    # -- events --

    def on_replica_set(self, kind: str, rs: Obj) -> None:
        key = key_of(rs)
        if kind == DELETED:
            self.expectations.forget(key)
            self.doomed.pop(key, None)
        self.controller.add(key)

    def resolve(self, namespace: str, ref: Mapping[str, Any] | None) -> Key | None:
        if ref is None or ref.get("kind") != "ReplicaSet":
            return None
        rs = self.sets.get(namespace, str(ref.get("name") or ""))
        return (namespace, str(ref["name"])) if rs is not None and meta(rs).get("uid") == ref.get("uid") else None

    def _gone(self, owner: Key, pod: Key) -> None:
        doomed = self.doomed.get(owner)
        if doomed is not None and pod in doomed:
            doomed.discard(pod)
            self.expectations.deleted(owner)

    def on_pod(self, kind: str, pod: Obj) -> None:
        key = key_of(pod)
        owner = self.resolve(key[0], controller_ref(pod))
        previous = self.pod_owner.pop(key, None)
        if previous is not None and previous != owner:
            self.controller.add(previous)
        if kind == DELETED or is_terminating(pod):
            if owner is not None:
                self._gone(owner, key)
                self.controller.add(owner)
            if kind != DELETED and owner is not None:
                self.pod_owner[key] = owner
            return
        if owner is not None:
            if kind == ADDED:
                self.expectations.created(owner)
            self.pod_owner[key] = owner
            self.controller.add(owner)
            return
        if controller_ref(pod) is None:
            labels = labels_of(pod)
            for rs in self.sets.items(key[0]):
                if matches_selector(labels, (rs.get("spec") or {}).get("selector")):
                    self.controller.add(key_of(rs))

    # -- sync --

    async def reconcile(self, key: Key) -> Result | None:
        namespace, name = key
        cached = self.sets.get(namespace, name)
        if cached is None:
            self.expectations.forget(key)
            self.doomed.pop(key, None)
            return None
        rs = copy.deepcopy(cached)
        needs_sync = self.expectations.satisfied(key)
        selector = (rs.get("spec") or {}).get("selector")
        candidates = [p for p in self.pods.items(namespace) if is_active(p)]
        pods = await claim(self.client, rs, candidates, resource=PODS, owner_resource=REPLICASETS, selector=selector)
        failure: Exception | None = None
        if needs_sync and not is_terminating(rs):
            try:
                await self.manage(key, rs, pods)
            except ApiError as exc:
                failure = exc
            except ValueError as exc:
                failure = exc
        status, wait = replica_set_status(rs, pods, failure, now=self.clock())
        written = await self.write_status(rs, status)
        if failure is not None:
            raise TemporaryError(f"syncing ReplicaSet {namespace}/{name}: {failure}")
        if wait is not None:
            return Result(requeue_after=wait)
        if written is not None:
            want = replicas(written)
            got = written.get("status") or {}
            min_ready = int((written.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready and got.get("readyReplicas") == want and got.get("availableReplicas") != want:
                return Result(requeue_after=float(min_ready))
        return None

    async def manage(self, key: Key, rs: Obj, pods: list[Obj]) -> None:
        """manageReplicas: create the missing pods or delete the surplus, at most BURST_REPLICAS at a time."""
        want = replicas(rs)
        diff = len(pods) - want
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            self.expectations.expect(key, adds=count)
            log.info("Too few replicas", extra={"replicaset": "/".join(key), "need": want, "creating": count})
            done, error = await slow_start_batch(count, SLOW_START_INITIAL_BATCH, lambda: self.create_pod(rs))
            for _ in range(count - done):
                self.expectations.created(key)
            if error is not None:
                raise error
        elif diff > 0:
            count = min(diff, BURST_REPLICAS)
            victims = pods_to_delete(pods, self.related_pods(rs), count, now=self.clock())
            doomed = {key_of(p) for p in victims}
            self.doomed[key] = doomed
            self.expectations.expect(key, deletes=len(victims))
            log.info("Too many replicas", extra={"replicaset": "/".join(key), "need": want, "deleting": count})
            results = await asyncio.gather(*(self.delete_pod(rs, p) for p in victims), return_exceptions=True)
            errors = []
            for victim, result in zip(victims, results, strict=True):
                if isinstance(result, BaseException) or result is False:
                    self._gone(key, key_of(victim))
                if isinstance(result, Exception):
                    errors.append(result)
            if errors:
                raise errors[0]

    def related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet with the same controller (getIndirectlyRelatedPods)."""
        ref = controller_ref(rs)
        if ref is None:
            return []
        namespace = str(meta(rs).get("namespace") or "")
        siblings = [s for s in self.sets.items(namespace) if (controller_ref(s) or {}).get("uid") == ref.get("uid")]
        seen: dict[str, Obj] = {}
        for sibling in siblings:
            selector = (sibling.get("spec") or {}).get("selector")
            for pod in self.pods.items(namespace):
                if matches_selector(labels_of(pod), selector):
                    seen.setdefault(str(meta(pod).get("uid")), pod)
        return list(seen.values())

    async def create_pod(self, rs: Obj) -> None:
        template = (rs.get("spec") or {}).get("template") or {}
        name = str(meta(rs).get("name"))
        pod = pod_from_template(template, rs, generate_name=f"{name}-")
        if not meta(pod).get("labels"):
            raise ValueError("unable to create pods, no labels")
        try:
            created = await self.client.create(PODS.path(meta(rs).get("namespace")), pod)
        except ApiError as exc:
            if not _namespace_terminating(exc):
                self.recorder.emit(rs, WARNING, "FailedCreate", f"Error creating: {exc.message or exc}")
            raise
        self.recorder.emit(rs, NORMAL, "SuccessfulCreate", f"Created pod: {meta(created).get('name')}")

    async def delete_pod(self, rs: Obj, pod: Obj) -> bool:
        name = str(meta(pod).get("name"))
        try:
            gone = await self.client.delete(PODS.path(meta(pod).get("namespace"), name))
        except ApiError as exc:
            self.recorder.emit(rs, WARNING, "FailedDelete", f"Error deleting: {exc.message or exc}")
            raise
        if gone:
            self.recorder.emit(rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")
        return gone

    async def write_status(self, rs: Obj, status: Obj) -> Obj | None:
        """updateReplicaSetStatus: nothing when nothing changed, else PUT /status (once more after a conflict)."""
        generation = meta(rs).get("generation") or 0
        old = rs.get("status") or {}
        if _same_status(old, status) and int(old.get("observedGeneration") or 0) == generation:
            return rs
        m = meta(rs)
        path = REPLICASETS.path(m.get("namespace"), m.get("name"), "status")
        body = {**rs, "status": status}
        try:
            try:
                written = await self.client.replace(path, body)
            except Conflict:
                fresh = await self.client.get(REPLICASETS.path(m.get("namespace"), m.get("name")))
                if fresh is None:
                    return None
                written = await self.client.replace(path, {**fresh, "status": status})
        except NotFound:
            return None
        before = m.get("resourceVersion")
        if meta(written).get("resourceVersion") != before:
            await self.sets.wait_for(str(m.get("namespace")), str(m.get("name")), _moved_past(before), 2.0)
        return written


def _same_status(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    fields = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    return all(int(old.get(f) or 0) == int(new.get(f) or 0) for f in fields) and (old.get("conditions") or []) == (
        new.get("conditions") or []
    )


def _moved_past(rv: Any) -> Callable[[Obj | None], bool]:
    """A check that the cache holds a newer version than `rv` (or none at all)."""
    return lambda obj: obj is None or meta(obj).get("resourceVersion") != rv


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    recorder = await ctx.recorder_for(ACCOUNT)
    return [ReplicaSetController(ctx, client, recorder).controller]

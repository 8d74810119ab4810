"""taint-eviction-controller: deletes the pods that the NoExecute taints of their node no longer allow there.

A pod that does not tolerate every NoExecute taint of its node is deleted at once; one whose matching
tolerations carry `tolerationSeconds` is deleted that many seconds after the taint came, as upstream's
pkg/controller/tainteviction does. The count starts at the taint's `timeAdded` (the moment this controller first
saw the taint when it has none), or at the moment the pod was seen on the node if it came later. Because the
deadline is recomputed from API objects on every look, a restarted controller resumes the count instead of
starting it over; a scheduled deletion is nothing but a delayed requeue of the pod's key.

Before deleting, the pod gets the condition DisruptionTarget=True (reason DeletionByTaintManager), as kube 1.32
writes it. Upstream writes with the node-controller's ServiceAccount (its bootstrap role covers the taint
manager) and posts events as `taint-eviction-controller`; so does this module. The pod-condition and toleration
helpers here are shared with the node lifecycle and pod GC controllers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.objects import is_terminating, meta, now_rfc3339, parse_time
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError, Conflict, NotFound
from gardener.runtime.events import NORMAL, EventRecorder
from gardener.runtime.informer import DELETED, AsyncInformer, Key
from gardener.runtime.kube import NODES, PODS, Obj

__all__ = [
    "NO_EXECUTE",
    "eviction_deadline",
    "no_execute_taints",
    "pod_ref",
    "setup",
    "tolerates",
    "with_pod_condition",
]

log = logging.getLogger("gardener.kube_controller_manager.tainteviction")

NAME = "taint-eviction-controller"
#: upstream: "taint-manager uses existing cluster role from node-controller"
ACCOUNT = "node-controller"
NO_EXECUTE = "NoExecute"
#: upstream's deletePodHandler tries this often before it gives up on a pod
RETRIES = 5


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """core/v1 Toleration.ToleratesTaint: an empty key or effect matches any; Exists ignores the value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def no_execute_taints(node: Mapping[str, Any] | None) -> list[Obj]:
    if node is None:
        return []
    return [dict(t) for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == NO_EXECUTE]


def eviction_deadline(
    taints: Iterable[tuple[Mapping[str, Any], float]],
    tolerations: Sequence[Mapping[str, Any]],
    *,
    since: float,
    now: float,
) -> float | None:
    """When a pod must leave a node with these NoExecute `taints` (each with the time it came): `now` when one is
    not tolerated or a matching toleration allows 0 seconds, None when every match tolerates forever, else the
    earliest end of a toleration. Each taint is matched by the first toleration that tolerates it, as upstream's
    GetMatchingTolerations; the count of a taint starts when it came, or at `since` (the pod came later)."""
    deadline: float | None = None
    for taint, added in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return now
        seconds = match.get("tolerationSeconds")
        if seconds is None:
            continue
        try:
            allowed = int(seconds)
        except (TypeError, ValueError):
            return now
        if allowed <= 0:
            return now
        end = max(added, since) + allowed
        deadline = end if deadline is None else min(deadline, end)
    return deadline


def with_pod_condition(conditions: list[Obj], wanted: Mapping[str, Any], *, now: str = "") -> tuple[list[Obj], bool]:
    """upstream's UpdatePodCondition: `wanted` replaces the condition of its type; `lastTransitionTime` moves
    only when the status does. The new list, and whether anything changed."""
    stamp = now or now_rfc3339()
    kind = wanted.get("type")
    new: Obj = {k: v for k, v in wanted.items() if v is not None}
    out: list[Obj] = []
    changed = True
    found = False
    for cond in conditions:
        if cond.get("type") != kind or found:
            out.append(cond)
            continue
        found = True
        same_status = cond.get("status") == new.get("status")
        new["lastTransitionTime"] = cond.get("lastTransitionTime") if same_status else stamp
        fields = ("status", "reason", "message", "lastProbeTime", "lastTransitionTime")
        changed = any((cond.get(f) or None) != (new.get(f) or None) for f in fields)
        out.append(new)
    if not found:
        new["lastTransitionTime"] = stamp
        out.append(new)
    return out, changed


def pod_ref(namespace: str, name: str) -> Obj:
    """The reference upstream's event helpers build for a pod they may no longer hold (no uid)."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": namespace, "name": name}}


async def mark_and_delete(client: AsyncKube, namespace: str, name: str, condition: Mapping[str, Any]) -> None:
    """Add `condition` to the pod's status (optimistic concurrency, read again on conflict), then delete it."""
    path = PODS.path(namespace, name)
    for _ in range(RETRIES):
        pod = await client.get(path)
        if pod is None:
            return
        status = dict(pod.get("status") or {})
        conditions, changed = with_pod_condition(list(status.get("conditions") or []), condition)
        if not changed:
            break
        try:
            await client.replace(
                PODS.path(namespace, name, "status"), {**pod, "status": {**status, "conditions": conditions}}
            )
            break
        except Conflict:
            continue
    await client.delete(path)


class TaintEviction:
    """Pods keyed by (namespace, name); node taint changes requeue every pod on the node."""

    def __init__(self, ctx: ControllerContext, *, client: AsyncKube, recorder: EventRecorder, workers: int = 4) -> None:
        self.clock = ctx.clock
        self.client = client
        self.recorder = recorder
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.nodes: AsyncInformer = ctx.informer(NODES)
        self.controller: AsyncController[Key] = AsyncController(NAME, self.reconcile, workers=workers)
        self.live = False
        #: pods waiting for their deletion time: only to say "Cancelling deletion" as upstream does
        self._scheduled: set[Key] = set()
        #: pods deleted by uid, so that a look at a cache not yet showing the deletion does not delete again
        self._evicted: dict[Key, str] = {}
        #: pod -> (node, when this controller saw it arrive there); pods present at start count from the taint
        self._arrived: dict[Key, tuple[str, float]] = {}
        #: node -> pod keys, kept from pod events (upstream's spec.nodeName index)
        self._on_node: dict[str, set[Key]] = {}
        #: NoExecute taints of each node as last seen, and when taints without timeAdded were first seen
        self._taints: dict[str, list[Obj]] = {}
        self._first_seen: dict[tuple[str, str, str, str], float] = {}
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node_event)

    def start(self) -> None:
        self.live = True
        self.controller.start()

    async def stop(self) -> None:
        await self.controller.stop()
        await self.recorder.flush()

    def _on_pod(self, kind: str, pod: Obj) -> None:
        m = meta(pod)
        key = (str(m.get("namespace") or ""), str(m.get("name") or ""))
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        previous = self._arrived.get(key)
        if kind == DELETED:
            self._evicted.pop(key, None)
        if previous is not None and (kind == DELETED or previous[0] != node):
            self._on_node.get(previous[0], set()).discard(key)
            del self._arrived[key]
        if kind != DELETED and node and key not in self._arrived:
            self._arrived[key] = (node, self.clock() if self.live else 0.0)
            self._on_node.setdefault(node, set()).add(key)
        if node or kind == DELETED:
            self.controller.add(key)

    def _on_node_event(self, kind: str, node: Obj) -> None:
        name = str(meta(node).get("name") or "")
        taints = [] if kind == DELETED else no_execute_taints(node)
        if taints == self._taints.get(name, []):
            return
        now = self.clock()
        for taint in taints:
            self._first_seen.setdefault(self._taint_id(name, taint), now)
        if taints:
            self._taints[name] = taints
        else:
            self._taints.pop(name, None)
            self._first_seen = {k: v for k, v in self._first_seen.items() if k[0] != name}
        for key in list(self._on_node.get(name, ())):
            self.controller.add(key)

    @staticmethod
    def _taint_id(node: str, taint: Mapping[str, Any]) -> tuple[str, str, str, str]:
        return (node, str(taint.get("key") or ""), str(taint.get("value") or ""), str(taint.get("effect") or ""))

    def _added(self, node: str, taint: Mapping[str, Any]) -> float:
        added = parse_time(taint.get("timeAdded"))
        if added is not None:
            return added
        return self._first_seen.get(self._taint_id(node, taint), self.clock())

    def _cancel(self, key: Key) -> None:
        if key in self._scheduled:
            self._scheduled.discard(key)
            self.recorder.emit(
                pod_ref(*key), NORMAL, "TaintManagerEviction", f"Cancelling deletion of Pod {key[0]}/{key[1]}"
            )

    async def reconcile(self, key: Key) -> Result | None:
        namespace, name = key
        pod = self.pods.get(namespace, name)
        if pod is None:
            self._cancel(key)
            return None
        node_name = str((pod.get("spec") or {}).get("nodeName") or "")
        if not node_name or is_terminating(pod) or self._evicted.get(key) == meta(pod).get("uid"):
            self._scheduled.discard(key)
            return None
        taints = no_execute_taints(self.nodes.get("", node_name))
        if not taints:
            self._cancel(key)
            return None
        tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or [] if isinstance(t, Mapping)]
        arrived = self._arrived.get(key)
        since = arrived[1] if arrived is not None and arrived[0] == node_name else 0.0
        now = self.clock()
        deadline = eviction_deadline(
            [(t, self._added(node_name, t)) for t in taints], tolerations, since=since, now=now
        )
        if deadline is None:
            self._cancel(key)
            return None
        if deadline > now:
            self._scheduled.add(key)
            return Result(requeue_after=deadline - now)
        await self._evict(namespace, name)
        self._scheduled.discard(key)
        self._evicted[key] = str(meta(pod).get("uid") or "")
        return None

    async def _evict(self, namespace: str, name: str) -> None:
        log.info("Deleting pod", extra={"controller": NAME, "pod": f"{namespace}/{name}"})
        self.recorder.emit(
            pod_ref(namespace, name), NORMAL, "TaintManagerEviction", f"Marking for deletion Pod {namespace}/{name}"
        )
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
        }
        error: ApiError | None = None
        for _ in range(RETRIES):
            try:
                await mark_and_delete(self.client, namespace, name, condition)
                return
            except NotFound:
                return
            except ApiError as exc:
                error = exc
                await asyncio.sleep(0.01)
        assert error is not None
        raise error


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    recorder = await ctx.recorder_for(ACCOUNT, component=NAME)
    return [TaintEviction(ctx, client=client, recorder=recorder, workers=max(ctx.options.workers, 1))]

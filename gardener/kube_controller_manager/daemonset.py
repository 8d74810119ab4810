"""The DaemonSet controller (upstream's pkg/controller/daemon): one pod on every node that should run one.

A node should run a daemon pod when the template's nodeSelector and required node affinity match it and every
NoSchedule/NoExecute taint is tolerated, counting the tolerations upstream adds to every daemon pod (not-ready and
unreachable NoExecute; disk-, memory-, pid-pressure and unschedulable NoSchedule; network-unavailable for
hostNetwork pods). A pod already there may stay while its NoExecute taints are tolerated. Pods are not bound by
nodeName: as upstream, the required node affinity is replaced by one term on `metadata.name` (matchFields), so the
scheduler binds them. Templates live in ControllerRevisions labelled with `controller-revision-hash`; pods carry the
hash, and RollingUpdate replaces old pods within maxUnavailable (or surges within maxSurge).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping
from typing import Any

from gardener.kube_controller_manager import history
from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.daemonsetutil import (
    GENERATION_ANNOTATION,
    GENERATION_LABEL,
    HASH_LABEL,
    created_order,
    daemon_pod,
    name_of,
    scaled,
    should_run,
    spec_of,
    target_node,
)
from gardener.kube_controller_manager.objects import (
    controller_ref,
    is_terminating,
    labels_of,
    matches_selector,
    meta,
)
from gardener.kube_controller_manager.podcontrol import Expectations
from gardener.kube_controller_manager.workloads import (
    claim,
    create_pod,
    delete_pod,
    is_available,
    is_ready,
    is_terminal,
    phase,
    uid_of,
    update_status,
)
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import AlreadyExists, ApiError, TemporaryError
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import ADDED, DELETED, AsyncInformer, Key
from gardener.runtime.kube import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS, Obj

__all__ = ["DaemonSetController", "setup"]

log = logging.getLogger("gardener.kube_controller_manager.daemonset")

ACCOUNT = "daemon-set-controller"
#: the events' source component upstream's DaemonSet controller uses
COMPONENT = "daemonset-controller"
#: upstream's failedPodsBackoff: 1 s doubling up to 15 minutes
FAILED_POD_BACKOFF = (1.0, 900.0)


class DaemonSetController:
    def __init__(self, ctx: ControllerContext, client: AsyncKube, recorder: EventRecorder) -> None:
        self.ctx = ctx
        self.client = client
        self.recorder = recorder
        self.sets: AsyncInformer = ctx.informer(DAEMONSETS)
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.nodes: AsyncInformer = ctx.informer(NODES)
        self.revisions: AsyncInformer = ctx.informer(CONTROLLERREVISIONS)
        self.expectations = Expectations()
        self.failed_backoff: dict[tuple[str, str], tuple[float, float]] = {}
        self.controller: AsyncController[Key] = AsyncController(
            "daemonset", self.reconcile, workers=ctx.options.workers
        )
        self.sets.add_handler(lambda _kind, obj: self.controller.add((meta(obj).get("namespace", ""), name_of(obj))))
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(lambda _kind, _obj: self._all())

    def _all(self) -> None:
        for ds in self.sets.items():
            self.controller.add((str(meta(ds).get("namespace") or ""), name_of(ds)))

    def _on_pod(self, kind: str, pod: Obj) -> None:
        namespace = str(meta(pod).get("namespace") or "")
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != "DaemonSet":
                return
            key = (namespace, str(ref.get("name")))
            if kind == DELETED or is_terminating(pod):
                self.expectations.deleted(key)
            elif kind == ADDED:
                self.expectations.created(key)
            self.controller.add(key)
            return
        if kind != DELETED:
            for ds in self.sets.items(namespace):
                if matches_selector(labels_of(pod), spec_of(ds).get("selector")):
                    self.controller.add((namespace, name_of(ds)))

    async def reconcile(self, key: Key) -> Result | None:
        namespace, name = key
        cached = self.sets.get(namespace, name)
        if cached is None:
            self.expectations.forget(key)
            return None
        ds = copy.deepcopy(cached)
        selector = spec_of(ds).get("selector")
        if isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self.recorder.emit(
                ds, WARNING, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required."
            )
            return None
        if is_terminating(ds):
            return None
        current, old = await self._history(ds)
        revision_hash = labels_of(current).get(HASH_LABEL, "")
        nodes = list(self.nodes.items())
        pods = await claim(self.client, PODS, ds, self.pods.items(namespace), selector=selector)
        if not self.expectations.satisfied(key):
            return await self._write_status(ds, nodes, pods, revision_hash, observed=False)
        try:
            await self._manage(key, ds, nodes, pods, revision_hash)
            if self.expectations.satisfied(key) and self._strategy(ds) == "RollingUpdate":
                await self._rolling_update(key, ds, nodes, pods, revision_hash)
            await self._cleanup_history(ds, pods, old)
        finally:
            result = await self._write_status(ds, nodes, pods, revision_hash, observed=True)
        return result

    @staticmethod
    def _strategy(ds: Mapping[str, Any]) -> str:
        return str((spec_of(ds).get("updateStrategy") or {}).get("type") or "RollingUpdate")

    async def _history(self, ds: Obj) -> tuple[Obj, list[Obj]]:
        """The revision matching the template (created or renumbered as needed) and the older ones."""
        mine = history.controlled(self.revisions.items(str(meta(ds).get("namespace"))), ds, spec_of(ds).get("selector"))
        mine = [await history.adopt(self.client, ds, r) for r in mine]
        data = history.template_patch(ds)
        current = [r for r in mine if r.get("data") == data]
        old = [r for r in mine if r.get("data") != data]
        wanted_number = max((history.number(r) for r in old), default=0) + 1
        if not current:
            return await self._snapshot(ds, data, wanted_number), old
        keep = max(current, key=history.number)
        for duplicate in current:
            if duplicate is not keep:
                await history.delete_revision(self.client, duplicate)
        if history.number(keep) < wanted_number:
            keep = await history.renumber(self.client, keep, wanted_number)
        return keep, old

    async def _snapshot(self, ds: Obj, data: Obj, number: int) -> Obj:
        status = ds.get("status") or {}
        collisions = status.get("collisionCount")
        template_hash = history.template_hash(spec_of(ds).get("template") or {}, collisions)
        template_labels = ((spec_of(ds).get("template") or {}).get("metadata") or {}).get("labels") or {}
        namespace = str(meta(ds).get("namespace") or "")
        revision = history.new_revision(ds, labels=template_labels, data=data, revision=number, collision_count=0)
        revision["metadata"]["name"] = f"{name_of(ds)}-{template_hash}"
        revision["metadata"]["labels"] = {**template_labels, HASH_LABEL: template_hash}
        if meta(ds).get("annotations"):
            revision["metadata"]["annotations"] = dict(meta(ds)["annotations"])
        try:
            return await self.client.create(CONTROLLERREVISIONS.path(namespace), revision)
        except AlreadyExists:
            existing = await self.client.get(CONTROLLERREVISIONS.path(namespace, revision["metadata"]["name"]))
            if existing is not None and existing.get("data") == data:
                return existing
            status = {**(ds.get("status") or {}), "collisionCount": int(collisions or 0) + 1}
            await update_status(self.client, DAEMONSETS, ds, status)
            raise TemporaryError(f"revision name of DaemonSet {name_of(ds)} collides, collisionCount raised") from None

    def _node_pods(self, pods: list[Obj]) -> dict[str, list[Obj]]:
        out: dict[str, list[Obj]] = {}
        for pod in pods:
            if is_terminal(pod) and is_terminating(pod):
                continue
            node = target_node(pod)
            if node is not None:
                out.setdefault(node, []).append(pod)
        return out

    async def _manage(self, key: Key, ds: Obj, nodes: list[Obj], pods: list[Obj], revision_hash: str) -> None:
        by_node = self._node_pods(pods)
        create: list[str] = []
        delete: list[str] = []
        for node in nodes:
            run, keep = should_run(ds, node)
            on_node = by_node.get(name_of(node))
            if run and not on_node:
                create.append(name_of(node))
            elif keep:
                delete += self._prune(ds, node, on_node or [], revision_hash, run)
            elif on_node:
                delete += [name_of(p) for p in on_node if not is_terminating(p)]
        names = {name_of(n) for n in nodes}
        for node_name, on_node in by_node.items():
            if node_name not in names:
                delete += [name_of(p) for p in on_node if not spec_of(p).get("nodeName")]
        await self._sync_nodes(key, ds, delete, create, revision_hash)

    def _prune(self, ds: Obj, node: Obj, on_node: list[Obj], revision_hash: str, run: bool) -> list[str]:
        """Pods to delete on a node that keeps its daemon pod: finished ones, and all but one (or, surging, two)."""
        delete: list[str] = []
        running: list[Obj] = []
        for pod in on_node:
            if is_terminating(pod):
                continue
            where = f"{meta(pod).get('namespace')}/{name_of(pod)} on node {name_of(node)}"
            if phase(pod) == "Failed":
                if self._backing_off(ds, name_of(node)):
                    continue
                self.recorder.emit(
                    ds, WARNING, "FailedDaemonPod", f"Found failed daemon pod {where}, will try to kill it"
                )
                delete.append(name_of(pod))
            elif phase(pod) == "Succeeded":
                self.recorder.emit(
                    ds, NORMAL, "SucceededDaemonPod", f"Found succeeded daemon pod {where}, will try to delete it"
                )
                delete.append(name_of(pod))
            else:
                running.append(pod)
        running.sort(key=created_order)
        if self._max_surge(ds, 1) == 0:
            return delete + [name_of(p) for p in running[1:]]
        new = [p for p in running if labels_of(p).get(HASH_LABEL) == revision_hash]
        old = [p for p in running if labels_of(p).get(HASH_LABEL) != revision_hash]
        delete += [name_of(p) for p in new[1:] + old[1:]]
        if new and old:
            min_ready = int(spec_of(ds).get("minReadySeconds") or 0)
            if not is_ready(old[0]) or is_available(new[0], min_ready, self.ctx.clock()):
                delete.append(name_of(old[0]))
        return delete

    def _backing_off(self, ds: Obj, node: str) -> bool:
        key = (f"{uid_of(ds)}/{(ds.get('status') or {}).get('observedGeneration', 0)}", node)
        now = time.monotonic()
        delay, until = self.failed_backoff.get(key, (0.0, 0.0))
        if now < until:
            self.controller.add_after((str(meta(ds).get("namespace")), name_of(ds)), until - now)
            return True
        base, cap = FAILED_POD_BACKOFF
        delay = min(delay * 2, cap) if delay else base
        self.failed_backoff[key] = (delay, now + delay)
        return False

    async def _sync_nodes(self, key: Key, ds: Obj, delete: list[str], create: list[str], revision_hash: str) -> None:
        if not delete and not create:
            return
        self.expectations.expect(key, adds=len(create), deletes=len(delete))
        errors: list[ApiError] = []
        for node_name in create:
            try:
                await create_pod(self.client, self.recorder, ds, daemon_pod(ds, node_name, revision_hash))
            except ApiError as exc:
                self.expectations.created(key)
                errors.append(exc)
        for pod_name in delete:
            try:
                if not await delete_pod(self.client, self.recorder, ds, pod_name):
                    self.expectations.deleted(key)
            except ApiError as exc:
                self.expectations.deleted(key)
                errors.append(exc)
        if errors:
            raise errors[0]

    def _max_unavailable(self, ds: Obj, desired: int) -> int:
        rolling = (spec_of(ds).get("updateStrategy") or {}).get("rollingUpdate") or {}
        return scaled(rolling.get("maxUnavailable", 1), desired)

    def _max_surge(self, ds: Obj, desired: int) -> int:
        if self._strategy(ds) != "RollingUpdate":
            return 0
        rolling = (spec_of(ds).get("updateStrategy") or {}).get("rollingUpdate") or {}
        return scaled(rolling.get("maxSurge", 0), desired)

    async def _rolling_update(self, key: Key, ds: Obj, nodes: list[Obj], pods: list[Obj], revision_hash: str) -> None:
        by_node = self._node_pods(pods)
        wanted = [n for n in nodes if should_run(ds, n)[0]]
        for node in wanted:
            by_node.setdefault(name_of(node), [])
        desired = len(wanted)
        surge, unavailable = self._max_surge(ds, desired), self._max_unavailable(ds, desired)
        if desired > 0 and surge == 0 and unavailable == 0:
            unavailable = 1
        now, min_ready = self.ctx.clock(), int(spec_of(ds).get("minReadySeconds") or 0)
        delete: list[str] = []
        create: list[str] = []
        if surge == 0:
            count = 0
            candidates: list[str] = []
            for pods_on_node in by_node.values():
                found = self._split(pods_on_node, revision_hash)
                if found is None or found == (None, None) or (found[0] is not None and found[1] is not None):
                    count += 1
                    continue
                new, old = found
                if new is not None:
                    count += 0 if is_available(new, min_ready, now) else 1
                elif old is not None and not is_available(old, min_ready, now):
                    delete.append(name_of(old))
                    count += 1
                elif old is not None and count < unavailable:
                    candidates.append(name_of(old))
            delete += candidates[: max(unavailable - count, 0)]
        else:
            surged = 0
            candidate_nodes: list[str] = []
            for node_name, pods_on_node in by_node.items():
                found = self._split(pods_on_node, revision_hash)
                if found is None:
                    surged += 1
                    continue
                new, old = found
                if old is None:
                    continue
                if new is None:
                    if not is_available(old, min_ready, now):
                        create.append(node_name)
                    elif surged < surge:
                        candidate_nodes.append(node_name)
                elif not is_available(new, min_ready, now):
                    surged += 1
                else:
                    delete.append(name_of(old))
            create += candidate_nodes[: max(surge - surged, 0)]
        await self._sync_nodes(key, ds, delete, create, revision_hash)

    @staticmethod
    def _split(pods: list[Obj], revision_hash: str) -> tuple[Obj | None, Obj | None] | None:
        """(the updated pod, the old pod) on a node; None when there is more than one of either."""
        new: Obj | None = None
        old: Obj | None = None
        for pod in pods:
            if is_terminating(pod):
                continue
            if labels_of(pod).get(HASH_LABEL) == revision_hash:
                if new is not None:
                    return None
                new = pod
            else:
                if old is not None:
                    return None
                old = pod
        return new, old

    async def _cleanup_history(self, ds: Obj, pods: list[Obj], old: list[Obj]) -> None:
        limit = spec_of(ds).get("revisionHistoryLimit")
        surplus = len(old) - (int(limit) if isinstance(limit, int) else 10)
        live = {labels_of(p).get(HASH_LABEL) for p in pods}
        for revision in sorted(old, key=history.number):
            if surplus <= 0:
                break
            if labels_of(revision).get(HASH_LABEL) in live:
                continue
            await history.delete_revision(self.client, revision)
            surplus -= 1

    async def _write_status(
        self, ds: Obj, nodes: list[Obj], pods: list[Obj], revision_hash: str, *, observed: bool
    ) -> Result | None:
        by_node = self._node_pods(pods)
        now, min_ready = self.ctx.clock(), int(spec_of(ds).get("minReadySeconds") or 0)
        generation = (meta(ds).get("annotations") or {}).get(GENERATION_ANNOTATION)
        desired = current = misscheduled = ready = updated = available = 0
        for node in nodes:
            run, _ = should_run(ds, node)
            on_node = sorted(by_node.get(name_of(node)) or [], key=created_order)
            if not run:
                misscheduled += 1 if on_node else 0
                continue
            desired += 1
            if not on_node:
                continue
            current += 1
            pod = on_node[0]
            if is_ready(pod):
                ready += 1
                available += 1 if is_available(pod, min_ready, now) else 0
            pod_labels = labels_of(pod)
            if pod_labels.get(HASH_LABEL) == revision_hash or (
                generation and pod_labels.get(GENERATION_LABEL) == generation
            ):
                updated += 1
        old_status = ds.get("status") or {}
        status: Obj = {k: v for k, v in old_status.items() if k in ("collisionCount", "conditions")}
        status.update(
            {
                "currentNumberScheduled": current,
                "numberMisscheduled": misscheduled,
                "desiredNumberScheduled": desired,
                "numberReady": ready,
            }
        )
        observed_generation = meta(ds).get("generation") if observed else old_status.get("observedGeneration")
        optional = {
            "observedGeneration": observed_generation,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": desired - available,
        }
        status.update({k: v for k, v in optional.items() if v})
        await update_status(self.client, DAEMONSETS, ds, status)
        if min_ready > 0 and ready != available:
            return Result(requeue_after=float(min_ready))
        return None


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    recorder = await ctx.recorder_for(ACCOUNT, component=COMPONENT)
    return [DaemonSetController(ctx, client, recorder).controller]

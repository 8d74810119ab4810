"""pod-garbage-collector-controller: force-deletes the pods nobody else will ever clean up.

Every 20 seconds (upstream's gcCheckPeriod) it deletes, as upstream's pkg/controller/podgc does:
- finished pods (Succeeded or Failed) beyond `--terminated-pod-gc-threshold`, evicted ones first, then oldest;
- pods bound to a Node that no longer exists, once the Node has been missing for upstream's 40 s quarantine and
  a direct GET confirms it is gone (they get DisruptionTarget=True, reason DeletionByPodGC);
- terminating pods that were never scheduled, and terminating pods on a not-ready Node tainted
  `node.kubernetes.io/out-of-service`.
A pod that has not finished is first marked `Failed` (no kubelet will ever do it), then deleted with a grace
period of 0, with the `pod-garbage-collector` ServiceAccount's rights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.nodelifecycle import Periodic
from gardener.kube_controller_manager.objects import condition, is_terminating, meta, parse_time
from gardener.kube_controller_manager.tainteviction import with_pod_condition
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError, NotFound
from gardener.runtime.informer import AsyncInformer
from gardener.runtime.kube import NODES, PODS, Obj

__all__ = ["Quarantine", "is_terminated", "orphaned", "setup", "terminated_to_delete", "terminating_to_delete"]

log = logging.getLogger("gardener.kube_controller_manager.podgc")

NAME = "pod-garbage-collector-controller"
ACCOUNT = "pod-garbage-collector"
GC_CHECK_PERIOD = 20.0
QUARANTINE_SECONDS = 40.0
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
ORPHAN_CONDITION = {
    "type": "DisruptionTarget",
    "status": "True",
    "reason": "DeletionByPodGC",
    "message": "PodGC: node no longer exists",
}


def _phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def is_terminated(pod: Mapping[str, Any]) -> bool:
    return _phase(pod) not in ("Pending", "Running", "Unknown")


def _evicted(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Failed" and status.get("reason") == "Evicted"


def _node_of(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def terminated_to_delete(pods: Iterable[Obj], threshold: int) -> list[Obj]:
    """The finished pods beyond `threshold`, in upstream's order: evicted first, then oldest, then by name."""
    done = [p for p in pods if is_terminated(p)]
    excess = len(done) - threshold
    if threshold <= 0 or excess <= 0:
        return []

    def order(pod: Obj) -> tuple[bool, float, str]:
        m = meta(pod)
        return (not _evicted(pod), parse_time(m.get("creationTimestamp")) or 0.0, str(m.get("name") or ""))

    return sorted(done, key=order)[:excess]


def terminating_to_delete(pods: Iterable[Obj], nodes: Mapping[str, Obj]) -> list[Obj]:
    """Terminating pods nothing will finish: never scheduled, or on a not-ready out-of-service Node."""
    found = []
    for pod in pods:
        if not is_terminating(pod):
            continue
        node_name = _node_of(pod)
        if not node_name:
            found.append(pod)
            continue
        node = nodes.get(node_name)
        if node is None:
            continue
        ready = (condition(node, "Ready") or {}).get("status") == "True"
        out = any(t.get("key") == OUT_OF_SERVICE for t in (node.get("spec") or {}).get("taints") or [])
        if not ready and out:
            found.append(pod)
    return found


class Quarantine:
    """Node names pods are bound to but the cache does not hold, and since when (upstream's delaying node queue)."""

    def __init__(self, *, seconds: float = QUARANTINE_SECONDS) -> None:
        self.seconds = seconds
        self.missing: dict[str, float] = {}

    def due(self, pods: Iterable[Obj], existing: set[str], *, now: float) -> list[str]:
        """Note newly missing Nodes; hand out (and forget) the ones missing longer than the quarantine."""
        for pod in pods:
            node = _node_of(pod)
            if node and node not in existing:
                self.missing.setdefault(node, now)
        ready = [n for n, since in self.missing.items() if now - since >= self.seconds]
        for name in ready:
            del self.missing[name]
        return [n for n in ready if n not in existing]


def orphaned(pods: Iterable[Obj], deleted_nodes: set[str]) -> list[Obj]:
    return [p for p in pods if _node_of(p) in deleted_nodes]


class PodGC:
    def __init__(
        self, ctx: ControllerContext, *, client: AsyncKube, clock: Callable[[], float], quarantine: Quarantine
    ) -> None:
        self.client = client
        self.clock = clock
        self.threshold = ctx.options.terminated_pod_gc_threshold
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.nodes: AsyncInformer = ctx.informer(NODES)
        self.quarantine = quarantine

    async def gc(self) -> None:
        pods = list(self.pods.items())
        nodes = {str(meta(n).get("name")): n for n in self.nodes.items()}
        if self.threshold > 0:
            for pod in terminated_to_delete(pods, self.threshold):
                await self._delete(pod, reason="terminated")
        for pod in terminating_to_delete(pods, nodes):
            await self._delete(pod, reason="terminating")
        gone: set[str] = set()
        for name in self.quarantine.due(pods, set(nodes), now=self.clock()):
            try:
                if await self.client.get(NODES.path(None, name)) is None:
                    gone.add(name)
            except ApiError as exc:
                log.warning("Error while getting node", extra={"node": name, "error": str(exc)[:300]})
        for pod in orphaned(pods, gone):
            await self._delete(pod, reason="orphaned", condition=ORPHAN_CONDITION)

    async def _delete(self, pod: Obj, *, reason: str, condition: Mapping[str, Any] | None = None) -> None:
        m = meta(pod)
        namespace, name = str(m.get("namespace") or ""), str(m.get("name") or "")
        log.info("PodGC is force deleting Pod", extra={"pod": f"{namespace}/{name}", "reason": reason})
        try:
            if _phase(pod) not in ("Succeeded", "Failed"):
                # a patch, as upstream's apply of the status: the controller's role may patch pods/status only
                status: Obj = {"phase": "Failed"}
                if condition is not None:
                    current = list((pod.get("status") or {}).get("conditions") or [])
                    status["conditions"], _ = with_pod_condition(current, condition)
                await self.client.patch(PODS.path(namespace, name, "status"), {"status": status})
            await self.client.request(
                "DELETE",
                PODS.path(namespace, name),
                body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0},
            )
        except NotFound:
            return
        except ApiError as exc:
            # the next pass sees the pod again
            log.warning("Pod not garbage collected", extra={"pod": f"{namespace}/{name}", "error": str(exc)[:300]})


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    controller = PodGC(ctx, client=client, clock=ctx.clock, quarantine=Quarantine())
    return [Periodic(NAME, controller.gc, GC_CHECK_PERIOD)]

"""kube's Deployment controller (pkg/controller/deployment): rolls a Deployment's template out through ReplicaSets.

Each sync claims the ReplicaSets the Deployment's selector matches (adopting orphans, releasing its own that no
longer match), then, as upstream's syncDeployment: only the status while the Deployment is being deleted; a
scaling or paused sync when spec.replicas changed or spec.paused is set; otherwise one step of its strategy
(RollingUpdate within maxSurge and maxUnavailable, or Recreate). `kubectl rollout undo` needs nothing here: kubectl
1.37 patches an older ReplicaSet's template back into the Deployment, and that ReplicaSet becomes the new one with
the next revision. The legacy server-side rollback (the extensions/v1beta1 `rollback` subresource, the
`deprecated.deployment.rollback.to` annotation) is not served by apps/v1 and not handled.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from gardener.kube_controller_manager import deploymentutil as du
from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.deploymentrollout import Rollout
from gardener.kube_controller_manager.objects import controller_ref, is_terminating, labels_of, matches_selector, meta
from gardener.kube_controller_manager.replicaset import claim
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import PermanentError
from gardener.runtime.events import WARNING, EventRecorder
from gardener.runtime.informer import DELETED, AsyncInformer, Key
from gardener.runtime.kube import DEPLOYMENTS, PODS, REPLICASETS, Obj, key_of

__all__ = ["DeploymentController", "setup"]

log = logging.getLogger("gardener.kube_controller_manager.deployment")

ACCOUNT = "deployment-controller"


def _selects_nothing_in_particular(selector: Mapping[str, Any] | None) -> bool:
    return not selector or not (selector.get("matchLabels") or selector.get("matchExpressions"))


class DeploymentController:
    def __init__(self, ctx: ControllerContext, client: AsyncKube, recorder: EventRecorder) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = ctx.clock
        self.deployments: AsyncInformer = ctx.informer(DEPLOYMENTS)
        self.sets: AsyncInformer = ctx.informer(REPLICASETS)
        self.pods: AsyncInformer = ctx.informer(PODS)
        #: the Deployment each ReplicaSet was last seen controlled by, to wake it when that changes
        self.rs_owner: dict[Key, Key] = {}
        self.controller: AsyncController[Key] = AsyncController(
            "deployment", self.reconcile, workers=ctx.options.workers
        )
        self.deployments.add_handler(lambda _kind, d: self.controller.add(key_of(d)))
        self.sets.add_handler(self.on_replica_set)
        self.pods.add_handler(self.on_pod)

    # -- events --

    def resolve(self, namespace: str, ref: Mapping[str, Any] | None) -> Key | None:
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.deployments.get(namespace, str(ref.get("name") or ""))
        return (namespace, str(ref["name"])) if d is not None and meta(d).get("uid") == ref.get("uid") else None

    def on_replica_set(self, kind: str, rs: Obj) -> None:
        key = key_of(rs)
        owner = self.resolve(key[0], controller_ref(rs))
        previous = self.rs_owner.pop(key, None)
        if previous is not None and previous != owner:
            self.controller.add(previous)
        if owner is not None:
            if kind != DELETED:
                self.rs_owner[key] = owner
            self.controller.add(owner)
            return
        if kind == DELETED or controller_ref(rs) is not None:
            return
        labels = labels_of(rs)
        for d in self.deployments.items(key[0]):
            selector = du.spec(d).get("selector")
            if not _selects_nothing_in_particular(selector) and matches_selector(labels, selector):
                self.controller.add(key_of(d))

    def on_pod(self, kind: str, pod: Obj) -> None:
        """A Recreate rollout waits for the old pods to be gone: wake it when one goes."""
        if kind != DELETED:
            return
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        namespace = str(meta(pod).get("namespace") or "")
        rs = self.sets.get(namespace, str(ref.get("name") or ""))
        if rs is None or meta(rs).get("uid") != ref.get("uid"):
            return
        owner = self.resolve(namespace, controller_ref(rs))
        if owner is not None:
            d = self.deployments.get(*owner)
            if d is not None and du.strategy_type(d) == du.RECREATE:
                self.controller.add(owner)

    # -- sync --

    def pod_map(self, d: Obj, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        """getPodMapForDeployment: the Deployment's pods by the uid of their ReplicaSet, finished ones included."""
        groups: dict[str, list[Obj]] = {str(meta(rs).get("uid")): [] for rs in rs_list}
        selector = du.spec(d).get("selector")
        for pod in self.pods.items(str(meta(d).get("namespace") or "")):
            ref = controller_ref(pod)
            if ref is not None and str(ref.get("uid")) in groups and matches_selector(labels_of(pod), selector):
                groups[str(ref.get("uid"))].append(pod)
        return groups

    async def reconcile(self, key: Key) -> Result | None:
        cached = self.deployments.get(*key)
        if cached is None:
            return None
        d = copy.deepcopy(cached)
        rollout = Rollout(
            client=self.client,
            recorder=self.recorder,
            deployments=self.deployments,
            sets=self.sets,
            d=d,
            clock=self.clock,
        )
        selector = du.spec(d).get("selector")
        if _selects_nothing_in_particular(selector):
            message = "This deployment is selecting all pods. A non-empty selector is required."
            self.recorder.emit(d, WARNING, "SelectingAll", message)
            generation = int(meta(d).get("generation") or 0)
            if int(rollout.status.get("observedGeneration") or 0) < generation:
                rollout.status["observedGeneration"] = generation
                await rollout.write_status()
            return None
        candidates = list(self.sets.items(key[0]))
        rs_list = await claim(
            self.client, d, candidates, resource=REPLICASETS, owner_resource=DEPLOYMENTS, selector=selector
        )
        try:
            await self.sync(rollout, rs_list)
        except ValueError as exc:
            # what validation lets through but the arithmetic cannot use (a malformed percentage, say)
            self.recorder.emit(d, WARNING, "FailedSync", f"Cannot roll out deployment: {exc}")
            raise PermanentError(f"deployment {key[0]}/{key[1]}: {exc}") from exc
        return Result(requeue_after=rollout.requeue) if rollout.requeue is not None else None

    async def sync(self, rollout: Rollout, rs_list: list[Obj]) -> None:
        d = rollout.d
        if is_terminating(d):
            await rollout.status_only(rs_list)
            return
        await rollout.check_paused_conditions()
        if du.spec(d).get("paused") or await rollout.is_scaling_event(rs_list):
            await rollout.sync(rs_list)
            return
        kind = du.strategy_type(d)
        if kind == du.RECREATE:
            await rollout.recreate(rs_list, self.pod_map(d, rs_list))
        elif kind == du.ROLLING:
            await rollout.rolling(rs_list)
        else:
            raise ValueError(f"unexpected deployment strategy type: {kind}")


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    recorder = await ctx.recorder_for(ACCOUNT)
    return [DeploymentController(ctx, client, recorder).controller]

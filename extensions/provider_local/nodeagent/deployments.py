"""The Deployment controller: replicas of the pod template as Pods named `<deployment>-<hash>-<random>`.

Pods belong to the Deployment directly (there are no ReplicaSet objects); the template hash is
their `pod-template-hash` label, as under a real ReplicaSet. RollingUpdate honours maxSurge and
maxUnavailable, Recreate stops every old pod before new ones start. Status carries what
`kubectl rollout status` and Gardener's health checks read.
"""

from __future__ import annotations

import logging
import time

from extensions.provider_local.nodeagent.objects import (
    RETRY,
    condition,
    controller_ref,
    is_ready,
    is_terminating,
    parse_time,
    set_condition,
)
from extensions.provider_local.nodeagent.workloads import (
    WorkloadContext,
    available_since,
    new_pod,
    resolve_int_or_percent,
    template_hash,
)
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.informer import AsyncInformer, Key
from gardener.runtime.kube import DEPLOYMENTS, Obj, key_of

log = logging.getLogger("provider_local.nodeagent.deployments")

HASH_LABEL = "pod-template-hash"


class Deployments:
    def __init__(self, ctx: WorkloadContext, deployments: AsyncInformer) -> None:
        self.ctx = ctx
        self.deployments = deployments
        self.queue: AsyncController[Key] = AsyncController("deployments", self.reconcile, backoff=RETRY)

    def on_deployment(self, _: str, obj: Obj) -> None:
        self.queue.add(key_of(obj))

    def on_pod(self, _: str, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref and ref.get("kind") == "Deployment":
            self.queue.add((pod["metadata"]["namespace"], str(ref.get("name"))))

    async def reconcile(self, key: Key) -> Result:
        return Result(await self._reconcile(key))

    async def _reconcile(self, key: Key) -> float | None:
        deploy = self.deployments.get(*key)
        if deploy is None or is_terminating(deploy):
            return None
        spec = deploy.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        collisions = int((deploy.get("status") or {}).get("collisionCount") or 0)
        current = template_hash(template, collisions)
        owned = self.ctx.owned_pods(deploy)
        finished = [p for p in owned if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")]
        active = [p for p in owned if not is_terminating(p) and p not in finished]
        new = [p for p in active if (p["metadata"].get("labels") or {}).get(HASH_LABEL) == current]
        old = [p for p in active if p not in new]
        min_ready = float(spec.get("minReadySeconds") or 0)
        now = time.time()

        def available(pod: Obj) -> bool:
            return available_since(pod, min_ready, now) == 0.0

        for pod in finished:
            await self.ctx.delete_pod(pod)
        strategy = spec.get("strategy") or {}
        rolling = strategy.get("rollingUpdate") or {}
        surge = resolve_int_or_percent(rolling.get("maxSurge"), replicas, round_up=True, default="25%")
        unavailable = resolve_int_or_percent(rolling.get("maxUnavailable"), replicas, round_up=False, default="25%")
        if surge == 0 and unavailable == 0:
            unavailable = 1
        if strategy.get("type") == "Recreate":
            unavailable = replicas
            if old or any(is_terminating(p) and p not in new for p in owned):
                for pod in old:
                    await self.ctx.delete_pod(pod)
                return await self._status(deploy, replicas, active, new, old, unavailable, now)
            surge = 0
        # Scale the current template up within the surge, then old pods down while availability allows.
        room = replicas + surge - len(active)
        for _ in range(max(0, min(replicas - len(new), room))):
            pod = new_pod(
                deploy,
                template,
                labels={HASH_LABEL: current},
                node_name=self.ctx.node_name,
                generate_name=f"{key[1]}-{current}-",
            )
            new.append(await self.ctx.create_pod(pod))
        for pod in [p for p in old if not available(p)]:
            await self.ctx.delete_pod(pod)
            old.remove(pod)
        budget = sum(1 for p in new + old if available(p)) - (replicas - unavailable)
        for pod in [p for p in old if available(p)][: max(0, budget)]:
            await self.ctx.delete_pod(pod)
            old.remove(pod)
        if len(new) > replicas:
            # Scale down: unready pods first, then the youngest.
            youngest = sorted(new, key=lambda p: str(p["metadata"].get("creationTimestamp", "")), reverse=True)
            ranked = sorted(youngest, key=is_ready)
            for pod in ranked[: len(new) - replicas]:
                await self.ctx.delete_pod(pod)
                new.remove(pod)
        active = new + old
        return await self._status(deploy, replicas, active, new, old, unavailable, now)

    async def _status(
        self,
        deploy: Obj,
        replicas: int,
        active: list[Obj],
        new: list[Obj],
        old: list[Obj],
        unavailable: int,
        now: float,
    ) -> float | None:
        spec = deploy.get("spec") or {}
        min_ready = float(spec.get("minReadySeconds") or 0)
        waits = [available_since(p, min_ready, now) for p in active]
        n_available = sum(1 for w in waits if w == 0.0)
        n_ready = sum(1 for p in active if is_ready(p))
        new_available = sum(1 for p in new if available_since(p, min_ready, now) == 0.0)
        previous = deploy.get("status") or {}
        conditions = list(previous.get("conditions") or [])
        minimum = n_available >= replicas - unavailable
        conditions = set_condition(
            conditions,
            "Available",
            minimum,
            reason="MinimumReplicasAvailable" if minimum else "MinimumReplicasUnavailable",
            message=f"Deployment {'has' if minimum else 'does not have'} minimum availability.",
            update_time=True,
        )
        name = f"{deploy['metadata']['name']}-{template_hash(spec.get('template') or {})}"
        complete = len(new) == replicas and new_available == replicas and not old
        counts = {
            "replicas": len(active),
            "updatedReplicas": len(new),
            "readyReplicas": n_ready,
            "availableReplicas": n_available,
            "unavailableReplicas": max(0, replicas - n_available),
        }
        progressed = any(previous.get(k, 0) != v for k, v in counts.items())
        last = condition(deploy, "Progressing") or {}
        deadline = float(spec.get("progressDeadlineSeconds") or 600)
        since = parse_time(last.get("lastUpdateTime")) or now
        if complete:
            conditions = set_condition(
                conditions,
                "Progressing",
                True,
                reason="NewReplicaSetAvailable",
                message=f'ReplicaSet "{name}" has successfully progressed.',
                update_time=True,
            )
        elif not progressed and last.get("reason") != "NewReplicaSetAvailable" and now - since > deadline:
            conditions = set_condition(
                conditions,
                "Progressing",
                False,
                reason="ProgressDeadlineExceeded",
                message=f'ReplicaSet "{name}" has timed out progressing.',
                update_time=True,
            )
        else:
            conditions = set_condition(
                conditions,
                "Progressing",
                True,
                reason="ReplicaSetUpdated",
                message=f'ReplicaSet "{name}" is progressing.',
                update_time=True,
            )
            if progressed:
                for c in conditions:
                    if c["type"] == "Progressing":
                        c["lastUpdateTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        status: Obj = {"observedGeneration": deploy["metadata"].get("generation", 1), **counts}
        status["conditions"] = sorted(conditions, key=lambda c: str(c["type"]))
        if previous.get("collisionCount"):
            status["collisionCount"] = previous["collisionCount"]
        # Zero counts are left out, as kube's omitempty does.
        status = {k: v for k, v in status.items() if v != 0}
        await self.ctx.write_status(DEPLOYMENTS, self.deployments, deploy, status)
        pending = [w for w in waits if w]
        if pending:
            return min(w for w in pending if w is not None) + 0.1
        if not complete:
            return max(1.0, min(10.0, deadline - (now - since)))
        return None

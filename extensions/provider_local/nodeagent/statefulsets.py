"""The StatefulSet controller: pods `<set>-<ordinal>` with stable names, addresses and claims.

Each volumeClaimTemplate becomes a PersistentVolumeClaim `<template>-<set>-<ordinal>`, whose
data directory outlives the pod, scale-down and scale-up. OrderedReady sets start one pod at a
time and wait for it to be Ready; Parallel sets do not wait. Rolling updates replace pods from
the highest ordinal down to the partition, one at a time.
"""

from __future__ import annotations

import logging
import re
import time

from extensions.provider_local.nodeagent.objects import RETRY, controller_ref, is_ready, is_terminating, owner_ref
from extensions.provider_local.nodeagent.workloads import WorkloadContext, available_since, new_pod, template_hash
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError
from gardener.runtime.informer import AsyncInformer, Key
from gardener.runtime.kube import PVCS, STATEFULSETS, Obj, key_of

log = logging.getLogger("provider_local.nodeagent.statefulsets")

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


class StatefulSets:
    def __init__(self, ctx: WorkloadContext, statefulsets: AsyncInformer, pvcs: AsyncInformer) -> None:
        self.ctx = ctx
        self.statefulsets = statefulsets
        self.pvcs = pvcs
        self.queue: AsyncController[Key] = AsyncController("statefulsets", self.reconcile, backoff=RETRY)

    def on_statefulset(self, _: str, obj: Obj) -> None:
        self.queue.add(key_of(obj))

    def on_pod(self, _: str, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref and ref.get("kind") == "StatefulSet":
            self.queue.add((pod["metadata"]["namespace"], str(ref.get("name"))))

    async def reconcile(self, key: Key) -> Result:
        return Result(await self._reconcile(key))

    async def _reconcile(self, key: Key) -> float | None:
        sts = self.statefulsets.get(*key)
        if sts is None or is_terminating(sts):
            return None
        namespace, name = key
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        revision = f"{name}-{template_hash(spec.get('template') or {})}"
        parallel = spec.get("podManagementPolicy") == "Parallel"
        pattern = re.compile(rf"^{re.escape(name)}-(\d+)$")
        by_ordinal: dict[int, Obj] = {}
        for pod in self.ctx.owned_pods(sts):
            match = pattern.match(pod["metadata"]["name"])
            if match is None:
                await self.ctx.delete_pod(pod)
            else:
                by_ordinal[int(match.group(1))] = pod
        busy = False
        for ordinal in range(replicas):
            existing = by_ordinal.get(ordinal)
            if existing is None:
                await self._ensure_claims(sts, ordinal)
                by_ordinal[ordinal] = await self.ctx.create_pod(self._pod(sts, ordinal, revision))
                busy = True
            elif is_terminating(existing):
                busy = True
            elif (existing.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                await self.ctx.delete_pod(existing)
                busy = True
            elif not is_ready(existing):
                busy = True
            if busy and not parallel:
                break
        extra = sorted((o for o in by_ordinal if o >= replicas), reverse=True)
        terminating = any(is_terminating(p) for p in by_ordinal.values())
        for ordinal in extra:
            if parallel or not (busy or terminating):
                await self.ctx.delete_pod(by_ordinal[ordinal])
                terminating = True
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate" and not (busy or terminating or extra):
            partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
            for ordinal in range(replicas - 1, partition - 1, -1):
                pod = by_ordinal[ordinal]
                if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                    log.info("Updating pod", extra={"pod": f"{namespace}/{pod['metadata']['name']}"})
                    await self.ctx.delete_pod(pod)
                    break
        return await self._status(sts, replicas, revision)

    def _pod(self, sts: Obj, ordinal: int, revision: str) -> Obj:
        spec = sts.get("spec") or {}
        set_name = sts["metadata"]["name"]
        pod_name = f"{set_name}-{ordinal}"
        labels = {REVISION_LABEL: revision, POD_NAME_LABEL: pod_name, POD_INDEX_LABEL: str(ordinal)}
        pod = new_pod(sts, spec.get("template") or {}, labels=labels, node_name=self.ctx.node_name, name=pod_name)
        pod_spec = pod["spec"]
        pod_spec["hostname"] = pod_name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        claims = {
            t["metadata"]["name"]: f"{t['metadata']['name']}-{set_name}-{ordinal}"
            for t in spec.get("volumeClaimTemplates") or []
        }
        volumes = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in claims]
        volumes += [{"name": n, "persistentVolumeClaim": {"claimName": c}} for n, c in claims.items()]
        if volumes:
            pod_spec["volumes"] = volumes
        return pod

    async def _ensure_claims(self, sts: Obj, ordinal: int) -> None:
        spec = sts.get("spec") or {}
        namespace, set_name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        for template in spec.get("volumeClaimTemplates") or []:
            tm = template.get("metadata") or {}
            claim = f"{tm['name']}-{set_name}-{ordinal}"
            if self.pvcs.get(namespace, claim) is not None:
                continue
            labels = {**(tm.get("labels") or {}), **((spec.get("selector") or {}).get("matchLabels") or {})}
            metadata: Obj = {"name": claim, "namespace": namespace, "labels": labels}
            if tm.get("annotations"):
                metadata["annotations"] = dict(tm["annotations"])
            if retention.get("whenDeleted") == "Delete":
                metadata["ownerReferences"] = [owner_ref(sts)]
            body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata}
            body["spec"] = dict(template.get("spec") or {})
            try:
                await self.ctx.client.create(PVCS.path(namespace), body)
            except ApiError as exc:
                if exc.status != 409:
                    raise
            log.info("Created claim", extra={"claim": f"{namespace}/{claim}"})

    async def _status(self, sts: Obj, replicas: int, revision: str) -> float | None:
        spec = sts.get("spec") or {}
        min_ready = float(spec.get("minReadySeconds") or 0)
        now = time.time()
        pods = [p for p in self.ctx.owned_pods(sts) if not is_terminating(p)]
        waits = [available_since(p, min_ready, now) for p in pods]
        previous = sts.get("status") or {}
        revisions = [(p["metadata"].get("labels") or {}).get(REVISION_LABEL) for p in pods]
        updated = sum(1 for r in revisions if r == revision)
        current_revision = str(previous.get("currentRevision") or revision)
        if updated == replicas and len(pods) == replicas:
            current_revision = revision
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": sum(1 for p in pods if is_ready(p)),
            "availableReplicas": sum(1 for w in waits if w == 0.0),
            "currentReplicas": sum(1 for r in revisions if r == current_revision),
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": int(previous.get("collisionCount") or 0),
        }
        status = {k: v for k, v in status.items() if v != 0 or k in ("replicas", "collisionCount")}
        await self.ctx.write_status(STATEFULSETS, self.statefulsets, sts, status)
        pending = [w for w in waits if w]
        return min(w for w in pending if w is not None) + 0.1 if pending else None

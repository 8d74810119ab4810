"""The StatefulSet controller (upstream's pkg/controller/statefulset): pods with stable names and storage.

Pod `<set>-<ordinal>` carries `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and the
`controller-revision-hash` of the revision it was made from; hostname = its name, subdomain = the set's service.
Each volumeClaimTemplate becomes the claim `<template>-<set>-<ordinal>`, created before the pod and kept after it
unless `persistentVolumeClaimRetentionPolicy` says Delete (then owner references hand the claim to the garbage
collector). OrderedReady creates ordinals one at a time, each once its predecessors are Running and Ready, and
removes surplus pods from the highest ordinal down; Parallel does both at once. RollingUpdate replaces pods from
the highest ordinal down to `partition`, one at a time, each once the one before is healthy; OnDelete waits for the
user. Templates live in ControllerRevisions (`history`), pruned to `revisionHistoryLimit`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gardener.kube_controller_manager import history
from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.objects import controller_ref, is_terminating, labels_of, matches_selector, meta
from gardener.kube_controller_manager.statefulsetutil import (
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    REVISION_LABEL,
    claim_owner_refs,
    claims_for,
    created,
    healthy,
    identity_matches,
    in_range,
    name_of,
    new_pod,
    ordinal_of,
    replica_count,
    retention,
    spec_of,
    start_ordinal,
    storage_matches,
)
from gardener.kube_controller_manager.workloads import claim, is_available, is_ready, phase, uid_of, update_status
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import AlreadyExists, ApiError, NotFound
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import AsyncInformer, Key
from gardener.runtime.kube import CONTROLLERREVISIONS, PODS, PVCS, STATEFULSETS, Obj

__all__ = ["StatefulSetController", "setup"]

log = logging.getLogger("gardener.kube_controller_manager.statefulset")

ACCOUNT = "statefulset-controller"


@dataclass
class _Pass:
    """What one sync works with: the set, its revisions' view of it, and the set applied at each revision."""

    sts: Obj
    current_set: Obj
    update_set: Obj
    current_revision: str
    update_revision: str
    monotonic: bool
    now: float


class StatefulSetController:
    def __init__(self, ctx: ControllerContext, client: AsyncKube, recorder: EventRecorder) -> None:
        self.ctx = ctx
        self.client = client
        self.recorder = recorder
        self.sets: AsyncInformer = ctx.informer(STATEFULSETS)
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.revisions: AsyncInformer = ctx.informer(CONTROLLERREVISIONS)
        self.claims: AsyncInformer = ctx.informer(PVCS)
        self.controller: AsyncController[Key] = AsyncController(
            "statefulset", self.reconcile, workers=ctx.options.workers
        )
        self.sets.add_handler(lambda _kind, obj: self.controller.add((meta(obj).get("namespace", ""), name_of(obj))))
        self.pods.add_handler(self._on_pod)

    def _on_pod(self, _kind: str, pod: Obj) -> None:
        namespace = str(meta(pod).get("namespace") or "")
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") == "StatefulSet":
                self.controller.add((namespace, str(ref.get("name"))))
            return
        for sts in self.sets.items(namespace):
            if matches_selector(labels_of(pod), spec_of(sts).get("selector")):
                self.controller.add((namespace, name_of(sts)))

    def _event(self, sts: Obj, verb: str, what: str, err: ApiError | None) -> None:
        if err is None:
            self.recorder.emit(
                sts, NORMAL, f"Successful{verb.title()}", f"{verb} {what} in StatefulSet {name_of(sts)} successful"
            )
        else:
            self.recorder.emit(
                sts,
                WARNING,
                f"Failed{verb.title()}",
                f"{verb} {what} in StatefulSet {name_of(sts)} failed error: {err.message}",
            )

    async def reconcile(self, key: Key) -> Result | None:
        namespace, name = key
        cached = self.sets.get(namespace, name)
        if cached is None:
            return None
        sts = copy.deepcopy(cached)
        selector = spec_of(sts).get("selector")
        members = [
            p for p in self.pods.items(namespace) if ordinal_of(name_of(p))[0] == name or controller_ref(p) is not None
        ]
        pods = await claim(self.client, PODS, sts, members, selector=selector)
        revisions = history.sort_revisions(history.controlled(self.revisions.items(namespace), sts, selector))
        revisions = [await history.adopt(self.client, sts, r) for r in revisions]
        current, update, collisions = await self._revisions(sts, revisions)
        work = _Pass(
            sts=sts,
            current_set=history.apply_revision(sts, current),
            update_set=history.apply_revision(sts, update),
            current_revision=name_of(current),
            update_revision=name_of(update),
            monotonic=spec_of(sts).get("podManagementPolicy") != "Parallel",
            now=self.ctx.clock(),
        )
        status = await self._sync(work, pods, collisions)
        await self._truncate(sts, pods, revisions, {name_of(current), name_of(update)})
        min_ready = int(spec_of(sts).get("minReadySeconds") or 0)
        if min_ready > 0 and status.get("readyReplicas", 0) != status.get("availableReplicas", 0):
            return Result(requeue_after=float(min_ready))
        return None

    async def _revisions(self, sts: Obj, revisions: list[Obj]) -> tuple[Obj, Obj, int]:
        collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
        next_number = history.number(revisions[-1]) + 1 if revisions else 1
        template_labels = dict(((spec_of(sts).get("template") or {}).get("metadata") or {}).get("labels") or {})
        candidate = history.new_revision(
            sts,
            labels=template_labels,
            data=history.template_patch(sts),
            revision=next_number,
            collision_count=collisions,
        )
        if meta(sts).get("annotations"):
            candidate["metadata"]["annotations"] = dict(meta(sts)["annotations"])
        equal = [r for r in revisions if history.same_data(r, candidate)]
        if equal and equal[-1] is revisions[-1]:
            update = revisions[-1]
        elif equal:
            update = await history.renumber(self.client, equal[-1], next_number)
        else:
            update, collisions = await history.create_revision(self.client, sts, candidate, collisions)
        wanted = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if name_of(r) == wanted), update)
        return current, update, collisions

    async def _sync(self, work: _Pass, pods: list[Obj], collisions: int) -> Obj:
        sts = work.sts
        replicas: list[Obj | None] = [None] * replica_count(sts)
        condemned: list[Obj] = []
        for pod in pods:
            ordinal = ordinal_of(name_of(pod))[1]
            if in_range(sts, ordinal):
                replicas[ordinal - start_ordinal(sts)] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        partition = self._partition(work.current_set)
        current_replicas = int((sts.get("status") or {}).get("currentReplicas") or 0)
        members: list[Obj] = []
        for index, existing in enumerate(replicas):
            ordinal = start_ordinal(sts) + index
            if existing is not None:
                members.append(existing)
            elif self._rolling(work.current_set) and ordinal < start_ordinal(sts) + (
                partition if partition is not None else current_replicas
            ):
                members.append(new_pod(work.current_set, ordinal, work.current_revision))
            else:
                members.append(new_pod(work.update_set, ordinal, work.update_revision))
        condemned.sort(key=lambda p: -ordinal_of(name_of(p))[1])
        unhealthy = [p for p in members if not healthy(p)] + [p for p in reversed(condemned) if not healthy(p)]
        first_unhealthy = unhealthy[0] if unhealthy else None
        try:
            if not is_terminating(sts):
                await self._converge(work, members, condemned, first_unhealthy)
        finally:
            status = self._status(work, members + condemned, collisions)
            await update_status(self.client, STATEFULSETS, sts, status)
        return status

    @staticmethod
    def _rolling(sts: Mapping[str, Any]) -> bool:
        return str((spec_of(sts).get("updateStrategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"

    @staticmethod
    def _partition(sts: Mapping[str, Any]) -> int | None:
        rolling = (spec_of(sts).get("updateStrategy") or {}).get("rollingUpdate")
        return int(rolling.get("partition") or 0) if isinstance(rolling, dict) else None

    async def _converge(self, work: _Pass, members: list[Obj], condemned: list[Obj], first: Obj | None) -> None:
        errors: list[Exception] = []
        for index in range(len(members)):
            try:
                if await self._replica(work, members, index) and work.monotonic:
                    return
            except ApiError as exc:
                if work.monotonic:
                    raise
                errors.append(exc)
        for pod in condemned:
            try:
                await self._fix_claims(work.update_set, pod)
                if await self._condemned(work, pod, first) and work.monotonic:
                    return
            except ApiError as exc:
                if work.monotonic:
                    raise
                errors.append(exc)
        if errors:
            raise errors[0]
        if self._rolling(work.sts):
            await self._roll(work, members)

    async def _replica(self, work: _Pass, members: list[Obj], index: int) -> bool:
        """One pod inside the ordinal range; True when the set must wait for it."""
        sts, pod = work.sts, members[index]
        if phase(pod) in ("Failed", "Succeeded"):
            if not is_terminating(pod):
                await self._delete(sts, pod)
            return True
        if not created(pod):
            if await self._stale_claims(sts, pod):
                return True
            made = await self._create(sts, pod)
            if made is None or work.monotonic:
                return True
            members[index] = made
            return False
        if phase(pod) == "Pending":
            await self._create_claims(sts, pod)
        if work.monotonic and (
            is_terminating(pod)
            or not (phase(pod) == "Running" and is_ready(pod))
            or not is_available(pod, int(spec_of(sts).get("minReadySeconds") or 0), work.now)
        ):
            return True
        await self._fix_claims(work.update_set, pod)
        if not identity_matches(sts, pod):
            labels = {POD_NAME_LABEL: name_of(pod), POD_INDEX_LABEL: str(ordinal_of(name_of(pod))[1])}
            try:
                await self.client.patch(
                    PODS.path(meta(pod)["namespace"], name_of(pod)), {"metadata": {"labels": labels}}
                )
            except ApiError as exc:
                self._event(sts, "update", f"Pod {name_of(pod)}", exc)
                raise
            self._event(sts, "update", f"Pod {name_of(pod)}", None)
        if not storage_matches(sts, pod):
            await self._create_claims(sts, pod)
        return False

    async def _condemned(self, work: _Pass, pod: Obj, first_unhealthy: Obj | None) -> bool:
        """One pod beyond the ordinal range; True when the set must wait."""
        if is_terminating(pod):
            return work.monotonic
        min_ready = int(spec_of(work.sts).get("minReadySeconds") or 0)
        ready = phase(pod) == "Running" and is_ready(pod) and is_available(pod, min_ready, work.now)
        if work.monotonic and not ready and pod is not first_unhealthy:
            return True
        await self._delete(work.sts, pod)
        return True

    async def _roll(self, work: _Pass, members: list[Obj]) -> None:
        """Replace the highest-ordinal pod not at the update revision, down to the partition, one at a time."""
        lowest = self._partition(work.sts) or 0
        for index in range(len(members) - 1, lowest - 1, -1):
            pod = members[index]
            if labels_of(pod).get(REVISION_LABEL) != work.update_revision and not is_terminating(pod):
                log.info("Pod terminating for update", extra={"statefulset": name_of(work.sts), "pod": name_of(pod)})
                await self._delete(work.sts, pod)
                return
            if not healthy(pod):
                return

    async def _create(self, sts: Obj, pod: Obj) -> Obj | None:
        what = f"Pod {name_of(pod)}"
        try:
            await self._create_claims(sts, pod)
        except ApiError as exc:
            self._event(sts, "create", what, exc)
            raise
        try:
            made = await self.client.create(PODS.path(meta(sts)["namespace"]), pod)
        except AlreadyExists:
            return None
        except ApiError as exc:
            self._event(sts, "create", what, exc)
            raise
        await self._fix_claims(sts, made)
        self._event(sts, "create", what, None)
        return made

    async def _delete(self, sts: Obj, pod: Obj) -> None:
        what = f"Pod {name_of(pod)}"
        try:
            await self.client.request("DELETE", PODS.path(meta(pod)["namespace"], name_of(pod)))
        except NotFound:
            return
        except ApiError as exc:
            self._event(sts, "delete", what, exc)
            raise
        self._event(sts, "delete", what, None)

    async def _create_claims(self, sts: Obj, pod: Obj) -> None:
        namespace = str(meta(sts).get("namespace") or "")
        for wanted in claims_for(sts, ordinal_of(name_of(pod))[1]):
            cname = wanted["metadata"]["name"]
            existing = self.claims.get(namespace, cname)
            if existing is not None:
                if is_terminating(existing):
                    raise ApiError(409, f"pvc {cname} is being deleted")
                continue
            try:
                await self.client.create(PVCS.path(namespace), wanted)
            except AlreadyExists:
                continue
            except ApiError as exc:
                self.recorder.emit(
                    sts,
                    WARNING,
                    "FailedCreate",
                    f"create Claim {cname} for Pod {name_of(pod)} in StatefulSet {name_of(sts)} failed error: "
                    f"{exc.message}",
                )
                raise
            self.recorder.emit(
                sts,
                NORMAL,
                "SuccessfulCreate",
                f"create Claim {cname} Pod {name_of(pod)} in StatefulSet {name_of(sts)} success",
            )

    async def _stale_claims(self, sts: Obj, pod: Obj) -> bool:
        """A claim still owned by an earlier pod of this ordinal waits for the garbage collector (whenScaled=Delete)."""
        if retention(sts)[1] != "Delete":
            return False
        namespace = str(meta(sts).get("namespace") or "")
        for wanted in claims_for(sts, ordinal_of(name_of(pod))[1]):
            existing = self.claims.get(namespace, wanted["metadata"]["name"])
            for ref in meta(existing or {}).get("ownerReferences") or []:
                if ref.get("kind") == "Pod" and ref.get("name") == name_of(pod) and ref.get("uid") != uid_of(pod):
                    return True
        return False

    async def _fix_claims(self, sts: Obj, pod: Obj) -> None:
        """Owner references on the pod's claims as the retention policy wants them."""
        if not uid_of(pod):
            return
        namespace = str(meta(sts).get("namespace") or "")
        for wanted in claims_for(sts, ordinal_of(name_of(pod))[1]):
            existing = self.claims.get(namespace, wanted["metadata"]["name"])
            if existing is None:
                continue
            refs = claim_owner_refs(existing, sts, pod)
            if refs is None:
                continue
            body = {**existing, "metadata": {**meta(existing), "ownerReferences": refs}}
            try:
                await self.client.replace(PVCS.path(namespace, name_of(existing)), body)
            except ApiError as exc:
                self._event(sts, "update", f"Pod {name_of(pod)}", exc)
                raise

    def _status(self, work: _Pass, pods: list[Obj], collisions: int) -> Obj:
        sts = work.sts
        min_ready = int(spec_of(sts).get("minReadySeconds") or 0)
        existing = [p for p in pods if created(p)]
        ready = [p for p in existing if phase(p) == "Running" and is_ready(p)]
        live = [p for p in existing if not is_terminating(p)]
        counts = {
            "replicas": len(existing),
            "readyReplicas": len(ready),
            "availableReplicas": sum(1 for p in ready if is_available(p, min_ready, work.now)),
            "currentReplicas": sum(1 for p in live if labels_of(p).get(REVISION_LABEL) == work.current_revision),
            "updatedReplicas": sum(1 for p in live if labels_of(p).get(REVISION_LABEL) == work.update_revision),
        }
        current_revision = work.current_revision
        wanted = replica_count(sts)
        if self._rolling(sts) and counts["updatedReplicas"] == counts["readyReplicas"] == counts["replicas"] == wanted:
            counts["currentReplicas"] = counts["updatedReplicas"]
            current_revision = work.update_revision
        status: Obj = {
            "observedGeneration": meta(sts).get("generation") or 0,
            **counts,
            "currentRevision": current_revision,
            "updateRevision": work.update_revision,
            "collisionCount": collisions,
        }
        keep = ("replicas", "availableReplicas", "collisionCount")
        return {k: v for k, v in status.items() if v or k in keep}

    async def _truncate(self, sts: Obj, pods: list[Obj], revisions: list[Obj], live: set[str]) -> None:
        live |= {labels_of(p).get(REVISION_LABEL, "") for p in pods}
        old = [r for r in revisions if name_of(r) not in live]
        limit = spec_of(sts).get("revisionHistoryLimit")
        keep = int(limit) if isinstance(limit, int) else 10
        for revision in old[: max(len(old) - keep, 0)]:
            await history.delete_revision(self.client, revision)


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    recorder = await ctx.recorder_for(ACCOUNT)
    return [StatefulSetController(ctx, client, recorder).controller]

"""One sync of one Deployment, as upstream's sync.go, rolling.go, recreate.go and progress.go do it: find or create
the new ReplicaSet (`<deployment>-<pod-template-hash>`), move the ReplicaSets one step of the strategy, scale them
proportionally when the Deployment is resized mid-rollout or paused, clean up revisions past
revisionHistoryLimit, and write the status with its Available and Progressing conditions.

`deployment` builds a `Rollout` per reconcile; the arithmetic is `deploymentutil`'s.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gardener.kube_controller_manager import deploymentutil as du
from gardener.kube_controller_manager.objects import controller_ref, is_terminating, meta, now_rfc3339, owner_ref
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import AlreadyExists, ApiError, TemporaryError
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import AsyncInformer
from gardener.runtime.kube import DEPLOYMENTS, REPLICASETS, Obj

__all__ = ["Rollout", "old_pods_running"]

log = logging.getLogger("gardener.kube_controller_manager.deployment")

#: how long a sync waits for its own write to reach the shared cache, so the next sync does not read it stale
CACHE_WAIT = 2.0


def _quote(text: str) -> str:
    """Go's %q for the names in upstream's messages."""
    return json.dumps(text)


def _moved_past(rv: Any) -> Callable[[Obj | None], bool]:
    return lambda obj: obj is None or meta(obj).get("resourceVersion") != rv


def old_pods_running(new: Obj | None, old: Sequence[Obj], pod_map: Mapping[str, list[Obj]]) -> bool:
    """oldPodsRunning: an old ReplicaSet still counts pods, or a pod of one is not finished."""
    if du.total_status(old, "replicas") > 0:
        return True
    new_uid = meta(new).get("uid") if new is not None else None
    for uid, pods in pod_map.items():
        if uid == new_uid:
            continue
        if any((p.get("status") or {}).get("phase") not in ("Failed", "Succeeded") for p in pods):
            return True
    return False


@dataclass
class Rollout:
    """The writes of one sync; `d` is the sync's own copy of the Deployment, kept current with each write."""

    client: AsyncKube
    recorder: EventRecorder
    deployments: AsyncInformer
    sets: AsyncInformer
    d: Obj
    clock: Callable[[], float]
    #: when to look at the Deployment again for its progress deadline (None: on the next change only)
    requeue: float | None = None

    @property
    def status(self) -> Obj:
        s: Obj = self.d.setdefault("status", {})
        return s

    @property
    def name(self) -> str:
        return str(meta(self.d).get("name") or "")

    @property
    def namespace(self) -> str:
        return str(meta(self.d).get("namespace") or "")

    # ---- writes ----

    async def write_status(self) -> None:
        """UpdateStatus of the Deployment, which also carries its revision annotation (kube's status strategy keeps
        the request's annotations)."""
        m = meta(self.d)
        before = m.get("resourceVersion")
        written = await self.client.replace(DEPLOYMENTS.path(self.namespace, self.name, "status"), self.d)
        for field in ("resourceVersion", "generation"):
            if field in meta(written):
                m[field] = meta(written)[field]
        self.d["status"] = copy.deepcopy(written.get("status") or {})
        if m.get("resourceVersion") != before:
            await self.deployments.wait_for(self.namespace, self.name, _moved_past(before), CACHE_WAIT)

    async def update_rs(self, rs: Obj) -> Obj:
        m = meta(rs)
        written = await self.client.replace(REPLICASETS.path(m.get("namespace"), m.get("name")), rs)
        if meta(written).get("resourceVersion") != m.get("resourceVersion"):
            await self.sets.wait_for(
                str(m.get("namespace")), str(m.get("name")), _moved_past(m.get("resourceVersion")), CACHE_WAIT
            )
        return written

    async def scale_rs(self, rs: Obj, size: int, operation: str) -> tuple[bool, Obj]:
        """scaleReplicaSet: the new size and the replica annotations; a ScalingReplicaSet event when it resized."""
        want, ceiling = du.replicas(self.d), du.replicas(self.d) + du.max_surge(self.d)
        resize = du.replicas(rs) != size
        if not resize and not du.replicas_annotations_need_update(rs, want, ceiling):
            return False, rs
        before = du.replicas(rs)
        changed = copy.deepcopy(rs)
        changed.setdefault("spec", {})["replicas"] = size
        du.set_replicas_annotations(changed, want, ceiling)
        written = await self.update_rs(changed)
        if resize:
            message = f"Scaled {operation} replica set {meta(written).get('name')} from {before} to {size}"
            self.recorder.emit(self.d, NORMAL, "ScalingReplicaSet", message)
        return resize, written

    async def scale_and_record(self, rs: Obj, size: int) -> tuple[bool, Obj]:
        if du.replicas(rs) == size:
            return False, rs
        return await self.scale_rs(rs, size, "up" if du.replicas(rs) < size else "down")

    # ---- the new ReplicaSet ----

    def set_revision(self, value: str) -> bool:
        md = self.d.setdefault("metadata", {})
        if not isinstance(md.get("annotations"), dict):
            md["annotations"] = {}
        if md["annotations"].get(du.REVISION) == value:
            return False
        md["annotations"][du.REVISION] = value
        return True

    async def all_rss(self, rs_list: Sequence[Obj], *, create: bool) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision: (new ReplicaSet or None, all old ones)."""
        _, old = du.find_old_rss(self.d, rs_list)
        return await self.new_rs(rs_list, old, create=create), old

    async def new_rs(self, rs_list: Sequence[Obj], old: Sequence[Obj], *, create: bool) -> Obj | None:
        """getNewReplicaSet: the ReplicaSet of the current template with its revision raised past the old ones,
        created when asked to and missing."""
        d = self.d
        now = now_rfc3339()
        new_revision = str(du.max_revision(old) + 1)
        existing = du.find_new_rs(d, rs_list)
        if existing is not None:
            rs = copy.deepcopy(existing)
            changed = du.set_new_rs_annotations(d, rs, new_revision, exists=True)
            min_ready = int(du.spec(d).get("minReadySeconds") or 0)
            if changed or int(du.spec(rs).get("minReadySeconds") or 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                return await self.update_rs(rs)
            needs = self.set_revision(du.annotations_of(rs).get(du.REVISION, ""))
            if du.progress_deadline(d) is not None and du.condition(self.status, du.PROGRESSING) is None:
                message = f"Found new replica set {_quote(str(meta(rs).get('name')))}"
                du.set_condition(
                    self.status, du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS, message, now=now)
                )
                needs = True
            if needs:
                await self.write_status()
            return rs
        if not create:
            return None
        created, fresh, count = await self._create_rs(old, new_revision)
        if fresh and count > 0:
            message = f"Scaled up replica set {meta(created).get('name')} from 0 to {count}"
            self.recorder.emit(d, NORMAL, "ScalingReplicaSet", message)
        needs = self.set_revision(new_revision)
        if fresh and du.progress_deadline(d) is not None:
            message = f"Created new replica set {_quote(str(meta(created).get('name')))}"
            du.set_condition(self.status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED, message, now=now))
            needs = True
        if needs:
            await self.write_status()
        return created

    def _new_rs_object(self, old: Sequence[Obj], new_revision: str) -> Obj:
        d = self.d
        template = copy.deepcopy(du.spec(d).get("template") or {})
        pod_hash = du.compute_hash(template, self.status.get("collisionCount"))
        template_meta = template.setdefault("metadata", {})
        template_meta["labels"] = {**(template_meta.get("labels") or {}), du.HASH_LABEL: pod_hash}
        selector = copy.deepcopy(du.spec(d).get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), du.HASH_LABEL: pod_hash}
        rs_spec: Obj = {"replicas": 0, "selector": selector, "template": template}
        if du.spec(d).get("minReadySeconds"):
            rs_spec["minReadySeconds"] = du.spec(d)["minReadySeconds"]
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{self.name}-{pod_hash}",
                "namespace": self.namespace,
                "ownerReferences": [owner_ref(d)],
                "labels": dict(template_meta["labels"]),
            },
            "spec": rs_spec,
        }
        rs_spec["replicas"] = du.new_rs_new_replicas(d, [*old, rs], rs)
        du.set_new_rs_annotations(d, rs, new_revision, exists=False)
        return rs

    async def _create_rs(self, old: Sequence[Obj], new_revision: str) -> tuple[Obj, bool, int]:
        """(the ReplicaSet, whether this sync created it, its size)."""
        d = self.d
        rs = self._new_rs_object(old, new_revision)
        name = str(rs["metadata"]["name"])
        try:
            created = await self.client.create(REPLICASETS.path(self.namespace), rs)
        except AlreadyExists:
            found = await self.client.get(REPLICASETS.path(self.namespace, name))
            if found is None:
                raise TemporaryError(f"replica set {name} exists and is gone") from None
            ref = controller_ref(found) or {}
            template = du.spec(d).get("template") or {}
            if ref.get("uid") == meta(d).get("uid") and du.equal_ignore_hash(
                template, du.spec(found).get("template") or {}
            ):
                return found, False, du.replicas(rs)
            # a hash collision: the next sync hashes with a higher collisionCount
            count = int(self.status.get("collisionCount") or 0)
            self.status["collisionCount"] = count + 1
            log.info("Hash collision", extra={"deployment": self.name, "collisionCount": count + 1})
            with contextlib.suppress(ApiError):
                await self.write_status()
            raise TemporaryError(f"replica set {name} exists with another template (hash collision)") from None
        except ApiError as exc:
            causes = (exc.status_doc.get("details") or {}).get("causes") or []
            if any(isinstance(c, dict) and c.get("type") == "NamespaceTerminating" for c in causes):
                raise
            message = f"Failed to create new replica set {_quote(name)}: {exc.message or exc}"
            if du.progress_deadline(d) is not None:
                cond = du.new_condition(du.PROGRESSING, "False", du.RS_CREATE_ERROR, message, now=now_rfc3339())
                du.set_condition(self.status, cond)
                with contextlib.suppress(ApiError):
                    await self.write_status()
            self.recorder.emit(d, WARNING, du.RS_CREATE_ERROR, message)
            raise
        await self.sets.wait_for(self.namespace, name, lambda o: o is not None, CACHE_WAIT)
        return created, True, du.replicas(rs)

    # ---- strategies ----

    async def rolling(self, rs_list: Sequence[Obj]) -> None:
        """rolloutRolling: scale the new ReplicaSet up, else the old ones down, else clean up."""
        new, old = await self.all_rss(rs_list, create=True)
        assert new is not None
        all_rss: list[Obj | None] = [*old, new]
        if await self._reconcile_new(all_rss, new) or await self._reconcile_old(all_rss, du.active(old), new):
            await self.sync_rollout_status(all_rss, new)
            return
        if du.deployment_complete(self.d, self.status):
            await self.cleanup(old)
        await self.sync_rollout_status(all_rss, new)

    async def _reconcile_new(self, all_rss: Sequence[Obj | None], new: Obj) -> bool:
        want = du.replicas(self.d)
        if du.replicas(new) == want:
            return False
        if du.replicas(new) > want:
            return (await self.scale_and_record(new, want))[0]
        return (await self.scale_and_record(new, du.new_rs_new_replicas(self.d, all_rss, new)))[0]

    async def _reconcile_old(self, all_rss: Sequence[Obj | None], old: list[Obj], new: Obj) -> bool:
        """reconcileOldReplicaSets: first the unavailable pods of old ReplicaSets, then as many old pods as keep the
        minimum available."""
        if du.total_replicas(old) == 0:
            return False
        budget = du.max_scaled_down(self.d, all_rss, new)
        if budget <= 0:
            return False
        removed = 0
        try:
            updated: dict[str, Obj] = {}
            for rs, size in du.unhealthy_cleanup(old, budget):
                _, written = await self.scale_and_record(rs, size)
                updated[str(meta(rs).get("uid"))] = written
                removed += du.replicas(rs) - size
            old = [updated.get(str(meta(rs).get("uid")), rs) for rs in old]
            for rs, size in du.old_scale_down(self.d, [*old, new], old):
                await self.scale_and_record(rs, size)
                removed += du.replicas(rs) - size
        except ApiError as exc:
            log.warning(
                "Scaling down old replica sets failed", extra={"deployment": self.name, "error": str(exc)[:300]}
            )
            return False
        return removed > 0

    async def recreate(self, rs_list: Sequence[Obj], pod_map: Mapping[str, list[Obj]]) -> None:
        """rolloutRecreate: every old pod gone before the new ReplicaSet is created and scaled up."""
        new, old = await self.all_rss(rs_list, create=False)
        all_rss: list[Obj | None] = [*old, new]
        scaled = False
        for rs in du.active(old):
            scaled = (await self.scale_and_record(rs, 0))[0] or scaled
        if scaled or old_pods_running(new, old, pod_map):
            await self.sync_rollout_status(all_rss, new)
            return
        if new is None:
            new, old = await self.all_rss(rs_list, create=True)
            all_rss = [*old, new]
        assert new is not None
        await self.scale_and_record(new, du.replicas(self.d))
        if du.deployment_complete(self.d, self.status):
            await self.cleanup(old)
        await self.sync_rollout_status(all_rss, new)

    async def sync(self, rs_list: Sequence[Obj]) -> None:
        """sync: a scaling event or a paused Deployment; sizes change, the template does not roll out."""
        new, old = await self.all_rss(rs_list, create=False)
        await self.scale(new, old)
        if du.spec(self.d).get("paused"):
            await self.cleanup(old)
        await self.sync_deployment_status([*old, new], new)

    async def status_only(self, rs_list: Sequence[Obj]) -> None:
        new, old = await self.all_rss(rs_list, create=False)
        await self.sync_deployment_status([*old, new], new)

    async def is_scaling_event(self, rs_list: Sequence[Obj]) -> bool:
        """Whether an active ReplicaSet was sized for another spec.replicas (its desired-replicas annotation)."""
        new, old = await self.all_rss(rs_list, create=False)
        for rs in du.active([*old, new]):
            try:
                desired = int(du.annotations_of(rs).get(du.DESIRED_REPLICAS, ""))
            except ValueError:
                continue
            if desired != du.replicas(self.d):
                return True
        return False

    async def scale(self, new: Obj | None, old: Sequence[Obj]) -> None:
        """scale: the one active ReplicaSet takes every replica; else the old ones go when the new one is
        saturated; else every active ReplicaSet grows or shrinks in proportion."""
        d = self.d
        target = du.find_active_or_latest(new, old)
        if target is not None:
            if du.replicas(target) != du.replicas(d):
                await self.scale_and_record(target, du.replicas(d))
            return
        if du.is_saturated(d, new):
            for rs in du.active(old):
                await self.scale_and_record(rs, 0)
            return
        if du.strategy_type(d) == du.ROLLING:
            plan, operation = du.proportional_sizes(d, new, old)
            for rs, size in plan:
                await self.scale_rs(rs, size, operation)

    async def check_paused_conditions(self) -> None:
        """A Progressing=Unknown condition on pause and resume, so a pause never counts against the deadline."""
        if du.progress_deadline(self.d) is None:
            return
        cond = du.condition(self.status, du.PROGRESSING)
        if cond is not None and cond.get("reason") == du.TIMED_OUT:
            return
        marked = cond is not None and cond.get("reason") == du.PAUSED
        paused = bool(du.spec(self.d).get("paused"))
        now = now_rfc3339()
        if paused and not marked:
            new = du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED, "Deployment is paused", now=now)
        elif not paused and marked:
            new = du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED, "Deployment is resumed", now=now)
        else:
            return
        du.set_condition(self.status, new)
        await self.write_status()

    async def cleanup(self, old: Sequence[Obj]) -> None:
        """cleanupDeployment: delete the oldest revisions past revisionHistoryLimit that have no pods left."""
        limit = du.history_limit(self.d)
        if limit is None:
            return
        alive = [rs for rs in old if not is_terminating(rs)]
        surplus = len(alive) - limit
        if surplus <= 0:
            return
        for rs in du.by_revision(alive)[:surplus]:
            m = meta(rs)
            observed = int((rs.get("status") or {}).get("observedGeneration") or 0)
            if du.status_int(rs, "replicas") or du.replicas(rs) or int(m.get("generation") or 0) > observed:
                continue
            log.info("Cleaning up old replica set", extra={"deployment": self.name, "replicaset": m.get("name")})
            await self.client.delete(REPLICASETS.path(m.get("namespace"), m.get("name")))

    async def sync_deployment_status(self, all_rss: Sequence[Obj | None], new: Obj | None) -> None:
        status = du.calculate_status(all_rss, new, self.d, now=now_rfc3339())
        if du.compact(self.status) != status:
            self.d["status"] = status
            await self.write_status()

    async def sync_rollout_status(self, all_rss: Sequence[Obj | None], new: Obj | None) -> None:
        """syncRolloutStatus: the status with Progressing (created, progressing, complete or timed out) and the
        ReplicaSets' ReplicaFailure; when nothing changed, a look again at the progress deadline."""
        status, after = du.progress(self.d, all_rss, new, now=now_rfc3339(), now_ts=self.clock())
        if du.compact(self.status) == status:
            self.requeue = after
            return
        self.d["status"] = status
        await self.write_status()

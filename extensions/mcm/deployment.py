"""The MachineDeployment controller: one MachineSet per template, rolled over with the rollout arithmetic.

The newest template's MachineSet is named `<deployment>-<template hash>`; older ones are scaled down step by
step (RollingUpdate) or all at once before the new one grows (Recreate), and deleted once empty. Deleting a
MachineDeployment deletes its MachineSets first (the finalizer holds it until they are gone).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from extensions.library.reconciler import now_rfc3339
from extensions.mcm.objects import MACHINE_DEPLOYMENTS, MACHINE_SETS, is_terminating, selector_string
from extensions.mcm.rollout import SetState, max_unavailable, rolling_step, template_hash
from gardener.apis.extensions import machine as api
from gardener.runtime.controller import Key, Result
from gardener.runtime.kube import Kube, Obj, finalizer_patch, owned_by, owner_reference

log = logging.getLogger("mcm.machinedeployment")


def _int(value: Any) -> int:
    return int(value or 0)


def _created(ms: Obj) -> tuple[str, str]:
    return (str(ms["metadata"].get("creationTimestamp") or ""), ms["metadata"]["name"])


class MachineDeploymentController:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def __call__(self, key: Key) -> Result:
        return Result(self._reconcile(key))

    def _reconcile(self, key: Key) -> float | None:
        ns, name = key
        md = self.kube.get(MACHINE_DEPLOYMENTS.path(ns, name))
        if md is None:
            return None
        sets = self._sets(md)
        if is_terminating(md):
            return self._delete(md, sets)
        patch = finalizer_patch(md, api.FINALIZER, present=True)
        if patch:
            md = self.kube.patch(MACHINE_DEPLOYMENTS.path(ns, name), patch)
        spec = md.get("spec") or {}
        if spec.get("paused"):
            self._status(md, sets, None)
            return None
        new = self._ensure_new_set(md, sets)
        old = sorted((s for s in sets if s["metadata"]["uid"] != new["metadata"]["uid"]), key=_created)
        desired = _int(spec.get("replicas"))
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            self._recreate(desired, new, old)
        else:
            rolling = strategy.get("rollingUpdate") or {}
            step = rolling_step(
                desired=desired,
                max_surge=rolling.get("maxSurge"),
                max_unav=rolling.get("maxUnavailable"),
                new=self._state(new),
                old=[self._state(s) for s in old],
            )
            for ms in [new, *old]:
                if ms["metadata"]["name"] in step.scale:
                    self._scale(ms, step.scale[ms["metadata"]["name"]])
        self._cleanup(md, old)
        self._status(md, self._sets(md), new)
        return None

    # ---- sets ----

    def _sets(self, md: Obj) -> list[Obj]:
        ns = md["metadata"]["namespace"]
        selector = selector_string((md.get("spec") or {}).get("selector"))
        return [s for s in self.kube.list(MACHINE_SETS.path(ns), label_selector=selector) if owned_by(s, md)]

    @staticmethod
    def _state(ms: Obj) -> SetState:
        return SetState(
            ms["metadata"]["name"],
            _int((ms.get("spec") or {}).get("replicas")),
            _int((ms.get("status") or {}).get("availableReplicas")),
        )

    def _ensure_new_set(self, md: Obj, sets: list[Obj]) -> Obj:
        spec = md.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels.pop(api.TEMPLATE_HASH_LABEL, None)
        template.setdefault("metadata", {})["labels"] = labels
        h = template_hash(template, _int((md.get("status") or {}).get("collisionCount")))
        for ms in sets:
            if (ms["metadata"].get("labels") or {}).get(api.TEMPLATE_HASH_LABEL) == h:
                return ms
        ns, name = md["metadata"]["namespace"], md["metadata"]["name"]
        labels = {**labels, api.TEMPLATE_HASH_LABEL: h}
        template["metadata"]["labels"] = labels
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[api.TEMPLATE_HASH_LABEL] = h
        # The first set of a deployment starts at full size; a later one at zero, and the rollout grows it.
        initial = 0 if sets else _int(spec.get("replicas"))
        ms = {
            "apiVersion": api.API_VERSION,
            "kind": "MachineSet",
            "metadata": {
                "name": f"{name}-{h}",
                "namespace": ns,
                "labels": labels,
                "ownerReferences": [owner_reference(md)],
                "finalizers": [api.FINALIZER],
            },
            "spec": {
                "replicas": initial,
                "selector": selector,
                "machineClass": (template.get("spec") or {}).get("class"),
                "template": template,
                "minReadySeconds": _int(spec.get("minReadySeconds")),
            },
        }
        log.info("Creating machine set", extra={"machineDeployment": f"{ns}/{name}", "machineSet": f"{name}-{h}"})
        created: Obj = self.kube.create(MACHINE_SETS.path(ns), ms)
        return created

    def _scale(self, ms: Obj, replicas: int) -> None:
        m = ms["metadata"]
        log.info("Scaling machine set", extra={"machineSet": f"{m['namespace']}/{m['name']}", "replicas": replicas})
        self.kube.patch(MACHINE_SETS.path(m["namespace"], m["name"]), {"spec": {"replicas": replicas}})
        ms.setdefault("spec", {})["replicas"] = replicas

    def _recreate(self, desired: int, new: Obj, old: list[Obj]) -> None:
        for ms in old:
            if _int((ms.get("spec") or {}).get("replicas")):
                self._scale(ms, 0)
        if any(_int((ms.get("status") or {}).get("replicas")) for ms in old):
            return
        if _int((new.get("spec") or {}).get("replicas")) != desired:
            self._scale(new, desired)

    def _cleanup(self, md: Obj, old: list[Obj]) -> None:
        """Delete old sets that are scaled down and empty, beyond the revision history limit."""
        keep = _int((md.get("spec") or {}).get("revisionHistoryLimit"))
        empty = [
            s
            for s in old
            if not is_terminating(s)
            and _int((s.get("spec") or {}).get("replicas")) == 0
            and _int((s.get("status") or {}).get("replicas")) == 0
            and (s.get("status") or {}).get("observedGeneration") == s["metadata"].get("generation")
        ]
        for ms in empty[: max(0, len(empty) - keep)]:
            self.kube.delete(MACHINE_SETS.path(ms["metadata"]["namespace"], ms["metadata"]["name"]))

    def _delete(self, md: Obj, sets: list[Obj]) -> float | None:
        for ms in sets:
            if not is_terminating(ms):
                self.kube.delete(MACHINE_SETS.path(ms["metadata"]["namespace"], ms["metadata"]["name"]))
        if sets:
            return 2.0
        patch = finalizer_patch(md, api.FINALIZER, present=False)
        if patch:
            self.kube.patch(MACHINE_DEPLOYMENTS.path(md["metadata"]["namespace"], md["metadata"]["name"]), patch)
        return None

    # ---- status ----

    def _status(self, md: Obj, sets: list[Obj], new: Obj | None) -> None:
        spec = md.get("spec") or {}
        desired = _int(spec.get("replicas"))

        def total(field: str) -> int:
            return sum(_int((s.get("status") or {}).get(field)) for s in sets)

        new_uid = new["metadata"]["uid"] if new else None
        updated = sum(_int((s.get("status") or {}).get("replicas")) for s in sets if s["metadata"]["uid"] == new_uid)
        available = total("availableReplicas")
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        min_available = desired - max_unavailable(rolling.get("maxSurge"), rolling.get("maxUnavailable"), desired)
        complete = updated == desired and total("replicas") == desired and available >= desired
        failed = [f for s in sets for f in ((s.get("status") or {}).get("failedMachines") or [])]
        status: dict[str, Any] = {
            "observedGeneration": md["metadata"].get("generation"),
            "replicas": total("replicas"),
            "updatedReplicas": updated,
            "readyReplicas": total("readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": max(desired - available, 0),
            "failedMachines": failed or None,
        }
        old_conditions = {c["type"]: c for c in (md.get("status") or {}).get("conditions") or []}
        status["conditions"] = [
            _condition(
                old_conditions.get("Available"),
                "Available",
                available >= min_available,
                "MinimumReplicasAvailable" if available >= min_available else "MinimumReplicasUnavailable",
                f"{available} of {desired} machines available",
            ),
            _condition(
                old_conditions.get("Progressing"),
                "Progressing",
                True,
                "NewMachineSetAvailable" if complete else "MachineSetUpdated",
                "rollout complete" if complete else "rollout in progress",
            ),
        ]
        current = md.get("status") or {}
        if all(current.get(k) == v for k, v in status.items() if k != "conditions") and [
            (c["type"], c["status"], c.get("reason")) for c in current.get("conditions") or []
        ] == [(c["type"], c["status"], c.get("reason")) for c in status["conditions"]]:
            return
        m = md["metadata"]
        self.kube.patch(MACHINE_DEPLOYMENTS.path(m["namespace"], m["name"], "status"), {"status": status})


def _condition(old: dict[str, Any] | None, ctype: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
    status = "True" if ok else "False"
    now = now_rfc3339()
    changed = old is None or old.get("status") != status
    return {
        "type": ctype,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now if changed or old is None else old.get("lastTransitionTime", now),
        "reason": reason,
        "message": message,
    }

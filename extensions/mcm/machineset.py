"""The MachineSet controller: keep `spec.replicas` active Machines of the set's template.

Failed machines are deleted and replaced. When there are too many, the ones to go first are those with the
lowest `machinepriority.machine.sapcloud.io` annotation, then those not Running, then the newest.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from extensions.mcm.objects import (
    MACHINE_SETS,
    MACHINES,
    is_active,
    is_terminating,
    parse_time,
    phase_of,
    selector_string,
)
from gardener.apis.extensions import machine as api
from gardener.runtime.controller import Key, Result
from gardener.runtime.kube import Kube, Obj, finalizer_patch, owned_by, owner_reference

log = logging.getLogger("mcm.machineset")

#: how many machines one reconcile creates or deletes at most (the rest follows on the next round)
BURST = 50


def deletion_order(machines: list[Obj]) -> list[Obj]:
    """Machines in the order a scale-down removes them."""

    def rank(m: Obj) -> tuple[int, int, float]:
        priority = int((m["metadata"].get("annotations") or {}).get(api.PRIORITY_ANNOTATION) or 3)
        running = 1 if phase_of(m) == api.MachinePhase.RUNNING else 0
        created = parse_time(m["metadata"].get("creationTimestamp")) or 0.0
        return (priority, running, -created)

    return sorted(machines, key=rank)


def available(machine: Obj, min_ready: float, now: float) -> bool:
    if phase_of(machine) != api.MachinePhase.RUNNING:
        return False
    if min_ready <= 0:
        return True
    since = parse_time(((machine.get("status") or {}).get("currentStatus") or {}).get("lastUpdateTime"))
    return since is not None and now - since >= min_ready


class MachineSetController:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def __call__(self, key: Key) -> Result:
        return Result(self._reconcile(key))

    def _reconcile(self, key: Key) -> float | None:
        ns, name = key
        ms = self.kube.get(MACHINE_SETS.path(ns, name))
        if ms is None:
            return None
        machines = self._machines(ms)
        if is_terminating(ms):
            return self._delete(ms, machines)
        patch = finalizer_patch(ms, api.FINALIZER, present=True)
        if patch:
            ms = self.kube.patch(MACHINE_SETS.path(ns, name), patch)
        for m in machines:
            if phase_of(m) == api.MachinePhase.FAILED and not is_terminating(m):
                log.info("Deleting failed machine", extra={"machine": f"{ns}/{m['metadata']['name']}"})
                self.kube.delete(MACHINES.path(ns, m["metadata"]["name"]))
        active = [m for m in machines if is_active(m)]
        desired = int((ms.get("spec") or {}).get("replicas") or 0)
        diff = len(active) - desired
        if diff < 0:
            for _ in range(min(-diff, BURST)):
                self._create(ms)
        elif diff > 0:
            for m in deletion_order(active)[: min(diff, BURST)]:
                log.info("Deleting surplus machine", extra={"machine": f"{ns}/{m['metadata']['name']}"})
                self.kube.delete(MACHINES.path(ns, m["metadata"]["name"]))
        return self._status(ms, self._machines(ms))

    def _machines(self, ms: Obj) -> list[Obj]:
        ns = ms["metadata"]["namespace"]
        selector = selector_string((ms.get("spec") or {}).get("selector"))
        return [m for m in self.kube.list(MACHINES.path(ns), label_selector=selector) if owned_by(m, ms)]

    def _create(self, ms: Obj) -> None:
        spec = ms.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        meta = template.get("metadata") or {}
        machine_spec = dict(template.get("spec") or {})
        if spec.get("machineClass"):
            machine_spec["class"] = spec["machineClass"]
        ns, name = ms["metadata"]["namespace"], ms["metadata"]["name"]
        machine = {
            "apiVersion": api.API_VERSION,
            "kind": "Machine",
            "metadata": {
                "generateName": f"{name}-",
                "namespace": ns,
                "labels": dict(meta.get("labels") or {}),
                "annotations": dict(meta.get("annotations") or {}),
                "ownerReferences": [owner_reference(ms)],
                "finalizers": [api.FINALIZER],
            },
            "spec": machine_spec,
        }
        created = self.kube.create(MACHINES.path(ns), machine)
        log.info("Created machine", extra={"machineSet": f"{ns}/{name}", "machine": created["metadata"]["name"]})

    def _delete(self, ms: Obj, machines: list[Obj]) -> float | None:
        for m in machines:
            if not is_terminating(m):
                self.kube.delete(MACHINES.path(m["metadata"]["namespace"], m["metadata"]["name"]))
        if machines:
            return 2.0
        patch = finalizer_patch(ms, api.FINALIZER, present=False)
        if patch:
            self.kube.patch(MACHINE_SETS.path(ms["metadata"]["namespace"], ms["metadata"]["name"]), patch)
        return None

    def _status(self, ms: Obj, machines: list[Obj]) -> float | None:
        spec = ms.get("spec") or {}
        min_ready = float(spec.get("minReadySeconds") or 0)
        now = time.time()
        active = [m for m in machines if is_active(m)]
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        failed = [
            {
                k: v
                for k, v in {
                    "name": m["metadata"]["name"],
                    "providerID": (m.get("spec") or {}).get("providerID"),
                    "lastOperation": (m.get("status") or {}).get("lastOperation"),
                    "ownerRef": ms["metadata"]["name"],
                }.items()
                if v is not None
            }
            for m in machines
            if phase_of(m) == api.MachinePhase.FAILED
        ]
        status: dict[str, Any] = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1 for m in active if template_labels.items() <= (m["metadata"].get("labels") or {}).items()
            ),
            "readyReplicas": sum(1 for m in active if phase_of(m) == api.MachinePhase.RUNNING),
            "availableReplicas": sum(1 for m in active if available(m, min_ready, now)),
            "observedGeneration": ms["metadata"].get("generation"),
            "failedMachines": failed or None,
        }
        current = ms.get("status") or {}
        if any(current.get(k) != v for k, v in status.items()):
            m = ms["metadata"]
            self.kube.patch(MACHINE_SETS.path(m["namespace"], m["name"], "status"), {"status": status})
        waiting = status["readyReplicas"] > status["availableReplicas"]
        return min_ready if waiting else None

"""Resources of the machine API and small readers of Machine objects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gardener.apis.extensions import machine as api
from gardener.runtime.kube import Obj, Resource

MACHINE_CLASSES = Resource(api.GROUP, api.VERSION, "machineclasses", "MachineClass")
MACHINE_DEPLOYMENTS = Resource(api.GROUP, api.VERSION, "machinedeployments", "MachineDeployment")
MACHINE_SETS = Resource(api.GROUP, api.VERSION, "machinesets", "MachineSet")
MACHINES = Resource(api.GROUP, api.VERSION, "machines", "Machine")


def phase_of(machine: Obj) -> str:
    return str(((machine.get("status") or {}).get("currentStatus") or {}).get("phase") or "")


def is_terminating(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def is_active(machine: Obj) -> bool:
    """Counts toward a MachineSet's replicas: not being deleted and not failed for good."""
    return not is_terminating(machine) and phase_of(machine) != api.MachinePhase.FAILED


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """A label selector's matchLabels as a `labelSelector` query (matchExpressions are not used by MCM objects)."""
    labels = (selector or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()

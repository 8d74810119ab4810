"""Whether a Deployment or StatefulSet has rolled out, in the words a user reads in a condition.

Pure functions over API objects, shared by the components' `wait_ready` and the care controller (Gardener's
`health.CheckDeployment` and `health.CheckStatefulSet`). Zero counts may be missing from a status (omitempty).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def _counts(obj: Obj) -> tuple[int, Obj]:
    spec = obj.get("spec") or {}
    return int(spec.get("replicas", 1)), obj.get("status") or {}


def _observed(obj: Obj) -> str | None:
    generation = int((obj.get("metadata") or {}).get("generation") or 0)
    observed = int((obj.get("status") or {}).get("observedGeneration") or 0)
    if observed < generation:
        return f"observed generation {observed} is older than generation {generation}"
    return None


def deployment_problem(obj: Obj) -> str | None:
    """None when the Deployment runs exactly its wanted replicas of its current template."""
    name = f"deployment {obj['metadata']['name']}"
    if (stale := _observed(obj)) is not None:
        return f"{name}: {stale}"
    replicas, status = _counts(obj)
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    if updated < replicas:
        return f"{name}: {updated} of {replicas} replicas updated"
    if available < replicas:
        return f"{name}: {available} of {replicas} replicas available"
    if total > replicas:
        return f"{name}: {total - replicas} old replicas still running"
    return None


def statefulset_problem(obj: Obj) -> str | None:
    """None when the StatefulSet has exactly its wanted replicas, all ready and of the current revision."""
    name = f"statefulset {obj['metadata']['name']}"
    if (stale := _observed(obj)) is not None:
        return f"{name}: {stale}"
    replicas, status = _counts(obj)
    ready = int(status.get("readyReplicas") or 0)
    total = int(status.get("replicas") or 0)
    if ready < replicas:
        return f"{name}: {ready} of {replicas} replicas ready"
    if total > replicas:
        return f"{name}: {total - replicas} replicas above the wanted {replicas} still running"
    if replicas and status.get("updateRevision") and status.get("currentRevision") != status.get("updateRevision"):
        return f"{name}: rolling out revision {status.get('updateRevision')}"
    return None


def workload_problem(obj: Obj) -> str | None:
    kind = obj.get("kind")
    if kind == "Deployment":
        return deployment_problem(obj)
    if kind == "StatefulSet":
        return statefulset_problem(obj)
    raise ValueError(f"not a workload: {kind}")

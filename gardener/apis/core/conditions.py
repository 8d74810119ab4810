"""Conditions of Gardener objects, updated the way Gardener's v1beta1 helper does it.

A condition's `lastTransitionTime` moves only when its status changes, `lastUpdateTime` whenever status, reason or
message change; an update that changes nothing leaves the condition as it was, so writers can skip no-op patches.
Also the names both sides of the seed heartbeat agree on (condition types, the lease namespace).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

Condition = dict[str, Any]

TRUE = "True"
FALSE = "False"
UNKNOWN = "Unknown"

#: Seed condition kept True by the gardenlet's heartbeat, Unknown once it stops
SEED_GARDENLET_READY = "GardenletReady"
#: Seed conditions the gardenlet checks on its seed (gardenlet/seedcare.py); Unknown with GardenletReady
SEED_EXTENSIONS_READY = "ExtensionsReady"
SEED_SYSTEM_COMPONENTS_HEALTHY = "SeedSystemComponentsHealthy"
SEED_BACKUP_BUCKETS_READY = "BackupBucketsReady"
SEED_GARDENLET_CHECKED = (SEED_EXTENSIONS_READY, SEED_SYSTEM_COMPONENTS_HEALTHY, SEED_BACKUP_BUCKETS_READY)

SHOOT_API_SERVER_AVAILABLE = "APIServerAvailable"
SHOOT_CONTROL_PLANE_HEALTHY = "ControlPlaneHealthy"
SHOOT_OBSERVABILITY_COMPONENTS_HEALTHY = "ObservabilityComponentsHealthy"
SHOOT_EVERY_NODE_READY = "EveryNodeReady"
SHOOT_SYSTEM_COMPONENTS_HEALTHY = "SystemComponentsHealthy"
SHOOT_CONDITIONS = (
    SHOOT_API_SERVER_AVAILABLE,
    SHOOT_CONTROL_PLANE_HEALTHY,
    SHOOT_OBSERVABILITY_COMPONENTS_HEALTHY,
    SHOOT_EVERY_NODE_READY,
    SHOOT_SYSTEM_COMPONENTS_HEALTHY,
)
SHOOT_HIBERNATION_POSSIBLE = "HibernationPossible"
SHOOT_MAINTENANCE_PRECONDITIONS_SATISFIED = "MaintenancePreconditionsSatisfied"
SHOOT_CONSTRAINTS = (SHOOT_HIBERNATION_POSSIBLE, SHOOT_MAINTENANCE_PRECONDITIONS_SATISFIED)

#: where gardenlets renew one Lease per seed, named like the seed
SEED_LEASE_NAMESPACE = "gardener-system-seed-lease"


def format_time(when: dt.datetime) -> str:
    """metav1.Time: RFC 3339 in UTC with seconds precision."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(when: dt.datetime) -> str:
    """metav1.MicroTime (Lease renewTime): RFC 3339 in UTC with microseconds."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> dt.datetime | None:
    """A metav1.Time or MicroTime as an aware datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def get_condition(conditions: Iterable[Any] | None, ctype: str) -> Condition | None:
    for condition in conditions or ():
        if isinstance(condition, dict) and condition.get("type") == ctype:
            return condition
    return None


def updated_condition(
    old: Condition | None, *, ctype: str, status: str, reason: str, message: str, now: dt.datetime
) -> Condition:
    """The condition after setting status, reason and message; equal to `old` when nothing changed."""
    stamp = format_time(now)
    if old is None:
        return {
            "type": ctype,
            "status": status,
            "lastTransitionTime": stamp,
            "lastUpdateTime": stamp,
            "reason": reason,
            "message": message,
        }
    new = dict(old)
    new.update(type=ctype, status=status, reason=reason, message=message)
    if old.get("status") != status:
        new["lastTransitionTime"] = stamp
    if (old.get("status"), old.get("reason"), old.get("message")) != (status, reason, message):
        new["lastUpdateTime"] = stamp
    new.setdefault("lastTransitionTime", stamp)
    new.setdefault("lastUpdateTime", stamp)
    return new


def merge_conditions(conditions: Iterable[Any] | None, *updates: Condition) -> list[Condition]:
    """`conditions` with each update replacing the condition of its type, or appended; order is kept."""
    merged: list[Condition] = [c for c in conditions or () if isinstance(c, dict)]
    for update in updates:
        for i, condition in enumerate(merged):
            if condition.get("type") == update["type"]:
                merged[i] = update
                break
        else:
            merged.append(update)
    return merged

"""Graceful deletion: whether a deleted pod lingers and until when, as kube's BeforeDelete and pod strategy decide.

Pods are the one built-in kind with a graceful delete strategy (kube's `CheckGracefulDelete`): a pod bound to a
node and not yet Succeeded or Failed gets a `deletionTimestamp` its grace period ahead (the request's
`gracePeriodSeconds`, else `spec.terminationGracePeriodSeconds`) and stays until a delete with grace 0 removes
it, which is what its kubelet sends once the containers have stopped. A later delete may shorten the grace
period, never lengthen it. Unbound and finished pods go at once. `rest.ObjectStore.delete` applies the plan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

#: pod phases whose containers have all stopped for good
_TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True)
class GracePlan:
    """What a delete does to a pod: `pending` when a running graceful deletion stays as it is (no shorter grace
    asked for), else the `deletionTimestamp` and `deletionGracePeriodSeconds` to set (`first`: none was set)."""

    pending: bool = False
    timestamp: str = ""
    grace: int = 0
    first: bool = False

    def mark(self, metadata: dict[str, Any]) -> None:
        metadata["deletionTimestamp"] = self.timestamp
        metadata["deletionGracePeriodSeconds"] = self.grace
        generation = metadata.get("generation")
        if self.first and isinstance(generation, int) and generation > 0:
            # kube bumps the generation when graceful deletion starts: controllers of the object see the change
            metadata["generation"] = generation + 1


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _format(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_grace(pod: dict[str, Any], options: dict[str, Any], *, now: dt.datetime) -> GracePlan | None:
    """kube's BeforeDelete for a pod; None when it goes without grace (a graceful deletion at 0 s already ran)."""
    metadata = pod.get("metadata") or {}
    asked = _int(options.get("gracePeriodSeconds"))
    if asked is not None and asked < 0:
        asked = 1  # kube treats a negative grace period as 1 s
    if metadata.get("deletionTimestamp"):
        current = _int(metadata.get("deletionGracePeriodSeconds"))
        if not current:
            return None
        current = max(current, 1)
        if asked is None or asked >= current:
            return GracePlan(pending=True)
        started = dt.datetime.fromisoformat(str(metadata["deletionTimestamp"]).replace("Z", "+00:00"))
        return GracePlan(timestamp=_format(started + dt.timedelta(seconds=asked - current)), grace=asked)
    spec = pod.get("spec") or {}
    period = asked if asked is not None else (_int(spec.get("terminationGracePeriodSeconds")) or 0)
    if not spec.get("nodeName") or (pod.get("status") or {}).get("phase") in _TERMINAL:
        period = 0
    if period < 0:
        period = 1
    return GracePlan(timestamp=_format(now + dt.timedelta(seconds=period)), grace=period, first=True)

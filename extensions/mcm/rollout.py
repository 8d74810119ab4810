"""The arithmetic of MachineDeployments, as in Kubernetes Deployments (and MCM, which follows them).

Pure functions over numbers, so the rules can be tested on their own: maxSurge rounds up, maxUnavailable
rounds down, both zero means one may be unavailable; a rolling update first grows the new MachineSet up to
`replicas + maxSurge`, then shrinks old sets, unavailable machines first, while at least
`replicas - maxUnavailable` stay available.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IntOrPercent = int | str | None


def resolve(value: IntOrPercent, total: int, *, round_up: bool, default: int = 1) -> int:
    """An absolute number from an int or a percentage of `total`."""
    if value is None:
        return default
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.endswith("%"):
        scaled = int(text[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(text)


def fenceposts(max_surge: IntOrPercent, max_unavailable: IntOrPercent, replicas: int) -> tuple[int, int]:
    """(surge, unavailable) for `replicas`; never both zero, so a rollout can always move."""
    surge = resolve(max_surge, replicas, round_up=True)
    unavailable = resolve(max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(max_surge: IntOrPercent, max_unav: IntOrPercent, replicas: int) -> int:
    if replicas == 0:
        return 0
    return min(fenceposts(max_surge, max_unav, replicas)[1], replicas)


@dataclass(frozen=True)
class SetState:
    """One MachineSet as the rollout sees it: desired replicas and how many of its machines are available."""

    name: str
    replicas: int
    available: int


@dataclass(frozen=True)
class Step:
    """What one rollout step changes: new replicas per MachineSet name (only those that change)."""

    scale: Mapping[str, int]

    @property
    def idle(self) -> bool:
        return not self.scale


def new_set_replicas(*, desired: int, surge: int, total: int, new: int) -> int:
    """Replicas of the new set: grow toward `desired` while all sets together stay within desired + surge."""
    limit = desired + surge
    if total >= limit:
        return new
    return new + max(0, min(limit - total, desired - new))


def rolling_step(
    *, desired: int, max_surge: IntOrPercent, max_unav: IntOrPercent, new: SetState, old: Sequence[SetState]
) -> Step:
    """One step of a rolling update; `old` oldest first. Scaling up the new set comes first, alone."""
    surge, _ = fenceposts(max_surge, max_unav, desired)
    total = new.replicas + sum(s.replicas for s in old)
    if new.replicas > desired:
        return Step({new.name: desired})
    grown = new_set_replicas(desired=desired, surge=surge, total=total, new=new.replicas)
    if grown != new.replicas:
        return Step({new.name: grown})
    if sum(s.replicas for s in old) == 0:
        return Step({})
    min_available = desired - max_unavailable(max_surge, max_unav, desired)
    new_unavailable = new.replicas - new.available
    budget = total - min_available - new_unavailable
    if budget <= 0:
        return Step({})
    scale: dict[str, int] = {}
    current = {s.name: s.replicas for s in old}
    # First drop machines of old sets that are not available anyway: that costs no availability.
    cleaned = 0
    for s in old:
        if cleaned >= budget:
            break
        unhealthy = current[s.name] - s.available
        if current[s.name] == 0 or unhealthy <= 0:
            continue
        down = min(budget - cleaned, unhealthy)
        current[s.name] -= down
        scale[s.name] = current[s.name]
        cleaned += down
    # Then shrink old sets as far as the available machines above the minimum allow.
    available = new.available + sum(s.available for s in old)
    allowed = available - min_available
    done = 0
    for s in old:
        if done >= allowed:
            break
        if current[s.name] == 0:
            continue
        down = min(current[s.name], allowed - done)
        current[s.name] -= down
        scale[s.name] = current[s.name]
        done += down
    return Step(scale)


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """A short, stable name suffix for a machine template (the `machine-template-hash` label's value)."""
    material = json.dumps({"template": template, "collisions": collision_count}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:10]

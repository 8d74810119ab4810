"""Worker helpers every provider's Worker actuator shares: spreading a pool over zones, hashing a pool.

Gardener spreads a pool's minimum, maximum, maxSurge and maxUnavailable over its zones so that the first
zones get one more when the numbers do not divide evenly; one MachineDeployment per zone gets its share.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

IntOrPercent = int | str


def distribute_over_zones(zone_index: int, size: int, zones: int) -> int:
    """The share of `size` for the zone at `zone_index` of `zones`: the first `size % zones` zones get one more."""
    if zones <= 0:
        raise ValueError("zones must be positive")
    return size // zones + (1 if zone_index < size % zones else 0)


def _percent(value: str) -> int:
    if not value.endswith("%"):
        raise ValueError(f"{value!r} is neither an integer nor a percentage")
    return int(value[:-1])


def distribute_percent_over_zones(zone_index: int, percent: str, zones: int, total: int) -> str:
    """A percentage of `total` for one zone, weighted by the zone's share of `total`."""
    value = _percent(percent)
    if total == 0:
        return percent
    share = distribute_over_zones(zone_index, total, zones)
    return f"{value * share * zones // total}%"


def distribute_int_or_percent(zone_index: int, value: IntOrPercent, zones: int, total: int) -> IntOrPercent:
    """An absolute number is spread over the zones; a percentage stays one (weighted by the zone's share)."""
    if isinstance(value, str) and not value.isdigit():
        return distribute_percent_over_zones(zone_index, value, zones, total)
    return distribute_over_zones(zone_index, int(value), zones)


def deployment_replicas(*, minimum: int, maximum: int, existing: int | None, hibernated: bool = False) -> int:
    """Replicas of a zone's MachineDeployment: kept where an autoscaler left them, but within [minimum, maximum]."""
    if hibernated:
        return 0
    if existing is None or existing == 0:
        return minimum
    return max(minimum, min(maximum, existing))


def pool_hash(pool: dict[str, Any], *extra: Any) -> str:
    """A short hash of what must roll a pool's machines when it changes (type, image, version, volume, config)."""
    keys = ("machineType", "machineImage", "kubernetesVersion", "volume", "dataVolumes", "providerConfig")
    material = {k: pool.get(k) for k in keys}
    material["nodeAgentSecretName"] = pool.get("nodeAgentSecretName")
    material["extra"] = list(extra)
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:5]

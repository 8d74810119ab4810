"""A pod's resource requests as the scheduler counts them, in kube's integer units.

The scheduler never compares quantities as strings: it turns them into integers once per pod (CPU in
millicores, memory and storage in bytes, rounded up as `resource.Quantity.MilliValue()/Value()` do) and sums
them per node. A pod's request is kube's `resourcehelper.PodRequests` of 1.32: the containers' sum, at least the
largest init container (restartable "sidecar" init containers count for every later init container and for
the pod's whole life), plus the RuntimeClass overhead. The "non-zero" variant fills a missing CPU or memory
request of a container with kube's defaults (100m, 200Mi) so that request-less pods still spread.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from gardener.apis.core.formats import parse_quantity

__all__ = [
    "CPU",
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "EPHEMERAL_STORAGE",
    "MEMORY",
    "PODS",
    "Resources",
    "add_into",
    "allocatable",
    "is_scalar",
    "pod_requests",
]

CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"
#: kube's schedutil.DefaultMilliCPURequest and DefaultMemoryRequest
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

#: resource name -> integer amount (CPU in millicores)
Resources = dict[str, int]


def is_scalar(name: str) -> bool:
    """kube's IsScalarResourceName: extended (`example.com/gpu`), hugepages, attachable volumes, prefixed native."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    if "kubernetes.io/" in name:
        return True
    return "/" in name and not name.startswith("requests.")


def _amount(name: str, value: Any) -> int | None:
    q = parse_quantity(value)
    if q is None:
        return None
    return math.ceil(q * 1000) if name == CPU else math.ceil(q)


def _counted(name: str) -> bool:
    return name in (CPU, MEMORY, EPHEMERAL_STORAGE, PODS) or is_scalar(name)


def parse_list(resources: Mapping[str, Any] | None) -> Resources:
    """A ResourceList (`{"cpu": "500m"}`) as integers; names the scheduler does not count are left out."""
    out: Resources = {}
    for name, value in (resources or {}).items():
        if not _counted(name):
            continue
        amount = _amount(name, value)
        if amount is not None:
            out[name] = amount
    return out


def add_into(total: Resources, more: Mapping[str, int], sign: int = 1) -> None:
    for name, amount in more.items():
        total[name] = total.get(name, 0) + sign * amount


def _max_into(total: Resources, other: Mapping[str, int]) -> None:
    for name, amount in other.items():
        if amount > total.get(name, 0):
            total[name] = amount


def _container_requests(container: Mapping[str, Any], *, non_zero: bool) -> Resources:
    requests = parse_list((container.get("resources") or {}).get("requests"))
    if non_zero:
        requests.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
        requests.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return requests


def pod_requests(spec: Mapping[str, Any], *, non_zero: bool = False) -> Resources:
    """kube's PodRequests of a pod spec (init-container maximum, sidecars, overhead)."""
    total: Resources = {}
    for container in _containers(spec.get("containers")):
        add_into(total, _container_requests(container, non_zero=non_zero))
    sidecars: Resources = {}
    init_max: Resources = {}
    for container in _containers(spec.get("initContainers")):
        requests = _container_requests(container, non_zero=non_zero)
        if container.get("restartPolicy") == "Always":
            add_into(total, requests)
            add_into(sidecars, requests)
            effective = dict(sidecars)
        else:
            effective = dict(requests)
            add_into(effective, sidecars)
        _max_into(init_max, effective)
    _max_into(total, init_max)
    add_into(total, parse_list(spec.get("overhead")))
    return total


def allocatable(node: Mapping[str, Any]) -> Resources:
    """A Node's status.allocatable as integers."""
    return parse_list((node.get("status") or {}).get("allocatable"))


def _containers(value: Any) -> Iterable[Mapping[str, Any]]:
    return [c for c in value or [] if isinstance(c, Mapping)]

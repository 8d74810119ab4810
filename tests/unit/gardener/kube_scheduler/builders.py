"""Plain Node and Pod dicts for the scheduler's unit tests, and a cache holding them."""

from __future__ import annotations

import itertools
from typing import Any

from gardener.kube_scheduler.cache import Cache, PodInfo

_uids = itertools.count()


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, Any]] | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    resources = {"cpu": cpu, "memory": memory, "pods": pods}
    spec: dict[str, Any] = {"taints": taints or []}
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {"capacity": resources, "allocatable": resources},
    }


def pod(
    name: str,
    *,
    namespace: str = "default",
    cpu: str | None = None,
    memory: str | None = None,
    labels: dict[str, str] | None = None,
    node_name: str = "",
    priority: int = 0,
    **spec: Any,
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: dict[str, Any] = {"name": "c", "image": "pause"}
    if requests:
        container["resources"] = {"requests": requests}
    full_spec: dict[str, Any] = {"containers": [container], "priority": priority, **spec}
    if node_name:
        full_spec["nodeName"] = node_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{next(_uids)}", "labels": labels or {}},
        "spec": full_spec,
        "status": {"phase": "Pending"},
    }


def cache(*nodes: dict[str, Any], pods: tuple[dict[str, Any], ...] = ()) -> Cache:
    """A cache with the nodes and the (bound) pods."""
    c = Cache()
    for n in nodes:
        c.add_node(n)
    for p in pods:
        c.add_pod(PodInfo.of(p))
    return c

"""kube's LimitRanger: a namespace's LimitRanges fill in containers' default requests and limits (mutating)
and bound what containers and pods may ask for (validating), with kube's messages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gardener.apiserver.builtin.admission.common import (
    all_containers,
    forbidden,
    is_pod_create,
    list_objects,
    pod_requests_and_limits,
    quantity,
)
from gardener.apiserver.controllers.informer import LocalIndex
from gardener.apiserver.rest import AdmissionRequest, ObjectStore

ANNOTATION = "kubernetes.io/limit-ranger"
CONTAINER = "Container"
POD = "Pod"


class LimitRanger:
    def __init__(self, *, store: ObjectStore, ranges: LocalIndex[dict[str, Any]] | None = None) -> None:
        self._store = store
        #: the LimitRanges as the event window has them (kube's informer cache); None reads storage every time
        self._ranges = ranges

    async def _items(self, namespace: str) -> list[dict[str, Any]]:
        cached = self._ranges.namespace(namespace) if self._ranges is not None else None
        if cached is not None:
            ranges = list(cached.values())
        else:
            ranges = await list_objects(self._store, group="", plural="limitranges", namespace=namespace)
        return [
            item
            for lr in sorted(ranges, key=lambda lr: lr["metadata"]["name"])
            for item in (lr.get("spec") or {}).get("limits") or []
            if isinstance(item, dict)
        ]

    async def admit(self, req: AdmissionRequest) -> None:
        if not is_pod_create(req) or req.obj is None:
            return
        items = [i for i in await self._items(req.namespace) if i.get("type") == CONTAINER]
        if not items:
            return
        requests: dict[str, Any] = {}
        limits: dict[str, Any] = {}
        for item in items:
            requests.update(item.get("defaultRequest") or {})
            limits.update(item.get("default") or {})
        spec = req.obj.get("spec") or {}
        notes: list[str] = []
        for key, what in (("containers", "container"), ("initContainers", "init container")):
            for container in spec.get(key) or []:
                if isinstance(container, dict):
                    notes += _merge(container, requests=requests, limits=limits, what=what)
        if notes:
            metadata = req.obj.setdefault("metadata", {})
            annotations = metadata.get("annotations")
            if not isinstance(annotations, dict):
                annotations = metadata["annotations"] = {}
            annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)

    async def validate(self, req: AdmissionRequest) -> None:
        if not is_pod_create(req) or req.obj is None:
            return
        problems: list[str] = []
        for item in await self._items(req.namespace):
            if item.get("type") == CONTAINER:
                for container in all_containers(req.obj):
                    resources = container.get("resources") or {}
                    problems += _check(
                        item,
                        limit_type=CONTAINER,
                        requests=resources.get("requests") or {},
                        limits=resources.get("limits") or {},
                    )
            elif item.get("type") == POD:
                requests, limits = pod_requests_and_limits(req.obj)
                problems += _check(item, limit_type=POD, requests=requests, limits=limits)
        if problems:
            raise forbidden(req, problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")


def _merge(container: dict[str, Any], *, requests: dict[str, Any], limits: dict[str, Any], what: str) -> list[str]:
    resources = container.get("resources")
    if not isinstance(resources, dict):
        resources = container["resources"] = {}
    notes = []
    for field, defaults, word in (("requests", requests, "request"), ("limits", limits, "limit")):
        current = resources.get(field)
        if not isinstance(current, dict):
            current = {}
        added = sorted(k for k in defaults if k not in current)
        if added:
            current.update({k: defaults[k] for k in added})
            resources[field] = current
            notes.append(f"{', '.join(added)} {word} for {what} {container.get('name', '')}")
    return notes


def _check(item: dict[str, Any], *, limit_type: str, requests: dict[str, Any], limits: dict[str, Any]) -> list[str]:
    problems = []
    for name, bound in sorted((item.get("min") or {}).items()):
        if name not in requests:
            problems.append(f"minimum {name} usage per {limit_type} is {bound}.  No request is specified")
        elif quantity(requests[name]) < quantity(bound):
            problems.append(f"minimum {name} usage per {limit_type} is {bound}, but request is {requests[name]}")
    for name, bound in sorted((item.get("max") or {}).items()):
        if name not in limits:
            problems.append(f"maximum {name} usage per {limit_type} is {bound}.  No limit is specified")
        elif quantity(limits[name]) > quantity(bound):
            problems.append(f"maximum {name} usage per {limit_type} is {bound}, but limit is {limits[name]}")
    for name, bound in sorted((item.get("maxLimitRequestRatio") or {}).items()):
        if name not in limits or name not in requests:
            continue
        request = quantity(requests[name])
        ratio = quantity(limits[name]) / request if request else Decimal(0)
        if request and ratio > quantity(bound):
            problems.append(
                f"{name} max limit to request ratio per {limit_type} is {bound}, but provided ratio is {ratio:.6f}"
            )
    return problems

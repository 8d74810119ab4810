"""What the admission plugins share: reading objects of other kinds, kube's Forbidden answer, quantities."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gardener.apis.core.formats import parse_quantity
from gardener.apiserver import errors
from gardener.apiserver.errors import StatusError
from gardener.apiserver.rest import AdmissionRequest, ObjectStore


def is_kind(req: AdmissionRequest, *, group: str, plural: str) -> bool:
    return req.info.group == group and req.info.plural == plural


def is_pod_create(req: AdmissionRequest) -> bool:
    return is_kind(req, group="", plural="pods") and req.operation == "CREATE" and req.subresource == ""


def forbidden(req: AdmissionRequest, why: str) -> StatusError:
    """kube's admission.NewForbidden: `pods "x" is forbidden: <why>`."""
    source = req.obj if req.obj is not None else req.old
    name = str(((source or {}).get("metadata") or {}).get("name") or req.name)
    return errors.forbidden_object(resource=req.info.plural, group=req.info.group, name=name, why=why)


async def get_object(
    store: ObjectStore, *, group: str, plural: str, namespace: str, name: str
) -> dict[str, Any] | None:
    """The stored object, or None (also when this server does not serve the kind)."""
    info = _info(store, group=group, plural=plural)
    if info is None:
        return None
    stored = await store.backend.get(info.key(namespace, name))
    return store.decode(stored) if stored is not None else None


async def list_objects(store: ObjectStore, *, group: str, plural: str, namespace: str = "") -> list[dict[str, Any]]:
    info = _info(store, group=group, plural=plural)
    if info is None:
        return []
    _, items, _ = await store.list_objects(info, namespace)
    return items


def _info(store: ObjectStore, *, group: str, plural: str) -> Any:
    version = store.registry.preferred_version(group)
    return store.registry.get(group, version, plural) or store.registry.get(group, "v1", plural)


def all_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod.get("spec") or {}
    return [c for key in ("initContainers", "containers") for c in (spec.get(key) or []) if isinstance(c, dict)]


def quantity(value: Any) -> Decimal:
    parsed = parse_quantity(value)
    return parsed if parsed is not None else Decimal(0)


def pod_requests_and_limits(pod: dict[str, Any]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """A pod's requests and limits: the sum over its containers, or its largest init container's if that is
    more (kube's PodRequests/PodLimits, as LimitRanger and ResourceQuota both charge them)."""
    spec = pod.get("spec") or {}
    result: tuple[dict[str, Decimal], dict[str, Decimal]] = ({}, {})
    for index, field in enumerate(("requests", "limits")):
        total: dict[str, Decimal] = {}
        for container in spec.get("containers") or []:
            for name, value in ((container.get("resources") or {}).get(field) or {}).items():
                total[name] = total.get(name, Decimal(0)) + quantity(value)
        for container in spec.get("initContainers") or []:
            for name, value in ((container.get("resources") or {}).get(field) or {}).items():
                total[name] = max(total.get(name, Decimal(0)), quantity(value))
        result[index].update(total)
    return result


def format_quantity(value: Decimal, *, binary: bool = False) -> str:
    """A sum as kube prints quantities: whole numbers plain, fractions in milli, memory in binary units."""
    if value == value.to_integral_value():
        whole = int(value)
        if binary and whole:
            for suffix, power in (("Ei", 6), ("Pi", 5), ("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1)):
                unit = 1024**power
                if whole % unit == 0:
                    return f"{whole // unit}{suffix}"
            for suffix, power in (("E", 18), ("P", 15), ("T", 12), ("G", 9), ("M", 6), ("k", 3)):
                unit = 10**power
                if whole % unit == 0:
                    return f"{whole // unit}{suffix}"
        return str(whole)
    milli = value * 1000
    if milli == milli.to_integral_value():
        return f"{int(milli)}m"
    return format(value.normalize(), "f")

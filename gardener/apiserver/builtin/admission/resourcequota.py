"""kube's ResourceQuota admission: a create (or a growing update) that would take a namespace past one of
its quotas is refused with kube's message; an admitted one is charged to `status.used` at once, so two
concurrent requests cannot both spend the last unit (the quota's resourceVersion is the lock).

`usage` is shared with `gardener.apiserver.controllers.resourcequota`, which recomputes `status.used`
from what exists (kube-controller-manager's job, which no process does for the garden).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gardener.apiserver.builtin.admission.common import (
    all_containers,
    forbidden,
    format_quantity,
    pod_requests_and_limits,
    quantity,
)
from gardener.apiserver.controllers.informer import LocalIndex
from gardener.apiserver.rest import AdmissionRequest, ObjectStore
from gardener.apiserver.storage.interface import KeyNotFound, RevisionMismatch

#: plain names kube counts besides `count/<resource>`
_PLAIN_COUNTS = {
    "pods": "pods",
    "services": "services",
    "configmaps": "configmaps",
    "secrets": "secrets",
    "persistentvolumeclaims": "persistentvolumeclaims",
    "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas",
}
#: what kube's quota system never counts (its ignoredResources): events of either API group
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
_BINARY = ("memory", "storage", "ephemeral-storage")
_RETRIES = 8


def is_binary(resource: str) -> bool:
    return resource.endswith(_BINARY)


def usage(obj: dict[str, Any], *, group: str, plural: str) -> dict[str, Decimal]:
    """What one object counts against quotas, by quota resource name."""
    used: dict[str, Decimal] = {}
    if (group, plural) in IGNORED:
        return used
    if group == "" and plural == "pods" and (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return used
    used[f"count/{plural}.{group}" if group else f"count/{plural}"] = Decimal(1)
    if group == "" and plural in _PLAIN_COUNTS:
        used[_PLAIN_COUNTS[plural]] = Decimal(1)
    spec = obj.get("spec") or {}
    if group == "" and plural == "pods":
        requests, limits = pod_requests_and_limits(obj)
        for name in _COMPUTE:
            if name in requests:
                used[f"requests.{name}"] = used[name] = requests[name]
            if name in limits:
                used[f"limits.{name}"] = limits[name]
    elif group == "" and plural == "services":
        kind = spec.get("type", "ClusterIP")
        if kind in ("NodePort", "LoadBalancer"):
            used["services.nodeports"] = Decimal(len([p for p in spec.get("ports") or [] if isinstance(p, dict)]))
        if kind == "LoadBalancer":
            used["services.loadbalancers"] = Decimal(1)
    elif group == "" and plural == "persistentvolumeclaims":
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        if storage is not None:
            used["requests.storage"] = quantity(storage)
            if spec.get("storageClassName"):
                cls = spec["storageClassName"]
                used[f"{cls}.storageclass.storage.k8s.io/requests.storage"] = quantity(storage)
                used[f"{cls}.storageclass.storage.k8s.io/persistentvolumeclaims"] = Decimal(1)
    return used


#: quota names that oblige every container to say what it needs (kube keeps this for compatibility)
_REQUIRED_PER_CONTAINER = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})


def missing_compute(pod: dict[str, Any], hard: set[str]) -> str:
    """'' when every container states the compute resources the quota tracks, else kube's list of what
    each container leaves out (`limits.cpu for: a,b; requests.memory for: a`)."""
    required = hard & _REQUIRED_PER_CONTAINER
    missing: dict[str, set[str]] = {}
    for container in all_containers(pod):
        resources = container.get("resources") or {}
        stated = {f"limits.{k}" for k in resources.get("limits") or {}}
        for k in resources.get("requests") or {}:
            stated |= {k, f"requests.{k}"}
        for name in required - stated:
            missing.setdefault(name, set()).add(str(container.get("name") or ""))
    return "; ".join(f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing))


def scope_matches(quota: dict[str, Any], obj: dict[str, Any], *, group: str, plural: str) -> bool:
    """kube's four simple scopes; a quota with a scopeSelector is left to what this server does not do yet."""
    spec = quota.get("spec") or {}
    if spec.get("scopeSelector"):
        return False
    scopes = spec.get("scopes") or []
    if not scopes:
        return True
    if not (group == "" and plural == "pods"):
        return False
    pod_spec = obj.get("spec") or {}
    terminating = pod_spec.get("activeDeadlineSeconds") is not None
    best_effort = not any(
        (c.get("resources") or {}).get("requests") or (c.get("resources") or {}).get("limits")
        for c in all_containers(obj)
    )
    checks = {
        "Terminating": terminating,
        "NotTerminating": not terminating,
        "BestEffort": best_effort,
        "NotBestEffort": not best_effort,
    }
    return all(checks.get(scope, False) for scope in scopes)


def render(values: dict[str, Decimal]) -> str:
    return ",".join(f"{k}={format_quantity(v, binary=is_binary(k))}" for k, v in sorted(values.items()))


@dataclass
class _NamespaceLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: requests holding or waiting for `lock`; the entry goes when none is left
    holders: int = 0


class ResourceQuotaAdmission:
    def __init__(
        self,
        *,
        store: ObjectStore,
        recount: Callable[[str], Awaitable[None]] | None = None,
        quotas: LocalIndex[dict[str, Any]] | None = None,
    ) -> None:
        self._store = store
        #: asks for a namespace's usage to be counted again, when a charged write failed after all
        self._recount = recount
        #: the quotas as the event window has them (kube's informer cache); None reads storage every time
        self._quotas = quotas
        #: namespace -> its charging lock, while a request holds or waits for it
        self._locks: dict[str, _NamespaceLock] = {}

    async def __call__(self, req: AdmissionRequest) -> None:
        if req.subresource or req.obj is None or req.operation not in ("CREATE", "UPDATE") or not req.namespace:
            return
        if not req.info.namespaced:
            return
        cached = self._quotas.namespace(req.namespace) if self._quotas is not None else None
        if cached is not None and not cached:
            return  # no quota in the namespace: nothing to charge, nothing to read
        info = self._store.registry.get("", "v1", "resourcequotas")
        if info is None:
            return
        group, plural = req.info.group, req.info.plural
        delta = usage(req.obj, group=group, plural=plural)
        if req.old is not None:
            before = usage(req.old, group=group, plural=plural)
            delta = {k: v - before.get(k, Decimal(0)) for k, v in delta.items()}
        delta = {k: v for k, v in delta.items() if v > 0}
        if not delta:
            return
        async with self._namespace_lock(req.namespace):
            for attempt in range(_RETRIES):
                # kube charges what its cache holds (here with the previous charge in the namespace) and reads
                # again when a quota changed meanwhile: from storage, as a cache behind another replica's
                # writes would not help
                cached = self._quotas.namespace(req.namespace) if attempt == 0 and self._quotas is not None else None
                if cached is not None:
                    quotas = list(cached.values())
                else:
                    _, quotas, _ = await self._store.list_objects(info, req.namespace)
                if not quotas:
                    return
                if await self._charge(req, info, delta, quotas):
                    if self._recount is not None and not req.dry_run:
                        req.after_write.append(functools.partial(self._refund, req.namespace))
                    return
        raise forbidden(req, "status unknown for quota: too many concurrent changes")

    @contextlib.asynccontextmanager
    async def _namespace_lock(self, namespace: str) -> AsyncIterator[None]:
        """One charge at a time per namespace, as kube's quota evaluator works a namespace's requests in one
        worker: concurrent creates then never spend the same unit, nor conflict with each other."""
        entry = self._locks.get(namespace)
        if entry is None:
            entry = self._locks[namespace] = _NamespaceLock()
        entry.holders += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.holders -= 1
            if not entry.holders:
                del self._locks[namespace]

    async def _refund(self, namespace: str, stored: bool) -> None:
        if not stored and self._recount is not None:
            await self._recount(namespace)

    async def _charge(
        self, req: AdmissionRequest, info: Any, delta: dict[str, Decimal], quotas: list[dict[str, Any]]
    ) -> bool:
        """Check every quota, then charge them one by one; False when a quota changed meanwhile."""
        group, plural = req.info.group, req.info.plural
        charges = []
        for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
            hard = (quota.get("spec") or {}).get("hard") or {}
            if not scope_matches(quota, req.obj or {}, group=group, plural=plural):
                continue
            if group == "" and plural == "pods" and req.operation == "CREATE":
                missing = missing_compute(req.obj or {}, set(hard))
                if missing:
                    raise forbidden(req, f"failed quota: {quota['metadata']['name']}: must specify {missing}")
            tracked = {k: v for k, v in delta.items() if k in hard}
            if not tracked:
                continue
            used = {k: quantity(v) for k, v in ((quota.get("status") or {}).get("used") or {}).items()}
            over = {k for k, v in tracked.items() if used.get(k, Decimal(0)) + v > quantity(hard[k])}
            if over:
                raise forbidden(
                    req,
                    f"exceeded quota: {quota['metadata']['name']}, "
                    f"requested: {render({k: tracked[k] for k in over})}, "
                    f"used: {render({k: used.get(k, Decimal(0)) for k in over})}, "
                    f"limited: {render({k: quantity(hard[k]) for k in over})}",
                )
            charges.append((quota, used, tracked))
        if req.dry_run:
            return True
        for quota, used, tracked in charges:
            charged = copy.deepcopy(quota)
            status = charged.setdefault("status", {})
            status["hard"] = dict((quota.get("spec") or {}).get("hard") or {})
            new_used = dict(status.get("used") or {})
            for k, v in tracked.items():
                new_used[k] = format_quantity(used.get(k, Decimal(0)) + v, binary=is_binary(k))
            status["used"] = new_used
            key = info.key(req.namespace, quota["metadata"]["name"])
            try:
                await self._store.backend.update(key, charged, expected_rv=int(quota["metadata"]["resourceVersion"]))
            except (RevisionMismatch, KeyNotFound):
                return False
        return True

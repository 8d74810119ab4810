"""ResourceQuota status: `status.hard` follows `spec.hard` and `status.used` what the namespace holds.

kube-controller-manager's resource quota controller does this in a cluster; the garden runs none, so the
API server keeps its own quotas current: at once when a quota changes or something it counts goes away
(or a pod ends), and every `resync` seconds for what slipped through (a charge for a create that failed).
Admission (`builtin.admission.resourcequota`) charges new objects as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal
from typing import Any

from gardener.apiserver.builtin.admission.common import format_quantity, quantity
from gardener.apiserver.builtin.admission.resourcequota import IGNORED, is_binary, scope_matches, usage
from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import ObjectStore
from gardener.apiserver.storage.events import DELETED, Event
from gardener.apiserver.storage.interface import KeyNotFound, RevisionMismatch, StorageError
from gardener.runtime.tasks import cancel_task

log = logging.getLogger("gardener.apiserver.resourcequota")

QUOTA_PREFIX = "/registry/core/resourcequotas/"
#: the kinds whose disappearance frees quota at once (others wait for the resync)
_WATCHED = ("pods", "services", "persistentvolumeclaims", "configmaps", "secrets")


def _deleted(ev: Event) -> bool:
    return ev.type == DELETED


class ResourceQuotaController:
    def __init__(self, *, store: ObjectStore, registry: Registry, resync: float = 10.0) -> None:
        self._store = store
        self._registry = registry
        self._resync = resync
        self._informers = [
            LocalInformer(backend=store.backend, prefix=QUOTA_PREFIX, handler=self._on_quota, name="resourcequotas"),
            *(
                LocalInformer(
                    backend=store.backend,
                    prefix=f"/registry/core/{plural}/",
                    handler=self._on_object,
                    name=plural,
                    # only a pod's phase frees quota while it exists; other kinds only by going away
                    accept=None if plural == "pods" else _deleted,
                )
                for plural in _WATCHED
            ),
        ]
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="resourcequota")
        for informer in self._informers:
            await informer.start()

    async def stop(self) -> None:
        for informer in self._informers:
            await informer.stop()
        await cancel_task(self._task)
        self._task = None

    def mark(self, namespace: str) -> None:
        """Recount `namespace` soon (admission calls it when a charged write failed)."""
        self._dirty.add(namespace)
        self._wake.set()

    async def recount(self, namespace: str) -> None:
        self.mark(namespace)

    async def _on_quota(self, kind: str, key: str, quota: dict[str, Any]) -> None:
        if kind == DELETED:
            return
        status = quota.get("status") or {}
        if status.get("hard") != (quota.get("spec") or {}).get("hard") or "used" not in status:
            self.mark(str(quota["metadata"].get("namespace") or ""))

    async def _on_object(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        phase = (obj.get("status") or {}).get("phase")
        if kind == DELETED or phase in ("Succeeded", "Failed"):
            self.mark(str((obj.get("metadata") or {}).get("namespace") or ""))

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._resync)
            self._wake.clear()
            namespaces, self._dirty = self._dirty, set()
            try:
                if not namespaces:
                    namespaces = await self._namespaces_with_quotas()
                for namespace in sorted(namespaces):
                    await self.sync_namespace(namespace)
            except StorageError as exc:
                log.warning("Could not recount quotas", extra={"error": str(exc)})
                self._dirty |= namespaces

    async def _namespaces_with_quotas(self) -> set[str]:
        info = self._quota_info()
        if info is None:
            return set()
        _, quotas, _ = await self._store.list_objects(info, "")
        return {str(q["metadata"].get("namespace") or "") for q in quotas}

    def _quota_info(self) -> ResourceInfo | None:
        return self._registry.get("", "v1", "resourcequotas")

    async def sync_namespace(self, namespace: str) -> None:
        info = self._quota_info()
        if info is None or not namespace:
            return
        _, quotas, _ = await self._store.list_objects(info, namespace)
        if not quotas:
            return
        counted = await self._objects(namespace, quotas)
        for quota in quotas:
            await self._write(info, quota, counted)

    async def _objects(self, namespace: str, quotas: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
        """Every object in `namespace` of a kind some quota counts."""
        wanted = {k for q in quotas for k in ((q.get("spec") or {}).get("hard") or {})}
        out = []
        seen: set[str] = set()
        for info in self._registry.all():
            if not info.namespaced or info.storage_prefix() in seen or not info.is_storage_version:
                continue
            if (info.group, info.plural) in IGNORED:
                continue
            seen.add(info.storage_prefix())
            plain = info.plural if info.group == "" else ""
            count = f"count/{info.plural}.{info.group}" if info.group else f"count/{info.plural}"
            if not (
                count in wanted
                or plain in wanted
                or (info.group == "" and info.plural in ("pods", "services", "persistentvolumeclaims"))
            ):
                continue
            _, items, _ = await self._store.list_objects(info, namespace)
            out += [(info.group, info.plural, obj) for obj in items]
        return out

    async def _write(
        self, info: ResourceInfo, quota: dict[str, Any], counted: list[tuple[str, str, dict[str, Any]]]
    ) -> None:
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        used: dict[str, Decimal] = {k: Decimal(0) for k in hard}
        for group, plural, obj in counted:
            if not scope_matches(quota, obj, group=group, plural=plural):
                continue
            for name, value in usage(obj, group=group, plural=plural).items():
                if name in used:
                    used[name] += value
        status = {
            "hard": hard,
            "used": {k: format_quantity(v, binary=is_binary(k)) for k, v in sorted(used.items())},
        }
        old = quota.get("status") or {}
        if old.get("hard") == status["hard"] and {k: quantity(v) for k, v in (old.get("used") or {}).items()} == {
            k: used[k] for k in used
        }:
            return
        changed = {**quota, "status": status}
        key = info.key(str(quota["metadata"].get("namespace") or ""), quota["metadata"]["name"])
        try:
            await self._store.backend.update(key, changed, expected_rv=int(quota["metadata"]["resourceVersion"]))
        except (RevisionMismatch, KeyNotFound):
            self.mark(str(quota["metadata"].get("namespace") or ""))

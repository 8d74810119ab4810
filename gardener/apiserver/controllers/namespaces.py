"""Namespace termination: delete a terminating namespace's content, then its `kubernetes` finalizer.

Also kube's system namespaces controller: default, kube-system, kube-public and kube-node-lease exist
again as soon as one is gone (only kube-node-lease can be deleted through the API; the others are
protected by the NamespaceLifecycle check in the object store).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.storage.events import DELETED

log = logging.getLogger("gardener.apiserver.namespaces")

PREFIX = "/registry/core/namespaces/"
RETRY_SECONDS = 0.5
#: the namespaces kube-apiserver's system namespaces controller keeps in existence
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
#: how often every system namespace is checked besides on its DELETED event (kube checks every minute), for
#: deletions the event window lost (an informer that had to re-list sees no DELETED event)
SYSTEM_NAMESPACES_INTERVAL = 60.0


class NamespaceController:
    def __init__(self, *, store: ObjectStore, registry: Registry) -> None:
        self._store = store
        self._registry = registry
        self._informer = LocalInformer(backend=store.backend, prefix=PREFIX, handler=self._on_event, name="namespaces")
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._recreating: set[asyncio.Task[None]] = set()
        self._periodic: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._informer.start()
        self._periodic = asyncio.create_task(self._keep_system_namespaces(), name="system-namespaces")

    async def stop(self) -> None:
        await self._informer.stop()
        if self._periodic is not None:
            self._periodic.cancel()
        for task in [*self._tasks.values(), *self._recreating]:
            task.cancel()

    async def _on_event(self, kind: str, key: str, ns: dict[str, Any]) -> None:
        name = ns["metadata"]["name"]
        if kind == DELETED:
            self._store.namespaces.pop(name, None)
            if name in SYSTEM_NAMESPACES:
                recreate = asyncio.create_task(self._ensure(name), name=f"recreate-{name}")
                self._recreating.add(recreate)
                recreate.add_done_callback(self._recreating.discard)
        else:
            self._store.namespaces[name] = bool(ns["metadata"].get("deletionTimestamp"))
        if kind == DELETED or not ns["metadata"].get("deletionTimestamp"):
            return
        task = self._tasks.get(name)
        if task is None or task.done():
            self._tasks[name] = asyncio.create_task(self._terminate(name), name=f"terminate-{name}")

    def _namespaced_resources(self) -> list[ResourceInfo]:
        seen: dict[str, ResourceInfo] = {}
        for info in self._registry.all():
            if info.namespaced and (info.is_storage_version or info.storage_prefix() not in seen):
                seen[info.storage_prefix()] = info
        return list(seen.values())

    async def _terminate(self, namespace: str) -> None:
        ctx = Context()
        while True:
            remaining = 0
            for info in self._namespaced_resources():
                _, items, _ = await self._store.list_objects(info, namespace)
                remaining += len(items)
                for obj in items:
                    if obj["metadata"].get("deletionTimestamp"):
                        continue
                    try:
                        await self._store.delete(
                            info,
                            namespace,
                            obj["metadata"]["name"],
                            ctx=ctx,
                            options={"propagationPolicy": "Background"},
                        )
                    except StatusError as exc:
                        if exc.code != 404:
                            log.warning("Could not delete", extra={"namespace": namespace, "error": exc.message})
            if remaining == 0:
                break
            await asyncio.sleep(RETRY_SECONDS)
        ns_info = self._registry.get("", "v1", "namespaces")
        assert ns_info is not None

        def finalize(current: dict[str, Any]) -> dict[str, Any]:
            spec = current.setdefault("spec", {})
            spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != "kubernetes"]
            return current

        try:
            await self._store.guaranteed_update(ns_info, "", namespace, finalize, ctx=ctx, subresource="finalize")
        except StatusError as exc:
            if exc.code != 404:
                log.warning("Could not finalize namespace", extra={"namespace": namespace, "error": exc.message})

    async def _keep_system_namespaces(self) -> None:
        while True:
            await asyncio.sleep(SYSTEM_NAMESPACES_INTERVAL)
            for name in SYSTEM_NAMESPACES:
                if name not in self._store.namespaces:
                    await self._ensure(name)

    async def _ensure(self, name: str) -> None:
        """Create a system namespace that is gone; another replica (or a client) creating it first is fine."""
        ns_info = self._registry.get("", "v1", "namespaces")
        assert ns_info is not None
        try:
            await self._store.create(ns_info, "", {"metadata": {"name": name}}, ctx=Context())
        except StatusError as exc:
            if exc.code != 409:
                log.warning("Could not recreate system namespace", extra={"namespace": name, "error": exc.message})
        else:
            log.info("Recreated system namespace", extra={"namespace": name})

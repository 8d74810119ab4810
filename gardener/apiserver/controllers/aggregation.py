"""ClusterRole aggregation: keeps the rules of every ClusterRole with an aggregationRule equal to the
union of the ClusterRoles its selectors pick, as kube-controller-manager's aggregation controller does."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gardener.apiserver import rbac
from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import Registry
from gardener.apiserver.rest import Context, ObjectStore

log = logging.getLogger("gardener.apiserver.aggregation")

PREFIX = "/registry/rbac.authorization.k8s.io/clusterroles/"


class ClusterRoleAggregator:
    def __init__(self, *, store: ObjectStore, registry: Registry) -> None:
        self._store = store
        self._registry = registry
        self._roles: dict[str, dict[str, Any]] = {}
        self._dirty = asyncio.Event()
        self._informer = LocalInformer(backend=store.backend, prefix=PREFIX, handler=self._on_event, name="aggregation")
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._informer.start()
        await self._reconcile()
        self._worker = asyncio.create_task(self._run(), name="clusterrole-aggregation")

    async def stop(self) -> None:
        await self._informer.stop()
        if self._worker is not None:
            self._worker.cancel()

    async def _on_event(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self._roles.pop(name, None)
        else:
            self._roles[name] = obj
        self._dirty.set()

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._reconcile()

    async def _reconcile(self) -> None:
        info = self._registry.get("rbac.authorization.k8s.io", "v1", "clusterroles")
        assert info is not None
        roles = list(self._roles.values())
        for role in roles:
            wanted = rbac.aggregated_rules(role, roles)
            if wanted is None or wanted == (role.get("rules") or []):
                continue

            def mutate(current: dict[str, Any], rules: list[dict[str, Any]] = wanted) -> dict[str, Any]:
                current["rules"] = rules
                return current

            try:
                await self._store.guaranteed_update(info, "", role["metadata"]["name"], mutate, ctx=Context())
            except StatusError as exc:
                if exc.code != 404:
                    log.warning(
                        "Could not aggregate ClusterRole",
                        extra={"role": role["metadata"]["name"], "error": exc.message},
                    )

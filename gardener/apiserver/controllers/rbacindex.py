"""In-memory copy of Roles, ClusterRoles and their bindings, kept current from the event window,
so authorizing a request costs no storage read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.storage.events import DELETED
from gardener.apiserver.storage.interface import Backend

PREFIX = "/registry/rbac.authorization.k8s.io/"


class RBACIndex:
    def __init__(self, backend: Backend) -> None:
        self._cluster_roles: dict[str, Mapping[str, Any]] = {}
        self._roles: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._crbs: dict[str, Mapping[str, Any]] = {}
        self._rbs: dict[str, dict[str, Mapping[str, Any]]] = {}
        self._informer = LocalInformer(backend=backend, prefix=PREFIX, handler=self._on_event, name="rbac")

    async def start(self) -> None:
        await self._informer.start()

    async def stop(self) -> None:
        await self._informer.stop()

    async def _on_event(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        resource = key[len(PREFIX) :].split("/", 1)[0]
        m = obj.get("metadata") or {}
        name, ns = m.get("name", ""), m.get("namespace", "")
        gone = kind == DELETED
        if resource == "clusterroles":
            _put(self._cluster_roles, name, obj, gone)
        elif resource == "roles":
            _put(self._roles, (ns, name), obj, gone)
        elif resource == "clusterrolebindings":
            _put(self._crbs, name, obj, gone)
        elif resource == "rolebindings":
            _put(self._rbs.setdefault(ns, {}), name, obj, gone)

    # RBACSource protocol
    def cluster_role(self, name: str) -> Mapping[str, Any] | None:
        return self._cluster_roles.get(name)

    def role(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._roles.get((namespace, name))

    def cluster_role_bindings(self) -> Iterable[Mapping[str, Any]]:
        return list(self._crbs.values())

    def role_bindings(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        return list(self._rbs.get(namespace, {}).values())

    def cluster_roles(self) -> Iterable[Mapping[str, Any]]:
        return list(self._cluster_roles.values())


def _put(table: dict[Any, Mapping[str, Any]], key: Any, obj: Mapping[str, Any], gone: bool) -> None:
    if gone:
        table.pop(key, None)
    else:
        table[key] = obj

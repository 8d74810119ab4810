"""What the admission plugins read on every write, held in memory: kube's plugins read shared informer
caches, never storage, so a write in a namespace without quotas or LimitRanges costs no storage read.

Each kind is a `LocalIndex` over the storage's event window, reduced to what the plugins need (a
ServiceAccount to whether it mounts its token, a Namespace to its Pod Security labels), so the copies
stay small. A read sees every write this server acknowledged before it; while an index is not in sync
(during the server's own bootstrap, or re-listing) the plugins read storage as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from gardener.apiserver.controllers.informer import LocalIndex
from gardener.apiserver.resources import Registry
from gardener.apiserver.storage.interface import Backend

#: Pod Security Admission's namespace labels
POD_SECURITY_LABEL = "pod-security.kubernetes.io/"
#: what most ServiceAccounts and Namespaces reduce to, held once
_NOTHING: Mapping[str, Any] = MappingProxyType({})

Object = dict[str, Any]


def _whole(obj: Object) -> Object:
    return obj


def _automount(account: Object) -> Mapping[str, Any]:
    """A ServiceAccount as the ServiceAccount plugin reads it: whether it mounts its token, when it says."""
    value = account.get("automountServiceAccountToken")
    return _NOTHING if value is None else MappingProxyType({"automountServiceAccountToken": value})


def _pod_security_labels(namespace: Object) -> Mapping[str, Any]:
    """A Namespace as PodSecurity reads it: its Pod Security labels."""
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    if not isinstance(labels, dict):
        return _NOTHING
    chosen = {k: v for k, v in labels.items() if isinstance(k, str) and k.startswith(POD_SECURITY_LABEL)}
    return MappingProxyType(chosen) if chosen else _NOTHING


class AdmissionCaches:
    """The indexes, started and stopped with the server's controllers."""

    def __init__(self, *, backend: Backend, registry: Registry) -> None:
        def index(group: str, plural: str, project: Any) -> LocalIndex[Any]:
            info = registry.get(group, registry.preferred_version(group), plural) or registry.get(group, "v1", plural)
            prefix = info.storage_prefix() if info is not None else f"/registry/{group or 'core'}/{plural}/"
            return LocalIndex(backend=backend, prefix=prefix, name=f"admission-{plural}", project=project)

        self.quotas: LocalIndex[Object] = index("", "resourcequotas", _whole)
        self.limit_ranges: LocalIndex[Object] = index("", "limitranges", _whole)
        self.priority_classes: LocalIndex[Object] = index("scheduling.k8s.io", "priorityclasses", _whole)
        self.storage_classes: LocalIndex[Object] = index("storage.k8s.io", "storageclasses", _whole)
        self.service_accounts: LocalIndex[Mapping[str, Any]] = index("", "serviceaccounts", _automount)
        self.namespaces: LocalIndex[Mapping[str, Any]] = index("", "namespaces", _pod_security_labels)

    def _all(self) -> tuple[LocalIndex[Any], ...]:
        return (
            self.quotas,
            self.limit_ranges,
            self.priority_classes,
            self.storage_classes,
            self.service_accounts,
            self.namespaces,
        )

    async def start(self) -> None:
        for index in self._all():
            await index.start()

    async def stop(self) -> None:
        for index in self._all():
            await index.stop()

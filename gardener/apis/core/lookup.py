"""Read access to other garden objects, as admission needs it.

Admission of one object looks at others: a Shoot at its CloudProfile, SecretBinding, Seed, Project
and Quotas; a CloudProfile at the Shoots using it; deleting a CloudProfile, Seed, SecretBinding or
Quota at the Shoots (or SecretBindings) still using it. `Lookup` is that read access, synchronous and
returning plain JSON dicts (None when absent). The embedded API server implements it over its
storage, a webhook over an informer cache; `MemoryLookup` keeps objects in memory (tests, tools).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

Object = dict[str, Any]


class Lookup(Protocol):
    """Read access to garden objects; every method returns None (or nothing) for what does not exist."""

    def cloud_profile(self, name: str) -> Object | None:
        """The CloudProfile `name`."""
        ...

    def secret_binding(self, namespace: str, name: str) -> Object | None:
        """The SecretBinding `namespace/name`."""
        ...

    def project_for_namespace(self, namespace: str) -> Object | None:
        """The Project whose `spec.namespace` is `namespace`."""
        ...

    def shoots_using_cloud_profile(self, name: str) -> list[Object]:
        """All Shoots (of all namespaces) whose CloudProfile is `name`."""
        ...

    def quotas(self, refs: list[Object]) -> list[Object]:
        """The Quotas that exist among the references (`{name, namespace}`), in the order of the references."""
        ...

    def seed(self, name: str) -> Object | None:
        """The Seed `name`."""
        ...

    def shoots(self, namespace: str = "") -> list[Object]:
        """All Shoots of `namespace` (of all namespaces when empty)."""
        ...

    def secret_bindings(self) -> list[Object]:
        """All SecretBindings (of all namespaces)."""
        ...


def _meta(obj: Object) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def shoot_cloud_profile_name(shoot: Object) -> str | None:
    """The name of the CloudProfile a Shoot refers to (`spec.cloudProfileName` or `spec.cloudProfile`)."""
    spec = shoot.get("spec")
    if not isinstance(spec, dict):
        return None
    name = spec.get("cloudProfileName")
    if isinstance(name, str) and name:
        return name
    ref = spec.get("cloudProfile")
    if isinstance(ref, dict) and ref.get("kind", "CloudProfile") == "CloudProfile":
        ref_name = ref.get("name")
        return ref_name if isinstance(ref_name, str) and ref_name else None
    return None


class MemoryLookup:
    """A `Lookup` over a fixed set of objects, told apart by their `kind`."""

    def __init__(self, objects: Iterable[Object] = ()) -> None:
        self._objects: dict[tuple[str, str, str], Object] = {}
        for obj in objects:
            self.add(obj)

    def add(self, obj: Object) -> None:
        """Add or replace an object (keyed by kind, namespace and name)."""
        meta = _meta(obj)
        key = (str(obj.get("kind", "")), str(meta.get("namespace", "") or ""), str(meta.get("name", "")))
        self._objects[key] = obj

    def remove(self, kind: str, name: str, namespace: str = "") -> None:
        self._objects.pop((kind, namespace, name), None)

    def _get(self, kind: str, name: str, namespace: str = "") -> Object | None:
        return self._objects.get((kind, namespace, name))

    def _all(self, kind: str) -> list[Object]:
        return [o for (k, _, _), o in self._objects.items() if k == kind]

    def cloud_profile(self, name: str) -> Object | None:
        return self._get("CloudProfile", name)

    def secret_binding(self, namespace: str, name: str) -> Object | None:
        return self._get("SecretBinding", name, namespace)

    def project_for_namespace(self, namespace: str) -> Object | None:
        for project in self._all("Project"):
            spec = project.get("spec")
            if isinstance(spec, dict) and spec.get("namespace") == namespace:
                return project
        return None

    def shoots_using_cloud_profile(self, name: str) -> list[Object]:
        return [s for s in self._all("Shoot") if shoot_cloud_profile_name(s) == name]

    def quotas(self, refs: list[Object]) -> list[Object]:
        found = []
        for ref in refs:
            if not isinstance(ref, dict):
                continue
            quota = self._get("Quota", str(ref.get("name", "")), str(ref.get("namespace", "") or ""))
            if quota is not None:
                found.append(quota)
        return found

    def seed(self, name: str) -> Object | None:
        return self._get("Seed", name)

    def shoots(self, namespace: str = "") -> list[Object]:
        return [s for (k, ns, _), s in self._objects.items() if k == "Shoot" and (not namespace or ns == namespace)]

    def secret_bindings(self) -> list[Object]:
        return self._all("SecretBinding")

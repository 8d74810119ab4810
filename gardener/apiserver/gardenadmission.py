"""The garden's admission as an in-process plugin of the embedded API server.

Fetches what `gardener.apis.core.admission` will look up (asynchronously, from storage), then runs
the same defaulting and validation a webhook would, and turns problems into one 422 (403 for
deletion protection) naming every field.

`gardener.apis.core.admission` (with the garden's types, defaulting and validation, a few MiB) is
imported on the first garden object, so a server that never sees one does not carry it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gardener.apis.core.errors import FieldError
from gardener.apis.core.lookup import MemoryLookup
from gardener.apiserver import errors
from gardener.apiserver.errors import FieldCause
from gardener.apiserver.resources import Registry
from gardener.apiserver.rest import AdmissionRequest, ObjectStore

if TYPE_CHECKING:
    from gardener.apis.core import admission

CORE = "core.gardener.cloud"
#: the API groups `admission.handles` (a test keeps the two equal), known without importing it
GROUPS = frozenset({CORE, "seedmanagement.gardener.cloud"})


class GardenAdmission:
    def __init__(self, *, store: ObjectStore, registry: Registry) -> None:
        self._store = store
        self._registry = registry

    async def __call__(self, req: AdmissionRequest) -> None:
        info = req.info
        if info.group not in GROUPS:
            return
        from gardener.apis.core import admission

        if not admission.handles(info.group):
            return
        request = admission.Request(
            operation=req.operation,
            group=info.group,
            kind=info.kind,
            subresource=req.subresource,
            obj=req.obj,
            old=req.old,
            username=req.user.name,
            groups=req.user.groups,
        )
        lookup = await self._prefetch(admission.needs(request))
        problems = admission.admit(request, lookup=lookup)
        if not problems:
            return
        name = str(((req.obj or req.old or {}).get("metadata") or {}).get("name") or "")
        if req.operation == "DELETE":
            raise errors.forbidden(
                admission.deletion_message(resource=info.plural, group=info.group, name=name, problems=problems),
                details={"name": name, "group": info.group, "kind": info.plural},
            )
        raise errors.invalid(kind=info.kind, group=info.group, name=name, causes=[_cause(p) for p in problems])

    async def on_delete(self, req: AdmissionRequest) -> None:
        """Deletion protection runs with the validating hooks, the only ones DELETE passes through.

        Deleting a CloudProfile, Seed, SecretBinding or Quota lists the Shoots (or SecretBindings) from
        storage to find whether anything still uses it; a rare request, so no index is kept for it.
        """
        if req.operation == "DELETE":
            await self(req)

    async def _prefetch(self, needs: admission.Needs) -> MemoryLookup:
        lookup = MemoryLookup()
        for name in needs.cloud_profiles:
            await self._add(lookup, "cloudprofiles", "", name)
        for name in needs.seeds:
            await self._add(lookup, "seeds", "", name)
        for namespace, name in needs.secret_bindings:
            binding = await self._add(lookup, "secretbindings", namespace, name)
            for ref in (binding or {}).get("quotas") or []:
                if isinstance(ref, dict) and ref.get("name"):
                    await self._add(lookup, "quotas", str(ref.get("namespace") or namespace), str(ref["name"]))
        for namespace, name in needs.quotas:
            await self._add(lookup, "quotas", namespace, name)
        if needs.projects:
            await self._add_all(lookup, "projects")
        if needs.shoots_of_cloud_profile:
            await self._add_all(lookup, "shoots")
        elif needs.shoots_in is not None:
            await self._add_all(lookup, "shoots", needs.shoots_in)
        if needs.secret_bindings_all:
            await self._add_all(lookup, "secretbindings")
        return lookup

    async def _add(self, lookup: MemoryLookup, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        info = self._registry.get(CORE, "v1beta1", plural)
        if info is None:
            return None
        stored = await self._store.backend.get(info.key(namespace, name))
        if stored is None:
            return None
        obj = self._store.decode(stored)
        lookup.add(obj)
        return obj

    async def _add_all(self, lookup: MemoryLookup, plural: str, namespace: str = "") -> None:
        info = self._registry.get(CORE, "v1beta1", plural)
        if info is None:
            return
        _, items, _ = await self._store.list_objects(info, namespace)
        for obj in items:
            lookup.add(obj)


def _cause(problem: FieldError) -> FieldCause:
    return FieldCause(problem.reason, problem.message, problem.field)

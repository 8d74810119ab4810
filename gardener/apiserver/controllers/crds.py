"""Serves custom resources: registers each CRD's versions, marks it Established, and on deletion
removes its objects before letting the CRD go."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from gardener.apiserver import meta
from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import PrinterColumn, Registry, ResourceInfo, ScaleSpec
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.storage.events import DELETED

log = logging.getLogger("gardener.apiserver.crds")

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
PREFIX = "/registry/apiextensions.k8s.io/customresourcedefinitions/"


def infos_from_crd(crd: dict[str, Any]) -> list[ResourceInfo]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = spec.get("versions") or []
    storage = next((v["name"] for v in versions if v.get("storage")), versions[0]["name"] if versions else "")
    kind = names.get("kind", "")
    out = []
    for v in versions:
        if not v.get("served", True):
            continue
        subresources = v.get("subresources") or {}
        scale = subresources.get("scale")
        columns = tuple(
            PrinterColumn(
                name=c.get("name", ""),
                type=c.get("type", "string"),
                json_path=c.get("jsonPath", ""),
                description=c.get("description", ""),
                priority=int(c.get("priority") or 0),
                format=c.get("format", ""),
            )
            for c in v.get("additionalPrinterColumns") or []
        )
        out.append(
            ResourceInfo(
                group=spec.get("group", ""),
                version=v["name"],
                kind=kind,
                plural=names.get("plural", ""),
                singular=names.get("singular") or kind.lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                has_status="status" in subresources,
                scale=ScaleSpec(
                    scale.get("specReplicasPath", ".spec.replicas"),
                    scale.get("statusReplicasPath", ".status.replicas"),
                    scale.get("labelSelectorPath"),
                )
                if isinstance(scale, dict)
                else None,
                storage_version=storage,
                schema=((v.get("schema") or {}).get("openAPIV3Schema"))
                or {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                printer_columns=columns,
                crd_name=crd["metadata"]["name"],
            )
        )
    return out


def _condition(ctype: str, status: str, reason: str, message: str, old: list[dict[str, Any]]) -> dict[str, Any]:
    for c in old:
        if c.get("type") == ctype and c.get("status") == status:
            return c
    return {
        "type": ctype,
        "status": status,
        "lastTransitionTime": meta.now_rfc3339(),
        "reason": reason,
        "message": message,
    }


class CRDController:
    def __init__(self, *, store: ObjectStore, registry: Registry) -> None:
        self._store = store
        self._registry = registry
        self._informer = LocalInformer(backend=store.backend, prefix=PREFIX, handler=self._on_event, name="crds")
        self._cleanups: dict[str, asyncio.Task[None]] = {}

    @property
    def _crd_info(self) -> ResourceInfo:
        info = self._registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert info is not None
        return info

    async def start(self) -> None:
        await self._informer.start()

    async def stop(self) -> None:
        await self._informer.stop()
        for task in self._cleanups.values():
            task.cancel()

    async def _on_event(self, kind: str, key: str, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        if kind == DELETED:
            self._registry.remove_crd(name)
            return
        if crd["metadata"].get("deletionTimestamp"):
            if name not in self._cleanups or self._cleanups[name].done():
                self._cleanups[name] = asyncio.create_task(self._cleanup(crd))
            return
        self._registry.set_crd(name, infos_from_crd(crd))
        await self._establish(crd)

    async def _establish(self, crd: dict[str, Any]) -> None:
        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            status = current.setdefault("status", {})
            old = status.get("conditions") or []
            names = copy.deepcopy(current["spec"]["names"])
            status["acceptedNames"] = names
            status["conditions"] = [
                _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", old),
                _condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted", old),
            ]
            stored = list(status.get("storedVersions") or [])
            storage = next((v["name"] for v in current["spec"]["versions"] if v.get("storage")), None)
            if storage and storage not in stored:
                stored.append(storage)
            status["storedVersions"] = stored
            return current

        try:
            await self._store.guaranteed_update(
                self._crd_info, "", crd["metadata"]["name"], mutate, ctx=Context(), subresource="status"
            )
        except StatusError as exc:
            if exc.code != 404:
                log.warning("Could not establish CRD", extra={"crd": crd["metadata"]["name"], "error": exc.message})

    async def _cleanup(self, crd: dict[str, Any]) -> None:
        """Delete every custom resource of the CRD, then drop the cleanup finalizer."""
        name = crd["metadata"]["name"]
        infos = infos_from_crd(crd) or []
        while infos:
            info = infos[0]
            _, items, _ = await self._store.list_objects(info, "")
            if not items:
                break
            for obj in items:
                m = obj["metadata"]
                try:
                    await self._store.delete(info, m.get("namespace", ""), m["name"], ctx=Context())
                except StatusError as exc:
                    if exc.code != 404:
                        log.warning("Could not delete custom resource", extra={"crd": name, "error": exc.message})
            await asyncio.sleep(0.2)

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            current["metadata"]["finalizers"] = [
                f for f in current["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER
            ]
            return current

        try:
            await self._store.guaranteed_update(self._crd_info, "", name, mutate, ctx=Context())
        except StatusError as exc:
            if exc.code != 404:
                log.warning("Could not finalize CRD", extra={"crd": name, "error": exc.message})

"""kube's DefaultStorageClass: a claim that names no storage class gets the cluster's default one."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.admission.common import is_kind, list_objects
from gardener.apiserver.controllers.informer import LocalIndex
from gardener.apiserver.rest import AdmissionRequest, ObjectStore

DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"


class DefaultStorageClass:
    def __init__(self, *, store: ObjectStore, classes: LocalIndex[dict[str, Any]] | None = None) -> None:
        self._store = store
        #: the StorageClasses as the event window has them (kube's informer cache); None reads storage
        self._classes = classes

    async def __call__(self, req: AdmissionRequest) -> None:
        if not is_kind(req, group="", plural="persistentvolumeclaims") or req.obj is None:
            return
        if req.operation != "CREATE" or req.subresource:
            return
        spec = req.obj.setdefault("spec", {})
        # an explicit "" asks for no class at all; a beta annotation names one too
        annotations = (req.obj.get("metadata") or {}).get("annotations") or {}
        if "storageClassName" in spec and spec["storageClassName"] is not None:
            return
        if annotations.get("volume.beta.kubernetes.io/storage-class") is not None:
            return
        cached = self._classes.namespace("") if self._classes is not None else None
        classes = (
            list(cached.values())
            if cached is not None
            else await list_objects(self._store, group="storage.k8s.io", plural="storageclasses")
        )
        defaults = [
            sc
            for sc in classes
            if "true"
            in (
                ((sc.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_ANNOTATION),
                ((sc.get("metadata") or {}).get("annotations") or {}).get(BETA_DEFAULT_ANNOTATION),
            )
        ]
        if not defaults:
            return
        # several defaults: the newest wins (kube 1.28+), ties by name
        newest = max(defaults, key=lambda sc: (sc["metadata"].get("creationTimestamp") or "", sc["metadata"]["name"]))
        spec["storageClassName"] = newest["metadata"]["name"]

"""A local volume provisioner: every PersistentVolumeClaim is bound to a directory on this machine.

The claim's data lives in `<data-dir>/pvc/<namespace>/<claim>`, created when a pod first uses
it. A bound claim reports its requested capacity. When the claim object is deleted the data goes
too (reclaim policy Delete), unless a pod of this node still mounts it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from extensions.provider_local.nodeagent.objects import RETRY
from extensions.provider_local.nodeagent.volumes import pvc_dir
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError
from gardener.runtime.informer import DELETED, AsyncInformer, Key
from gardener.runtime.kube import PVCS, Obj, key_of

log = logging.getLogger("provider_local.nodeagent.pvc")

DEFAULT_CAPACITY = "1Gi"


class ClaimBinder:
    def __init__(self, client: AsyncKube, pvcs: AsyncInformer, pods: AsyncInformer, *, pvc_root: Path) -> None:
        self.client = client
        self.pvcs = pvcs
        self.pods = pods
        self.pvc_root = pvc_root
        self.queue: AsyncController[Key] = AsyncController("claims", self.reconcile, workers=2, backoff=RETRY)

    def on_claim(self, kind: str, obj: Obj) -> None:
        key = key_of(obj)
        if kind == DELETED:
            self._forget(key)
        else:
            self.queue.add(key)

    def _forget(self, key: Key) -> None:
        namespace, claim = key
        for pod in self.pods.items(namespace):
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                if (volume.get("persistentVolumeClaim") or {}).get("claimName") == claim:
                    log.info("Claim deleted while in use, keeping its data", extra={"claim": f"{namespace}/{claim}"})
                    return
        directory = pvc_dir(self.pvc_root, namespace, claim)
        if directory.exists():
            log.info("Deleting data of a deleted claim", extra={"claim": f"{namespace}/{claim}"})
            shutil.rmtree(directory, ignore_errors=True)

    async def reconcile(self, key: Key) -> Result:
        return Result(await self._reconcile(key))

    async def _reconcile(self, key: Key) -> float | None:
        claim = self.pvcs.get(*key)
        if claim is None or (claim.get("status") or {}).get("phase") == "Bound":
            return None
        namespace, name = key
        spec = claim.get("spec") or {}
        volume = spec.get("volumeName") or f"pvc-{claim['metadata']['uid']}"
        try:
            if not spec.get("volumeName"):
                await self.client.patch(PVCS.path(namespace, name), {"spec": {"volumeName": volume}})
            storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage") or DEFAULT_CAPACITY
            status = {
                "phase": "Bound",
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "capacity": {"storage": storage},
            }
            written = await self.client.patch(PVCS.path(namespace, name, "status"), {"status": status})
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        pvc_dir(self.pvc_root, namespace, name).mkdir(mode=0o700, parents=True, exist_ok=True)
        log.info("Bound claim", extra={"claim": f"{namespace}/{name}", "volume": volume})
        rv = written["metadata"].get("resourceVersion")
        await self.pvcs.wait_for(
            namespace, name, lambda o: o is None or o["metadata"].get("resourceVersion") == rv, 5.0
        )
        return None

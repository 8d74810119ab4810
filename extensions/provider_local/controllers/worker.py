"""Worker of type local: provider-local's delegate of the library's generic Worker actuator.

Everything a Worker shares with every provider (MachineDeployments per pool and zone, rolling, waiting, clean-up)
is `extensions.library.genericworker`; what is local is small: machines are run by the machine controller
manager's `local` driver, and a class's providerSpec names the machine type, image, zone and the node network
the Infrastructure made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extensions.library.genericworker import (
    MachineClassSpec,
    Wanted,
    WorkerContext,
)
from extensions.provider_local.controllers import PROVIDER_API_VERSION, TYPE

DEFAULT_CAPACITY = {"cpu": "2", "gpu": "0", "memory": "4Gi"}
#: the machine controller manager driver of local machines (`extensions.mcm.local.driver`)
DRIVER = TYPE


class LocalWorkerDelegate:
    driver = DRIVER

    def machine_class(self, worker: WorkerContext, wanted: Wanted) -> MachineClassSpec:
        pool = wanted.pool
        machine_type: Mapping[str, Any] = worker.machine_type(pool.machineType) or {}
        capacity = {k: str(machine_type.get(k, v)) for k, v in DEFAULT_CAPACITY.items()}
        infra_status: Mapping[str, Any] = worker.spec.infrastructureProviderStatus or {}
        infra = infra_status.get("networks") or {}
        image = pool.machineImage
        image_ref = f"{image.name}:{image.version}" if image else "local"
        provider_spec = {
            "apiVersion": PROVIDER_API_VERSION,
            "kind": "MachineProviderConfig",
            "machineType": pool.machineType,
            "image": image_ref,
            "zone": wanted.zone,
            "region": worker.spec.region,
            "vpcID": (infra.get("vpc") or {}).get("id"),
            "kubernetesVersion": pool.kubernetesVersion or worker.kubernetes_version or None,
        }
        return MachineClassSpec(
            provider_spec={k: v for k, v in provider_spec.items() if v is not None}, capacity=capacity
        )

    def provider_status(self, worker: WorkerContext) -> Mapping[str, Any] | None:
        images = {
            (p.machineImage.name, p.machineImage.version): {
                "name": p.machineImage.name,
                "version": p.machineImage.version,
            }
            for p in worker.spec.pools
            if p.machineImage
        }
        return {"apiVersion": PROVIDER_API_VERSION, "kind": "WorkerStatus", "machineImages": list(images.values())}

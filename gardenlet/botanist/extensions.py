"""Values of the extension resources a provider extension reconciles: Infrastructure, ControlPlane, Worker."""

from __future__ import annotations

from typing import Any

from gardenlet.botanist.shoot import ShootInfo
from gardenlet.components.extension import ExtensionValues

#: the provider credentials, copied from the Shoot's SecretBinding into the seed namespace
CLOUDPROVIDER_SECRET = "cloudprovider"


def _common(shoot: ShootInfo) -> dict[str, Any]:
    return {"region": shoot.region, "secretRef": {"name": CLOUDPROVIDER_SECRET, "namespace": shoot.technical_id}}


def infrastructure_values(shoot: ShootInfo) -> ExtensionValues:
    spec = _common(shoot)
    if shoot.infrastructure_config is not None:
        spec["providerConfig"] = shoot.infrastructure_config
    return ExtensionValues(
        kind="Infrastructure", name=shoot.name, namespace=shoot.technical_id, type=shoot.provider_type, spec=spec
    )


def control_plane_values(shoot: ShootInfo, infrastructure_status: dict[str, Any] | None = None) -> ExtensionValues:
    spec = {**_common(shoot), "purpose": "normal"}
    if shoot.control_plane_config is not None:
        spec["providerConfig"] = shoot.control_plane_config
    if infrastructure_status is not None:
        spec["infrastructureProviderStatus"] = infrastructure_status
    return ExtensionValues(
        kind="ControlPlane", name=shoot.name, namespace=shoot.technical_id, type=shoot.provider_type, spec=spec
    )


def worker_values(shoot: ShootInfo, infrastructure_status: dict[str, Any] | None = None) -> ExtensionValues:
    """The Worker; a hibernated shoot keeps its pools with no machines."""
    pools = []
    for pool in shoot.workers:
        pools.append(
            {
                "name": pool.name,
                "machineType": pool.machine_type,
                "machineImage": {"name": pool.image_name, "version": pool.image_version},
                "minimum": 0 if shoot.hibernated else pool.minimum,
                "maximum": 0 if shoot.hibernated else pool.maximum,
                "maxSurge": pool.max_surge,
                "maxUnavailable": pool.max_unavailable,
                "zones": list(pool.zones),
                "kubernetesVersion": shoot.kubernetes_version,
            }
        )
    spec: dict[str, Any] = {**_common(shoot), "pools": pools}
    if infrastructure_status is not None:
        spec["infrastructureProviderStatus"] = infrastructure_status
    return ExtensionValues(
        kind="Worker", name=shoot.name, namespace=shoot.technical_id, type=shoot.provider_type, spec=spec
    )

"""Values of the extension resources extensions reconcile: Infrastructure, ControlPlane, Worker (the provider's),
OperatingSystemConfig (the machine image's), Network (the networking type's) and DNSRecord (the DNS provider's).

Specs are built as the typed dataclasses of `gardener.apis.extensions.v1alpha1` and encoded from them, so a field
the contract has cannot be forgotten on the way (a typo fails type checking, not silently in the seed) and an
extension decodes exactly what was written.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Mapping
from typing import Any, cast

from gardener.apis.core.v1beta1 import SecretReference
from gardener.apis.extensions.v1alpha1 import (
    OSC_SECRET_DATA_KEY,
    ControlPlaneSpec,
    CRIConfig,
    DefaultSpec,
    DNSRecordSpec,
    File,
    FileContent,
    FileContentInline,
    InfrastructureSpec,
    MachineImage,
    NetworkSpec,
    OperatingSystemConfigSpec,
    SecretKeySelector,
    Unit,
    WorkerPool,
    WorkerSpec,
)
from gardener.apis.openapi import IntOrString, RawExtension, encode
from gardenlet.botanist.shoot import ShootInfo
from gardenlet.botanist.shoot import WorkerPool as ShootPool
from gardenlet.components.extension import ExtensionValues

#: the provider credentials, copied from the Shoot's SecretBinding into the seed namespace
CLOUDPROVIDER_SECRET = "cloudprovider"


def _secret_ref(shoot: ShootInfo) -> SecretReference:
    return SecretReference(name=CLOUDPROVIDER_SECRET, namespace=shoot.technical_id)


def _raw(value: Mapping[str, Any] | None) -> RawExtension | None:
    return None if value is None else RawExtension(dict(value))


def extension_values(kind: str, *, name: str, namespace: str, spec: DefaultSpec) -> ExtensionValues:
    """The resource of `kind` with `spec` encoded (unset fields left out); `type` is carried apart."""
    body = encode(spec)
    body.pop("type", None)
    return ExtensionValues(kind=kind, name=name, namespace=namespace, type=spec.type, spec=body)


def infrastructure_values(shoot: ShootInfo) -> ExtensionValues:
    spec = InfrastructureSpec(
        type=shoot.provider_type,
        region=shoot.region,
        secretRef=_secret_ref(shoot),
        providerConfig=_raw(shoot.infrastructure_config),
    )
    return extension_values("Infrastructure", name=shoot.name, namespace=shoot.technical_id, spec=spec)


def control_plane_values(shoot: ShootInfo, infrastructure_status: dict[str, Any] | None = None) -> ExtensionValues:
    spec = ControlPlaneSpec(
        type=shoot.provider_type,
        region=shoot.region,
        secretRef=_secret_ref(shoot),
        purpose="normal",
        providerConfig=_raw(shoot.control_plane_config),
        infrastructureProviderStatus=_raw(infrastructure_status),
    )
    return extension_values("ControlPlane", name=shoot.name, namespace=shoot.technical_id, spec=spec)


def worker_pool(
    shoot: ShootInfo, pool: ShootPool, *, user_data: SecretKeySelector | None = None, node_agent_secret: str = ""
) -> WorkerPool:
    """One pool of the Worker: every field the Shoot gives for it, sizes zero while hibernated."""
    image = MachineImage(name=pool.image_name, version=pool.image_version) if pool.image_name else None
    return WorkerPool(
        name=pool.name,
        machineType=pool.machine_type,
        machineImage=image,
        minimum=0 if shoot.hibernated else pool.minimum,
        maximum=0 if shoot.hibernated else pool.maximum,
        maxSurge=cast(IntOrString, pool.max_surge),
        maxUnavailable=cast(IntOrString, pool.max_unavailable),
        labels=dict(pool.labels) or None,
        annotations=dict(pool.annotations) or None,
        taints=list(pool.taints) or None,
        volume=pool.volume,
        dataVolumes=list(pool.data_volumes) or None,
        providerConfig=_raw(pool.provider_config),
        zones=list(pool.zones),
        kubernetesVersion=pool.kubernetes_version or shoot.kubernetes_version or None,
        architecture=pool.architecture,
        cri=CRIConfig(name=pool.cri) if pool.cri else None,
        userDataSecretRef=user_data,
        nodeAgentSecretName=node_agent_secret or None,
    )


def worker_values(
    shoot: ShootInfo,
    infrastructure_status: dict[str, Any] | None = None,
    *,
    user_data: Mapping[str, SecretKeySelector] | None = None,
) -> ExtensionValues:
    """The Worker; a hibernated shoot keeps its pools with no machines. `user_data` maps a pool to the Secret key
    its machines boot from (the OperatingSystemConfig's result)."""
    refs = user_data or {}
    pools = [
        worker_pool(shoot, p, user_data=refs.get(p.name), node_agent_secret=refs[p.name].name if p.name in refs else "")
        for p in shoot.workers
    ]
    spec = WorkerSpec(
        type=shoot.provider_type,
        region=shoot.region,
        secretRef=_secret_ref(shoot),
        infrastructureProviderStatus=_raw(infrastructure_status),
        pools=pools,
    )
    return extension_values("Worker", name=shoot.name, namespace=shoot.technical_id, spec=spec)


#: the key of an OperatingSystemConfig's result Secret that holds the user data
USER_DATA_KEY = OSC_SECRET_DATA_KEY
KUBELET_CONFIG = "/var/lib/kubelet/config/kubelet"


def operating_system_config_name(pool: ShootPool) -> str:
    return f"cloud-config-{pool.name}"


def operating_system_config_values(shoot: ShootInfo, pool: ShootPool) -> ExtensionValues:
    """What a new machine of `pool` boots with: a kubelet unit and its configuration (version, CRI, the pool's
    taints and labels to register with). The OperatingSystemConfig's type is the machine image's name: the
    extension of that operating system renders it into user data (a Secret named in its status)."""
    version = pool.kubernetes_version or shoot.kubernetes_version
    kubelet_config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "registerWithTaints": encode(list(pool.taints)),
    }
    labels = ",".join(f"{k}={v}" for k, v in sorted(pool.labels.items()))
    unit = (
        "[Unit]\nDescription=kubelet daemon\n[Service]\n"
        f"ExecStart=/opt/bin/kubelet --config={KUBELET_CONFIG}"
        + (f" --node-labels={labels}" if labels else "")
        + "\n[Install]\nWantedBy=multi-user.target\n"
    )

    def inline(text: str) -> FileContent:
        return FileContent(inline=FileContentInline(encoding="b64", data=base64.b64encode(text.encode()).decode()))

    spec = OperatingSystemConfigSpec(
        type=pool.image_name or shoot.provider_type,
        purpose="provision",
        criConfig=CRIConfig(name=pool.cri) if pool.cri else None,
        units=[Unit(name="kubelet.service", command="start", enable=True, content=unit)],
        files=[
            File(path=KUBELET_CONFIG, permissions=0o644, content=inline(json.dumps(kubelet_config, sort_keys=True))),
            File(path="/etc/gardener/kubernetes-version", permissions=0o644, content=inline(version + "\n")),
        ],
    )
    name = operating_system_config_name(pool)
    return extension_values("OperatingSystemConfig", name=name, namespace=shoot.technical_id, spec=spec)


def network_values(shoot: ShootInfo) -> ExtensionValues:
    spec = NetworkSpec(type=shoot.networking_type, podCIDR=shoot.pods_cidr, serviceCIDR=shoot.services_cidr)
    return extension_values("Network", name=shoot.name, namespace=shoot.technical_id, spec=spec)


def dns_record_values(shoot: ShootInfo, *, dns_type: str, domain: str, address: str) -> ExtensionValues:
    """The shoot API server's internal record `api.<shoot>.<project>.internal.<domain>` -> its load balancer."""
    try:
        ipaddress.ip_address(address)
        record_type = "A"
    except ValueError:
        record_type = "CNAME"
    spec = DNSRecordSpec(
        type=dns_type,
        secretRef=_secret_ref(shoot),
        name=f"api.{shoot.name}.{shoot.project}.internal.{domain}",
        recordType=record_type,
        values=[address] if address else [],
        ttl=120,
    )
    return extension_values("DNSRecord", name=f"{shoot.name}-internal", namespace=shoot.technical_id, spec=spec)

"""The facts of a Shoot the gardenlet acts on, read once from the API object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gardener.apis.core.v1beta1 import ShootSpec, Taint, Volume
from gardener.apis.openapi import decode

PROJECT_NAMESPACE_PREFIX = "garden-"
DEFAULT_SERVICES_CIDR = "100.64.0.0/13"
DEFAULT_PODS_CIDR = "100.96.0.0/11"


def project_of(namespace: str) -> str:
    """The project a garden namespace belongs to (`garden-dev` -> `dev`; the `garden` namespace -> `garden`)."""
    return namespace[len(PROJECT_NAMESPACE_PREFIX) :] if namespace.startswith(PROJECT_NAMESPACE_PREFIX) else namespace


def technical_id(project: str, name: str) -> str:
    return f"shoot--{project}--{name}"


@dataclass(frozen=True, kw_only=True)
class WorkerPool:
    name: str
    machine_type: str
    image_name: str
    image_version: str
    minimum: int
    maximum: int
    max_surge: int | str
    max_unavailable: int | str
    zones: tuple[str, ...]
    #: what the Shoot says of the pool's nodes and machines; everything here reaches the Worker resource
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    volume: Volume | None = None
    data_volumes: tuple[Volume, ...] = ()
    provider_config: dict[str, Any] | None = None
    cri: str | None = None
    architecture: str | None = None
    #: the pool's own Kubernetes version (`kubernetes.version` of the pool); None: the shoot's
    kubernetes_version: str | None = None


@dataclass(frozen=True, kw_only=True)
class ShootInfo:
    name: str
    namespace: str
    uid: str
    generation: int
    project: str
    technical_id: str
    seed_name: str
    provider_type: str
    region: str
    kubernetes_version: str
    secret_binding: str
    cloud_profile: str
    hibernated: bool
    deleting: bool
    services_cidr: str
    pods_cidr: str
    #: the Network's type (calico, cilium ...); empty when the Shoot names none
    networking_type: str = ""
    infrastructure_config: dict[str, Any] | None = None
    control_plane_config: dict[str, Any] | None = None
    workers: tuple[WorkerPool, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def workerless(self) -> bool:
        return not self.workers


def shoot_info(shoot: dict[str, Any], *, seed: dict[str, Any] | None = None) -> ShootInfo:
    """Read a Shoot; ValueError when its spec cannot be decoded. `seed` supplies network defaults."""
    meta, status = shoot["metadata"], shoot.get("status") or {}
    spec = decode(ShootSpec, shoot.get("spec") or {})
    project = project_of(str(meta["namespace"]))
    networking = spec.networking
    defaults = (((seed or {}).get("spec") or {}).get("networks") or {}).get("shootDefaults") or {}
    pools = []
    for worker in spec.provider.workers or []:
        image = worker.machine.image
        pools.append(
            WorkerPool(
                name=worker.name,
                machine_type=worker.machine.type,
                image_name=image.name if image else "",
                image_version=(image.version or "") if image else "",
                minimum=worker.minimum,
                maximum=worker.maximum,
                max_surge=_int_or_string(worker.maxSurge, 1),
                max_unavailable=_int_or_string(worker.maxUnavailable, 0),
                zones=tuple(worker.zones or ()),
                labels=dict(worker.labels or {}),
                annotations=dict(worker.annotations or {}),
                taints=tuple(worker.taints or ()),
                volume=worker.volume,
                data_volumes=tuple(worker.dataVolumes or ()),
                provider_config=worker.providerConfig,
                cri=worker.cri.name if worker.cri else None,
                architecture=worker.machine.architecture,
                kubernetes_version=_pool_version(worker.kubernetes),
            )
        )
    return ShootInfo(
        name=str(meta["name"]),
        namespace=str(meta["namespace"]),
        uid=str(meta.get("uid") or ""),
        generation=int(meta.get("generation") or 0),
        project=project,
        technical_id=str(status.get("technicalID") or technical_id(project, str(meta["name"]))),
        seed_name=str(spec.seedName or ""),
        provider_type=spec.provider.type,
        region=spec.region,
        kubernetes_version=spec.kubernetes.version or "",
        secret_binding=spec.secretBindingName or "",
        cloud_profile=spec.cloudProfileName or (spec.cloudProfile.name if spec.cloudProfile else ""),
        hibernated=bool(spec.hibernation and spec.hibernation.enabled),
        deleting=bool(meta.get("deletionTimestamp")),
        services_cidr=(networking.services if networking else None)
        or defaults.get("services")
        or DEFAULT_SERVICES_CIDR,
        pods_cidr=(networking.pods if networking else None) or defaults.get("pods") or DEFAULT_PODS_CIDR,
        networking_type=(networking.type if networking else None) or "",
        infrastructure_config=spec.provider.infrastructureConfig,
        control_plane_config=spec.provider.controlPlaneConfig,
        workers=tuple(pools),
    )


def _int_or_string(value: Any, default: int) -> int | str:
    if value is None:
        return default
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if text.isdigit() else text


def _pool_version(kubernetes: dict[str, Any] | None) -> str | None:
    """A pool's `kubernetes.version`, when it sets one (the pool's kubelet may lag the control plane)."""
    version = (kubernetes or {}).get("version")
    return str(version) if version else None

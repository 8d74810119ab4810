"""The shoot's etcd: a StatefulSet with a volume claim per member, and the client Service the API server uses.

Clients find it through the Kubernetes service variables (`ETCD_MAIN_CLIENT_SERVICE_HOST`), so the same
manifests work on a real seed and on a local one without DNS. Scaling to zero (hibernation) keeps the claims and
so the data; `destroy` deletes the claims too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gardener.runtime.kube import resource_path
from gardenlet.components.base import ChartComponent, labels_selector, pods_left
from gardenlet.components.health import statefulset_problem

CONTROL_PLANE_ROLE = {"gardener.cloud/role": "controlplane"}


@dataclass(frozen=True, kw_only=True)
class EtcdValues:
    namespace: str
    image: str
    name: str = "etcd-main"
    role: str = "main"
    replicas: int = 1
    storage: str = "10Gi"
    storage_class: str = ""
    #: TLS between clients, members and etcd; off where the API server's etcd client cannot speak it
    tls: bool = True
    client_port: int = 2379
    peer_port: int = 2380
    snapshot_count: int = 10000
    quota_backend_bytes: int = 8 * 1024**3
    probe_period_seconds: int = 2
    volume_name: str = "main-etcd"
    secrets_checksum: str = ""

    @property
    def selector(self) -> dict[str, str]:
        return {"app": "etcd-statefulset", "role": self.role}

    @property
    def labels(self) -> dict[str, str]:
        return {**self.selector, **CONTROL_PLANE_ROLE}

    @property
    def client_service(self) -> str:
        return f"{self.name}-client"

    @property
    def client_url(self) -> str:
        """The URL clients reach etcd at, with `$(VAR)` references a kubelet expands."""
        variable = self.client_service.upper().replace("-", "_")
        scheme = "https" if self.tls else "http"
        return f"{scheme}://$({variable}_SERVICE_HOST):$({variable}_SERVICE_PORT)"


class Etcd(ChartComponent):
    chart = "etcd"
    values: EtcdValues

    def context(self) -> dict[str, Any]:
        return {**super().context(), "selector": self.values.selector, "labels": self.values.labels}

    async def problem(self) -> str | None:
        v = self.values
        sts = await self.kube.aget(resource_path("apps/v1", "StatefulSet", v.namespace, v.name))
        if sts is None:
            return f"statefulset {v.name} does not exist"
        if (problem := statefulset_problem(sts)) is not None:
            return problem
        return await pods_left(self.kube, v.namespace, v.selector) if v.replicas == 0 else None

    async def destroy(self) -> None:
        await super().destroy()
        v = self.values
        claims = await self.kube.araw(
            "GET",
            resource_path("v1", "PersistentVolumeClaim", v.namespace),
            params={"labelSelector": labels_selector(v.selector)},
        )
        for claim in (claims or {}).get("items") or []:
            await self.kube.adelete(
                resource_path("v1", "PersistentVolumeClaim", v.namespace, claim["metadata"]["name"])
            )

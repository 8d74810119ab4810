"""What every part of the agent shares: the API client, caches, address pools and settings of this node."""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extensions.provider_local.nodeagent.addresses import AddressPool
from extensions.provider_local.nodeagent.container import Backoff
from extensions.provider_local.nodeagent.expand import service_env
from extensions.provider_local.nodeagent.images import ImageTable
from extensions.provider_local.nodeagent.metrics import Metrics
from extensions.provider_local.nodeagent.tokens import TokenCache
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError
from gardener.runtime.informer import AsyncInformer
from gardener.runtime.kube import PODS

log = logging.getLogger("provider_local.nodeagent")


@dataclass(frozen=True)
class Node:
    client: AsyncKube
    name: str
    host_ip: str
    data_dir: Path
    images: ImageTable
    pod_ips: AddressPool
    pods: AsyncInformer
    secrets: AsyncInformer
    configmaps: AsyncInformer
    services: AsyncInformer
    backoff: Backoff
    max_grace: float
    metrics: Metrics
    #: where claims' data lives; None: `<data-dir>/pvc` (a machine's kubelet gets one its shoot's machines share)
    pvc_dir: Path | None = None
    #: node-local loopback addresses for Services whose cluster IP is not on loopback (a shoot's service network
    #: needs the machines' own network namespaces; until then a pod reaches such a Service at this address, which
    #: its `<SVC>_SERVICE_HOST` variables name)
    service_aliases: AddressPool | None = None
    #: projected service-account tokens of this node's pods
    tokens: TokenCache | None = None

    def service_address(self, cluster_ip: str) -> str:
        """Where pods on this node reach the Service with this cluster IP."""
        if cluster_ip.startswith("127.") or self.service_aliases is None:
            return cluster_ip
        return self.service_aliases.allocate(cluster_ip)

    def api_service_env(self) -> dict[str, str]:
        """`KUBERNETES_SERVICE_HOST` and friends, which every pod gets: the seed's API server itself."""
        url = urllib.parse.urlsplit(self.client.server)
        api = {"clusterIP": url.hostname or "127.0.0.1", "ports": [{"name": "https", "port": url.port or 443}]}
        return service_env([{"metadata": {"name": "kubernetes"}, "spec": api}])

    @property
    def pods_dir(self) -> Path:
        return self.data_dir / "pods"

    @property
    def pvc_root(self) -> Path:
        return self.pvc_dir or self.data_dir / "pvc"

    async def write_pod_status(self, namespace: str, name: str, uid: str, patch: dict[str, Any]) -> bool | None:
        """Merge-patch a pod's status; False when the pod is gone or replaced, None on a transient error."""
        cached = self.pods.get(namespace, name)
        if cached is None or cached["metadata"].get("uid") != uid:
            return False
        body = {"metadata": {"uid": uid}, "status": patch}
        try:
            await self.client.patch(PODS.path(namespace, name, "status"), body)
        except ApiError as exc:
            if exc.status in (404, 409, 422):
                return False
            log.warning("Cannot write pod status", extra={"pod": f"{namespace}/{name}", "error": str(exc)})
            return None
        return True

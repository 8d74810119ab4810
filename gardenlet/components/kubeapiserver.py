"""The shoot's API server: a Deployment, and a LoadBalancer Service that gives it its public address.

The Service comes first: its load balancer address goes into the serving certificate and the kubeconfig. The
Deployment reaches etcd through the etcd client Service's variables and reads its certificates and keys from the
Secrets of `gardenlet.components.secrets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gardener.runtime.kube import resource_path
from gardenlet.components.base import ChartComponent, deployment_problem_or_pods_left
from gardenlet.components.etcd import CONTROL_PLANE_ROLE

NAME = "kube-apiserver"
SELECTOR = {"app": "kubernetes", "role": "apiserver"}
LABELS = {**SELECTOR, **CONTROL_PLANE_ROLE}


@dataclass(frozen=True, kw_only=True)
class ServiceValues:
    namespace: str
    type: str = "LoadBalancer"
    port: int = 443
    target_port: int = 443


@dataclass(frozen=True)
class Endpoint:
    """Where the API server is reached: the load balancer's address and the in-cluster one."""

    external: str
    cluster_ip: str

    @property
    def url(self) -> str:
        host = f"[{self.external}]" if ":" in self.external else self.external
        return f"https://{host}"


def ingress_address(service: dict[str, Any]) -> str | None:
    for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        address = ingress.get("ip") or ingress.get("hostname")
        if address:
            return str(address)
    return None


class KubeAPIServerService(ChartComponent):
    chart = "kube-apiserver-service"
    values: ServiceValues

    def context(self) -> dict[str, Any]:
        return {**super().context(), "name": NAME, "selector": SELECTOR, "labels": LABELS}

    @property
    def path(self) -> str:
        return resource_path("v1", "Service", self.values.namespace, NAME)

    async def problem(self) -> str | None:
        service = await self.kube.aget(self.path)
        if service is None:
            return f"service {NAME} does not exist"
        if self.values.type == "LoadBalancer" and ingress_address(service) is None:
            return f"service {NAME} has no load balancer address yet"
        return None

    async def endpoint(self) -> Endpoint:
        """The addresses of a ready Service; call after `wait_ready`."""
        service = await self.kube.aget(self.path) or {}
        cluster_ip = str((service.get("spec") or {}).get("clusterIP") or "")
        return Endpoint(external=ingress_address(service) or cluster_ip, cluster_ip=cluster_ip)


@dataclass(frozen=True, kw_only=True)
class KubeAPIServerValues:
    namespace: str
    image: str
    etcd_servers: str
    advertise_address: str
    service_account_issuer: str
    service_cidr: str
    replicas: int = 1
    port: int = 443
    etcd_tls: bool = True
    #: the embedded API server signs CSRs itself (kube-controller-manager's job elsewhere), with the shoot CA
    embedded_csr_signer: bool = False
    probe_period_seconds: int = 2
    secrets_checksum: str = ""


class KubeAPIServer(ChartComponent):
    chart = "kube-apiserver"
    values: KubeAPIServerValues

    def context(self) -> dict[str, Any]:
        return {**super().context(), "selector": SELECTOR, "labels": LABELS}

    async def problem(self) -> str | None:
        v = self.values
        return await deployment_problem_or_pods_left(
            self.kube, namespace=v.namespace, name=NAME, selector=SELECTOR, replicas=v.replicas
        )

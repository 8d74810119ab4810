"""The shoot's kube-controller-manager: one Deployment in the seed namespace, running kube's image with Gardener's
command line.

It reaches the shoot API server with the kubeconfig Secret `shoot-access-kube-controller-manager` (a client
certificate of `system:kube-controller-manager`, which the API server's bootstrap RBAC binds), signs certificate
requests and publishes the root CA with the shoot CA, and signs legacy service-account tokens with the shoot's
service-account key (all from `gardenlet.components.secrets`). Hibernation scales it to zero and deletes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gardenlet.components.base import ChartComponent, deployment_problem_or_pods_left
from gardenlet.components.etcd import CONTROL_PLANE_ROLE
from gardenlet.components.secrets import KCM_KUBECONFIG, KUBECONFIG_KEY

NAME = "kube-controller-manager"
SELECTOR = {"app": "kubernetes", "role": "controller-manager"}
LABELS = {**SELECTOR, **CONTROL_PLANE_ROLE}
#: upstream's secure port: /healthz and /metrics over HTTPS
PORT = 10257
#: where Gardener mounts a component's shoot kubeconfig
KUBECONFIG_DIR = "/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig"
#: what Gardener enables beyond the defaults: the bootstrap-token signer and cleaner are off by default upstream
ENABLED_CONTROLLERS = ("*", "bootstrapsigner", "tokencleaner")


@dataclass(frozen=True, kw_only=True)
class KubeControllerManagerValues:
    namespace: str
    image: str
    #: --cluster-name; Gardener passes the shoot's seed namespace
    cluster_name: str
    service_cidr: str
    pods_cidr: str
    #: a workerless shoot runs no node, volume or node-range controllers and allocates no node CIDRs
    workerless: bool = False
    #: controllers switched off (`-name` in --controllers), upstream's names
    disabled_controllers: tuple[str, ...] = ()
    replicas: int = 1
    node_monitor_grace_period: str = "40s"
    secrets_checksum: str = ""

    @property
    def controllers(self) -> str:
        """The --controllers value as Gardener writes it: enabled names, then `-disabled` ones, each sorted."""
        enabled = sorted(set(ENABLED_CONTROLLERS) - set(self.disabled_controllers))
        return ",".join([*enabled, *(f"-{name}" for name in sorted(self.disabled_controllers))])


class KubeControllerManager(ChartComponent):
    chart = "kube-controller-manager"
    values: KubeControllerManagerValues

    def context(self) -> dict[str, Any]:
        v = self.values
        return {
            **super().context(),
            "name": NAME,
            "selector": SELECTOR,
            "labels": LABELS,
            "port": PORT,
            "controllers": v.controllers,
            "kubeconfig_secret": KCM_KUBECONFIG,
            "kubeconfig_dir": KUBECONFIG_DIR,
            "kubeconfig": f"{KUBECONFIG_DIR}/{KUBECONFIG_KEY}",
        }

    async def problem(self) -> str | None:
        v = self.values
        return await deployment_problem_or_pods_left(
            self.kube, namespace=v.namespace, name=NAME, selector=SELECTOR, replicas=v.replicas
        )

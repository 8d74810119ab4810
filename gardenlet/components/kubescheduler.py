"""The shoot's kube-scheduler: a Deployment in the seed namespace running kube's image, configured by a
`KubeSchedulerConfiguration` in the ConfigMap `kube-scheduler-config`, as Gardener deploys it.

The configuration names the kubeconfig Secret `shoot-access-kube-scheduler` (a client certificate of
`system:kube-scheduler`) as its client connection and turns leader election on. A changed configuration or
kubeconfig rolls the pod (checksums on its template). Hibernation scales it to zero and deletes nothing. Gardener
gives workerless shoots no scheduler: there is no node to schedule to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import yaml

from gardenlet.components.base import ChartComponent, deployment_problem_or_pods_left
from gardenlet.components.etcd import CONTROL_PLANE_ROLE
from gardenlet.components.kubecontrollermanager import KUBECONFIG_DIR
from gardenlet.components.secrets import KUBECONFIG_KEY, SCHEDULER_KUBECONFIG

NAME = "kube-scheduler"
SELECTOR = {"app": "kubernetes", "role": "scheduler"}
LABELS = {**SELECTOR, **CONTROL_PLANE_ROLE}
#: upstream's secure port: /healthz and /metrics over HTTPS
PORT = 10259
CONFIG_MAP = "kube-scheduler-config"
CONFIG_DIR = "/var/lib/kube-scheduler-config"
CONFIG_KEY = "config.yaml"


@dataclass(frozen=True, kw_only=True)
class KubeSchedulerValues:
    namespace: str
    image: str
    replicas: int = 1
    secrets_checksum: str = ""


def component_config(kubeconfig: str) -> str:
    """The scheduler's `KubeSchedulerConfiguration` (kubescheduler.config.k8s.io/v1), as Gardener writes it."""
    config = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": kubeconfig},
        "leaderElection": {"leaderElect": True},
    }
    return yaml.safe_dump(config, sort_keys=False)


class KubeScheduler(ChartComponent):
    chart = "kube-scheduler"
    values: KubeSchedulerValues

    def context(self) -> dict[str, Any]:
        kubeconfig = f"{KUBECONFIG_DIR}/{KUBECONFIG_KEY}"
        config = component_config(kubeconfig)
        return {
            **super().context(),
            "name": NAME,
            "selector": SELECTOR,
            "labels": LABELS,
            "port": PORT,
            "config_map": CONFIG_MAP,
            "config_dir": CONFIG_DIR,
            "config_key": CONFIG_KEY,
            "config": config,
            "config_checksum": hashlib.sha256(config.encode()).hexdigest()[:16],
            "kubeconfig_secret": SCHEDULER_KUBECONFIG,
            "kubeconfig_dir": KUBECONFIG_DIR,
            "kubeconfig": kubeconfig,
        }

    async def problem(self) -> str | None:
        v = self.values
        return await deployment_problem_or_pods_left(
            self.kube, namespace=v.namespace, name=NAME, selector=SELECTOR, replicas=v.replicas
        )

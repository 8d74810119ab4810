"""RBAC inside the shoot for the machine controller manager's identity.

The MCM (and, on a local seed, the machine processes it starts with the same credentials) registers the Nodes
of its Machines, keeps their status and Leases fresh, and deletes a Node with its Machine. Its client
certificate names the user `system:machine-controller-manager` and no group: this ClusterRole is all it may do
in the shoot, instead of the `system:masters` superuser it used to carry. The machines' kubelets use it
only to bootstrap a node identity of their own (a kubelet client certificate through a CSR, approved by the
shoot's kube-controller-manager); what they do afterwards they do as `system:node:<machine>`. Gardener deploys
the same kind of role into the shoot with the MCM's shoot chart.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from gardener.runtime.kube import Kube
from gardenlet.components.base import DEFAULT_TIMEOUTS, Timeouts, wait_for

RBAC = "/apis/rbac.authorization.k8s.io/v1"
NAME = "system:machine-controller-manager"

RULES: tuple[dict[str, Any], ...] = (
    {
        "apiGroups": [""],
        "resources": ["nodes"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["get", "update", "patch"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "patch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
    {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
    # the drain reads budgets to tell a misconfigured one from a busy one
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["get", "list", "watch"]},
    {
        "apiGroups": ["certificates.k8s.io"],
        "resources": ["certificatesigningrequests"],
        "verbs": ["create", "get", "list", "watch"],
    },
    # the machines' kubelets bootstrap their own node client certificates with these credentials
    {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/nodeclient"], "verbs": ["create"]},
)
#: what nodes (group system:nodes) are bound to in the shoot: renewing their own client certificates, and upstream's
#: system:node rules, which this API server grants by binding because it has no Node authorizer to narrow them
PROVISIONER = "gardener.cloud:system:local-volume-provisioner"
#: the local machines' kubelets bind claims to directories (provider-local's volume provisioner runs in them)
PROVISIONER_RULES: tuple[dict[str, Any], ...] = (
    {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [""], "resources": ["persistentvolumeclaims/status"], "verbs": ["patch"]},
)
NODE_BINDINGS = (
    ("gardener.cloud:system:nodes", "system:node"),
    # the local kubelets are their machines' kube-proxy as well
    ("gardener.cloud:system:node-proxiers", "system:node-proxier"),
    (PROVISIONER, PROVISIONER),
    (
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
    ),
)


@dataclass(frozen=True, kw_only=True)
class ShootRBACValues:
    #: the user name of the MCM's client certificate
    user: str = NAME


def manifests(values: ShootRBACValues) -> list[dict[str, Any]]:
    labels = {"gardener.cloud/role": "system-component", "resources.gardener.cloud/managed-by": "gardenlet"}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": NAME, "labels": labels},
            "rules": [dict(r) for r in RULES],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": PROVISIONER, "labels": labels},
            "rules": [dict(r) for r in PROVISIONER_RULES],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": NAME, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": values.user}],
        },
        *(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name, "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:nodes"}],
            }
            for name, role in NODE_BINDINGS
        ),
    ]


def _collection(obj: dict[str, Any]) -> str:
    return f"{RBAC}/{ {'ClusterRole': 'clusterroles', 'ClusterRoleBinding': 'clusterrolebindings'}[obj['kind']] }"


def _path(obj: dict[str, Any]) -> str:
    return f"{_collection(obj)}/{obj['metadata']['name']}"


class MachineControllerManagerRBAC:
    """The four verbs against the shoot's API server (`kube` is a client of the shoot, not of the seed)."""

    def __init__(self, kube: Kube, values: ShootRBACValues, *, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        self.kube = kube
        self.values = values
        self.timeouts = timeouts

    async def deploy(self) -> None:
        for obj in manifests(self.values):
            await asyncio.to_thread(self.kube.apply, _collection(obj), obj)

    async def problem(self) -> str | None:
        for obj in manifests(self.values):
            if await self.kube.aget(_path(obj)) is None:
                return f"{obj['kind']} {obj['metadata']['name']} does not exist in the shoot"
        return None

    async def wait_ready(self) -> None:
        await wait_for(self.problem, what="machine controller manager RBAC", timeout=self.timeouts.ready, interval=0.2)

    async def destroy(self) -> None:
        for obj in reversed(manifests(self.values)):
            await self.kube.adelete(_path(obj))

    async def wait_gone(self) -> None:
        async def left() -> str | None:
            names = [o["metadata"]["name"] for o in manifests(self.values) if await self.kube.aget(_path(o))]
            return f"{', '.join(names)} still exist" if names else None

        await wait_for(left, what="machine controller manager RBAC gone", timeout=self.timeouts.gone, interval=0.2)

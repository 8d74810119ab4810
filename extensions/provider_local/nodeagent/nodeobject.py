"""This machine's Node object and Lease: registered on start, Ready while the kubelet heartbeats.

As upstream's kubelet: the Node is created with its labels, taints and providerID (an existing one keeps what
others wrote and gets ours merged in), its status carries capacity, allocatable, the pressure conditions,
Ready, addresses, nodeInfo and the kubelet's port; the Lease `kube-node-lease/<node>` is renewed every
heartbeat, which is what the node lifecycle controller watches.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from extensions.provider_local.nodeagent.objects import now_rfc3339
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import LEASES, NODES

log = logging.getLogger("provider_local.nodeagent.node")

HEARTBEAT_SECONDS = 10.0
NODE_LEASE_NAMESPACE = "kube-node-lease"
#: upstream's default --max-pods
DEFAULT_MAX_PODS = "110"


def host_capacity() -> dict[str, str]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": str(os.cpu_count() or 1), "memory": f"{memory // 1024}Ki", "pods": DEFAULT_MAX_PODS}


@dataclass(frozen=True)
class NodeIdentity:
    """What the kubelet registers: its flags (`--node-labels`, `--register-with-taints`, `--provider-id` ...)."""

    name: str
    host_ip: str = "127.0.0.1"
    provider_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Mapping[str, Any]] = ()
    #: empty: the host's own cpu and memory
    capacity: Mapping[str, str] = field(default_factory=dict)
    kubelet_version: str = "v1.32.0"
    kubelet_port: int = 0
    heartbeat_seconds: float = HEARTBEAT_SECONDS

    def capacity_map(self) -> dict[str, str]:
        wanted = dict(self.capacity) if self.capacity else host_capacity()
        wanted.setdefault("pods", DEFAULT_MAX_PODS)
        return {k: v for k, v in wanted.items() if k in ("cpu", "memory", "pods", "ephemeral-storage")}

    def node_object(self) -> dict[str, Any]:
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            **self.labels,
        }
        spec: dict[str, Any] = {}
        if self.provider_id:
            spec["providerID"] = self.provider_id
        if self.taints:
            spec["taints"] = [dict(t) for t in self.taints]
        metadata: dict[str, Any] = {"name": self.name, "labels": labels}
        if self.annotations:
            metadata["annotations"] = dict(self.annotations)
        return {"apiVersion": "v1", "kind": "Node", "metadata": metadata, "spec": spec}


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_status(identity: NodeIdentity, *, ready: bool, transitions: Mapping[str, str]) -> dict[str, Any]:
    now = now_rfc3339()

    def condition(ctype: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": ctype,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": transitions.get(f"{ctype}={status}", now),
            "reason": reason,
            "message": message,
        }

    capacity = identity.capacity_map()
    status: dict[str, Any] = {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [
            condition(
                "MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"
            ),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
            if ready
            else condition("Ready", "False", "KubeletNotReady", "kubelet is stopping"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": identity.host_ip},
            {"type": "Hostname", "address": identity.name},
        ],
        "nodeInfo": {
            "machineID": identity.name,
            "systemUUID": identity.name,
            "bootID": str(os.getpid()),
            "architecture": "amd64",
            "operatingSystem": "linux",
            "osImage": "gardener local machine",
            "kernelVersion": platform.release(),
            "containerRuntimeVersion": "provider-local://host-processes",
            "kubeletVersion": identity.kubelet_version,
            "kubeProxyVersion": identity.kubelet_version,
        },
    }
    if identity.kubelet_port:
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": identity.kubelet_port}}
    return status


class NodeRegistration:
    """Registers the Node once, then every heartbeat writes its status and renews its Lease."""

    def __init__(self, client: AsyncKube, identity: NodeIdentity) -> None:
        self.client = client
        self.identity = identity
        self._transitions: dict[str, str] = {}

    async def register(self) -> None:
        node = self.identity.node_object()
        try:
            await self.client.create(NODES.path(), node)
            log.info("Registered node", extra={"node": self.identity.name})
        except ApiError as exc:
            if exc.status != 409:
                raise
            await self.client.patch(NODES.path(name=self.identity.name), {"metadata": node["metadata"]})
        await self.heartbeat(ready=True)

    async def heartbeat(self, *, ready: bool) -> None:
        try:
            await self._write_status(ready=ready)
            await self._renew_lease()
        except ApiError as exc:
            log.warning("Node heartbeat failed", extra={"node": self.identity.name, "error": str(exc)})

    async def _write_status(self, *, ready: bool) -> None:
        name = self.identity.name
        current = await self.client.get(NODES.path(name=name))
        if current is None:
            await self.client.create(NODES.path(), self.identity.node_object())
            current = {}
        for cond in (current.get("status") or {}).get("conditions") or []:
            key = f"{cond.get('type')}={cond.get('status')}"
            if cond.get("lastTransitionTime"):
                self._transitions.setdefault(key, str(cond["lastTransitionTime"]))
        status = node_status(self.identity, ready=ready, transitions=self._transitions)
        for cond in status["conditions"]:
            key = f"{cond['type']}={cond['status']}"
            # a condition that changed starts a new transition; the others keep theirs
            self._transitions = {k: v for k, v in self._transitions.items() if not k.startswith(f"{cond['type']}=")}
            self._transitions[key] = cond["lastTransitionTime"]
        await self.client.patch(NODES.path(name=name, subresource="status"), {"status": status})

    async def _renew_lease(self) -> None:
        path = LEASES.path(NODE_LEASE_NAMESPACE, self.identity.name)
        spec = {
            "holderIdentity": self.identity.name,
            "leaseDurationSeconds": max(int(self.identity.heartbeat_seconds * 4), 40),
            "renewTime": _micro_now(),
        }
        try:
            await self.client.patch(path, {"spec": spec})
        except ApiError as exc:
            if exc.status != 404:
                raise
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.identity.name, "namespace": NODE_LEASE_NAMESPACE},
                "spec": spec,
            }
            await self.client.create(LEASES.path(NODE_LEASE_NAMESPACE), lease)

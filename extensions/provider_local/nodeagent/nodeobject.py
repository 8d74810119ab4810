"""The seed's Node object for this machine: registered on start, Ready while the agent heartbeats."""

from __future__ import annotations

import logging
import os
import platform
from typing import Any

from extensions.provider_local.nodeagent.objects import now_rfc3339
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import NODES

log = logging.getLogger("provider_local.nodeagent.node")

HEARTBEAT_SECONDS = 20.0


def node_status(*, host_ip: str, ready: bool) -> dict[str, Any]:
    now = now_rfc3339()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    capacity = {"cpu": str(os.cpu_count() or 1), "memory": f"{memory // 1024}Ki", "pods": "1000"}
    return {
        "capacity": capacity,
        "allocatable": capacity,
        "addresses": [{"type": "InternalIP", "address": host_ip}, {"type": "Hostname", "address": platform.node()}],
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "KubeletReady" if ready else "KubeletStopped",
                "message": "provider-local node agent is posting ready status" if ready else "node agent stopped",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
        ],
        "nodeInfo": {
            "architecture": platform.machine(),
            "operatingSystem": "linux",
            "kernelVersion": platform.release(),
            "containerRuntimeVersion": "provider-local://host-processes",
            "kubeletVersion": "provider-local",
        },
    }


async def register(client: AsyncKube, name: str, *, host_ip: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node.gardener.cloud/provider": "local",
            },
        },
    }
    try:
        await client.create(NODES.path(), body)
    except ApiError as exc:
        if exc.status != 409:
            raise
    await heartbeat(client, name, host_ip=host_ip, ready=True)


async def heartbeat(client: AsyncKube, name: str, *, host_ip: str, ready: bool) -> None:
    status = node_status(host_ip=host_ip, ready=ready)
    try:
        current = await client.get(NODES.path(name=name))
        for cond in ((current or {}).get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("status") == status["conditions"][0]["status"]:
                status["conditions"][0]["lastTransitionTime"] = cond.get("lastTransitionTime")
        await client.patch(NODES.path(name=name, subresource="status"), {"status": status})
    except ApiError as exc:
        log.warning("Node heartbeat failed", extra={"node": name, "error": str(exc)})

"""The `kubernetes` Service in `default`, its Endpoints and EndpointSlice: how pods find the API server.

kube-apiserver's bootstrap controller keeps them pointing at the server's own address and port, and
puts them back when they are deleted or the port changes across a restart. The port is known only
once the server listens, so the first reconcile waits for it.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import ResourceInfo
from gardener.apiserver.rest import Context, ObjectStore
from gardener.runtime.tasks import cancel_task

log = logging.getLogger("gardener.apiserver.kubernetesservice")

NAME = "kubernetes"
NAMESPACE = "default"
SERVICE_PORT = 443
#: how often the objects are checked again (kube's bootstrap controller reconciles every 10 s)
INTERVAL = 10.0


@dataclass(frozen=True)
class MasterAddress:
    """Where the API server answers: the Endpoints' address and port."""

    ip: str
    port: int


def service_ip(cluster_ip_range: str) -> str:
    """The first address of --service-cluster-ip-range, which kube reserves for this Service."""
    return str(ipaddress.ip_network(cluster_ip_range, strict=False).network_address + 1)


def advertised_ip(bind_address: str) -> str:
    """The address to publish: the bind address, or loopback when the server binds every address."""
    address = ipaddress.ip_address(bind_address)
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return str(address)


def desired_objects(*, cluster_ip: str, master: MasterAddress) -> list[tuple[tuple[str, str, str], dict[str, Any]]]:
    """(group, version, plural) and the object, for the Service, its Endpoints and its EndpointSlice."""
    family = "IPv6" if ipaddress.ip_address(master.ip).version == 6 else "IPv4"
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"component": "apiserver", "provider": NAME}},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ports": [{"name": "https", "port": SERVICE_PORT, "protocol": "TCP", "targetPort": master.port}],
            "sessionAffinity": "None",
            "ipFamilies": ["IPv6" if ipaddress.ip_address(cluster_ip).version == 6 else "IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
    }
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        # the EndpointSlice below is written here too, so the mirroring controller must leave this one alone
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [
            {"addresses": [{"ip": master.ip}], "ports": [{"name": "https", "port": master.port, "protocol": "TCP"}]}
        ],
    }
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"kubernetes.io/service-name": NAME}},
        "addressType": family,
        "endpoints": [{"addresses": [master.ip], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": master.port, "protocol": "TCP"}],
    }
    return [
        (("", "v1", "services"), service),
        (("", "v1", "endpoints"), endpoints),
        (("discovery.k8s.io", "v1", "endpointslices"), slice_),
    ]


class KubernetesServiceController:
    def __init__(
        self,
        *,
        store: ObjectStore,
        cluster_ip_range: str,
        bind_address: str,
        port: Callable[[], int],
        interval: float = INTERVAL,
    ) -> None:
        self._store = store
        self._cluster_ip = service_ip(cluster_ip_range)
        self._ip = advertised_ip(bind_address)
        self._port = port
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kubernetes-service")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while not self._port():  # the server listens right after the controllers start
            await asyncio.sleep(0.01)
        while True:
            try:
                await self.reconcile()
            except StatusError as exc:
                log.warning("Reconciling the kubernetes Service failed", extra={"error": str(exc)})
            await asyncio.sleep(self._interval)

    async def reconcile(self) -> None:
        master = MasterAddress(ip=self._ip, port=self._port())
        for (group, version, plural), wanted in desired_objects(cluster_ip=self._cluster_ip, master=master):
            info = self._store.registry.get(group, version, plural)
            if info is not None:
                await self._ensure(info, wanted)

    async def _ensure(self, info: ResourceInfo, wanted: dict[str, Any]) -> None:
        ctx = Context(default_field_manager="kube-apiserver")
        if await self._store.backend.get(info.key(NAMESPACE, NAME)) is None:
            try:
                await self._store.create(info, NAMESPACE, copy.deepcopy(wanted), ctx=ctx)
            except StatusError as exc:
                if exc.code != 409:
                    raise
            return

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            for field, value in wanted.items():
                if field in ("apiVersion", "kind", "metadata"):
                    continue
                if field == "spec":
                    # only what the controller owns: a Service's spec also holds what defaulting filled in
                    spec = current.setdefault("spec", {})
                    for key in ("ports", "type"):
                        spec[key] = value[key]
                else:
                    current[field] = value
            labels = current["metadata"].setdefault("labels", {})
            labels.update(wanted["metadata"]["labels"])
            return current

        await self._store.guaranteed_update(info, NAMESPACE, NAME, mutate, ctx=ctx)


def _priority_class(name: str, value: int, description: str) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        "globalDefault": False,
        "preemptionPolicy": "PreemptLowerPriority",
        "description": description,
    }


#: what kube-apiserver's bootstrap creates besides namespaces and RBAC (values as upstream's SystemPriorityClasses)
SYSTEM_PRIORITY_CLASSES: tuple[dict[str, Any], ...] = (
    _priority_class(
        "system-node-critical", 2000001000, "For system pods that must stay on the node they were placed on."
    ),
    _priority_class(
        "system-cluster-critical", 2000000000, "For system pods the cluster needs, which may move to another node."
    ),
)

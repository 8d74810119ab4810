"""Services on this node: proxies on their loopback cluster IPs, load balancer addresses and NodePorts, as kube-proxy.

A LoadBalancer Service gets `status.loadBalancer.ingress[0].ip` from the load balancer network when this node
hands them out (provider-local's load balancers; one node per cluster does it). Every address forwards each
service port to the ready endpoints; while there is none, it refuses connections (see `proxy`).
Cluster IPs come from the API server and Endpoints from kube-controller-manager's endpoints controller; this
only reads them, as kube-proxy does. Only loopback cluster IPs are bound (a shoot's own service network
lives in its machines' network namespaces, not on this host's loopback).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from extensions.provider_local.nodeagent.addresses import AddressPool
from extensions.provider_local.nodeagent.objects import RETRY
from extensions.provider_local.nodeagent.proxy import Address, ProxyTable
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.informer import AsyncInformer, Key
from gardener.runtime.kube import SERVICES, Obj, key_of

log = logging.getLogger("provider_local.nodeagent.services")

BIND_RETRY_SECONDS = 5.0


def backends(svc_port: Obj, subsets: Sequence[Obj]) -> list[Address]:
    """Ready endpoint addresses for one service port (matched by port name, as kube-proxy does)."""
    name = str(svc_port.get("name") or "")
    out: list[Address] = []
    for subset in subsets:
        for port in subset.get("ports") or []:
            if str(port.get("name") or "") == name and port.get("protocol", "TCP") == "TCP":
                out += [(str(a["ip"]), int(port["port"])) for a in subset.get("addresses") or []]
    return out


class Services:
    def __init__(
        self,
        client: AsyncKube,
        *,
        services: AsyncInformer,
        endpoints: AsyncInformer,
        lb_ips: AddressPool,
        proxies: ProxyTable,
        load_balancers: bool = True,
        aliases: AddressPool | None = None,
        node_ip: str | None = None,
    ) -> None:
        self.aliases = aliases
        #: where this node serves NodePorts; None serves none (a node on the 127.0.0.1 every garden shares)
        self.node_ip = node_ip
        self.client = client
        self.services = services
        self.endpoints = endpoints
        self.lb_ips = lb_ips
        self.proxies = proxies
        self.load_balancers = load_balancers
        self.queue: AsyncController[Key] = AsyncController("services", self.reconcile, backoff=RETRY)
        self._alias_keys: dict[str, str] = {}

    def on_service(self, _: str, svc: Obj) -> None:
        self.queue.add(key_of(svc))

    def on_endpoints(self, _: str, ep: Obj) -> None:
        self.queue.add(key_of(ep))

    def start(self) -> None:
        """Reserve the load balancer addresses the API already shows, then work the queue."""
        for svc in self.services.items():
            for ingress in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                if ingress.get("ip") and self.load_balancers:
                    self.lb_ips.reserve("/".join(key_of(svc)), str(ingress["ip"]))
        for key in self.lb_ips.allocated_keys():
            namespace, _, name = key.partition("/")
            if self.services.get(namespace, name) is None:
                self.lb_ips.release(key)
        self.queue.start()
        for svc in self.services.items():
            self.queue.add(key_of(svc))

    def _local_address(self, key: str, cluster_ip: str) -> str:
        """The cluster IP itself on loopback, else this node's alias for it (see `runtime.Node.service_aliases`)."""
        if cluster_ip.startswith("127.") or self.aliases is None:
            return cluster_ip
        self._alias_keys[key] = cluster_ip
        return self.aliases.allocate(cluster_ip)

    def _release_alias(self, key: str) -> None:
        cluster_ip = self._alias_keys.pop(key, None)
        if cluster_ip is not None and self.aliases is not None:
            self.aliases.release(cluster_ip)

    async def reconcile(self, key: Key) -> Result:
        return Result(await self._reconcile(key))

    async def _reconcile(self, key: Key) -> float | None:
        namespace, name = key
        flat = f"{namespace}/{name}"
        svc = self.services.get(namespace, name)
        if svc is None or (svc.get("spec") or {}).get("type") == "ExternalName":
            await self.proxies.remove(flat)
            if self.load_balancers:
                self.lb_ips.release(flat)
            self._release_alias(flat)
            return None
        spec = svc.get("spec") or {}
        ip = str(spec.get("clusterIP") or "")
        subsets = list((self.endpoints.get(namespace, name) or {}).get("subsets") or [])
        addresses = [self._local_address(flat, ip)] if ip and ip != "None" else []
        balanced = spec.get("type") == "LoadBalancer"
        if balanced and self.load_balancers:
            current = (((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [{}])[0].get("ip")
            lb_ip = self.lb_ips.allocate(flat, preferred=current)
            if current != lb_ip:
                status = {"loadBalancer": {"ingress": [{"ip": lb_ip}]}}
                await self.client.patch(SERVICES.path(namespace, name, "status"), {"status": status})
            addresses.append(lb_ip)
        elif self.load_balancers:
            self.lb_ips.release(flat)
        elif balanced:
            # another node hands out the address; every node proxies it, as kube-proxy does
            ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            addresses += [str(i["ip"]) for i in ingress if str(i.get("ip") or "").startswith("127.")]
        wanted: dict[Address, list[Address]] = {}
        for port in spec.get("ports") or []:
            if port.get("protocol", "TCP") == "TCP" and isinstance(port.get("port"), int):
                for address in addresses:
                    wanted[(address, int(port["port"]))] = backends(port, subsets)
                node_port = port.get("nodePort")
                if self.node_ip and spec.get("type") in ("NodePort", "LoadBalancer") and isinstance(node_port, int):
                    wanted[(self.node_ip, node_port)] = backends(port, subsets)
        failed = await self.proxies.set(flat, wanted)
        if failed:
            log.warning("Cannot listen for a service", extra={"service": flat, "addresses": ", ".join(failed)})
            return BIND_RETRY_SECONDS
        return None

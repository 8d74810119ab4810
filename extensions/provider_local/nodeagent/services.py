"""Services: cluster IPs and load balancer addresses on loopback, Endpoints, and their proxies.

A Service without a cluster IP gets one from 127.2.0.0/16; a LoadBalancer Service also gets
`status.loadBalancer.ingress[0].ip` from 127.3.0.0/16. Both addresses forward every service port
to the ready pods the selector picks; while there is none, they refuse connections (see `proxy`).
In the legacy seed mode (`endpoints_writer`) the agent also hands out cluster IPs and writes the Endpoints of
selector Services like the endpoints controller does; beside kube-controller-manager and an API server that
allocates cluster IPs, it only reads them. Only loopback cluster IPs are bound (a shoot's own service network
lives in its machines' network namespaces, not on this host's loopback).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from extensions.provider_local.nodeagent.addresses import AddressPool
from extensions.provider_local.nodeagent.objects import RETRY, is_ready, is_terminating, matches_map
from extensions.provider_local.nodeagent.proxy import Address, ProxyTable
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.informer import DELETED, AsyncInformer, Key
from gardener.runtime.kube import ENDPOINTS, SERVICES, Obj, key_of

log = logging.getLogger("provider_local.nodeagent.services")

MANAGED = "provider-local.gardener.cloud/managed-by"
BIND_RETRY_SECONDS = 5.0


def _target_port(pod: Obj, target: Any) -> int | None:
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return None


def endpoint_subsets(svc: Obj, pods: Sequence[Obj]) -> list[Obj]:
    """The Endpoints subsets of a selector Service: pods grouped by their resolved port sets."""
    spec = svc.get("spec") or {}
    publish_unready = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], Obj] = {}
    for pod in sorted(pods, key=lambda p: str(p["metadata"]["name"])):
        ip = (pod.get("status") or {}).get("podIP")
        labels = pod["metadata"].get("labels") or {}
        if not ip or is_terminating(pod) or not matches_map(labels, spec.get("selector")):
            continue
        resolved = []
        for port in spec.get("ports") or []:
            number = _target_port(pod, port.get("targetPort", port.get("port")))
            if number is not None:
                resolved.append((str(port.get("name") or ""), number, str(port.get("protocol") or "TCP")))
        group = groups.setdefault(tuple(resolved), {"addresses": [], "notReadyAddresses": []})
        pm = pod["metadata"]
        address: Obj = {
            "ip": ip,
            "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
            "targetRef": {"kind": "Pod", "namespace": pm["namespace"], "name": pm["name"], "uid": pm["uid"]},
        }
        if (pod.get("spec") or {}).get("subdomain") == svc["metadata"]["name"]:
            address["hostname"] = (pod.get("spec") or {}).get("hostname") or pm["name"]
        group["addresses" if publish_unready or is_ready(pod) else "notReadyAddresses"].append(address)
    subsets = []
    for ports, group in groups.items():
        subset = {k: v for k, v in group.items() if v}
        if ports:
            subset["ports"] = [
                {**({"name": n} if n else {}), "port": number, "protocol": proto} for n, number, proto in ports
            ]
        subsets.append(subset)
    return subsets


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
        pods: AsyncInformer,
        endpoints: AsyncInformer,
        cluster_ips: AddressPool,
        lb_ips: AddressPool,
        proxies: ProxyTable,
        endpoints_writer: bool = True,
        load_balancers: bool = True,
    ) -> None:
        self.endpoints_writer = endpoints_writer
        self.load_balancers = load_balancers
        self.client = client
        self.services = services
        self.pods = pods
        self.endpoints = endpoints
        self.cluster_ips = cluster_ips
        self.lb_ips = lb_ips
        self.proxies = proxies
        self.queue: AsyncController[Key] = AsyncController("services", self.reconcile, backoff=RETRY)
        self._members: dict[Key, set[str]] = {}

    def on_service(self, _: str, svc: Obj) -> None:
        self.queue.add(key_of(svc))

    def on_pod(self, _: str, pod: Obj) -> None:
        namespace, name = key_of(pod)
        labels = pod["metadata"].get("labels") or {}
        for svc in self.services.items(namespace):
            key = key_of(svc)
            if matches_map(labels, (svc.get("spec") or {}).get("selector")) or name in self._members.get(key, ()):
                self.queue.add(key)

    def on_endpoints(self, kind: str, ep: Obj) -> None:
        if kind != DELETED or (ep["metadata"].get("annotations") or {}).get(MANAGED):
            self.queue.add(key_of(ep))

    def start(self) -> None:
        """Reserve the addresses the API already shows, then work the queue."""
        for svc in self.services.items():
            key = "/".join(key_of(svc))
            ip = (svc.get("spec") or {}).get("clusterIP")
            if ip:
                self.cluster_ips.reserve(key, str(ip))
            for ingress in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                if ingress.get("ip"):
                    self.lb_ips.reserve(key, str(ingress["ip"]))
        for pool in (self.cluster_ips, self.lb_ips):
            for key in pool.allocated_keys():
                namespace, _, name = key.partition("/")
                if self.services.get(namespace, name) is None:
                    pool.release(key)
        self.queue.start()
        for svc in self.services.items():
            self.queue.add(key_of(svc))

    async def reconcile(self, key: Key) -> Result:
        return Result(await self._reconcile(key))

    async def _reconcile(self, key: Key) -> float | None:
        namespace, name = key
        flat = f"{namespace}/{name}"
        svc = self.services.get(namespace, name)
        if svc is None or (svc.get("spec") or {}).get("type") == "ExternalName":
            await self.proxies.remove(flat)
            self.cluster_ips.release(flat)
            self.lb_ips.release(flat)
            self._members.pop(key, None)
            ep = self.endpoints.get(namespace, name)
            if svc is None and ep is not None and (ep["metadata"].get("annotations") or {}).get(MANAGED):
                await self.client.delete(ENDPOINTS.path(namespace, name))
            return None
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if not ip and self.endpoints_writer:
            ip = self.cluster_ips.allocate(flat)
            await self.client.patch(SERVICES.path(namespace, name), {"spec": {"clusterIP": ip, "clusterIPs": [ip]}})
        if spec.get("selector") and self.endpoints_writer:
            pods = [p for p in self.pods.items(namespace) if not is_terminating(p)]
            subsets = endpoint_subsets(svc, pods)
            self._members[key] = {
                a["targetRef"]["name"]
                for s in subsets
                for a in (s.get("addresses") or []) + (s.get("notReadyAddresses") or [])
            }
            await self._write_endpoints(svc, subsets)
        else:
            subsets = list((self.endpoints.get(namespace, name) or {}).get("subsets") or [])
        addresses = [str(ip)] if ip and ip != "None" and str(ip).startswith("127.") else []
        if spec.get("type") == "LoadBalancer" and self.load_balancers:
            current = (((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [{}])[0].get("ip")
            lb_ip = self.lb_ips.allocate(flat, preferred=current)
            if current != lb_ip:
                status = {"loadBalancer": {"ingress": [{"ip": lb_ip}]}}
                await self.client.patch(SERVICES.path(namespace, name, "status"), {"status": status})
            addresses.append(lb_ip)
        elif self.load_balancers:
            self.lb_ips.release(flat)
        if spec.get("type") == "LoadBalancer" and not self.load_balancers:
            # another node hands out the address; every node proxies it, as kube-proxy does
            ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            addresses += [str(i["ip"]) for i in ingress if str(i.get("ip") or "").startswith("127.")]
        wanted: dict[Address, list[Address]] = {}
        for port in spec.get("ports") or []:
            if port.get("protocol", "TCP") == "TCP" and isinstance(port.get("port"), int):
                for address in addresses:
                    wanted[(address, int(port["port"]))] = backends(port, subsets)
        failed = await self.proxies.set(flat, wanted)
        if failed:
            log.warning("Cannot listen for a service", extra={"service": flat, "addresses": ", ".join(failed)})
            return BIND_RETRY_SECONDS
        return None

    async def _write_endpoints(self, svc: Obj, subsets: list[Obj]) -> None:
        m = svc["metadata"]
        namespace, name = m["namespace"], m["name"]
        current = self.endpoints.get(namespace, name)
        labels = dict(m.get("labels") or {})
        if current is not None:
            cm = current["metadata"]
            if (current.get("subsets") or []) == subsets and (cm.get("labels") or {}) == labels:
                return
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": {MANAGED: "node-agent"},
            },
            "subsets": subsets,
        }
        if current is None:
            written = await self.client.create(ENDPOINTS.path(namespace), body)
        else:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            annotations = {**(current["metadata"].get("annotations") or {}), MANAGED: "node-agent"}
            body["metadata"]["annotations"] = annotations
            written = await self.client.replace(ENDPOINTS.path(namespace, name), body)
        rv = written["metadata"].get("resourceVersion")
        await self.endpoints.wait_for(
            namespace, name, lambda obj: obj is None or obj["metadata"].get("resourceVersion") == rv, 5.0
        )

"""endpointslice-controller: the `discovery.k8s.io/v1` EndpointSlices of every Service with a selector.

Each slice carries at most 100 endpoints (`--max-endpoints-per-slice`) that share one set of ports and one address
type, the labels `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io` (plus the Service's own labels and `service.kubernetes.io/headless`), a
controller owner reference to the Service (the garbage collector removes the slices with it) and the
`endpoints.kubernetes.io/last-change-trigger-time` annotation. An endpoint says ready/serving/terminating, and
names its pod, node and the node's `topology.kubernetes.io/zone`. A Service without endpoints keeps one empty
placeholder slice. As upstream's k8s.io/endpointslice reconciler, the plan changes as few slices as it can: an
endpoint stays in its slice, new ones fill slices already being written before new slices are made, and a slice
about to be deleted is reused for one about to be created.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.endpoints import (
    HEADLESS,
    TRIGGER_TIME,
    ServiceKeys,
    TriggerTimeTracker,
    find_port,
    format_time,
    is_ipv6,
    is_service_ip_set,
    pod_ips,
    pod_target,
    selects,
    service_families,
    should_be_in_endpoints,
    should_set_hostname,
)
from gardener.kube_controller_manager.objects import labels_of, meta, owner_ref
from gardener.kube_controller_manager.workloads import is_ready
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError, TemporaryError
from gardener.runtime.informer import AsyncInformer, Key
from gardener.runtime.kube import ENDPOINTSLICES, NODES, PODS, SERVICES, Obj

__all__ = ["Plan", "endpoint_ports", "plan_slices", "pod_endpoint", "setup", "slice_labels"]

log = logging.getLogger("gardener.kube_controller_manager.endpointslice")

NAME = "endpointslice-controller"
MANAGED_BY = "endpointslice-controller.k8s.io"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS = 100
ADDRESS_TYPES = {"IPv4": "IPv4", "IPv6": "IPv6"}


def pod_endpoint(
    pod: Mapping[str, Any], node: Mapping[str, Any] | None, service: Mapping[str, Any], address_type: str
) -> Obj:
    """upstream's podToEndpoint: never ready while terminating, unless the Service publishes not-ready pods."""
    serving = is_ready(pod)
    terminating = bool(meta(pod).get("deletionTimestamp"))
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    addresses = [ip for ip in pod_ips(pod) if is_ipv6(ip) == (address_type == "IPv6")]
    endpoint: Obj = {
        "addresses": addresses,
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": pod_target(pod),
    }
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        endpoint["nodeName"] = node_name
    zone = labels_of(node).get(ZONE_LABEL) if node is not None else None
    if zone:
        endpoint["zone"] = zone
    if should_set_hostname(pod, service):
        endpoint["hostname"] = pod["spec"]["hostname"]
    return endpoint


def endpoint_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    """The Service's ports as this pod offers them; none for a headless Service without ports."""
    spec = service.get("spec") or {}
    ports: list[Obj] = []
    for service_port in spec.get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: Obj = {
            "name": service_port.get("name") or "",
            "port": number,
            "protocol": service_port.get("protocol") or "TCP",
        }
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def slice_labels(service: Mapping[str, Any]) -> dict[str, str]:
    """The Service's labels without the reserved ones, then the reserved ones as the controller sets them."""
    reserved = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS)
    labels = {k: v for k, v in labels_of(service).items() if k not in reserved}
    if not is_service_ip_set(service):
        labels[HEADLESS] = ""
    labels[SERVICE_NAME_LABEL] = str(meta(service).get("name") or "")
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    return labels


def _port_key(ports: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, int, str, str], ...]:
    return tuple(
        sorted(
            (
                str(p.get("name") or ""),
                int(p.get("port") or 0),
                str(p.get("protocol") or ""),
                str(p.get("appProtocol") or ""),
            )
            for p in ports
        )
    )


def _endpoint_key(endpoint: Mapping[str, Any]) -> tuple[tuple[str, ...], str, str, str]:
    """upstream's hashEndpoint: addresses, hostname and the pod it stands for."""
    ref = endpoint.get("targetRef") or {}
    return (
        tuple(sorted(endpoint.get("addresses") or [])),
        str(endpoint.get("hostname") or ""),
        str(ref.get("namespace") or ""),
        str(ref.get("name") or ""),
    )


def _same_endpoint(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def norm(e: Mapping[str, Any]) -> tuple[Any, ...]:
        ref = {k: v for k, v in (e.get("targetRef") or {}).items() if k != "resourceVersion"}
        return (e.get("nodeName"), e.get("zone"), e.get("conditions") or {}, ref)

    return bool(norm(a) == norm(b))


def _owned_by(slice_: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    uid = meta(service).get("uid")
    refs = meta(slice_).get("ownerReferences") or []
    return any(r.get("uid") == uid and r.get("kind") == "Service" and r.get("apiVersion") == "v1" for r in refs)


def new_slice(service: Mapping[str, Any], *, ports: list[Obj], address_type: str) -> Obj:
    m = meta(service)
    body: Obj = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{m.get('name', '')}-",
            "namespace": m.get("namespace", ""),
            "labels": slice_labels(service),
            "ownerReferences": [owner_ref({"apiVersion": "v1", "kind": "Service", "metadata": m})],
        },
        "addressType": address_type,
        "endpoints": [],
    }
    if ports:
        body["ports"] = ports
    return body


@dataclass
class Plan:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)


def _plan_ports(
    service: Mapping[str, Any],
    existing: list[Obj],
    ports: list[Obj],
    endpoints: list[Obj],
    *,
    address_type: str,
    max_per_slice: int,
) -> Plan:
    """upstream's reconcileByPortMapping for the slices of one port set."""
    plan = Plan()
    wanted = {_endpoint_key(e): e for e in endpoints}
    labels = slice_labels(service)
    updating: list[Obj] = []
    unchanged: list[Obj] = []
    for old in existing:
        kept: list[Obj] = []
        changed = False
        for endpoint in old.get("endpoints") or []:
            new = wanted.pop(_endpoint_key(endpoint), None)
            if new is None:
                changed = True
                continue
            changed = changed or not _same_endpoint(endpoint, new)
            kept.append(new)
        if not kept:
            plan.delete.append(old)
            continue
        body = copy.deepcopy(old)
        body["endpoints"] = kept
        if changed or labels_of(old) != labels:
            body["metadata"]["labels"] = labels
            updating.append(body)
        else:
            unchanged.append(body)
    remaining = sorted(wanted.values(), key=_endpoint_key)
    for body in sorted(updating, key=lambda s: -len(s["endpoints"])):
        room = max_per_slice - len(body["endpoints"])
        if room > 0 and remaining:
            body["endpoints"].extend(remaining[:room])
            remaining = remaining[room:]
    creating: list[Obj] = []
    while remaining:
        target: Obj | None = None
        if len(remaining) < max_per_slice and unchanged:
            # the unchanged slice that the rest fills closest to full (upstream's getSliceToFill)
            fits = [s for s in unchanged if len(s["endpoints"]) + len(remaining) <= max_per_slice]
            target = max(fits, key=lambda s: len(s["endpoints"]), default=None)
            if target is not None:
                unchanged.remove(target)
                target["metadata"]["labels"] = labels
                updating.append(target)
        if target is None:
            target = new_slice(service, ports=ports, address_type=address_type)
            creating.append(target)
        room = max_per_slice - len(target["endpoints"])
        target["endpoints"].extend(remaining[:room])
        remaining = remaining[room:]
    plan.update.extend(updating)
    plan.create.extend(creating)
    return plan


def plan_slices(
    service: Mapping[str, Any],
    desired: Mapping[tuple[Any, ...], tuple[list[Obj], list[Obj]]],
    existing: list[Obj],
    *,
    address_type: str,
    max_per_slice: int = MAX_ENDPOINTS,
) -> Plan:
    """What to create, update and delete so that the slices of one address type hold `desired` (port key ->
    (ports, endpoints)); `existing` are this controller's slices of the Service with that address type."""
    plan = Plan()
    by_ports: dict[tuple[Any, ...], list[Obj]] = {}
    for slice_ in existing:
        if _owned_by(slice_, service):
            by_ports.setdefault(_port_key(slice_.get("ports") or []), []).append(slice_)
        else:
            plan.delete.append(slice_)
    for key, (ports, endpoints) in desired.items():
        part = _plan_ports(
            service, by_ports.get(key, []), ports, endpoints, address_type=address_type, max_per_slice=max_per_slice
        )
        plan.create.extend(part.create)
        plan.update.extend(part.update)
        plan.delete.extend(part.delete)
    for key, slices in by_ports.items():
        if key not in desired:
            plan.delete.extend(slices)
    if len(plan.delete) == len(existing) and not plan.create:
        placeholder = [
            s for s in plan.delete if _owned_by(s, service) and not s.get("endpoints") and not s.get("ports")
        ]
        if len(plan.delete) == 1 and placeholder and labels_of(placeholder[0]) == slice_labels(service):
            plan.delete = []
        else:
            plan.create.append(new_slice(service, ports=[], address_type=address_type))
    # reuse a slice about to be deleted for one about to be created (fewer watch events for consumers)
    for i, body in enumerate(plan.create):
        reusable = next((s for s in plan.delete if _owned_by(s, service)), None)
        if reusable is None:
            break
        plan.delete.remove(reusable)
        m = body["metadata"]
        m.pop("generateName", None)
        m["name"] = meta(reusable).get("name")
        m["resourceVersion"] = meta(reusable).get("resourceVersion")
        if meta(reusable).get("annotations"):
            m["annotations"] = dict(meta(reusable)["annotations"])
        plan.update.append(body)
        plan.create[i] = {}
    plan.create = [c for c in plan.create if c]
    return plan


class EndpointSliceController:
    def __init__(self, ctx: ControllerContext, *, client: AsyncKube, max_per_slice: int = MAX_ENDPOINTS) -> None:
        self.client = client
        self.max_per_slice = max_per_slice
        self.services: AsyncInformer = ctx.informer(SERVICES)
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.nodes: AsyncInformer = ctx.informer(NODES)
        self.slices: AsyncInformer = ctx.informer(ENDPOINTSLICES)
        self.tracker = TriggerTimeTracker()
        self.controller: AsyncController[Key] = AsyncController(
            NAME, self.reconcile, workers=max(ctx.options.workers, 1)
        )
        self._zones: dict[str, str] = {}
        self.services.add_handler(lambda _kind, svc: self.controller.add(_key(svc)))
        self.pods.add_handler(ServiceKeys(self.services, self.controller.add).on_pod)
        self.slices.add_handler(self._on_slice)
        self.nodes.add_handler(self._on_node)

    def start(self) -> None:
        self.controller.start()

    async def stop(self) -> None:
        await self.controller.stop()

    def _on_slice(self, _kind: str, slice_: Obj) -> None:
        labels = labels_of(slice_)
        if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(SERVICE_NAME_LABEL):
            self.controller.add((str(meta(slice_).get("namespace") or ""), labels[SERVICE_NAME_LABEL]))

    def _on_node(self, kind: str, node: Obj) -> None:
        """A Node that comes, goes or changes zone changes the endpoints of the pods on it."""
        name = str(meta(node).get("name") or "")
        zone = "" if kind == "DELETED" else labels_of(node).get(ZONE_LABEL, "")
        if name in self._zones and self._zones[name] == zone and kind == "MODIFIED":
            return
        self._zones[name] = zone
        on_node = {
            str(meta(p).get("namespace") or "")
            for p in self.pods.items()
            if (p.get("spec") or {}).get("nodeName") == name
        }
        for namespace in on_node:
            for service in self.services.items(namespace):
                self.controller.add(_key(service))

    def _desired(
        self, service: Obj, pods: list[Obj], address_type: str
    ) -> tuple[dict[tuple[Any, ...], tuple[list[Obj], list[Obj]]], list[str]]:
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        desired: dict[tuple[Any, ...], tuple[list[Obj], list[Obj]]] = {}
        missing: list[str] = []
        for pod in pods:
            if not should_be_in_endpoints(pod, include_terminating=True):
                continue
            ports = endpoint_ports(service, pod)
            group = desired.setdefault(_port_key(ports), (ports, []))
            node_name = str((pod.get("spec") or {}).get("nodeName") or "")
            node = self.nodes.get("", node_name) if node_name else None
            if node is None and not publish:
                # upstream: leave the pod out for now and look again, rather than publish an endpoint on no Node
                missing.append(f"{meta(pod).get('name')}@{node_name}")
                continue
            endpoint = pod_endpoint(pod, node, service, address_type)
            if endpoint["addresses"]:
                group[1].append(endpoint)
        return desired, missing

    async def reconcile(self, key: Key) -> Result | None:
        namespace, name = key
        service = self.services.get(namespace, name)
        if service is None:
            self.tracker.delete(namespace, name)
            return None  # the garbage collector removes the slices with their owner
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or spec.get("selector") is None:
            return None
        pods = [p for p in self.pods.items(namespace) if selects(service, labels_of(p))]
        trigger = self.tracker.compute(service, pods)
        mine = [
            s
            for s in self.slices.items(namespace)
            if labels_of(s).get(SERVICE_NAME_LABEL) == name and labels_of(s).get(MANAGED_BY_LABEL) == MANAGED_BY
        ]
        families = {ADDRESS_TYPES[f] for f in service_families(service)}
        plan = Plan(delete=[s for s in mine if s.get("addressType") not in families])
        missing: list[str] = []
        for address_type in sorted(families):
            desired, lost = self._desired(service, pods, address_type)
            missing.extend(lost)
            existing = [s for s in mine if s.get("addressType") == address_type]
            part = plan_slices(service, desired, existing, address_type=address_type, max_per_slice=self.max_per_slice)
            plan.create.extend(part.create)
            plan.update.extend(part.update)
            plan.delete.extend(part.delete)
        await self._write(plan, trigger)
        if missing:
            skipped = ", ".join(sorted(set(missing)))
            raise TemporaryError(f"skipping pods of Service {namespace}/{name} whose Node is not found: {skipped}")
        return None

    async def _write(self, plan: Plan, trigger: float | None) -> None:
        for body in [*plan.create, *plan.update]:
            annotations = dict(meta(body).get("annotations") or {})
            if trigger is not None:
                annotations[TRIGGER_TIME] = format_time(trigger)
            else:
                annotations.pop(TRIGGER_TIME, None)
            if annotations:
                body["metadata"]["annotations"] = annotations
            else:
                body["metadata"].pop("annotations", None)
        for body in plan.create:
            await self.client.create(ENDPOINTSLICES.path(body["metadata"]["namespace"]), body)
        for body in plan.update:
            m = body["metadata"]
            await self.client.replace(ENDPOINTSLICES.path(m["namespace"], m["name"]), body)
        for old in plan.delete:
            m = meta(old)
            try:
                await self.client.delete(ENDPOINTSLICES.path(str(m.get("namespace")), str(m.get("name"))))
            except ApiError as exc:
                if exc.status != 404:
                    raise


def _key(obj: Mapping[str, Any]) -> Key:
    m = meta(obj)
    return (str(m.get("namespace") or ""), str(m.get("name") or ""))


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(NAME)
    return [EndpointSliceController(ctx, client=client, max_per_slice=ctx.options.max_endpoints_per_slice)]

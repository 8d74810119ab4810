"""endpoints-controller: the Endpoints of every Service with a selector, from the pods it selects.

Ready pods with an IP become `addresses`, the others `notReadyAddresses` (all of them `addresses` when the
Service has `publishNotReadyAddresses`), with the Service's ports resolved against each pod (a named targetPort
through the pod's container ports); subsets are packed into upstream's canonical form, capped at 1000 addresses,
labelled `service.kubernetes.io/headless` for headless Services and annotated with
`endpoints.kubernetes.io/last-change-trigger-time`, as upstream's pkg/controller/endpoint does. Endpoints go
with their Service. Services without a selector (the API server's own `kubernetes` Service among them) and
ExternalName Services are never touched: their Endpoints belong to someone else.

The pod and Service helpers here (readiness, port resolution, selection, the trigger-time tracker) are shared
with the EndpointSlice controller, as upstream's k8s.io/endpointslice/util is.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.objects import condition, labels_of, meta, parse_time
from gardener.kube_controller_manager.workloads import is_ready
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError, Forbidden
from gardener.runtime.events import WARNING, EventRecorder
from gardener.runtime.informer import DELETED, MODIFIED, AsyncInformer, Key
from gardener.runtime.kube import ENDPOINTS, PODS, SERVICES, Obj

__all__ = [
    "HEADLESS",
    "TRIGGER_TIME",
    "ServiceKeys",
    "TriggerTimeTracker",
    "build_subsets",
    "endpoint_port",
    "find_port",
    "format_time",
    "is_ipv6",
    "is_service_ip_set",
    "pod_ips",
    "pod_target",
    "repack",
    "selects",
    "service_families",
    "service_labels",
    "setup",
    "should_be_in_endpoints",
    "should_set_hostname",
    "truncate",
]

log = logging.getLogger("gardener.kube_controller_manager.endpoints")

NAME = "endpoint-controller"
HEADLESS = "service.kubernetes.io/headless"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_CAPACITY = 1000


# ---- pods and services (shared with the EndpointSlice controller) ----


def pod_ips(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    ips = [str(p.get("ip")) for p in status.get("podIPs") or [] if isinstance(p, Mapping) and p.get("ip")]
    return ips or ([str(status["podIP"])] if status.get("podIP") else [])


def should_be_in_endpoints(pod: Mapping[str, Any], *, include_terminating: bool) -> bool:
    """upstream's ShouldPodBeInEndpoints: not finished, has an IP, and not terminating unless asked."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not meta(pod).get("deletionTimestamp")


def should_set_hostname(pod: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == meta(service).get("name")
        and meta(service).get("namespace") == meta(pod).get("namespace")
    )


def is_ipv6(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).version == 6
    except ValueError:
        return False


def is_service_ip_set(service: Mapping[str, Any]) -> bool:
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return cluster_ip not in ("", "None")


def service_families(service: Mapping[str, Any]) -> list[str]:
    """The Service's IP families; from its cluster IP when an old server set none, both for headless ones."""
    spec = service.get("spec") or {}
    families = [str(f) for f in spec.get("ipFamilies") or [] if f in ("IPv4", "IPv6")]
    if families:
        return families
    if is_service_ip_set(service):
        return ["IPv6" if is_ipv6(str(spec.get("clusterIP"))) else "IPv4"]
    return ["IPv4", "IPv6"]


def selects(service: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Service selector is a plain label set; a missing one selects nothing, an empty one everything."""
    selector = (service.get("spec") or {}).get("selector")
    if selector is None:
        return False
    return all(labels.get(k) == v for k, v in selector.items())


def find_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int | None:
    """upstream's FindPort: a number is taken as it is; a name is looked up among the container ports of the
    pod's containers and sidecars (restartable init containers) with the same protocol."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if not isinstance(target, str) or not target:
        return None
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in [*(spec.get("containers") or []), *sidecars]:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port.get("containerPort") or 0)
    return None


def format_time(seconds: float) -> str:
    """Go's RFC3339Nano in UTC: fractional seconds only when there are any, trailing zeros trimmed."""
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


@dataclass
class _ServiceState:
    service_time: float
    pod_times: dict[str, float] = field(default_factory=dict)


class TriggerTimeTracker:
    """upstream's TriggerTimeTracker: the time of the earliest change (a pod's Ready transition, the Service's
    creation) not yet reflected in a Service's endpoints; None means "no new trigger"."""

    def __init__(self) -> None:
        self._states: dict[Key, _ServiceState] = {}

    def compute(self, service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> float | None:
        m = meta(service)
        key = (str(m.get("namespace") or ""), str(m.get("name") or ""))
        created = parse_time(m.get("creationTimestamp")) or 0.0
        state = self._states.get(key)
        earliest: float | None = None
        times: dict[str, float] = {}
        for pod in pods:
            when = parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime"))
            if when is None:
                continue
            name = str(meta(pod).get("name") or "")
            times[name] = when
            if state is None or when > state.pod_times.get(name, 0.0):
                earliest = when if earliest is None else min(earliest, when)
        if state is not None and created > state.service_time:
            earliest = created if earliest is None else min(earliest, created)
        self._states[key] = _ServiceState(service_time=created, pod_times=times)
        if state is None:
            return created or None
        return earliest

    def delete(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)


# ---- Endpoints subsets ----


def _address(service: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj | None:
    """upstream's podToEndpointAddressForService: the pod IP of the Service's (first) family."""
    spec = service.get("spec") or {}
    ips = pod_ips(pod)
    if spec.get("ipFamilies"):
        ipv6 = spec["ipFamilies"][0] == "IPv6"
    elif is_service_ip_set(service):
        ipv6 = is_ipv6(str(spec.get("clusterIP")))
    else:
        ipv6 = bool(ips) and is_ipv6(ips[0])
    ip = next((ip for ip in ips if is_ipv6(ip) == ipv6), None)
    if ip is None:
        return None
    address: Obj = {"ip": ip}
    if (pod.get("spec") or {}).get("nodeName"):
        address["nodeName"] = pod["spec"]["nodeName"]
    address["targetRef"] = pod_target(pod)
    if should_set_hostname(pod, service):
        address["hostname"] = pod["spec"]["hostname"]
    return address


def pod_target(pod: Mapping[str, Any]) -> Obj:
    m = meta(pod)
    return {"kind": "Pod", "namespace": m.get("namespace", ""), "name": m.get("name", ""), "uid": m.get("uid", "")}


def endpoint_port(service_port: Mapping[str, Any], number: int) -> Obj:
    port: Obj = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port = {"name": service_port["name"], **port}
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _address_order(address: Mapping[str, Any]) -> tuple[str, str]:
    return (str(address.get("ip") or ""), str((address.get("targetRef") or {}).get("uid") or ""))


def repack(entries: Iterable[tuple[Obj, Obj | None, bool]]) -> list[Obj]:
    """upstream's RepackSubsets: one subset per set of addresses offering the same ports; an address that is
    not ready for one port is not ready at all for it; addresses de-duplicated by IP and pod uid; sorted."""
    addresses: dict[tuple[str, str], Obj] = {}
    by_port: dict[str, tuple[Obj | None, dict[tuple[str, str], bool]]] = {}
    for address, port, ready in entries:
        key = _address_order(address)
        addresses.setdefault(key, address)
        _, readiness = by_port.setdefault(_canonical(port), (port, {}))
        if readiness.get(key, True):
            readiness[key] = ready
    groups: dict[tuple[tuple[tuple[str, str], bool], ...], list[Obj | None]] = {}
    for port, readiness in by_port.values():
        groups.setdefault(tuple(sorted(readiness.items())), []).append(port)
    subsets: list[Obj] = []
    for members, ports in groups.items():
        subset: Obj = {}
        up = sorted((addresses[k] for k, r in members if r), key=_address_order)
        down = sorted((addresses[k] for k, r in members if not r), key=_address_order)
        if up:
            subset["addresses"] = up
        if down:
            subset["notReadyAddresses"] = down
        real = sorted((p for p in ports if p is not None), key=_canonical)
        if real:
            subset["ports"] = real
        subsets.append(subset)
    return sorted(subsets, key=_canonical)


def build_subsets(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Obj]:
    spec = service.get("spec") or {}
    tolerate = bool(spec.get("publishNotReadyAddresses"))
    ports = [p for p in spec.get("ports") or [] if isinstance(p, Mapping)]
    entries: list[tuple[Obj, Obj | None, bool]] = []
    for pod in pods:
        if not should_be_in_endpoints(pod, include_terminating=tolerate):
            continue
        address = _address(service, pod)
        if address is None:
            continue
        ready = tolerate or is_ready(pod)
        if not ports:
            if spec.get("clusterIP") == "None":
                entries.append((address, None, ready))
            continue
        for service_port in ports:
            number = find_port(pod, service_port)
            if number is not None:
                entries.append((address, endpoint_port(service_port, number), ready))
    return repack(entries)


def _count(subsets: Iterable[Mapping[str, Any]]) -> int:
    return sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or []) for s in subsets)


def truncate(subsets: list[Obj], *, capacity: int = MAX_CAPACITY) -> bool:
    """upstream's truncateEndpoints: keep at most `capacity` addresses, ready ones first, each subset keeping its
    share; True when something was cut."""
    ready_total = sum(len(s.get("addresses") or []) for s in subsets)
    not_ready_total = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if ready_total + not_ready_total <= capacity:
        return False
    cut_ready = ready_total > capacity
    budget, total = (capacity, ready_total) if cut_ready else (capacity - ready_total, not_ready_total)
    left = budget
    for subset in subsets:
        field_name = "addresses" if cut_ready else "notReadyAddresses"
        members = list(subset.get(field_name) or [])
        share = min(math.ceil(len(members) / total * budget) if total else 0, left)
        kept = members[:share]
        subset[field_name] = kept
        if cut_ready:
            subset.pop("notReadyAddresses", None)
        left -= len(kept)
        if not kept:
            subset.pop(field_name, None)
    return True


def _without_rv(subsets: Any) -> Any:
    """Subsets compared without the pods' resourceVersions, as upstream does."""
    out = copy.deepcopy(subsets or [])
    for subset in out:
        for field_name in ("addresses", "notReadyAddresses"):
            for address in subset.get(field_name) or []:
                (address.get("targetRef") or {}).pop("resourceVersion", None)
    return out


def service_labels(service: Mapping[str, Any], *, headless: bool) -> dict[str, str]:
    labels = labels_of(service)
    labels.pop(HEADLESS, None)
    if headless:
        labels[HEADLESS] = ""
    return labels


# ---- the controller ----


class ServiceKeys:
    """Which Services a pod event concerns: those selecting its labels now and those that selected them before."""

    def __init__(self, services: AsyncInformer, enqueue: Callable[[Key], None]) -> None:
        self.services = services
        self.enqueue = enqueue
        self._labels: dict[Key, dict[str, str]] = {}

    def on_pod(self, kind: str, pod: Obj) -> None:
        m = meta(pod)
        key = (str(m.get("namespace") or ""), str(m.get("name") or ""))
        labels = labels_of(pod)
        old = self._labels.pop(key, None) if kind == DELETED else self._labels.get(key)
        if kind != DELETED:
            self._labels[key] = labels
        for service in self.services.items(key[0]):
            if selects(service, labels) or (kind == MODIFIED and old is not None and selects(service, old)):
                self.enqueue((key[0], str(meta(service).get("name") or "")))


class EndpointsController:
    def __init__(self, ctx: ControllerContext, *, client: AsyncKube, recorder: EventRecorder) -> None:
        self.client = client
        self.recorder = recorder
        self.services: AsyncInformer = ctx.informer(SERVICES)
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.endpoints: AsyncInformer = ctx.informer(ENDPOINTS)
        self.tracker = TriggerTimeTracker()
        self.controller: AsyncController[Key] = AsyncController(
            NAME, self.reconcile, workers=max(ctx.options.workers, 1)
        )
        self.services.add_handler(lambda _kind, svc: self.controller.add(_key(svc)))
        self.pods.add_handler(ServiceKeys(self.services, self.controller.add).on_pod)
        self.endpoints.add_handler(lambda kind, ep: self.controller.add(_key(ep)) if kind == DELETED else None)

    def start(self) -> None:
        self.controller.start()
        # upstream's checkLeftoverEndpoints: Endpoints whose Service went while nobody watched
        for ep in self.endpoints.items():
            if LEADER_ANNOTATION not in (meta(ep).get("annotations") or {}):
                self.controller.add(_key(ep))

    async def stop(self) -> None:
        await self.controller.stop()

    async def reconcile(self, key: Key) -> Result | None:
        namespace, name = key
        service = self.services.get(namespace, name)
        if service is None:
            await self.client.delete(ENDPOINTS.path(namespace, name))
            self.tracker.delete(namespace, name)
            return None
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or spec.get("selector") is None:
            return None
        pods = [p for p in self.pods.items(namespace) if selects(service, labels_of(p))]
        trigger = self.tracker.compute(service, pods)
        subsets = build_subsets(service, pods)
        current = self.endpoints.get(namespace, name)
        headless = not is_service_ip_set(service)
        if current is not None:
            labels = labels_of(current)
            labels.pop(HEADLESS, None)
            annotations = meta(current).get("annotations") or {}
            capacity_ok = _count(current.get("subsets") or []) <= MAX_CAPACITY and OVER_CAPACITY not in annotations
            same = _without_rv(current.get("subsets")) == _without_rv(subsets)
            if same and labels == service_labels(service, headless=False) and capacity_ok:
                return None
        body: Obj = (
            copy.deepcopy(current)
            if current is not None
            else {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": namespace},
            }
        )
        m = body["metadata"]
        annotations = dict(m.get("annotations") or {})
        if trigger is not None:
            annotations[TRIGGER_TIME] = format_time(trigger)
        else:
            annotations.pop(TRIGGER_TIME, None)
        if truncate(subsets):
            annotations[OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY, None)
        _set_or_drop(m, "annotations", annotations)
        _set_or_drop(m, "labels", service_labels(service, headless=headless))
        _set_or_drop(body, "subsets", subsets)
        try:
            if current is None:
                await self.client.create(ENDPOINTS.path(namespace), body)
            else:
                await self.client.replace(ENDPOINTS.path(namespace, name), body)
        except ApiError as exc:
            if current is None and isinstance(exc, Forbidden) and _namespace_terminating(exc):
                return None
            reason, message = (
                ("FailedToCreateEndpoint", f"Failed to create endpoint for service {namespace}/{name}: {exc}")
                if current is None
                else ("FailedToUpdateEndpoint", f"Failed to update endpoint {namespace}/{name}: {exc}")
            )
            self.recorder.emit(body, WARNING, reason, message)
            raise
        log.debug("Updated endpoints", extra={"service": f"{namespace}/{name}"})
        return None


def _key(obj: Mapping[str, Any]) -> Key:
    m = meta(obj)
    return (str(m.get("namespace") or ""), str(m.get("name") or ""))


def _set_or_drop(target: Obj, field_name: str, value: Any) -> None:
    if value:
        target[field_name] = value
    else:
        target.pop(field_name, None)


def _namespace_terminating(exc: ApiError) -> bool:
    causes = (exc.status_doc.get("details") or {}).get("causes") or []
    return any(c.get("type") == "NamespaceTerminating" for c in causes if isinstance(c, Mapping))


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(NAME)
    recorder = await ctx.recorder_for(NAME)
    return [EndpointsController(ctx, client=client, recorder=recorder)]

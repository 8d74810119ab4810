"""resourcequota-controller: keeps every ResourceQuota's `status.hard` equal to its spec and `status.used` equal to
what its namespace holds.

Admission charges new objects to `status.used` as they come; this controller gives back what goes away (a deleted
object, a pod that ended) and recounts every quota when it appears, when its `spec.hard` changes, when its status
lacks a tracked resource, and every `--resource-quota-sync-period` (5 min). Writes go
through `resourcequotas/status` as a PUT, the one verb kube's `system:controller:resourcequota-controller` has.

The embedded API server keeps quota status itself too (for the garden, which runs no controller manager). Both
must agree to the last unit, or they would take turns rewriting the status: what an object counts (`usage`),
which quotas it counts against (`scope_matches`) and that every hard resource gets a used value follow that
server's rules exactly, and both compare values, not spellings. Sums are `Quantity` values that keep
resource.Quantity's format, so the strings written are kube's canonical ones (`1536Mi`, `1500m`, `2k`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.objects import meta
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import NotFound
from gardener.runtime.informer import DELETED, AsyncInformer
from gardener.runtime.kube import CONFIGMAPS, PODS, PVCS, RESOURCEQUOTAS, SECRETS, SERVICES, Obj, Resource

__all__ = ["Format", "Quantity", "parse_quantity", "quota_status", "setup", "usage"]

log = logging.getLogger("gardener.kube_controller_manager.resourcequota")

ACCOUNT = "resourcequota-controller"

# ---- resource.Quantity: value, format and canonical spelling ----


class Format(Enum):
    DECIMAL_SI = "DecimalSI"
    BINARY_SI = "BinarySI"
    DECIMAL_EXPONENT = "DecimalExponent"


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))([a-zA-Z]*|[eE][+-]?\d+)$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_SUFFIX = {power: suffix for suffix, power in _BINARY.items()}
#: kube keeps quantities to nano precision, rounding finer values up
_NANO = Decimal("1e-9")


@dataclass(frozen=True)
class Quantity:
    """A resource.Quantity: its exact value and the format it was written in, which its sums keep."""

    value: Decimal
    format: Format = Format.DECIMAL_SI

    def __add__(self, other: Quantity) -> Quantity:
        # kube's Quantity.Add: the sum keeps the receiver's format unless the receiver is zero
        return Quantity(self.value + other.value, other.format if self.value == 0 else self.format)

    def __str__(self) -> str:
        return canonical(self)


ZERO = Quantity(Decimal(0))
ONE = Quantity(Decimal(1))


def parse_quantity(value: Any) -> Quantity | None:
    """A quantity as kube's ParseQuantity reads it, None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    match = _QUANTITY.match(str(value))
    if match is None:
        return None
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        return None
    suffix = match.group(2)
    if suffix in _BINARY:
        amount, fmt = number * Decimal(1024) ** _BINARY[suffix], Format.BINARY_SI
    elif suffix in _DECIMAL:
        amount, fmt = number.scaleb(_DECIMAL[suffix]), Format.DECIMAL_SI
    elif suffix[:1] in ("e", "E") and suffix[1:].lstrip("+-").isdigit():
        amount, fmt = number.scaleb(int(suffix[1:])), Format.DECIMAL_EXPONENT
    else:
        return None
    if amount != amount.quantize(_NANO, rounding=ROUND_UP):
        amount = amount.quantize(_NANO, rounding=ROUND_UP)
    return Quantity(amount, fmt)


def canonical(q: Quantity) -> str:
    """kube's Quantity.String(): binary suffixes for whole BinarySI values of at least 1Ki, otherwise the
    decimal mantissa with the exponent brought down to a multiple of three (`1500m`, `2k`, `1536`)."""
    value, fmt = q.value, q.format
    if value == 0:
        return "0"
    if fmt is Format.BINARY_SI and (abs(value) < 1024 or value != value.to_integral_value()):
        fmt = Format.DECIMAL_SI
    if fmt is Format.BINARY_SI:
        whole, power = int(value), 0
        while whole % 1024 == 0 and power < 6:
            whole, power = whole // 1024, power + 1
        return f"{whole}{_BINARY_SUFFIX.get(power, '')}"
    sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits))) * (-1 if sign else 1)
    shift = exponent % 3
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    if fmt is Format.DECIMAL_SI and exponent in _DECIMAL_SUFFIX:
        return f"{mantissa}{_DECIMAL_SUFFIX[exponent]}"
    return f"{mantissa}e{exponent}" if exponent else str(mantissa)


def quantity(value: Any) -> Quantity:
    """A value that is no quantity counts as zero, as the API server's quota code reads it."""
    return parse_quantity(value) or ZERO


# ---- what objects count against quotas (the API server's rules, see the module docstring) ----

#: plain quota names kube counts besides `count/<resource>`
_PLAIN_COUNTS = frozenset(
    {"pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers", "resourcequotas"}
)
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
#: the kinds whose removal frees quota at once; their objects come from the shared informers
_INFORMED: dict[str, Resource] = {r.plural: r for r in (PODS, SERVICES, PVCS, CONFIGMAPS, SECRETS)}


def _containers(pod: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    return [c for c in (pod.get("spec") or {}).get(key) or [] if isinstance(c, dict)]


def _resources(container: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    return ((container.get("resources") or {}).get(field)) or {}


def pod_requests_and_limits(pod: Mapping[str, Any]) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """The sum over a pod's containers, or its largest init container's value when that is more."""
    out: tuple[dict[str, Quantity], dict[str, Quantity]] = ({}, {})
    for index, field in enumerate(("requests", "limits")):
        total = out[index]
        for container in _containers(pod, "containers"):
            for name, raw in _resources(container, field).items():
                total[name] = total.get(name, ZERO) + quantity(raw)
        for container in _containers(pod, "initContainers"):
            for name, raw in _resources(container, field).items():
                value = quantity(raw)
                if value.value > total.get(name, ZERO).value:
                    total[name] = value
    return out


#: what kube's quota system never counts (its ignoredResources): events of either API group
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})


def usage(obj: Mapping[str, Any], *, group: str, plural: str) -> dict[str, Quantity]:
    """What one object counts against quotas, by quota resource name."""
    used: dict[str, Quantity] = {}
    core = group == ""
    if core and plural == "pods" and (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return used
    used[f"count/{plural}.{group}" if group else f"count/{plural}"] = ONE
    if core and plural in _PLAIN_COUNTS:
        used[plural] = ONE
    spec = obj.get("spec") or {}
    if core and plural == "pods":
        requests, limits = pod_requests_and_limits(obj)
        for name in _COMPUTE:
            if name in requests:
                used[f"requests.{name}"] = used[name] = requests[name]
            if name in limits:
                used[f"limits.{name}"] = limits[name]
    elif core and plural == "services":
        kind = spec.get("type", "ClusterIP")
        if kind in ("NodePort", "LoadBalancer"):
            ports = len([p for p in spec.get("ports") or [] if isinstance(p, dict)])
            used["services.nodeports"] = Quantity(Decimal(ports))
        if kind == "LoadBalancer":
            used["services.loadbalancers"] = ONE
    elif core and plural == "persistentvolumeclaims":
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        if storage is not None:
            used["requests.storage"] = quantity(storage)
            cls = spec.get("storageClassName")
            if cls:
                used[f"{cls}.storageclass.storage.k8s.io/requests.storage"] = quantity(storage)
                used[f"{cls}.storageclass.storage.k8s.io/persistentvolumeclaims"] = ONE
    return used


def _best_effort(pod: Mapping[str, Any]) -> bool:
    containers = [*_containers(pod, "initContainers"), *_containers(pod, "containers")]
    return not any(_resources(c, "requests") or _resources(c, "limits") for c in containers)


def scope_matches(quota: Mapping[str, Any], obj: Mapping[str, Any], *, group: str, plural: str) -> bool:
    """kube's four simple scopes; a quota with a scopeSelector counts nothing (the API server does not do them)."""
    spec = quota.get("spec") or {}
    if spec.get("scopeSelector"):
        return False
    scopes = spec.get("scopes") or []
    if not scopes:
        return True
    if not (group == "" and plural == "pods"):
        return False
    terminating = (obj.get("spec") or {}).get("activeDeadlineSeconds") is not None
    best_effort = _best_effort(obj)
    holds = {
        "Terminating": terminating,
        "NotTerminating": not terminating,
        "BestEffort": best_effort,
        "NotBestEffort": not best_effort,
    }
    return all(holds.get(scope, False) for scope in scopes)


Counted = tuple[str, str, Mapping[str, Any]]


def quota_status(quota: Mapping[str, Any], objects: Iterable[Counted]) -> Obj:
    """The status a quota should have: hard as the spec says, used summed over `objects` (group, plural, obj)."""
    hard = dict((quota.get("spec") or {}).get("hard") or {})
    used = dict.fromkeys(hard, ZERO)
    for group, plural, obj in objects:
        if not scope_matches(quota, obj, group=group, plural=plural):
            continue
        for name, value in usage(obj, group=group, plural=plural).items():
            if name in used:
                used[name] = used[name] + value
    return {"hard": hard, "used": {name: str(used[name]) for name in sorted(used)}}


def _values(resources: Any) -> dict[str, Decimal]:
    return {str(k): quantity(v).value for k, v in (resources or {}).items()} if isinstance(resources, dict) else {}


def status_current(quota: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether the quota's status already says what `wanted` says (compared by value, as kube's quota.Equals)."""
    status = quota.get("status") or {}
    return _values(status.get("hard")) == _values(wanted["hard"]) and _values(status.get("used")) == _values(
        wanted["used"]
    )


def needs_sync(quota: Mapping[str, Any]) -> bool:
    """A quota whose status does not follow its spec yet, or lacks a used value for a hard resource."""
    spec_hard = (quota.get("spec") or {}).get("hard") or {}
    status = quota.get("status") or {}
    if _values(status.get("hard")) != _values(spec_hard):
        return True
    used = status.get("used") or {}
    return any(name not in used for name in spec_hard)


def _counted_kinds(hard: Iterable[str]) -> set[tuple[str, str]]:
    """(group, plural) of every kind a quota with these hard resources counts: pods, services and claims always
    (their compute, port and storage names), and what `count/...` or a plain name asks for."""
    kinds = {("", "pods"), ("", "services"), ("", "persistentvolumeclaims")}
    for name in hard:
        if name.startswith("count/"):
            plural, _, group = name.removeprefix("count/").partition(".")
            if (group, plural) not in IGNORED:
                kinds.add((group, plural))
        elif name in _PLAIN_COUNTS:
            kinds.add(("", name))
    return kinds


class QuotaController:
    def __init__(self, *, ctx: ControllerContext, client: AsyncKube) -> None:
        self.ctx = ctx
        self.client = client
        self.quotas: AsyncInformer = ctx.informer(RESOURCEQUOTAS)
        self.informed = {plural: ctx.informer(resource) for plural, resource in _INFORMED.items()}
        self.controller: AsyncController[tuple[str, str]] = AsyncController(
            "resourcequota-controller", self.reconcile, workers=ctx.options.workers
        )
        #: API paths of the kinds counted by listing, from discovery (None: not served)
        self._paths: dict[tuple[str, str], str | None] = {}
        self.resync = ctx.options.resource_quota_sync_period

    def on_quota(self, kind: str, quota: Obj) -> None:
        key = (str(meta(quota).get("namespace") or ""), str(meta(quota).get("name") or ""))
        if kind == DELETED:
            self.controller.queue.discard(key)
        elif needs_sync(quota) or kind == "ADDED":
            self.controller.add(key)

    def on_object(self, plural: str) -> Callable[[str, Obj], None]:
        """Something counted went away or a pod ended: its namespace's quotas give it back."""

        def handler(kind: str, obj: Obj) -> None:
            ended = plural == "pods" and (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            if kind != DELETED and not ended:
                return
            namespace = str(meta(obj).get("namespace") or "")
            for quota in self.quotas.items(namespace):
                self.controller.add((namespace, str(meta(quota).get("name") or "")))

        return handler

    async def reconcile(self, key: tuple[str, str]) -> Result | None:
        namespace, name = key
        quota = self.quotas.get(namespace, name)
        if quota is None:
            return None
        hard = (quota.get("spec") or {}).get("hard") or {}
        objects: list[Counted] = []
        for group, plural in sorted(_counted_kinds(hard)):
            objects += [(group, plural, obj) for obj in await self._objects(namespace, group=group, plural=plural)]
        wanted = quota_status(quota, objects)
        if not status_current(quota, wanted):
            body = {**quota, "status": wanted}
            await self.client.replace(RESOURCEQUOTAS.path(namespace, name, "status"), body)
            log.info("Quota status updated", extra={"quota": f"{namespace}/{name}", "used": wanted["used"]})
        return Result(requeue_after=self.resync)

    async def _objects(self, namespace: str, *, group: str, plural: str) -> list[Mapping[str, Any]]:
        items: Iterable[Mapping[str, Any]]
        if group == "" and plural in self.informed:
            items = self.informed[plural].items(namespace)
        elif group == "" and plural == "resourcequotas":
            items = self.quotas.items(namespace)
        else:
            path = await self._path(group, plural)
            if path is None:
                return []
            doc = await self.client.request("GET", path.format(namespace=namespace)) or {}
            items = doc.get("items") or []
        return sorted(items, key=lambda o: str(meta(o).get("name") or ""))

    async def _path(self, group: str, plural: str) -> str | None:
        """The collection URL of a namespaced kind at its group's preferred version, None when not served."""
        if (group, plural) not in self._paths:
            version = "v1"
            if group:
                try:
                    doc = await self.client.request("GET", f"/apis/{group}") or {}
                except NotFound:
                    doc = {}
                version = str((doc.get("preferredVersion") or {}).get("version") or "")
            base = f"/apis/{group}/{version}" if group else "/api/v1"
            served = False
            if version:
                try:
                    listing = await self.client.request("GET", base) or {}
                except NotFound:
                    listing = {}
                served = any(r.get("name") == plural and r.get("namespaced") for r in listing.get("resources") or [])
            self._paths[group, plural] = f"{base}/namespaces/{{namespace}}/{plural}" if served else None
        return self._paths[group, plural]


async def setup(ctx: ControllerContext) -> list[Startable]:
    quotas = QuotaController(ctx=ctx, client=await ctx.client_for(ACCOUNT))
    quotas.quotas.add_handler(quotas.on_quota)
    for plural, informer in quotas.informed.items():
        informer.add_handler(quotas.on_object(plural))
    return [quotas.controller]

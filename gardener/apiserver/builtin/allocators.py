"""Service cluster IPs and node ports, handed out from kube-apiserver's ranges as its service registry does.

Every address or port in use is a key of its own in storage (`/registry/ranges/serviceips/<ip>`,
`/registry/ranges/servicenodeports/<port>`), claimed with create-if-absent: two API servers sharing one
etcd can never hand out the same one. Allocation runs as a mutating admission step on Services; what a
write allocated is given back when the write fails (or was a dry run), and what it gave up is released
once the write is stored (`Context.after_write`), like kube's allocation transactions.

Imported by `gardener.apiserver.app` only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from gardener.apiserver import errors
from gardener.apiserver.builtin.validation.fields import go_string_slice
from gardener.apiserver.errors import FieldCause, go_quote
from gardener.apiserver.rest import AdmissionRequest
from gardener.apiserver.storage.interface import Backend, KeyExists, KeyNotFound, RevisionMismatch, StorageError
from gardener.runtime.tasks import cancel_task

log = logging.getLogger("gardener.apiserver.allocators")

IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"
SERVICES_PREFIX = "/registry/core/services/"
EXTERNAL_NAME = "ExternalName"
NODE_PORT_TYPES = frozenset({"NodePort", "LoadBalancer"})
HEADLESS = "None"


def _band_offset(size: int, *, minimum: int, maximum: int, step: int) -> int:
    """Size of the lower band kept for requested values (kube's static subranges): random picks come from
    above it first, so a fixed address or port someone plans to ask for is rarely taken already."""
    if size <= minimum:
        return 0
    return min(max(minimum, size // step), maximum)


@dataclass(frozen=True)
class IPRange:
    """--service-cluster-ip-range: the network and broadcast addresses are never handed out, and random
    picks skip the first address, which belongs to the `kubernetes` Service."""

    cidr: str

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr, strict=False)

    @property
    def family(self) -> str:
        return "IPv4" if self.network.version == 4 else "IPv6"

    def contains(self, ip: str) -> bool:
        net = self.network
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if address not in net:
            return False
        return address != net.network_address and (net.version == 6 or address != net.broadcast_address)

    def first(self) -> str:
        return str(self.network.network_address + 1)

    def candidates(self, rng: random.Random) -> Iterator[str]:
        """Every address random allocation may hand out: the upper band from a random start, then the lower."""
        net = self.network
        size = min(net.num_addresses - 2, 1 << 16) if net.version == 4 else min(net.num_addresses - 1, 1 << 16)
        offset = min(_band_offset(net.num_addresses, minimum=16, maximum=256, step=16), size)
        yield from (str(net.network_address + 1 + i) for i in _scan(rng, start=offset, stop=size) if i != 0)
        yield from (str(net.network_address + 1 + i) for i in _scan(rng, start=0, stop=offset) if i != 0)


@dataclass(frozen=True)
class PortRange:
    """--service-node-port-range, both ends included."""

    low: int
    high: int

    def contains(self, port: int) -> bool:
        return self.low <= port <= self.high

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"

    def candidates(self, rng: random.Random) -> Iterator[int]:
        size = self.high - self.low + 1
        offset = _band_offset(size, minimum=16, maximum=128, step=32)
        yield from (self.low + i for i in _scan(rng, start=offset, stop=size))
        yield from (self.low + i for i in _scan(rng, start=0, stop=offset))


def _scan(rng: random.Random, *, start: int, stop: int) -> Iterator[int]:
    """start..stop-1 once each, beginning at a random place and wrapping around."""
    if stop <= start:
        return
    width = stop - start
    first = rng.randrange(width)
    for i in range(width):
        yield start + (first + i) % width


class Reservations:
    """One key per value in use; the key holds who uses it (`namespace/name` of the Service)."""

    def __init__(self, *, backend: Backend, prefix: str) -> None:
        self._backend = backend
        self.prefix = prefix

    def key(self, value: str | int) -> str:
        return f"{self.prefix}{value}"

    async def owner(self, value: str | int) -> str | None:
        stored = await self._backend.get(self.key(value))
        if stored is None:
            return None
        return str(orjson.loads(stored.value).get("owner") or "")

    async def claim(self, value: str | int, *, owner: str) -> bool:
        try:
            await self._backend.create(
                self.key(value), {"kind": "Reservation", "metadata": {"name": str(value)}, "owner": owner}
            )
        except KeyExists:
            return False
        return True

    async def release(self, value: str | int, *, owner: str) -> None:
        """Free `value` if `owner` holds it (a value another Service holds by now stays with it)."""
        key = self.key(value)
        for _ in range(5):
            stored = await self._backend.get(key)
            if stored is None:
                return
            last = orjson.loads(stored.value)
            if last.get("owner") != owner:
                return
            try:
                await self._backend.delete(key, expected_rv=stored.rv, last=last)
                return
            except (RevisionMismatch, KeyNotFound):
                continue


@dataclass
class _Claims:
    """What one admission of one Service claimed (given back if the write fails) and gives up (on success)."""

    ips: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    release_ips: list[str] = field(default_factory=list)
    release_ports: list[int] = field(default_factory=list)


class ServiceAllocator:
    """The admission steps: `admit` (mutating, CREATE/UPDATE of services) and `on_delete` (DELETE)."""

    def __init__(
        self, *, backend: Backend, cluster_ip_range: str, node_port_range: tuple[int, int], seed: int | None = None
    ) -> None:
        self.ip_range = IPRange(cluster_ip_range)
        self.port_range = PortRange(*node_port_range)
        self.ips = Reservations(backend=backend, prefix=IP_PREFIX)
        self.ports = Reservations(backend=backend, prefix=PORT_PREFIX)
        self._rng = random.Random(seed)

    @staticmethod
    def _is_service(req: AdmissionRequest) -> bool:
        return req.info.group == "" and req.info.plural == "services" and req.subresource == ""

    async def admit(self, req: AdmissionRequest) -> None:
        if not self._is_service(req) or req.obj is None or req.operation not in ("CREATE", "UPDATE"):
            return
        obj = req.obj
        if not isinstance(obj.get("spec"), dict):
            obj["spec"] = {}
        owner = f"{req.namespace}/{req.name}"
        claims = _Claims()
        try:
            if req.operation == "CREATE" or req.old is None:
                await self._create(obj, owner=owner, claims=claims, dry_run=req.dry_run)
            elif (obj.get("metadata") or {}).get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
                # the last finalizer goes: this update deletes the Service
                claims.release_ips += _cluster_ips(req.old)
                claims.release_ports += _node_ports(req.old)
            else:
                await self._update(obj, req.old, owner=owner, claims=claims, dry_run=req.dry_run)
        except BaseException:
            await self._give_back(claims, owner=owner)
            raise
        if not req.dry_run:
            req.after_write.append(lambda stored: self._settle(claims, owner=owner, stored=stored))

    async def on_delete(self, req: AdmissionRequest) -> None:
        if not self._is_service(req) or req.operation != "DELETE" or req.old is None or req.dry_run:
            return
        owner = f"{req.namespace}/{req.name}"
        claims = _Claims(release_ips=_cluster_ips(req.old), release_ports=_node_ports(req.old))
        req.after_write.append(lambda stored: self._settle(claims, owner=owner, stored=stored))

    async def _settle(self, claims: _Claims, *, owner: str, stored: bool) -> None:
        if not stored:
            await self._give_back(claims, owner=owner)
            return
        for ip in claims.release_ips:
            await self.ips.release(ip, owner=owner)
        for port in claims.release_ports:
            await self.ports.release(port, owner=owner)

    async def _give_back(self, claims: _Claims, *, owner: str) -> None:
        for ip in claims.ips:
            await self.ips.release(ip, owner=owner)
        for port in claims.ports:
            await self.ports.release(port, owner=owner)
        claims.ips.clear()
        claims.ports.clear()

    # ---- create ----

    async def _create(self, obj: dict[str, Any], *, owner: str, claims: _Claims, dry_run: bool) -> None:
        spec = obj["spec"]
        name = _name(obj)
        if spec.get("type", "ClusterIP") != EXTERNAL_NAME:
            self._init_families(spec, name=name, old_spec=None)
            await self._alloc_cluster_ip(spec, name=name, owner=owner, claims=claims, dry_run=dry_run)
        if spec.get("type") in NODE_PORT_TYPES:
            await self._alloc_node_ports(spec, name=name, old_ports=[], owner=owner, claims=claims, dry_run=dry_run)
        if _needs_health_check(spec):
            await self._alloc_health_check(spec, owner=owner, claims=claims, dry_run=dry_run)

    def _init_families(self, spec: dict[str, Any], *, name: str, old_spec: dict[str, Any] | None) -> None:
        """ipFamilyPolicy and ipFamilies as kube fills them in on a single-stack cluster."""
        headless_selectorless = spec.get("clusterIP") == HEADLESS and not spec.get("selector")
        if spec.get("ipFamilyPolicy") is None:
            if old_spec is not None and old_spec.get("ipFamilyPolicy") is not None:
                spec["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]
            else:
                spec["ipFamilyPolicy"] = "RequireDualStack" if headless_selectorless else "SingleStack"
        families = spec.get("ipFamilies")
        if not isinstance(families, list) or not families:
            families = [self.ip_range.family]
        spec["ipFamilies"] = families
        if headless_selectorless:
            if len(families) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
                families.append("IPv6" if families[0] == "IPv4" else "IPv4")
            return
        causes: list[FieldCause] = []
        if spec["ipFamilyPolicy"] == "RequireDualStack":
            causes.append(
                _invalid(
                    "spec.ipFamilyPolicy",
                    shown=go_quote(spec["ipFamilyPolicy"]),
                    detail="this cluster is not configured for dual-stack services",
                )
            )
        for i, family in enumerate(families):
            if family != self.ip_range.family:
                causes.append(
                    _invalid(f"spec.ipFamilies[{i}]", shown=go_quote(family), detail="not configured on this cluster")
                )
        if causes:
            raise _invalid_service(name, *causes)

    async def _alloc_cluster_ip(
        self, spec: dict[str, Any], *, name: str, owner: str, claims: _Claims, dry_run: bool
    ) -> None:
        ips = spec.get("clusterIPs")
        requested = str(spec.get("clusterIP") or (ips[0] if isinstance(ips, list) and ips else "") or "")
        if requested == HEADLESS:
            spec["clusterIP"] = HEADLESS
            spec["clusterIPs"] = [HEADLESS]
            return
        if requested:
            shown = go_string_slice(ips if isinstance(ips, list) and ips else [requested])
            try:
                ipaddress.ip_address(requested)
            except ValueError:
                raise _invalid_service(
                    name,
                    _invalid(
                        "spec.clusterIPs[0]",
                        shown=go_quote(requested),
                        detail="must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                    ),
                ) from None
            problem = ""
            if not self.ip_range.contains(requested):
                problem = (
                    f"the provided IP ({requested}) is not in the valid range. The range of valid IPs is "
                    f"{self.ip_range.network}"
                )
            elif not await self._take(self.ips, requested, owner=owner, dry_run=dry_run, taken=claims.ips):
                problem = "provided IP is already allocated"
            if problem:
                raise _invalid_service(
                    name,
                    _invalid("spec.clusterIPs", shown=shown, detail=f"failed to allocate IP {requested}: {problem}"),
                )
            ip = requested
        else:
            for candidate in self.ip_range.candidates(self._rng):
                if await self._take(self.ips, candidate, owner=owner, dry_run=dry_run, taken=claims.ips):
                    ip = candidate
                    break
            else:
                raise errors.internal("failed to allocate a serviceIP: range is full")
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]

    async def _take(
        self, reservations: Reservations, value: Any, *, owner: str, dry_run: bool, taken: list[Any]
    ) -> bool:
        if dry_run:
            return await reservations.owner(value) is None
        if not await reservations.claim(value, owner=owner):
            return False
        taken.append(value)
        return True

    async def _take_port(self, port: int, *, owner: str, claims: _Claims, dry_run: bool, old: list[int]) -> str:
        """'' when `port` is now the Service's, else kube's reason it cannot be."""
        if not self.port_range.contains(port):
            return f"provided port is not in the valid range. The range of valid ports is {self.port_range}"
        if port in old or port in claims.ports:
            return ""
        if not await self._take(self.ports, port, owner=owner, dry_run=dry_run, taken=claims.ports):
            return "provided port is already allocated"
        return ""

    async def _next_port(self, *, owner: str, claims: _Claims, dry_run: bool) -> int:
        for candidate in self.port_range.candidates(self._rng):
            if await self._take(self.ports, candidate, owner=owner, dry_run=dry_run, taken=claims.ports):
                return candidate
        raise errors.internal("failed to allocate a nodePort: range is full")

    async def _alloc_node_ports(
        self, spec: dict[str, Any], *, name: str, old_ports: list[int], owner: str, claims: _Claims, dry_run: bool
    ) -> None:
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        allocate_new = spec.get("type") == "NodePort" or spec.get("allocateLoadBalancerNodePorts") is not False
        by_port: dict[Any, int] = {}
        for i, port in enumerate(ports):
            wanted = _int(port.get("nodePort"))
            if not wanted and not allocate_new:
                continue
            if not wanted:
                # the same port number over two protocols shares one node port, as in kube
                wanted = by_port.get(port.get("port")) or next(
                    (_int(p.get("nodePort")) for p in ports if p.get("port") == port.get("port") and p.get("nodePort")),
                    0,
                )
            if wanted:
                problem = await self._take_port(wanted, owner=owner, claims=claims, dry_run=dry_run, old=old_ports)
                if problem:
                    raise _invalid_service(
                        name, _invalid(f"spec.ports[{i}].nodePort", shown=str(wanted), detail=problem)
                    )
            else:
                wanted = await self._next_port(owner=owner, claims=claims, dry_run=dry_run)
            port["nodePort"] = wanted
            by_port.setdefault(port.get("port"), wanted)

    async def _alloc_health_check(self, spec: dict[str, Any], *, owner: str, claims: _Claims, dry_run: bool) -> None:
        wanted = _int(spec.get("healthCheckNodePort"))
        if wanted:
            problem = await self._take_port(wanted, owner=owner, claims=claims, dry_run=dry_run, old=[])
            if problem:
                raise errors.internal(f"failed to allocate requested HealthCheck NodePort {wanted}: {problem}")
        else:
            spec["healthCheckNodePort"] = await self._next_port(owner=owner, claims=claims, dry_run=dry_run)

    # ---- update ----

    async def _update(
        self, obj: dict[str, Any], old: dict[str, Any], *, owner: str, claims: _Claims, dry_run: bool
    ) -> None:
        spec, old_spec = obj["spec"], old.get("spec") or {}
        name = _name(obj)
        _carry_allocations(spec, old_spec)
        _drop_type_dependent(spec, old_spec)
        old_type, new_type = old_spec.get("type", "ClusterIP"), spec.get("type", "ClusterIP")
        if new_type != EXTERNAL_NAME:
            self._init_families(spec, name=name, old_spec=old_spec)
            if old_type == EXTERNAL_NAME:
                await self._alloc_cluster_ip(spec, name=name, owner=owner, claims=claims, dry_run=dry_run)
            else:
                old_ips, new_ips = _cluster_ips(old), spec.get("clusterIPs") or [spec.get("clusterIP")]
                if old_ips and new_ips and new_ips[0] != old_ips[0]:
                    raise _invalid_service(
                        name,
                        _invalid(
                            "spec.clusterIPs[0]", shown=go_quote(str(new_ips[0])), detail="may not change once set"
                        ),
                    )
        elif old_type != EXTERNAL_NAME:
            claims.release_ips += _cluster_ips(old)
        old_ports = _node_ports(old, health_check=False)
        if new_type in NODE_PORT_TYPES:
            await self._alloc_node_ports(
                spec, name=name, old_ports=old_ports, owner=owner, claims=claims, dry_run=dry_run
            )
        new_ports = _node_ports(obj, health_check=False)
        claims.release_ports += [p for p in old_ports if p not in new_ports]
        old_hc, needs_hc = _int(old_spec.get("healthCheckNodePort")), _needs_health_check(spec)
        if needs_hc and not _needs_health_check(old_spec):
            await self._alloc_health_check(spec, owner=owner, claims=claims, dry_run=dry_run)
        elif needs_hc:
            spec["healthCheckNodePort"] = old_hc
        elif old_hc:
            claims.release_ports.append(old_hc)


def _carry_allocations(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    """A PUT that leaves out what was allocated keeps it (kube's patchAllocatedValues)."""
    if _needs_cluster_ip(old_spec) and _needs_cluster_ip(spec):
        if not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec.get("clusterIP")
        if not spec.get("clusterIPs") and spec.get("clusterIP") == old_spec.get("clusterIP"):
            spec["clusterIPs"] = old_spec.get("clusterIPs")
    if old_spec.get("type") in NODE_PORT_TYPES and spec.get("type") in NODE_PORT_TYPES:
        new_ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        old_ports = [p for p in old_spec.get("ports") or [] if isinstance(p, dict)]
        used = {_int(p.get("nodePort")) for p in old_ports} & {_int(p.get("nodePort")) for p in new_ports}
        by_name = {p.get("name", ""): _int(p.get("nodePort")) for p in old_ports}
        for port in new_ports:
            previous = by_name.get(port.get("name", ""), 0)
            if not _int(port.get("nodePort")) and previous and previous not in used:
                port["nodePort"] = previous
    if _needs_health_check(old_spec) and _needs_health_check(spec) and not spec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = old_spec.get("healthCheckNodePort")


def _drop_type_dependent(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    """Fields the new type has no use for go when the client left them as they were (kube's
    dropTypeDependentFields), so changing `type` alone is enough."""
    if spec.get("type") == EXTERNAL_NAME:
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if spec.get(key) == old_spec.get(key):
                spec.pop(key, None)
    if spec.get("type") not in NODE_PORT_TYPES:
        old_ports = {_int(p.get("nodePort")) for p in old_spec.get("ports") or [] if isinstance(p, dict)}
        for port in spec.get("ports") or []:
            if isinstance(port, dict) and port.get("nodePort") and _int(port["nodePort"]) in old_ports:
                port.pop("nodePort")
    if not _needs_health_check(spec) and spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)
    if spec.get("type") not in NODE_PORT_TYPES and spec.get("externalTrafficPolicy") == old_spec.get(
        "externalTrafficPolicy"
    ):
        spec.pop("externalTrafficPolicy", None)
    if spec.get("type") != "LoadBalancer":
        for key in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if spec.get(key) == old_spec.get(key):
                spec.pop(key, None)
    if spec.get("type") == EXTERNAL_NAME and spec.get("internalTrafficPolicy") == old_spec.get("internalTrafficPolicy"):
        spec.pop("internalTrafficPolicy", None)


def _needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return bool(spec.get("type", "ClusterIP") != EXTERNAL_NAME)


def _needs_health_check(spec: dict[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _cluster_ips(obj: dict[str, Any]) -> list[str]:
    spec = obj.get("spec") or {}
    if spec.get("type", "ClusterIP") == EXTERNAL_NAME:
        return []
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [str(ip) for ip in ips if ip and ip != HEADLESS]


def _node_ports(obj: dict[str, Any], *, health_check: bool = True) -> list[int]:
    spec = obj.get("spec") or {}
    ports = [_int(p.get("nodePort")) for p in spec.get("ports") or [] if isinstance(p, dict)]
    if health_check:
        ports.append(_int(spec.get("healthCheckNodePort")))
    return sorted({p for p in ports if p})


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _invalid(path: str, *, shown: str, detail: str) -> FieldCause:
    return FieldCause("FieldValueInvalid", f"Invalid value: {shown}: {detail}", path)


def _invalid_service(name: str, *causes: FieldCause) -> errors.StatusError:
    """The 422 a Service write gets when its IPs, families or node ports cannot be had."""
    return errors.invalid(kind="Service", group="", name=name, causes=causes)


class AllocationRepair:
    """kube's repair loops for service IPs and node ports: what a crash between claiming and storing left
    claimed is freed, and what a stored Service holds without a claim (written before allocation existed, or
    restored from a backup) is claimed for it.

    A claim is freed only when two runs in a row found no Service holding it, so a claim whose Service is
    being written right now is never taken away.
    """

    def __init__(self, *, backend: Backend, interval: float = 60.0) -> None:
        self._backend = backend
        self._interval = interval
        self.ips = Reservations(backend=backend, prefix=IP_PREFIX)
        self.ports = Reservations(backend=backend, prefix=PORT_PREFIX)
        self._suspects: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="service-allocation-repair")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.repair()
            except StorageError as exc:
                log.warning("Could not repair service allocations", extra={"error": str(exc)})
            await asyncio.sleep(self._interval)

    async def repair(self) -> None:
        held: dict[str, str] = {}
        for stored in (await self._backend.list_range(SERVICES_PREFIX)).items:
            svc = orjson.loads(stored.value)
            m = svc.get("metadata") or {}
            owner = f"{m.get('namespace', '')}/{m.get('name', '')}"
            held.update({self.ips.key(ip): owner for ip in _cluster_ips(svc)})
            held.update({self.ports.key(port): owner for port in _node_ports(svc)})
        suspects: set[str] = set()
        for reservations in (self.ips, self.ports):
            for stored in (await self._backend.list_range(reservations.prefix)).items:
                owner = str(orjson.loads(stored.value).get("owner") or "")
                value = stored.key[len(reservations.prefix) :]
                if held.pop(stored.key, None) == owner:
                    continue
                if stored.key in self._suspects:
                    log.info("Releasing a leaked service allocation", extra={"key": stored.key, "owner": owner})
                    await reservations.release(value, owner=owner)
                else:
                    suspects.add(stored.key)
        self._suspects = suspects
        for key, owner in held.items():
            reservations = self.ips if key.startswith(IP_PREFIX) else self.ports
            value = key[len(reservations.prefix) :]
            if not await reservations.claim(value, owner=owner):
                log.warning("Service allocation held twice", extra={"key": key, "service": owner})

"""Which Seeds may host a Shoot, and in words why the others may not (Gardener's scheduler predicates).

The scheduler reasons over small frozen views of Seeds, Shoots and CloudProfiles rather than the whole objects: a
view holds only what scheduling reads, so equal views mean equal answers. That lets the controller cache one answer
per distinct Shoot view and recompute only when a Seed's view changes, not on every heartbeat of a gardenlet.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gardener.apis.core import conditions as cond
from gardener.apis.core import v1beta1 as core
from gardener.apis.openapi import decode

DEFAULT_SCHEDULER = "default-scheduler"
#: failure tolerance type of a control plane spread over zones; its seed needs at least this many zones
ZONE_FAILURE_TOLERANCE = "zone"
MIN_ZONES_FOR_ZONAL_CONTROL_PLANE = 3
#: Gardener's DefaultVPNRange: the seed-to-shoot VPN, which no shoot network may overlap
DEFAULT_VPN_RANGE = "192.168.123.0/24"


class Code(StrEnum):
    """Why a Seed was not chosen; the metric label of scheduling failures."""

    DELETING = "SeedDeleting"
    INVISIBLE = "SeedInvisible"
    NOT_READY = "SeedNotReady"
    CLOUD_PROFILE_SELECTOR = "CloudProfileSeedSelector"
    SHOOT_SELECTOR = "ShootSeedSelector"
    PROVIDER = "ProviderMismatch"
    ZONES = "TooFewZones"
    NETWORKS = "NetworksOverlap"
    TAINTS = "TaintsNotTolerated"
    REGION = "RegionMismatch"
    CAPACITY = "CapacityExhausted"
    # failures that concern the Shoot rather than one Seed
    NO_SEEDS = "NoSeeds"
    CLOUD_PROFILE = "CloudProfileNotFound"
    REGION_CONFIG = "RegionConfigInvalid"


@dataclass(frozen=True)
class Reason:
    code: Code
    message: str

    def __str__(self) -> str:
        return self.message


# ---- label selectors ----


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        return False  # an unknown operator matches nothing, as in apimachinery after validation

    def __str__(self) -> str:
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        op = "in" if self.operator == "In" else "notin"
        return f"{self.key} {op} ({','.join(sorted(self.values))})"


@dataclass(frozen=True)
class Selector:
    """A Kubernetes label selector (matchLabels and matchExpressions, all must hold); hashable."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    @classmethod
    def of(cls, selector: core.SeedSelector | None) -> Selector | None:
        if selector is None or not (selector.matchLabels or selector.matchExpressions):
            return None
        return cls(
            match_labels=tuple(sorted((selector.matchLabels or {}).items())),
            match_expressions=tuple(
                Requirement(r.key, r.operator, tuple(r.values or ())) for r in selector.matchExpressions or ()
            ),
        )

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            r.matches(labels) for r in self.match_expressions
        )

    def __str__(self) -> str:
        return ",".join([*(f"{k}={v}" for k, v in self.match_labels), *(str(r) for r in self.match_expressions)])


# ---- views ----


@dataclass(frozen=True)
class Taint:
    key: str
    value: str | None = None

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


@dataclass(frozen=True)
class SeedView:
    name: str
    labels: Mapping[str, str]
    provider_type: str
    region: str
    zones: tuple[str, ...] = ()
    taints: tuple[Taint, ...] = ()
    nodes: str | None = None
    pods: str | None = None
    services: str | None = None
    shoot_default_pods: str | None = None
    shoot_default_services: str | None = None
    visible: bool = True
    #: why the seed cannot take shoots now (see `readiness`); empty when it can
    unready: str = ""
    deleting: bool = False
    #: status.allocatable.shoots; None means unlimited
    allocatable_shoots: int | None = None

    @property
    def ready(self) -> bool:
        return not self.unready


@dataclass(frozen=True)
class ShootView:
    """What scheduling reads from a Shoot: two Shoots with equal views get the same candidate Seeds."""

    cloud_profile: str | None
    region: str
    provider_type: str
    cloud_profile_kind: str = "CloudProfile"
    purpose: str | None = None
    selector: Selector | None = None
    tolerations: tuple[Taint, ...] = ()
    nodes: str | None = None
    pods: str | None = None
    services: str | None = None
    workerless: bool = False
    zonal_control_plane: bool = False


@dataclass(frozen=True)
class CloudProfileView:
    name: str
    selector: Selector | None = None
    #: seedSelector.providerTypes; empty means "only seeds of the Shoot's own provider type"
    provider_types: tuple[str, ...] = ()


#: seed conditions that must not be False besides the ones Gardener's scheduler requires to be True
CHECKED_CONDITIONS = (cond.SEED_EXTENSIONS_READY, cond.SEED_SYSTEM_COMPONENTS_HEALTHY)


def readiness(status: core.SeedStatus, *, backup: bool) -> str:
    """Why the Seed cannot take shoots, or "" when it can.

    Gardener's scheduler (verifySeedReadiness) wants a seed its gardenlet has reconciled (a lastOperation),
    `GardenletReady` True and, where backups are configured, `BackupBucketsReady` True. A seed whose gardenlet
    checked it and found that its extensions or its system components cannot build shoots (`ExtensionsReady` or
    `SeedSystemComponentsHealthy` False) is no better, so it is refused too. Unknown there does not block by itself:
    it comes with GardenletReady Unknown, which already does; Progressing is a passing state."""
    conditions = {c.type: c for c in status.conditions or ()}
    required = [cond.SEED_GARDENLET_READY, *([cond.SEED_BACKUP_BUCKETS_READY] if backup else [])]
    for ctype in required:
        condition = conditions.get(ctype)
        if condition is None:
            return f"seed is not ready (condition {ctype} is missing: its gardenlet has not reported it)"
        if condition.status != "True":
            return _not_ready(ctype, condition)
    if status.lastOperation is None:
        return "seed is not ready (its gardenlet has not reconciled it yet: no lastOperation)"
    for ctype in CHECKED_CONDITIONS:
        condition = conditions.get(ctype)
        if condition is not None and condition.status == "False":
            return _not_ready(ctype, condition)
    return ""


def _not_ready(ctype: str, condition: core.Condition) -> str:
    why = condition.message or condition.reason
    return f"seed is not ready (condition {ctype} is {condition.status}{f': {why}' if why else ''})"


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIXES = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def quantity_int(value: Any) -> int | None:
    """A resource.Quantity such as 250, "250" or "1k" as an integer (rounded down); None if unreadable."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _QUANTITY.match(str(value).strip())
    if match is None or match.group(2) not in _SUFFIXES:
        return None
    try:
        return int(float(match.group(1)) * _SUFFIXES[match.group(2)])
    except ValueError:
        return None


def seed_view(obj: Mapping[str, Any]) -> SeedView:
    """Raises ValueError or KeyError for a Seed that does not decode (the API server's schema prevents that)."""
    meta = obj.get("metadata") or {}
    spec = decode(core.SeedSpec, obj["spec"])
    status = decode(core.SeedStatus, obj.get("status") or {})
    settings: dict[str, Any] = spec.settings or {}
    scheduling = settings.get("scheduling") or {}
    shoot_defaults = spec.networks.shootDefaults
    allocatable = (status.allocatable or {}).get("shoots")
    return SeedView(
        name=str(meta["name"]),
        labels=dict(meta.get("labels") or {}),
        provider_type=spec.provider.type,
        region=spec.provider.region,
        zones=tuple(spec.provider.zones or ()),
        taints=tuple(Taint(t.key, t.value) for t in spec.taints or ()),
        nodes=spec.networks.nodes,
        pods=spec.networks.pods,
        services=spec.networks.services,
        shoot_default_pods=shoot_defaults.pods if shoot_defaults else None,
        shoot_default_services=shoot_defaults.services if shoot_defaults else None,
        # Gardener defaults settings.scheduling.visible to true
        visible=scheduling.get("visible") is not False,
        unready=readiness(status, backup=spec.backup is not None),
        deleting=bool(meta.get("deletionTimestamp")),
        allocatable_shoots=quantity_int(allocatable) if allocatable is not None else None,
    )


def cloud_profile_view(obj: Mapping[str, Any]) -> CloudProfileView:
    spec = obj.get("spec") or {}
    selector = decode(core.SeedSelector, spec["seedSelector"]) if spec.get("seedSelector") else None
    return CloudProfileView(
        name=str(obj["metadata"]["name"]),
        selector=Selector.of(selector),
        provider_types=tuple(selector.providerTypes or ()) if selector else (),
    )


def shoot_view(obj: Mapping[str, Any]) -> ShootView:
    """Read by hand rather than through `decode`: this runs for every Shoot event, and the generic decoder costs
    about a millisecond per Shoot; the optional parts that are lists of objects still go through it."""
    spec = obj.get("spec") or {}
    provider = spec.get("provider") or {}
    networking = spec.get("networking") or {}
    ref = spec.get("cloudProfile") or {}
    ha = (spec.get("controlPlane") or {}).get("highAvailability") or {}
    selector = decode(core.SeedSelector, spec["seedSelector"]) if spec.get("seedSelector") else None
    tolerations = [decode(core.Toleration, t) for t in spec.get("tolerations") or ()]
    return ShootView(
        cloud_profile=spec.get("cloudProfileName") or ref.get("name"),
        cloud_profile_kind=ref.get("kind") or "CloudProfile",
        region=str(spec.get("region") or ""),
        provider_type=str(provider.get("type") or ""),
        purpose=spec.get("purpose"),
        selector=Selector.of(selector),
        tolerations=tuple(Taint(t.key, t.value) for t in tolerations),
        nodes=networking.get("nodes"),
        pods=networking.get("pods"),
        services=networking.get("services"),
        workerless=not provider.get("workers"),
        zonal_control_plane=(ha.get("failureTolerance") or {}).get("type") == ZONE_FAILURE_TOLERANCE,
    )


def wants_scheduling(obj: Mapping[str, Any]) -> bool:
    """A Shoot for this scheduler that has no Seed yet and is not being deleted."""
    spec = obj.get("spec") or {}
    return (
        not spec.get("seedName")
        and not (obj.get("metadata") or {}).get("deletionTimestamp")
        and spec.get("schedulerName") in (None, "", DEFAULT_SCHEDULER)
    )


# ---- predicates: each returns why the Seed is unfit, or None ----


def usable(seed: SeedView) -> Reason | None:
    if seed.deleting:
        return Reason(Code.DELETING, "seed is being deleted")
    if not seed.visible:
        return Reason(Code.INVISIBLE, "seed is not visible for scheduling (spec.settings.scheduling.visible=false)")
    if seed.unready:
        return Reason(Code.NOT_READY, seed.unready)
    return None


def cloud_profile_selector(seed: SeedView, profile: CloudProfileView) -> Reason | None:
    if profile.selector is None or profile.selector.matches(seed.labels):
        return None
    return Reason(
        Code.CLOUD_PROFILE_SELECTOR,
        f"seed labels do not match the seed selector of CloudProfile {profile.name!r} ({profile.selector})",
    )


def shoot_selector(seed: SeedView, shoot: ShootView) -> Reason | None:
    if shoot.selector is None or shoot.selector.matches(seed.labels):
        return None
    return Reason(Code.SHOOT_SELECTOR, f"seed labels do not match the shoot's seed selector ({shoot.selector})")


def provider(seed: SeedView, shoot: ShootView, profile: CloudProfileView) -> Reason | None:
    """Same provider type, unless the CloudProfile's seedSelector.providerTypes allows others ("*": any)."""
    allowed = profile.provider_types
    if not allowed:
        if seed.provider_type == shoot.provider_type:
            return None
        return Reason(
            Code.PROVIDER,
            f"seed provider type {seed.provider_type!r} differs from the shoot's provider type {shoot.provider_type!r}",
        )
    if "*" in allowed or seed.provider_type in allowed:
        return None
    return Reason(
        Code.PROVIDER,
        f"seed provider type {seed.provider_type!r} is not among the CloudProfile's seedSelector.providerTypes "
        f"[{', '.join(allowed)}]",
    )


def zones(seed: SeedView, shoot: ShootView) -> Reason | None:
    if not shoot.zonal_control_plane or len(seed.zones) >= MIN_ZONES_FOR_ZONAL_CONTROL_PLANE:
        return None
    return Reason(
        Code.ZONES,
        f"seed has {len(seed.zones)} zone(s), a control plane with failure tolerance type 'zone' needs at least "
        f"{MIN_ZONES_FOR_ZONAL_CONTROL_PLANE}",
    )


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def networks(seed: SeedView, shoot: ShootView) -> Reason | None:
    """Every shoot network (pods and services defaulted from the seed's shootDefaults, as admission will on binding)
    must be disjoint from every seed network and the VPN range; networks unset on either side are skipped."""
    pods = shoot.pods if shoot.pods or shoot.workerless else seed.shoot_default_pods
    services = shoot.services or seed.shoot_default_services
    others = (("seed service", seed.services), ("seed pod", seed.pods), ("seed node", seed.nodes))
    problems: list[str] = []
    for kind, cidr in (("node", shoot.nodes), ("service", services), ("pod", pods)):
        if not cidr:
            continue
        net = _network(cidr)
        if net is None:
            problems.append(f"shoot {kind} network {cidr} is not a valid CIDR")
            continue
        for other_kind, other_cidr in (*others, ("default vpn", DEFAULT_VPN_RANGE)):
            other = _network(other_cidr) if other_cidr else None
            if other is not None and net.version == other.version and net.overlaps(other):
                problems.append(f"shoot {kind} network {cidr} intersects with {other_kind} network {other_cidr}")
    if not problems:
        return None
    return Reason(Code.NETWORKS, "; ".join(problems))


def taints(seed: SeedView, shoot: ShootView) -> Reason | None:
    """Every taint needs a toleration with its key, and with its value when the taint has one."""
    tolerated = {t.key: t.value or "" for t in shoot.tolerations}
    untolerated = [
        t for t in seed.taints if t.key not in tolerated or (t.value is not None and t.value != tolerated[t.key])
    ]
    if not untolerated:
        return None
    return Reason(Code.TAINTS, f"shoot does not tolerate the seed's taints ({', '.join(map(str, untolerated))})")


def capacity(seed: SeedView, used: int) -> Reason | None:
    if seed.allocatable_shoots is None or used < seed.allocatable_shoots:
        return None
    return Reason(Code.CAPACITY, f"seed has no capacity left for shoots (allocatable: {seed.allocatable_shoots})")


def static_reason(seed: SeedView, shoot: ShootView, profile: CloudProfileView) -> Reason | None:
    """The first predicate the Seed fails that does not depend on how many Shoots it already hosts."""
    return (
        usable(seed)
        or cloud_profile_selector(seed, profile)
        or shoot_selector(seed, shoot)
        or provider(seed, shoot, profile)
        or zones(seed, shoot)
        or networks(seed, shoot)
        or taints(seed, shoot)
    )

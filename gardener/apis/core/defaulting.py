"""Defaulting of garden objects, as Gardener's v1beta1 defaults and mutating admission plugins do it.

Pure functions over JSON dicts that fill in what is unset, in place; they never raise on bad input
(malformed parts are left alone for validation to report). Usable in-process by the embedded API
server and from a mutating webhook alike.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from gardener.apis.core.formats import Version, parse_cidr, parse_time, parse_version, random_maintenance_window
from gardener.apis.core.lookup import Lookup, Object, shoot_cloud_profile_name

GARDEN_NAMESPACE = "garden"
PROJECT_NAMESPACE_PREFIX = "garden-"
SEED_TAINT_PROTECTED = "seed.gardener.cloud/protected"
DEFAULT_SCHEDULER_NAME = "default-scheduler"
DEFAULT_NETWORKING_TYPE = "calico"
DEFAULT_ARCHITECTURE = "amd64"
DEFAULT_CRI = "containerd"
DEFAULT_PURPOSE = "evaluation"
RBAC_GROUP = "rbac.authorization.k8s.io"


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dict(parent: dict[str, Any], key: str) -> dict[str, Any] | None:
    """parent[key] as a dict, created when unset; None when it is set to something else."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else None


def _list_of_dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# ---- CloudProfile reading (with Gardener's CloudProfile defaults applied on the fly) ----


def is_expired(version: dict[str, Any], now: datetime) -> bool:
    expiration = parse_time(version.get("expirationDate"))
    return expiration is not None and expiration < now


def image_version_architectures(version: dict[str, Any]) -> list[str]:
    """`architectures` of a machine image version; Gardener defaults an empty list to [amd64]."""
    archs = version.get("architectures")
    if isinstance(archs, list) and archs:
        return [a for a in archs if isinstance(a, str)]
    return [DEFAULT_ARCHITECTURE]


def image_version_cris(version: dict[str, Any]) -> list[str]:
    """CRI names of a machine image version; Gardener defaults an empty list to [containerd]."""
    cris = _list_of_dicts(version.get("cri"))
    names = [c["name"] for c in cris if isinstance(c.get("name"), str)]
    return names or [DEFAULT_CRI]


def machine_type_architecture(machine_type: dict[str, Any]) -> str:
    arch = machine_type.get("architecture")
    return arch if isinstance(arch, str) and arch else DEFAULT_ARCHITECTURE


def is_usable(entry: dict[str, Any]) -> bool:
    """`usable` of a machine or volume type; Gardener defaults it to true."""
    return entry.get("usable") is not False


def latest_kubernetes_version(profile: Object, version: str, now: datetime) -> str | None:
    """The newest version of the profile matching a partial version (`1.32` or `1`), skipping preview and
    expired versions, as Gardener's shoot validator completes `spec.kubernetes.version`."""
    parts = version.split(".")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        return None
    wanted = [int(p) for p in parts]
    spec = _d(profile.get("spec"))
    kubernetes = _d(spec.get("kubernetes"))
    best: Version | None = None
    for v in _list_of_dicts(kubernetes.get("versions")):
        if is_expired(v, now) or v.get("classification") == "preview":
            continue
        parsed = parse_version(v.get("version"))
        if parsed is None or [parsed.major, parsed.minor][: len(wanted)] != wanted:
            continue
        if best is None or parsed > best:
            best = parsed
    return str(best) if best is not None else None


def default_machine_image(profile: Object, image_name: str | None, arch: str, now: datetime) -> dict[str, str] | None:
    """Name and newest usable version of the named image (or of the first image supporting `arch`).

    Like Gardener: versions must support the architecture; preview and expired versions are skipped,
    and the newest non-deprecated version wins over a newer deprecated one.
    """
    spec = _d(profile.get("spec"))
    images = _list_of_dicts(spec.get("machineImages"))
    if image_name:
        image = next((i for i in images if i.get("name") == image_name), None)
    else:
        image = next(
            (
                i
                for i in images
                if any(arch in image_version_architectures(v) for v in _list_of_dicts(i.get("versions")))
            ),
            None,
        )
    if image is None or not isinstance(image.get("name"), str):
        return None
    candidates: list[tuple[Version, bool, str]] = []
    for v in _list_of_dicts(image.get("versions")):
        parsed = parse_version(v.get("version"))
        if parsed is None or arch not in image_version_architectures(v):
            continue
        if is_expired(v, now) or v.get("classification") == "preview":
            continue
        candidates.append((parsed, v.get("classification") == "deprecated", str(v["version"])))
    if not candidates:
        return None
    preferred = [c for c in candidates if not c[1]] or candidates
    return {"name": image["name"], "version": max(preferred)[2]}


# ---- Shoot ----


def project_name_for_namespace(namespace: str, lookup: Lookup) -> str:
    """The project of a namespace: the Project with that `spec.namespace`, else the namespace minus `garden-`."""
    project = lookup.project_for_namespace(namespace)
    if project is not None:
        meta = project.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"]:
            return str(meta["name"])
    return namespace.removeprefix(PROJECT_NAMESPACE_PREFIX)


def technical_id(project: str, shoot_name: str) -> str:
    """Name of the Shoot's namespace in its seed, as Gardener's `ComputeTechnicalID`."""
    return f"shoot--{project}--{shoot_name}"


def _cidr_is_ipv4(cidr: Any) -> bool | None:
    try:
        return parse_cidr(cidr).version == 4
    except ValueError:
        return None


def _old_worker(old: Object | None, name: Any) -> dict[str, Any] | None:
    if old is None:
        return None
    spec = old.get("spec")
    provider = spec.get("provider") if isinstance(spec, dict) else None
    workers = _list_of_dicts(provider.get("workers")) if isinstance(provider, dict) else []
    return next((w for w in workers if w.get("name") == name), None)


def _default_worker(
    worker: dict[str, Any], profile: Object | None, old_worker: dict[str, Any] | None, now: datetime
) -> None:
    machine = _dict(worker, "machine")
    if machine is not None:
        machine.setdefault("architecture", DEFAULT_ARCHITECTURE)
    if worker.get("cri") is None:
        worker["cri"] = {"name": DEFAULT_CRI}
    worker.setdefault("maxSurge", 1)
    worker.setdefault("maxUnavailable", 0)
    components = _dict(worker, "systemComponents")
    if components is not None:
        components.setdefault("allow", True)
    if machine is None:
        return
    image = machine.get("image")
    if image is not None and not isinstance(image, dict):
        return
    if isinstance(image, dict) and image.get("version"):
        return
    # Keep the image of an existing pool unless the user picks another one (Gardener's ensureMachineImage);
    # moving pools to newer images is the maintenance controller's job.
    old_machine = old_worker.get("machine") if old_worker else None
    old_image = old_machine.get("image") if isinstance(old_machine, dict) else None
    if isinstance(old_image, dict) and old_image.get("version"):
        if image is None:
            machine["image"] = dict(old_image)
            return
        if image.get("name") == old_image.get("name"):
            image["version"] = old_image["version"]
            return
    if profile is None:
        return
    arch = machine.get("architecture")
    name = image.get("name") if isinstance(image, dict) else None
    chosen = default_machine_image(
        profile, name if isinstance(name, str) else None, arch if isinstance(arch, str) else DEFAULT_ARCHITECTURE, now
    )
    if chosen is None:
        return
    if isinstance(image, dict):
        image.setdefault("name", chosen["name"])
        image["version"] = chosen["version"]
    else:
        machine["image"] = chosen


def default_shoot(
    shoot: dict[str, Any],
    *,
    lookup: Lookup,
    rng: random.Random | None = None,
    old: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Fill in a Shoot's defaults in place, like Gardener's v1beta1 defaults plus its shoot mutator/validator.

    `old` is the stored Shoot on updates (existing worker pools keep their machine image), `rng` picks the
    random maintenance window and `now` decides which CloudProfile versions have expired.
    """
    if not isinstance(shoot, dict):
        return
    spec = shoot.get("spec")
    if not isinstance(spec, dict):
        return
    now = now if now is None or now.tzinfo else now.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    meta = _d(shoot.get("metadata"))
    namespace = meta.get("namespace") if isinstance(meta.get("namespace"), str) else ""
    provider = _d(spec.get("provider"))
    workers = _list_of_dicts(provider.get("workers"))
    workerless = not workers
    profile_name = shoot_cloud_profile_name(shoot)
    profile = lookup.cloud_profile(profile_name) if profile_name else None

    kubernetes = spec.get("kubernetes")
    if isinstance(kubernetes, dict) and isinstance(kubernetes.get("version"), str) and profile is not None:
        completed = latest_kubernetes_version(profile, kubernetes["version"], now)
        if completed is not None:
            kubernetes["version"] = completed

    spec.setdefault("purpose", DEFAULT_PURPOSE)
    if namespace == GARDEN_NAMESPACE:
        tolerations = spec.get("tolerations")
        if tolerations is None:
            tolerations = spec["tolerations"] = []
        if isinstance(tolerations, list) and not any(
            isinstance(t, dict) and t.get("key") == SEED_TAINT_PROTECTED for t in tolerations
        ):
            tolerations.append({"key": SEED_TAINT_PROTECTED})

    maintenance = _dict(spec, "maintenance")
    if maintenance is not None:
        auto_update = maintenance.get("autoUpdate")
        if auto_update is None:
            auto_update = maintenance["autoUpdate"] = {"kubernetesVersion": True}
        if isinstance(auto_update, dict):
            # In Gardener kubernetesVersion is a plain bool: absent from a given autoUpdate means false.
            auto_update.setdefault("kubernetesVersion", False)
            if not workerless:
                auto_update.setdefault("machineImageVersion", True)
        if maintenance.get("timeWindow") is None:
            begin, end = random_maintenance_window(rng)
            maintenance["timeWindow"] = {"begin": begin, "end": end}

    networking = _dict(spec, "networking")
    if networking is not None:
        if not networking.get("ipFamilies"):
            networking["ipFamilies"] = ["IPv4"]
        if not workerless:
            networking.setdefault("type", DEFAULT_NETWORKING_TYPE)
        seed_name = spec.get("seedName")
        seed = lookup.seed(seed_name) if isinstance(seed_name, str) and seed_name else None
        seed_spec = _d(seed.get("spec")) if seed is not None else {}
        networks = _d(seed_spec.get("networks"))
        shoot_defaults = _d(networks.get("shootDefaults"))
        families = networking["ipFamilies"] if isinstance(networking.get("ipFamilies"), list) else []
        for key, wanted in (("pods", not workerless), ("services", True)):
            default = shoot_defaults.get(key)
            if not wanted or networking.get(key) is not None or not isinstance(default, str):
                continue
            is_v4 = _cidr_is_ipv4(default)
            if is_v4 is not None and ("IPv4" if is_v4 else "IPv6") in families:
                networking[key] = default

    for worker in workers:
        _default_worker(worker, profile, _old_worker(old, worker.get("name")), now)

    spec.setdefault("schedulerName", DEFAULT_SCHEDULER_NAME)

    name = meta.get("name")
    if isinstance(name, str) and name and namespace:
        status = _dict(shoot, "status")
        if status is not None and not status.get("technicalID"):
            status["technicalID"] = technical_id(project_name_for_namespace(namespace, lookup), name)


# ---- Project ----


def _default_subject(subject: dict[str, Any]) -> None:
    if subject.get("apiGroup"):
        return
    if subject.get("kind") in ("User", "Group"):
        subject["apiGroup"] = RBAC_GROUP


def same_subject(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two RBAC subjects name the same user, group or service account."""
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("apiGroup", "kind", "name", "namespace"))


def member_roles(member: dict[str, Any]) -> list[str]:
    """All roles of a project member: `role` followed by `roles`."""
    roles = [member["role"]] if isinstance(member.get("role"), str) and member["role"] else []
    extra = member.get("roles")
    if isinstance(extra, list):
        roles.extend(r for r in extra if isinstance(r, str))
    return roles


def default_project(project: dict[str, Any]) -> None:
    """Fill in a Project's defaults in place: Gardener's v1beta1 defaults and its project mutator.

    Subjects get their RBAC API group, members without a role become viewers, `spec.namespace` becomes
    `garden-<name>`, a missing owner is the member with the `owner` role, and the owner is added as a
    member with roles admin and owner unless already a member.
    """
    if not isinstance(project, dict):
        return
    spec = project.get("spec")
    if spec is None:
        spec = project["spec"] = {}
    if not isinstance(spec, dict):
        return
    meta = _d(project.get("metadata"))
    owner = spec.get("owner")
    if isinstance(owner, dict):
        _default_subject(owner)
    members = spec.get("members")
    for member in _list_of_dicts(members):
        _default_subject(member)
        if not member.get("role") and not member.get("roles"):
            member["role"] = "viewer"
    name = meta.get("name")
    if spec.get("namespace") is None and isinstance(name, str) and name:
        spec["namespace"] = GARDEN_NAMESPACE if name == GARDEN_NAMESPACE else PROJECT_NAMESPACE_PREFIX + name
    if owner is None:
        for member in _list_of_dicts(members):
            if "owner" in member_roles(member):
                owner = spec["owner"] = {k: member[k] for k in ("apiGroup", "kind", "name", "namespace") if k in member}
                break
    if (
        isinstance(owner, dict)
        and (members is None or isinstance(members, list))
        and not any(same_subject(m, owner) for m in _list_of_dicts(members))
    ):
        if members is None:
            members = spec["members"] = []
        members.append({**owner, "role": "admin", "roles": ["owner"]})
    if spec.get("namespace") == GARDEN_NAMESPACE:
        tolerations = _dict(spec, "tolerations")
        if tolerations is not None:
            for key in ("whitelist", "defaults"):
                items = tolerations.get(key)
                if items is None:
                    items = tolerations[key] = []
                if isinstance(items, list) and not any(
                    isinstance(t, dict) and t.get("key") == SEED_TAINT_PROTECTED for t in items
                ):
                    items.append({"key": SEED_TAINT_PROTECTED})

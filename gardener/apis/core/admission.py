"""One entry point for garden admission: which defaulting and validation runs for which request.

Both the embedded API server (in-process) and the admission webhook call `admit`, so a manifest is
treated the same whichever way the garden runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gardener.apis.core import defaulting, references, validation
from gardener.apis.core.errors import FORBIDDEN, FieldError, forbidden
from gardener.apis.core.lookup import Lookup

GROUPS = frozenset({"core.gardener.cloud", "seedmanagement.gardener.cloud"})
#: the identity of gardener-scheduler; only it may bind a Shoot to a Seed after creation
SCHEDULER_USER = "gardener.cloud:system:scheduler"
PRIVILEGED_GROUPS = frozenset({"system:masters"})
#: seeds may write Shoot status but never move a Shoot
SEEDS_GROUP = "gardener.cloud:system:seeds"


@dataclass(frozen=True)
class Request:
    operation: str  # CREATE, UPDATE or DELETE
    group: str
    kind: str
    subresource: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    username: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class Needs:
    """What `admit` will look up, so callers with async storage can fetch it first."""

    cloud_profiles: tuple[str, ...] = ()
    secret_bindings: tuple[tuple[str, str], ...] = ()
    projects: bool = False
    seeds: tuple[str, ...] = ()
    shoots_of_cloud_profile: str = ""
    #: (namespace, name) of Quotas referenced directly (a SecretBinding's quotas)
    quotas: tuple[tuple[str, str], ...] = ()
    #: the Shoots of this namespace ("": of all namespaces), None when not needed
    shoots_in: str | None = None
    #: every SecretBinding (deleting a Quota)
    secret_bindings_all: bool = False


def handles(group: str) -> bool:
    return group in GROUPS


def needs(req: Request) -> Needs:
    obj = req.obj or req.old or {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    if req.operation == "DELETE":
        return _deletion_needs(req.kind, obj)
    if req.kind == "Shoot":
        profile = spec.get("cloudProfileName") or (spec.get("cloudProfile") or {}).get("name") or ""
        ns = str((obj.get("metadata") or {}).get("namespace") or "")
        binding = spec.get("secretBindingName") or ""
        return Needs(
            cloud_profiles=(str(profile),) if profile else (),
            secret_bindings=((ns, str(binding)),) if binding else (),
            projects=True,
            seeds=(str(spec["seedName"]),) if spec.get("seedName") else (),
        )
    if req.kind == "CloudProfile" and req.operation == "UPDATE":
        return Needs(shoots_of_cloud_profile=str((obj.get("metadata") or {}).get("name") or ""))
    if req.kind == "SecretBinding":
        ns = str((obj.get("metadata") or {}).get("namespace") or "")
        refs = [r for r in obj.get("quotas") or [] if isinstance(r, dict) and r.get("name")]
        removed = references.finalizer_removed(req.obj, req.old)
        return Needs(
            quotas=tuple((str(r.get("namespace") or ns), str(r["name"])) for r in refs),
            shoots_in=ns if removed else None,
        )
    return Needs()


def _deletion_needs(kind: str, obj: dict[str, Any]) -> Needs:
    """Deleting a protected object needs its users: Shoots (of its namespace for a SecretBinding) or bindings."""
    if kind in ("CloudProfile", "Seed"):
        return Needs(shoots_in="")
    if kind == "SecretBinding":
        return Needs(shoots_in=str((obj.get("metadata") or {}).get("namespace") or ""))
    if kind == "Quota":
        return Needs(secret_bindings_all=True)
    return Needs()


def admit(req: Request, *, lookup: Lookup) -> list[FieldError]:
    """Default `req.obj` in place and return every problem found (empty when admitted)."""
    if req.operation == "DELETE":
        if req.old is None:
            return []
        if req.kind == "Shoot":
            return validation.validate_shoot_deletion(req.old)
        if req.kind == "Project":
            return validation.validate_project_deletion(req.old)
        return references.deletion_problems(req.kind, req.old, lookup=lookup)
    obj = req.obj
    if obj is None:
        return []
    if req.subresource == "status":
        return []
    if req.kind == "Shoot":
        errors = _binding_rules(req)
        defaulting.default_shoot(obj, lookup=lookup, old=req.old)
        return errors + validation.validate_shoot(obj, req.old, lookup=lookup)
    if req.kind == "Project":
        defaulting.default_project(obj)
        return validation.validate_project(obj, req.old)
    if req.kind == "CloudProfile":
        return validation.validate_cloud_profile(obj, req.old, lookup=lookup)
    if req.kind == "Seed":
        return validation.validate_seed(obj, req.old)
    if req.kind == "SecretBinding":
        errors = references.finalizer_removal_problems(obj, req.old, lookup=lookup)
        return errors + validation.validate_secret_binding(obj, req.old, lookup=lookup)
    if req.kind == "Quota":
        return validation.validate_quota(obj, req.old)
    if req.kind == "ControllerRegistration":
        return validation.validate_controller_registration(obj, req.old)
    if req.kind == "ControllerInstallation":
        return validation.validate_controller_installation(obj, req.old)
    if req.kind == "ManagedSeed":
        return validation.validate_managed_seed(obj, req.old)
    return []


def deletion_message(*, resource: str, group: str, name: str, problems: list[FieldError]) -> str:
    """The message of a refused DELETE, as kube's `admission.NewForbidden` words it:
    `cloudprofiles.core.gardener.cloud "local" is forbidden: Cannot delete CloudProfile, ...`.

    In-process and webhook admission both use it, so a refusal reads the same either way (a webhook's is
    prefixed with `admission webhook "..." denied the request: ` by the API server, as kube does).
    """
    head = "Forbidden: "
    details = [
        p.message[len(head) :] if p.reason == FORBIDDEN and p.message.startswith(head) else p.message for p in problems
    ]
    return f'{resource}.{group} "{name}" is forbidden: ' + "; ".join(details)


def _binding_rules(req: Request) -> list[FieldError]:
    """Binding a Shoot to a Seed after creation is the scheduler's job (Gardener's shoots/binding)."""
    if req.operation != "UPDATE" or req.old is None or req.obj is None:
        return []
    old_seed = (req.old.get("spec") or {}).get("seedName")
    new_seed = (req.obj.get("spec") or {}).get("seedName")
    if old_seed == new_seed:
        return []
    privileged = req.username == SCHEDULER_USER or bool(PRIVILEGED_GROUPS.intersection(req.groups))
    if not old_seed and privileged:
        return []
    if old_seed and new_seed and bool(PRIVILEGED_GROUPS.intersection(req.groups)):
        return []  # an operator moving a Shoot (control plane migration) on purpose
    return [forbidden("spec.seedName", "only the scheduler may bind a Shoot to a Seed; the binding cannot change")]

"""The seed authorizer: what a gardenlet may do in the garden, decided before RBAC (Gardener's SeedAuthorizer).

A gardenlet authenticates as `gardener.cloud:system:seed:<seed>` in group `gardener.cloud:system:seeds`.
It may read what every seed needs (CloudProfiles, Projects, SecretBindings, ControllerRegistrations), keep
its own Seed, Lease and ControllerInstallations, read and report on the Shoots scheduled to it, and read
the Secrets and ConfigMaps of their namespaces. Gardener relates objects to a seed through a graph; here a
named request looks the object up through the ObjectStore. Lists and watches cannot be filtered per object,
so they are allowed where the gardenlet needs them, as in Gardener. Anything else gets no opinion and goes
on to RBAC; denials carry the reason into the 403 message.

Creates name their object in the body, not the URL: `SeedRestriction` (an admission step) checks those.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from gardener.apis.core.conditions import SEED_LEASE_NAMESPACE
from gardener.apiserver import certificates, errors, rbac
from gardener.apiserver.bootstraptokens import NAMESPACE as TOKEN_NAMESPACE
from gardener.apiserver.bootstraptokens import SECRET_PREFIX as TOKEN_SECRET_PREFIX
from gardener.apiserver.bootstraptokens import USER_PREFIX as BOOTSTRAP_USER_PREFIX
from gardener.apiserver.errors import StatusError
from gardener.apiserver.rbac import Decision, RBACSource, RequestAttributes, UserInfo
from gardener.apiserver.resources import Registry
from gardener.apiserver.rest import AdmissionRequest, ObjectStore
from gardener.runtime.pki import csr_identity

log = logging.getLogger("gardener.apiserver.seedauthorizer")

SEEDS_GROUP = "gardener.cloud:system:seeds"
SEED_USER_PREFIX = "gardener.cloud:system:seed:"
CORE = "core.gardener.cloud"
COORDINATION = "coordination.k8s.io"

_READ = ("get", "list", "watch")
_COLLECTION = ("list", "watch")
_CLUSTER_IDENTITY = ("kube-system", "cluster-identity")
#: Secrets a gardenlet keeps beside each of its Shoots in the project namespace, named `<shoot><suffix>`
SHOOT_SECRET_SUFFIXES = (".kubeconfig",)
#: a create through server-side apply is a patch of the named object
_SHOOT_SECRET_VERBS = ("get", "update", "patch", "delete")

Object = dict[str, Any]


def seed_of(user: UserInfo) -> str | None:
    """The seed a gardenlet user acts for, or None for anyone else."""
    if SEEDS_GROUP not in user.groups or not user.name.startswith(SEED_USER_PREFIX):
        return None
    return user.name[len(SEED_USER_PREFIX) :] or None


class SeedObjects(Protocol):
    """The reads the authorizer needs; each returns None (or nothing) for what does not exist."""

    async def get(self, group: str, resource: str, namespace: str, name: str) -> Object | None: ...

    async def list(self, group: str, resource: str, namespace: str) -> list[Object]: ...


class StoreObjects:
    """SeedObjects served by the ObjectStore (storage reads, no HTTP)."""

    def __init__(self, *, store: ObjectStore, registry: Registry) -> None:
        self._store = store
        self._registry = registry

    def _info(self, group: str, resource: str) -> Any:
        version = "v1beta1" if group == CORE else "v1"
        return self._registry.get(group, version, resource)

    async def get(self, group: str, resource: str, namespace: str, name: str) -> Object | None:
        info = self._info(group, resource)
        if info is None:
            return None
        try:
            return await self._store.get(info, namespace, name)
        except StatusError as exc:
            if exc.code == 404:
                return None
            raise

    async def list(self, group: str, resource: str, namespace: str) -> list[Object]:
        info = self._info(group, resource)
        if info is None:
            return []
        _, items, _ = await self._store.list_objects(info, namespace)
        return items


def _allow() -> Decision:
    return Decision(True, "")


def _no_opinion(reason: str) -> Decision:
    return Decision(False, reason)


def _verbs_only(verbs: Collection[str]) -> Decision:
    return _no_opinion(f"only the following verbs are allowed for this resource type: [{' '.join(verbs)}]")


def _unrelated(seed: str) -> Decision:
    return _no_opinion(f"no relationship found between seed '{seed}' and this object")


def shoot_on_seed(shoot: Object | None, seed: str) -> bool:
    if shoot is None:
        return False
    return seed in ((shoot.get("spec") or {}).get("seedName"), (shoot.get("status") or {}).get("seedName"))


class SeedRules:
    """The decisions for one request of one seed."""

    def __init__(self, attrs: RequestAttributes, seed: str, objects: SeedObjects) -> None:
        self.a = attrs
        self.seed = seed
        self.objects = objects

    async def decide(self) -> Decision | None:
        a = self.a
        if not a.is_resource_request:
            return None
        handler = {
            (CORE, "seeds"): self.seeds,
            (CORE, "shoots"): self.shoots,
            (CORE, "controllerinstallations"): self.controller_installations,
            (CORE, "cloudprofiles"): self.read_only,
            (CORE, "controllerregistrations"): self.read_only,
            (CORE, "exposureclasses"): self.read_only,
            (CORE, "projects"): self.read_only,
            (CORE, "secretbindings"): self.read_only,
            (COORDINATION, "leases"): self.leases,
            (certificates.GROUP, certificates.PLURAL): self.csrs,
            ("", "events"): self.events,
            ("events.k8s.io", "events"): self.events,
            ("", "secrets"): self.secrets,
            ("", "configmaps"): self.configmaps,
            ("", "namespaces"): self.namespaces,
        }.get((a.api_group, a.resource))
        if handler is None:
            return None
        return await handler()

    def _subresource(self, *allowed: str) -> Decision | None:
        if self.a.subresource and self.a.subresource not in allowed:
            return _no_opinion(f"only the following subresources are allowed for this resource type: {list(allowed)}")
        return None

    async def read_only(self) -> Decision:
        if (bad := self._subresource()) is not None:
            return bad
        return _allow() if self.a.verb in _READ else _verbs_only(_READ)

    async def seeds(self) -> Decision:
        verbs = ("create", "get", "list", "watch", "update", "patch")
        if (bad := self._subresource("status")) is not None:
            return bad
        if self.a.verb not in verbs:
            return _verbs_only(verbs)
        if self.a.verb in _COLLECTION and not self.a.name:
            return _allow()
        if self.a.verb == "create" or self.a.name == self.seed:
            return _allow()  # SeedRestriction checks the name of a created Seed
        return _unrelated(self.seed)

    async def _kept_by_seed(self, resource: str, belongs: Callable[[Object | None], bool]) -> Decision:
        """Objects a gardenlet reads and reports on: all through lists, one by one only when they are its own."""
        verbs = ("get", "list", "watch", "update", "patch")
        if (bad := self._subresource("status")) is not None:
            return bad
        if self.a.verb not in verbs:
            return _verbs_only(verbs)
        if self.a.verb in _COLLECTION and not self.a.name and not self.a.subresource:
            return _allow()
        obj = await self.objects.get(CORE, resource, self.a.namespace, self.a.name)
        return _allow() if belongs(obj) else _unrelated(self.seed)

    async def shoots(self) -> Decision:
        return await self._kept_by_seed("shoots", lambda shoot: shoot_on_seed(shoot, self.seed))

    async def controller_installations(self) -> Decision:
        def installed_here(installation: Object | None) -> bool:
            seed_ref = ((installation or {}).get("spec") or {}).get("seedRef") or {}
            return bool(seed_ref.get("name") == self.seed)

        return await self._kept_by_seed("controllerinstallations", installed_here)

    async def leases(self) -> Decision:
        verbs = ("create", "get", "watch", "update", "patch")
        if (bad := self._subresource()) is not None:
            return bad
        if self.a.verb not in verbs:
            return _verbs_only(verbs)
        if self.a.namespace != SEED_LEASE_NAMESPACE:
            return _unrelated(self.seed)
        if self.a.verb == "create" or self.a.name == self.seed:
            return _allow()  # SeedRestriction checks the name of a created Lease
        return _unrelated(self.seed)

    async def csrs(self) -> Decision:
        verbs = ("create", "get")
        if (bad := self._subresource()) is not None:
            return bad
        if self.a.verb not in verbs:
            return _verbs_only(verbs)
        if self.a.verb == "create":
            return _allow()
        csr = await self.objects.get(certificates.GROUP, certificates.PLURAL, "", self.a.name)
        return _allow() if csr is not None and self._requested_by_seed(csr) else _unrelated(self.seed)

    def _requested_by_seed(self, csr: Object) -> bool:
        return bool((csr.get("spec") or {}).get("username") == self.a.user.name)

    def _for_seed(self, csr: Object) -> bool:
        try:
            common_name, _ = csr_identity(certificates.request_pem(csr))
        except ValueError:
            return False
        return common_name == self.a.user.name

    async def events(self) -> Decision:
        verbs = ("create", "patch")
        if (bad := self._subresource()) is not None:
            return bad
        return _allow() if self.a.verb in verbs else _verbs_only(verbs)

    async def _hosts_shoot(self, namespace: str) -> bool:
        return any(shoot_on_seed(s, self.seed) for s in await self.objects.list(CORE, "shoots", namespace))

    async def _read_in_shoot_namespace(self) -> Decision:
        if (bad := self._subresource()) is not None:
            return bad
        if self.a.verb not in _READ:
            return _verbs_only(_READ)
        if self.a.namespace and await self._hosts_shoot(self.a.namespace):
            return _allow()
        return _unrelated(self.seed)

    async def configmaps(self) -> Decision:
        if self.a.verb == "get" and (self.a.namespace, self.a.name) == _CLUSTER_IDENTITY:
            return _allow()
        return await self._read_in_shoot_namespace()

    async def secrets(self) -> Decision:
        a = self.a
        if a.verb == "delete" and a.namespace == TOKEN_NAMESPACE and a.name.startswith(TOKEN_SECRET_PREFIX):
            return await self._own_bootstrap_token()
        if await self._shoot_secret():
            return _allow()
        decision = await self._read_in_shoot_namespace()
        if decision.allowed or a.verb != "get" or a.subresource:
            return decision
        return _allow() if await self._binding_secret() else decision

    async def _shoot_secret(self) -> bool:
        """Whether the request is for a Secret the gardenlet publishes for a Shoot on its seed (its kubeconfig)."""
        a = self.a
        if a.verb not in _SHOOT_SECRET_VERBS or a.subresource or not a.name:
            return False
        for suffix in SHOOT_SECRET_SUFFIXES:
            if a.name.endswith(suffix) and len(a.name) > len(suffix):
                shoot = await self.objects.get(CORE, "shoots", a.namespace, a.name[: -len(suffix)])
                return shoot_on_seed(shoot, self.seed)
        return False

    async def _own_bootstrap_token(self) -> Decision:
        """A gardenlet drops the token it bootstrapped with: one whose user asked for this seed's certificate."""
        token_user = BOOTSTRAP_USER_PREFIX + self.a.name[len(TOKEN_SECRET_PREFIX) :]
        for csr in await self.objects.list(certificates.GROUP, certificates.PLURAL, ""):
            if (csr.get("spec") or {}).get("username") == token_user and self._for_seed(csr):
                return _allow()
        return _unrelated(self.seed)

    async def _binding_secret(self) -> bool:
        """Whether the Secret is the credentials of a SecretBinding a Shoot on this seed uses."""
        for shoot in await self.objects.list(CORE, "shoots", ""):
            binding_name = (shoot.get("spec") or {}).get("secretBindingName")
            if not binding_name or not shoot_on_seed(shoot, self.seed):
                continue
            shoot_ns = shoot["metadata"].get("namespace", "")
            binding = await self.objects.get(CORE, "secretbindings", shoot_ns, str(binding_name))
            ref = (binding or {}).get("secretRef") or {}
            if ref.get("name") == self.a.name and (ref.get("namespace") or shoot_ns) == self.a.namespace:
                return True
        return False

    async def namespaces(self) -> Decision:
        if (bad := self._subresource()) is not None:
            return bad
        if self.a.verb != "get":
            return _verbs_only(("get",))
        return _allow() if await self._hosts_shoot(self.a.name) else _unrelated(self.seed)


async def authorize_seed(attrs: RequestAttributes, seed: str, objects: SeedObjects) -> Decision | None:
    """Allow, or deny with a reason; None when the request is none of the seed authorizer's business."""
    return await SeedRules(attrs, seed, objects).decide()


@dataclass
class Authorizer:
    """The authorizer chain of the server: the seed authorizer, then RBAC."""

    objects: SeedObjects
    rbac_source: RBACSource

    async def authorize(self, attrs: RequestAttributes) -> Decision:
        reason = ""
        seed = seed_of(attrs.user)
        if seed is not None:
            decision = await authorize_seed(attrs, seed, self.objects)
            if decision is not None and decision.allowed:
                return decision
            reason = decision.reason if decision is not None else ""
        decision = rbac.authorize(attrs, self.rbac_source)
        return decision if decision.allowed else Decision(False, reason)


# ---- SeedRestriction admission ----

_RESTRICTED = {
    (CORE, "seeds"): "",
    (COORDINATION, "leases"): SEED_LEASE_NAMESPACE,
}


async def seed_restriction(req: AdmissionRequest) -> None:
    """A gardenlet creates only its own Seed and its own heartbeat Lease."""
    if req.operation != "CREATE" or req.obj is None:
        return
    seed = seed_of(req.user)
    key = (req.info.group, req.info.plural)
    if seed is None or key not in _RESTRICTED:
        return
    if req.name != seed or req.namespace != _RESTRICTED[key]:
        raise errors.forbidden(
            f'{req.info.group_resource} "{req.name}" is forbidden: '
            f"seed '{seed}' may only create its own {req.info.kind}",
            details={"name": req.name, "group": req.info.group, "kind": req.info.plural},
        )

"""Protection finalizers: a garden object in use is not deleted before its last user is gone.

Gardener's cloudprofile, secretbinding and quota controllers (and, for Seeds, the gardenlet) keep the
finalizer `gardener` on every CloudProfile, Seed, SecretBinding and Quota, and `gardener.cloud/secretbinding`
(with the label `reference.gardener.cloud/secretbinding`) on every Secret a SecretBinding references. When
such an object is deleted, the finalizer stays until no Shoot (for a Quota: no SecretBinding) uses it any
more; a Secret is released when no SecretBinding holds it. Admission already refuses deleting an object in
use (`gardener.apis.core.references`); the finalizers defer a deletion that got past it, e.g. one racing
the creation of a Shoot.

One loop reads the (few) protected objects every sync period, like the seed lifecycle loop: kopf, which the
other controllers use, strips its own finalizer (also `gardener`) from every object of a kind it watches
without a deletion handler, so it must not watch these kinds. Shoots are listed only while a protected
object is being deleted, since only then does anything depend on them.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import kopf

from gardener.apis.core import references as refs
from gardener.runtime.errors import Conflict, NotFound
from gardener.runtime.kube import Kube

log = logging.getLogger("gardener.controllermanager.protection")

CORE = "/apis/core.gardener.cloud/v1beta1"
MERGE_PATCH = "application/merge-patch+json"
#: the protected garden kinds and their collection path below CORE
PLURALS = {"CloudProfile": "cloudprofiles", "Seed": "seeds", "SecretBinding": "secretbindings", "Quota": "quotas"}

Object = dict[str, Any]


@dataclass(frozen=True)
class ProtectionConfig:
    #: how often the protected objects are checked; a released object waits at most this long
    sync_period: float = 5.0


@dataclass(frozen=True)
class Snapshot:
    """What one sync decides on; `shoots` is None when they were not read (nothing is being deleted)."""

    objects: dict[str, list[Object]]  # by kind, the kinds of PLURALS
    secrets: list[Object] = field(default_factory=list)
    shoots: list[Object] | None = None


@dataclass(frozen=True)
class Change:
    """One merge patch: the new finalizer list and label changes (None removes a label)."""

    path: str
    resource_version: str
    finalizers: tuple[str, ...]
    labels: dict[str, str | None]
    why: str

    def body(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"resourceVersion": self.resource_version, "finalizers": list(self.finalizers) or None}
        if self.labels:
            meta["labels"] = self.labels
        return {"metadata": meta}


def _meta(obj: Object) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _finalizers(obj: Object) -> list[str]:
    return [str(f) for f in _meta(obj).get("finalizers") or []]


def _deleting(obj: Object) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def object_path(kind: str, obj: Object) -> str:
    meta = _meta(obj)
    if kind == "Secret":
        return f"/api/v1/namespaces/{meta.get('namespace')}/secrets/{meta.get('name')}"
    namespace = f"/namespaces/{meta.get('namespace')}" if meta.get("namespace") else ""
    return f"{CORE}{namespace}/{PLURALS[kind]}/{meta.get('name')}"


def secret_ref(binding: Object) -> tuple[str, str] | None:
    """(namespace, name) of the Secret a SecretBinding references (namespace defaults to the binding's)."""
    ref = binding.get("secretRef")
    if not isinstance(ref, dict) or not ref.get("name"):
        return None
    return str(ref.get("namespace") or _meta(binding).get("namespace") or ""), str(ref["name"])


def needs_shoots(objects: dict[str, list[Object]]) -> bool:
    """Whether deciding needs the Shoots: something using Shoots is being deleted and still protected."""
    return any(
        _deleting(o) and refs.FINALIZER in _finalizers(o)
        for kind in ("CloudProfile", "Seed", "SecretBinding")
        for o in objects.get(kind, ())
    )


def _still_used(kind: str, obj: Object, snapshot: Snapshot) -> list[str] | None:
    """The users keeping a deleted object, None when unknown (Shoots not read)."""
    if kind != "Quota" and snapshot.shoots is None:
        return None
    return refs.users_of(kind, obj, shoots=snapshot.shoots or (), bindings=snapshot.objects.get("SecretBinding", ()))


def held_secrets(snapshot: Snapshot) -> set[tuple[str, str]]:
    """The Secrets some SecretBinding holds: one not being deleted, or one whose Shoots keep it (or may)."""
    held = set()
    for binding in snapshot.objects.get("SecretBinding", ()):
        if _deleting(binding):
            if refs.FINALIZER not in _finalizers(binding):
                continue
            users = _still_used("SecretBinding", binding, snapshot)
            if users is not None and not users:
                continue
        ref = secret_ref(binding)
        if ref is not None:
            held.add(ref)
    return held


def plan(snapshot: Snapshot) -> list[Change]:
    """The patches that make every finalizer what its object's use asks for; pure, so every rule is testable."""
    changes: list[Change] = []
    for kind in PLURALS:
        for obj in snapshot.objects.get(kind, ()):
            change = _protect(kind, obj, snapshot)
            if change is not None:
                changes.append(change)
    held = held_secrets(snapshot)
    for secret in snapshot.secrets:
        change = _protect_secret(secret, held)
        if change is not None:
            changes.append(change)
    return changes


def _protect(kind: str, obj: Object, snapshot: Snapshot) -> Change | None:
    finalizers = _finalizers(obj)
    rv = str(_meta(obj).get("resourceVersion") or "")
    path = object_path(kind, obj)
    if not _deleting(obj):
        if refs.FINALIZER in finalizers:
            return None
        return Change(path, rv, (*finalizers, refs.FINALIZER), {}, "protect")
    if refs.FINALIZER not in finalizers:
        return None
    users = _still_used(kind, obj, snapshot)
    if users is None or users:
        return None
    return Change(path, rv, tuple(f for f in finalizers if f != refs.FINALIZER), {}, "no longer in use, release")


def _protect_secret(secret: Object, held: set[tuple[str, str]]) -> Change | None:
    meta = _meta(secret)
    finalizers = _finalizers(secret)
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    assert isinstance(labels, dict)
    labelled = labels.get(refs.SECRET_REFERENCE_LABEL) == "true"
    rv = str(meta.get("resourceVersion") or "")
    path = object_path("Secret", secret)
    if (str(meta.get("namespace") or ""), str(meta.get("name") or "")) in held:
        if _deleting(secret) or (refs.SECRET_FINALIZER in finalizers and labelled):
            return None  # no finalizer may be added to an object being deleted
        wanted = finalizers if refs.SECRET_FINALIZER in finalizers else [*finalizers, refs.SECRET_FINALIZER]
        return Change(path, rv, tuple(wanted), {refs.SECRET_REFERENCE_LABEL: "true"}, "referenced, protect")
    if refs.SECRET_FINALIZER not in finalizers and refs.SECRET_REFERENCE_LABEL not in labels:
        return None
    kept = tuple(f for f in finalizers if f != refs.SECRET_FINALIZER)
    return Change(path, rv, kept, {refs.SECRET_REFERENCE_LABEL: None}, "no longer referenced, release")


class Protection:
    def __init__(self, kube: Kube, config: ProtectionConfig) -> None:
        self.kube = kube
        self.config = config

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sync)
            except Exception:
                log.exception("Protection check failed")
            await asyncio.sleep(self.config.sync_period)

    def _items(self, path: str) -> list[Object]:
        listing = self.kube.raw("GET", path) or {}
        return [i for i in listing.get("items") or [] if isinstance(i, dict)]

    def read(self) -> Snapshot:
        objects = {kind: self._items(f"{CORE}/{plural}") for kind, plural in PLURALS.items()}
        shoots = self._items(f"{CORE}/shoots") if needs_shoots(objects) else None
        snapshot = Snapshot(objects=objects, shoots=shoots)
        selector = urllib.parse.urlencode({"labelSelector": f"{refs.SECRET_REFERENCE_LABEL}=true"})
        secrets = {
            (str(_meta(s).get("namespace")), str(_meta(s).get("name"))): s
            for s in self._items(f"/api/v1/secrets?{selector}")
        }
        for namespace, name in sorted(held_secrets(snapshot) - set(secrets)):
            secret = self.kube.raw("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
            if isinstance(secret, dict):
                secrets[(namespace, name)] = secret
        return Snapshot(objects=objects, secrets=list(secrets.values()), shoots=shoots)

    def sync(self) -> None:
        snapshot = self.read()
        self.apply(plan(snapshot))
        self._report_in_use(snapshot)

    def apply(self, changes: Iterable[Change]) -> None:
        for change in changes:
            try:
                self.kube.raw("PATCH", change.path, change.body(), content_type=MERGE_PATCH)
            except (NotFound, Conflict):
                continue  # gone or changed meanwhile: the next sync decides on fresh facts
            log.info("Updated protection finalizer", extra={"object": change.path, "change": change.why})

    def _report_in_use(self, snapshot: Snapshot) -> None:
        for kind in PLURALS:
            for obj in snapshot.objects.get(kind, ()):
                if not (_deleting(obj) and refs.FINALIZER in _finalizers(obj)):
                    continue
                users = _still_used(kind, obj, snapshot)
                if users:
                    message = refs.in_use_message(kind, str(_meta(obj).get("name") or ""), users)
                    log.debug("Deletion deferred", extra={"object": object_path(kind, obj), "reason": message})


def register(registry: kopf.OperatorRegistry, protection: Protection) -> None:
    """Start the loop with the operator and stop it with it."""
    tasks: list[asyncio.Task[None]] = []

    @kopf.on.startup(registry=registry)
    async def start_protection(**_: Any) -> None:
        tasks.append(asyncio.create_task(protection.run(), name="protection"))

    @kopf.on.cleanup(registry=registry)
    async def stop_protection(**_: Any) -> None:
        for task in tasks:
            task.cancel()

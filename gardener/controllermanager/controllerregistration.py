"""ControllerRegistration -> ControllerInstallation: which extension each seed needs, as Gardener decides it.

Gardener's controllerregistration "seed" reconciler (pkg/controllermanager/controller/controllerregistration),
simplified but with its rules: a seed needs the (kind, type) pairs its own settings and the shoots on it use —
the seed's DNS provider (DNSRecord) and backup provider (BackupBucket, BackupEntry); each shoot's provider type
(Infrastructure, ControlPlane, and Worker when it has pools), its pools' machine images (OperatingSystemConfig),
its networking type (Network, when it has pools), its DNS providers (DNSRecord) and extensions (Extension), plus
Extension types a registration enables globally. A registration is wanted on a seed when its deployment policy
is `Always`, or `AlwaysExceptNoShoots` and the seed has shoots, or (`OnDemand`, the default) when it lists a
needed pair; a `seedSelector` (matchLabels) narrows the seeds. For each wanted pair there is one
ControllerInstallation `<registration>-<seed>`; installations nobody wants any more are deleted (the gardenlet
then uninstalls the extension and lets the object go).

The decision is pure (`wanted_installations`); the loop around it lists the garden every few seconds and makes
the ControllerInstallations match.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from gardener.runtime.errors import ApiError
from gardener.runtime.kube import Kube

log = logging.getLogger("gardener.controllermanager.controllerregistration")

CORE = "/apis/core.gardener.cloud/v1beta1"
REGISTRATIONS = f"{CORE}/controllerregistrations"
INSTALLATIONS = f"{CORE}/controllerinstallations"
SEEDS = f"{CORE}/seeds"
SHOOTS = f"{CORE}/shoots"

KindType = tuple[str, str]
Obj = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Registration:
    name: str
    resources: frozenset[KindType]
    #: Extension types enabled for every shoot
    global_extensions: frozenset[str]
    policy: str
    seed_selector: Mapping[str, str] | None

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Registration:
        spec = obj.get("spec") or {}
        resources = [r for r in spec.get("resources") or [] if r.get("kind") and r.get("type")]
        deployment = spec.get("deployment") or {}
        selector = deployment.get("seedSelector")
        return cls(
            name=str(obj["metadata"]["name"]),
            resources=frozenset((str(r["kind"]), str(r["type"])) for r in resources),
            global_extensions=frozenset(
                str(r["type"]) for r in resources if r["kind"] == "Extension" and r.get("globallyEnabled")
            ),
            policy=str(deployment.get("policy") or "OnDemand"),
            seed_selector=dict((selector or {}).get("matchLabels") or {}) if selector is not None else None,
        )


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def seed_kind_types(seed: Mapping[str, Any]) -> set[KindType]:
    """What a seed needs for itself: its DNS provider's records and its backup provider's buckets."""
    spec = _d(seed.get("spec"))
    needed: set[KindType] = set()
    dns_type = _d(_d(spec.get("dns")).get("provider")).get("type")
    if dns_type:
        needed.add(("DNSRecord", str(dns_type)))
    backup_type = _d(spec.get("backup")).get("provider")
    if backup_type:
        needed |= {("BackupBucket", str(backup_type)), ("BackupEntry", str(backup_type))}
    return needed


def shoot_kind_types(shoot: Mapping[str, Any]) -> set[KindType]:
    """What one shoot needs of the extensions on its seed."""
    spec = _d(shoot.get("spec"))
    provider = _d(spec.get("provider"))
    provider_type = str(provider.get("type") or "")
    workers = [w for w in provider.get("workers") or [] if isinstance(w, dict)]
    needed: set[KindType] = set()
    if provider_type:
        needed |= {("Infrastructure", provider_type), ("ControlPlane", provider_type)}
        if workers:
            needed.add(("Worker", provider_type))
    for worker in workers:
        image = _d(_d(worker.get("machine")).get("image")).get("name")
        if image:
            needed.add(("OperatingSystemConfig", str(image)))
        cri = _d(worker.get("cri"))
        for runtime in cri.get("containerRuntimes") or []:
            if _d(runtime).get("type"):
                needed.add(("ContainerRuntime", str(runtime["type"])))
    network_type = _d(spec.get("networking")).get("type")
    if workers and network_type:
        needed.add(("Network", str(network_type)))
    for dns_provider in _d(spec.get("dns")).get("providers") or []:
        if _d(dns_provider).get("type"):
            needed.add(("DNSRecord", str(dns_provider["type"])))
    for extension in spec.get("extensions") or []:
        if _d(extension).get("type") and not _d(extension).get("disabled"):
            needed.add(("Extension", str(extension["type"])))
    return needed


def shoots_on(seed_name: str, shoots: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The shoots scheduled to the seed, or still there while they move away."""
    return [s for s in shoots if seed_name in (_d(s.get("spec")).get("seedName"), _d(s.get("status")).get("seedName"))]


def _selected(registration: Registration, seed: Mapping[str, Any]) -> bool:
    if registration.seed_selector is None:
        return True
    labels = _d(_d(seed.get("metadata")).get("labels"))
    return all(labels.get(k) == v for k, v in registration.seed_selector.items())


def wanted_registrations(
    registrations: Iterable[Registration], seed: Mapping[str, Any], shoots: Iterable[Mapping[str, Any]]
) -> set[str]:
    """The registrations to install on `seed`, given every shoot of the garden."""
    seed_name = str(_d(seed.get("metadata")).get("name") or "")
    on_seed = shoots_on(seed_name, shoots)
    registrations = list(registrations)
    needed = seed_kind_types(seed)
    for shoot in on_seed:
        needed |= shoot_kind_types(shoot)
    if on_seed:
        needed |= {("Extension", t) for r in registrations for t in r.global_extensions}
    wanted = set()
    for registration in registrations:
        if not _selected(registration, seed):
            continue
        if (
            registration.policy == "Always"
            or (registration.policy == "AlwaysExceptNoShoots" and on_seed)
            or registration.resources & needed
        ):
            wanted.add(registration.name)
    return wanted


def installation_name(registration: str, seed: str) -> str:
    return f"{registration}-{seed}"


def wanted_installations(
    registrations: Iterable[Registration], seeds: Iterable[Mapping[str, Any]], shoots: Iterable[Mapping[str, Any]]
) -> dict[str, KindType]:
    """ControllerInstallation name -> (registration, seed), for every seed of the garden."""
    registrations, shoots = list(registrations), list(shoots)
    out: dict[str, KindType] = {}
    for seed in seeds:
        seed_name = str(_d(seed.get("metadata")).get("name") or "")
        if not seed_name or _d(seed.get("metadata")).get("deletionTimestamp"):
            continue
        for name in wanted_registrations(registrations, seed, shoots):
            out[installation_name(name, seed_name)] = (name, seed_name)
    return out


def installation(name: str, registration: str, seed: str) -> Obj:
    return {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "ControllerInstallation",
        "metadata": {
            "name": name,
            "labels": {
                "controllerregistration.core.gardener.cloud/name": registration,
                "seed.gardener.cloud/name": seed,
            },
        },
        "spec": {"registrationRef": {"name": registration}, "seedRef": {"name": seed}},
    }


class ControllerRegistrationSeed:
    """Keeps the garden's ControllerInstallations what `wanted_installations` says."""

    def __init__(self, kube: Kube, *, sync_period: float = 5.0) -> None:
        self.kube = kube
        self.sync_period = sync_period

    def _items(self, path: str) -> list[Obj]:
        return list(((self.kube.raw("GET", path) or {}).get("items")) or [])

    def sync(self) -> None:
        registrations = [Registration.of(r) for r in self._items(REGISTRATIONS)]
        wanted = wanted_installations(registrations, self._items(SEEDS), self._items(SHOOTS))
        existing = {i["metadata"]["name"]: i for i in self._items(INSTALLATIONS)}
        for name, (registration, seed) in sorted(wanted.items()):
            if name not in existing:
                log.info("Creating ControllerInstallation", extra={"registration": registration, "seed": seed})
                try:
                    self.kube.create(INSTALLATIONS, installation(name, registration, seed))
                except ApiError as exc:
                    if exc.status != 409:
                        raise
        for name, obj in existing.items():
            labels = _d(obj["metadata"].get("labels"))
            ours = "controllerregistration.core.gardener.cloud/name" in labels
            if ours and name not in wanted and not obj["metadata"].get("deletionTimestamp"):
                log.info("Deleting ControllerInstallation nothing needs any more", extra={"installation": name})
                self.kube.delete(f"{INSTALLATIONS}/{name}")

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sync)
            except Exception as exc:  # the garden may be unreachable for a moment; the next round tries again
                log.warning("ControllerInstallation sync failed: %s", exc)
            await asyncio.sleep(self.sync_period)


def register(registry: kopf.OperatorRegistry, controller: ControllerRegistrationSeed) -> None:
    """Start the loop with the operator and stop it with it."""
    tasks: list[asyncio.Task[None]] = []

    @kopf.on.startup(registry=registry)
    async def start_controllerregistration(**_: Any) -> None:
        tasks.append(asyncio.create_task(controller.run(), name="controllerregistration"))

    @kopf.on.cleanup(registry=registry)
    async def stop_controllerregistration(**_: Any) -> None:
        for task in tasks:
            task.cancel()

"""Extension resources (`extensions.gardener.cloud/v1alpha1` Infrastructure, ControlPlane, Worker,
OperatingSystemConfig, Network, DNSRecord): written by the gardenlet into the shoot namespace, reconciled by the
extension registered for their kind and type, waited for through their status.

Each write carries `gardener.cloud/operation: reconcile`, which the extension removes once it has acted; the
resource is ready when that annotation is gone and `status.lastOperation` reports success for the current
generation. A seed without an extension's CRD cannot run it: `installed_kinds` lets a flow skip those steps.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gardener.runtime.errors import Forbidden
from gardener.runtime.kube import Kube, resource_path
from gardenlet.components.base import ChartComponent

GROUP = "extensions.gardener.cloud"
API_VERSION = f"{GROUP}/v1alpha1"
OPERATION = "gardener.cloud/operation"
CONFIRM_DELETION = "confirmation.gardener.cloud/deletion"
PLURALS = {
    "Infrastructure": "infrastructures",
    "ControlPlane": "controlplanes",
    "Worker": "workers",
    "OperatingSystemConfig": "operatingsystemconfigs",
    "Network": "networks",
    "DNSRecord": "dnsrecords",
    "Cluster": "clusters",
}


@dataclass(frozen=True, kw_only=True)
class ExtensionValues:
    kind: str
    name: str
    namespace: str
    type: str
    #: everything of the spec but `type` (region, secretRef, providerConfig, pools ...)
    spec: dict[str, Any] = field(default_factory=dict)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ExtensionResource(ChartComponent):
    chart = "extension"
    values: ExtensionValues

    def __init__(self, kube: Kube, values: ExtensionValues, *, now: Callable[[], dt.datetime] = _now, **kwargs: Any):
        super().__init__(kube, values, **kwargs)
        self.now = now

    def context(self) -> dict[str, Any]:
        v = self.values
        return {
            "kind": v.kind,
            "name": v.name,
            "namespace": v.namespace,
            "spec": {"type": v.type, **v.spec},
            "timestamp": self.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    @property
    def what(self) -> str:
        return f"{self.values.kind} {self.values.name}"

    @property
    def path(self) -> str:
        return resource_path(API_VERSION, self.values.kind, self.values.namespace, self.values.name)

    async def problem(self) -> str | None:
        obj = await self.kube.aget(self.path)
        if obj is None:
            return f"{self.what} does not exist"
        return extension_problem(obj)

    async def destroy(self) -> None:
        body = {"metadata": {"annotations": {CONFIRM_DELETION: "true"}}}
        if await self.kube.amerge_patch(self.path, body) is not None:
            await self.kube.adelete(self.path)


def extension_problem(obj: dict[str, Any]) -> str | None:
    """None when an extension resource is reconciled; else what its status says."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    what = f"{obj.get('kind')} {meta.get('name')}"
    if (meta.get("annotations") or {}).get(OPERATION):
        return f"{what} has not been picked up by its extension yet"
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return f"{what}: extension has not observed generation {meta.get('generation')} yet"
    last = status.get("lastOperation") or {}
    if last.get("state") != "Succeeded":
        error = (status.get("lastError") or {}).get("description") or last.get("description") or "no status yet"
        return f"{what} is {last.get('state') or 'not reconciled'}: {error}"
    return None


def cluster_manifest(
    name: str, *, shoot: dict[str, Any], seed: dict[str, Any], cloud_profile: dict[str, Any]
) -> dict[str, Any]:
    """The `Cluster` extensions read the Shoot, its Seed and CloudProfile from (named like the seed namespace).

    The objects are embedded as given: the caller bounds what is copied (gardenlet.botanist.cluster).
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"cloudProfile": cloud_profile, "seed": seed, "shoot": shoot},
    }


CONTROLLER_REGISTRATIONS = "/apis/core.gardener.cloud/v1beta1/controllerregistrations"


async def registered_extensions(garden: Kube) -> frozenset[tuple[str, str]]:
    """The (kind, type) pairs some ControllerRegistration of the garden lists: what an extension exists for."""
    found = await garden.araw("GET", CONTROLLER_REGISTRATIONS)
    pairs = set()
    for registration in (found or {}).get("items") or []:
        for resource in (registration.get("spec") or {}).get("resources") or []:
            if resource.get("kind") and resource.get("type"):
                pairs.add((str(resource["kind"]), str(resource["type"])))
    return frozenset(pairs)


def not_registered(kind: str, type_: str) -> str:
    """What a flow says when it cannot wait for an extension because none is registered."""
    return (
        f"no extension is registered for {kind} of type {type_!r}: no ControllerRegistration of the garden lists "
        f"kind {kind} with type {type_!r}, so nothing would ever reconcile it"
    )


async def installed_kinds(kube: Kube, kinds: Iterable[str] = tuple(PLURALS)) -> frozenset[str]:
    """Which extension kinds the seed can hold (their CRD exists)."""
    found = set()
    for kind in kinds:
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{PLURALS[kind]}.{GROUP}"
        # A gardenlet that may not read CRDs cannot rely on the extension either: treat it as not installed.
        with contextlib.suppress(Forbidden):
            if await kube.aget(path) is not None:
                found.add(kind)
    return frozenset(found)

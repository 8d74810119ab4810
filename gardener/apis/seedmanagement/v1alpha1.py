"""seedmanagement.gardener.cloud/v1alpha1 types (type and validation only for now)."""

from __future__ import annotations

from dataclasses import dataclass

from gardener.apis.core.v1beta1 import Condition
from gardener.apis.fields import opt, req
from gardener.apis.openapi import RawExtension

GROUP = "seedmanagement.gardener.cloud"
VERSION = "v1alpha1"


@dataclass(frozen=True, kw_only=True)
class ShootReference:
    name: str = req("Name of the Shoot (in the same namespace) to register as a Seed.")


@dataclass(frozen=True, kw_only=True)
class ManagedSeedSpec:
    shoot: ShootReference | None = opt("The Shoot to register as a Seed.")
    gardenlet: RawExtension | None = opt("How the gardenlet is deployed into the Shoot and its configuration.")


@dataclass(frozen=True, kw_only=True)
class ManagedSeedStatus:
    conditions: list[Condition] | None = opt("Conditions: ShootReconciled, SeedRegistered.")
    observedGeneration: int | None = opt("Generation last handled by the controller.", format="int64")

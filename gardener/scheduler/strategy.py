"""Choosing among the Seeds that pass the filters, as Gardener's scheduler does.

`SameRegion` (the default) keeps Seeds of the Shoot's provider type in the Shoot's region, with no fallback.
`MinimalDistance` prefers the nearest Seeds by a region distance table (a ConfigMap in the garden namespace labelled
`scheduling.gardener.cloud/purpose: region-config` and annotated with the CloudProfiles it serves; each data key is a
Shoot region, its value a YAML map of Seed region to distance) and falls back to a distance between region names.
Shoots with `purpose: testing` may go to any region of their provider type. Among the best, the Seed hosting the
fewest Shoots wins, ties broken by name.

A decision is split in two: `plan` does everything that does not depend on how many Shoots each Seed hosts, so the
controller can keep it per Shoot view; `choose` applies capacity and load, which change with every binding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml

from gardener.scheduler.filters import (
    CloudProfileView,
    Code,
    Reason,
    SeedView,
    ShootView,
    capacity,
    static_reason,
)

PURPOSE_TESTING = "testing"
REGION_CONFIG_PURPOSE_LABEL = "scheduling.gardener.cloud/purpose"
REGION_CONFIG_PURPOSE = "region-config"
REGION_CONFIG_PROFILES_ANNOTATION = "scheduling.gardener.cloud/cloudprofiles"
#: added to the name distance of a Seed of another provider type (Gardener's penalty)
OTHER_PROVIDER_PENALTY = 2
_ORIENTATIONS = ("north", "south", "east", "west", "central")


class Strategy(StrEnum):
    SAME_REGION = "SameRegion"
    MINIMAL_DISTANCE = "MinimalDistance"


class RegionConfigError(ValueError):
    """A region ConfigMap entry that is not a map of region to integer distance."""


@dataclass(frozen=True, order=True)
class Rank:
    """Lower is better: tier 0 ranks by the region table, tier 1 by region names (only when no tier 0 Seed fits)."""

    tier: int
    distance: int


@dataclass(frozen=True)
class Candidate:
    seed: SeedView
    rank: Rank


@dataclass(frozen=True)
class Plan:
    candidates: tuple[Candidate, ...] = ()
    rejected: Mapping[str, Reason] = field(default_factory=dict)
    #: set when the Shoot cannot be scheduled whatever the Seeds (no Seeds, unknown CloudProfile ...)
    problem: Reason | None = None


@dataclass(frozen=True)
class Decision:
    seed: str | None
    #: per Seed name, why it was not chosen (filled only when no Seed was)
    reasons: Mapping[str, Reason] = field(default_factory=dict)
    problem: Reason | None = None

    @property
    def codes(self) -> set[Code]:
        return {self.problem.code} if self.problem else {r.code for r in self.reasons.values()}

    @property
    def message(self) -> str:
        if self.seed is not None:
            return f"Scheduled to seed {self.seed!r}"
        if self.problem is not None:
            return self.problem.message
        listed = ", ".join(f"{name} => {self.reasons[name]}" for name in sorted(self.reasons))
        return f"0/{len(self.reasons)} seed(s) are eligible for scheduling: {{{listed}}}"


# ---- region distances ----


def _orientation(name: str) -> tuple[str, str]:
    for orientation in _ORIENTATIONS:
        before, found, after = name.partition(orientation)
        if found:
            return f"{before}:{after}", orientation
    return name, ""


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def name_distance(seed_region: str, shoot_region: str) -> int:
    """Gardener's distance between region names: twice the edit distance of the names without their orientation
    word (north, south, east, west, central), plus 1 if only one has an orientation, plus 2 if they differ. So
    eu-west-1 is nearer to eu-central-1 than to us-west-1."""
    seed_base, seed_orientation = _orientation(seed_region)
    shoot_base, shoot_orientation = _orientation(shoot_region)
    dist = 2 * _levenshtein(seed_base, shoot_base)
    if seed_orientation == shoot_orientation:
        return dist
    if not seed_orientation or not shoot_orientation:
        return dist + 1
    return dist + 2


def region_distances(
    configmaps: Iterable[Mapping[str, Any]], *, cloud_profile: str, region: str
) -> dict[str, int] | None:
    """The distance table for Shoots of `cloud_profile` in `region` from the first region ConfigMap (by namespace
    and name) that serves the profile; None when there is no such table. A region is at distance 0 from itself
    unless the table says otherwise."""
    ordered = sorted(configmaps, key=lambda cm: (cm["metadata"].get("namespace", ""), cm["metadata"]["name"]))
    for cm in ordered:
        profiles = ((cm["metadata"].get("annotations") or {}).get(REGION_CONFIG_PROFILES_ANNOTATION) or "").split(",")
        if cloud_profile not in (p.strip() for p in profiles):
            continue
        entry = (cm.get("data") or {}).get(region)
        if not entry:
            return None
        where = f"ConfigMap {cm['metadata'].get('namespace', '')}/{cm['metadata']['name']}, region {region!r}"
        try:
            table = yaml.safe_load(entry)
        except yaml.YAMLError as exc:
            raise RegionConfigError(f"region config {where} is not YAML: {exc}") from exc
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in table.items()
        ):
            raise RegionConfigError(f"region config {where} is not a map of region to integer distance")
        return {region: 0, **table}
    return None


# ---- ranking and choosing ----


def rank(
    seed: SeedView, shoot: ShootView, *, strategy: Strategy, distances: Mapping[str, int] | None = None
) -> Rank | Reason:
    """Where `strategy` puts the Seed, or why it excludes it."""
    same_provider = seed.provider_type == shoot.provider_type
    if shoot.purpose == PURPOSE_TESTING:
        if same_provider:
            return Rank(0, 0)
        return Reason(Code.PROVIDER, f"seed provider type {seed.provider_type!r} differs from the shoot's (testing)")
    if strategy is Strategy.SAME_REGION:
        if not same_provider:
            return Reason(
                Code.PROVIDER,
                f"seed provider type {seed.provider_type!r} differs from the shoot's {shoot.provider_type!r} "
                f"(strategy SameRegion)",
            )
        if seed.region != shoot.region:
            return Reason(
                Code.REGION,
                f"seed region {seed.region!r} differs from the shoot's region {shoot.region!r} (strategy SameRegion)",
            )
        return Rank(0, 0)
    if distances is not None and seed.region in distances:
        return Rank(0, distances[seed.region])
    return Rank(1, name_distance(seed.region, shoot.region) + (0 if same_provider else OTHER_PROVIDER_PENALTY))


def plan(
    shoot: ShootView,
    seeds: Iterable[SeedView],
    profile: CloudProfileView | None,
    *,
    strategy: Strategy,
    distances: Mapping[str, int] | None = None,
) -> Plan:
    seeds = list(seeds)
    if shoot.cloud_profile_kind != "CloudProfile":
        return Plan(problem=Reason(Code.CLOUD_PROFILE, f"{shoot.cloud_profile_kind} is not supported for scheduling"))
    if profile is None:
        return Plan(problem=Reason(Code.CLOUD_PROFILE, f"CloudProfile {shoot.cloud_profile!r} not found"))
    if not seeds:
        return Plan(problem=Reason(Code.NO_SEEDS, "no seeds are registered"))
    candidates: list[Candidate] = []
    rejected: dict[str, Reason] = {}
    for seed in seeds:
        verdict = static_reason(seed, shoot, profile) or rank(seed, shoot, strategy=strategy, distances=distances)
        if isinstance(verdict, Reason):
            rejected[seed.name] = verdict
        else:
            candidates.append(Candidate(seed, verdict))
    return Plan(candidates=tuple(candidates), rejected=rejected)


def choose(plan: Plan, usage: Mapping[str, int]) -> Decision:
    """The best-ranked Seed with capacity left, then the one hosting the fewest Shoots, then by name."""
    if plan.problem is not None:
        return Decision(seed=None, problem=plan.problem)
    best: tuple[int, int, int, str] | None = None
    full: dict[str, Reason] = {}
    for candidate in plan.candidates:
        seed = candidate.seed
        used = usage.get(seed.name, 0)
        no_room = capacity(seed, used)
        if no_room is not None:
            full[seed.name] = no_room
            continue
        key = (candidate.rank.tier, candidate.rank.distance, used, seed.name)
        if best is None or key < best:
            best = key
    if best is not None:
        return Decision(seed=best[3])
    return Decision(seed=None, reasons={**plan.rejected, **full})


def schedule(
    shoot: ShootView,
    seeds: Iterable[SeedView],
    profile: CloudProfileView | None,
    usage: Mapping[str, int],
    *,
    strategy: Strategy = Strategy.SAME_REGION,
    distances: Mapping[str, int] | None = None,
) -> Decision:
    return choose(plan(shoot, seeds, profile, strategy=strategy, distances=distances), usage)

"""Seed lifecycle (Gardener's seed lifecycle controller): notice when a gardenlet stops sending heartbeats.

Every gardenlet renews the Lease `gardener-system-seed-lease/<seed>`. When a Seed's Lease is older than the
monitor period, its `GardenletReady` condition becomes Unknown, and so do the other seed conditions its gardenlet
checks (`ExtensionsReady`, `SeedSystemComponentsHealthy`, `BackupBucketsReady`): Gardener's controller-manager
computes the first and last of those itself, here the gardenlet does, so they go stale with it. The scheduler
takes no new shoots to such a seed. When `GardenletReady` has been Unknown for the shoot monitor period, the
conditions and constraints of the Seed's Shoots become Unknown too, since nobody checks them any more. The
gardenlet sets its conditions again once it is back. Seeds without conditions have never reported and are left
alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kopf

from gardener.apis.core import conditions as cond
from gardener.runtime.errors import Conflict, NotFound
from gardener.runtime.kube import Kube

log = logging.getLogger("gardener.controllermanager.seedlifecycle")

CORE = "/apis/core.gardener.cloud/v1beta1"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{cond.SEED_LEASE_NAMESPACE}/leases"
MERGE_PATCH = "application/merge-patch+json"

SEED_REASON = "SeedStatusUnknown"
SEED_MESSAGE = "Gardenlet stopped posting seed status."
SHOOT_REASON = "StatusUnknown"
SHOOT_MESSAGE = "Gardenlet stopped sending heartbeats."
#: the seed conditions besides GardenletReady that only the seed's gardenlet checks (gardenlet/seedcare.py)
GARDENLET_CHECKED = cond.SEED_GARDENLET_CHECKED


@dataclass(frozen=True)
class LifecycleConfig:
    #: a Lease older than this makes GardenletReady Unknown (Gardener: monitorPeriod)
    monitor_period: float = 40.0
    #: GardenletReady Unknown this long makes the Seed's Shoots Unknown (Gardener: shootMonitorPeriod)
    shoot_monitor_period: float = 200.0
    #: how often every Seed is checked (Gardener: syncPeriod)
    sync_period: float = 10.0


@dataclass(frozen=True)
class Verdict:
    #: the GardenletReady condition to write, or None when it stays as it is
    condition: cond.Condition | None
    shoots_unknown: bool
    #: the other gardenlet-checked conditions that turn Unknown with it (only those that change)
    others: tuple[cond.Condition, ...] = ()

    @property
    def updates(self) -> tuple[cond.Condition, ...]:
        return self.others if self.condition is None else (self.condition, *self.others)


def check_seed(
    seed: dict[str, Any], lease: dict[str, Any] | None, *, now: dt.datetime, config: LifecycleConfig
) -> Verdict:
    conditions = (seed.get("status") or {}).get("conditions")
    if not conditions:
        return Verdict(None, False)
    renewed = cond.parse_time(((lease or {}).get("spec") or {}).get("renewTime"))
    if renewed is not None and renewed + dt.timedelta(seconds=config.monitor_period) > now:
        return Verdict(None, False)
    old = cond.get_condition(conditions, cond.SEED_GARDENLET_READY)
    new = cond.updated_condition(
        old, ctype=cond.SEED_GARDENLET_READY, status=cond.UNKNOWN, reason=SEED_REASON, message=SEED_MESSAGE, now=now
    )
    since = cond.parse_time(new.get("lastTransitionTime")) or now
    shoots_unknown = since + dt.timedelta(seconds=config.shoot_monitor_period) <= now
    others = []
    for ctype in GARDENLET_CHECKED:
        current = cond.get_condition(conditions, ctype)
        if current is None:
            continue
        stale = cond.updated_condition(
            current, ctype=ctype, status=cond.UNKNOWN, reason=SEED_REASON, message=SEED_MESSAGE, now=now
        )
        if stale != current:
            others.append(stale)
    return Verdict(None if new == old else new, shoots_unknown, tuple(others))


def _unknown(existing: Any, types: tuple[str, ...], now: dt.datetime) -> list[cond.Condition]:
    all_types = dict.fromkeys([*(c.get("type") for c in existing or () if isinstance(c, dict)), *types])
    updates = [
        cond.updated_condition(
            cond.get_condition(existing, str(t)),
            ctype=str(t),
            status=cond.UNKNOWN,
            reason=SHOOT_REASON,
            message=SHOOT_MESSAGE,
            now=now,
        )
        for t in all_types
        if t
    ]
    return cond.merge_conditions(existing, *updates)


def unknown_shoot_status(shoot: dict[str, Any], *, now: dt.datetime) -> dict[str, Any] | None:
    """The status fields that mark a Shoot's conditions and constraints Unknown; None if they already are."""
    status = shoot.get("status") or {}
    patch = {
        "conditions": _unknown(status.get("conditions"), cond.SHOOT_CONDITIONS, now),
        "constraints": _unknown(status.get("constraints"), cond.SHOOT_CONSTRAINTS, now),
    }
    if all(patch[k] == (status.get(k) or []) for k in patch):
        return None
    return patch


def on_seed(shoot: dict[str, Any], seed: str) -> bool:
    return bool((shoot.get("spec") or {}).get("seedName") == seed)


class SeedLifecycle:
    def __init__(
        self,
        kube: Kube,
        config: LifecycleConfig,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.kube = kube
        self.config = config
        self.clock = clock

    def ensure_lease_namespace(self) -> None:
        self.kube.apply(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": cond.SEED_LEASE_NAMESPACE}},
        )

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sync)
            except Exception:
                log.exception("Seed lifecycle check failed")
            await asyncio.sleep(self.config.sync_period)

    def sync(self) -> None:
        for seed in (self.kube.raw("GET", f"{CORE}/seeds") or {}).get("items") or []:
            self.reconcile(seed)

    def reconcile(self, seed: dict[str, Any]) -> None:
        name = seed["metadata"]["name"]
        now = self.clock()
        verdict = check_seed(seed, self.kube.raw("GET", f"{LEASES}/{name}"), now=now, config=self.config)
        if verdict.updates:
            log.info(
                "Gardenlet stopped posting seed status",
                extra={"seed": name, "conditions": [c["type"] for c in verdict.updates]},
            )
            self._patch_status(
                f"{CORE}/seeds/{name}/status",
                seed,
                {"conditions": cond.merge_conditions(seed["status"]["conditions"], *verdict.updates)},
            )
        if verdict.shoots_unknown:
            shoots = (self.kube.raw("GET", f"{CORE}/shoots") or {}).get("items") or []
            for shoot in shoots:
                status = unknown_shoot_status(shoot, now=now) if on_seed(shoot, name) else None
                if status is not None:
                    m = shoot["metadata"]
                    log.info(
                        "Marking shoot status Unknown", extra={"seed": name, "shoot": f"{m['namespace']}/{m['name']}"}
                    )
                    self._patch_status(f"{CORE}/namespaces/{m['namespace']}/shoots/{m['name']}/status", shoot, status)

    def _patch_status(self, path: str, obj: dict[str, Any], status: dict[str, Any]) -> None:
        """Merge-patch status fields, guarded by the resourceVersion the decision was based on."""
        body = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "status": status}
        # Gone or changed meanwhile: the next sync decides on fresh facts.
        with contextlib.suppress(NotFound, Conflict):
            self.kube.raw("PATCH", path, body, content_type=MERGE_PATCH)


def register(registry: kopf.OperatorRegistry, lifecycle: SeedLifecycle) -> None:
    """One loop over all Seeds per sync period; per-object kopf timers would put a finalizer on every Seed."""
    tasks: list[asyncio.Task[None]] = []

    @kopf.on.startup(registry=registry)
    async def start_seed_lifecycle(**_: Any) -> None:
        await asyncio.to_thread(lifecycle.ensure_lease_namespace)
        tasks.append(asyncio.create_task(lifecycle.run(), name="seed-lifecycle"))

    @kopf.on.cleanup(registry=registry)
    async def stop_seed_lifecycle(**_: Any) -> None:
        for task in tasks:
            task.cancel()

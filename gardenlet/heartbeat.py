"""Seed registration and heartbeat: the gardenlet's Seed, its Lease, and the status it reports.

The Seed is created from `seedConfig`, or updated to it (labels merged, spec replaced) when it exists.
Every `leaseResyncSeconds` the gardenlet renews the Lease `gardener-system-seed-lease/<seed>` (owned by the
Seed, so it goes with it) and keeps `GardenletReady` True, the shoot capacity and who serves the seed in
the Seed's status, writing only what changed. The controller-manager watches the Lease; when the beats stop
it turns the seed Unknown, and the next beat turns it back (Gardener's seed lease controller).
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.metadata
import logging
import math
import socket
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from gardener.apis.core import conditions as cond
from gardener.runtime.errors import Conflict, NotFound
from gardener.runtime.kube import MERGE_PATCH, Kube
from gardenlet.config import GardenletConfig

log = logging.getLogger("gardenlet.heartbeat")

SEEDS = "/apis/core.gardener.cloud/v1beta1/seeds"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{cond.SEED_LEASE_NAMESPACE}/leases"
READY_REASON = "GardenletReady"
READY_MESSAGE = "Gardenlet is posting ready status."


def gardenlet_version() -> str:
    try:
        return importlib.metadata.version("gardener-py")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0-dev"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.heartbeats = Counter(
            "gardenlet_seed_heartbeats_total", "Seed lease renewals by result", ["result"], registry=self.registry
        )
        self.last_heartbeat = Gauge(
            "gardenlet_seed_last_heartbeat_timestamp_seconds",
            "When the seed lease was last renewed",
            registry=self.registry,
        )
        self.certificate_expiry = Gauge(
            "gardenlet_client_certificate_expiration_timestamp_seconds",
            "When the gardenlet's garden client certificate expires",
            registry=self.registry,
        )


def desired_seed(current: dict[str, Any] | None, config: GardenletConfig) -> dict[str, Any]:
    """The Seed as the configuration wants it: spec from seedConfig, its labels and annotations merged in."""
    wanted_meta = config.seed.get("metadata") or {}
    seed: dict[str, Any] = {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "Seed",
        "metadata": {"name": config.seed_name},
    }
    if current is not None:
        seed = copy.deepcopy(current)
    meta: dict[str, Any] = seed["metadata"]
    for key in ("labels", "annotations"):
        if wanted_meta.get(key):
            meta[key] = {**(meta.get(key) or {}), **wanted_meta[key]}
    seed["spec"] = copy.deepcopy(config.seed["spec"])
    return seed


def desired_status(seed: dict[str, Any], config: GardenletConfig, *, now: dt.datetime, identity: str) -> dict[str, Any]:
    """The status fields the gardenlet owns, with GardenletReady True."""
    status = seed.get("status") or {}
    conditions = status.get("conditions")
    ready = cond.updated_condition(
        cond.get_condition(conditions, cond.SEED_GARDENLET_READY),
        ctype=cond.SEED_GARDENLET_READY,
        status=cond.TRUE,
        reason=READY_REASON,
        message=READY_MESSAGE,
        now=now,
    )
    shoots = {"shoots": str(config.shoot_capacity)}
    return {
        "conditions": cond.merge_conditions(conditions, ready),
        "capacity": shoots,
        "allocatable": shoots,
        "gardener": {"id": identity, "name": f"gardenlet-{socket.gethostname()}", "version": gardenlet_version()},
        "observedGeneration": seed["metadata"].get("generation", 0),
    }


class Heartbeat:
    def __init__(
        self,
        kube: Kube,
        config: GardenletConfig,
        metrics: Metrics,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        #: replaced when the client certificate is renewed
        self.kube = kube
        self.config = config
        self.metrics = metrics
        self.clock = clock
        self.identity = f"{socket.gethostname()}-{config.seed_name}"
        #: whether the last beat reached the garden (served on /healthz)
        self.healthy = True

    @property
    def _seed_path(self) -> str:
        return f"{SEEDS}/{self.config.seed_name}"

    def ensure_seed(self) -> dict[str, Any]:
        """Create the Seed from the configuration, or bring an existing one in line with it."""
        current: dict[str, Any] | None = self.kube.raw("GET", self._seed_path)
        wanted = desired_seed(current, self.config)
        if current is None:
            created: dict[str, Any] = self.kube.raw("POST", SEEDS, wanted)
            log.info("Registered seed", extra={"seed": self.config.seed_name})
            return created
        if wanted == current:
            return current
        updated: dict[str, Any] = self.kube.raw("PUT", self._seed_path, wanted)
        log.info("Updated seed from the configuration", extra={"seed": self.config.seed_name})
        return updated

    def beat(self) -> None:
        try:
            self._beat()
        except Exception:
            self.healthy = False
            self.metrics.heartbeats.labels("error").inc()
            raise
        self.healthy = True
        self.metrics.heartbeats.labels("success").inc()
        self.metrics.last_heartbeat.set(self.clock().timestamp())

    def _beat(self) -> None:
        seed = self.kube.raw("GET", self._seed_path) or self.ensure_seed()
        self._renew_lease(seed)
        self._report(seed)

    def _renew_lease(self, seed: dict[str, Any]) -> None:
        name = self.config.seed_name
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": name,
                "namespace": cond.SEED_LEASE_NAMESPACE,
                "ownerReferences": [
                    {"apiVersion": seed["apiVersion"], "kind": "Seed", "name": name, "uid": seed["metadata"]["uid"]}
                ],
            },
            "spec": {
                "holderIdentity": name,
                "leaseDurationSeconds": max(1, math.ceil(self.config.lease_resync_seconds)),
                "renewTime": cond.format_micro_time(self.clock()),
            },
        }
        try:
            self.kube.raw("PATCH", f"{LEASES}/{name}", lease, content_type=MERGE_PATCH)
        except NotFound:
            self.kube.raw("POST", LEASES, lease)

    def _report(self, seed: dict[str, Any]) -> None:
        current = seed.get("status") or {}
        wanted = desired_status(seed, self.config, now=self.clock(), identity=self.identity)
        changed = {k: v for k, v in wanted.items() if current.get(k) != v}
        if not changed:
            return
        body = {"metadata": {"resourceVersion": seed["metadata"]["resourceVersion"]}, "status": changed}
        try:
            self.kube.raw("PATCH", f"{self._seed_path}/status", body, content_type=MERGE_PATCH)
        except Conflict:
            return  # the Seed changed meanwhile: the next beat reports on the newer version
        if "conditions" in changed:
            log.info("Seed status reported", extra={"seed": self.config.seed_name, "fields": sorted(changed)})

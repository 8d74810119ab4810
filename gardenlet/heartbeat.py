"""Seed registration and heartbeat: the gardenlet's Seed, its Lease, and the status it reports.

The Seed is created from `seedConfig`, or updated to it (labels merged, spec replaced) when it exists.
Every `leaseResyncSeconds` the gardenlet renews the Lease `gardener-system-seed-lease/<seed>` (owned by the
Seed, so it goes with it), looks at its seed cluster, and reports the seed's conditions (`gardenlet.seedcare`:
GardenletReady only when the seed's API server answers too), the shoot capacity, the seed's Kubernetes version
and who serves the seed in the Seed's status, writing only what changed. The controller-manager watches the
Lease; when the beats stop it turns the seed Unknown, and the next beat turns it back (Gardener's seed lease
controller).
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.metadata
import logging
import math
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from gardener.apis.core import conditions as cond
from gardener.runtime.errors import Conflict, NotFound
from gardener.runtime.kube import MERGE_PATCH, Kube
from gardenlet import seedcare
from gardenlet.config import GardenletConfig

log = logging.getLogger("gardenlet.heartbeat")

SEEDS = "/apis/core.gardener.cloud/v1beta1/seeds"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{cond.SEED_LEASE_NAMESPACE}/leases"


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


def desired_status(
    seed: dict[str, Any],
    config: GardenletConfig,
    *,
    now: dt.datetime,
    identity: str,
    observed: seedcare.Observed,
    installations: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The status fields the gardenlet owns, from what it just saw of its seed cluster."""
    status = seed.get("status") or {}
    shoots = {"shoots": str(config.shoot_capacity)}
    wanted: dict[str, Any] = {
        "conditions": seedcare.seed_conditions(seed, observed, installations, now=now),
        "capacity": shoots,
        "allocatable": shoots,
        "gardener": {"id": identity, "name": f"gardenlet-{socket.gethostname()}", "version": gardenlet_version()},
        "observedGeneration": seed["metadata"].get("generation", 0),
    }
    operation = seedcare.last_operation(status.get("lastOperation"), observed, now=now)
    if operation is not None:
        wanted["lastOperation"] = operation
    if observed.kubernetes_version:
        wanted["kubernetesVersion"] = observed.kubernetes_version
    return wanted


class Heartbeat:
    def __init__(
        self,
        kube: Kube,
        config: GardenletConfig,
        metrics: Metrics,
        *,
        seed_kube: Kube,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        #: replaced when the client certificate is renewed
        self.kube = kube
        #: the seed cluster, whose kubeconfig is read again when its file changes
        self.seed_kube = seed_kube
        self.config = config
        self.metrics = metrics
        self.clock = clock
        self.identity = f"{socket.gethostname()}-{config.seed_name}"
        #: whether the last beat reached the garden and the seed (served on /healthz)
        self.healthy = True
        #: why the seed could not be reached on the last beat, logged once per distinct reason
        self.seed_problem: str | None = None

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
            observed = self._beat()
        except Exception:
            self.healthy = False
            self.metrics.heartbeats.labels("error").inc()
            raise
        self.healthy = observed.error is None
        self.metrics.heartbeats.labels("success" if self.healthy else "seed_unreachable").inc()
        self.metrics.last_heartbeat.set(self.clock().timestamp())
        if observed.error != self.seed_problem:
            if observed.error is not None:
                log.warning("Cannot reach the seed: %s", observed.error, extra={"seed": self.config.seed_name})
            else:
                log.info("Seed reachable", extra={"seed": self.config.seed_name})
            self.seed_problem = observed.error

    def _beat(self) -> seedcare.Observed:
        seed = self.kube.raw("GET", self._seed_path) or self.ensure_seed()
        self._renew_lease(seed)
        self.seed_kube.refresh()
        observed = seedcare.observe(self.seed_kube, backup=bool((seed.get("spec") or {}).get("backup")))
        self._report(seed, observed, self._installations() if observed.error is None else [])
        return observed

    def _installations(self) -> list[dict[str, Any]]:
        """This seed's ControllerInstallations (a gardenlet may list them all, as in Gardener)."""
        items = (self.kube.raw("GET", seedcare.CONTROLLER_INSTALLATIONS) or {}).get("items") or []
        return [i for i in items if ((i.get("spec") or {}).get("seedRef") or {}).get("name") == self.config.seed_name]

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

    def _report(self, seed: dict[str, Any], observed: seedcare.Observed, installations: list[dict[str, Any]]) -> None:
        current = seed.get("status") or {}
        wanted = desired_status(
            seed, self.config, now=self.clock(), identity=self.identity, observed=observed, installations=installations
        )
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

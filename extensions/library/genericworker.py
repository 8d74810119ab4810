"""The generic Worker actuator: everything of a Worker that is the same for every provider, behind a small delegate.

As Gardener's `extensions/pkg/controller/worker/genericactuator`: the actuator spreads each pool's minimum,
maximum, maxSurge and maxUnavailable over its zones, writes one MachineDeployment `<namespace>-<pool>-z<n>` per
zone (keeping the replicas an autoscaler chose within bounds, zero while the shoot hibernates), one MachineClass
per zone whose name carries a hash of what must roll the machines (type, image, version, volumes, providerConfig,
user data), and the user data Secret of each class. It stays Processing until every MachineDeployment is rolled
out with all machines Running, then deletes the classes no machine uses any more; deletion waits for the
machines to be gone.

What differs per provider is small, and is the `WorkerDelegate`'s: the machine driver its classes name
(`MachineClass.provider`, the key the machine controller manager picks its driver by), the provider-specific part
of a class (`providerSpec`) with the capacity of its machines, and the provider's WorkerStatus.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from extensions.library.reconciler import BaseActuator, Context, now_rfc3339
from extensions.library.worker import (
    IntOrPercent,
    deployment_replicas,
    distribute_int_or_percent,
    distribute_over_zones,
    pool_hash,
)
from gardener.apis.extensions import machine as mcm
from gardener.apis.extensions.v1alpha1 import WorkerPool, WorkerSpec
from gardener.apis.openapi import encode
from gardener.runtime.errors import PermanentError, RequeueAfter, TemporaryError
from gardener.runtime.kube import SECRETS, Kube, Obj, Resource

log = logging.getLogger("extensions.library.genericworker")

MACHINE_CLASSES = Resource(mcm.GROUP, mcm.VERSION, "machineclasses", "MachineClass")
MACHINE_DEPLOYMENTS = Resource(mcm.GROUP, mcm.VERSION, "machinedeployments", "MachineDeployment")
MACHINES = Resource(mcm.GROUP, mcm.VERSION, "machines", "Machine")

WORKER_LABEL = "worker.gardener.cloud/name"
POOL_LABEL = "worker.gardener.cloud/pool"


@dataclass(frozen=True)
class Wanted:
    """One zone of one pool: its MachineDeployment and MachineClass."""

    pool: WorkerPool
    zone: str
    deployment: str
    machine_class: str
    minimum: int
    maximum: int
    max_surge: IntOrPercent
    max_unavailable: IntOrPercent


def wanted_deployments(namespace: str, pools: list[WorkerPool], *, region: str) -> list[Wanted]:
    """The MachineDeployments of `pools`, one per pool and zone (the region when a pool names no zone)."""
    out = []
    for pool in pools:
        zones = list(pool.zones or []) or [region]
        wire = encode(pool)
        h = pool_hash(wire)
        for i, zone in enumerate(zones):
            name = f"{namespace}-{pool.name}-z{i + 1}"
            n = len(zones)
            out.append(
                Wanted(
                    pool=pool,
                    zone=zone,
                    deployment=name,
                    machine_class=f"{name}-{h}",
                    minimum=distribute_over_zones(i, pool.minimum, n),
                    maximum=distribute_over_zones(i, pool.maximum, n),
                    max_surge=distribute_int_or_percent(i, wire.get("maxSurge", 1), n, pool.maximum),
                    max_unavailable=distribute_int_or_percent(i, wire.get("maxUnavailable", 0), n, pool.maximum),
                )
            )
    return out


@dataclass(frozen=True, kw_only=True)
class WorkerContext:
    """What a delegate sees of one reconcile: the typed spec, and the shoot and cloud profile of the Cluster."""

    ctx: Context
    spec: WorkerSpec
    shoot: Mapping[str, Any] = field(default_factory=dict)
    cloud_profile: Mapping[str, Any] = field(default_factory=dict)

    @property
    def hibernated(self) -> bool:
        return bool(((self.shoot.get("spec") or {}).get("hibernation") or {}).get("enabled"))

    @property
    def kubernetes_version(self) -> str:
        return str(((self.shoot.get("spec") or {}).get("kubernetes") or {}).get("version") or "")

    def machine_type(self, name: str) -> Mapping[str, Any] | None:
        """The CloudProfile's machine type; PermanentError when the profile lists types but not this one."""
        types = {t["name"]: t for t in (self.cloud_profile.get("spec") or {}).get("machineTypes") or [] if "name" in t}
        if types and name not in types:
            raise PermanentError(f"machine type {name!r} is not in the CloudProfile")
        return types.get(name)


@dataclass(frozen=True, kw_only=True)
class MachineClassSpec:
    """The provider's part of one MachineClass."""

    provider_spec: Mapping[str, Any]
    #: capacity of a machine of the class (cpu, gpu, memory), for the node template and the autoscaler
    capacity: Mapping[str, str]


class WorkerDelegate(Protocol):
    """What a provider implements for its Worker (Gardener's `WorkerDelegate`, simplified)."""

    #: the machine driver its classes name: `MachineClass.provider`
    driver: str

    def machine_class(self, worker: WorkerContext, wanted: Wanted) -> MachineClassSpec:
        """The class of one zone of one pool."""

    def provider_status(self, worker: WorkerContext) -> Mapping[str, Any] | None:
        """The Worker's `status.providerStatus` once its machines run (machine images in use ...)."""


def rolled_out(md: Mapping[str, Any] | None) -> bool:
    if md is None:
        return False
    spec, status = md.get("spec") or {}, md.get("status") or {}
    replicas = int(spec.get("replicas") or 0)
    return (
        int(status.get("observedGeneration") or 0) >= int(md["metadata"].get("generation") or 0)
        and int(status.get("updatedReplicas") or 0) == replicas
        and int(status.get("replicas") or 0) == replicas
        and int(status.get("availableReplicas") or 0) == replicas
    )


class GenericWorkerActuator(BaseActuator):
    def __init__(self, delegate: WorkerDelegate) -> None:
        self.delegate = delegate

    def _context(self, ctx: Context) -> WorkerContext:
        cluster = ctx.cluster() or {}
        spec = cluster.get("spec") or {}
        return WorkerContext(
            ctx=ctx,
            spec=ctx.spec_as(WorkerSpec),
            shoot=spec.get("shoot") or {},
            cloud_profile=spec.get("cloudProfile") or {},
        )

    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        kube, ns = ctx.kube, ctx.namespace
        if kube.get(SECRETS.path(ns, mcm.SHOOT_ACCESS_SECRET)) is None:
            raise TemporaryError(f"secret {ns}/{mcm.SHOOT_ACCESS_SECRET} with the shoot's kubeconfig not found")
        worker = self._context(ctx)
        user_data = {p.name: self._user_data(kube, ns, p) for p in worker.spec.pools}
        wanted = wanted_deployments(ns, worker.spec.pools, region=worker.spec.region)
        existing = {
            md["metadata"]["name"]: md
            for md in kube.list(MACHINE_DEPLOYMENTS.path(ns), label_selector=f"{WORKER_LABEL}={ctx.name}")
        }
        ctx.progress(10, "Deploying machine classes")
        for w in wanted:
            self._deploy_class(worker, w, user_data[w.pool.name])
        ctx.progress(20, "Deploying machine deployments")
        deployments = []
        for w in wanted:
            current = existing.get(w.deployment)
            current_replicas = int((current.get("spec") or {}).get("replicas") or 0) if current else None
            replicas = deployment_replicas(
                minimum=w.minimum, maximum=w.maximum, existing=current_replicas, hibernated=worker.hibernated
            )
            kube.ensure(MACHINE_DEPLOYMENTS.path(ns), self._deployment(ctx, w, replicas))
            deployments.append({"name": w.deployment, "minimum": w.minimum, "maximum": w.maximum})
        if (ctx.obj.get("status") or {}).get("machineDeployments") != deployments:
            ctx.patch_status({"machineDeployments": deployments, "machineDeploymentsLastUpdateTime": now_rfc3339()})
        names = {w.deployment for w in wanted}
        for name in existing:
            if name not in names:
                log.info("Deleting machine deployment of a removed pool", extra={"machineDeployment": f"{ns}/{name}"})
                kube.delete(MACHINE_DEPLOYMENTS.path(ns, name))
        self._wait(kube, ns, wanted, [n for n in existing if n not in names])
        lingering = self._cleanup_classes(kube, ns, ctx.name, keep={w.machine_class for w in wanted})
        if lingering:
            # Machines of an old class are still terminating: look again, so their class goes with them.
            raise RequeueAfter(
                f"Waiting for the machines of {len(lingering)} old machine classes to be gone", delay=2.0, progress=90
            )
        result: dict[str, Any] = {"machineDeployments": deployments}
        status = self.delegate.provider_status(worker)
        if status is not None:
            result["providerStatus"] = dict(status)
        return result

    def _user_data(self, kube: Kube, ns: str, pool: WorkerPool) -> bytes:
        ref = pool.userDataSecretRef
        if ref is None:
            return b""
        secret = kube.get(SECRETS.path(ns, ref.name))
        if secret is None:
            if ref.optional:
                return b""
            raise TemporaryError(f"user data secret {ns}/{ref.name} of pool {pool.name} not found")
        value = ((secret.get("data") or {}).get(ref.key)) or ""
        if not value and not ref.optional:
            raise TemporaryError(f"user data secret {ns}/{ref.name} has no key {ref.key!r}")
        return base64.b64decode(value)

    def _deploy_class(self, worker: WorkerContext, w: Wanted, user_data: bytes) -> None:
        ctx, kube = worker.ctx, worker.ctx.kube
        ns, pool = ctx.namespace, w.pool
        labels = {WORKER_LABEL: ctx.name, POOL_LABEL: pool.name}
        kube.ensure(
            SECRETS.path(ns),
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": w.machine_class, "namespace": ns, "labels": labels},
                "type": "Opaque",
                "data": {"userData": base64.b64encode(user_data).decode()},
            },
        )
        spec = self.delegate.machine_class(worker, w)
        kube.ensure(
            MACHINE_CLASSES.path(ns),
            {
                "apiVersion": mcm.API_VERSION,
                "kind": "MachineClass",
                "metadata": {"name": w.machine_class, "namespace": ns, "labels": labels},
                "provider": self.delegate.driver,
                "providerSpec": dict(spec.provider_spec),
                "nodeTemplate": {
                    "capacity": dict(spec.capacity),
                    "instanceType": pool.machineType,
                    "region": worker.spec.region,
                    "zone": w.zone,
                },
                "secretRef": {"name": w.machine_class, "namespace": ns},
                "credentialsSecretRef": {"name": mcm.SHOOT_ACCESS_SECRET, "namespace": ns},
            },
        )

    def _deployment(self, ctx: Context, w: Wanted, replicas: int) -> Obj:
        pool = w.pool
        node_labels = {
            **(pool.labels or {}),
            "node.kubernetes.io/role": "node",
            POOL_LABEL: pool.name,
            "worker.garden.sapcloud.io/group": pool.name,
            "topology.kubernetes.io/zone": w.zone,
        }
        machine_spec: dict[str, Any] = {
            "class": {"kind": "MachineClass", "name": w.machine_class},
            "nodeTemplate": {
                "metadata": {"labels": node_labels, "annotations": dict(pool.annotations or {})},
                "spec": {"taints": encode(list(pool.taints or []))},
            },
        }
        settings = pool.machineControllerManager
        if settings is not None:
            for value, dst in (
                (settings.machineDrainTimeout, "drainTimeout"),
                (settings.machineHealthTimeout, "healthTimeout"),
                (settings.machineCreationTimeout, "creationTimeout"),
                (settings.maxEvictRetries, "maxEvictRetries"),
            ):
                if value is not None:
                    machine_spec[dst] = value
            if settings.nodeConditions:
                machine_spec["nodeConditions"] = ",".join(settings.nodeConditions)
        return {
            "apiVersion": mcm.API_VERSION,
            "kind": "MachineDeployment",
            "metadata": {
                "name": w.deployment,
                "namespace": ctx.namespace,
                "labels": {WORKER_LABEL: ctx.name, POOL_LABEL: pool.name},
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": 0,
                "selector": {"matchLabels": {"name": w.deployment}},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": w.max_surge, "maxUnavailable": w.max_unavailable},
                },
                "template": {"metadata": {"labels": {"name": w.deployment}}, "spec": machine_spec},
            },
        }

    def _wait(self, kube: Kube, ns: str, wanted: list[Wanted], removed: list[str]) -> None:
        want = ready = 0
        pending = []
        for w in wanted:
            md = kube.get(MACHINE_DEPLOYMENTS.path(ns, w.deployment))
            replicas = int(((md or {}).get("spec") or {}).get("replicas") or 0)
            want += replicas
            ready += min(int(((md or {}).get("status") or {}).get("availableReplicas") or 0), replicas)
            if not rolled_out(md):
                pending.append(w.deployment)
        gone = [n for n in removed if kube.get(MACHINE_DEPLOYMENTS.path(ns, n)) is None]
        if pending or len(gone) != len(removed):
            progress = 30 + (60 * ready // want if want else 0)
            waiting = ", ".join(pending + [n for n in removed if n not in gone])
            raise RequeueAfter(
                f"Waiting until machines are running: {ready}/{want} ready ({waiting})", delay=2.0, progress=progress
            )

    def _cleanup_classes(self, kube: Kube, ns: str, worker: str, *, keep: set[str]) -> set[str]:
        """Delete this Worker's classes (and their user data) that are not wanted and no machine uses;
        returns the unwanted classes that machines still use."""
        used = {((m.get("spec") or {}).get("class") or {}).get("name") for m in kube.list(MACHINES.path(ns))}
        selector = f"{WORKER_LABEL}={worker}"
        lingering = set()
        for cls in kube.list(MACHINE_CLASSES.path(ns), label_selector=selector):
            name = cls["metadata"]["name"]
            if name in keep:
                continue
            if name in used:
                lingering.add(name)
                continue
            kube.delete(MACHINE_CLASSES.path(ns, name))
            kube.delete(SECRETS.path(ns, name))
        return lingering

    def delete(self, ctx: Context) -> None:
        kube, ns = ctx.kube, ctx.namespace
        selector = f"{WORKER_LABEL}={ctx.name}"
        deployments = kube.list(MACHINE_DEPLOYMENTS.path(ns), label_selector=selector)
        # as Gardener's worker deletion: the shoot goes, so its machines go without waiting for their drains
        for machine in kube.list(MACHINES.path(ns)):
            labels = machine["metadata"].get("labels") or {}
            if labels.get(mcm.FORCE_DELETION_LABEL) != "True" and not machine["metadata"].get("deletionTimestamp"):
                kube.merge_patch(
                    MACHINES.path(ns, machine["metadata"]["name"]),
                    {"metadata": {"labels": {mcm.FORCE_DELETION_LABEL: "True"}}},
                )
        for md in deployments:
            if not md["metadata"].get("deletionTimestamp"):
                kube.delete(MACHINE_DEPLOYMENTS.path(ns, md["metadata"]["name"]))
        if deployments:
            machines = len(kube.list(MACHINES.path(ns)))
            raise RequeueAfter(
                f"Waiting until {len(deployments)} machine deployments and {machines} machines are gone",
                delay=2.0,
                progress=50,
            )
        self._cleanup_classes(kube, ns, ctx.name, keep=set())

    def migrate(self, ctx: Context) -> None:
        """Machine objects live in the seed's API and the machines themselves keep running: nothing is handed
        over beyond what the shoot's namespace carries to the next seed."""
        return None

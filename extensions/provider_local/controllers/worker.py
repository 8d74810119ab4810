"""Worker of type local: a MachineClass and one MachineDeployment per pool and zone, for the MCM to realise.

Like Gardener's generic Worker actuator: a pool's minimum, maximum, maxSurge and maxUnavailable are spread over
its zones; a MachineDeployment `<namespace>-<pool>-z<n>` keeps the replicas an autoscaler chose within its
bounds; the MachineClass name carries a hash of what must roll the machines (type, image, version ...), so a
change there makes a new class and the MCM rolls the pool. The Worker stays Processing until every
MachineDeployment is rolled out with all machines Running; then classes no machine uses any more are deleted.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from extensions.library.reconciler import BaseActuator, Context, now_rfc3339
from extensions.library.worker import (
    IntOrPercent,
    deployment_replicas,
    distribute_int_or_percent,
    distribute_over_zones,
    pool_hash,
)
from extensions.mcm.objects import MACHINE_CLASSES, MACHINE_DEPLOYMENTS, MACHINES
from extensions.provider_local.controllers import PROVIDER_API_VERSION
from extensions.provider_local.controllers.infrastructure import shoot_of
from gardener.apis.extensions import machine as mcm
from gardener.runtime.errors import PermanentError, RequeueAfter, TemporaryError
from gardener.runtime.kube import SECRETS, Kube

log = logging.getLogger("provider_local.worker")

WORKER_LABEL = "worker.gardener.cloud/name"
POOL_LABEL = "worker.gardener.cloud/pool"
DEFAULT_CAPACITY = {"cpu": "2", "gpu": "0", "memory": "4Gi"}


@dataclass(frozen=True)
class Wanted:
    """One zone of one pool: its MachineDeployment and MachineClass."""

    pool: Mapping[str, Any]
    zone: str
    deployment: str
    machine_class: str
    minimum: int
    maximum: int
    max_surge: IntOrPercent
    max_unavailable: IntOrPercent


def wanted_deployments(namespace: str, pools: list[Mapping[str, Any]], *, region: str) -> list[Wanted]:
    out = []
    for pool in pools:
        zones = list(pool.get("zones") or []) or [region]
        h = pool_hash(dict(pool))
        for i, zone in enumerate(zones):
            name = f"{namespace}-{pool['name']}-z{i + 1}"
            n, maximum = len(zones), int(pool["maximum"])
            out.append(
                Wanted(
                    pool=pool,
                    zone=zone,
                    deployment=name,
                    machine_class=f"{name}-{h}",
                    minimum=distribute_over_zones(i, int(pool["minimum"]), n),
                    maximum=distribute_over_zones(i, maximum, n),
                    max_surge=distribute_int_or_percent(i, pool.get("maxSurge", 1), n, maximum),
                    max_unavailable=distribute_int_or_percent(i, pool.get("maxUnavailable", 0), n, maximum),
                )
            )
    return out


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


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


class WorkerActuator(BaseActuator):
    def _machine_types(self, cluster: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
        profile = ((cluster or {}).get("spec") or {}).get("cloudProfile") or {}
        return {t["name"]: t for t in (profile.get("spec") or {}).get("machineTypes") or [] if "name" in t}

    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        kube, ns, spec = ctx.kube, ctx.namespace, ctx.spec
        if kube.get(SECRETS.path(ns, mcm.SHOOT_ACCESS_SECRET)) is None:
            raise TemporaryError(f"secret {ns}/{mcm.SHOOT_ACCESS_SECRET} with the shoot's kubeconfig not found")
        cluster = ctx.cluster()
        shoot = shoot_of(cluster)
        hibernated = bool(((shoot.get("spec") or {}).get("hibernation") or {}).get("enabled"))
        kubernetes_version = str(((shoot.get("spec") or {}).get("kubernetes") or {}).get("version") or "")
        machine_types = self._machine_types(cluster)
        region = str(spec.get("region") or "local")
        wanted = wanted_deployments(ns, list(spec.get("pools") or []), region=region)
        existing = {
            md["metadata"]["name"]: md
            for md in kube.list(MACHINE_DEPLOYMENTS.path(ns), label_selector=f"{WORKER_LABEL}={ctx.name}")
        }
        ctx.progress(10, "Deploying machine classes")
        for w in wanted:
            self._deploy_class(kube, ctx, w, region, machine_types, kubernetes_version)
        ctx.progress(20, "Deploying machine deployments")
        deployments = []
        for w in wanted:
            current = existing.get(w.deployment)
            current_replicas = int((current.get("spec") or {}).get("replicas") or 0) if current else None
            replicas = deployment_replicas(
                minimum=w.minimum, maximum=w.maximum, existing=current_replicas, hibernated=hibernated
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
        return {
            "machineDeployments": deployments,
            "providerStatus": {
                "apiVersion": PROVIDER_API_VERSION,
                "kind": "WorkerStatus",
                "machineImages": list(
                    {
                        (img.get("name"), img.get("version")): {"name": img.get("name"), "version": img.get("version")}
                        for img in ((p.get("machineImage") or {}) for p in spec.get("pools") or [])
                        if img
                    }.values()
                ),
            },
        }

    def _deploy_class(
        self,
        kube: Kube,
        ctx: Context,
        w: Wanted,
        region: str,
        machine_types: Mapping[str, Mapping[str, Any]],
        kubernetes_version: str,
    ) -> None:
        ns, pool = ctx.namespace, w.pool
        labels = {WORKER_LABEL: ctx.name, POOL_LABEL: str(pool["name"])}
        user_data = b""
        ref = pool.get("userDataSecretRef") or {}
        if ref.get("name"):
            secret = kube.get(SECRETS.path(ns, ref["name"]))
            if secret is None and not ref.get("optional"):
                raise TemporaryError(f"user data secret {ns}/{ref['name']} not found")
            user_data = base64.b64decode(((secret or {}).get("data") or {}).get(ref.get("key", ""), ""))
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
        mtype = machine_types.get(str(pool["machineType"])) or {}
        if machine_types and not mtype:
            raise PermanentError(f"machine type {pool['machineType']!r} is not in the CloudProfile")
        capacity = {k: str(mtype.get(k, v)) for k, v in DEFAULT_CAPACITY.items()}
        infra = (ctx.spec.get("infrastructureProviderStatus") or {}).get("networks") or {}
        image = pool.get("machineImage") or {}
        kube.ensure(
            MACHINE_CLASSES.path(ns),
            {
                "apiVersion": mcm.API_VERSION,
                "kind": "MachineClass",
                "metadata": {"name": w.machine_class, "namespace": ns, "labels": labels},
                "provider": "local",
                "providerSpec": _without_none(
                    {
                        "apiVersion": PROVIDER_API_VERSION,
                        "kind": "MachineProviderConfig",
                        "machineType": pool["machineType"],
                        "image": f"{image.get('name', 'local')}:{image.get('version', '')}".rstrip(":"),
                        "zone": w.zone,
                        "region": region,
                        "vpcID": (infra.get("vpc") or {}).get("id"),
                        "kubernetesVersion": pool.get("kubernetesVersion") or kubernetes_version or None,
                    }
                ),
                "nodeTemplate": {
                    "capacity": capacity,
                    "instanceType": str(pool["machineType"]),
                    "region": region,
                    "zone": w.zone,
                },
                "secretRef": {"name": w.machine_class, "namespace": ns},
                "credentialsSecretRef": {"name": mcm.SHOOT_ACCESS_SECRET, "namespace": ns},
            },
        )

    def _deployment(self, ctx: Context, w: Wanted, replicas: int) -> dict[str, Any]:
        pool = w.pool
        node_labels = {
            **(pool.get("labels") or {}),
            "node.kubernetes.io/role": "node",
            POOL_LABEL: str(pool["name"]),
            "worker.garden.sapcloud.io/group": str(pool["name"]),
            "topology.kubernetes.io/zone": w.zone,
        }
        settings = pool.get("machineControllerManager") or {}
        machine_spec: dict[str, Any] = {
            "class": {"kind": "MachineClass", "name": w.machine_class},
            "nodeTemplate": {
                "metadata": {"labels": node_labels, "annotations": dict(pool.get("annotations") or {})},
                "spec": {"taints": list(pool.get("taints") or [])},
            },
        }
        for src, dst in (
            ("machineDrainTimeout", "drainTimeout"),
            ("machineHealthTimeout", "healthTimeout"),
            ("machineCreationTimeout", "creationTimeout"),
            ("maxEvictRetries", "maxEvictRetries"),
        ):
            if settings.get(src) is not None:
                machine_spec[dst] = settings[src]
        if settings.get("nodeConditions"):
            machine_spec["nodeConditions"] = ",".join(settings["nodeConditions"])
        return {
            "apiVersion": mcm.API_VERSION,
            "kind": "MachineDeployment",
            "metadata": {
                "name": w.deployment,
                "namespace": ctx.namespace,
                "labels": {WORKER_LABEL: ctx.name, POOL_LABEL: str(pool["name"])},
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

"""Component logic that needs no cluster: readiness rules, health verdicts, no readiness without a check."""

from __future__ import annotations

from typing import Any

import pytest

from gardener.runtime.kube import Kube
from gardenlet.care import checks
from gardenlet.care.controller import EXPECTED_CONTROL_PLANE, WORKERLESS_CONTROL_PLANE
from gardenlet.components.base import ChartComponent
from gardenlet.components.extension import extension_problem
from gardenlet.components.health import deployment_problem, statefulset_problem
from gardenlet.components.secrets import SecretsManager, SecretsValues

#: these checks fail before they would talk to a cluster
NO_CLUSTER: Kube = None  # type: ignore[assignment]


def _workload(kind: str, wanted: int, generation: int = 1, **status: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "w", "generation": generation},
        "spec": {"replicas": wanted},
        "status": {"observedGeneration": 1, **status},
    }


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (_workload("Deployment", 1, replicas=1, updatedReplicas=1, availableReplicas=1), None),
        (_workload("Deployment", 1, generation=2, replicas=1, updatedReplicas=1, availableReplicas=1), "observed"),
        (_workload("Deployment", 1, replicas=1, updatedReplicas=0, availableReplicas=1), "0 of 1 replicas updated"),
        (_workload("Deployment", 1, replicas=1, updatedReplicas=1), "0 of 1 replicas available"),
        (_workload("Deployment", 1, replicas=2, updatedReplicas=1, availableReplicas=2), "1 old replicas"),
        (_workload("Deployment", 0), None),
    ],
)
def test_deployment_problem(obj: dict[str, Any], problem: str | None) -> None:
    found = deployment_problem(obj)
    assert found is None if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (_workload("StatefulSet", 1, replicas=1, readyReplicas=1, currentRevision="a", updateRevision="a"), None),
        (_workload("StatefulSet", 1, replicas=1), "0 of 1 replicas ready"),
        (_workload("StatefulSet", 0, replicas=1), "above the wanted 0"),
        (_workload("StatefulSet", 0, replicas=0), None),
        (_workload("StatefulSet", 1, replicas=1, readyReplicas=1, currentRevision="a", updateRevision="b"), "rolling"),
    ],
)
def test_statefulset_problem(obj: dict[str, Any], problem: str | None) -> None:
    found = statefulset_problem(obj)
    assert found is None if problem is None else (found is not None and problem in found)


def _extension(annotations: dict[str, str] | None = None, generation: int = 1, **status: Any) -> dict[str, Any]:
    meta = {"name": "demo", "generation": generation, "annotations": annotations or {}}
    return {"kind": "Infrastructure", "metadata": meta, "status": status}


def test_extension_problem() -> None:
    done = {"observedGeneration": 1, "lastOperation": {"state": "Succeeded"}}
    assert extension_problem(_extension(**done)) is None
    pending = extension_problem(_extension({"gardener.cloud/operation": "reconcile"}, **done))
    assert pending is not None and "picked up" in pending
    stale = extension_problem(_extension(generation=2, **done))
    assert stale is not None and "generation 2" in stale
    failing = {"observedGeneration": 1, "lastOperation": {"state": "Error"}, "lastError": {"description": "quota"}}
    message = extension_problem(_extension(**failing))
    assert message is not None and "Error: quota" in message


def test_control_plane_verdict() -> None:
    ready_sts = _workload("StatefulSet", 1, replicas=1, readyReplicas=1)
    ready_sts["metadata"]["name"] = "etcd-main"
    deployments = {}
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        deployments[name] = _workload("Deployment", 1, replicas=1, updatedReplicas=1, availableReplicas=1)
        deployments[name]["metadata"]["name"] = name
    workloads = [ready_sts, *deployments.values()]
    assert checks.control_plane(workloads, expected=EXPECTED_CONTROL_PLANE).status == "True"
    missing = checks.control_plane([ready_sts, deployments["kube-apiserver"]], expected=EXPECTED_CONTROL_PLANE)
    assert (missing.status, missing.reason) == ("False", "ControlPlaneMissing")
    assert missing.message == (
        "Missing control plane components: Deployment/kube-controller-manager, Deployment/kube-scheduler."
    )
    # a workerless shoot has no scheduler to miss
    workerless = [ready_sts, deployments["kube-apiserver"], deployments["kube-controller-manager"]]
    assert checks.control_plane(workerless, expected=WORKERLESS_CONTROL_PLANE).status == "True"
    deployments["kube-controller-manager"]["status"]["availableReplicas"] = 0
    unhealthy = checks.control_plane(workloads, expected=EXPECTED_CONTROL_PLANE)
    assert unhealthy.reason == "ControlPlaneUnhealthy"
    assert unhealthy.message == "deployment kube-controller-manager: 0 of 1 replicas available"


def _node(name: str, ready: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def test_every_node_ready_verdict() -> None:
    workerless = checks.every_node_ready([], workerless=True, minimum=0)
    assert workerless.status == "True" and "no workers" in workerless.message
    assert checks.every_node_ready([_node("a", "True")], workerless=False, minimum=1).status == "True"
    assert checks.every_node_ready([_node("a", "False")], workerless=False, minimum=1).reason == "NodeUnhealthy"
    assert checks.every_node_ready([_node("a", "True")], workerless=False, minimum=2).reason == "MissingNodes"


def test_system_components_verdict() -> None:
    assert checks.system_components([]).status == "True"
    broken = _workload("Deployment", 1, replicas=1)
    assert checks.system_components([broken]).status == "False"


def test_a_hibernated_control_plane_is_seen_scaled_down_not_assumed() -> None:
    expected = ("StatefulSet/etcd-main", "Deployment/kube-apiserver")

    def pair(etcd: int, apiserver: int, *, running: int = 0) -> list[dict[str, Any]]:
        sts = _workload("StatefulSet", etcd, replicas=running)
        sts["metadata"]["name"] = "etcd-main"
        deploy = _workload("Deployment", apiserver)
        deploy["metadata"]["name"] = "kube-apiserver"
        return [sts, deploy]

    down = checks.hibernated_control_plane(pair(0, 0), [], expected=expected)
    assert (down.status, down.reason) == ("True", "ShootHibernated")
    up = checks.hibernated_control_plane(pair(0, 1), [], expected=expected)
    assert (up.status, up.reason) == ("False", "HibernationIncomplete")
    assert "Deployment/kube-apiserver wants 1 replicas" in up.message
    lagging = checks.hibernated_control_plane(pair(0, 0, running=1), [], expected=expected)
    assert lagging.status == "False" and "StatefulSet/etcd-main still has 1 replicas" in lagging.message
    pod = {"metadata": {"name": "etcd-main-0"}, "status": {"phase": "Running"}}
    alive = checks.hibernated_control_plane(pair(0, 0), [pod], expected=expected)
    assert alive.status == "False" and "etcd-main-0" in alive.message
    finished = {"metadata": {"name": "old"}, "status": {"phase": "Succeeded"}}
    assert checks.hibernated_control_plane(pair(0, 0), [finished], expected=expected).status == "True"
    gone = checks.hibernated_control_plane(pair(0, 0)[1:], [], expected=expected)
    assert (gone.status, gone.reason) == ("False", "ControlPlaneMissing")


class _NoCheck(ChartComponent):
    chart = "namespace"


async def test_a_component_without_a_readiness_check_is_never_ready() -> None:
    component = _NoCheck(NO_CLUSTER, {"name": "x", "labels": {}})
    with pytest.raises(NotImplementedError, match="_NoCheck has no readiness check"):
        await component.wait_ready()


async def test_secrets_cannot_be_ready_before_they_were_deployed() -> None:
    manager = SecretsManager(NO_CLUSTER, SecretsValues(namespace="x", apiserver_hosts=(), etcd_hosts=()))
    with pytest.raises(RuntimeError, match="before deploy"):
        await manager.wait_ready()
    # the control plane's kubeconfigs need the API server's in-seed address: without it, nothing is written
    with pytest.raises(RuntimeError, match="in-seed API server address"):
        await manager.deploy()

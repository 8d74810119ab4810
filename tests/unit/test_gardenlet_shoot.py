"""The shape of the shoot flows and the controller's work queue."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import yaml

from gardenlet.botanist.profile import profile_for
from gardenlet.botanist.shoot import shoot_info
from gardenlet.flow import Flow
from gardenlet.kube import Kube
from gardenlet.shoot.controller import WorkQueue
from gardenlet.shoot.flow import FlowSettings, ShootOperation

EXAMPLES = Path(__file__).resolve().parents[2] / "hack" / "examples"
#: building a flow never talks to a cluster
NO_CLUSTER: Kube = None  # type: ignore[assignment]


def _operation(*, hibernated: bool = False) -> ShootOperation:
    shoot: dict[str, Any] = yaml.safe_load((EXAMPLES / "50-shoot-workers.yaml").read_text())
    shoot["spec"]["hibernation"]["enabled"] = hibernated
    info = shoot_info(shoot)
    return ShootOperation(
        garden=NO_CLUSTER, seed=NO_CLUSTER, shoot=info, profile=profile_for(None), settings=FlowSettings()
    )


def _before(flow: Flow, first: str, then: str) -> bool:
    """Whether `then` (transitively) depends on `first`."""
    deps = {task.id: set(task.dependencies) for task in flow.tasks}
    todo, seen = [then], set()
    while todo:
        for dep in deps[todo.pop()] - seen:
            seen.add(dep)
            todo.append(dep)
    return first in seen


def test_reconcile_runs_the_control_plane_in_order() -> None:
    flow = _operation().reconcile_flow()
    order = ["deploy-namespace", "wait-kube-apiserver-service", "deploy-secrets", "wait-etcd", "wait-kube-apiserver"]
    order += ["check-api-server-available", "wait-control-plane", "wait-worker"]
    for first, then in itertools.pairwise(order):
        assert _before(flow, first, then), (first, then)
    assert _before(flow, "deploy-secrets", "publish-kubeconfig")
    assert _before(flow, "wait-infrastructure", "deploy-control-plane")
    assert _before(flow, "deploy-cluster-resource", "deploy-infrastructure")
    assert _before(flow, "deploy-shoot-access-secret", "deploy-worker")
    assert not _before(flow, "wait-infrastructure", "deploy-etcd")  # infrastructure and etcd run in parallel
    assert all(task.retry is not None for task in flow.tasks)


def test_hibernation_scales_down_from_the_workers_to_etcd() -> None:
    flow = _operation(hibernated=True).reconcile_flow()
    assert _before(flow, "wait-worker", "deploy-kube-apiserver")
    assert _before(flow, "wait-kube-apiserver", "deploy-etcd")
    assert "check-api-server-available" not in {task.id for task in flow.tasks}


def test_deletion_runs_in_reverse_and_drops_the_namespace_last() -> None:
    flow = _operation().delete_flow()
    assert _before(flow, "wait-worker-gone", "destroy-kube-apiserver")
    assert _before(flow, "wait-kube-apiserver-gone", "destroy-etcd")
    last = {"delete-namespace", "delete-kubeconfig", "delete-cluster-resource"}
    for task in {task.id for task in flow.tasks} - last:
        assert _before(flow, task, "delete-namespace"), task
    assert _before(flow, "delete-namespace", "delete-kubeconfig")
    assert _before(flow, "delete-namespace", "delete-cluster-resource")


async def test_work_queue_runs_a_key_once_at_a_time_and_again_after_changes() -> None:
    queue = WorkQueue()
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert await queue.get() == "a"
    queue.add("a")  # changed while being worked on: once more afterwards, not in parallel
    assert await queue.get() == "b"
    queue.done("b")
    queue.done("a")
    assert await asyncio.wait_for(queue.get(), 1) == "a"
    queue.done("a")
    queue.add_after("c", 0.01)
    queue.add_after("c", 10)  # a later re-add does not postpone an earlier one
    assert await asyncio.wait_for(queue.get(), 1) == "c"
    queue.close()

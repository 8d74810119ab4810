"""The shape of the shoot flows, and the shoot controller's one-worker-per-key promise."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import yaml

from gardener.runtime.controller import Result
from gardener.runtime.kube import Kube
from gardenlet.botanist.profile import SeedProfile
from gardenlet.botanist.shoot import shoot_info
from gardenlet.flow import Flow
from gardenlet.shoot.controller import ShootController, ShootControllerSettings
from gardenlet.shoot.flow import FlowSettings, ShootOperation

EXAMPLES = Path(__file__).resolve().parents[4] / "hack" / "examples"
#: building a flow never talks to a cluster
NO_CLUSTER: Kube = None  # type: ignore[assignment]


def _operation(*, hibernated: bool = False, example: str = "50-shoot-workers.yaml") -> ShootOperation:
    shoot: dict[str, Any] = yaml.safe_load((EXAMPLES / example).read_text())
    shoot["spec"].setdefault("hibernation", {})
    shoot["spec"]["hibernation"]["enabled"] = hibernated
    info = shoot_info(shoot)
    return ShootOperation(
        garden=NO_CLUSTER, seed=NO_CLUSTER, shoot=info, profile=SeedProfile(), settings=FlowSettings()
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
    for component in ("kube-controller-manager", "kube-scheduler"):
        assert _before(flow, "wait-kube-apiserver", f"deploy-{component}")
        assert _before(flow, f"deploy-{component}", f"wait-{component}")


def test_a_workerless_shoot_gets_a_controller_manager_and_no_scheduler() -> None:
    flow = _operation(example="40-shoot-workerless.yaml").reconcile_flow()
    skipped = {task.id for task in flow.tasks if task.skip_if is True}
    assert {"deploy-kube-scheduler", "wait-kube-scheduler"} <= skipped
    assert not {"deploy-kube-controller-manager", "wait-kube-controller-manager"} & skipped
    assert not {"deploy-kube-scheduler", "wait-kube-scheduler"} & {
        task.id for task in _operation().reconcile_flow().tasks if task.skip_if is True
    }


def test_hibernation_scales_down_from_the_workers_to_etcd() -> None:
    flow = _operation(hibernated=True).reconcile_flow()
    assert _before(flow, "wait-worker", "deploy-kube-controller-manager")
    assert _before(flow, "wait-worker", "deploy-kube-scheduler")
    assert _before(flow, "wait-kube-controller-manager", "deploy-kube-apiserver")
    assert _before(flow, "wait-kube-scheduler", "deploy-kube-apiserver")
    assert _before(flow, "wait-kube-apiserver", "deploy-etcd")
    assert "check-api-server-available" not in {task.id for task in flow.tasks}


def test_deletion_runs_in_reverse_and_drops_the_namespace_last() -> None:
    flow = _operation().delete_flow()
    assert _before(flow, "wait-worker-gone", "destroy-kube-controller-manager")
    assert _before(flow, "wait-kube-controller-manager-gone", "destroy-kube-apiserver")
    assert _before(flow, "wait-kube-scheduler-gone", "destroy-kube-apiserver")
    assert _before(flow, "wait-kube-apiserver-gone", "destroy-etcd")
    last = {"delete-namespace", "delete-kubeconfig", "delete-cluster-resource"}
    for task in {task.id for task in flow.tasks} - last:
        assert _before(flow, task, "delete-namespace"), task
    assert _before(flow, "delete-namespace", "delete-kubeconfig")
    assert _before(flow, "delete-namespace", "delete-cluster-resource")


def _shoot(name: str, *, seed: str = "local") -> dict[str, Any]:
    return {"metadata": {"namespace": "garden-dev", "name": name}, "spec": {"seedName": seed}}


async def test_shoot_controller_never_reconciles_a_shoot_twice_at_once_and_again_after_changes() -> None:
    running: set[str] = set()
    runs: list[str] = []
    overlap: list[str] = []
    release = asyncio.Event()

    async def reconcile(key: str) -> Result | None:
        if key in running:
            overlap.append(key)
        running.add(key)
        runs.append(key)
        await release.wait()
        running.discard(key)
        return None

    settings = ShootControllerSettings(workers=4, backoff=(0.01, 0.01))
    controller = ShootController(garden=NO_CLUSTER, reconcile=reconcile, seed_name="local", settings=settings)
    controller.controller.start()
    try:
        controller.offer(_shoot("a"))
        controller.offer(_shoot("b"))
        controller.offer(_shoot("other", seed="elsewhere"))  # not this seed's
        while len(runs) < 2:
            await asyncio.sleep(0.01)
        controller.offer(_shoot("a"))  # changed while being worked on: once more afterwards, not in parallel
        controller.offer(_shoot("a"))
        await asyncio.sleep(0.05)
        assert sorted(runs) == ["garden-dev/a", "garden-dev/b"]
        release.set()
        while len(runs) < 3:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert sorted(runs) == ["garden-dev/a", "garden-dev/a", "garden-dev/b"]
        assert not overlap
    finally:
        await controller.controller.stop()

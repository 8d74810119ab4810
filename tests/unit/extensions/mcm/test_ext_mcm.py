"""Machine controller manager arithmetic: rollouts, zone spreading, replicas, which machines go first."""

from __future__ import annotations

from typing import Any

import pytest

from extensions.library.genericworker import wanted_deployments
from extensions.library.worker import (
    deployment_replicas,
    distribute_int_or_percent,
    distribute_over_zones,
    pool_hash,
)
from extensions.mcm.machineset import deletion_order
from extensions.mcm.rollout import SetState, fenceposts, max_unavailable, resolve, rolling_step, template_hash
from gardener.apis.extensions.v1alpha1 import WorkerPool
from gardener.apis.openapi import decode


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        (1, 0, 3, (1, 0)),
        (0, 0, 3, (0, 1)),
        ("25%", "25%", 10, (3, 2)),
        (None, None, 5, (1, 1)),
        ("0%", "0%", 4, (0, 1)),
        ("50%", 0, 3, (2, 0)),
    ],
)
def test_fenceposts_round_surge_up_and_unavailable_down(
    surge: Any, unavailable: Any, replicas: int, expected: tuple[int, int]
) -> None:
    assert fenceposts(surge, unavailable, replicas) == expected


def test_resolve_and_max_unavailable() -> None:
    assert resolve("3", 10, round_up=False) == 3
    assert max_unavailable(0, 5, 2) == 2
    assert max_unavailable(1, 0, 0) == 0


def _simulate(desired: int, surge: Any, unavailable: Any, old_replicas: list[int]) -> list[tuple[int, list[int]]]:
    """Run a rollout to its end; machines become available one step after they are created."""
    s, u = fenceposts(surge, unavailable, desired)
    min_available = desired - min(u, desired)
    new = SetState("new", 0, 0)
    old = [SetState(f"old{i}", r, r) for i, r in enumerate(old_replicas)]
    history = []
    for _ in range(100):
        step = rolling_step(desired=desired, max_surge=surge, max_unav=unavailable, new=new, old=old)
        if step.idle and new.available == desired and not any(o.replicas for o in old):
            return history
        new = SetState("new", step.scale.get("new", new.replicas), new.available)
        old = [
            SetState(o.name, step.scale.get(o.name, o.replicas), min(o.available, step.scale.get(o.name, o.replicas)))
            for o in old
        ]
        total = new.replicas + sum(o.replicas for o in old)
        assert total <= max(desired + s, sum(old_replicas)), f"surged beyond {desired}+{s}: {total}"
        assert new.available + sum(o.available for o in old) >= min(min_available, sum(old_replicas))
        history.append((new.replicas, [o.replicas for o in old]))
        new = SetState("new", new.replicas, new.replicas)  # the created machines join
    raise AssertionError(f"rollout did not finish: {history}")


def test_rolling_update_surges_one_and_keeps_all_available() -> None:
    assert _simulate(3, 1, 0, [3]) == [(1, [3]), (1, [2]), (2, [2]), (2, [1]), (3, [1]), (3, [0])]


def test_rolling_update_without_surge_replaces_one_by_one() -> None:
    assert _simulate(2, 0, 1, [2]) == [(0, [1]), (1, [1]), (1, [0]), (2, [0])]


def test_rolling_update_percentages_and_several_old_sets() -> None:
    history = _simulate(10, "25%", "25%", [6, 4])
    assert history[0] == (3, [6, 4])
    assert history[-1] == (10, [0, 0])


def test_unavailable_old_machines_go_first() -> None:
    step = rolling_step(
        desired=3,
        max_surge=0,
        max_unav=1,
        new=SetState("new", 1, 1),
        old=[SetState("a", 1, 0), SetState("b", 2, 2)],
    )
    # `a`'s machine is not available: dropping it costs nothing, and one more of `b` may go
    assert step.scale == {"a": 0, "b": 1}


def test_scaling_down_the_new_set_comes_alone() -> None:
    assert rolling_step(desired=1, max_surge=1, max_unav=0, new=SetState("n", 3, 3), old=[]).scale == {"n": 1}
    assert rolling_step(desired=3, max_surge=1, max_unav=0, new=SetState("n", 3, 3), old=[]).idle


def test_template_hash_is_stable_and_sensitive() -> None:
    a = {"spec": {"class": {"name": "c1"}}, "metadata": {"labels": {"name": "x"}}}
    assert template_hash(a) == template_hash({"metadata": {"labels": {"name": "x"}}, "spec": {"class": {"name": "c1"}}})
    assert template_hash(a) != template_hash({**a, "spec": {"class": {"name": "c2"}}})
    assert template_hash(a) != template_hash(a, 1)
    assert len(template_hash(a)) == 10


@pytest.mark.parametrize(
    ("size", "zones", "shares"),
    [(2, 2, [1, 1]), (3, 2, [2, 1]), (5, 3, [2, 2, 1]), (1, 3, [1, 0, 0]), (0, 2, [0, 0])],
)
def test_minimum_and_maximum_spread_over_zones(size: int, zones: int, shares: list[int]) -> None:
    assert [distribute_over_zones(i, size, zones) for i in range(zones)] == shares
    assert sum(shares) == size


def test_surge_and_unavailable_spread_over_zones() -> None:
    assert [distribute_int_or_percent(i, 1, 2, 4) for i in range(2)] == [1, 0]
    assert [distribute_int_or_percent(i, "3", 2, 4) for i in range(2)] == [2, 1]
    assert [distribute_int_or_percent(i, "25%", 2, 4) for i in range(2)] == ["25%", "25%"]
    assert [distribute_int_or_percent(i, "20%", 2, 3) for i in range(2)] == ["26%", "13%"]


@pytest.mark.parametrize(
    ("existing", "hibernated", "replicas"),
    [(None, False, 1), (0, False, 1), (2, False, 2), (5, False, 3), (2, True, 0)],
)
def test_deployment_replicas_keep_what_an_autoscaler_chose(
    existing: int | None, hibernated: bool, replicas: int
) -> None:
    assert deployment_replicas(minimum=1, maximum=3, existing=existing, hibernated=hibernated) == replicas


def test_wanted_deployments_per_pool_and_zone() -> None:
    pool = {"name": "pool-a", "machineType": "small", "minimum": 3, "maximum": 5, "maxSurge": 1, "maxUnavailable": 0}
    wanted = wanted_deployments("shoot--p--s", [decode(WorkerPool, {**pool, "zones": ["a", "b"]})], region="local")
    assert [(w.deployment, w.zone, w.minimum, w.maximum, w.max_surge, w.max_unavailable) for w in wanted] == [
        ("shoot--p--s-pool-a-z1", "a", 2, 3, 1, 0),
        ("shoot--p--s-pool-a-z2", "b", 1, 2, 0, 0),
    ]
    assert wanted[0].machine_class.startswith("shoot--p--s-pool-a-z1-")
    no_zones = wanted_deployments("ns", [decode(WorkerPool, pool)], region="local")
    assert [(w.zone, w.minimum) for w in no_zones] == [("local", 3)]


def test_pool_hash_rolls_on_image_not_on_size() -> None:
    pool = {"name": "p", "machineType": "small", "machineImage": {"name": "local", "version": "1.0.0"}, "minimum": 1}
    assert pool_hash(pool) == pool_hash({**pool, "minimum": 5, "labels": {"a": "b"}})
    assert pool_hash(pool) != pool_hash({**pool, "machineImage": {"name": "local", "version": "1.1.0"}})


def _machine(name: str, phase: str, created: str, priority: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
    if priority:
        meta["annotations"] = {"machinepriority.machine.sapcloud.io": priority}
    return {"metadata": meta, "status": {"currentStatus": {"phase": phase}}}


def test_scale_down_removes_low_priority_then_not_running_then_newest() -> None:
    machines = [
        _machine("old-running", "Running", "2025-01-01T00:00:00Z"),
        _machine("new-running", "Running", "2025-01-02T00:00:00Z"),
        _machine("pending", "Pending", "2025-01-01T00:00:00Z"),
        _machine("marked", "Running", "2024-12-01T00:00:00Z", priority="1"),
    ]
    assert [m["metadata"]["name"] for m in deletion_order(machines)] == [
        "marked",
        "pending",
        "new-running",
        "old-running",
    ]

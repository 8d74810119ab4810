"""gardener-scheduler against a real embedded API server with the garden API, running as its own user."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from gardener.runtime.kube import Kube
from tests.helpers import ServerProcess, eventually
from tests.scheduling import (
    CORE,
    MERGE,
    NAMESPACE,
    SchedulerProcess,
    create_seed,
    dump,
    events_for,
    kube_for,
    prepare_garden,
    scheduler_kubeconfig,
    shoot,
)


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kube, SchedulerProcess]]:
    data = tmp_path_factory.mktemp("scheduler")
    server = ServerProcess(data_dir=data / "apiserver").start()
    scheduler = SchedulerProcess(kubeconfig=Path(), log_path=data / "scheduler.log")
    try:
        kube = prepare_garden(server, regions=("eu-1", "us-1", "ap-1", "sm-1"))
        create_seed(kube, "eu", region="eu-1", allocatable=10)
        create_seed(kube, "us", region="us-1", allocatable=10)
        create_seed(kube, "small", region="sm-1", allocatable=1, taints=[{"key": "small"}])
        scheduler.kubeconfig = scheduler_kubeconfig(server)
        scheduler.start()
        yield kube, scheduler
    finally:
        scheduler.stop()
        server.stop()


def get_shoot(kube: Kube, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = kube.raw("GET", f"{CORE}/namespaces/{NAMESPACE}/shoots/{name}")
    return obj


def seed_of(kube: Kube, name: str) -> str | None:
    return (get_shoot(kube, name).get("spec") or {}).get("seedName")


def test_a_shoot_is_bound_to_the_seed_in_its_region(garden: tuple[Kube, SchedulerProcess]) -> None:
    kube, scheduler = garden
    kube.raw("POST", f"{CORE}/namespaces/{NAMESPACE}/shoots", shoot("web", region="us-1"))
    assert eventually(lambda: seed_of(kube, "web"), what="shoot bound") == "us"
    bound = get_shoot(kube, "web")
    # admission defaulted the shoot networks from the chosen seed on binding
    assert bound["spec"]["networking"]["pods"] == "100.96.0.0/11"
    assert "lastOperation" not in (bound.get("status") or {})
    samples = eventually(
        lambda: (m := scheduler.metrics()).get('gardener_scheduler_schedule_attempts_total{result="scheduled"}') and m,
        what="attempt counted",
    )
    assert samples["gardener_scheduler_bind_latency_seconds_count"] >= 1


def test_only_the_scheduler_may_bind(garden: tuple[Kube, SchedulerProcess], tmp_path: Path) -> None:
    kube, scheduler = garden
    kube.raw("POST", f"{CORE}/namespaces/{NAMESPACE}/shoots", shoot("moved", region="eu-1"))
    assert eventually(lambda: seed_of(kube, "moved"), what="shoot bound") == "eu"
    # the scheduler's own identity cannot move a bound shoot
    as_scheduler = kube_for(scheduler.kubeconfig)
    with pytest.raises(ApiException) as refused:
        as_scheduler.raw(
            "PATCH", f"{CORE}/namespaces/{NAMESPACE}/shoots/moved", {"spec": {"seedName": "us"}}, content_type=MERGE
        )
    assert refused.value.status == 422


def test_a_full_seed_takes_the_next_shoot_once_one_leaves(garden: tuple[Kube, SchedulerProcess]) -> None:
    kube, _ = garden
    tolerant = {"tolerations": [{"key": "small"}]}
    kube.raw("POST", f"{CORE}/namespaces/{NAMESPACE}/shoots", shoot("first", region="sm-1", **tolerant))
    assert eventually(lambda: seed_of(kube, "first"), what="first bound") == "small"
    kube.raw("POST", f"{CORE}/namespaces/{NAMESPACE}/shoots", shoot("second", region="sm-1", **tolerant))

    def reason() -> str:
        return str(((get_shoot(kube, "second").get("status") or {}).get("lastOperation") or {}).get("description"))

    eventually(lambda: "small => seed has no capacity left for shoots (allocatable: 1)" in reason(), what="full")
    path = f"{CORE}/namespaces/{NAMESPACE}/shoots/first"
    kube.raw(
        "PATCH",
        path,
        {"metadata": {"annotations": {"confirmation.gardener.cloud/deletion": "true"}}},
        content_type=MERGE,
    )
    kube.delete(path)
    assert eventually(lambda: seed_of(kube, "second"), what="second bound once the first is gone") == "small"


def test_a_shoot_that_fits_nowhere_is_pending_until_a_seed_fits(garden: tuple[Kube, SchedulerProcess]) -> None:
    kube, scheduler = garden
    kube.raw("POST", f"{CORE}/namespaces/{NAMESPACE}/shoots", shoot("lonely", region="ap-1"))

    def pending() -> dict[str, Any] | None:
        op = (get_shoot(kube, "lonely").get("status") or {}).get("lastOperation")
        return op if op and op.get("state") == "Pending" else None

    op = eventually(pending, what="Pending lastOperation")
    assert (op["type"], op["progress"]) == ("Create", 0), dump(op)
    description = op["description"]
    assert description.startswith("Failed to schedule Shoot: 0/3 seed(s) are eligible for scheduling"), description
    assert "small => shoot does not tolerate the seed's taints (small)" in description
    for name, region in (("eu", "eu-1"), ("us", "us-1")):
        assert f"{name} => seed region '{region}' differs from the shoot's region 'ap-1'" in description
    event = eventually(lambda: events_for(kube, "lonely"), what="SchedulingFailed event")[0]
    assert (event["reason"], event["type"], event["message"]) == ("SchedulingFailed", "Warning", description)
    assert event["involvedObject"]["kind"] == "Shoot" and event["source"]["component"] == "gardener-scheduler"
    assert seed_of(kube, "lonely") is None

    # a seed that is there but not ready yet changes the reasons, not the outcome
    create_seed(kube, "ap", region="ap-1", allocatable=10, ready=False)
    eventually(lambda: "ap => seed is not ready" in pending()["description"], what="reasons updated")  # type: ignore[index]
    assert seed_of(kube, "lonely") is None
    kube.raw(
        "PATCH",
        f"{CORE}/seeds/ap/status",
        {"status": {"conditions": [{"type": "GardenletReady", "status": "True", "reason": "Ready", "message": ""}]}},
        content_type=MERGE,
    )
    assert eventually(lambda: seed_of(kube, "lonely"), what="bound to the new seed") == "ap"
    failures = scheduler.metrics()
    assert failures.get('gardener_scheduler_schedule_failures_total{reason="RegionMismatch"}', 0) >= 1
    # one per distinct message, not one per attempt (the new seed may be seen before its gardenlet reported)
    messages = [e["message"] for e in events_for(kube, "lonely")]
    assert len(messages) == len(set(messages)) >= 2, messages


def test_minimal_distance_follows_the_region_config(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path / "apiserver").start()
    scheduler = SchedulerProcess(
        kubeconfig=Path(), log_path=tmp_path / "scheduler.log", args=["--strategy", "MinimalDistance"]
    )
    try:
        kube = prepare_garden(server, regions=("eu-west-1", "eu-west-2", "ap-south-9"))
        create_seed(kube, "near-by-name", region="eu-west-2")
        create_seed(kube, "near-by-table", region="ap-south-9")
        kube.apply("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "garden"}})
        scheduler.kubeconfig = scheduler_kubeconfig(server)
        scheduler.start()
        kube.raw("POST", f"{CORE}/namespaces/{NAMESPACE}/shoots", shoot("by-name", region="eu-west-1"))
        assert eventually(lambda: seed_of(kube, "by-name"), what="bound by name") == "near-by-name"
        table = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "regions",
                "namespace": "garden",
                "labels": {"scheduling.gardener.cloud/purpose": "region-config"},
                "annotations": {"scheduling.gardener.cloud/cloudprofiles": "local"},
            },
            "data": {"eu-west-1": "ap-south-9: 1\neu-west-2: 5\n"},
        }
        kube.raw("POST", "/api/v1/namespaces/garden/configmaps", table)

        # the ConfigMap reaches the scheduler through its own watch; shoots created after that follow the table
        attempts = itertools.count()

        def placed_by_table() -> bool:
            name = f"table-{next(attempts)}"
            kube.raw("POST", f"{CORE}/namespaces/{NAMESPACE}/shoots", shoot(name, region="eu-west-1"))
            return eventually(lambda: seed_of(kube, name), what="bound") == "near-by-table"

        eventually(placed_by_table, what="placement by the region table", interval=0.2)
    finally:
        scheduler.stop()
        server.stop()

"""The arithmetic of the Deployment and ReplicaSet controllers: the pod-template hash, maxSurge/maxUnavailable,
which pods go first, one step of a rolling update, proportional scaling, revisions and conditions.

Expected values are upstream's (kube 1.32 pkg/controller/deployment/util, rolling.go, sync.go and the ReplicaSet
controller's ActivePodsWithRanks), worked out by hand from its rules where its tables use Go fixtures.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gardener.kube_controller_manager import deploymentutil as du
from gardener.kube_controller_manager.replicaset import pods_to_delete, replica_set_status

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def _t(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(
    replicas: int,
    *,
    surge: int | str | None = 0,
    unavailable: int | str | None = 0,
    kind: str = "RollingUpdate",
    **extra: Any,
) -> dict[str, Any]:
    strategy: dict[str, Any] = {"type": kind}
    if kind == "RollingUpdate":
        strategy["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {
        "metadata": {"name": "web", "namespace": "ns", "generation": 1, "uid": "d1"},
        "spec": {"replicas": replicas, "strategy": strategy, "progressDeadlineSeconds": 600, **extra},
        "status": {},
    }


def rs(
    name: str, replicas: int, *, available: int = 0, age: float = 0, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "creationTimestamp": _t(age),
            "annotations": annotations or {},
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "availableReplicas": available},
    }


# ---- the pod-template hash ----


def test_fnv32a_matches_the_published_test_vectors() -> None:
    assert du.fnv32a(b"") == 0x811C9DC5
    assert du.fnv32a(b"a") == 0xE40C292C
    assert du.fnv32a(b"foobar") == 0xBF9CF968


def test_safe_encode_maps_digits_into_the_vowel_free_alphabet() -> None:
    assert du.safe_encode("0123456789") == "456789bcdf"


def test_hash_has_kubes_form_and_depends_on_template_and_collision_count_only() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "python:3.12"}]}}
    reordered = {
        "spec": {"containers": [{"image": "python:3.12", "name": "c"}]},
        "metadata": {"labels": {"app": "web"}},
    }
    value = du.compute_hash(template)
    assert re.fullmatch("[456789bcdf]{1,10}", value)
    assert du.compute_hash(reordered) == value
    other = {**template, "spec": {"containers": [{"name": "c", "image": "python:3.13"}]}}
    assert du.compute_hash(other) != value
    # upstream writes the collision count as eight little-endian bytes after the template, also when it is 0
    assert len({value, du.compute_hash(template, 0), du.compute_hash(template, 1)}) == 3


def test_templates_compare_without_the_hash_label_and_empty_fields() -> None:
    plain = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
    hashed = {
        "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}, "annotations": {}},
        "spec": plain["spec"],
    }
    assert du.equal_ignore_hash(plain, hashed)
    assert not du.equal_ignore_hash(plain, {**hashed, "spec": {"containers": [{"name": "d"}]}})


# ---- maxSurge and maxUnavailable ----


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        ("0%", "0%", 0, (0, 1)),
        ("39%", "39%", 10, (4, 3)),
        (None, "39%", 10, (0, 3)),
        ("39%", None, 10, (4, 0)),
        (None, None, 10, (0, 1)),
        ("25%", "25%", 3, (1, 0)),
        ("25%", "25%", 10, (3, 2)),
        (2, 1, 10, (2, 1)),
        (0, 0, 5, (0, 1)),
    ],
)
def test_fenceposts_round_surge_up_and_unavailability_down(
    surge: int | str | None, unavailable: int | str | None, desired: int, expected: tuple[int, int]
) -> None:
    assert du.resolve_fenceposts(surge, unavailable, desired) == expected


@pytest.mark.parametrize(("surge", "unavailable"), [("oops", "1%"), ("55%", "urg"), ("10", 1)])
def test_fenceposts_refuse_strings_that_are_not_percentages(surge: str, unavailable: str | int) -> None:
    with pytest.raises(ValueError, match="not a percentage"):
        du.resolve_fenceposts(surge, unavailable, 10)


def test_max_unavailable_is_capped_by_replicas_and_zero_for_recreate() -> None:
    assert du.max_unavailable(deployment(2, surge=0, unavailable=5)) == 2
    assert du.max_unavailable(deployment(0, surge=1, unavailable=1)) == 0
    assert du.max_surge(deployment(3, kind="Recreate")) == du.max_unavailable(deployment(3, kind="Recreate")) == 0
    assert du.max_surge(deployment(3, surge="25%", unavailable="25%")) == 1


# ---- which pods go first ----


def pod(
    name: str, *, node: str = "n1", phase: str = "Running", ready_ago: float | None = 100, **extra: Any
) -> dict[str, Any]:
    conditions = [] if ready_ago is None else [{"type": "Ready", "status": "True", "lastTransitionTime": _t(ready_ago)}]
    metadata: dict[str, Any] = {"name": name, "uid": name, "creationTimestamp": _t(extra.pop("age", 1000))}
    if "cost" in extra:
        metadata["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": str(extra.pop("cost"))}
    status: dict[str, Any] = {"phase": phase, "conditions": conditions}
    if "restarts" in extra:
        status["containerStatuses"] = [{"name": "c", "restartCount": extra.pop("restarts")}]
    return {"metadata": metadata, "spec": {"nodeName": node}, "status": status}


@pytest.mark.parametrize(
    ("first", "second", "why"),
    [
        (pod("a", node=""), pod("b", phase="Pending"), "unscheduled before scheduled"),
        (pod("a", phase="Pending", ready_ago=None), pod("b"), "pending before running"),
        (pod("a", phase="Unknown"), pod("b"), "unknown before running"),
        (pod("a", ready_ago=None), pod("b"), "not ready before ready"),
        (pod("a", cost=-5), pod("b", cost=10), "lower deletion cost first"),
        (pod("a", ready_ago=10), pod("b", ready_ago=10_000), "ready for less time first"),
        (pod("a", restarts=3), pod("b", restarts=0), "more restarts first"),
        (pod("a", age=10), pod("b", age=10_000), "newer first"),
    ],
)
def test_pods_are_deleted_in_upstreams_order(first: dict[str, Any], second: dict[str, Any], why: str) -> None:
    now = NOW.timestamp()
    assert pods_to_delete([second, first], [], 1, now=now) == [first], why
    assert pods_to_delete([first, second], [], 1, now=now) == [first], why


def test_pods_doubled_up_on_a_node_go_first_and_all_go_when_asked() -> None:
    lonely, crowded = pod("lonely", node="n1"), pod("crowded", node="n2")
    related = [crowded, pod("sibling", node="n2"), lonely]
    assert pods_to_delete([lonely, crowded], related, 1, now=NOW.timestamp()) == [crowded]
    assert pods_to_delete([lonely, crowded], related, 5, now=NOW.timestamp()) == [lonely, crowded]


def test_replica_set_status_counts_available_after_min_ready_seconds() -> None:
    owner = {
        "metadata": {"name": "web-1", "generation": 2},
        "spec": {"replicas": 3, "minReadySeconds": 30, "template": {"metadata": {"labels": {"app": "web"}}}},
        "status": {},
    }
    labelled = {"app": "web"}
    pods = [pod("old", ready_ago=100), pod("young", ready_ago=10), pod("starting", ready_ago=None)]
    for p in pods[:2]:
        p["metadata"]["labels"] = labelled
    status, wait = replica_set_status(owner, pods, None, now=NOW.timestamp())
    assert status == {
        "replicas": 3,
        "fullyLabeledReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 1,
        "observedGeneration": 2,
    }
    assert wait == pytest.approx(21.0)  # 20 s until "young" is available, and upstream's extra second
    failed, _ = replica_set_status(owner, pods[:1], ValueError("quota"), now=NOW.timestamp())
    (cond,) = failed["conditions"]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "ReplicaFailure",
        "True",
        "FailedCreate",
        "quota",
    )


# ---- one step of a rollout ----


@pytest.mark.parametrize(
    ("kind", "replicas", "new_replicas", "surge", "expected"),
    [
        ("RollingUpdate", 1, 5, 1, 5),  # 5 pods already at the ceiling of 1+1: no scale-up
        ("RollingUpdate", 6, 2, 10, 6),  # room for 11 more, but never past the desired 6
        ("Recreate", 3, 1, 1, 3),
    ],
)
def test_new_replica_set_grows_within_the_surge(
    kind: str, replicas: int, new_replicas: int, surge: int, expected: int
) -> None:
    d = deployment(replicas, surge=surge, unavailable=1, kind=kind)
    assert du.new_rs_new_replicas(d, [rs("old", 5)], rs("new", new_replicas)) == expected


def test_rolling_steps_with_surge_one_and_no_unavailability() -> None:
    d = deployment(3, surge=1, unavailable=0)
    old, new = rs("old", 3, available=3, age=100), rs("new", 0)
    assert du.new_rs_new_replicas(d, [old, new], new) == 1
    new = rs("new", 1, available=0)
    assert du.max_scaled_down(d, [old, new], new) == 0, "the new pod is not available yet"
    new = rs("new", 1, available=1)
    assert du.max_scaled_down(d, [old, new], new) == 1
    assert du.old_scale_down(d, [old, new], [old]) == [(old, 2)]
    assert du.new_rs_new_replicas(d, [rs("old", 2, available=2), new], new) == 2


def test_unhealthy_old_pods_are_cleaned_up_first_within_the_budget() -> None:
    old = rs("old", 10, available=8)
    assert du.unhealthy_cleanup([old], 1) == [(old, 9)]
    assert du.unhealthy_cleanup([old], 3) == [(old, 8)]
    assert du.unhealthy_cleanup([old], 0) == []
    assert du.unhealthy_cleanup([rs("healthy", 10, available=10)], 3) == []


@pytest.mark.parametrize(
    ("unavailable", "available", "old_replicas", "expected"),
    [
        (2, 10, 10, [8]),  # 10 available, 8 must stay: 2 may go
        (2, 8, 10, []),  # only the minimum is available
        (2, 10, 0, []),
        (5, 10, 10, [5]),
    ],
)
def test_old_replica_sets_scale_down_to_the_minimum_available(
    unavailable: int, available: int, old_replicas: int, expected: list[int]
) -> None:
    d = deployment(10, surge=0, unavailable=unavailable)
    old = rs("old", old_replicas, available=available)
    assert [size for _, size in du.old_scale_down(d, [old], [old])] == expected


def _sized(replicas: int, before: int) -> dict[str, str]:
    return {du.DESIRED_REPLICAS: str(before), du.MAX_REPLICAS: str(before)}


@pytest.mark.parametrize(
    ("replicas", "before", "new", "olds", "expected_new", "expected_olds"),
    [
        (10, 5, 2, [3], 4, [6]),
        (3, 5, 2, [3], 1, [2]),
        (4, 9, 8, [1], 4, [0]),
        (10, 7, 2, [3, 2], 3, [4, 3]),
        (8, 13, 2, [8, 3], 1, [5, 2]),
    ],
)
def test_resizing_mid_rollout_scales_every_replica_set_in_proportion(
    replicas: int, before: int, new: int, olds: list[int], expected_new: int, expected_olds: list[int]
) -> None:
    d = deployment(replicas)
    new_rs = rs("new", new, age=10, annotations=_sized(replicas, before))
    old_rss = [rs(f"old{i}", n, age=100 * (i + 1), annotations=_sized(replicas, before)) for i, n in enumerate(olds)]
    plan, _ = du.proportional_sizes(d, new_rs, old_rss)
    sizes = {r["metadata"]["name"]: size for r, size in plan}
    assert sizes["new"] == expected_new
    assert [sizes[f"old{i}"] for i in range(len(olds))] == expected_olds


def test_only_active_or_latest_replica_set_takes_all_replicas() -> None:
    newer, older = rs("newer", 0, age=10), rs("older", 0, age=100)
    assert du.find_active_or_latest(None, [older, newer]) is not None
    assert du.find_active_or_latest(None, [older, newer])["metadata"]["name"] == "newer"  # type: ignore[index]
    assert du.find_active_or_latest(rs("new", 2), [rs("old", 1)]) is None


# ---- revisions ----


def test_rollback_to_an_existing_replica_set_moves_its_revision_and_remembers_the_old_one() -> None:
    d = deployment(3, surge=1, unavailable=0)
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "undo", du.REVISION: "2"}
    back = rs("first", 0, annotations={du.REVISION: "1"})
    assert du.set_new_rs_annotations(d, back, "3", exists=True)
    notes = back["metadata"]["annotations"]
    assert notes == {du.REVISION: "3", du.REVISION_HISTORY: "1", "kubernetes.io/change-cause": "undo"}
    du.set_new_rs_annotations(d, back, "5", exists=True)
    assert notes[du.REVISION_HISTORY] == "1,3"
    assert not du.set_new_rs_annotations(d, back, "4", exists=True), "a revision never goes down"


def test_a_new_replica_set_records_the_replica_counts_it_was_sized_for() -> None:
    fresh: dict[str, Any] = {"metadata": {}}
    du.set_new_rs_annotations(deployment(3, surge="25%", unavailable="25%"), fresh, "1", exists=False)
    assert fresh["metadata"]["annotations"] == {du.REVISION: "1", du.DESIRED_REPLICAS: "3", du.MAX_REPLICAS: "4"}


def test_old_revisions_sort_oldest_first() -> None:
    rss = [rs("b", 0, annotations={du.REVISION: "10"}), rs("a", 0, annotations={du.REVISION: "9"})]
    assert [r["metadata"]["name"] for r in du.by_revision(rss)] == ["a", "b"]
    assert du.max_revision([*rss, rs("bad", 0, annotations={du.REVISION: "x"})]) == 10


# ---- status and conditions ----


def test_status_reports_counts_and_minimum_availability() -> None:
    d = deployment(3, surge=1, unavailable=0)
    new = rs("web-1", 3, available=2)
    new["status"]["readyReplicas"] = 3
    status = du.calculate_status([new], new, d, now="2025-01-01T12:00:00Z")
    counts = {k: v for k, v in status.items() if k != "conditions"}
    assert counts == {
        "observedGeneration": 1,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 2,
        "unavailableReplicas": 1,
    }
    (available,) = status["conditions"]
    assert (available["type"], available["status"], available["reason"]) == (
        "Available",
        "False",
        "MinimumReplicasUnavailable",
    )


def test_progressing_condition_from_created_to_complete_or_timed_out() -> None:
    d = deployment(3, surge=1, unavailable=0)
    new = rs("web-1", 3, available=3)
    status, after = du.progress(d, [new], new, now=_t(0), now_ts=NOW.timestamp())
    progressing = du.condition(status, "Progressing")
    assert progressing is not None and progressing["reason"] == "NewReplicaSetAvailable"
    assert progressing["message"] == 'ReplicaSet "web-1" has successfully progressed.'
    assert du.deployment_complete(d, status) and after is None

    stuck = deployment(3, surge=1, unavailable=0, progressDeadlineSeconds=60)
    stuck["status"] = {
        "replicas": 3,
        "updatedReplicas": 1,
        "availableReplicas": 2,
        "conditions": [du.new_condition("Progressing", "True", "ReplicaSetUpdated", "x", now=_t(30))],
    }
    half = rs("web-2", 1, available=0)
    _, after = du.progress(stuck, [rs("web-1", 2, available=2), half], half, now=_t(0), now_ts=NOW.timestamp())
    assert after == pytest.approx(31.0), "looked at again a second after the deadline"
    status, _ = du.progress(stuck, [rs("web-1", 2, available=2), half], half, now=_t(0), now_ts=NOW.timestamp() + 60)
    progressing = du.condition(status, "Progressing")
    assert progressing is not None
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"] == 'ReplicaSet "web-2" has timed out progressing.'

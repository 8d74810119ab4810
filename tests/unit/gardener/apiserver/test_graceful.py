"""kube's BeforeDelete and pod CheckGracefulDelete, as `graceful.pod_grace` decides them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gardener.apiserver.graceful import GracePlan, pod_grace

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _pod(*, node: str = "n1", phase: str = "Running", grace: int | None = 30, **meta: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node} if node else {}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"metadata": {"name": "p", **meta}, "spec": spec, "status": {"phase": phase}}


def test_a_bound_running_pod_gets_its_grace_period() -> None:
    assert pod_grace(_pod(), {}, now=NOW) == GracePlan(timestamp="2026-01-02T03:04:35Z", grace=30, first=True)
    assert pod_grace(_pod(), {"gracePeriodSeconds": 5}, now=NOW) == GracePlan(
        timestamp="2026-01-02T03:04:10Z", grace=5, first=True
    )
    assert pod_grace(_pod(), {"gracePeriodSeconds": -7}, now=NOW).grace == 1  # type: ignore[union-attr]
    assert pod_grace(_pod(grace=None), {}, now=NOW).grace == 0  # type: ignore[union-attr]


def test_unbound_and_finished_pods_go_at_once() -> None:
    assert pod_grace(_pod(node=""), {}, now=NOW).grace == 0  # type: ignore[union-attr]
    for phase in ("Succeeded", "Failed"):
        assert pod_grace(_pod(phase=phase), {"gracePeriodSeconds": 9}, now=NOW).grace == 0  # type: ignore[union-attr]


def test_a_running_graceful_deletion_is_only_ever_shortened() -> None:
    deleting = _pod(deletionTimestamp="2026-01-02T03:04:35Z", deletionGracePeriodSeconds=30)
    assert pod_grace(deleting, {}, now=NOW) == GracePlan(pending=True)
    assert pod_grace(deleting, {"gracePeriodSeconds": 60}, now=NOW) == GracePlan(pending=True)
    shorter = pod_grace(deleting, {"gracePeriodSeconds": 10}, now=NOW)
    assert shorter == GracePlan(timestamp="2026-01-02T03:04:15Z", grace=10)
    assert pod_grace(deleting, {"gracePeriodSeconds": 0}, now=NOW) == GracePlan(timestamp="2026-01-02T03:04:05Z")
    # already at 0 (a kubelet's delete that storage has not finished): deleted without grace
    assert pod_grace(_pod(deletionTimestamp="2026-01-02T03:04:05Z", deletionGracePeriodSeconds=0), {}, now=NOW) is None


def test_marking_bumps_the_generation_once() -> None:
    metadata: dict[str, Any] = {"generation": 2}
    GracePlan(timestamp="t", grace=3, first=True).mark(metadata)
    assert metadata == {"generation": 3, "deletionTimestamp": "t", "deletionGracePeriodSeconds": 3}
    GracePlan(timestamp="u", grace=1).mark(metadata)
    assert metadata["generation"] == 3

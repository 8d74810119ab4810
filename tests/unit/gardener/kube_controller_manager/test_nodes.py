"""The decisions of the node lifecycle, taint eviction and pod GC controllers, as upstream makes them."""

from __future__ import annotations

from typing import Any

import pytest

from gardener.kube_controller_manager.context import Options
from gardener.kube_controller_manager.nodelifecycle import (
    FULL,
    NORMAL_STATE,
    PARTIAL,
    Health,
    TokenBucket,
    ZoneTainter,
    compute_zone_state,
    condition_taints,
    grace_period,
    is_stale,
    no_execute_change,
    observe,
    unknown_conditions,
    zone_key,
)
from gardener.kube_controller_manager.podgc import (
    Quarantine,
    is_terminated,
    orphaned,
    terminated_to_delete,
    terminating_to_delete,
)
from gardener.kube_controller_manager.tainteviction import eviction_deadline, tolerates, with_pod_condition

T0 = 1_700_000_000.0
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}


def node(
    name: str = "n1",
    *,
    ready: str | None = "True",
    heartbeat: str = "2023-11-14T22:13:20Z",
    labels: dict[str, str] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    conds = list(conditions or [])
    if ready is not None:
        conds.insert(0, {"type": "Ready", "status": ready, "lastHeartbeatTime": heartbeat, "reason": "KubeletReady"})
    return {
        "metadata": {"name": name, "creationTimestamp": "2023-11-14T22:00:00Z", "labels": labels or {}},
        "spec": {"unschedulable": unschedulable},
        "status": {"conditions": conds},
    }


def lease(renew: str) -> dict[str, Any]:
    return {"spec": {"renewTime": renew}}


# ---- node lifecycle ----


def test_a_node_first_seen_starts_its_grace_now_or_at_creation_without_ready() -> None:
    assert observe(None, node(), None, now=T0).probe == T0
    never = observe(None, node(ready=None), None, now=T0)
    assert never.probe == T0 - 800 and not never.has_ready  # creationTimestamp is 800 s before T0


def test_only_a_new_heartbeat_or_a_newer_lease_renews_the_probe() -> None:
    first = observe(None, node(), lease("2023-11-14T22:13:19.500000Z"), now=T0)
    same = observe(first, node(), lease("2023-11-14T22:13:19.500000Z"), now=T0 + 30)
    assert same.probe == T0
    renewed = observe(same, node(), lease("2023-11-14T22:13:29.000000Z"), now=T0 + 31)
    assert renewed.probe == T0 + 31
    older = observe(renewed, node(), lease("2023-11-14T22:13:01Z"), now=T0 + 40)
    assert older.probe == T0 + 31, "a lease renewTime going back is no sign of life"
    heartbeat = observe(older, node(heartbeat="2023-11-14T22:14:00Z"), None, now=T0 + 45)
    assert heartbeat.probe == T0 + 45


def test_grace_periods_and_staleness() -> None:
    options = Options(node_monitor_grace_period=4.0, node_startup_grace_period=9.0)
    assert grace_period(node(), options) == 4.0
    assert grace_period(node(ready=None), options) == 9.0
    health = Health(probe=T0, has_ready=True, heartbeat="", renew=None)
    assert not is_stale(health, 4.0, now=T0 + 4.0)
    assert is_stale(health, 4.0, now=T0 + 4.01)


def test_a_silent_node_gets_every_kubelet_condition_unknown_with_upstreams_words() -> None:
    n = node(
        conditions=[
            {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": "h", "lastTransitionTime": "t"},
            {"type": "NetworkUnavailable", "status": "False"},
        ]
    )
    conditions = {c["type"]: c for c in unknown_conditions(n, now="NOW")}
    ready = conditions["Ready"]
    assert ready["status"] == "Unknown" and ready["reason"] == "NodeStatusUnknown"
    assert ready["message"] == "Kubelet stopped posting node status."
    assert ready["lastTransitionTime"] == "NOW" and ready["lastHeartbeatTime"] == "2023-11-14T22:13:20Z"
    assert conditions["MemoryPressure"]["status"] == "Unknown"
    assert conditions["NetworkUnavailable"]["status"] == "False", "the network plugin owns that one"
    never = conditions["DiskPressure"]
    assert never["reason"] == "NodeStatusNeverUpdated" and never["message"] == "Kubelet never posted node status."
    assert never["lastHeartbeatTime"] == "2023-11-14T22:00:00Z"
    assert set(conditions) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"}
    again = {
        c["type"]: c
        for c in unknown_conditions({**n, "status": {"conditions": list(conditions.values())}}, now="LATER")
    }
    assert again["Ready"]["lastTransitionTime"] == "NOW", "already Unknown: no new transition"


def test_condition_taints_mirror_conditions_and_unschedulable() -> None:
    n = node(ready="Unknown", conditions=[{"type": "DiskPressure", "status": "True"}], unschedulable=True)
    assert condition_taints(n) == [
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
    ]
    assert condition_taints(node(ready="False")) == [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
    assert condition_taints(node()) == []


def test_no_execute_taints_follow_the_ready_status_and_exclude_each_other() -> None:
    assert no_execute_change("Unknown") == ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")
    assert no_execute_change("False") == ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
    assert no_execute_change("True") == (None, None)


def test_zone_key_and_zone_states() -> None:
    assert zone_key(node()) == ""
    assert (
        zone_key(node(labels={"topology.kubernetes.io/zone": "a", "topology.kubernetes.io/region": "r"})) == "r:\x00:a"
    )
    beta = {"failure-domain.beta.kubernetes.io/zone": "b", "topology.kubernetes.io/zone": "a"}
    assert zone_key(node(labels=beta)) == ":\x00:b"
    assert compute_zone_state(["True", "True", "Unknown"]) == (1, NORMAL_STATE)
    assert compute_zone_state(["Unknown", None]) == (2, FULL)
    assert compute_zone_state(["True", "False", "Unknown", "Unknown"]) == (3, PARTIAL)
    assert compute_zone_state(["True", "True", "Unknown", "Unknown"]) == (2, NORMAL_STATE), "two down is never partial"


def test_tainting_is_rate_limited_per_zone_and_queues_a_node_once() -> None:
    now = [T0]
    bucket = TokenBucket(0.1, clock=lambda: now[0])
    tainter = ZoneTainter(bucket)
    assert tainter.add("a") and not tainter.add("a")
    assert bucket.try_accept(), "the burst of one goes at once"
    assert not bucket.try_accept()
    now[0] += 9.9
    assert not bucket.try_accept()
    now[0] += 0.2
    assert bucket.try_accept(), "0.1 per second: the next one ten seconds later"
    tainter.pending.pop("a")
    tainter.done.add("a")
    assert not tainter.add("a"), "tainted already: not queued again until it was reachable"
    assert tainter.remove("a") and tainter.add("a")
    bucket.swap(0.0)
    now[0] += 100
    assert not bucket.try_accept(), "rate 0: evictions stopped"


# ---- taint eviction ----


def test_tolerations_match_taints_as_core_v1_does() -> None:
    assert tolerates({"key": UNREACHABLE["key"], "operator": "Exists", "effect": "NoExecute"}, UNREACHABLE)
    assert tolerates({"operator": "Exists"}, UNREACHABLE), "no key, Exists: every taint"
    assert not tolerates({"key": UNREACHABLE["key"], "operator": "Exists", "effect": "NoSchedule"}, UNREACHABLE)
    assert tolerates(
        {"key": "k", "value": "v", "effect": "NoExecute"}, {"key": "k", "value": "v", "effect": "NoExecute"}
    )
    assert not tolerates({"key": "k", "value": "w"}, {"key": "k", "value": "v", "effect": "NoExecute"})
    assert not tolerates({"key": "k", "operator": "Gt"}, {"key": "k", "effect": "NoExecute"})


def _toleration(taint: dict[str, str], seconds: int | None = None) -> dict[str, Any]:
    t: dict[str, Any] = {"key": taint["key"], "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        t["tolerationSeconds"] = seconds
    return t


def test_eviction_deadline() -> None:
    taints = [(UNREACHABLE, T0)]
    assert eviction_deadline(taints, [], since=0, now=T0 + 1) == T0 + 1, "not tolerated: at once"
    assert eviction_deadline(taints, [_toleration(UNREACHABLE)], since=0, now=T0 + 1) is None, "forever"
    assert eviction_deadline(taints, [_toleration(UNREACHABLE, 2)], since=0, now=T0 + 1) == T0 + 2
    assert eviction_deadline(taints, [_toleration(UNREACHABLE, 0)], since=0, now=T0 + 1) == T0 + 1
    assert eviction_deadline(taints, [_toleration(UNREACHABLE, -5)], since=0, now=T0 + 1) == T0 + 1
    assert eviction_deadline(taints, [_toleration(UNREACHABLE, 300)], since=T0 + 100, now=T0 + 101) == T0 + 400, (
        "a pod that came after the taint gets its full toleration"
    )
    both = [(UNREACHABLE, T0), (NOT_READY, T0 + 10)]
    tolerations = [_toleration(UNREACHABLE), _toleration(NOT_READY, 30)]
    assert eviction_deadline(both, tolerations, since=0, now=T0) == T0 + 40, "the earliest finite end wins"
    assert eviction_deadline(both, [_toleration(UNREACHABLE, 300)], since=0, now=T0) == T0, "one taint untolerated"
    first_match = [_toleration(UNREACHABLE), _toleration(UNREACHABLE, 1)]
    assert eviction_deadline(taints, first_match, since=0, now=T0) is None, "the first matching toleration counts"


def test_with_pod_condition_moves_transition_time_only_with_the_status() -> None:
    old = [{"type": "Ready", "status": "True", "reason": "r", "lastTransitionTime": "T1"}, {"type": "Other"}]
    conditions, changed = with_pod_condition(old, {**old[0], "status": "False"}, now="T2")
    assert changed and conditions[0] == {"type": "Ready", "status": "False", "reason": "r", "lastTransitionTime": "T2"}
    assert conditions[1] == {"type": "Other"}
    again, changed = with_pod_condition(conditions, {**conditions[0]}, now="T3")
    assert not changed and again[0]["lastTransitionTime"] == "T2"
    added, changed = with_pod_condition([], {"type": "DisruptionTarget", "status": "True", "reason": "x"}, now="T4")
    assert changed and added == [
        {"type": "DisruptionTarget", "status": "True", "reason": "x", "lastTransitionTime": "T4"}
    ]


# ---- pod GC ----


def pod(name: str, *, phase: str = "Running", created: str = "2024-01-01T00:00:00Z", **extra: Any) -> dict[str, Any]:
    spec = {"nodeName": extra.pop("node", "")}
    m = {"name": name, "namespace": "ns", "creationTimestamp": created, **extra}
    return {
        "metadata": m,
        "spec": spec,
        "status": {"phase": phase, **({"reason": "Evicted"} if name.startswith("evicted") else {})},
    }


def test_terminated_pods_beyond_the_threshold_go_evicted_first_then_oldest() -> None:
    pods = [
        pod("new", phase="Succeeded", created="2024-01-03T00:00:00Z"),
        pod("old", phase="Failed", created="2024-01-01T00:00:00Z"),
        pod("evicted", phase="Failed", created="2024-01-05T00:00:00Z"),
        pod("b-same", phase="Succeeded", created="2024-01-02T00:00:00Z"),
        pod("a-same", phase="Succeeded", created="2024-01-02T00:00:00Z"),
        pod("running"),
        pod("pending", phase="Pending"),
    ]
    assert not is_terminated(pod("unknown", phase="Unknown"))
    assert [p["metadata"]["name"] for p in terminated_to_delete(pods, 1)] == ["evicted", "old", "a-same", "b-same"]
    assert terminated_to_delete(pods, 5) == []
    assert terminated_to_delete(pods, 0) == [], "threshold 0 switches this part off"


def test_terminating_pods_nobody_will_finish() -> None:
    gone = "2024-01-01T00:00:00Z"
    nodes = {
        "down": node("down", ready="False") | {"spec": {"taints": [{"key": "node.kubernetes.io/out-of-service"}]}},
        "up": node("up"),
    }
    pods = [
        pod("unscheduled", deletionTimestamp=gone),
        pod("on-down", node="down", deletionTimestamp=gone),
        pod("on-up", node="up", deletionTimestamp=gone),
        pod("alive", node="down"),
    ]
    assert [p["metadata"]["name"] for p in terminating_to_delete(pods, nodes)] == ["unscheduled", "on-down"]


def test_orphans_wait_out_the_quarantine() -> None:
    quarantine = Quarantine(seconds=40)
    pods = [pod("a", node="lost"), pod("b", node="here"), pod("c", node="lost")]
    assert quarantine.due(pods, {"here"}, now=T0) == []
    assert quarantine.due(pods, {"here"}, now=T0 + 39) == []
    assert quarantine.due(pods, {"here"}, now=T0 + 40) == ["lost"]
    assert [p["metadata"]["name"] for p in orphaned(pods, {"lost"})] == ["a", "c"]
    assert quarantine.due([pod("d", node="back")], set(), now=T0) == []
    assert quarantine.due([], {"back"}, now=T0 + 50) == [], "a Node that came back is no orphan maker"


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_finished_phases_are_terminated(phase: str) -> None:
    assert is_terminated(pod("p", phase=phase))

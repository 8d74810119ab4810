"""The disruption controller's arithmetic, checked against pkg/controller/disruption's rules: expected and desired
healthy counts for minAvailable / maxUnavailable as numbers and percentages, the DisruptionAllowed condition, and
the disrupted-pod bookkeeping of the eviction API."""

from __future__ import annotations

from typing import Any

import pytest

from gardener.kube_controller_manager.disruption import (
    DELETION_TIMEOUT,
    BudgetError,
    Numbers,
    _check_selector,
    _conditions_up_to_date,
    _recently_disrupted,
    _set_condition,
    budget_numbers,
    pod_ready,
    scaled_value,
)
from gardener.kube_controller_manager.hpa_replicas import go_label_selector


def pod(name: str, *, owner_uid: str | None = "rs-1", ready: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "labels": {"app": "web"}}
    if owner_uid:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web", "uid": owner_uid, "controller": True}]
    status = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return {"metadata": meta, "status": status}


def pdb(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "b", "generation": 1}, "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


@pytest.mark.parametrize(
    ("value", "total", "up", "expected"),
    [(3, 10, True, 3), ("50%", 3, True, 2), ("50%", 3, False, 1), ("34%", 3, True, 2), ("0%", 5, True, 0)],
)
def test_scaled_value(value: Any, total: int, up: bool, expected: int) -> None:
    assert scaled_value(value, total, round_up=up) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5", "invalid value for IntOrString: invalid type: string is not a percentage"),
        ("x%", 'invalid value for IntOrString: invalid value "x%": strconv.Atoi: parsing "x": invalid syntax'),
        (None, "invalid value for IntOrString: invalid type: neither int nor percentage"),
    ],
)
def test_scaled_value_refuses_what_intstr_refuses(value: Any, message: str) -> None:
    with pytest.raises(BudgetError) as refused:
        scaled_value(value, 3, round_up=True)
    assert str(refused.value) == message


def test_an_integer_min_available_counts_the_pods_themselves() -> None:
    pods = [pod("a"), pod("b", owner_uid=None), pod("c")]
    # no controller scale is needed (nor looked up) for an integer minAvailable
    assert budget_numbers(pdb(minAvailable=2), pods, {}) == Numbers(expected=3, desired=2)


def test_percentages_are_taken_of_the_controllers_scale() -> None:
    pods = [pod("a"), pod("b"), pod("c", owner_uid="rs-2")]
    # two ReplicaSets of one Deployment count once, with the Deployment's scale
    scales = {"rs-1": ("deploy-1", 4), "rs-2": ("deploy-1", 4)}
    assert budget_numbers(pdb(minAvailable="50%"), pods, scales) == Numbers(expected=4, desired=2)
    assert budget_numbers(pdb(maxUnavailable="25%"), pods, scales) == Numbers(expected=4, desired=3)
    assert budget_numbers(pdb(maxUnavailable=1), pods, scales) == Numbers(expected=4, desired=3)
    # more unavailable than expected: nobody needs to stay healthy
    assert budget_numbers(pdb(maxUnavailable=9), pods, scales).desired == 0


def test_unmanaged_pods_are_reported_and_pods_without_a_found_controller_fail() -> None:
    pods = [pod("a"), pod("lonely", owner_uid=None)]
    numbers = budget_numbers(pdb(maxUnavailable=1), pods, {"rs-1": ("rs-1", 3)})
    assert numbers == Numbers(expected=3, desired=2, unmanaged=("lonely",))
    with pytest.raises(BudgetError) as failed:
        budget_numbers(pdb(minAvailable="10%"), [pod("a")], {})
    assert str(failed.value) == 'found no controllers for pod "a"'


def test_a_budget_without_min_or_max_expects_nothing() -> None:
    assert budget_numbers(pdb(), [pod("a")], {}) == Numbers(expected=0, desired=0)


def test_label_selector_operators_kube_does_not_know_are_refused() -> None:
    _check_selector({"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"]}]})
    with pytest.raises(BudgetError) as refused:
        _check_selector({"matchExpressions": [{"key": "a", "operator": "Near"}]})
    assert str(refused.value) == '"Near" is not a valid label selector operator'


def test_the_selector_in_events_is_printed_as_go_prints_it() -> None:
    selector = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "y"]}],
    }
    assert go_label_selector(selector) == (
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:[]LabelSelectorRequirement{"
        "LabelSelectorRequirement{Key:tier,Operator:In,Values:[x y],},},}"
    )
    assert go_label_selector(None) == "nil"


def test_ready_is_the_ready_condition() -> None:
    assert pod_ready(pod("a"))
    assert not pod_ready(pod("a", ready=False))
    assert not pod_ready({"metadata": {"name": "a"}})


def test_disruption_allowed_condition_keeps_its_transition_time_while_the_status_holds() -> None:
    first = _set_condition([], "True", "SufficientPods", "", 1)
    assert first == [
        {
            "type": "DisruptionAllowed",
            "status": "True",
            "observedGeneration": 1,
            "lastTransitionTime": first[0]["lastTransitionTime"],
            "reason": "SufficientPods",
            "message": "",
        }
    ]
    first[0]["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    again = _set_condition(first, "True", "SufficientPods", "", 2)
    assert again[0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert again[0]["observedGeneration"] == 2
    flipped = _set_condition(again, "False", "SyncFailed", 'found no controllers for pod "a"', 2)
    assert flipped[0]["lastTransitionTime"] != "2020-01-01T00:00:00Z"
    assert (flipped[0]["reason"], flipped[0]["message"]) == ("SyncFailed", 'found no controllers for pod "a"')


def test_conditions_are_up_to_date_only_when_they_match_the_allowed_count() -> None:
    sufficient = [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods"}]
    insufficient = [{"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods"}]
    assert _conditions_up_to_date({"disruptionsAllowed": 1, "observedGeneration": 3, "conditions": sufficient}, 3)
    assert not _conditions_up_to_date({"disruptionsAllowed": 0, "observedGeneration": 3, "conditions": sufficient}, 3)
    assert _conditions_up_to_date({"disruptionsAllowed": 0, "observedGeneration": 3, "conditions": insufficient}, 3)
    assert not _conditions_up_to_date({"disruptionsAllowed": 1, "observedGeneration": 2, "conditions": sufficient}, 3)
    synced_failed = [{"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed"}]
    assert not _conditions_up_to_date(
        {"disruptionsAllowed": 0, "observedGeneration": 3, "conditions": synced_failed}, 3
    )


def test_a_pod_just_evicted_is_not_healthy_for_the_deletion_timeout() -> None:
    evicted = {"a": "2030-01-01T00:00:00Z"}
    stamp = 1893456000.0  # 2030-01-01T00:00:00Z
    assert _recently_disrupted(evicted, pod("a"), stamp + DELETION_TIMEOUT - 1)
    assert not _recently_disrupted(evicted, pod("a"), stamp + DELETION_TIMEOUT + 1)
    assert not _recently_disrupted(evicted, pod("b"), stamp)

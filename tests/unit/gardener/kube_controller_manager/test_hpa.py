"""The HPA controller's arithmetic against pkg/controller/podautoscaler: scale selectors, the replica calculator
(tolerance, unready and missing pods), normalization within bounds and the conditions it reports."""

from __future__ import annotations

from typing import Any

import pytest

from gardener.kube_controller_manager.hpa import parse_group_version, set_condition
from gardener.kube_controller_manager.hpa_replicas import (
    Failed,
    PodMetric,
    ReplicaCalculator,
    ScalingMemory,
    milli_text,
    normalize,
    parse_selector,
)

NOW = 1_900_000_000.0
LONG_AGO = "2020-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("app=web", {"app": "web"}, True),
        ("app=web,tier!=db", {"app": "web", "tier": "db"}, False),
        ("app==web", {"app": "web"}, True),
        ("tier in (a, b),app", {"tier": "b", "app": "x"}, True),
        ("tier notin (a,b)", {}, True),
        ("!canary", {"canary": "1"}, False),
        ("size>3", {"size": "4"}, True),
        ("size<3", {"size": "4"}, False),
        ("", {"anything": "goes"}, True),
    ],
)
def test_selectors_in_string_form(text: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_selector(text).matches(labels) is matches


@pytest.mark.parametrize("text", ["a b c", "size>x", "=x"])
def test_bad_selectors_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_selector(text)


def pod(name: str, cpu: str = "100m", *, phase: str = "Running", ready: str = "True") -> dict[str, Any]:
    container = {"name": "app", "resources": {"requests": {"cpu": cpu}}}
    status = {
        "phase": phase,
        "startTime": LONG_AGO,
        "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": LONG_AGO}],
    }
    return {"metadata": {"name": name}, "spec": {"containers": [container]}, "status": status}


def calculator() -> ReplicaCalculator:
    return ReplicaCalculator(clock=lambda: NOW)


def metrics(**values: int) -> dict[str, PodMetric]:
    return {name: PodMetric(value, NOW, 30.0) for name, value in values.items()}


def test_pod_metrics_sum_containers_in_milli_and_skip_incomplete_pods() -> None:
    items = [
        {
            "metadata": {"name": "a"},
            "containers": [{"name": "x", "usage": {"cpu": "250m"}}, {"name": "y", "usage": {"cpu": "1"}}],
        },
        {"metadata": {"name": "b"}, "containers": [{"name": "x", "usage": {"memory": "1Mi"}}]},
    ]
    found = calculator().pod_metrics(items, "cpu", "")
    assert {k: v.value for k, v in found.items()} == {"a": 1250}
    assert {k: v.value for k, v in calculator().pod_metrics(items, "cpu", "x").items()} == {"a": 250}


def test_usage_within_tolerance_keeps_the_count() -> None:
    pods = [pod("a"), pod("b")]
    # 54 % of requests against a 50 % target: within 10 % (55 % is just past it in floating point, as upstream)
    assert calculator().resource_replicas(metrics(a=54, b=54), pods, 2, 50, "cpu", "") == (2, 54, 54)
    assert calculator().resource_replicas(metrics(a=55, b=55), pods, 2, 50, "cpu", "")[0] == 3


def test_usage_above_target_scales_by_the_ratio_of_ready_pods() -> None:
    pods = [pod("a"), pod("b")]
    assert calculator().resource_replicas(metrics(a=100, b=100), pods, 2, 50, "cpu", "") == (4, 100, 100)
    assert calculator().resource_replicas(metrics(a=10, b=10), pods, 2, 50, "cpu", "") == (1, 10, 10)


def test_missing_metrics_damp_a_scale_down() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    # c has no metric: on the way down it is assumed at 100 % of its request, which cancels the scale-down
    assert calculator().resource_replicas(metrics(a=10, b=10), pods, 3, 50, "cpu", "")[0] == 3


def test_pending_pods_count_as_zero_on_the_way_up() -> None:
    pods = [pod("a"), pod("b"), pod("p", phase="Pending")]
    # a and b at 200 %: scaled by (200+200+0)/3 % over 3 pods
    assert calculator().resource_replicas(metrics(a=200, b=200), pods, 3, 50, "cpu", "")[0] == 8


@pytest.mark.parametrize(
    ("pods", "values", "message"),
    [
        ([], {"a": 1}, "no pods returned by selector while calculating replica count"),
        ([pod("a", phase="Failed")], {"a": 1}, "did not receive metrics for targeted pods (pods might be unready)"),
    ],
)
def test_calculator_errors(pods: list[dict[str, Any]], values: dict[str, int], message: str) -> None:
    with pytest.raises(Failed) as failed:
        calculator().resource_replicas(metrics(**values), pods, 1, 50, "cpu", "")
    assert str(failed.value) == message


def test_a_container_without_a_request_is_an_error() -> None:
    bare = {**pod("a"), "spec": {"containers": [{"name": "app"}]}}
    with pytest.raises(Failed) as failed:
        calculator().resource_replicas(metrics(a=10), [bare], 1, 50, "cpu", "")
    assert str(failed.value) == "missing request for cpu in container app of Pod a"


def test_plain_values_scale_by_average_usage() -> None:
    assert calculator().plain_replicas(metrics(a=300, b=300), [pod("a"), pod("b")], 2, 100, "memory") == (6, 300)


def spec(**extra: Any) -> dict[str, Any]:
    return {"minReplicas": 2, "maxReplicas": 10, **extra}


def test_normalization_bounds_and_reports_why() -> None:
    memory = ScalingMemory()
    replicas, conditions = normalize(spec(), memory=memory, current=2, desired=20, minimum=2, now=NOW)
    # scale-up is limited to twice the current count (at least 4)
    assert replicas == 4
    assert conditions == [
        ("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"),
        (
            "ScalingLimited",
            "True",
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        ),
    ]
    replicas, conditions = normalize(spec(), memory=ScalingMemory(), current=2, desired=1, minimum=2, now=NOW)
    assert replicas == 2
    assert conditions[-1][:3] == ("ScalingLimited", "True", "TooFewReplicas")


def test_scale_down_waits_for_the_stabilization_window() -> None:
    memory = ScalingMemory(recommendations=[(6, NOW - 60)])
    replicas, conditions = normalize(spec(), memory=memory, current=6, desired=3, minimum=2, now=NOW)
    assert replicas == 6
    assert conditions[0][2] == "ScaleDownStabilized"
    later = ScalingMemory(recommendations=[(6, NOW - 600)])
    assert normalize(spec(), memory=later, current=6, desired=3, minimum=2, now=NOW)[0] == 3


def test_behavior_policies_limit_the_rate() -> None:
    behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    replicas, conditions = normalize(
        spec(behavior=behavior), memory=ScalingMemory(), current=2, desired=8, minimum=2, now=NOW
    )
    assert replicas == 3
    assert conditions[-1][:3] == ("ScalingLimited", "True", "ScaleUpLimit")
    disabled = {"scaleDown": {"selectPolicy": "Disabled"}}
    assert normalize(spec(behavior=disabled), memory=ScalingMemory(), current=5, desired=2, minimum=2, now=NOW)[0] == 5


def test_conditions_move_their_transition_time_only_with_the_status() -> None:
    hpa: dict[str, Any] = {}
    set_condition(hpa, "AbleToScale", "True", "SucceededGetScale", "got it")
    hpa["status"]["conditions"][0]["lastTransitionTime"] = LONG_AGO
    set_condition(hpa, "AbleToScale", "True", "SucceededRescale", "rescaled")
    assert hpa["status"]["conditions"] == [
        {
            "type": "AbleToScale",
            "status": "True",
            "lastTransitionTime": LONG_AGO,
            "reason": "SucceededRescale",
            "message": "rescaled",
        }
    ]
    set_condition(hpa, "AbleToScale", "False", "FailedGetScale", "lost it")
    assert hpa["status"]["conditions"][0]["lastTransitionTime"] != LONG_AGO


def test_group_versions_and_milli_quantities() -> None:
    assert parse_group_version("apps/v1") == ("apps", "v1")
    assert parse_group_version("v1") == ("", "v1")
    with pytest.raises(ValueError, match="unexpected GroupVersion string: a/b/c"):
        parse_group_version("a/b/c")
    assert (milli_text(1500), milli_text(250), milli_text(2000)) == ("1500m", "250m", "2")

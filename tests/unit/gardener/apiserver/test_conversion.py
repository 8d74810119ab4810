"""HorizontalPodAutoscaler between autoscaling/v2 (stored) and autoscaling/v1 (a lossy view)."""

from __future__ import annotations

import json
from typing import Any

from gardener.apiserver.conversion import (
    CONDITIONS_ANNOTATION,
    CURRENT_METRICS_ANNOTATION,
    METRICS_ANNOTATION,
    convert,
)

CPU_70 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
QPS = {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}


def v2(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "n", "annotations": {"keep": "me"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            **spec,
        },
    }


def hpa(obj: dict[str, Any], version: str) -> dict[str, Any]:
    return convert(obj, group="autoscaling", kind="HorizontalPodAutoscaler", to_version=version)


def test_cpu_target_becomes_the_v1_field() -> None:
    obj = v2(metrics=[CPU_70])
    obj["status"] = {
        "currentReplicas": 2,
        "desiredReplicas": 2,
        "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}],
        "conditions": [{"type": "AbleToScale", "status": "True"}],
    }
    old = hpa(obj, "v1")
    assert old["apiVersion"] == "autoscaling/v1"
    assert old["spec"]["targetCPUUtilizationPercentage"] == 70
    assert "metrics" not in old["spec"]
    assert old["status"] == {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 40}
    annotations = old["metadata"]["annotations"]
    assert METRICS_ANNOTATION not in annotations
    assert json.loads(annotations[CURRENT_METRICS_ANNOTATION]) == [
        {"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 40}}
    ]
    assert json.loads(annotations[CONDITIONS_ANNOTATION]) == [{"type": "AbleToScale", "status": "True"}]
    assert obj["apiVersion"] == "autoscaling/v2", "the stored object is not changed"
    back = hpa(old, "v2")
    assert back == obj


def test_other_metrics_travel_in_an_annotation_and_come_back() -> None:
    obj = v2(metrics=[QPS, CPU_70], behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})
    old = hpa(obj, "v1")
    assert json.loads(old["metadata"]["annotations"][METRICS_ANNOTATION]) == [
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "1k"}}
    ]
    back = hpa(old, "v2")
    assert back["spec"]["metrics"] == [QPS, CPU_70]
    assert back["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 60}}
    assert back["metadata"]["annotations"] == {"keep": "me"}


def test_v1_without_target_means_the_default_cpu_target() -> None:
    old = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3},
    }
    new = hpa(old, "v2")
    assert new["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}
    ]


def test_other_kinds_and_same_version_pass_through() -> None:
    obj = v2(metrics=[CPU_70])
    assert hpa(obj, "v2") is obj
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment"}
    assert convert(deployment, group="apps", kind="Deployment", to_version="v1beta1") is deployment

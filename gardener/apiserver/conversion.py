"""Conversion between served shapes of one stored kind: versions of a group, or a second group's view.

kube-apiserver keeps one storage form per resource and converts on the way in and out. Two built-ins
differ in more than their apiVersion:
- autoscaling's HorizontalPodAutoscaler: v2 is stored, v1 is a lossy view of it. As kube does, what v1
  cannot say (metrics other than the CPU target, current metrics, conditions, behavior) travels in
  `autoscaling.alpha.kubernetes.io/*` annotations in the v1 shape, so a v1 read-modify-write keeps it.
- events.k8s.io/v1 Event: the same objects as core/v1 Events, stored as core/v1, with renamed fields
  (kube's pkg/apis/events/v1/conversion.go): what one group writes, the other lists and watches.
Every other pair passes through unchanged; the caller only rewrites apiVersion.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
_ROUND_TRIP = (METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION)
#: the target autoscaling/v1 implied when it had no CPU target (kube's DefaultCPUUtilization)
DEFAULT_CPU_UTILIZATION = 80

#: an apiVersion and a kind, e.g. ("autoscaling/v2", "HorizontalPodAutoscaler")
TypeKey = tuple[str, str]
Converter = Callable[[dict[str, Any]], dict[str, Any]]


def converts(*, kind: str, source: str, target: str) -> bool:
    """Whether `kind` changes shape between apiVersions `source` and `target`, not only its apiVersion."""
    return ((source, kind), (target, kind)) in _CONVERTERS


def convert(obj: dict[str, Any], *, group: str, kind: str, to_version: str) -> dict[str, Any]:
    """`obj` (a dict with apiVersion and kind) as `kind` of `group`/`to_version`; a copy when anything changes.

    Without a converter for the pair `obj` itself comes back: the shapes agree and the caller renames it.
    """
    target = f"{group}/{to_version}" if group else to_version
    source = str(obj.get("apiVersion") or "")
    if source == target:
        return obj
    converter = _CONVERTERS.get(((source, str(obj.get("kind") or kind)), (target, kind)))
    return obj if converter is None else converter(obj)


# ---- autoscaling/v2 -> autoscaling/v1 ----


def _nonempty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


#: the field of a MetricSpec/MetricStatus that holds the source of each metric type (same in v1 and v2)
_SOURCE_FIELD = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


def _metric_to_v1(metric: dict[str, Any], *, side: str) -> dict[str, Any]:
    """A v2 MetricSpec (`side="target"`) or MetricStatus (`side="current"`) in v1's shape.

    v2 nests the amount under `target`/`current`; v1 spells the same fields flat, prefixed with the
    side, so one walk serves both.
    """
    kind = metric.get("type")
    out: dict[str, Any] = {"type": kind}
    field = _SOURCE_FIELD.get(str(kind))
    if field is None:
        return out
    source = metric.get(field) or {}
    identifier = source.get("metric") or {}
    amount = source.get(side) or {}
    body: dict[str, Any]
    if kind in ("Resource", "ContainerResource"):
        body = {
            "name": source.get("name"),
            f"{side}AverageUtilization": amount.get("averageUtilization"),
            f"{side}AverageValue": amount.get("averageValue"),
        }
        if kind == "ContainerResource":
            body["container"] = source.get("container")
    elif kind == "Pods":
        body = {
            "metricName": identifier.get("name"),
            f"{side}AverageValue": amount.get("averageValue"),
            "selector": identifier.get("selector"),
        }
    elif kind == "Object":
        body = {
            "target": source.get("describedObject"),
            "metricName": identifier.get("name"),
            f"{side}Value": amount.get("value"),
            "selector": identifier.get("selector"),
            "averageValue": amount.get("averageValue"),
        }
    else:
        body = {
            "metricName": identifier.get("name"),
            "metricSelector": identifier.get("selector"),
            f"{side}Value": amount.get("value"),
            f"{side}AverageValue": amount.get("averageValue"),
        }
    out[field] = _nonempty(body)
    return out


def _is_cpu_utilization(metric: dict[str, Any]) -> bool:
    resource = metric.get("resource") or {}
    return (
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and (resource.get("target") or {}).get("averageUtilization") is not None
    )


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def hpa_v2_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    spec = out.get("spec") or {}
    status = out.get("status") or {}
    metrics = [m for m in spec.pop("metrics", None) or [] if isinstance(m, dict)]
    behavior = spec.pop("behavior", None)
    cpu = next(
        (m for m in metrics if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu"), None
    )
    if cpu is not None and _is_cpu_utilization(cpu):
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"]["averageUtilization"]
    annotations: dict[str, str] = {}
    others = [_metric_to_v1(m, side="target") for m in metrics if not _is_cpu_utilization(m)]
    if others:
        annotations[METRICS_ANNOTATION] = _dump(others)
    current = [m for m in status.pop("currentMetrics", None) or [] if isinstance(m, dict)]
    for metric in current:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            utilization = (resource.get("current") or {}).get("averageUtilization")
            if utilization is not None:
                status["currentCPUUtilizationPercentage"] = utilization
    if current:
        annotations[CURRENT_METRICS_ANNOTATION] = _dump([_metric_to_v1(m, side="current") for m in current])
    conditions = status.pop("conditions", None)
    if conditions:
        annotations[CONDITIONS_ANNOTATION] = _dump(conditions)
    if behavior is not None:
        annotations[BEHAVIOR_ANNOTATION] = _dump(behavior)
    if annotations:
        meta = out.setdefault("metadata", {})
        meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    return out


# ---- autoscaling/v1 -> autoscaling/v2 ----


def _amount_to_v2(kind: str, source: dict[str, Any], *, side: str) -> dict[str, Any]:
    """The v2 `target` (a typed MetricTarget) or `current` (a MetricValueStatus) of a flat v1 metric source."""
    resource = kind in ("Resource", "ContainerResource")
    utilization = source.get(f"{side}AverageUtilization") if resource else None
    # v1's Object source has an unprefixed averageValue on both sides
    average = source.get("averageValue" if kind == "Object" else f"{side}AverageValue")
    value = source.get(f"{side}Value") if kind in ("Object", "External") else None
    if side == "current":
        return _nonempty({"value": value, "averageUtilization": utilization, "averageValue": average})
    if utilization is not None:
        return {"type": "Utilization", "averageUtilization": utilization}
    if average is not None or resource or kind == "Pods":
        return _nonempty({"type": "AverageValue", "averageValue": average})
    return _nonempty({"type": "Value", "value": value})


def _metric_to_v2(metric: dict[str, Any], *, side: str) -> dict[str, Any]:
    """A v1 metric (a spec's with `side="target"`, a status's with `side="current"`) in v2's shape."""
    kind = metric.get("type")
    out: dict[str, Any] = {"type": kind}
    field = _SOURCE_FIELD.get(str(kind))
    if field is None:
        return out
    source = metric.get(field) or {}
    amount = _amount_to_v2(str(kind), source, side=side)
    selector_key = "metricSelector" if kind == "External" else "selector"
    identifier = _nonempty({"name": source.get("metricName"), "selector": source.get(selector_key)})
    if kind in ("Resource", "ContainerResource"):
        body: dict[str, Any] = {"name": source.get("name"), side: amount}
        if kind == "ContainerResource":
            body["container"] = source.get("container")
        out[field] = _nonempty(body)
    elif kind == "Object":
        out[field] = _nonempty({"describedObject": source.get("target"), "metric": identifier, side: amount})
    else:
        out[field] = {"metric": identifier, side: amount}
    return out


def _load_list(annotations: dict[str, Any], key: str) -> list[dict[str, Any]] | None:
    try:
        value = json.loads(str(annotations[key]))
    except (KeyError, ValueError):
        return None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else None


def hpa_v1_to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    meta = out.get("metadata") or {}
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    status = out.get("status")
    status = status if isinstance(status, dict) else {}
    metrics: list[dict[str, Any]] = [
        _metric_to_v2(m, side="target") for m in _load_list(annotations, METRICS_ANNOTATION) or []
    ]
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        metrics.append(
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
            }
        )
    if not metrics:
        # v1 always meant CPU; without a target the controller used its default
        metrics = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION},
                },
            }
        ]
    spec["metrics"] = metrics
    try:
        behavior = json.loads(annotations[BEHAVIOR_ANNOTATION]) if BEHAVIOR_ANNOTATION in annotations else None
    except ValueError:
        behavior = None
    if isinstance(behavior, dict):
        spec["behavior"] = behavior
    cpu_now = status.pop("currentCPUUtilizationPercentage", None)
    current = _load_list(annotations, CURRENT_METRICS_ANNOTATION)
    if current is not None:
        status["currentMetrics"] = [_metric_to_v2(m, side="current") for m in current]
    elif cpu_now is not None:
        status["currentMetrics"] = [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu_now}}}
        ]
    conditions = _load_list(annotations, CONDITIONS_ANNOTATION)
    if conditions is not None:
        status["conditions"] = conditions
    for key in _ROUND_TRIP:
        annotations.pop(key, None)
    if "metadata" in out:
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
    if "spec" in out or spec:
        out["spec"] = spec
    if "status" in out or status:
        out["status"] = status
    return out


# ---- core/v1 Event <-> events.k8s.io/v1 Event ----

#: core/v1 Event fields that events.k8s.io/v1 names differently (reason, type, eventTime, series, action,
#: related and reportingInstance keep their names); the internal Event's ReportingController is core/v1's
#: reportingComponent
EVENT_V1_FIELDS: Mapping[str, str] = {
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
_EVENT_CORE_FIELDS = {v: k for k, v in EVENT_V1_FIELDS.items()}


def _renamed(obj: dict[str, Any], names: Mapping[str, str], *, api_version: str) -> dict[str, Any]:
    out = {names.get(key, key): copy.deepcopy(value) for key, value in obj.items()}
    out["apiVersion"] = api_version
    return out


def event_core_to_events_v1(obj: dict[str, Any]) -> dict[str, Any]:
    return _renamed(obj, EVENT_V1_FIELDS, api_version="events.k8s.io/v1")


def event_events_v1_to_core(obj: dict[str, Any]) -> dict[str, Any]:
    return _renamed(obj, _EVENT_CORE_FIELDS, api_version="v1")


_HPA = "HorizontalPodAutoscaler"
_CONVERTERS: dict[tuple[TypeKey, TypeKey], Converter] = {
    (("autoscaling/v2", _HPA), ("autoscaling/v1", _HPA)): hpa_v2_to_v1,
    (("autoscaling/v1", _HPA), ("autoscaling/v2", _HPA)): hpa_v1_to_v2,
    (("v1", "Event"), ("events.k8s.io/v1", "Event")): event_core_to_events_v1,
    (("events.k8s.io/v1", "Event"), ("v1", "Event")): event_events_v1_to_core,
}

"""autoscaling/v1 and v2 HorizontalPodAutoscaler (ValidateHorizontalPodAutoscaler)."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.validation import formats
from gardener.apiserver.builtin.validation.fields import Reader, invalid, not_supported, required
from gardener.apiserver.errors import FieldCause

_METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")


def validate_hpa(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    target = r.obj(spec, "scaleTargetRef", "spec.scaleTargetRef") or {}
    for key in ("kind", "name"):
        value = r.text(target, key, f"spec.scaleTargetRef.{key}")
        if not value:
            r.add([required(f"spec.scaleTargetRef.{key}")])
        else:
            r.add(formats.check(f"spec.scaleTargetRef.{key}", value, formats.path_segment(value)))
    low = r.integer(spec, "minReplicas", "spec.minReplicas")
    high = r.integer(spec, "maxReplicas", "spec.maxReplicas")
    if low is not None and low < 1:
        r.add([invalid("spec.minReplicas", low, "must be greater than or equal to 1")])
    if high is not None and high < 1:
        r.add([invalid("spec.maxReplicas", high, "must be greater than 0")])
    if high is not None and low is not None and high < low:
        r.add([invalid("spec.maxReplicas", high, "must be greater than or equal to `minReplicas`")])
    cpu = r.integer(spec, "targetCPUUtilizationPercentage", "spec.targetCPUUtilizationPercentage")
    if cpu is not None and cpu < 1:
        r.add([invalid("spec.targetCPUUtilizationPercentage", cpu, "must be greater than 0")])
    for i, metric in r.objects(spec, "metrics", "spec.metrics"):
        kind = r.text(metric, "type", f"spec.metrics[{i}].type")
        if not kind:
            r.add([required(f"spec.metrics[{i}].type", "must specify a metric source type")])
        elif kind not in _METRIC_TYPES:
            r.add([not_supported(f"spec.metrics[{i}].type", kind, _METRIC_TYPES)])
    return r.causes

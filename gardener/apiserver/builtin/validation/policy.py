"""policy/v1 PodDisruptionBudget (ValidatePodDisruptionBudgetSpec)."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.validation import labels
from gardener.apiserver.builtin.validation.fields import Reader, int_or_percent, invalid, one_of
from gardener.apiserver.errors import FieldCause


def _budget(r: Reader, spec: dict[str, Any], key: str) -> None:
    value = int_or_percent(r, spec.get(key), f"spec.{key}")
    if isinstance(spec.get(key), str) and value is not None and value > 100:
        r.add([invalid(f"spec.{key}", spec[key], "must not be greater than 100%")])


def validate_pdb(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        r.add([invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set")])
    _budget(r, spec, "minAvailable")
    _budget(r, spec, "maxUnavailable")
    selector = r.obj(spec, "selector", "spec.selector")
    if selector is not None:
        labels.validate_selector(r, selector, "spec.selector")
    one_of(
        r,
        spec,
        "unhealthyPodEvictionPolicy",
        "spec.unhealthyPodEvictionPolicy",
        ("AlwaysAllow", "IfHealthyBudget"),
        need=False,
    )
    return r.causes

"""Small helpers over plain API objects that every controller here uses: metadata, owner references,
conditions, label selectors and times in kube's formats."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gardener.runtime.kube import Obj

__all__ = [
    "condition",
    "controller_ref",
    "is_terminating",
    "labels_of",
    "matches_selector",
    "meta",
    "now_rfc3339",
    "owner_ref",
    "parse_time",
    "set_condition",
]


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 time (with or without fractions), None when absent or malformed."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def meta(obj: Mapping[str, Any]) -> Obj:
    m: Obj = obj.get("metadata") or {}
    return m


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def is_terminating(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def _expression_holds(labels: Mapping[str, str], expr: Mapping[str, Any]) -> bool:
    key, op, values = str(expr.get("key", "")), str(expr.get("operator", "")), list(expr.get("values") or [])
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def matches_selector(labels: Mapping[str, str], selector: Mapping[str, Any] | None) -> bool:
    """A metav1.LabelSelector against labels; an empty selector matches everything, a missing one nothing
    (kube's LabelSelectorAsSelector: nil selects nothing)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_holds(labels, expr) for expr in selector.get("matchExpressions") or [])


def owner_ref(owner: Mapping[str, Any], *, controller: bool = True) -> Obj:
    m = meta(owner)
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_ref(obj: Mapping[str, Any]) -> Obj | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def condition(obj: Mapping[str, Any], kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def set_condition(
    conditions: list[Obj], kind: str, status: str, *, reason: str = "", message: str = "", **extra: Any
) -> list[Obj]:
    """A copy of `conditions` with `kind` set; `lastTransitionTime` moves only when the status changes."""
    now = now_rfc3339()
    out: list[Obj] = []
    found = False
    for cond in conditions:
        if cond.get("type") == kind:
            found = True
            moved = cond.get("status") != status
            new = {**cond, "status": status, "reason": reason, "message": message, **extra}
            if moved or not cond.get("lastTransitionTime"):
                new["lastTransitionTime"] = now
            out.append(new)
        else:
            out.append(cond)
    if not found:
        out.append({"type": kind, "status": status, "lastTransitionTime": now, "reason": reason, "message": message})
        out[-1].update(extra)
    return out

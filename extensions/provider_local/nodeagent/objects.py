"""Helpers on API objects as plain dicts: label selectors, owner references, conditions, merge patches."""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping
from typing import Any

from gardener.runtime.workqueue import Backoff

Obj = dict[str, Any]

#: how the agent's controllers retry a failed key: quickly at first, a local process rarely takes long
RETRY = Backoff(base=0.2, cap=30.0)

#: kept on a Pod while the agent stops its processes, so the Pod object outlives them (graceful deletion)
FINALIZER = "provider-local.gardener.cloud/node-agent"


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


def meta(obj: Mapping[str, Any]) -> Obj:
    return dict(obj.get("metadata") or {})


def is_terminating(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def matches_selector(labels: Mapping[str, str], selector: Mapping[str, Any] | None) -> bool:
    """A metav1.LabelSelector; None or empty selects nothing for workloads (callers decide)."""
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def matches_map(labels: Mapping[str, str], selector: Mapping[str, str] | None) -> bool:
    """A Service's plain map selector."""
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def owner_ref(owner: Mapping[str, Any], *, controller: bool = True) -> Obj:
    m = meta(owner)
    return {
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": m.get("name"),
        "uid": m.get("uid"),
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


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


def is_ready(pod: Mapping[str, Any]) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def set_condition(
    conditions: list[Obj], kind: str, status: bool, *, reason: str = "", message: str = "", update_time: bool = False
) -> list[Obj]:
    """Conditions with `kind` set; lastTransitionTime moves only when the status changes."""
    value = "True" if status else "False"
    now = now_rfc3339()
    old = next((c for c in conditions if c.get("type") == kind), None)
    new: Obj = {"type": kind, "status": value}
    if update_time:
        new["lastUpdateTime"] = now if old is None or old.get("status") != value else old.get("lastUpdateTime", now)
    new["lastTransitionTime"] = now if old is None or old.get("status") != value else old.get("lastTransitionTime", now)
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    if (
        old is not None
        and update_time
        and {k: v for k, v in old.items() if k != "lastUpdateTime"}
        != {k: v for k, v in new.items() if k != "lastUpdateTime"}
    ):
        new["lastUpdateTime"] = now
    return [c for c in conditions if c.get("type") != kind] + [new]


def merge_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> Obj:
    """An RFC 7386 merge patch that turns `old` into `new` (keys that went away become null)."""
    old = old or {}
    patch: Obj = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            sub = merge_patch(before, value)
            if sub:
                patch[key] = sub
        elif before != value or key not in old:
            patch[key] = value
    return patch

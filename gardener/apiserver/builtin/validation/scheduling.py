"""scheduling.k8s.io/v1 PriorityClass (ValidatePriorityClass, ValidatePriorityClassUpdate)."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.validation.fields import Reader, forbidden, immutable, one_of, sub
from gardener.apiserver.errors import FieldCause

#: the classes kube-apiserver creates itself, and their values
SYSTEM_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
_HIGHEST_USER_PRIORITY = 1_000_000_000


def _system_class_problem(name: str, value: int | None, default: bool) -> str:
    """IsKnownSystemPriorityClass's complaint, or "" for one of the system classes as kube creates them."""
    if name not in SYSTEM_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_CLASSES[name]}"
    if default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""


def validate_priorityclass(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    metadata = sub(obj, "metadata")
    name = metadata.get("name")
    value = r.integer(obj, "value", "value")
    if isinstance(name, str) and name.startswith("system-"):
        problem = _system_class_problem(name, value, obj.get("globalDefault") is True)
        if problem:
            reserved = "priority class names with 'system-' prefix are reserved for system use only. error: "
            r.add([forbidden("metadata.name", reserved + problem)])
    elif value is not None and value > _HIGHEST_USER_PRIORITY:
        r.add([forbidden("value", f"maximum allowed value of a user defined priority is {_HIGHEST_USER_PRIORITY}")])
    one_of(r, obj, "preemptionPolicy", "preemptionPolicy", ("Never", "PreemptLowerPriority"), need=True)
    if old is not None:
        if obj.get("value") != old.get("value"):
            r.add([forbidden("value", "may not be changed in an update.")])
        if obj.get("preemptionPolicy") != old.get("preemptionPolicy"):
            r.add([immutable("preemptionPolicy", obj.get("preemptionPolicy"))])
    return r.causes

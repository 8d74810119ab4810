"""metav1 validation of label maps and label selectors, and selector matching for template checks."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.validation import formats
from gardener.apiserver.builtin.validation.fields import Reader, forbidden, go_string_map, invalid, required, sub
from gardener.apiserver.errors import FieldCause


def validate_labels(labels: dict[str, str] | None, path: str) -> list[FieldCause]:
    """ValidateLabels: keys are qualified names, values label values; kube reports both on the map's path."""
    causes: list[FieldCause] = []
    for key, value in (labels or {}).items():
        causes += formats.check(path, key, formats.qualified_name(key))
        causes += formats.check(path, value, formats.label_value(value))
    return causes


def validate_selector(r: Reader, selector: dict[str, Any], path: str) -> None:
    """ValidateLabelSelector."""
    r.add(validate_labels(r.string_map(selector, "matchLabels", f"{path}.matchLabels"), f"{path}.matchLabels"))
    for i, expr in r.objects(selector, "matchExpressions", f"{path}.matchExpressions"):
        at = f"{path}.matchExpressions[{i}]"
        operator = r.text(expr, "operator", f"{at}.operator")
        values = r.texts(expr, "values", f"{at}.values")
        if operator in ("In", "NotIn"):
            if not values:
                r.add([required(f"{at}.values", "must be specified when `operator` is 'In' or 'NotIn'")])
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                r.add([forbidden(f"{at}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")])
        else:
            r.add([invalid(f"{at}.operator", operator or "", "not a valid selector operator")])
        key = r.text(expr, "key", f"{at}.key") or ""
        r.add(formats.check(f"{at}.key", key, formats.qualified_name(key)))
        for j, value in values:
            r.add(formats.check(f"{at}.values[{j}]", value, formats.label_value(value)))


def is_empty(selector: dict[str, Any] | None) -> bool:
    if not selector:
        return True
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def matches(selector: dict[str, Any], labels: dict[str, Any] | None) -> bool:
    """Whether a (valid) LabelSelector selects these labels."""
    labels = labels if isinstance(labels, dict) else {}
    match_labels = selector.get("matchLabels")
    if isinstance(match_labels, dict):
        for k, v in match_labels.items():
            if labels.get(k) != v:
                return False
    expressions = selector.get("matchExpressions")
    for expr in expressions if isinstance(expressions, list) else []:
        if not isinstance(expr, dict):
            continue
        key, op = str(expr.get("key")), expr.get("operator")
        raw = expr.get("values")
        values: list[Any] = raw if isinstance(raw, list) else []
        present = key in labels
        if op == "In" and (not present or labels[key] not in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def map_matches(selector: dict[str, str], labels: dict[str, Any] | None) -> bool:
    """A plain map selector (ReplicationController, Service)."""
    labels = labels if isinstance(labels, dict) else {}
    return all(labels.get(k) == v for k, v in selector.items())


def template_labels(template: dict[str, Any]) -> dict[str, Any] | None:
    """A pod template's labels (None when it has none)."""
    value = sub(template, "metadata").get("labels")
    return value if isinstance(value, dict) else None


def mismatch(path: str, template: dict[str, Any]) -> FieldCause:
    """A controller's selector does not select the pods its template makes."""
    found = template_labels(template)
    return invalid(path, found, "`selector` does not match template `labels`", shown=go_string_map(found))

"""Field errors worded as apimachinery's `field.Error` prints them, and type-safe reads of decoded JSON.

kube renders a bad value with Go's fmt verbs (`%q` for strings, `%v` for numbers, `%#v` for maps and
structs); clients and people grep for those texts, so the formatting here follows them. The readers
never raise on a wrong JSON type: they report a cause and hand back an empty value so checks go on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from gardener.apiserver.errors import FieldCause, go_quote

_T = TypeVar("_T")
_PERCENT = re.compile(r"^[0-9]+%$")
#: `field.Invalid(path, value, msg)` with a value kube prints without a value (`field.OmitValueType`)
OMIT = object()


def go_value(value: Any) -> str:
    """How field.Error prints a bad value: %q for strings, %v for numbers and booleans, %#v otherwise."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return go_string_map(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return go_string_slice(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def go_string_map(value: dict[str, Any] | None) -> str:
    """%#v of a map[string]string (Go prints map keys sorted)."""
    if value is None:
        return "map[string]string(nil)"
    items = ", ".join(f"{go_quote(str(k))}:{go_quote(str(v))}" for k, v in sorted(value.items()))
    return "map[string]string{" + items + "}"


def go_string_slice(value: list[Any] | None) -> str:
    if value is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(str(v)) for v in value) + "}"


def go_label_selector(selector: dict[str, Any] | None) -> str:
    """%#v of a v1.LabelSelector, as kube prints it in "field is immutable" errors."""
    if selector is None:
        return "(*v1.LabelSelector)(nil)"
    labels = selector.get("matchLabels")
    expressions = selector.get("matchExpressions")
    if not isinstance(expressions, list) or not expressions:
        exprs = "[]v1.LabelSelectorRequirement(nil)" if not expressions else "[]v1.LabelSelectorRequirement{}"
    else:
        parts = []
        for e in expressions:
            e = e if isinstance(e, dict) else {}
            values = e.get("values")
            parts.append(
                f"v1.LabelSelectorRequirement{{Key:{go_quote(str(e.get('key') or ''))}, "
                f"Operator:{go_quote(str(e.get('operator') or ''))}, "
                f"Values:{go_string_slice(values if isinstance(values, list) else None)}}}"
            )
        exprs = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    matches = go_string_map(labels if isinstance(labels, dict) else None)
    return f"v1.LabelSelector{{MatchLabels:{matches}, MatchExpressions:{exprs}}}"


def _with_detail(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


def invalid(path: str, value: Any, detail: str, *, shown: str | None = None) -> FieldCause:
    """`shown` overrides how the value is printed (for Go structs the caller formats itself)."""
    if value is OMIT:
        return FieldCause("FieldValueInvalid", _with_detail("Invalid value", detail), path)
    text = shown if shown is not None else go_value(value)
    return FieldCause("FieldValueInvalid", _with_detail(f"Invalid value: {text}", detail), path)


def required(path: str, detail: str = "") -> FieldCause:
    return FieldCause("FieldValueRequired", _with_detail("Required value", detail), path)


def forbidden(path: str, detail: str) -> FieldCause:
    return FieldCause("FieldValueForbidden", _with_detail("Forbidden", detail), path)


def not_supported(path: str, value: Any, supported: Iterable[str]) -> FieldCause:
    choices = ", ".join(go_quote(s) for s in supported)
    return FieldCause(
        "FieldValueNotSupported", f"Unsupported value: {go_value(value)}: supported values: {choices}", path
    )


def duplicate(path: str, value: Any, *, shown: str | None = None) -> FieldCause:
    return FieldCause("FieldValueDuplicate", f"Duplicate value: {shown or go_value(value)}", path)


def not_found(path: str, value: Any) -> FieldCause:
    return FieldCause("FieldValueNotFound", f"Not found: {go_value(value)}", path)


def too_long(path: str, limit: int) -> FieldCause:
    return FieldCause("FieldValueTooLong", f"Too long: may not be more than {limit} bytes", path)


def too_many(path: str, count: int, limit: int) -> FieldCause:
    return FieldCause("FieldValueTooMany", f"Too many: {count}: must have at most {limit} items", path)


def immutable(path: str, value: Any, *, shown: str | None = None) -> FieldCause:
    return invalid(path, value, "field is immutable", shown=shown)


def _wrong_type(path: str, value: Any, want: str) -> FieldCause:
    return FieldCause("FieldValueTypeInvalid", f"Invalid value: {go_value(value)}: must be of type {want}", path)


class Reader:
    """Reads fields of decoded JSON, collecting a cause for every value of the wrong JSON type."""

    def __init__(self) -> None:
        self.causes: list[FieldCause] = []

    def add(self, causes: Iterable[FieldCause]) -> None:
        self.causes.extend(causes)

    def _typed(self, obj: dict[str, Any], key: str, path: str, kind: type[_T], want: str) -> _T | None:
        """obj[key] when it is absent, null or of `kind`; otherwise a cause naming the JSON type `want`."""
        value = obj.get(key)
        if value is None or isinstance(value, kind):
            return value
        self.causes.append(_wrong_type(path, value, want))
        return None

    def obj(self, obj: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        return self._typed(obj, key, path, dict, "object")

    def array(self, obj: dict[str, Any], key: str, path: str) -> list[Any]:
        value = obj.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.causes.append(_wrong_type(path, value, "array"))
        return []

    def objects(self, obj: dict[str, Any], key: str, path: str) -> list[tuple[int, dict[str, Any]]]:
        """A list of objects, as (index, item); items of another type are reported and skipped."""
        out = []
        for i, item in enumerate(self.array(obj, key, path)):
            if isinstance(item, dict):
                out.append((i, item))
            elif item is not None:
                self.causes.append(_wrong_type(f"{path}[{i}]", item, "object"))
        return out

    def text(self, obj: dict[str, Any], key: str, path: str) -> str | None:
        return self._typed(obj, key, path, str, "string")

    def integer(self, obj: dict[str, Any], key: str, path: str) -> int | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        self.causes.append(_wrong_type(path, value, "integer"))
        return None

    def flag(self, obj: dict[str, Any], key: str, path: str) -> bool | None:
        return self._typed(obj, key, path, bool, "boolean")

    def string_map(self, obj: dict[str, Any], key: str, path: str) -> dict[str, str] | None:
        value = self.obj(obj, key, path)
        if value is None:
            return None
        out: dict[str, str] = {}
        for k, v in value.items():
            if isinstance(v, str):
                out[k] = v
            elif v is not None:
                self.causes.append(_wrong_type(f"{path}[{k}]", v, "string"))
        return out

    def texts(self, obj: dict[str, Any], key: str, path: str) -> list[tuple[int, str]]:
        out = []
        for i, item in enumerate(self.array(obj, key, path)):
            if isinstance(item, str):
                out.append((i, item))
            else:
                self.causes.append(_wrong_type(f"{path}[{i}]", item, "string"))
        return out


def sub(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object for reading only: {} when absent or of another type (a Reader reports the type)."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def nonnegative(r: Reader, obj: dict[str, Any], key: str, path: str) -> None:
    """apimachinery's ValidateNonnegativeField."""
    value = r.integer(obj, key, path)
    if value is not None and value < 0:
        r.causes.append(invalid(path, value, "must be greater than or equal to 0"))


def one_of(r: Reader, obj: dict[str, Any], key: str, path: str, allowed: Iterable[str], *, need: bool) -> str | None:
    """An enum field: Required when `need` and missing, NotSupported (choices sorted, as kube's sets.List) when unknown.

    `need` should be True only for fields defaulting always fills, so a missing one is the user's explicit "".
    """
    value = r.text(obj, key, path)
    choices = sorted(allowed)
    if value is None:
        if need and key in obj:
            r.causes.append(required(path))
        return None
    if value == "":
        if need:
            r.causes.append(required(path))
        return value
    if value not in choices:
        r.causes.append(not_supported(path, value, choices))
    return value


def int_or_percent(r: Reader, value: Any, path: str) -> float | None:
    """ValidatePositiveIntOrPercent; the value as a number (the percentage for strings) when it is valid."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if value < 0:
            r.add([invalid(path, value, "must be greater than or equal to 0")])
            return None
        return float(value)
    if isinstance(value, str):
        if not _PERCENT.match(value):
            detail = (
                "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
                "regex used for validation is '[0-9]+%')"
            )
            r.add([invalid(path, value, detail)])
            return None
        return float(value[:-1])
    r.add([invalid(path, value, "must be an integer or percentage (e.g '5%')")])
    return None

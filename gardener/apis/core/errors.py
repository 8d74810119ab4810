"""Field errors of admission, shaped like Kubernetes' `field.Error` / `StatusCause`.

`gardener.apis` may not import the API server, so this is its own twin of
`gardener.apiserver.errors.FieldCause`: `reason` is a Kubernetes CauseType (`FieldValueInvalid` ...),
`message` is what kube-apiserver puts into a cause (`field.Error.ErrorBody()`, e.g.
`Invalid value: "x": must be ...`) and `field` the JSON path (`spec.provider.workers[0].machine.type`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
DUPLICATE = "FieldValueDuplicate"
TOO_LONG = "FieldValueTooLong"
NOT_FOUND = "FieldValueNotFound"
TOO_MANY = "FieldValueTooMany"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field."""

    reason: str
    message: str
    field: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class Raw:
    """A value printed as it is in a message (Go prints `fmt.Stringer`s such as durations unquoted)."""

    text: str


def format_value(value: Any) -> str:
    """How kube prints a bad value: strings quoted (%q), simple types plain, nil as null, objects as JSON."""
    if value is None:
        return "null"
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # pragma: no cover - json.dumps with default=str does not raise for our data
        return repr(value)


def _with_detail(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, _with_detail("Required value", detail), field)


def invalid(field: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(INVALID, _with_detail(f"Invalid value: {format_value(value)}", detail), field)


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    values = [json.dumps(str(v), ensure_ascii=False) for v in supported]
    detail = f"supported values: {', '.join(values)}" if values else ""
    return FieldError(NOT_SUPPORTED, _with_detail(f"Unsupported value: {format_value(value)}", detail), field)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, _with_detail("Forbidden", detail), field)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, f"Duplicate value: {format_value(value)}", field)


def too_long(field: str, max_length: int) -> FieldError:
    return FieldError(TOO_LONG, f"Too long: may not be more than {max_length} bytes", field)


def too_many(field: str, actual: int, maximum: int) -> FieldError:
    """What kube's `field.TooMany` reports: `Too many: 1000: must have at most 100 items`."""
    unit = "item" if maximum == 1 else "items"
    return FieldError(TOO_MANY, f"Too many: {actual}: must have at most {maximum} {unit}", field)


def not_found(field: str, value: Any) -> FieldError:
    return FieldError(NOT_FOUND, f"Not found: {format_value(value)}", field)


def immutable(field: str, value: Any) -> FieldError:
    """What `ValidateImmutableField` reports."""
    return invalid(field, value, "field is immutable")


def summary(errors: Sequence[FieldError]) -> str:
    """The errors as kube joins them into a Status message: `a: Required value, b: Invalid value: ...`."""
    return ", ".join(str(e) for e in errors)


def dedupe(errors: Iterable[FieldError]) -> list[FieldError]:
    """The errors in order of discovery, each once."""
    seen: set[FieldError] = set()
    out: list[FieldError] = []
    for e in errors:
        if e not in seen:
            seen.add(e)
            out.append(e)
    return out

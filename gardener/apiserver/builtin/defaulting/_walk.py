"""Tolerant accessors for decoded JSON: defaulting runs before validation, so any field may have the wrong type.

Go decodes into typed structs and its defaulters test "unset" as nil or the zero value; these helpers give the
same tests on plain dicts, and never raise on a value of the wrong JSON type (validation reports it later).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def struct(obj: Any, key: str) -> dict[str, Any] | None:
    """A struct-typed field that exists as an object (a pointer that is set), else None."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    return value if isinstance(value, dict) else None


def ensure(obj: Any, key: str) -> dict[str, Any] | None:
    """A struct field Go always has (a value, or a pointer the defaulter allocates): created when absent or null.

    None when `obj` is not an object or the field holds another JSON type.
    """
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    if value is None:
        value = obj[key] = {}
    return value if isinstance(value, dict) else None


def structs(obj: Any, key: str) -> Iterator[dict[str, Any]]:
    """The object elements of a list field; elements of other types are skipped."""
    if not isinstance(obj, dict):
        return
    value = obj.get(key)
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def unset(obj: dict[str, Any], key: str) -> bool:
    """Go's nil pointer or nil slice/map: absent or null."""
    return obj.get(key) is None


def empty(obj: dict[str, Any], key: str) -> bool:
    """Go's zero value of a string, number or slice (what `if x == ""`, `== 0`, `len(x) == 0` test)."""
    value = obj.get(key)
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    return value in ("", 0) or value == [] or value == {}


def default(obj: Any, key: str, value: Any) -> None:
    """Set a pointer field that is nil."""
    if isinstance(obj, dict) and obj.get(key) is None:
        obj[key] = value


def default_zero(obj: Any, key: str, value: Any) -> None:
    """Set a non-pointer field that holds its zero value ("" / 0 / empty)."""
    if isinstance(obj, dict) and empty(obj, key):
        obj[key] = value

"""Turns the API's Python types into OpenAPI v3 schemas (for CRDs) and decodes JSON into them.

The dataclasses in `gardener.apis.*` are the one source of truth: CRD schemas are generated from
them and controllers read objects through them. Field names are the wire (camelCase) names.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, NewType, TypeVar, Union

#: A Kubernetes resource.Quantity: an integer or a string like "4Gi".
Quantity = NewType("Quantity", str)
#: An embedded provider-specific object, kept as it is (runtime.RawExtension).
RawExtension = NewType("RawExtension", dict)  # type: ignore[type-arg]
#: An RFC 3339 timestamp.
Time = NewType("Time", str)
#: An int or a percentage string, e.g. maxSurge.
IntOrString = NewType("IntOrString", str)

T = TypeVar("T")


JSON_NAME = "_json"


def doc(text: str, *, json_name: str | None = None, **extra: Any) -> dict[str, Any]:
    """Field metadata: the description, optional schema keywords (enum, pattern, minimum ...), and the
    wire name when it is a Python keyword (class)."""
    out: dict[str, Any] = {"description": text, **extra}
    if json_name:
        out[JSON_NAME] = json_name
    return out


def wire_name(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get(JSON_NAME, f.name))


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def schema_for(tp: Any) -> dict[str, Any]:
    tp, _ = _unwrap_optional(tp)
    if tp is Quantity or tp is IntOrString:
        return {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    if tp is RawExtension:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if tp is Time:
        return {"type": "string", "format": "date-time"}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer", "format": "int32"}
    if tp is float:
        return {"type": "number"}
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        return {"type": "array", "items": schema_for(item)}
    if origin is dict:
        _, value = typing.get_args(tp)
        return {"type": "object", "additionalProperties": schema_for(value)}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return object_schema(tp)
    raise TypeError(f"no schema for {tp!r}")


def object_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        prop = schema_for(hints[f.name])
        meta = {k: v for k, v in f.metadata.items() if k != JSON_NAME}
        if meta:
            prop = {**prop, **meta}
        name = wire_name(f)
        properties[name] = prop
        _, optional = _unwrap_optional(hints[f.name])
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default and not optional:
            required.append(name)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):
        out["description"] = " ".join(cls.__doc__.split())
    return out


def decode(cls: type[T], data: Any) -> T:
    """Build `cls` from JSON data, ignoring unknown fields; raises ValueError naming the bad path."""
    return typing.cast(T, _decode(cls, data, "")) if data is not None else cls()


def _decode(tp: Any, data: Any, path: str) -> Any:
    tp, optional = _unwrap_optional(tp)
    if data is None:
        if optional:
            return None
        raise ValueError(f"{path or '<root>'}: required value missing")
    if tp in (Quantity, IntOrString):
        return data
    if tp is RawExtension:
        return data
    if tp is Time or tp is str:
        if not isinstance(data, str):
            raise ValueError(f"{path}: expected a string")
        return data
    if tp is bool:
        if not isinstance(data, bool):
            raise ValueError(f"{path}: expected a boolean")
        return data
    if tp is int:
        if not isinstance(data, int) or isinstance(data, bool):
            raise ValueError(f"{path}: expected an integer")
        return data
    if tp is float:
        return float(data)
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list")
        return [_decode(item, v, f"{path}[{i}]") for i, v in enumerate(data)]
    if origin is dict:
        _, value = typing.get_args(tp)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected an object")
        return {k: _decode(value, v, f"{path}.{k}") for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected an object")
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            name = wire_name(f)
            if name in data:
                kwargs[f.name] = _decode(hints[f.name], data[name], f"{path}.{name}" if path else name)
        return tp(**kwargs)
    raise TypeError(f"cannot decode {tp!r}")


def encode(value: Any) -> Any:
    """The JSON form of a value built from these types, leaving out unset (None) fields."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if v is None:
                continue
            out[wire_name(f)] = encode(v)
        return out
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value

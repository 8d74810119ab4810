"""Object metadata rules shared by every resource: names, uids, timestamps, immutability."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gardener.apiserver.builtin.validation import formats
from gardener.apiserver.errors import FieldCause

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    """kube's SimpleNameGenerator: the prefix (cut to leave room) plus five random characters."""
    return prefix[:58] + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def is_dns_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1123_LABEL.match(value))


def is_dns_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.match(value))


def is_qualified_name(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or not is_dns_subdomain(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_QUALIFIED_NAME.match(name))


#: kube's ValidateNameFunc per rule: NameIsDNSSubdomain (most kinds), NameIsDNSLabel (namespaces),
#: NameIsDNS1035Label (services), ValidatePathSegmentName (RBAC objects)
_NAME_CHECKS: dict[str, Callable[[str], list[str]]] = {
    "subdomain": formats.dns1123_subdomain,
    "label": formats.dns1123_label,
    "dns1035": formats.dns1035_label,
    "path": formats.path_segment,
}


def validate_name(name: str, *, field: str, rule: str) -> list[FieldCause]:
    """One `Invalid value` cause per problem, worded as apimachinery's (examples and regex included)."""
    return formats.check(field, name, _NAME_CHECKS[rule](name))


def validate_object_meta(meta: Any, *, name_rule: str) -> list[FieldCause]:
    causes: list[FieldCause] = []
    if not isinstance(meta, dict):
        return [FieldCause("FieldValueInvalid", "Invalid value: must be an object", "metadata")]
    name = meta.get("name")
    if not name:
        causes.append(
            FieldCause("FieldValueRequired", "Required value: name or generateName is required", "metadata.name")
        )
    elif not isinstance(name, str):
        causes.append(FieldCause("FieldValueInvalid", "Invalid value: must be a string", "metadata.name"))
    else:
        causes += validate_name(name, field="metadata.name", rule=name_rule)
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, dict):
            causes.append(
                FieldCause("FieldValueInvalid", "Invalid value: must be a map of strings", f"metadata.{field}")
            )
            continue
        total = 0
        for k, v in value.items():
            if not is_qualified_name(k):
                causes.append(
                    FieldCause(
                        "FieldValueInvalid",
                        f"Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or "
                        "'.', and must start and end with an alphanumeric character",
                        f"metadata.{field}",
                    )
                )
            if not isinstance(v, str):
                causes.append(
                    FieldCause("FieldValueInvalid", "Invalid value: must be a string", f"metadata.{field}.{k}")
                )
                continue
            total += len(k) + len(v)
            if field == "labels" and (len(v) > 63 or not _LABEL_VALUE.match(v)):
                causes.append(
                    FieldCause(
                        "FieldValueInvalid",
                        f'Invalid value: "{v}": a valid label must be an empty string or consist of alphanumeric '
                        "characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                        "metadata.labels",
                    )
                )
        if field == "annotations" and total > 256 * 1024:
            causes.append(
                FieldCause("FieldValueTooLong", "Too long: must have at most 262144 bytes", "metadata.annotations")
            )
    finalizers = meta.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) and f for f in finalizers)
    ):
        causes.append(FieldCause("FieldValueInvalid", "Invalid value: must be a list of names", "metadata.finalizers"))
    owners = meta.get("ownerReferences")
    if owners is not None:
        if not isinstance(owners, list):
            causes.append(FieldCause("FieldValueInvalid", "Invalid value: must be a list", "metadata.ownerReferences"))
        else:
            for i, ref in enumerate(owners):
                for req in ("apiVersion", "kind", "name", "uid"):
                    if not isinstance(ref, dict) or not ref.get(req):
                        causes.append(
                            FieldCause("FieldValueRequired", "Required value", f"metadata.ownerReferences[{i}].{req}")
                        )
            if sum(1 for r in owners if isinstance(r, dict) and r.get("controller")) > 1:
                causes.append(
                    FieldCause(
                        "FieldValueInvalid",
                        "Invalid value: Only one reference can have Controller set to true",
                        "metadata.ownerReferences",
                    )
                )
    return causes


IMMUTABLE_META = ("uid", "creationTimestamp", "name", "namespace")


def without_volatile(obj: dict[str, Any]) -> dict[str, Any]:
    """The object minus fields that change on every write, to detect no-op writes."""
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    out = dict(obj)
    out["metadata"] = meta
    return out


def spec_part(obj: dict[str, Any], *, has_status: bool) -> dict[str, Any]:
    """Everything that counts towards `generation`: all but metadata and (with the subresource) status."""
    return {
        k: v
        for k, v in obj.items()
        if k not in ("metadata", "apiVersion", "kind") and not (has_status and k == "status")
    }


OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


def prune_unknown_metadata(obj: dict[str, Any]) -> list[str]:
    """Drop fields ObjectMeta does not have, returning their paths (kube's decoder does the same)."""
    m = obj.get("metadata")
    if not isinstance(m, dict):
        return []
    unknown = sorted(k for k in m if k not in OBJECT_META_FIELDS)
    for k in unknown:
        del m[k]
    return [f"metadata.{k}" for k in unknown]


class DecodeError(Exception):
    """A body whose JSON types do not fit the object's Go types: kube's decoder rejects it before anything else.

    Raised by the shape checks below and turned into kube's answer by the caller: 400 BadRequest for a request
    body, 422 Invalid on the field `patch` for the result of a patch.
    """


def json_type(value: Any) -> str:
    """The JSON type name Go's decoder puts in `cannot unmarshal <type> into ...`."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def unmarshal_error(value: Any, *, struct: str, path: str, go_type: str) -> DecodeError:
    """encoding/json's UnmarshalTypeError text, so clients see what kube-apiserver would have said."""
    got = json_type(value)
    if got == "number" and go_type in ("int64", "int32"):
        got = f"number {value}"
    return DecodeError(f"json: cannot unmarshal {got} into Go struct field {struct}.{path} of type {go_type}")


def is_int(value: Any, *, bits: int = 64) -> bool:
    """A JSON number that decodes into a Go int64 (or int32): integral, in range, not a bool."""
    limit = 1 << (bits - 1)
    return isinstance(value, int) and not isinstance(value, bool) and -limit <= value < limit


def decode_string_map(m: dict[str, Any], key: str, *, struct: str, path: str, value_type: str = "string") -> None:
    """A map[string]string field: an object of strings, where null means "" as when Go decodes it."""
    value = m.get(key)
    if value is None:
        m.pop(key, None)
        return
    if not isinstance(value, dict):
        raise unmarshal_error(value, struct=struct, path=path, go_type=f"map[string]{value_type}")
    for k, v in value.items():
        if v is None:
            value[k] = ""
        elif not isinstance(v, str):
            raise unmarshal_error(v, struct=struct, path=path, go_type=value_type)


_META_STRINGS = {
    "name": "string",
    "generateName": "string",
    "namespace": "string",
    "selfLink": "string",
    "uid": "types.UID",
    "resourceVersion": "string",
}
_OWNER_STRINGS = {"apiVersion": "string", "kind": "string", "name": "string", "uid": "types.UID"}
_MANAGED_STRINGS = {
    "manager": "string",
    "operation": "v1.ManagedFieldsOperationType",
    "apiVersion": "string",
    "time": "string",
    "fieldsType": "string",
    "subresource": "string",
}


def _decode_struct_list(
    m: dict[str, Any], key: str, *, struct: str, go_elem: str, strings: dict[str, str], bools: tuple[str, ...] = ()
) -> None:
    """A list of small structs (ownerReferences, managedFields): objects whose scalar fields have the right types."""
    items = m.get(key)
    if items is None:
        m.pop(key, None)
        return
    path = f"metadata.{key}"
    if not isinstance(items, list):
        raise unmarshal_error(items, struct="ObjectMeta", path=path, go_type=f"[]v1.{go_elem}")
    for item in items:
        if item is None:
            continue
        if not isinstance(item, dict):
            raise unmarshal_error(item, struct="ObjectMeta", path=path, go_type=f"v1.{go_elem}")
        for field, go_type in strings.items():
            value = item.get(field)
            if value is not None and not isinstance(value, str):
                raise unmarshal_error(value, struct=struct, path=f"{path}.{field}", go_type=go_type)
        for field in bools:
            value = item.get(field)
            if value is not None and not isinstance(value, bool):
                raise unmarshal_error(value, struct=struct, path=f"{path}.{field}", go_type="bool")
    m[key] = [{} if item is None else item for item in items]


def decode_object_meta(obj: dict[str, Any], *, kind: str) -> dict[str, Any]:
    """Check `obj["metadata"]` has ObjectMeta's JSON types, normalising nulls to Go's zero values.

    kube-apiserver decodes every body into its Go type first, so a name that is a number or labels that are a
    list never reach validation: the request fails with the decoder's message. Returns the metadata object
    (created when absent or null); raises DecodeError otherwise.
    """
    m = obj.get("metadata")
    if m is None:
        m = obj["metadata"] = {}
    if not isinstance(m, dict):
        raise unmarshal_error(m, struct=kind, path="metadata", go_type="v1.ObjectMeta")
    for key, go_type in _META_STRINGS.items():
        value = m.get(key)
        if value is None:
            m.pop(key, None)
        elif not isinstance(value, str):
            raise unmarshal_error(value, struct="ObjectMeta", path=f"metadata.{key}", go_type=go_type)
    for key in ("generation", "deletionGracePeriodSeconds"):
        value = m.get(key)
        if value is None:
            m.pop(key, None)
        elif not is_int(value):
            raise unmarshal_error(value, struct="ObjectMeta", path=f"metadata.{key}", go_type="int64")
    for key in ("creationTimestamp", "deletionTimestamp"):
        value = m.get(key)
        if value is None:
            m.pop(key, None)
        elif not isinstance(value, str):
            # metav1.Time decodes itself from a JSON string, hence Go's "Go value" wording here
            raise DecodeError(f"json: cannot unmarshal {json_type(value)} into Go value of type string")
    for key in ("labels", "annotations"):
        decode_string_map(m, key, struct="ObjectMeta", path=f"metadata.{key}")
    finalizers = m.get("finalizers")
    if finalizers is None:
        m.pop("finalizers", None)
    elif not isinstance(finalizers, list):
        raise unmarshal_error(finalizers, struct="ObjectMeta", path="metadata.finalizers", go_type="[]string")
    else:
        for f in finalizers:
            if f is not None and not isinstance(f, str):
                raise unmarshal_error(f, struct="ObjectMeta", path="metadata.finalizers", go_type="string")
        m["finalizers"] = ["" if f is None else f for f in finalizers]
    _decode_struct_list(
        m,
        "ownerReferences",
        struct="OwnerReference",
        go_elem="OwnerReference",
        strings=_OWNER_STRINGS,
        bools=("controller", "blockOwnerDeletion"),
    )
    _decode_struct_list(
        m, "managedFields", struct="ManagedFieldsEntry", go_elem="ManagedFieldsEntry", strings=_MANAGED_STRINGS
    )
    for entry in m.get("managedFields") or []:
        fields = entry.get("fieldsV1")
        if fields is not None and not isinstance(fields, dict):
            raise unmarshal_error(
                fields, struct="ManagedFieldsEntry", path="metadata.managedFields.fieldsV1", go_type="v1.FieldsV1"
            )
    return m


_UINT64_MAX = (1 << 64) - 1


def parse_resource_version(value: str, *, field: str = "resourceVersion") -> int:
    """kube's APIObjectVersioner.ParseResourceVersion: "" and "0" are 0, anything else a decimal uint64.

    Raises ValueError with kube's field error text (`resourceVersion: Invalid value: "abc": strconv.ParseUint:
    parsing "abc": invalid syntax`), for the caller to answer 400 with.
    """
    if value in ("", "0"):
        return 0
    problem = ""
    if not value.isascii() or not value.isdigit():
        problem = "invalid syntax"
    elif int(value) > _UINT64_MAX:
        problem = "value out of range"
    if problem:
        quoted = json_string(value)
        raise ValueError(f"{field}: Invalid value: {quoted}: strconv.ParseUint: parsing {quoted}: {problem}")
    return int(value)


def json_string(value: str) -> str:
    """A string quoted as Go's %q does for printable ASCII (JSON escaping is close enough for the rest)."""
    return json.dumps(value, ensure_ascii=False)

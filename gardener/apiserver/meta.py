"""Object metadata rules shared by every resource: names, uids, timestamps, immutability."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

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


def validate_name(name: str, *, field: str, rule: str) -> list[FieldCause]:
    """`rule` is "subdomain" (most kinds), "label" (namespaces, services) or "path" (RBAC objects)."""
    if rule == "path":
        if name in (".", "..") or "/" in name or "%" in name:
            return [FieldCause("FieldValueInvalid", f"Invalid value: \"{name}\": may not contain '/' or '%'", field)]
        return []
    ok = is_dns_label(name) if rule == "label" else is_dns_subdomain(name)
    if ok:
        return []
    what = "RFC 1123 label" if rule == "label" else "RFC 1123 subdomain"
    return [
        FieldCause(
            "FieldValueInvalid",
            f'Invalid value: "{name}": a lowercase {what} must consist of lower case alphanumeric characters, '
            "'-' or '.', and must start and end with an alphanumeric character",
            field,
        )
    ]


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

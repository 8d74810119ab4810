"""core/v1 kinds other than pods and services: ConfigMap, Secret, volumes and claims, quotas, controllers."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from gardener.apiserver.builtin.validation import formats, labels, pods, quantities
from gardener.apiserver.builtin.validation.fields import (
    Reader,
    duplicate,
    forbidden,
    immutable,
    invalid,
    nonnegative,
    not_supported,
    one_of,
    required,
    sub,
    too_long,
)
from gardener.apiserver.errors import FieldCause

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_MAX_DATA = 1024 * 1024
_IMMUTABLE_SET = "field is immutable when `immutable` is set"
_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
#: 1.32 (VolumeAttributesClass off by default)
_PVC_SPEC_FROZEN = "spec is immutable after creation except resources.requests for bound claims"
#: key a Secret of a type must hold
_SECRET_KEYS = {
    "kubernetes.io/dockercfg": ".dockercfg",
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
    "kubernetes.io/ssh-auth": "ssh-privatekey",
}


def config_key(key: str) -> list[str]:
    """IsConfigMapKey: the rules for keys of ConfigMap and Secret data."""
    out = []
    if len(key) > 253:
        out.append(formats.max_len(253))
    if not _CONFIG_KEY.match(key):
        out.append(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
            "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        )
    if key == ".":
        out.append("must not be '.'")
    elif key == "..":
        out.append("must not be '..'")
    elif key.startswith(".."):
        out.append("must not start with '..'")
    return out


def _immutable_data(r: Reader, obj: dict[str, Any], old: dict[str, Any] | None, keys: tuple[str, ...]) -> None:
    if old is None or old.get("immutable") is not True:
        return
    if obj.get("immutable") is not True:
        r.add([forbidden("immutable", _IMMUTABLE_SET)])
    for key in keys:
        if (obj.get(key) or {}) != (old.get(key) or {}):
            r.add([forbidden(key, _IMMUTABLE_SET)])


def validate_configmap(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    size = 0
    data = r.string_map(obj, "data", "data") or {}
    for key, value in data.items():
        r.add(formats.check(f"data[{key}]", key, config_key(key)))
        size += len(value.encode())
    for key, value in (r.string_map(obj, "binaryData", "binaryData") or {}).items():
        r.add(formats.check(f"binaryData[{key}]", key, config_key(key)))
        if key in data:
            r.add([invalid(f"binaryData[{key}]", key, "duplicate of key present in data")])
        size += len(value) * 3 // 4
    if size > _MAX_DATA:
        r.add([too_long("", _MAX_DATA)])
    _immutable_data(r, obj, old, ("data", "binaryData"))
    return r.causes


def validate_secret(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    data = r.string_map(obj, "data", "data") or {}
    size = 0
    for key, value in data.items():
        r.add(formats.check(f"data[{key}]", key, config_key(key)))
        try:
            size += len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            r.add([invalid(f"data[{key}]", "<secret contents redacted>", "illegal base64 data")])
    if size > _MAX_DATA:
        r.add([too_long("data", _MAX_DATA)])
    kind = r.text(obj, "type", "type")
    metadata = sub(obj, "metadata")
    annotations = sub(metadata, "annotations")
    if kind == "kubernetes.io/service-account-token" and not annotations.get("kubernetes.io/service-account.name"):
        r.add([required("metadata.annotations[kubernetes.io/service-account.name]")])
    if kind in _SECRET_KEYS and _SECRET_KEYS[kind] not in data:
        r.add([required(f"data[{_SECRET_KEYS[kind]}]")])
    if kind == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                r.add([required(f"data[{key}]")])
    if old is not None:
        if kind != old.get("type"):
            r.add([immutable("type", kind)])
        _immutable_data(r, obj, old, ("data",))
    return r.causes


def validate_namespace(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    for i, name in r.texts(spec, "finalizers", "spec.finalizers"):
        r.add(formats.check(f"spec.finalizers[{i}]", name, formats.qualified_name(name)))
    return r.causes


def validate_service_account(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    r.objects(obj, "secrets", "secrets")
    r.objects(obj, "imagePullSecrets", "imagePullSecrets")
    return r.causes


def _access_modes(r: Reader, spec: dict[str, Any]) -> None:
    modes = r.texts(spec, "accessModes", "spec.accessModes")
    if not modes:
        r.add([required("spec.accessModes", "at least 1 access mode is required")])
    for _, mode in modes:
        if mode not in _ACCESS_MODES:
            r.add([not_supported("spec.accessModes", mode, _ACCESS_MODES)])
    if "ReadWriteOncePod" in [m for _, m in modes] and len(modes) > 1:
        r.add([forbidden("spec.accessModes", "may not use ReadWriteOncePod with other access modes")])


def validate_pvc(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    _access_modes(r, spec)
    resources = r.obj(spec, "resources", "spec.resources") or {}
    requests = r.obj(resources, "requests", "spec.resources.requests") or {}
    if "storage" not in requests:
        r.add([required("spec.resources[storage]")])
    else:
        amount = quantities.parse(requests["storage"])
        if amount is None:
            r.add([invalid("spec.resources.requests[storage]", requests["storage"], quantities.QUANTITY_ERROR)])
        elif amount <= 0:
            r.add([invalid("spec.resources[storage]", str(requests["storage"]), "must be greater than zero")])
    one_of(r, spec, "volumeMode", "spec.volumeMode", ("Block", "Filesystem"), need=False)
    selector = r.obj(spec, "selector", "spec.selector")
    if selector is not None:
        labels.validate_selector(r, selector, "spec.selector")
    if old is not None:
        old_spec = sub(old, "spec")
        new_frozen = {k: v for k, v in spec.items() if k != "resources"}
        old_frozen = {k: v for k, v in old_spec.items() if k != "resources"}
        if not old_spec.get("volumeName"):
            old_frozen["volumeName"] = spec.get("volumeName")
            new_frozen["volumeName"] = spec.get("volumeName")
        new_requests = {k: v for k, v in resources.items() if k != "requests"}
        old_resources = sub(old_spec, "resources")
        old_requests = {k: v for k, v in old_resources.items() if k != "requests"}
        if new_frozen != old_frozen or new_requests != old_requests:
            r.add([forbidden("spec", _PVC_SPEC_FROZEN)])
    return r.causes


def validate_pv(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    _access_modes(r, spec)
    capacity = r.obj(spec, "capacity", "spec.capacity") or {}
    if "storage" not in capacity:
        r.add([required("spec.capacity")])
    for name, raw in capacity.items():
        if quantities.parse(raw) is None:
            r.add([invalid(f"spec.capacity[{name}]", raw, quantities.QUANTITY_ERROR)])
    one_of(
        r,
        spec,
        "persistentVolumeReclaimPolicy",
        "spec.persistentVolumeReclaimPolicy",
        ("Delete", "Recycle", "Retain"),
        need=True,
    )
    one_of(r, spec, "volumeMode", "spec.volumeMode", ("Block", "Filesystem"), need=False)
    meta_keys = {
        "accessModes",
        "capacity",
        "claimRef",
        "persistentVolumeReclaimPolicy",
        "storageClassName",
        "mountOptions",
        "volumeMode",
        "nodeAffinity",
        "volumeAttributesClassName",
    }
    if not any(k not in meta_keys and v is not None for k, v in spec.items()):
        r.add([required("spec", "must specify a volume type")])
    return r.causes


def validate_replicationcontroller(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    nonnegative(r, spec, "replicas", "spec.replicas")
    nonnegative(r, spec, "minReadySeconds", "spec.minReadySeconds")
    selector = r.string_map(spec, "selector", "spec.selector")
    if not selector:
        r.add([required("spec.selector")])
    else:
        r.add(labels.validate_labels(selector, "spec.selector"))
    template = r.obj(spec, "template", "spec.template")
    if template is None:
        r.add([required("spec.template")])
        return r.causes
    if selector and not labels.map_matches(selector, labels.template_labels(template)):
        r.add([labels.mismatch("spec.template.metadata.labels", template)])
    pods.validate_template(r, template, "spec.template")
    pods.replica_template(r, template, kind="ReplicationController")
    return r.causes


def validate_podtemplate(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    pods.validate_template(r, r.obj(obj, "template", "template"), "template")
    return r.causes


def _quantities(r: Reader, values: dict[str, Any], path: str) -> dict[str, Any]:
    parsed = {}
    for name, raw in values.items():
        amount = quantities.parse(raw)
        if amount is None:
            r.add([invalid(f"{path}[{name}]", raw, quantities.QUANTITY_ERROR)])
        elif amount < 0:
            r.add([invalid(f"{path}[{name}]", str(raw), "must be greater than or equal to 0")])
        else:
            parsed[name] = amount
    return parsed


def validate_limitrange(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    types: set[str] = set()
    for i, limit in r.objects(spec, "limits", "spec.limits"):
        at = f"spec.limits[{i}]"
        kind = one_of(r, limit, "type", f"{at}.type", ("Container", "PersistentVolumeClaim", "Pod"), need=True)
        if kind in types:
            r.add([duplicate(f"{at}.type", kind)])
        types.add(kind or "")
        found = {
            key: _quantities(r, r.obj(limit, key, f"{at}.{key}") or {}, f"{at}.{key}")
            for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
        }
        raw = {key: limit.get(key) or {} for key in found}
        for name, low in found["min"].items():
            high = found["max"].get(name)
            if high is not None and low > high:
                message = f"min value {raw['min'][name]} is greater than max value {raw['max'][name]}"
                r.add([invalid(f"{at}.min[{name}]", str(raw["min"][name]), message)])
    return r.causes


def validate_resourcequota(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    _quantities(r, r.obj(spec, "hard", "spec.hard") or {}, "spec.hard")
    scopes = (
        "BestEffort",
        "CrossNamespacePodAffinity",
        "NotBestEffort",
        "NotTerminating",
        "PriorityClass",
        "Terminating",
    )
    for _, scope in r.texts(spec, "scopes", "spec.scopes"):
        if scope not in scopes:
            r.add([not_supported("spec.scopes", scope, scopes)])
    return r.causes

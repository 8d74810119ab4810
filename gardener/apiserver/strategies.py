"""Per-kind rules of built-in resources: defaults on create, fields the server owns, validation.

Kept deliberately small: schemas of built-in kinds are looser than upstream, but what clients
rely on (Secret stringData, Namespace phase and finalizers, workload replicas) behaves as in
kube-apiserver.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gardener.apiserver import crdvalidation
from gardener.apiserver.errors import FieldCause

Hook = Callable[[dict[str, Any], dict[str, Any] | None], list[FieldCause]]


@dataclass(frozen=True)
class Strategy:
    #: mutate `obj` (old is None on create); return problems found
    prepare: Hook | None = None
    #: how names are checked: "subdomain", "label" or "path" (see meta.validate_name)
    name_rule: str = "subdomain"


def _secret(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    causes: list[FieldCause] = []
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data is not None:
        if not isinstance(string_data, dict):
            return [FieldCause("FieldValueInvalid", "Invalid value: must be a map of strings", "stringData")]
        data = obj.setdefault("data", {}) or {}
        obj["data"] = data
        for k, v in string_data.items():
            if not isinstance(v, str):
                causes.append(FieldCause("FieldValueInvalid", "Invalid value: must be a string", f"stringData[{k}]"))
                continue
            data[k] = base64.b64encode(v.encode()).decode()
    for k, v in (obj.get("data") or {}).items():
        try:
            base64.b64decode(v, validate=True)
        except (ValueError, TypeError):
            causes.append(FieldCause("FieldValueInvalid", "Invalid value: must be base64-encoded", f"data[{k}]"))
    if old is not None and old.get("type", "Opaque") != obj.get("type"):
        causes.append(FieldCause("FieldValueInvalid", "Invalid value: field is immutable", "type"))
    if old is not None and old.get("immutable") and (old.get("data") != obj.get("data")):
        causes.append(
            FieldCause("FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", "data")
        )
    return causes


def _configmap(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    causes: list[FieldCause] = []
    for field in ("data", "binaryData"):
        value = obj.get(field)
        if value is not None and not isinstance(value, dict):
            causes.append(FieldCause("FieldValueInvalid", "Invalid value: must be a map", field))
    if old is not None and old.get("immutable") and old.get("data") != obj.get("data"):
        causes.append(
            FieldCause("FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", "data")
        )
    return causes


def _namespace(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    if old is None:
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    return []


def _workload(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return [FieldCause("FieldValueInvalid", "Invalid value: must be an object", "spec")]
    spec.setdefault("replicas", 1)
    replicas = spec.get("replicas")
    causes: list[FieldCause] = []
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        causes.append(
            FieldCause(
                "FieldValueInvalid", f"Invalid value: {replicas!r}: must be greater than or equal to 0", "spec.replicas"
            )
        )
    if "selector" not in spec:
        causes.append(FieldCause("FieldValueRequired", "Required value", "spec.selector"))
    return causes


def _service(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    spec = obj.setdefault("spec", {})
    causes: list[FieldCause] = []
    spec.setdefault("type", "ClusterIP")
    if spec["type"] not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        causes.append(
            FieldCause(
                "FieldValueNotSupported",
                f'Unsupported value: "{spec["type"]}": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
                '"NodePort"',
                "spec.type",
            )
        )
    for i, port in enumerate(spec.get("ports") or []):
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            if not isinstance(port.get("port"), int):
                causes.append(FieldCause("FieldValueRequired", "Required value", f"spec.ports[{i}].port"))
    if old is not None and old.get("spec", {}).get("clusterIP"):
        spec.setdefault("clusterIP", old["spec"]["clusterIP"])
        if spec.get("clusterIP") != old["spec"]["clusterIP"]:
            causes.append(FieldCause("FieldValueInvalid", "Invalid value: field is immutable", "spec.clusterIP"))
    ip = spec.get("clusterIP")
    if ip and ip != "None":
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            causes.append(
                FieldCause("FieldValueInvalid", f'Invalid value: "{ip}": must be a valid IP address', "spec.clusterIP")
            )
    return causes


def _pod(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
        return [FieldCause("FieldValueRequired", "Required value", "spec.containers")]
    if old is None:
        obj.setdefault("status", {"phase": "Pending"})
    return []


def _crd(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    crdvalidation.default_crd(obj)
    causes = crdvalidation.validate_crd(obj)
    if old is not None:
        for field in ("group", "scope"):
            if (old.get("spec") or {}).get(field) != (obj.get("spec") or {}).get(field):
                causes.append(FieldCause("FieldValueInvalid", "Invalid value: field is immutable", f"spec.{field}"))
    return causes


STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "Secret"): Strategy(prepare=_secret),
    ("", "ConfigMap"): Strategy(prepare=_configmap),
    ("", "Namespace"): Strategy(prepare=_namespace, name_rule="label"),
    ("", "Service"): Strategy(prepare=_service, name_rule="label"),
    ("", "Pod"): Strategy(prepare=_pod),
    ("apps", "Deployment"): Strategy(prepare=_workload),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): Strategy(prepare=_crd),
    ("rbac.authorization.k8s.io", "Role"): Strategy(name_rule="path"),
    ("rbac.authorization.k8s.io", "ClusterRole"): Strategy(name_rule="path"),
    ("rbac.authorization.k8s.io", "RoleBinding"): Strategy(name_rule="path"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): Strategy(name_rule="path"),
    ("apps", "StatefulSet"): Strategy(prepare=_workload),
    ("apps", "ReplicaSet"): Strategy(prepare=_workload),
}

DEFAULT = Strategy()


def strategy_for(group: str, kind: str) -> Strategy:
    return STRATEGIES.get((group, kind), DEFAULT)

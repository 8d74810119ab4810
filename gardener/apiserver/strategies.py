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

from gardener.apiserver import crdvalidation, openapi
from gardener.apiserver.errors import FieldCause
from gardener.apiserver.meta import decode_string_map, is_int, unmarshal_error

Hook = Callable[[dict[str, Any], dict[str, Any] | None], list[FieldCause]]
#: raise meta.DecodeError where kube's decoder would fail on the body's JSON types
Shape = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Strategy:
    #: mutate `obj` (old is None on create); return problems found
    prepare: Hook | None = None
    #: how names are checked: "subdomain", "label" or "path" (see meta.validate_name)
    name_rule: str = "subdomain"
    #: JSON types of the fields `prepare` reads, checked before it runs (see decode_shape)
    shape: Shape | None = None


def _object(obj: dict[str, Any], key: str, *, struct: str, go_type: str, path: str = "") -> dict[str, Any] | None:
    """A struct-typed field: an object, or absent (null decodes to the zero value, so it is dropped)."""
    value = obj.get(key)
    if value is None:
        obj.pop(key, None)
        return None
    if not isinstance(value, dict):
        raise unmarshal_error(value, struct=struct, path=path or key, go_type=go_type)
    return value


def _scalar(obj: dict[str, Any], key: str, *, struct: str, path: str, go_type: str, json: str = "string") -> None:
    """A scalar field whose JSON type is `json` ("string", "bool" or "int32"); null drops it."""
    value = obj.get(key)
    if value is None:
        obj.pop(key, None)
        return
    if json == "bool":
        ok = isinstance(value, bool)
    elif json == "int32":
        ok = is_int(value, bits=32)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise unmarshal_error(value, struct=struct, path=path, go_type=go_type)


def _list_of(obj: dict[str, Any], key: str, *, struct: str, path: str, go_elem: str, objects: bool) -> list[Any] | None:
    value = obj.get(key)
    if value is None:
        obj.pop(key, None)
        return None
    if not isinstance(value, list):
        raise unmarshal_error(value, struct=struct, path=path, go_type=f"[]{go_elem}")
    for item in value:
        if item is not None and not isinstance(item, dict if objects else str):
            raise unmarshal_error(item, struct=struct, path=path, go_type=go_elem)
    return value


def _secret_shape(obj: dict[str, Any]) -> None:
    decode_string_map(obj, "data", struct="Secret", path="data", value_type="[]uint8")
    decode_string_map(obj, "stringData", struct="Secret", path="stringData")
    _scalar(obj, "type", struct="Secret", path="type", go_type="v1.SecretType")
    _scalar(obj, "immutable", struct="Secret", path="immutable", go_type="bool", json="bool")


def _configmap_shape(obj: dict[str, Any]) -> None:
    decode_string_map(obj, "data", struct="ConfigMap", path="data")
    decode_string_map(obj, "binaryData", struct="ConfigMap", path="binaryData", value_type="[]uint8")
    _scalar(obj, "immutable", struct="ConfigMap", path="immutable", go_type="bool", json="bool")


def _namespace_shape(obj: dict[str, Any]) -> None:
    spec = _object(obj, "spec", struct="Namespace", go_type="v1.NamespaceSpec")
    if spec is not None:
        _list_of(
            spec,
            "finalizers",
            struct="NamespaceSpec",
            path="spec.finalizers",
            go_elem="v1.FinalizerName",
            objects=False,
        )
    status = _object(obj, "status", struct="Namespace", go_type="v1.NamespaceStatus")
    if status is not None:
        _scalar(status, "phase", struct="NamespaceStatus", path="status.phase", go_type="v1.NamespacePhase")


def _service_shape(obj: dict[str, Any]) -> None:
    spec = _object(obj, "spec", struct="Service", go_type="v1.ServiceSpec")
    if spec is None:
        return
    _scalar(spec, "type", struct="ServiceSpec", path="spec.type", go_type="v1.ServiceType")
    _scalar(spec, "clusterIP", struct="ServiceSpec", path="spec.clusterIP", go_type="string")
    for port in (
        _list_of(spec, "ports", struct="ServiceSpec", path="spec.ports", go_elem="v1.ServicePort", objects=True) or []
    ):
        if port is not None:
            _scalar(port, "port", struct="ServicePort", path="spec.ports.port", go_type="int32", json="int32")


def _pod_shape(obj: dict[str, Any]) -> None:
    spec = _object(obj, "spec", struct="Pod", go_type="v1.PodSpec")
    if spec is not None:
        _list_of(spec, "containers", struct="PodSpec", path="spec.containers", go_elem="v1.Container", objects=True)


def _workload_shape(kind: str) -> Shape:
    def shape(obj: dict[str, Any]) -> None:
        spec = _object(obj, "spec", struct=kind, go_type=f"v1.{kind}Spec")
        if spec is not None:
            _scalar(spec, "replicas", struct=f"{kind}Spec", path="spec.replicas", go_type="int32", json="int32")
            _object(spec, "selector", struct=f"{kind}Spec", go_type="v1.LabelSelector", path="spec.selector")

    return shape


def _lists_and_structs(kind: str, *, lists: dict[str, str], structs: dict[str, str] | None = None) -> Shape:
    """Top-level lists of structs and structs of a kind the server's own controllers read (RBAC, webhooks)."""

    def shape(obj: dict[str, Any]) -> None:
        for key, go_elem in lists.items():
            _list_of(obj, key, struct=kind, path=key, go_elem=go_elem, objects=True)
        for key, go_type in (structs or {}).items():
            _object(obj, key, struct=kind, go_type=go_type)

    return shape


def decode_shape(*, group: str, version: str, kind: str, obj: dict[str, Any]) -> None:
    """The JSON types of a built-in kind's fields, as kube's decoder enforces them before any other check.

    spec and status are structs in every built-in kind that has them; kinds with a strategy also check the
    fields their strategy reads, so `prepare` never meets a string where it expects a map.
    Raises meta.DecodeError.
    """
    known = openapi.builtin_fields(group, kind)
    for key in ("spec", "status"):
        if known is None or key in known:
            _object(obj, key, struct=kind, go_type=f"{version}.{kind}{key.capitalize()}")
    strategy = STRATEGIES.get((group, kind))
    if strategy is not None and strategy.shape is not None:
        strategy.shape(obj)


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
        name = obj["metadata"].get("name")
        if name:  # without one, validation answers "name or generateName is required"
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
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
    ("", "Secret"): Strategy(prepare=_secret, shape=_secret_shape),
    ("", "ConfigMap"): Strategy(prepare=_configmap, shape=_configmap_shape),
    ("", "Namespace"): Strategy(prepare=_namespace, name_rule="label", shape=_namespace_shape),
    ("", "Service"): Strategy(prepare=_service, name_rule="label", shape=_service_shape),
    ("", "Pod"): Strategy(prepare=_pod, shape=_pod_shape),
    ("apps", "Deployment"): Strategy(prepare=_workload, shape=_workload_shape("Deployment")),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): Strategy(prepare=_crd),
    ("rbac.authorization.k8s.io", "Role"): Strategy(
        name_rule="path", shape=_lists_and_structs("Role", lists={"rules": "v1.PolicyRule"})
    ),
    ("rbac.authorization.k8s.io", "ClusterRole"): Strategy(
        name_rule="path",
        shape=_lists_and_structs(
            "ClusterRole", lists={"rules": "v1.PolicyRule"}, structs={"aggregationRule": "v1.AggregationRule"}
        ),
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): Strategy(
        name_rule="path",
        shape=_lists_and_structs("RoleBinding", lists={"subjects": "v1.Subject"}, structs={"roleRef": "v1.RoleRef"}),
    ),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): Strategy(
        name_rule="path",
        shape=_lists_and_structs(
            "ClusterRoleBinding", lists={"subjects": "v1.Subject"}, structs={"roleRef": "v1.RoleRef"}
        ),
    ),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): Strategy(
        shape=_lists_and_structs("ValidatingWebhookConfiguration", lists={"webhooks": "v1.ValidatingWebhook"})
    ),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): Strategy(
        shape=_lists_and_structs("MutatingWebhookConfiguration", lists={"webhooks": "v1.MutatingWebhook"})
    ),
    ("", "ServiceAccount"): Strategy(
        shape=_lists_and_structs(
            "ServiceAccount", lists={"secrets": "v1.ObjectReference", "imagePullSecrets": "v1.LocalObjectReference"}
        )
    ),
    ("", "Endpoints"): Strategy(shape=_lists_and_structs("Endpoints", lists={"subsets": "v1.EndpointSubset"})),
    ("apps", "StatefulSet"): Strategy(prepare=_workload, shape=_workload_shape("StatefulSet")),
    ("apps", "ReplicaSet"): Strategy(prepare=_workload, shape=_workload_shape("ReplicaSet")),
}

DEFAULT = Strategy()


def strategy_for(group: str, kind: str) -> Strategy:
    return STRATEGIES.get((group, kind), DEFAULT)

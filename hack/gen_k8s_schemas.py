"""Generate gardener/apiserver/builtin/k8s-1.32.json.gz: the built-in kinds' schemas and resources of Kubernetes 1.32.

The machine-readable source is the `kubernetes` Python client 32.0.1 (generated from upstream's release-1.32 OpenAPI
document), which `make` unpacks under .venv/share (the runtime's installed client is newer). Its ~700 model modules
are read as source with `ast`, never imported: per model the JSON field names and client types (`attribute_map`,
`openapi_types`), each field's description (the property getter's docstring) and the required fields (assigned in
`__init__` without a `None` guard). The API modules' `call_api(...)` calls give every path upstream serves with its
method and response type, hence each resource's group, version, plural, kind, scope, verbs and subresources, and the
group-version-kind of every top-level model.

The client flattens a few upstream types (IntOrString and RawExtension become `object`, Quantity and bytes `str`,
Time and MicroTime `datetime`, int32 and int64 `int`); the small tables below restore upstream's definitions for
them. Output is deterministic (sorted keys, gzip without name or time), so a unit test can regenerate it and compare
bytes.

Usage: python hack/gen_k8s_schemas.py [--output PATH] [--source KUBERNETES_PACKAGE_DIR]
"""

from __future__ import annotations

import argparse
import ast
import gzip
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "gardener" / "apiserver" / "builtin" / "k8s-1.32.json.gz"
RELEASE = "release-1.32"
#: where `make` unpacks the 1.32 client (the installed runtime client is newer and describes another release)
DEFAULT_SOURCE = Path(__file__).resolve().parent.parent / ".venv" / "share" / "kubernetes-client-32.0.1" / "kubernetes"

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
TIME = f"{META}.Time"
MICRO_TIME = f"{META}.MicroTime"
FIELDS_V1 = f"{META}.FieldsV1"
JSON_ = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON"

#: group -> definition package (upstream's Go package path, reversed domain)
_SPECIAL_PACKAGES = {
    "": "io.k8s.api.core",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
    "internal.apiserver.k8s.io": "io.k8s.api.apiserverinternal",
    "flowcontrol.apiserver.k8s.io": "io.k8s.api.flowcontrol",
    "storagemigration.k8s.io": "io.k8s.api.storagemigration",
}
#: the client's prefix on model names that exist in several groups (CoreV1Event, EventsV1Event, ...)
_PREFIX_PACKAGES = {
    "Admissionregistration": "io.k8s.api.admissionregistration",
    "Apiextensions": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "Apiregistration": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
    "Authentication": "io.k8s.api.authentication",
    "Core": "io.k8s.api.core",
    "Discovery": "io.k8s.api.discovery",
    "Events": "io.k8s.api.events",
    "Flowcontrol": "io.k8s.api.flowcontrol",
    "Rbac": "io.k8s.api.rbac",
    "Resource": "io.k8s.api.resource",
    "Storage": "io.k8s.api.storage",
    "Storagemigration": "io.k8s.api.storagemigration",
}

#: apimachinery's meta/v1 types (every group uses them; they belong to none)
_META_KINDS = frozenset(
    {
        "APIGroup",
        "APIGroupList",
        "APIResource",
        "APIResourceList",
        "APIVersions",
        "Condition",
        "DeleteOptions",
        "FieldSelectorRequirement",
        "GroupVersionForDiscovery",
        "LabelSelector",
        "LabelSelectorRequirement",
        "ListMeta",
        "ManagedFieldsEntry",
        "ObjectMeta",
        "OwnerReference",
        "Preconditions",
        "ServerAddressByClientCIDR",
        "Status",
        "StatusCause",
        "StatusDetails",
        "WatchEvent",
    }
)

#: core/v1 types that only other groups' kinds reach (so reachability alone would misplace them)
_CORE_KINDS = frozenset(
    {
        "ModifyVolumeStatus",
        "NodeSelector",
        "NodeSelectorRequirement",
        "NodeSelectorTerm",
        "ObjectReference",
        "PersistentVolumeSpec",
        "ResourceRequirements",
        "TopologySelectorLabelRequirement",
        "TopologySelectorTerm",
        "TypedLocalObjectReference",
        "TypedObjectReference",
    }
)

#: kinds of subresource bodies and of the API's own answers: upstream tags them with a GVK too
_EXTRA_GVK = {
    "AuthenticationV1TokenRequest": ("authentication.k8s.io", "v1", "TokenRequest"),
    "V1APIGroup": ("", "v1", "APIGroup"),
    "V1APIGroupList": ("", "v1", "APIGroupList"),
    "V1APIResourceList": ("", "v1", "APIResourceList"),
    "V1APIVersions": ("", "v1", "APIVersions"),
    "V1Eviction": ("policy", "v1", "Eviction"),
    "V1Scale": ("autoscaling", "v1", "Scale"),
    "V1Status": ("", "v1", "Status"),
}
#: meta kinds every group-version serves (with the GVK of each)
_EVERY_GROUP_VERSION = ("V1DeleteOptions", "V1WatchEvent")

#: model -> package for the few reached by no served path of their own group (sent in a subresource body)
_KIND_PACKAGES = {
    "V1Eviction": "io.k8s.api.policy",
    "V1Scale": "io.k8s.api.autoscaling",
    "V1Binding": "io.k8s.api.core",
    "VersionInfo": "io.k8s.apimachinery.pkg.version",
}

#: "<Kind>.<field>" of integer fields that upstream declares int64 (the client says `int` for both widths;
#: int32 is upstream's common case). Kind is the definition's short name, shared across versions.
_INT64 = frozenset(
    {
        "Condition.observedGeneration",
        "ContainerImage.sizeBytes",
        "ControllerRevision.revision",
        "CronJobSpec.startingDeadlineSeconds",
        "DaemonSetStatus.observedGeneration",
        "DeleteOptions.gracePeriodSeconds",
        "DeploymentStatus.observedGeneration",
        "DeviceAttribute.int",
        "DeviceRequest.count",
        "HorizontalPodAutoscalerStatus.observedGeneration",
        "JSONSchemaProps.maxItems",
        "JSONSchemaProps.maxLength",
        "JSONSchemaProps.maxProperties",
        "JSONSchemaProps.minItems",
        "JSONSchemaProps.minLength",
        "JSONSchemaProps.minProperties",
        "JobSpec.activeDeadlineSeconds",
        "LinuxContainerUser.gid",
        "LinuxContainerUser.supplementalGroups",
        "LinuxContainerUser.uid",
        "ListMeta.remainingItemCount",
        "ObjectMeta.deletionGracePeriodSeconds",
        "ObjectMeta.generation",
        "PodDisruptionBudgetStatus.observedGeneration",
        "PodSecurityContext.fsGroup",
        "PodSecurityContext.runAsGroup",
        "PodSecurityContext.runAsUser",
        "PodSecurityContext.supplementalGroups",
        "PodSpec.activeDeadlineSeconds",
        "PodSpec.terminationGracePeriodSeconds",
        "Probe.terminationGracePeriodSeconds",
        "ReplicaSetStatus.observedGeneration",
        "ReplicationControllerStatus.observedGeneration",
        "ResourcePool.generation",
        "ResourcePool.resourceSliceCount",
        "SecurityContext.runAsGroup",
        "SecurityContext.runAsUser",
        "ServiceAccountTokenProjection.expirationSeconds",
        "SleepAction.seconds",
        "StatefulSetStatus.observedGeneration",
        "StorageVersionCondition.observedGeneration",
        "Toleration.tolerationSeconds",
        "TokenRequest.expirationSeconds",
        "TokenRequestSpec.expirationSeconds",
        "ValidatingAdmissionPolicyStatus.observedGeneration",
    }
)

#: Quantity fields (the client says `str`, or `dict(str, str)` for resource lists)
_QUANTITY_FIELDS = frozenset(
    {
        "BasicDevice.capacity",
        "CSIStorageCapacity.capacity",
        "CSIStorageCapacity.maximumVolumeSize",
        "ContainerStatus.allocatedResources",
        "DeviceCapacity.value",
        "EmptyDirVolumeSource.sizeLimit",
        "LimitRangeItem.default",
        "LimitRangeItem.defaultRequest",
        "LimitRangeItem.max",
        "LimitRangeItem.maxLimitRequestRatio",
        "LimitRangeItem.min",
        "MetricTarget.averageValue",
        "MetricTarget.value",
        "MetricValueStatus.averageValue",
        "MetricValueStatus.value",
        "NodeStatus.allocatable",
        "NodeStatus.capacity",
        "Overhead.podFixed",
        "PersistentVolumeClaimStatus.allocatedResources",
        "PersistentVolumeClaimStatus.capacity",
        "PersistentVolumeSpec.capacity",
        "PodSpec.overhead",
        "ResourceFieldSelector.divisor",
        "ResourceQuotaSpec.hard",
        "ResourceQuotaStatus.hard",
        "ResourceQuotaStatus.used",
        "ResourceRequirements.limits",
        "ResourceRequirements.requests",
        "VolumeResourceRequirements.limits",
        "VolumeResourceRequirements.requests",
    }
)
#: IntOrString fields (the client says `object`)
_INT_OR_STRING_FIELDS = frozenset(
    {
        "HTTPGetAction.port",
        "NetworkPolicyPort.port",
        "PodDisruptionBudgetSpec.maxUnavailable",
        "PodDisruptionBudgetSpec.minAvailable",
        "RollingUpdateDaemonSet.maxSurge",
        "RollingUpdateDaemonSet.maxUnavailable",
        "RollingUpdateDeployment.maxSurge",
        "RollingUpdateDeployment.maxUnavailable",
        "RollingUpdateStatefulSetStrategy.maxUnavailable",
        "ServicePort.targetPort",
        "TCPSocketAction.port",
    }
)
#: RawExtension fields: an embedded object of any kind (the client says `object`)
_RAW_EXTENSION_FIELDS = frozenset(
    {
        "AllocatedDeviceStatus.data",
        "ControllerRevision.data",
        "OpaqueDeviceConfiguration.parameters",
        "WatchEvent.object",
    }
)
#: []byte fields, base64 strings on the wire (the client says `str`)
_BYTES_FIELDS = frozenset(
    {
        "APIServiceSpec.caBundle",
        "CertificateSigningRequestSpec.request",
        "CertificateSigningRequestStatus.certificate",
        "ConfigMap.binaryData",
        "Secret.data",
        "WebhookClientConfig.caBundle",
    }
)
_APIEXTENSIONS = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"
#: "<Kind>.<field>" -> upstream definition, for the fields the client flattens to `object` or `str`
_FIELD_REFS: dict[str, str] = {
    "CustomResourceSubresources.status": f"{_APIEXTENSIONS}.CustomResourceSubresourceStatus",
    "JSONSchemaProps.additionalItems": f"{_APIEXTENSIONS}.JSONSchemaPropsOrBool",
    "JSONSchemaProps.additionalProperties": f"{_APIEXTENSIONS}.JSONSchemaPropsOrBool",
    "JSONSchemaProps.default": JSON_,
    "JSONSchemaProps.dependencies": f"{_APIEXTENSIONS}.JSONSchemaPropsOrStringArray",
    "JSONSchemaProps.enum": JSON_,
    "JSONSchemaProps.example": JSON_,
    "JSONSchemaProps.items": f"{_APIEXTENSIONS}.JSONSchemaPropsOrArray",
    "ManagedFieldsEntry.fieldsV1": FIELDS_V1,
    "StorageVersion.spec": "io.k8s.api.apiserverinternal.v1alpha1.StorageVersionSpec",
    **dict.fromkeys(_QUANTITY_FIELDS, QUANTITY),
    **dict.fromkeys(_INT_OR_STRING_FIELDS, INT_OR_STRING),
    **dict.fromkeys(_RAW_EXTENSION_FIELDS, RAW_EXTENSION),
}

#: `datetime` fields that are MicroTime upstream (the rest are Time)
_MICRO_TIME = frozenset(
    {
        "Event.eventTime",
        "EventSeries.lastObservedTime",
        "LeaseCandidateSpec.pingTime",
        "LeaseCandidateSpec.renewTime",
        "LeaseSpec.acquireTime",
        "LeaseSpec.renewTime",
    }
)

#: string-ish definitions upstream keeps separately; kubectl explain names their types
_SCALARS: dict[str, dict[str, Any]] = {
    QUANTITY: {"type": "string"},
    INT_OR_STRING: {"format": "int-or-string", "type": "string"},
    TIME: {"format": "date-time", "type": "string"},
    MICRO_TIME: {"format": "date-time", "type": "string"},
    FIELDS_V1: {"type": "object"},
    RAW_EXTENSION: {"type": "object"},
    JSON_: {},
    f"{_APIEXTENSIONS}.CustomResourceSubresourceStatus": {"type": "object"},
    f"{_APIEXTENSIONS}.JSONSchemaPropsOrArray": {},
    f"{_APIEXTENSIONS}.JSONSchemaPropsOrBool": {},
    f"{_APIEXTENSIONS}.JSONSchemaPropsOrStringArray": {},
    "io.k8s.api.apiserverinternal.v1alpha1.StorageVersionSpec": {"type": "object"},
}


# --------------------------------------------------------------------------------------------------
# Reading the client's source
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    json_name: str
    client_type: str
    description: str
    required: bool


@dataclass(frozen=True)
class Model:
    class_name: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Call:
    path: str
    method: str
    response_type: str
    function: str
    params: tuple[str, ...]


def _literal_dict(node: ast.AST) -> dict[str, str]:
    value = ast.literal_eval(node)
    if not isinstance(value, dict):
        raise ValueError("expected a dict literal")
    return {str(k): str(v) for k, v in value.items()}


def _docstring_middle(doc: str) -> str:
    """The description paragraph of a generated getter docstring (between the summary and `:return:`)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", doc.strip())]
    middle = [p for p in paragraphs[1:] if not p.startswith(":")]
    text = "\n\n".join(middle)
    return "\n".join(line.strip().removesuffix("# noqa: E501").rstrip() for line in text.splitlines())


def read_model(path: Path) -> Model | None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    if len(classes) != 1:
        return None
    cls = classes[0]
    types: dict[str, str] = {}
    names: dict[str, str] = {}
    docs: dict[str, str] = {}
    required: set[str] = set()
    for node in cls.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == "openapi_types":
                types = _literal_dict(node.value)
            elif node.targets[0].id == "attribute_map":
                names = _literal_dict(node.value)
        elif isinstance(node, ast.FunctionDef):
            if node.name == "__init__":
                required = _unguarded_assignments(node)
            elif any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list):
                docs[node.name] = _docstring_middle(ast.get_docstring(node, clean=True) or "")
    if not names and not types:
        return Model(class_name=cls.name, fields=())
    fields = tuple(
        Field(json_name=names[attr], client_type=types[attr], description=docs.get(attr, ""), required=attr in required)
        for attr in types
    )
    return Model(class_name=cls.name, fields=fields)


def _unguarded_assignments(init: ast.FunctionDef) -> set[str]:
    """`self.x = x` statements at the top level of __init__ (an `if x is not None:` guard marks optional ones)."""
    out: set[str] = set()
    for stmt in init.body:
        if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
            continue
        target = stmt.targets[0]
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
            and not target.attr.startswith("_")
            and isinstance(stmt.value, ast.Name)
            and stmt.value.id == target.attr
        ):
            out.add(target.attr)
    return out


def read_calls(path: Path) -> Iterator[Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            params: tuple[str, ...] = ()
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id == "all_params"
                    and isinstance(node.value, ast.List)
                ):
                    params = tuple(str(ast.literal_eval(e)) for e in node.value.elts)
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "call_api"
                    and len(node.args) >= 2
                ):
                    response = next((k.value for k in node.keywords if k.arg == "response_type"), None)
                    yield Call(
                        path=str(ast.literal_eval(node.args[0])),
                        method=str(ast.literal_eval(node.args[1])),
                        response_type=str(ast.literal_eval(response)) if response is not None else "",
                        function=fn.name.removesuffix("_with_http_info"),
                        params=params,
                    )


# --------------------------------------------------------------------------------------------------
# Resources from the API paths
# --------------------------------------------------------------------------------------------------

_RESOURCE_PATH = re.compile(
    r"^/(?:api/(?P<core>v[^/]+)|apis/(?P<group>[^/]+)/(?P<version>v[^/]+))"
    r"(?P<ns>/namespaces/\{namespace\})?/(?P<plural>[a-z0-9]+)(?P<item>/\{name\})?(?:/(?P<sub>[a-z]+))?$"
)
_FUNCTION_VERBS = (
    ("delete_collection_", "deletecollection"),
    ("create_", "create"),
    ("delete_", "delete"),
    ("list_", "list"),
    ("patch_", "patch"),
    ("read_", "get"),
    ("replace_", "update"),
    ("connect_", "connect"),
)


def _verb(call: Call) -> str:
    for prefix, verb in _FUNCTION_VERBS:
        if call.function.startswith(prefix):
            return verb
    return ""


def resources(calls: list[Call]) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str, str]]]:
    """Served resources, and model class -> (group, version, kind) of each resource's kind and list kind."""
    table: dict[tuple[str, str, str], dict[str, Any]] = {}
    gvk: dict[str, tuple[str, str, str]] = {}
    for call in calls:
        m = _RESOURCE_PATH.match(call.path)
        verb = _verb(call)
        if m is None or not verb:
            continue
        group = m["group"] or ""
        version = m["core"] or m["version"]
        entry = table.setdefault(
            (group, version, m["plural"]),
            {
                "group": group,
                "version": version,
                "plural": m["plural"],
                "namespaced": False,
                "kind": "",
                "verbs": set(),
            },
        )
        if m["ns"]:
            entry["namespaced"] = True
        if m["sub"]:
            sub = entry.setdefault("subresources", {}).setdefault(m["sub"], {"verbs": set(), "model": ""})
            sub["verbs"].add(verb)
            if call.response_type not in ("", "str", "object", "V1Status"):
                sub["model"] = call.response_type
            continue
        entry["verbs"].add(verb)
        if verb == "list" and "watch" in call.params:
            entry["verbs"].add("watch")
        if not call.response_type or call.response_type in ("V1Status", "object", "str"):
            continue
        if verb == "list":
            entry["list_model"] = call.response_type
        else:
            entry["model"] = call.response_type
    served = []
    for (group, version, _), entry in sorted(table.items()):
        model = entry.pop("model", "")
        list_model = entry.pop("list_model", "")
        kind = _kind_of(model) if model else _kind_of(list_model).removesuffix("List")
        if not kind:
            continue
        entry["kind"] = kind
        entry["model"] = model or list_model.removesuffix("List")
        if model:
            gvk[model] = (group, version, kind)
        if list_model:
            gvk[list_model] = (group, version, f"{kind}List")
        entry["verbs"] = sorted(entry["verbs"])
        subs = entry.pop("subresources", {})
        if subs:
            entry["subresources"] = {
                name: {"verbs": sorted(sub["verbs"]), "model": sub["model"]} for name, sub in sorted(subs.items())
            }
        served.append(entry)
    return served, gvk


_MODEL_NAME = re.compile(r"^(?P<prefix>[A-Z][a-z]+)?(?P<version>V\d+(?:alpha\d+|beta\d+)?)(?P<kind>[A-Z]\w*)$")


def _kind_of(class_name: str) -> str:
    m = _MODEL_NAME.match(class_name)
    return m["kind"] if m else class_name


def _version_of(class_name: str) -> str:
    m = _MODEL_NAME.match(class_name)
    return m["version"].lower() if m else ""


# --------------------------------------------------------------------------------------------------
# Definitions
# --------------------------------------------------------------------------------------------------


def _package(group: str) -> str:
    return _SPECIAL_PACKAGES.get(group) or f"io.k8s.api.{group.split('.')[0]}"


def _references(client_type: str) -> Iterator[str]:
    yield from re.findall(r"\b(?:[A-Z][a-z]+)?V\d+(?:alpha\d+|beta\d+)?[A-Z]\w*", client_type)


def _root_package(class_name: str, gvk: dict[str, tuple[str, str, str]]) -> str | None:
    """The package of a model known without looking at who uses it."""
    m = _MODEL_NAME.match(class_name)
    kind = _kind_of(class_name)
    if class_name in _KIND_PACKAGES:
        return _KIND_PACKAGES[class_name]
    if class_name in gvk:
        return _package(gvk[class_name][0])
    if m and m["prefix"]:
        return _PREFIX_PACKAGES[m["prefix"]]
    if m and m["version"] == "V1" and kind in _META_KINDS:
        return "io.k8s.apimachinery.pkg.apis.meta"
    if kind in _CORE_KINDS:
        return "io.k8s.api.core"
    return None


def canonical_names(models: dict[str, Model], gvk: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    """Model class -> upstream definition name; a nested type belongs to the package of the kinds that reach it
    (core when core's kinds are among them: other groups build on core, never the other way round)."""
    roots = {c: p for c in sorted(models) if (p := _root_package(c, gvk)) is not None}
    reached: dict[str, set[str]] = {}

    def reach(class_name: str, package: str, seen: set[str]) -> None:
        for f in models[class_name].fields:
            for ref in _references(f.client_type):
                if ref in seen or ref in roots or ref not in models:
                    continue
                seen.add(ref)
                reached.setdefault(ref, set()).add(package)
                reach(ref, package, seen)

    for class_name, package in roots.items():
        reach(class_name, package, set())

    packages = dict(roots)
    for class_name, found in reached.items():
        if "io.k8s.api.core" in found:
            packages[class_name] = "io.k8s.api.core"
        elif len(found) == 1:
            packages[class_name] = next(iter(found))
        else:
            raise SystemExit(f"{class_name} is reached from several packages {sorted(found)}: name it in a table")
    names: dict[str, str] = {}
    for class_name, package in sorted(packages.items()):
        kind = _kind_of(class_name)
        version = _version_of(class_name)
        names[class_name] = f"{package}.{version}.{kind}" if version else f"{package}.{kind.removeprefix('Version')}"
    return names


def _field_schema(owner: str, f: Field, names: dict[str, str], *, client_type: str | None = None) -> dict[str, Any]:
    t = f.client_type if client_type is None else client_type
    key = f"{owner}.{f.json_name}"
    if t.startswith("list["):
        return {"items": _field_schema(owner, f, names, client_type=t[5:-1]), "type": "array"}
    if t.startswith("dict("):
        inner = t[len("dict(") : -1].split(",", 1)[1].strip()
        return {"additionalProperties": _field_schema(owner, f, names, client_type=inner), "type": "object"}
    if key in _FIELD_REFS and t in ("str", "object"):
        return {"$ref": "#/definitions/" + _FIELD_REFS[key]}
    if t == "str":
        return {"format": "byte", "type": "string"} if key in _BYTES_FIELDS else {"type": "string"}
    if t == "bool":
        return {"type": "boolean"}
    if t == "int":
        return {"format": "int64" if key in _INT64 else "int32", "type": "integer"}
    if t == "float":
        return {"format": "double", "type": "number"}
    if t == "datetime":
        return {"$ref": "#/definitions/" + (MICRO_TIME if key in _MICRO_TIME else TIME)}
    if t == "object":
        return {"type": "object"}
    if t in names:
        return {"$ref": "#/definitions/" + names[t]}
    raise ValueError(f"{owner}.{f.json_name}: unknown client type {t!r}")


def definitions(
    models: dict[str, Model], names: dict[str, str], gvks: dict[str, list[tuple[str, str, str]]]
) -> dict[str, Any]:
    out: dict[str, Any] = {name: dict(schema) for name, schema in _SCALARS.items()}
    for class_name, name in sorted(names.items()):
        model = models[class_name]
        owner = name.rsplit(".", 1)[1]
        props: dict[str, Any] = {}
        for f in model.fields:
            schema = _field_schema(owner, f, names)
            if f.description:
                schema["description"] = f.description
            props[f.json_name] = schema
        definition: dict[str, Any] = {"type": "object"}
        if props:
            definition["properties"] = props
        required = sorted(f.json_name for f in model.fields if f.required)
        if required:
            definition["required"] = required
        if class_name in gvks:
            definition["x-kubernetes-group-version-kind"] = [
                {"group": group, "kind": kind, "version": version} for group, version, kind in sorted(gvks[class_name])
            ]
        out[name] = definition
    return out


def generate(*, package_dir: Path) -> dict[str, Any]:
    client = package_dir / "client"
    header = (client / "models" / "v1_object_meta.py").read_text(encoding="utf-8")
    if RELEASE not in header:
        raise SystemExit(f"the kubernetes client in {package_dir} is not generated from {RELEASE}")
    models: dict[str, Model] = {}
    for path in sorted((client / "models").glob("*.py")):
        if path.name == "__init__.py":
            continue
        model = read_model(path)
        if model is not None:
            models[model.class_name] = model
    calls = [call for path in sorted((client / "api").glob("*.py")) for call in read_calls(path)]
    served, gvk = resources(calls)
    names = canonical_names(models, gvk)
    for entry in served:
        entry["definition"] = names[entry.pop("model")]
        for sub in entry.get("subresources", {}).values():
            model = sub.pop("model")
            if model:
                sub["definition"] = names[model]
    gvks = {c: [g] for c, g in gvk.items()}
    gvks.update({c: [g] for c, g in _EXTRA_GVK.items()})
    group_versions = sorted({(entry["group"], entry["version"]) for entry in served})
    for class_name in _EVERY_GROUP_VERSION:
        gvks[class_name] = [(g, v, _kind_of(class_name)) for g, v in group_versions]
    return {"release": RELEASE, "resources": served, "definitions": definitions(models, names, gvks)}


def encode(data: dict[str, Any]) -> bytes:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="the `kubernetes` package directory of client 32.x"
    )
    args = parser.parse_args(argv)
    if not (args.source / "client" / "models").is_dir():
        raise SystemExit(f"{args.source} holds no kubernetes client: run `make` (it unpacks client 32.0.1 there)")
    data = generate(package_dir=args.source)
    args.output.write_bytes(encode(data))
    print(f"{args.output}: {len(data['definitions'])} definitions, {len(data['resources'])} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())

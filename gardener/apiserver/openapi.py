"""OpenAPI v3 for /openapi/v3: the index and one document per group-version, derived from the Registry.

Enough for kubectl: its field-validation probe (a PATCH operation carrying the kind's
x-kubernetes-group-version-kind and a `fieldValidation` parameter, else `apply`/`create` fall back to
downloading /openapi/v2), `kubectl explain` (paths name the GVK, components.schemas carry it), and
`kubectl apply`. Custom resources get their CRD's openAPIV3Schema; built-in kinds a loose schema
(top-level fields with types and descriptions, nested types left open with
x-kubernetes-preserve-unknown-fields).

Writes carry a requestBody as kube's do (POST/PUT: `*/*` with the kind's schema; DELETE: DeleteOptions), so
an OpenAPI-driven client or fuzzer can build bodies. PATCH lists the patch media types the server takes, but
never application/strategic-merge-patch+json: kubectl's `apply` builds its patch from this document only when
that key is there (gvkSupportsPatchOpenAPIV3), and the loose schemas of built-ins lack the patch merge keys of
nested lists; without it, kubectl uses its compiled-in types, as for a document without bodies. Unlike kube's
(one opaque `Patch` object for every patch type), each patch type gets a schema of its shape: the kind's for
merge and apply patches, a list of operations for JSON patches.

Pure functions with deterministic output; the caller caches them per Registry.generation.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from gardener.apiserver.resources import Registry, ResourceInfo

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_REF = "#/components/schemas/"
OBJECT_META = f"{_META}.ObjectMeta"
LIST_META = f"{_META}.ListMeta"
STATUS = f"{_META}.Status"
DELETE_OPTIONS = f"{_META}.DeleteOptions"
#: RFC 6902 operations; kube names no schema for it (its PATCH bodies are all one opaque `Patch` object)
JSON_PATCH = f"{_META}.JSONPatch"
#: the patch media types every PATCH operation lists (strategic merge patch deliberately not: see above)
PATCH_MEDIA_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json")
_SCALE = "io.k8s.api.autoscaling.v1.Scale"
_SCALE_GVK = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
_TOKEN_REQUEST = "io.k8s.api.authentication.v1.TokenRequest"
_TOKEN_REQUEST_GVK = {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}

_API_VERSION_DESC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DESC = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this from "
    "the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
_METADATA_DESC = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_LIST_METADATA_DESC = (
    "Standard list metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def group_version_path(group: str, version: str) -> str:
    """The index key (and URL tail) of a group-version: "api/v1" or "apis/<group>/<version>"."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def parse_group_version_path(path: str) -> tuple[str, str] | None:
    """Inverse of `group_version_path` for the tail of /openapi/v3/<path>; None if it names no group-version."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api" and parts[1]:
        return "", parts[1]
    if len(parts) == 3 and parts[0] == "apis" and parts[1] and parts[2]:
        return parts[1], parts[2]
    return None


def document_hash(document: dict[str, Any]) -> str:
    """Content hash of a document, as the `hash` query parameter the index hands out (kube uses SHA-512)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha512(canonical.encode()).hexdigest().upper()


def v3_index(registry: Registry) -> dict[str, Any]:
    """GET /openapi/v3: every served group-version with a URL whose hash changes with its document."""
    paths: dict[str, Any] = {}
    for group, versions in sorted(registry.groups().items()):
        for version in sorted(versions):
            document = v3_group_version(registry, group, version)
            if document is None:
                continue
            key = group_version_path(group, version)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={document_hash(document)}"}
    return {"paths": dict(sorted(paths.items()))}


def v3_group_version(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """GET /openapi/v3/api/v1 or /openapi/v3/apis/<group>/<version>; None if nothing is served there."""
    infos = sorted(registry.resources_in(group, version), key=lambda i: (i.plural, i.kind))
    if not infos:
        return None
    schemas: dict[str, Any] = {}
    _add_meta_schemas(schemas)
    paths: dict[str, Any] = {}
    for info in infos:
        name = schema_name(info)
        schemas[name] = _kind_schema(info, schemas)
        schemas[f"{name}List"] = _list_schema(info, name)
        paths.update(_resource_paths(info, name, schemas=schemas))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def schema_name(info: ResourceInfo) -> str:
    """components.schemas key of a kind, named like kube: io.k8s.api.core.v1.ConfigMap, <reversed group>.<v>.<Kind>."""
    return f"{_package(info)}.{info.version}.{info.kind}"


# --------------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------------


def _package(info: ResourceInfo) -> str:
    group = info.group
    if info.is_custom or not (group == "" or "." not in group or group.endswith(".k8s.io")):
        return ".".join(reversed(group.split(".")))
    if group == "":
        return "io.k8s.api.core"
    if group == "apiextensions.k8s.io":
        return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions"
    if group == "apiregistration.k8s.io":
        return "io.k8s.kube-aggregator.pkg.apis.apiregistration"
    return f"io.k8s.api.{group.split('.')[0]}"


def _gvk(info: ResourceInfo, kind: str | None = None) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "kind": kind or info.kind}


def _ref(name: str, description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"allOf": [{"$ref": _REF + name}], "default": {}}
    if description:
        out["description"] = description
    return out


def _type_meta_properties() -> dict[str, Any]:
    return {
        "apiVersion": {"type": "string", "description": _API_VERSION_DESC},
        "kind": {"type": "string", "description": _KIND_DESC},
    }


def _field_schema(type_: str, prefix: str, *, schemas: dict[str, Any]) -> dict[str, Any]:
    """Schema of one field type of the tables below ("string", "[]ref:PodSpec", "map:byte", ...)."""
    if type_.startswith("[]"):
        return {"type": "array", "items": _field_schema(type_[2:], prefix, schemas=schemas)}
    if type_.startswith("map:"):
        return {"type": "object", "additionalProperties": _field_schema(type_[4:], prefix, schemas=schemas)}
    if type_.startswith("ref:"):
        sub = type_[4:]
        name = f"{prefix}.{sub}"
        if name not in schemas:
            # described by the referring field only: kubectl explain prints both descriptions
            schemas[name] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return _ref(name)
    if type_ == "date-time":
        return {"type": "string", "format": "date-time"}
    if type_ == "byte":
        return {"type": "string", "format": "byte"}
    return {"type": type_}


def _fields(
    fields: tuple[tuple[str, str, str], ...], prefix: str, *, schemas: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    props: dict[str, dict[str, Any]] = {}
    for name, type_, description in fields:
        schema = _field_schema(type_, prefix, schemas=schemas)
        desc = description or _SUBTYPE_DOCS.get(type_.removeprefix("[]").removeprefix("ref:"), "")
        if desc:
            schema["description"] = desc
        props[name] = schema
    return props


def _add_meta_schemas(schemas: dict[str, Any]) -> None:
    for (_, kind), (description, fields) in _META_TYPES.items():
        schemas[f"{_META}.{kind}"] = {
            "description": description,
            "type": "object",
            "properties": _fields(fields, _META, schemas=schemas),
        }
    meta = schemas[OBJECT_META]["properties"]
    meta["finalizers"].update({"x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"})
    meta["managedFields"]["x-kubernetes-list-type"] = "atomic"
    meta["ownerReferences"].update(
        {
            "x-kubernetes-list-map-keys": ["uid"],
            "x-kubernetes-list-type": "map",
            "x-kubernetes-patch-merge-key": "uid",
            "x-kubernetes-patch-strategy": "merge",
        }
    )
    owner = schemas[f"{_META}.OwnerReference"]
    owner["required"] = ["apiVersion", "kind", "name", "uid"]
    owner["x-kubernetes-map-type"] = "atomic"
    schemas[LIST_META] = {
        "description": "ListMeta describes metadata that synthetic resources must have, including lists and "
        "various status objects.",
        "type": "object",
        "properties": {
            "continue": {
                "type": "string",
                "description": "continue may be set if the user set a limit on the number of items returned, "
                "and indicates that the server has more data available.",
            },
            "remainingItemCount": {
                "type": "integer",
                "format": "int64",
                "description": "remainingItemCount is the number of subsequent items in the list which are not "
                "included in this list response.",
            },
            "resourceVersion": {
                "type": "string",
                "description": "String that identifies the server's internal version of this object that can be "
                "used by clients to determine when objects have changed.",
            },
            "selfLink": {"type": "string", "description": "Deprecated: selfLink is a legacy read-only field."},
        },
    }
    schemas[JSON_PATCH] = {
        "description": "A JSON patch (RFC 6902): operations applied in order; the whole patch fails if one does.",
        "type": "array",
        "items": {
            "type": "object",
            "required": ["op", "path"],
            "properties": {
                "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
                "path": {"type": "string", "description": "JSON pointer (RFC 6901) to the target location."},
                "from": {"type": "string", "description": "JSON pointer of the source, for move and copy."},
                "value": {"description": "The value to add, replace or test."},
            },
        },
    }
    schemas[f"{_META}.Preconditions"] = {
        "description": "Preconditions must be fulfilled before an operation (update, delete, etc.) is carried out.",
        "type": "object",
        "properties": {
            "resourceVersion": {"type": "string", "description": "Specifies the target ResourceVersion"},
            "uid": {"type": "string", "description": "Specifies the target UID."},
        },
    }
    schemas[DELETE_OPTIONS] = {
        "description": "DeleteOptions may be provided when deleting an API object.",
        "type": "object",
        "properties": {
            **_type_meta_properties(),
            "dryRun": {
                "type": "array",
                "items": {"type": "string", "default": ""},
                "x-kubernetes-list-type": "atomic",
                "description": "When present, indicates that modifications should not be persisted. Valid values: All.",
            },
            "gracePeriodSeconds": {
                "type": "integer",
                "format": "int64",
                "description": "The duration in seconds before the object should be deleted.",
            },
            "ignoreStoreReadErrorWithClusterBreakingPotential": {
                "type": "boolean",
                "description": "if set to true, it will trigger an unsafe deletion of the resource in case the "
                "normal deletion flow fails with a corrupt object error.",
            },
            "orphanDependents": {
                "type": "boolean",
                "description": "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.",
            },
            "preconditions": _ref(f"{_META}.Preconditions", "Must be fulfilled before a deletion is carried out."),
            "propagationPolicy": {
                "type": "string",
                "description": "Whether and how garbage collection will be performed. Acceptable values are: "
                "'Orphan', 'Background' and 'Foreground'.",
            },
        },
        "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "DeleteOptions"}],
    }
    schemas[STATUS] = {
        "description": "Status is a return value for calls that don't return other objects.",
        "type": "object",
        "properties": {
            **_type_meta_properties(),
            "code": {"type": "integer", "format": "int32", "description": "Suggested HTTP return code."},
            "details": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "message": {"type": "string", "description": "A human-readable description of the status."},
            "metadata": _ref(LIST_META, _LIST_METADATA_DESC),
            "reason": {"type": "string", "description": "A machine-readable description of the status."},
            "status": {"type": "string", "description": 'Status of the operation. One of: "Success" or "Failure".'},
        },
        "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Status"}],
    }


def _kind_schema(info: ResourceInfo, schemas: dict[str, Any]) -> dict[str, Any]:
    if info.is_custom or ((info.group, info.kind) not in _BUILTIN_KINDS and info.schema is not None):
        schema = _custom_schema(info)
    else:
        description, fields = _BUILTIN_KINDS.get((info.group, info.kind), (f"{info.kind} is a built-in kind.", ()))
        schema = {
            "description": description,
            "type": "object",
            "properties": {
                **_type_meta_properties(),
                "metadata": _ref(OBJECT_META, _METADATA_DESC),
                **_fields(fields, f"{_package(info)}.{info.version}", schemas=schemas),
            },
            "x-kubernetes-preserve-unknown-fields": True,
        }
    schema["properties"] = dict(sorted(schema["properties"].items()))
    schema["x-kubernetes-group-version-kind"] = [_gvk(info)]
    return schema


def _custom_schema(info: ResourceInfo) -> dict[str, Any]:
    """The CRD's openAPIV3Schema with apiVersion, kind and metadata (a reference to ObjectMeta) set as kube does."""
    source = info.schema if isinstance(info.schema, dict) else {}
    schema: dict[str, Any] = copy.deepcopy(source)
    if not source:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    schema.setdefault("type", "object")
    properties = schema.get("properties")
    schema["properties"] = dict(properties) if isinstance(properties, dict) else {}
    schema["properties"].update(_type_meta_properties())
    schema["properties"]["metadata"] = _ref(OBJECT_META, _METADATA_DESC)
    return schema


def _list_schema(info: ResourceInfo, name: str) -> dict[str, Any]:
    return {
        "description": f"{info.kind}List is a list of {info.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": _API_VERSION_DESC},
            "items": {
                "type": "array",
                "description": f"List of {info.plural}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "items": _ref(name),
            },
            "kind": {"type": "string", "description": _KIND_DESC},
            "metadata": _ref(LIST_META, _LIST_METADATA_DESC),
        },
        "x-kubernetes-group-version-kind": [_gvk(info, f"{info.kind}List")],
    }


# --------------------------------------------------------------------------------------------------
# Paths and operations
# --------------------------------------------------------------------------------------------------


def _param(name: str, description: str, *, where: str = "query", type_: str = "string") -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": name,
        "in": where,
        "description": description,
        "schema": {"type": type_, "uniqueItems": True},
    }
    if where == "path":
        param["required"] = True
    return param


_PRETTY = _param("pretty", "If 'true', then the output is pretty printed.")
_NAME = _param("name", "name of the resource", where="path")
_NAMESPACE = _param("namespace", "object name and auth scope, such as for teams and projects", where="path")
_DRY_RUN = _param("dryRun", "When present, indicates that modifications should not be persisted.")
_FIELD_MANAGER = _param("fieldManager", "fieldManager is a name associated with the actor making changes.")
#: kubectl looks for this parameter on the kind's PATCH operation to decide on server-side field validation
_FIELD_VALIDATION = _param(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request containing unknown or "
    "duplicate fields. Valid values are: Ignore, Warn (the default) and Strict.",
)
_FORCE = _param("force", 'Force is going to "force" Apply requests; unset for non-apply patches.', type_="boolean")
_LIST_PARAMS = (
    _param("allowWatchBookmarks", "allowWatchBookmarks requests watch events of type BOOKMARK.", type_="boolean"),
    _param("continue", "The continue option should be set when retrieving more results from the server."),
    _param("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
    _param("labelSelector", "A selector to restrict the list of returned objects by their labels."),
    _param("limit", "limit is a maximum number of responses to return for a list call.", type_="integer"),
    _param(
        "resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from."
    ),
    _param("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
    _param("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.", type_="boolean"),
    _param("timeoutSeconds", "Timeout for the list/watch call.", type_="integer"),
    _param("watch", "Watch for changes to the described resources.", type_="boolean"),
)
_DELETE_PARAMS = (
    _DRY_RUN,
    _param("gracePeriodSeconds", "The duration in seconds before the object should be deleted.", type_="integer"),
    _param(
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails.",
        type_="boolean",
    ),
    _param("orphanDependents", "Deprecated: use the PropagationPolicy.", type_="boolean"),
    _param("propagationPolicy", "Whether and how garbage collection will be performed."),
)
_WRITE_PARAMS = (_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION)
_PATCH_PARAMS = (*_WRITE_PARAMS, _FORCE)

#: per HTTP method: (x-kubernetes-action, operationId verb, description template, query parameters)
_METHODS: dict[str, tuple[str, str, str, tuple[dict[str, Any], ...]]] = {
    "list": ("list", "list", "list or watch objects of kind {kind}", _LIST_PARAMS),
    "post": ("post", "create", "create {what}", _WRITE_PARAMS),
    "deletecollection": ("deletecollection", "delete", "delete collection of {kind}", _DELETE_PARAMS + _LIST_PARAMS),
    "get": ("get", "read", "read {what}", ()),
    "put": ("put", "replace", "replace {what}", _WRITE_PARAMS),
    "patch": ("patch", "patch", "partially update {what}", _PATCH_PARAMS),
    "delete": ("delete", "delete", "delete {what}", _DELETE_PARAMS),
}


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[.\-]", text) if part)


@dataclass(frozen=True)
class _Ops:
    """Builds the operations of one resource: ids like kube's (readCoreV1NamespacedPodStatus)."""

    info: ResourceInfo
    schema: str

    @property
    def group_id(self) -> str:
        return _camel(self.info.group.removesuffix(".k8s.io")) if self.info.group else "Core"

    def operation(
        self,
        method: str,
        *,
        id_format: str = "{verb}{stem}{scope}{kind}{sub}",
        subresource: str = "",
        gvk: dict[str, str] | None = None,
        response: str = "",
    ) -> dict[str, Any]:
        info = self.info
        action, verb, describe, params = _METHODS[method]
        what = f"{subresource} of the specified {info.kind}" if subresource else f"the specified {info.kind}"
        if method == "post":
            what = f"{subresource} of a {info.kind}" if subresource else f"a {info.kind}"
        operation_id = id_format.format(
            verb=verb,
            stem=f"{self.group_id}{_camel(info.version)}",
            scope="Namespaced" if info.namespaced else "",
            kind=info.kind,
            sub=_camel(subresource),
        )
        content = {"application/json": {"schema": {"$ref": _REF + (response or self.schema)}}}
        responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
        if method == "post":
            responses["201"] = {"description": "Created", "content": content}
        responses["401"] = {"description": "Unauthorized"}
        op: dict[str, Any] = {
            "tags": [f"{self.group_id[:1].lower()}{self.group_id[1:]}_{info.version}"],
            "description": describe.format(kind=info.kind, what=what),
            "operationId": operation_id,
            "responses": responses,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": dict(gvk or _gvk(info)),
        }
        if params:
            op["parameters"] = [dict(p) for p in params]
        # the kind a write sends is the kind it answers with (status: the kind; scale: Scale; token: TokenRequest)
        request_body = _request_body(method, response or self.schema)
        if request_body:
            op["requestBody"] = request_body
        return op


def _request_body(method: str, kind_schema: str) -> dict[str, Any] | None:
    """kube's requestBody of an operation: the object written, the patch, or (optional) DeleteOptions."""
    if method in ("post", "put"):
        return {"content": {"*/*": {"schema": {"$ref": _REF + kind_schema}}}, "required": True}
    if method == "patch":
        schemas = {media: _REF + kind_schema for media in PATCH_MEDIA_TYPES}
        schemas["application/json-patch+json"] = _REF + JSON_PATCH
        return {"content": {media: {"schema": {"$ref": ref}} for media, ref in schemas.items()}, "required": True}
    if method in ("delete", "deletecollection"):
        return {"content": {"*/*": {"schema": {"$ref": _REF + DELETE_OPTIONS}}}}
    return None


def _resource_paths(info: ResourceInfo, name: str, *, schemas: dict[str, Any]) -> dict[str, Any]:
    ops = _Ops(info, name)
    prefix = f"/{group_version_path(info.group, info.version)}"
    base = f"{prefix}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else f"{prefix}/{info.plural}"
    scope_params = (_NAMESPACE, _PRETTY) if info.namespaced else (_PRETTY,)
    item_params = (_NAME, *scope_params)
    verbs = set(info.verbs)
    paths: dict[str, Any] = {}

    collection: dict[str, Any] = {}
    if "list" in verbs:
        collection["get"] = ops.operation("list", response=f"{name}List")
    if "create" in verbs:
        collection["post"] = ops.operation("post")
    if "deletecollection" in verbs:
        collection["delete"] = ops.operation(
            "deletecollection", id_format="{verb}{stem}Collection{scope}{kind}", response=STATUS
        )
    _add_path(paths, base, operations=collection, params=scope_params)

    item: dict[str, Any] = {}
    for verb, method in (("get", "get"), ("update", "put"), ("patch", "patch"), ("delete", "delete")):
        if verb in verbs:
            item[method] = ops.operation(method)
    _add_path(paths, f"{base}/{{name}}", operations=item, params=item_params)

    if info.namespaced and "list" in verbs:
        every = ops.operation("list", id_format="{verb}{stem}{kind}ForAllNamespaces", response=f"{name}List")
        _add_path(paths, f"{prefix}/{info.plural}", operations={"get": every}, params=(_PRETTY,))

    subresources: list[tuple[str, dict[str, str] | None, str, tuple[str, ...]]] = []
    if info.has_status:
        subresources.append(("status", None, name, ("get", "put", "patch")))
    if info.scale is not None:
        schemas.setdefault(_SCALE, _scale_schema())
        subresources.append(("scale", _SCALE_GVK, _SCALE, ("get", "put", "patch")))
    for extra in info.extra_subresources:
        if extra == "token":
            schemas.setdefault(_TOKEN_REQUEST, _token_request_schema())
            subresources.append((extra, _TOKEN_REQUEST_GVK, _TOKEN_REQUEST, ("post",)))
        elif extra == "finalize":
            subresources.append((extra, None, name, ("put",)))
        else:
            subresources.append((extra, None, name, ("get", "put", "patch")))
    for sub, gvk, response, methods in subresources:
        sub_ops = {m: ops.operation(m, subresource=sub, gvk=gvk, response=response) for m in methods}
        _add_path(paths, f"{base}/{{name}}/{sub}", operations=sub_ops, params=item_params)
    return paths


def _add_path(
    paths: dict[str, Any], path: str, *, operations: dict[str, Any], params: tuple[dict[str, Any], ...]
) -> None:
    if operations:
        paths[path] = {**operations, "parameters": [dict(p) for p in params]}


def _scale_schema() -> dict[str, Any]:
    return {
        "description": "Scale represents a scaling request for a resource.",
        "type": "object",
        "properties": {
            **_type_meta_properties(),
            "metadata": _ref(OBJECT_META, _METADATA_DESC),
            "spec": {
                "description": "ScaleSpec describes the attributes of a scale subresource.",
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer", "format": "int32", "description": "desired number of instances"}
                },
            },
            "status": {
                "description": "ScaleStatus represents the current status of a scale subresource.",
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer", "format": "int32", "description": "actual number of instances"},
                    "selector": {"type": "string", "description": "label query over pods, in the string form"},
                },
            },
        },
        "x-kubernetes-group-version-kind": [dict(_SCALE_GVK)],
    }


def _token_request_schema() -> dict[str, Any]:
    return {
        "description": "TokenRequest requests a token for a given service account.",
        "type": "object",
        "properties": {
            **_type_meta_properties(),
            "metadata": _ref(OBJECT_META, _METADATA_DESC),
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
        "x-kubernetes-group-version-kind": [dict(_TOKEN_REQUEST_GVK)],
    }


# --------------------------------------------------------------------------------------------------
# Built-in kinds: top-level fields as (name, type, description); the nested types stay open. Taken from
# the Kubernetes API reference (descriptions of nested kinds cut to their first sentence).
# --------------------------------------------------------------------------------------------------

_BUILTIN_KINDS: dict[tuple[str, str], tuple[str, tuple[tuple[str, str, str], ...]]] = {
    ("", "Namespace"): (
        "Namespace provides a scope for Names.",
        (
            ("spec", "ref:NamespaceSpec", ""),
            ("status", "ref:NamespaceStatus", ""),
        ),
    ),
    ("", "ConfigMap"): (
        "ConfigMap holds configuration data for pods to consume.",
        (
            ("binaryData", "map:byte", "BinaryData contains the binary data."),
            ("data", "map:string", "Data contains the configuration data."),
            (
                "immutable",
                "boolean",
                "Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated (only "
                "object metadata can be modified).",
            ),
        ),
    ),
    ("", "Secret"): (
        "Secret holds secret data of a certain type.",
        (
            (
                "data",
                "map:byte",
                "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
            ),
            (
                "immutable",
                "boolean",
                "Immutable, if set to true, ensures that data stored in the Secret cannot be updated (only object "
                "metadata can be modified).",
            ),
            ("stringData", "map:string", "stringData allows specifying non-binary secret data in string form."),
            ("type", "string", "Used to facilitate programmatic handling of secret data."),
        ),
    ),
    ("", "Service"): (
        "Service is a named abstraction of software service (for example, mysql) consisting of local port (for "
        "example 3306) that the proxy listens on, and the selector that determines which pods will answer requests"
        " sent through the proxy.",
        (
            ("spec", "ref:ServiceSpec", ""),
            ("status", "ref:ServiceStatus", ""),
        ),
    ),
    ("", "Endpoints"): (
        "Endpoints is a collection of endpoints that implement the actual service.",
        (("subsets", "[]ref:EndpointSubset", "The set of all endpoints is the union of all subsets."),),
    ),
    ("", "ServiceAccount"): (
        "ServiceAccount binds together: * a name, understood by users, and perhaps by peripheral systems, for an "
        "identity * a principal that can be authenticated and authorized * a set of secrets",
        (
            (
                "automountServiceAccountToken",
                "boolean",
                "AutomountServiceAccountToken indicates whether pods running as this service account should have "
                "an API token automatically mounted.",
            ),
            (
                "imagePullSecrets",
                "[]ref:LocalObjectReference",
                "ImagePullSecrets is a list of references to secrets in the same namespace to use for pulling any "
                "images in pods that reference this ServiceAccount.",
            ),
            (
                "secrets",
                "[]ref:ObjectReference",
                "Secrets is a list of the secrets in the same namespace that pods running using this "
                "ServiceAccount are allowed to use.",
            ),
        ),
    ),
    ("", "Event"): (
        "Event is a report of an event somewhere in the cluster.",
        (
            ("action", "string", "What action was taken/failed regarding to the Regarding object."),
            ("count", "integer", "The number of times this event has occurred."),
            ("eventTime", "date-time", "Time when this Event was first observed."),
            (
                "firstTimestamp",
                "date-time",
                "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            ),
            ("involvedObject", "ref:ObjectReference", ""),
            ("lastTimestamp", "date-time", "The time at which the most recent occurrence of this event was recorded."),
            ("message", "string", "A human-readable description of the status of this operation."),
            (
                "reason",
                "string",
                "This should be a short, machine understandable string that gives the reason for the transition "
                "into the object's current status.",
            ),
            ("related", "ref:ObjectReference", ""),
            (
                "reportingComponent",
                "string",
                "Name of the controller that emitted this Event, e.g. `kubernetes.io/kubelet`.",
            ),
            ("reportingInstance", "string", "ID of the controller instance, e.g. `kubelet-xyzf`."),
            ("series", "ref:EventSeries", ""),
            ("source", "ref:EventSource", ""),
            ("type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
        ),
    ),
    ("", "Node"): (
        "Node is a worker node in Kubernetes.",
        (
            ("spec", "ref:NodeSpec", ""),
            ("status", "ref:NodeStatus", ""),
        ),
    ),
    ("", "Pod"): (
        "Pod is a collection of containers that can run on a host.",
        (
            ("spec", "ref:PodSpec", ""),
            ("status", "ref:PodStatus", ""),
        ),
    ),
    ("", "PersistentVolumeClaim"): (
        "PersistentVolumeClaim is a user's request for and claim to a persistent volume",
        (
            ("spec", "ref:PersistentVolumeClaimSpec", ""),
            ("status", "ref:PersistentVolumeClaimStatus", ""),
        ),
    ),
    ("apps", "Deployment"): (
        "Deployment enables declarative updates for Pods and ReplicaSets.",
        (
            ("spec", "ref:DeploymentSpec", ""),
            ("status", "ref:DeploymentStatus", ""),
        ),
    ),
    ("apps", "StatefulSet"): (
        "StatefulSet represents a set of pods with consistent identities.",
        (
            ("spec", "ref:StatefulSetSpec", ""),
            ("status", "ref:StatefulSetStatus", ""),
        ),
    ),
    ("apps", "DaemonSet"): (
        "DaemonSet represents the configuration of a daemon set.",
        (
            ("spec", "ref:DaemonSetSpec", ""),
            ("status", "ref:DaemonSetStatus", ""),
        ),
    ),
    ("apps", "ReplicaSet"): (
        "ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
        (
            ("spec", "ref:ReplicaSetSpec", ""),
            ("status", "ref:ReplicaSetStatus", ""),
        ),
    ),
    ("batch", "Job"): (
        "Job represents the configuration of a single job.",
        (
            ("spec", "ref:JobSpec", ""),
            ("status", "ref:JobStatus", ""),
        ),
    ),
    ("coordination.k8s.io", "Lease"): (
        "Lease defines a lease concept.",
        (("spec", "ref:LeaseSpec", ""),),
    ),
    ("events.k8s.io", "Event"): (
        "Event is a report of an event somewhere in the cluster.",
        (
            ("action", "string", "action is what action was taken/failed regarding to the regarding object."),
            (
                "deprecatedCount",
                "integer",
                "deprecatedCount is the deprecated field assuring backward compatibility with core.v1 Event type.",
            ),
            (
                "deprecatedFirstTimestamp",
                "date-time",
                "deprecatedFirstTimestamp is the deprecated field assuring backward compatibility with core.v1 "
                "Event type.",
            ),
            (
                "deprecatedLastTimestamp",
                "date-time",
                "deprecatedLastTimestamp is the deprecated field assuring backward compatibility with core.v1 "
                "Event type.",
            ),
            ("deprecatedSource", "ref:EventSource", ""),
            ("eventTime", "date-time", "eventTime is the time when this Event was first observed."),
            ("note", "string", "note is a human-readable description of the status of this operation."),
            ("reason", "string", "reason is why the action was taken."),
            ("regarding", "ref:ObjectReference", ""),
            ("related", "ref:ObjectReference", ""),
            (
                "reportingController",
                "string",
                "reportingController is the name of the controller that emitted this Event, e.g. "
                "`kubernetes.io/kubelet`. This field cannot be empty for new Events.",
            ),
            (
                "reportingInstance",
                "string",
                "reportingInstance is the ID of the controller instance, e.g. `kubelet-xyzf`. This field cannot be"
                " empty for new Events and it can have at most 128 characters.",
            ),
            ("series", "ref:EventSeries", ""),
            (
                "type",
                "string",
                "type is the type of this event (Normal, Warning), new types could be added in the future.",
            ),
        ),
    ),
    ("rbac.authorization.k8s.io", "Role"): (
        "Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.",
        (("rules", "[]ref:PolicyRule", "rules holds all the PolicyRules for this Role"),),
    ),
    ("rbac.authorization.k8s.io", "ClusterRole"): (
        "ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a "
        "RoleBinding or ClusterRoleBinding.",
        (
            ("aggregationRule", "ref:AggregationRule", ""),
            ("rules", "[]ref:PolicyRule", "rules holds all the PolicyRules for this ClusterRole"),
        ),
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): (
        "RoleBinding references a role, but does not contain it.",
        (
            ("roleRef", "ref:RoleRef", ""),
            ("subjects", "[]ref:Subject", "subjects holds references to the objects the role applies to."),
        ),
    ),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (
        "ClusterRoleBinding references a ClusterRole, but not contain it.",
        (
            ("roleRef", "ref:RoleRef", ""),
            ("subjects", "[]ref:Subject", "subjects holds references to the objects the role applies to."),
        ),
    ),
    ("certificates.k8s.io", "CertificateSigningRequest"): (
        "CertificateSigningRequest objects provide a mechanism to obtain x509 certificates by submitting a "
        "certificate signing request, and having it asynchronously approved and issued.",
        (
            ("spec", "ref:CertificateSigningRequestSpec", ""),
            ("status", "ref:CertificateSigningRequestStatus", ""),
        ),
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (
        "CustomResourceDefinition represents a resource that should be exposed on the API server.",
        (
            ("spec", "ref:CustomResourceDefinitionSpec", ""),
            ("status", "ref:CustomResourceDefinitionStatus", ""),
        ),
    ),
}

_META_TYPES: dict[tuple[str, str], tuple[str, tuple[tuple[str, str, str], ...]]] = {
    ("meta", "ObjectMeta"): (
        "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
        (
            (
                "annotations",
                "map:string",
                "Annotations is an unstructured key value map stored with a resource that may be set by external "
                "tools to store and retrieve arbitrary metadata. They are not queryable and should be preserved "
                "when modifying objects. More info: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations",
            ),
            (
                "creationTimestamp",
                "date-time",
                "CreationTimestamp is a timestamp representing the server time when this object was created. It is"
                " not guaranteed to be set in happens-before order across separate operations. Clients may not set"
                " this value. It is represented in RFC3339 form and is in UTC. Populated by the system. Read-only."
                " Null for lists. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
            ),
            (
                "deletionGracePeriodSeconds",
                "integer",
                "Number of seconds allowed for this object to gracefully terminate before it will be removed from "
                "the system. Only set when deletionTimestamp is also set. May only be shortened. Read-only.",
            ),
            (
                "deletionTimestamp",
                "date-time",
                "DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted. This field is"
                " set by the server when a graceful deletion is requested by the user, and is not directly "
                "settable by a client. The resource is expected to be deleted (no longer visible from resource "
                "lists, and not reachable by name) after the time in this field, once the finalizers list is "
                "empty. As long as the finalizers list contains items, deletion is blocked. Once the "
                "deletionTimestamp is set, this value may not be unset or be set further into the future, although"
                " it may be shortened or the resource may be deleted prior to this time. For example, a user may "
                "request that a pod is deleted in 30 seconds. The Kubelet will react by sending a graceful "
                "termination signal to the containers in the pod. After that 30 seconds, the Kubelet will send a "
                "hard termination signal (SIGKILL) to the container and after cleanup, remove the pod from the "
                "API. In the presence of network partitions, this object may still exist after this timestamp, "
                "until an administrator or automated process can determine the resource is fully terminated. If "
                "not set, graceful deletion of the object has not been requested. Populated by the system when a "
                "graceful deletion is requested. Read-only. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
            ),
            (
                "finalizers",
                "[]string",
                "Must be empty before the object is deleted from the registry. Each entry is an identifier for the"
                " responsible component that will remove the entry from the list. If the deletionTimestamp of the "
                "object is non-nil, entries in this list can only be removed. Finalizers may be processed and "
                "removed in any order. Order is NOT enforced because it introduces significant risk of stuck "
                "finalizers. finalizers is a shared field, any actor with permission can reorder it. If the "
                "finalizer list is processed in order, then this can lead to a situation in which the component "
                "responsible for the first finalizer in the list is waiting for a signal (field value, external "
                "system, or other) produced by a component responsible for a finalizer later in the list, "
                "resulting in a deadlock. Without enforced ordering finalizers are free to order amongst "
                "themselves and are not vulnerable to ordering changes in the list.",
            ),
            (
                "generateName",
                "string",
                "GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the "
                "Name field has not been provided. If this field is used, the name returned to the client will be "
                "different than the name passed. This value will also be combined with a unique suffix. The "
                "provided value has the same validation rules as the Name field, and may be truncated by the "
                "length of the suffix required to make the value unique on the server. If this field is specified "
                "and the generated name exists, the server will return a 409. Applied only if Name is not "
                "specified. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#idempotency",
            ),
            (
                "generation",
                "integer",
                "A sequence number representing a specific generation of the desired state. Populated by the "
                "system. Read-only.",
            ),
            (
                "labels",
                "map:string",
                "Map of string keys and values that can be used to organize and categorize (scope and select) "
                "objects. May match selectors of replication controllers and services. More info: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels",
            ),
            (
                "managedFields",
                "[]ref:ManagedFieldsEntry",
                "ManagedFields maps workflow-id and version to the set of fields that are managed by that "
                "workflow. This is mostly for internal housekeeping, and users typically shouldn't need to set or "
                "understand this field. A workflow can be the user's name, a controller's name, or the name of a "
                'specific apply path like "ci-cd". The set of fields is always in the version that the workflow '
                "used when modifying the object.",
            ),
            (
                "name",
                "string",
                "Name must be unique within a namespace. Is required when creating resources, although some "
                "resources may allow a client to request the generation of an appropriate name automatically. Name"
                " is primarily intended for creation idempotence and configuration definition. Cannot be updated. "
                "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
            ),
            (
                "namespace",
                "string",
                "Namespace defines the space within which each name must be unique. An empty namespace is "
                'equivalent to the "default" namespace, but "default" is the canonical representation. Not all '
                "objects are required to be scoped to a namespace - the value of this field for those objects will"
                " be empty. Must be a DNS_LABEL. Cannot be updated. More info: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces",
            ),
            (
                "ownerReferences",
                "[]ref:OwnerReference",
                "List of objects depended by this object. If ALL objects in the list have been deleted, this "
                "object will be garbage collected. If this object is managed by a controller, then an entry in "
                "this list will point to this controller, with the controller field set to true. There cannot be "
                "more than one managing controller.",
            ),
            (
                "resourceVersion",
                "string",
                "An opaque value that represents the internal version of this object that can be used by clients "
                "to determine when objects have changed. May be used for optimistic concurrency, change detection,"
                " and the watch operation on a resource or set of resources. Clients must treat these values as "
                "opaque and passed unmodified back to the server. They may only be valid for a particular resource"
                " or set of resources. Populated by the system. Read-only. Value must be treated as opaque by "
                "clients and . More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#concurrency-control-and-consistency",
            ),
            (
                "selfLink",
                "string",
                "Deprecated: selfLink is a legacy read-only field that is no longer populated by the system.",
            ),
            (
                "uid",
                "string",
                "UID is the unique in time and space value for this object. It is typically generated by the "
                "server on successful creation of a resource and is not allowed to change on PUT operations. "
                "Populated by the system. Read-only. More info: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#uids",
            ),
        ),
    ),
    ("meta", "OwnerReference"): (
        "OwnerReference contains enough information to let you identify an owning object. An owning object must be"
        " in the same namespace as the dependent, or be cluster-scoped, so there is no namespace field.",
        (
            ("apiVersion", "string", "API version of the referent."),
            (
                "blockOwnerDeletion",
                "boolean",
                'If true, AND if the owner has the "foregroundDeletion" finalizer, then the owner cannot be '
                "deleted from the key-value store until this reference is removed. See "
                "https://kubernetes.io/docs/concepts/architecture/garbage-collection/#foreground-deletion for how "
                "the garbage collector interacts with this field and enforces the foreground deletion. Defaults to"
                ' false. To set this field, a user needs "delete" permission of the owner, otherwise 422 '
                "(Unprocessable Entity) will be returned.",
            ),
            ("controller", "boolean", "If true, this reference points to the managing controller."),
            (
                "kind",
                "string",
                "Kind of the referent. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            ),
            (
                "name",
                "string",
                "Name of the referent. More info: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
            ),
            (
                "uid",
                "string",
                "UID of the referent. More info: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#uids",
            ),
        ),
    ),
    ("meta", "ManagedFieldsEntry"): (
        "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset "
        "applies to.",
        (
            (
                "apiVersion",
                "string",
                "APIVersion defines the version of this resource that this field set applies to. The format is "
                '"group/version" just like the top-level APIVersion field. It is necessary to track the version of'
                " a field set because it cannot be automatically converted.",
            ),
            (
                "fieldsType",
                "string",
                "FieldsType is the discriminator for the different fields format and version. There is currently "
                'only one possible value: "FieldsV1"',
            ),
            ("fieldsV1", "object", 'FieldsV1 holds the first JSON version format as described in the "FieldsV1" type.'),
            ("manager", "string", "Manager is an identifier of the workflow managing these fields."),
            (
                "operation",
                "string",
                "Operation is the type of operation which lead to this ManagedFieldsEntry being created. The only "
                "valid values for this field are 'Apply' and 'Update'.",
            ),
            (
                "subresource",
                "string",
                "Subresource is the name of the subresource used to update that object, or empty string if the "
                "object was updated through the main resource. The value of this field is used to distinguish "
                "between managers, even if they share the same name. For example, a status update will be distinct"
                " from a regular update using the same manager name. Note that the APIVersion field is not related"
                " to the Subresource field and it always corresponds to the version of the main resource.",
            ),
            (
                "time",
                "date-time",
                "Time is the timestamp of when the ManagedFields entry was added. The timestamp will also be "
                "updated if a field is added, the manager changes any of the owned fields value or removes a "
                "field. The timestamp does not update when a field is removed from the entry because another "
                "manager took it over.",
            ),
        ),
    ),
}

_SUBTYPE_DOCS: dict[str, str] = {
    "AggregationRule": ("AggregationRule describes how to locate ClusterRoles to aggregate into the ClusterRole"),
    "CertificateSigningRequestSpec": ("CertificateSigningRequestSpec contains the certificate request."),
    "CertificateSigningRequestStatus": (
        "CertificateSigningRequestStatus contains conditions used to indicate approved/denied/failed status of the"
        " request, and the issued certificate."
    ),
    "CustomResourceDefinitionSpec": (
        "CustomResourceDefinitionSpec describes how a user wants their resource to appear"
    ),
    "CustomResourceDefinitionStatus": (
        "CustomResourceDefinitionStatus indicates the state of the CustomResourceDefinition"
    ),
    "DaemonSetSpec": ("DaemonSetSpec is the specification of a daemon set."),
    "DaemonSetStatus": ("DaemonSetStatus represents the current status of a daemon set."),
    "DeploymentSpec": ("DeploymentSpec is the specification of the desired behavior of the Deployment."),
    "DeploymentStatus": ("DeploymentStatus is the most recently observed status of the Deployment."),
    "EndpointSubset": ("EndpointSubset is a group of addresses with a common set of ports."),
    "EventSeries": (
        "EventSeries contain information on series of events, i.e. thing that was/is happening continuously for "
        "some time."
    ),
    "EventSource": ("EventSource contains information for an event."),
    "JobSpec": ("JobSpec describes how the job execution will look like."),
    "JobStatus": ("JobStatus represents the current state of a Job."),
    "LeaseSpec": ("LeaseSpec is a specification of a Lease."),
    "LocalObjectReference": (
        "LocalObjectReference contains enough information to let you locate the referenced object inside the same "
        "namespace."
    ),
    "NamespaceSpec": ("NamespaceSpec describes the attributes on a Namespace."),
    "NamespaceStatus": ("NamespaceStatus is information about the current status of a Namespace."),
    "NodeSpec": ("NodeSpec describes the attributes that a node is created with."),
    "NodeStatus": ("NodeStatus is information about the current status of a node."),
    "ObjectReference": (
        "ObjectReference contains enough information to let you inspect or modify the referred object."
    ),
    "PersistentVolumeClaimSpec": (
        "PersistentVolumeClaimSpec describes the common attributes of storage devices and allows a Source for "
        "provider-specific attributes"
    ),
    "PersistentVolumeClaimStatus": ("PersistentVolumeClaimStatus is the current status of a persistent volume claim."),
    "PodSpec": ("PodSpec is a description of a pod."),
    "PodStatus": ("PodStatus represents information about the status of a pod."),
    "PolicyRule": (
        "PolicyRule holds information that describes a policy rule, but does not contain information about who the"
        " rule applies to or which namespace the rule applies to."
    ),
    "ReplicaSetSpec": ("ReplicaSetSpec is the specification of a ReplicaSet."),
    "ReplicaSetStatus": ("ReplicaSetStatus represents the current status of a ReplicaSet."),
    "RoleRef": ("RoleRef contains information that points to the role being used"),
    "ServiceSpec": ("ServiceSpec describes the attributes that a user creates on a service."),
    "ServiceStatus": ("ServiceStatus represents the current status of a service."),
    "StatefulSetSpec": ("A StatefulSetSpec is the specification of a StatefulSet."),
    "StatefulSetStatus": ("StatefulSetStatus represents the current state of a StatefulSet."),
    "Subject": ("Subject contains a reference to the object or user identities a role binding applies to."),
}


def builtin_fields(group: str, kind: str) -> frozenset[str] | None:
    """Top-level fields of a built-in kind (besides apiVersion/kind/metadata), or None if not described."""
    entry = _BUILTIN_KINDS.get((group, kind))
    if entry is None:
        return None
    return frozenset(name for name, _, _ in entry[1])

"""OpenAPI for /openapi/v3 (an index and one document per group-version) and /openapi/v2, from the Registry.

Built-in kinds get upstream's full schemas, every field down to the leaves with its description, from the
data generated out of the Kubernetes 1.32 client (builtin/schemas.py): `kubectl explain` works at any depth.
Custom resources get their CRD's openAPIV3Schema, and kinds the data does not describe a loose schema
(x-kubernetes-preserve-unknown-fields). Every kind carries x-kubernetes-group-version-kind, and its PATCH
operation a `fieldValidation` parameter: that is kubectl's probe for server-side field validation (without it,
`apply`/`create` fall back to downloading /openapi/v2).

Writes carry a requestBody as kube's do (POST/PUT: `*/*` with the kind's schema; DELETE: DeleteOptions), so
an OpenAPI-driven client or fuzzer can build bodies. PATCH lists the patch media types the server takes, but
never application/strategic-merge-patch+json: kubectl's `apply` builds its patch from this document only when
that key is there (gvkSupportsPatchOpenAPIV3), and the generated schemas lack the patch merge keys of nested
lists (the client's models do not carry them); without it, kubectl uses its compiled-in types. Unlike kube's
(one opaque `Patch` object for every patch type), each patch type gets a schema of its shape: the kind's for
merge and apply patches, a list of operations for JSON patches.

/openapi/v2 is the same content as one Swagger 2.0 document, as JSON or as the gnostic protobuf kube also serves
(openapiv2proto.py): client-go's OpenAPISchema asks for that protobuf alone, and kubectl 1.37 validates with it
what /openapi/v3 does not describe, `kind: List` above all (`kubectl apply -f` of a List needs it).

Pure functions with deterministic output; the caller caches them per Registry.generation.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from gardener.apiserver import openapiv2proto
from gardener.apiserver.builtin import schemas as builtin_schemas
from gardener.apiserver.resources import Registry, ResourceInfo

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_REF = "#/components/schemas/"
_V2_REF = "#/definitions/"
OBJECT_META = f"{_META}.ObjectMeta"
LIST_META = f"{_META}.ListMeta"
STATUS = f"{_META}.Status"
DELETE_OPTIONS = f"{_META}.DeleteOptions"
#: RFC 6902 operations; kube names no schema for it (its PATCH bodies are all one opaque `Patch` object)
JSON_PATCH = f"{_META}.JSONPatch"
#: the v2 document's body of every PATCH (Swagger 2.0 has one body schema per operation)
PATCH = f"{_META}.Patch"
#: the patch media types every PATCH operation lists (strategic merge patch deliberately not: see above)
PATCH_MEDIA_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json")
_SCALE = "io.k8s.api.autoscaling.v1.Scale"
_SCALE_GVK = {"group": "autoscaling", "version": "v1", "kind": "Scale"}

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
        _add_kind_schemas(info, name, schemas)
        paths.update(_resource_paths(info, name, schemas=schemas))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def v2_document(registry: Registry) -> dict[str, Any]:
    """GET /openapi/v2: every group-version's paths and schemas in one Swagger 2.0 document."""
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {
        PATCH: {
            "description": "The body of a PATCH request: its shape depends on the request's Content-Type "
            "(JSON Patch, JSON merge patch or server-side apply).",
            "type": "object",
        }
    }
    for group, versions in sorted(registry.groups().items()):
        for version in sorted(versions):
            document = v3_group_version(registry, group, version)
            if document is None:
                continue
            for path, item in document["paths"].items():
                paths[path] = {
                    key: [_v2_parameter(p) for p in value] if key == "parameters" else _v2_operation(value)
                    for key, value in item.items()
                }
            for name, schema in document["components"]["schemas"].items():
                if name != JSON_PATCH and name not in definitions:
                    # built-in definitions as the data has them: Swagger 2.0 already, as upstream's v2
                    builtin = builtin_schemas.definition(name)
                    definitions[name] = copy.deepcopy(builtin) if builtin is not None else _v2_schema(schema)
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": dict(sorted(paths.items())),
        "definitions": dict(sorted(definitions.items())),
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "in": "header",
                "name": "authorization",
                "type": "apiKey",
            }
        },
        "security": [{"BearerToken": []}],
    }


#: what GET /openapi/v2 can answer with, and the Content-Type of its JSON form
V2_MEDIA_TYPES = openapiv2proto.MEDIA_TYPES
V2_JSON = openapiv2proto.JSON_MEDIA_TYPE


def v2_media_type(accept: str) -> str | None:
    """The Content-Type GET /openapi/v2 answers this Accept header with (JSON or protobuf), None for 406."""
    return openapiv2proto.negotiate(accept)


def v2_protobuf(document: dict[str, Any]) -> bytes:
    """`v2_document`'s result as the `openapi.v2.Document` protobuf kube serves next to the JSON."""
    return openapiv2proto.encode_document(document)


def schema_name(info: ResourceInfo) -> str:
    """components.schemas key of a kind, named like kube: io.k8s.api.core.v1.ConfigMap, <reversed group>.<v>.<Kind>."""
    if not info.is_custom:
        name = builtin_schemas.definition_name(group=info.group, version=info.version, kind=info.kind)
        if name is not None:
            return name
    return f"{_package(info)}.{info.version}.{info.kind}"


@functools.cache
def builtin_fields(group: str, kind: str) -> frozenset[str] | None:
    """Top-level fields of a built-in kind (besides apiVersion/kind/metadata) in the first version upstream
    serves it in, or None if the data does not describe it."""
    for served in builtin_schemas.served_resources():
        if served.group == group and served.kind == kind:
            fields = builtin_schemas.top_level_fields(group=group, version=served.version, kind=kind)
            if fields is not None:
                return fields - {"apiVersion", "kind", "metadata"}
    return None


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


def _v3(schema: Any) -> Any:
    """A definition of the built-in data (Swagger 2.0 style) as an OpenAPI 3 schema: references point into
    components, and a reference with siblings (a field's description) is wrapped in allOf, as kube writes it."""
    if isinstance(schema, list):
        return [_v3(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        key: {prop: _v3(sub) for prop, sub in value.items()} if key == "properties" else _v3(value)
        for key, value in schema.items()
        if key != "$ref"
    }
    name = builtin_schemas.ref_name(schema)
    if name is None:
        return out
    if not out:
        return {"$ref": _REF + name}
    return {"allOf": [{"$ref": _REF + name}], **out}


#: types that take one of several JSON types: OpenAPI 3 says so with oneOf (Swagger 2.0 could only say string),
#: and kubectl explain names them (`<map[string]Quantity>`) because the schema has no single type
_ONE_OF = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]},
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
}


def _add_definitions(schemas: dict[str, Any], names: list[str]) -> None:
    """The named built-in definitions and all they reference, as v3 schemas."""
    for name in builtin_schemas.referenced(names):
        if name not in schemas:
            schemas[name] = copy.deepcopy(_ONE_OF[name]) if name in _ONE_OF else _v3(builtin_schemas.definition(name))


def _add_meta_schemas(schemas: dict[str, Any]) -> None:
    _add_definitions(schemas, [OBJECT_META, LIST_META, STATUS, DELETE_OPTIONS])
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


def _add_kind_schemas(info: ResourceInfo, name: str, schemas: dict[str, Any]) -> None:
    """The kind's schema and its list's: upstream's for a built-in kind the data describes, else built here."""
    if not info.is_custom and builtin_schemas.definition(name) is not None:
        list_name = builtin_schemas.definition_name(group=info.group, version=info.version, kind=info.list_kind)
        _add_definitions(schemas, [name] if list_name is None else [name, list_name])
        if list_name is None:
            schemas[f"{name}List"] = _list_schema(info, name)
        return
    if info.is_custom or info.schema is not None:
        schema = _custom_schema(info)
    else:
        schema = {
            "description": f"{info.kind} is a built-in kind.",
            "type": "object",
            "properties": {**_type_meta_properties(), "metadata": _ref(OBJECT_META, _METADATA_DESC)},
            "x-kubernetes-preserve-unknown-fields": True,
        }
    schema["properties"] = dict(sorted(schema["properties"].items()))
    schema["x-kubernetes-group-version-kind"] = [_gvk(info)]
    schemas[name] = schema
    schemas[f"{name}List"] = _list_schema(info, name)


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
        _add_definitions(schemas, [_SCALE])
        subresources.append(("scale", _SCALE_GVK, _SCALE, ("get", "put", "patch")))
    for extra in info.extra_subresources:
        described = _builtin_subresource(info, extra)
        if described is None:
            methods: tuple[str, ...] = ("put",) if extra == "finalize" else ("get", "put", "patch")
            subresources.append((extra, None, name, methods))
            continue
        if not described.definition:
            continue  # streams (log, exec, attach, portforward, proxy) have no schema to offer
        _add_definitions(schemas, [described.definition])
        methods = tuple(_VERB_METHODS[v] for v in described.verbs if v in _VERB_METHODS)
        gvk = None
        if described.definition != name:
            tags = builtin_schemas.definition(described.definition) or {}
            gvk = dict((tags.get("x-kubernetes-group-version-kind") or [None])[0] or {}) or None
        subresources.append((extra, gvk, described.definition, methods))
    for sub, gvk, response, methods in subresources:
        sub_ops = {m: ops.operation(m, subresource=sub, gvk=gvk, response=response) for m in methods}
        _add_path(paths, f"{base}/{{name}}/{sub}", operations=sub_ops, params=item_params)
    return paths


def _add_path(
    paths: dict[str, Any], path: str, *, operations: dict[str, Any], params: tuple[dict[str, Any], ...]
) -> None:
    if operations:
        paths[path] = {**operations, "parameters": [dict(p) for p in params]}


#: a subresource verb of the built-in data -> the HTTP method of its operation
_VERB_METHODS = {"get": "get", "update": "put", "patch": "patch", "create": "post", "delete": "delete"}


def _builtin_subresource(info: ResourceInfo, name: str) -> builtin_schemas.Subresource | None:
    if info.is_custom:
        return None
    for served in builtin_schemas.served_resources():
        if (served.group, served.version, served.plural) == (info.group, info.version, info.plural):
            return next((sub for sub in served.subresources if sub.name == name), None)
    return None


# --------------------------------------------------------------------------------------------------
# Swagger 2.0 (/openapi/v2) from the v3 documents
# --------------------------------------------------------------------------------------------------

#: JSON Schema keywords OpenAPI 3 allows and Swagger 2.0 does not (kube drops them from CRD schemas in v2 too)
_V3_ONLY = frozenset({"nullable", "oneOf", "anyOf", "not"})
#: keywords whose value maps names to schemas (the names themselves are never keywords)
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions"})


def _v2_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_v2_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _V3_ONLY:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _v2_schema(sub) for name, sub in value.items()}
        elif key == "$ref" and isinstance(value, str):
            out[key] = _V2_REF + value.removeprefix(_REF)
        else:
            out[key] = _v2_schema(value)
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and set(all_of[0]) == {"$ref"}:
        # a described reference: Swagger 2.0 writes the reference and its siblings side by side
        out = {**{k: v for k, v in out.items() if k not in ("allOf", "default")}, "$ref": all_of[0]["$ref"]}
    return out


def _v2_parameter(param: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in param.items() if k != "schema"}
    out.update(param.get("schema", {}))
    return out


def _v2_operation(op: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in op.items() if k not in ("parameters", "requestBody", "responses")}
    params = [_v2_parameter(p) for p in op.get("parameters", [])]
    body = op.get("requestBody")
    if body is not None:
        content = body["content"]
        schema = {"$ref": _V2_REF + PATCH} if op.get("x-kubernetes-action") == "patch" else None
        if schema is None:
            schema = _v2_schema(next(iter(content.values()))["schema"])
        params.insert(0, {"in": "body", "name": "body", "required": bool(body.get("required")), "schema": schema})
        out["consumes"] = list(content)
    if params:
        out["parameters"] = params
    responses: dict[str, Any] = {}
    for code, response in op.get("responses", {}).items():
        converted = {"description": response.get("description", "")}
        content = response.get("content")
        if content:
            converted["schema"] = _v2_schema(next(iter(content.values()))["schema"])
        responses[code] = converted
    out["responses"] = responses
    out["produces"] = ["application/json", "application/yaml"]
    out["schemes"] = ["https"]
    return out

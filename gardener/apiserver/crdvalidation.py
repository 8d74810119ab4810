"""Validation and defaulting of a CustomResourceDefinition object itself (apiextensions.k8s.io/v1).

The rules and messages follow apiextensions-apiserver's ValidateCustomResourceDefinition for a create of
a v1 CRD, including the structural-schema rules that make pruning and defaulting well defined, so that
tools which apply CRDs (kubectl, helm, operators) see the same 422 causes as against kube-apiserver.
Update-only rules (immutable names/scope once established) belong to the caller, which has both objects.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, Final

from gardener.apiserver.errors import FieldCause
from gardener.apiserver.schema import (
    compile_pattern,
    compile_schema,
    dns1035_label_errors,
    dns1123_subdomain_errors,
    field_forbidden,
    field_invalid,
    field_not_supported,
    field_required,
    json_copy,
    json_equal,
)

_SCOPES: Final = ("Cluster", "Namespaced")
_OPENAPI_TYPES: Final = ("array", "boolean", "integer", "number", "object", "string")
_PRINTER_TYPES: Final = "boolean,date,integer,number,string"
_PRINTER_FORMATS: Final = "byte,date,date-time,double,float,int32,int64,password"
_CONVERSION_REVIEW_VERSIONS: Final = ("v1", "v1beta1")
_META_FIELDS: Final = frozenset({"metadata", "kind", "apiVersion"})

# JSONSchemaProps fields in Go struct order, with their Go names: the status-subresource root check
# reports the first offending field by its Go name, exactly like kube.
_GO_FIELDS: Final = (
    ("id", "ID"),
    ("$schema", "Schema"),
    ("$ref", "Ref"),
    ("description", "Description"),
    ("type", "Type"),
    ("nullable", "Nullable"),
    ("format", "Format"),
    ("title", "Title"),
    ("default", "Default"),
    ("maximum", "Maximum"),
    ("exclusiveMaximum", "ExclusiveMaximum"),
    ("minimum", "Minimum"),
    ("exclusiveMinimum", "ExclusiveMinimum"),
    ("maxLength", "MaxLength"),
    ("minLength", "MinLength"),
    ("pattern", "Pattern"),
    ("maxItems", "MaxItems"),
    ("minItems", "MinItems"),
    ("uniqueItems", "UniqueItems"),
    ("multipleOf", "MultipleOf"),
    ("enum", "Enum"),
    ("maxProperties", "MaxProperties"),
    ("minProperties", "MinProperties"),
    ("required", "Required"),
    ("items", "Items"),
    ("allOf", "AllOf"),
    ("oneOf", "OneOf"),
    ("anyOf", "AnyOf"),
    ("not", "Not"),
    ("properties", "Properties"),
    ("additionalProperties", "AdditionalProperties"),
    ("patternProperties", "PatternProperties"),
    ("dependencies", "Dependencies"),
    ("additionalItems", "AdditionalItems"),
    ("definitions", "Definitions"),
    ("externalDocs", "ExternalDocs"),
    ("example", "Example"),
    ("x-kubernetes-preserve-unknown-fields", "XPreserveUnknownFields"),
    ("x-kubernetes-embedded-resource", "XEmbeddedResource"),
    ("x-kubernetes-int-or-string", "XIntOrString"),
    ("x-kubernetes-list-map-keys", "XListMapKeys"),
    ("x-kubernetes-list-type", "XListType"),
    ("x-kubernetes-map-type", "XMapType"),
    ("x-kubernetes-validations", "XValidations"),
)
_ALLOWED_AT_STATUS_ROOT: Final = (
    "Description",
    "Type",
    "Format",
    "Title",
    "Maximum",
    "ExclusiveMaximum",
    "Minimum",
    "ExclusiveMinimum",
    "MaxLength",
    "MinLength",
    "Pattern",
    "MaxItems",
    "MinItems",
    "UniqueItems",
    "MultipleOf",
    "Required",
    "Items",
    "Properties",
    "ExternalDocs",
    "Example",
    "XPreserveUnknownFields",
    "XValidations",
)
_INT_OR_STRING_ANY_OF: Final = [{"type": "integer"}, {"type": "string"}]
_NEWLINES: Final = re.compile(r"[\n\r]")

_ROOT, _ITEM, _FIELD = 0, 1, 2


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_zero(value: Any) -> bool:
    """Go's zero value test as kube's reflection sees a decoded JSONSchemaProps field."""
    return value is None or value is False or (isinstance(value, str | list | dict) and not value)


# --------------------------------------------------------------------------------------------------
# Defaulting


def default_crd(crd: dict[str, Any]) -> None:
    """Apply apiextensions v1 defaults in place: singular, listKind, conversion, served/storage, storedVersions."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict):
        kind = _str(names.get("kind"))
        if not names.get("singular"):
            names["singular"] = kind.lower()
        if not names.get("listKind") and kind:
            names["listKind"] = kind + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    conversion = spec.get("conversion")
    if isinstance(conversion, dict):
        service = _dict(_dict(_dict(conversion.get("webhook")).get("clientConfig")).get("service"))
        if service and service.get("port") is None:
            service["port"] = 443
    storage = None
    for version in _list(spec.get("versions")):
        if isinstance(version, dict):
            version.setdefault("served", False)
            version.setdefault("storage", False)
            if version["storage"] is True and storage is None:
                storage = version.get("name")
    if isinstance(storage, str):
        status = crd.get("status")
        if status is None:
            crd["status"] = status = {}
        if isinstance(status, dict) and not status.get("storedVersions"):
            status["storedVersions"] = [storage]


# --------------------------------------------------------------------------------------------------
# Validation


def validate_crd(crd: dict[str, Any]) -> list[FieldCause]:
    """Every problem with a v1 CustomResourceDefinition about to be created, as kube reports it."""
    errs: list[FieldCause] = []
    meta = _dict(crd.get("metadata"))
    spec = _dict(crd.get("spec"))
    names = _dict(spec.get("names"))
    group = _str(spec.get("group"))
    _validate_name(meta, f"{_str(names.get('plural'))}.{group}", errs)
    _validate_spec(spec, errs)
    status = crd.get("status")
    if isinstance(status, dict):
        if isinstance(status.get("acceptedNames"), dict):
            _validate_names(status["acceptedNames"], "status.acceptedNames", errs)
        stored = status.get("storedVersions")
        if isinstance(stored, list) and stored:
            _validate_stored_versions(stored, _list(spec.get("versions")), errs)
    if spec.get("preserveUnknownFields") is True:
        errs.append(
            field_invalid(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-preserve-unknown-fields to true in spec.versions[*].schema instead",
            )
        )
    return errs


def _validate_name(meta: dict[str, Any], required_name: str, errs: list[FieldCause]) -> None:
    name = meta.get("name")
    generate_name = meta.get("generateName")
    if isinstance(name, str) and name:
        path, value = "metadata.name", name
    elif isinstance(generate_name, str) and generate_name:
        path, value = "metadata.generateName", generate_name
    else:
        errs.append(field_required("metadata.name", "name or generateName is required"))
        return
    for msg in dns1123_subdomain_errors(value):
        errs.append(field_invalid(path, value, msg))
    if value != required_name:
        errs.append(field_invalid(path, value, 'must be spec.names.plural+"."+spec.group'))


def _validate_spec(spec: dict[str, Any], errs: list[FieldCause]) -> None:
    group = spec.get("group")
    if not isinstance(group, str) or not group:
        errs.append(field_required("spec.group"))
    elif problems := dns1123_subdomain_errors(group):
        errs.append(field_invalid("spec.group", group, ",".join(problems)))
    elif "." not in group:
        errs.append(field_invalid("spec.group", group, "should be a domain with at least one dot"))

    scope = spec.get("scope")
    if not scope:
        errs.append(field_required("spec.scope"))
    elif scope not in _SCOPES:
        errs.append(field_not_supported("spec.scope", scope, _SCOPES))

    versions = _list(spec.get("versions"))
    preserve_unknown = spec.get("preserveUnknownFields") is True
    for i, version in enumerate(versions):
        schema = _dict(_dict(version).get("schema")).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errs.append(field_required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required"))
    if preserve_unknown and any(_has_default(_dict(_dict(v).get("schema")).get("openAPIV3Schema")) for v in versions):
        errs.append(
            field_invalid("spec.preserveUnknownFields", True, "must be false in order to use defaults in the schema")
        )

    storage_count = 0
    seen: set[str] = set()
    unique = True
    for i, raw_version in enumerate(versions):
        version = _dict(raw_version)
        path = f"spec.versions[{i}]"
        name = _str(version.get("name"))
        if version.get("storage") is True:
            storage_count += 1
        if name in seen:
            unique = False
        seen.add(name)
        if problems := dns1035_label_errors(name):
            errs.append(field_invalid(f"{path}.name", name, ",".join(problems)))
        _validate_version(version, path, errs)
    # kube prints the whole versions struct as the bad value; the names say the same in a readable size.
    version_names = [_dict(v).get("name") for v in versions]
    if not unique:
        errs.append(field_invalid("spec.versions", version_names, "must contain unique version names"))
    if storage_count != 1:
        errs.append(
            field_invalid("spec.versions", version_names, "must have exactly one version marked as storage version")
        )

    names = _dict(spec.get("names"))
    for key in ("plural", "singular", "kind", "listKind"):
        if not names.get(key):
            errs.append(field_required(f"spec.names.{key}"))
    _validate_names(names, "spec.names", errs)

    conversion = spec.get("conversion")
    if isinstance(conversion, dict):
        strategy = conversion.get("strategy")
        if strategy not in (None, "None") and preserve_unknown:
            errs.append(
                field_invalid(
                    "spec.conversion.strategy", strategy, "must be None if spec.preserveUnknownFields is true"
                )
            )
        _validate_conversion(conversion, errs)


def _validate_version(version: dict[str, Any], path: str, errs: list[FieldCause]) -> None:
    warning = version.get("deprecationWarning")
    if warning is not None:
        for msg in _deprecation_warning_errors(version.get("deprecated") is True, warning):
            errs.append(field_invalid(f"{path}.deprecationWarning", warning, msg))
    subresources = version.get("subresources")
    status_enabled = isinstance(subresources, dict) and subresources.get("status") is not None
    schema = _dict(version.get("schema")).get("openAPIV3Schema")
    if isinstance(schema, dict):
        _validate_schema(schema, f"{path}.schema.openAPIV3Schema", status_enabled, errs)
    if isinstance(subresources, dict):
        _validate_subresources(subresources, f"{path}.subresources", errs)
    for j, column in enumerate(_list(version.get("additionalPrinterColumns"))):
        _validate_column(_dict(column), f"{path}.additionalPrinterColumns[{j}]", errs)


def _deprecation_warning_errors(deprecated: bool, warning: Any) -> list[str]:
    if not deprecated:
        return ["can only be set for deprecated versions"]
    if not isinstance(warning, str):
        return ["must be a string"]
    problems = []
    if len(warning) > 256:
        problems.append("must be <= 256 characters long")
    if not warning:
        problems.append("must not be an empty string")
    for i, ch in enumerate(warning):
        if not ch.isprintable():
            problems.append(f"must only contain printable UTF-8 characters; non-printable character found at index {i}")
            break
    return problems


def _validate_names(names: dict[str, Any], path: str, errs: list[FieldCause]) -> None:
    for key in ("plural", "singular"):
        value = names.get(key)
        if isinstance(value, str) and value and (problems := dns1035_label_errors(value)):
            errs.append(field_invalid(f"{path}.{key}", value, ",".join(problems)))
    for key in ("kind", "listKind"):
        value = names.get(key)
        if isinstance(value, str) and value and (problems := dns1035_label_errors(value.lower())):
            detail = "may have mixed case, but should otherwise match: " + ",".join(problems)
            errs.append(field_invalid(f"{path}.{key}", value, detail))
    for key in ("shortNames", "categories"):
        for i, value in enumerate(_list(names.get(key))):
            if problems := dns1035_label_errors(_str(value)):
                errs.append(field_invalid(f"{path}.{key}[{i}]", value, ",".join(problems)))
    kind = names.get("kind")
    if isinstance(kind, str) and kind and kind == names.get("listKind"):
        errs.append(field_invalid(f"{path}.listKind", kind, "kind and listKind may not be the same"))


def _validate_stored_versions(stored: list[Any], versions: list[Any], errs: list[FieldCause]) -> None:
    remaining = {v: i for i, v in enumerate(stored) if isinstance(v, str)}
    for version in versions:
        version = _dict(version)
        name = _str(version.get("name"))
        found = name in remaining
        if version.get("storage") is True and not found:
            errs.append(field_invalid("status.storedVersions", version, f"must have the storage version {name}"))
        if found:
            del remaining[name]
    for value, i in remaining.items():
        errs.append(field_invalid(f"status.storedVersions[{i}]", value, "must appear in spec.versions"))


def _validate_conversion(conversion: dict[str, Any], errs: list[FieldCause]) -> None:
    strategy = conversion.get("strategy")
    if not strategy:
        errs.append(field_required("spec.conversion.strategy"))
    elif strategy not in ("None", "Webhook"):
        errs.append(field_not_supported("spec.conversion.strategy", strategy, ("None", "Webhook")))
    webhook = conversion.get("webhook")
    if strategy != "Webhook":
        if webhook is not None:
            errs.append(
                field_forbidden("spec.conversion.webhook", "should not be set when strategy is not set to Webhook")
            )
        return
    if not isinstance(webhook, dict) or not isinstance(webhook.get("clientConfig"), dict):
        errs.append(field_required("spec.conversion.webhook", "required when strategy is set to Webhook"))
        return
    config = webhook["clientConfig"]
    config_path = "spec.conversion.webhook.clientConfig"
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        errs.append(field_required(config_path, "exactly one of url or service is required"))
    elif url is not None:
        _validate_webhook_url(_str(url), f"{config_path}.url", errs)
    else:
        _validate_webhook_service(_dict(service), f"{config_path}.service", errs)
    _validate_review_versions(webhook.get("conversionReviewVersions"), errs)


def _validate_webhook_url(url: str, path: str, errs: list[FieldCause]) -> None:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "https":
        errs.append(field_invalid(path, url, "'https' is the only allowed URL scheme"))
    if not parsed.hostname:
        errs.append(field_invalid(path, url, "host must be specified"))
    if parsed.username is not None:
        errs.append(field_invalid(path, url, "user information is not permitted in the URL"))
    if parsed.fragment or "#" in url:
        errs.append(field_invalid(path, url, "fragments are not permitted in the URL"))
    if parsed.query or "?" in url:
        errs.append(field_invalid(path, url, "query parameters are not permitted in the URL"))


def _validate_webhook_service(service: dict[str, Any], path: str, errs: list[FieldCause]) -> None:
    if not service.get("name"):
        errs.append(field_required(f"{path}.name", "service name is required"))
    if not service.get("namespace"):
        errs.append(field_required(f"{path}.namespace", "service namespace is required"))
    svc_path = service.get("path")
    if isinstance(svc_path, str) and svc_path and not svc_path.startswith("/"):
        errs.append(field_invalid(f"{path}.path", svc_path, "must start with a '/'"))
    port = service.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        errs.append(field_invalid(f"{path}.port", port, "port is not valid: must be between 1 and 65535, inclusive"))


def _validate_review_versions(versions: Any, errs: list[FieldCause]) -> None:
    path = "spec.conversion.webhook.conversionReviewVersions"
    if not isinstance(versions, list) or not versions:
        errs.append(field_required(path))
        return
    seen: set[str] = set()
    for i, version in enumerate(versions):
        value = _str(version)
        if value in seen:
            errs.append(field_invalid(f"{path}[{i}]", version, "duplicate version"))
            continue
        seen.add(value)
        for msg in dns1035_label_errors(value):
            errs.append(field_invalid(f"{path}[{i}]", version, msg))
    if not seen & set(_CONVERSION_REVIEW_VERSIONS):
        errs.append(
            field_invalid(path, versions, "must include at least one of " + ", ".join(_CONVERSION_REVIEW_VERSIONS))
        )


def _validate_subresources(subresources: dict[str, Any], path: str, errs: list[FieldCause]) -> None:
    scale = subresources.get("scale")
    if not isinstance(scale, dict):
        return
    for key, prefixes, where in (
        ("specReplicasPath", (".spec.",), ".spec"),
        ("statusReplicasPath", (".status.",), ".status"),
    ):
        value = _str(scale.get(key))
        field_path = f"{path}.scale.{key}"
        if not value:
            errs.append(field_required(field_path))
        elif not _simple_json_path(value, field_path, errs) and not value.startswith(prefixes):
            errs.append(field_invalid(field_path, value, f"should be a json path under {where}"))
    selector = _str(scale.get("labelSelectorPath"))
    selector_path = f"{path}.scale.labelSelectorPath"
    if (
        selector
        and not _simple_json_path(selector, selector_path, errs)
        and not selector.startswith((".spec.", ".status."))
    ):
        errs.append(field_invalid(selector_path, selector, "should be a json path under either .spec or .status"))


def _simple_json_path(value: str, path: str, errs: list[FieldCause]) -> bool:
    """Report a malformed ".a.b" path; True when something was reported."""
    if not value:
        errs.append(field_invalid(path, value, "must not be empty"))
        return True
    if value[0] != ".":
        errs.append(field_invalid(path, value, "must be a simple json path starting with ."))
        return True
    return False


def _validate_column(column: dict[str, Any], path: str, errs: list[FieldCause]) -> None:
    if not column.get("name"):
        errs.append(field_required(f"{path}.name"))
    col_type = column.get("type")
    if not col_type:
        errs.append(field_required(f"{path}.type", f"must be one of {_PRINTER_TYPES}"))
    elif col_type not in _PRINTER_TYPES.split(","):
        errs.append(field_invalid(f"{path}.type", col_type, f"must be one of {_PRINTER_TYPES}"))
    col_format = column.get("format")
    if col_format and col_format not in _PRINTER_FORMATS.split(","):
        errs.append(field_invalid(f"{path}.format", col_format, f"must be one of {_PRINTER_FORMATS}"))
    json_path = _str(column.get("jsonPath"))
    if not json_path:
        errs.append(field_required(f"{path}.JSONPath"))
    else:
        _simple_json_path(json_path, f"{path}.JSONPath", errs)


# --------------------------------------------------------------------------------------------------
# openAPIV3Schema


def _validate_schema(schema: dict[str, Any], path: str, status_enabled: bool, errs: list[FieldCause]) -> None:
    if status_enabled:
        _check_status_root(schema, path, errs)
    if schema.get("nullable") is True:
        errs.append(field_forbidden(f"{path}.nullable", "nullable cannot be true at the root"))
    walker = _OpenAPIWalker()
    walker.walk(schema, path, allow_defaults=True, no_default_reason="", inside_meta=False, is_root=True)
    errs.extend(walker.errs)
    if walker.unconvertible:
        return
    structural: list[FieldCause] = []
    _structural_invariants(schema, path, _ROOT, structural)
    _structural_completeness(schema, schema, path, path, structural)
    structural.sort(key=lambda c: f"{c.field}: {c.message}")
    if structural:
        errs.extend(structural)
        return
    _validate_defaults(schema, path, errs, inside_meta=False, embedded_root=True)


def _check_status_root(schema: dict[str, Any], path: str, errs: list[FieldCause]) -> None:
    """With the status subresource, status is cut out as properties[status]; the root may not constrain more."""
    for key, go_name in _GO_FIELDS:
        value = schema.get(key)
        if _is_zero(value):
            continue
        if go_name == "Type":
            if value != "object":
                detail = 'only "object" is allowed as the type at the root of the schema'
                detail += " if the status subresource is enabled"
                errs.append(field_invalid(f"{path}.type", value, detail))
                return
            continue
        if go_name not in _ALLOWED_AT_STATUS_ROOT:
            allowed = "[" + " ".join(_ALLOWED_AT_STATUS_ROOT) + "]"
            detail = f"only {allowed} fields are allowed at the root of the schema if the status subresource is enabled"
            errs.append(field_invalid(path, key, detail))  # kube shows the whole schema; the field is what matters
            return


def _has_default(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    if schema.get("default") is not None:
        return True
    for key in ("items", "not", "additionalProperties"):
        if _has_default(schema.get(key)):
            return True
    for key in ("allOf", "anyOf", "oneOf"):
        if any(_has_default(s) for s in _list(schema.get(key))):
            return True
    return any(_has_default(s) for s in _dict(schema.get("properties")).values())


class _OpenAPIWalker:
    """ValidateCustomResourceDefinitionOpenAPISchema: per-node rules of CRD schemas, independent of structure."""

    def __init__(self) -> None:
        self.errs: list[FieldCause] = []
        # Set when the schema uses something NewStructural rejects; structural checks are then skipped.
        self.unconvertible = False

    def _unsupported(self, path: str, detail: str) -> None:
        self.errs.append(field_forbidden(path, detail))
        self.unconvertible = True

    def walk(
        self,
        schema: Any,
        path: str,
        *,
        allow_defaults: bool,
        no_default_reason: str,
        inside_meta: bool,
        is_root: bool,
    ) -> None:
        errs = self.errs
        if not isinstance(schema, dict):
            errs.append(field_invalid(path, schema, "must be an object"))
            self.unconvertible = True
            return
        s = schema
        typ = s.get("type")
        if typ is not None and not isinstance(typ, str):
            errs.append(field_invalid(f"{path}.type", typ, "must be a string"))
            self.unconvertible = True
        elif typ and typ not in _OPENAPI_TYPES:
            errs.append(field_not_supported(f"{path}.type", typ, _OPENAPI_TYPES))
        if s.get("default") is not None and not allow_defaults:
            detail = "must not be set" + (f" {no_default_reason}" if no_default_reason else "")
            errs.append(field_forbidden(f"{path}.default", detail))
        if s.get("id"):
            self._unsupported(f"{path}.id", "id is not supported")
        if s.get("$schema"):
            self._unsupported(f"{path}.$schema", "$schema is not supported")
        if s.get("additionalItems") is not None:
            self._unsupported(f"{path}.additionalItems", "additionalItems is not supported")
        if s.get("patternProperties"):
            self._unsupported(f"{path}.patternProperties", "patternProperties is not supported")
        if s.get("definitions"):
            self._unsupported(f"{path}.definitions", "definitions is not supported")
        if s.get("dependencies") is not None:
            self._unsupported(f"{path}.dependencies", "dependencies is not supported")
        if s.get("$ref") is not None:
            self._unsupported(f"{path}.$ref", "$ref is not supported")
        if typ == "null":
            errs.append(field_forbidden(f"{path}.type", "type cannot be set to null, use nullable as an alternative"))
        items = s.get("items")
        if isinstance(items, list):
            self._unsupported(f"{path}.items", "items must be a schema object and not an array")
        if inside_meta and s.get("x-kubernetes-embedded-resource") is True:
            errs.append(
                field_forbidden(f"{path}.x-kubernetes-embedded-resource", "must not be used inside of resource meta")
            )
        if s.get("uniqueItems") is True:
            errs.append(
                field_forbidden(
                    f"{path}.uniqueItems",
                    "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
                )
            )

        props = s.get("properties")
        if props is not None and not isinstance(props, dict):
            errs.append(field_invalid(f"{path}.properties", props, "must be an object"))
            self.unconvertible = True
            props = {}
        props = props or {}
        additional = s.get("additionalProperties")
        if additional is not None:
            if props and (additional is False or isinstance(additional, dict)):
                errs.append(
                    field_forbidden(
                        f"{path}.additionalProperties", "additionalProperties and properties are mutual exclusive"
                    )
                )
            if isinstance(additional, dict):
                sub_allow, sub_reason = allow_defaults, no_default_reason
                if inside_meta:
                    sub_allow, sub_reason = False, "inside additionalProperties applying to object metadata"
                self.walk(
                    additional,
                    f"{path}.additionalProperties",
                    allow_defaults=sub_allow,
                    no_default_reason=sub_reason,
                    inside_meta=inside_meta,
                    is_root=False,
                )
            elif not isinstance(additional, bool):
                errs.append(field_invalid(f"{path}.additionalProperties", additional, "must be a boolean or an object"))
                self.unconvertible = True

        embedded = s.get("x-kubernetes-embedded-resource") is True
        for key, sub in props.items():
            sub_allow, sub_reason, sub_meta = allow_defaults, no_default_reason, inside_meta
            if (is_root or embedded) and key in _META_FIELDS:
                sub_meta = True
                if is_root:
                    sub_allow, sub_reason = False, f"in top-level {key}"
            self.walk(
                sub,
                f"{path}.properties[{key}]",
                allow_defaults=sub_allow,
                no_default_reason=sub_reason,
                inside_meta=sub_meta,
                is_root=False,
            )

        nested: list[tuple[Any, str]] = []
        if "not" in s and s["not"] is not None:
            nested.append((s["not"], f"{path}.not"))
        for key in ("allOf", "oneOf", "anyOf"):
            nested.extend((sub, f"{path}.{key}[{i}]") for i, sub in enumerate(_list(s.get(key))))
        if isinstance(items, dict):
            nested.append((items, f"{path}.items"))
        for sub, sub_path in nested:
            self.walk(
                sub,
                sub_path,
                allow_defaults=allow_defaults,
                no_default_reason=no_default_reason,
                inside_meta=inside_meta,
                is_root=False,
            )

        if s.get("x-kubernetes-preserve-unknown-fields") is False:
            errs.append(
                field_invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined")
            )
            self.unconvertible = True
        self._extensions(s, path, typ)

    def _extensions(self, s: dict[str, Any], path: str, typ: Any) -> None:
        errs = self.errs
        map_type = s.get("x-kubernetes-map-type")
        if map_type is not None:
            if typ != "object":
                detail = "must be object if x-kubernetes-map-type is specified"
                errs.append(
                    field_invalid(f"{path}.type", typ, detail) if typ else field_required(f"{path}.type", detail)
                )
            if map_type not in ("atomic", "granular"):
                errs.append(field_not_supported(f"{path}.x-kubernetes-map-type", map_type, ("atomic", "granular")))

        list_type = s.get("x-kubernetes-list-type")
        items = s.get("items")
        item_schema = items if isinstance(items, dict) else None
        if list_type is not None and typ != "array":
            detail = "must be array if x-kubernetes-list-type is specified"
            errs.append(field_invalid(f"{path}.type", typ, detail) if typ else field_required(f"{path}.type", detail))
        elif list_type == "set" and item_schema is not None:
            item_type = item_schema.get("type")
            if item_type == "array" and item_schema.get("x-kubernetes-list-type") not in (None, "atomic"):
                errs.append(
                    field_invalid(
                        f"{path}.items.x-kubernetes-list-type",
                        item_schema.get("x-kubernetes-list-type"),
                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                    )
                )
            elif item_type == "object" and item_schema.get("x-kubernetes-map-type") != "atomic":
                errs.append(
                    field_invalid(
                        f"{path}.items.x-kubernetes-map-type",
                        item_schema.get("x-kubernetes-list-type"),
                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                    )
                )
        if list_type is not None and list_type not in ("atomic", "set", "map"):
            errs.append(field_not_supported(f"{path}.x-kubernetes-list-type", list_type, ("atomic", "set", "map")))

        map_keys = _list(s.get("x-kubernetes-list-map-keys"))
        if map_keys:
            detail = "must be map if x-kubernetes-list-map-keys is non-empty"
            if list_type is None:
                errs.append(field_required(f"{path}.x-kubernetes-list-type", detail))
            elif list_type != "map":
                errs.append(field_invalid(f"{path}.x-kubernetes-list-type", list_type, detail))

        if list_type == "map":
            self._list_map(s, path, map_keys, items)

        for i, rule in enumerate(_list(s.get("x-kubernetes-validations"))):
            rule = _dict(rule)
            rule_path = f"{path}.x-kubernetes-validations[{i}]"
            text = _str(rule.get("rule")).strip()
            raw_message = _str(rule.get("message"))
            message = raw_message.strip()
            if not text:
                errs.append(field_required(f"{rule_path}.rule", "rule is not specified"))
            elif raw_message and not message:
                errs.append(
                    field_invalid(f"{rule_path}.message", raw_message, "message must be non-empty if specified")
                )
            elif _NEWLINES.search(message):
                errs.append(field_invalid(f"{rule_path}.message", raw_message, "message must not contain line breaks"))
            elif _NEWLINES.search(text) and not message:
                errs.append(
                    field_required(f"{rule_path}.message", "message must be specified if rule contains line breaks")
                )

        if list_type in ("set", "map") and item_schema is not None:
            self._map_set_items(item_schema, path, list_type, map_keys)

    def _list_map(self, s: dict[str, Any], path: str, map_keys: list[Any], items: Any) -> None:
        errs = self.errs
        if not map_keys:
            errs.append(
                field_required(
                    f"{path}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"
                )
            )
        if items is None:
            errs.append(field_required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map"))
            return
        if not isinstance(items, dict):
            errs.append(
                field_invalid(f"{path}.items", items, "must only have a single schema if x-kubernetes-list-type is map")
            )
            return
        if items.get("type") != "object":
            errs.append(
                field_invalid(
                    f"{path}.items.type",
                    items.get("type"),
                    "must be object if parent array's x-kubernetes-list-type is map",
                )
            )
            return
        item_props = _dict(items.get("properties"))
        seen: set[str] = set()
        for key in map_keys:
            key = _str(key)
            if key in item_props:
                if _dict(item_props[key]).get("type") in ("array", "object"):
                    errs.append(
                        field_invalid(
                            f"{path}.items.properties[{key}].type",
                            items.get("type"),
                            "must be a scalar type if parent array's x-kubernetes-list-type is map",
                        )
                    )
            else:
                errs.append(
                    field_invalid(
                        f"{path}.x-kubernetes-list-map-keys", map_keys, "entries must all be names of item properties"
                    )
                )
            if key in seen:
                errs.append(
                    field_invalid(f"{path}.x-kubernetes-list-map-keys", map_keys, "must not contain duplicate entries")
                )
            seen.add(key)

    def _map_set_items(self, items: dict[str, Any], path: str, list_type: str, map_keys: list[Any]) -> None:
        errs = self.errs
        if items.get("nullable") is True:
            errs.append(
                field_forbidden(
                    f"{path}.items.nullable", f"cannot be nullable when x-kubernetes-list-type is {list_type}"
                )
            )
        if list_type != "map":
            return
        required = set(_list(items.get("required")))
        item_props = _dict(items.get("properties"))
        for key in map_keys:
            prop = item_props.get(key)
            if not isinstance(prop, dict):
                continue
            if key not in required and prop.get("default") is None:
                errs.append(
                    field_required(
                        f"{path}.items.properties[{key}].default",
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required "
                        "property",
                    )
                )
            if prop.get("nullable") is True:
                errs.append(
                    field_forbidden(
                        f"{path}.items.properties[{key}].nullable",
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    )
                )


# --------------------------------------------------------------------------------------------------
# Structural schema rules (apiextensions-apiserver pkg/apiserver/schema validation.go and complete.go)


def _structural_invariants(s: dict[str, Any], path: str, level: int, errs: list[FieldCause]) -> None:
    typ = _str(s.get("type"))
    items = s.get("items")
    props = _dict(s.get("properties"))
    additional = s.get("additionalProperties")
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = s.get("x-kubernetes-embedded-resource") is True
    int_or_string = s.get("x-kubernetes-int-or-string") is True

    if typ == "array" and not isinstance(items, dict):
        errs.append(field_required(f"{path}.items", "must be specified"))
    if isinstance(items, dict):
        _structural_invariants(items, f"{path}.items", _ITEM, errs)
    for key, sub in props.items():
        if isinstance(sub, dict):
            _structural_invariants(sub, f"{path}.properties[{key}]", _FIELD, errs)
    if additional is not None:
        if level == _ROOT:
            errs.append(field_forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if isinstance(additional, dict):
            _structural_invariants(additional, f"{path}.additionalProperties", _FIELD, errs)

    if int_or_string and preserve:
        errs.append(
            field_invalid(
                f"{path}.x-kubernetes-preserve-unknown-fields",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if int_or_string and embedded:
        errs.append(
            field_invalid(
                f"{path}.x-kubernetes-embedded-resource", True, "must be false if x-kubernetes-int-or-string is true"
            )
        )

    all_of = _list(s.get("allOf"))
    skip_any_of = _list(s.get("anyOf")) == _INT_OR_STRING_ANY_OF
    skip_first_all_of_any_of = bool(all_of) and _list(_dict(all_of[0]).get("anyOf")) == _INT_OR_STRING_ANY_OF
    _value_validation(s, skip_any_of, skip_first_all_of_any_of, level, path, errs)

    if embedded and typ != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        errs.append(field_invalid(f"{path}.type", typ, detail) if typ else field_required(f"{path}.type", detail))
    elif not typ and not int_or_string and not preserve:
        where = {
            _ROOT: "at the root",
            _ITEM: "for specified array items",
            _FIELD: "for specified object fields",
        }[level]
        errs.append(field_required(f"{path}.type", f"must not be empty {where}"))
    if embedded and additional is not None:
        errs.append(
            field_forbidden(f"{path}.additionalProperties", "must not be used if x-kubernetes-embedded-resource is set")
        )
    if level == _ROOT and typ and typ != "object":
        errs.append(field_invalid(f"{path}.type", typ, "must be object at the root"))

    check_meta = level == _ROOT or embedded
    if check_meta:
        for key in ("kind", "apiVersion"):
            if key in props and _dict(props[key]).get("type") != "string":
                errs.append(
                    field_invalid(f"{path}.properties[{key}].type", _dict(props[key]).get("type", ""), "must be string")
                )
    if "metadata" in props:
        _structural_metadata(_dict(props["metadata"]), check_meta, level, f"{path}.properties[metadata]", errs)
    if embedded and not preserve and not props:
        errs.append(
            field_required(
                f"{path}.properties",
                "must not be empty if x-kubernetes-embedded-resource is true without "
                "x-kubernetes-preserve-unknown-fields",
            )
        )


def _structural_metadata(s: dict[str, Any], check_meta: bool, level: int, path: str, errs: list[FieldCause]) -> None:
    if check_meta and s.get("type") != "object":
        errs.append(field_invalid(f"{path}.type", s.get("type", ""), "must be object"))
    if level != _ROOT:
        return
    # Only name and generateName may be restricted; type and default are checked elsewhere, while
    # externalDocs and example do not survive the structural conversion.
    props = _dict(s.get("properties"))
    extra_props = bool(props) and not set(props) <= {"name", "generateName"}
    extra_keys = any(
        not _is_zero(v) for k, v in s.items() if k not in ("type", "default", "properties", "externalDocs", "example")
    )
    if extra_props or extra_keys:
        errs.append(
            field_forbidden(
                path, "must not specify anything other than name and generateName, but metadata is implicitly specified"
            )
        )


def _value_validation(
    s: dict[str, Any], skip_any_of: bool, skip_first_all_of_any_of: bool, level: int, path: str, errs: list[FieldCause]
) -> None:
    if not skip_any_of:
        for i, sub in enumerate(_list(s.get("anyOf"))):
            _nested_value_validation(_dict(sub), False, False, level, f"{path}.anyOf[{i}]", errs)
    for i, sub in enumerate(_list(s.get("allOf"))):
        _nested_value_validation(
            _dict(sub), skip_first_all_of_any_of and i == 0, False, level, f"{path}.allOf[{i}]", errs
        )
    for i, sub in enumerate(_list(s.get("oneOf"))):
        _nested_value_validation(_dict(sub), False, False, level, f"{path}.oneOf[{i}]", errs)
    if isinstance(s.get("not"), dict):
        _nested_value_validation(s["not"], False, False, level, f"{path}.not", errs)
    pattern = s.get("pattern")
    if isinstance(pattern, str) and pattern:
        _, problem = compile_pattern(pattern)
        if problem is not None:
            errs.append(
                field_invalid(f"{path}.pattern", pattern, f"must be a valid regular expression, but isn't: {problem}")
            )


_NESTED_FORBIDDEN: Final = (
    ("type", "must be empty to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)


def _nested_value_validation(
    s: dict[str, Any], skip_any_of: bool, skip_all_of_any_of: bool, level: int, path: str, errs: list[FieldCause]
) -> None:
    """Inside allOf/anyOf/oneOf/not only value validation may appear; the structure lives outside."""
    _value_validation(s, skip_any_of, skip_all_of_any_of, level, path, errs)
    if isinstance(s.get("items"), dict):
        _nested_value_validation(s["items"], False, False, level, f"{path}.items", errs)
    props = _dict(s.get("properties"))
    for key, sub in props.items():
        _nested_value_validation(_dict(sub), False, False, _FIELD, f"{path}.properties[{key}]", errs)
    for key, detail in _NESTED_FORBIDDEN:
        if not _is_zero(s.get(key)):
            errs.append(field_forbidden(f"{path}.{key}", detail))
    if s.get("additionalProperties") is not None:
        errs.append(field_forbidden(f"{path}.additionalProperties", "must be undefined to be structural"))
    if "metadata" in props:
        errs.append(field_forbidden(f"{path}.properties[metadata]", "must not be specified in a nested context"))


def _structural_completeness(
    v: dict[str, Any], s: dict[str, Any] | None, s_path: str, v_path: str, errs: list[FieldCause]
) -> None:
    """Fields and items named inside the root's logical junctors must also be specified structurally."""
    if s is None:
        errs.append(field_required(s_path, f"because it is defined in {v_path}"))
        return
    if isinstance(v.get("not"), dict):
        _nested_completeness(v["not"], s, s_path, f"{v_path}.not", errs)
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(_list(v.get(key))):
            if isinstance(sub, dict):
                _nested_completeness(sub, s, s_path, f"{v_path}.{key}[{i}]", errs)


def _nested_completeness(
    v: dict[str, Any], s: dict[str, Any], s_path: str, v_path: str, errs: list[FieldCause]
) -> None:
    _structural_completeness(v, s, s_path, v_path, errs)
    items = v.get("items")
    if isinstance(items, dict):
        s_items = s.get("items")
        if isinstance(s_items, dict):
            _nested_completeness(items, s_items, f"{s_path}.items", f"{v_path}.items", errs)
        else:
            errs.append(field_required(f"{s_path}.items", f"because it is defined in {v_path}.items"))
    s_props = _dict(s.get("properties"))
    for key, sub in _dict(v.get("properties")).items():
        if not isinstance(sub, dict):
            continue
        s_sub = s_props.get(key)
        sub_v_path = f"{v_path}.properties[{key}]"
        if isinstance(s_sub, dict):
            _nested_completeness(sub, s_sub, f"{s_path}.properties[{key}]", sub_v_path, errs)
        else:
            errs.append(field_required(f"{s_path}.properties[{key}]", f"because it is defined in {sub_v_path}"))


# --------------------------------------------------------------------------------------------------
# Defaults must validate against their schema and must already be pruned


def _validate_defaults(
    s: dict[str, Any], path: str, errs: list[FieldCause], *, inside_meta: bool, embedded_root: bool
) -> None:
    embedded = embedded_root or s.get("x-kubernetes-embedded-resource") is True
    if embedded:
        inside_meta = False
    default = s.get("default")
    if default is not None and not inside_meta:
        compiled = compile_schema(s, cache=False)
        pruned = json_copy(default)
        compiled.prune(pruned, root=embedded, drop_nulls=False)
        if not json_equal(pruned, default):
            errs.append(field_invalid(f"{path}.default", default, "must not have unknown fields"))
        errs.extend(compiled.validate(default, path=f"{path}.default", root=False))
    # additionalProperties is not followed: defaults are forbidden there.
    items = s.get("items")
    if isinstance(items, dict):
        _validate_defaults(items, f"{path}.items", errs, inside_meta=inside_meta, embedded_root=False)
    for key, sub in _dict(s.get("properties")).items():
        if isinstance(sub, dict):
            sub_meta = inside_meta or (embedded and key in _META_FIELDS)
            _validate_defaults(sub, f"{path}.properties[{key}]", errs, inside_meta=sub_meta, embedded_root=False)

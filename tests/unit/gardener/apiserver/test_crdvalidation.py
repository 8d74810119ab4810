"""Tests for gardener.apiserver.crdvalidation: defaulting and validating CustomResourceDefinitions like kube."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from gardener.apiserver.crdvalidation import default_crd, validate_crd

SCHEMA = "spec.versions[0].schema.openAPIV3Schema"
SPEC_PROPS = f"{SCHEMA}.properties[spec]"
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation "
    "is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def valid_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {
                        "status": {},
                        "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
                    },
                    "additionalPrinterColumns": [
                        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                        {
                            "name": "Created",
                            "type": "date",
                            "format": "date-time",
                            "jsonPath": ".metadata.creationTimestamp",
                        },
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A widget.",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": {
                                    "type": "object",
                                    "required": ["size"],
                                    "properties": {
                                        "size": {"type": "string", "enum": ["S", "M"]},
                                        "replicas": {"type": "integer", "default": 1, "minimum": 0},
                                        "port": {
                                            "x-kubernetes-int-or-string": True,
                                            "anyOf": [{"type": "integer"}, {"type": "string"}],
                                        },
                                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                        "ports": {
                                            "type": "array",
                                            "x-kubernetes-list-type": "map",
                                            "x-kubernetes-list-map-keys": ["name"],
                                            "items": {
                                                "type": "object",
                                                "required": ["name"],
                                                "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                                            },
                                        },
                                        "tags": {
                                            "type": "array",
                                            "x-kubernetes-list-type": "set",
                                            "items": {"type": "string"},
                                        },
                                        "template": {
                                            "type": "object",
                                            "x-kubernetes-embedded-resource": True,
                                            "x-kubernetes-preserve-unknown-fields": True,
                                        },
                                        "options": {
                                            "type": "object",
                                            "default": {"mode": "fast"},
                                            "properties": {"mode": {"type": "string"}},
                                        },
                                    },
                                },
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                },
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": False,
                    "deprecated": True,
                    "deprecationWarning": "use v1",
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                },
            ],
        },
    }


def test_valid_crd_passes() -> None:
    crd = valid_crd()
    default_crd(crd)
    assert validate_crd(crd) == []


def test_default_crd() -> None:
    crd = valid_crd()
    del crd["spec"]["names"]["singular"]
    del crd["spec"]["names"]["listKind"]
    del crd["spec"]["versions"][1]["served"]
    default_crd(crd)
    assert crd["spec"]["names"]["singular"] == "widget"
    assert crd["spec"]["names"]["listKind"] == "WidgetList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["spec"]["versions"][1]["served"] is False
    assert crd["status"] == {"storedVersions": ["v1"]}


def test_default_crd_keeps_explicit_values_and_fills_webhook_port() -> None:
    crd = valid_crd()
    crd["spec"]["names"]["singular"] = "gadget"
    crd["spec"]["conversion"] = {
        "strategy": "Webhook",
        "webhook": {
            "clientConfig": {"service": {"name": "conv", "namespace": "ns"}},
            "conversionReviewVersions": ["v1"],
        },
    }
    crd["status"] = {"storedVersions": ["v1beta1", "v1"]}
    default_crd(crd)
    assert crd["spec"]["names"]["singular"] == "gadget"
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"] == 443
    assert crd["status"]["storedVersions"] == ["v1beta1", "v1"]
    assert validate_crd(crd) == []


def test_default_crd_tolerates_garbage() -> None:
    for crd in ({}, {"spec": None}, {"spec": {"names": "x", "versions": "y"}}):
        default_crd(crd)  # must not raise


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets a dotted path ("spec.versions.0.name"); value DELETE removes the key."""

    def mutate(crd: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = crd
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


DELETE = object()


def _chain(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(crd: dict[str, Any]) -> None:
        for m in mutations:
            m(crd)

    return mutate


V0 = "spec.versions.0"
SPEC = f"{V0}.schema.openAPIV3Schema.properties.spec"

# (id, mutation, expected (reason, field, message) that must be among the causes)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], tuple[str, str, str]]] = [
    (
        "name must match plural.group",
        _set("metadata.name", "gadgets.example.com"),
        (
            "FieldValueInvalid",
            "metadata.name",
            'Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group',
        ),
    ),
    (
        "name required",
        _set("metadata.name", DELETE),
        ("FieldValueRequired", "metadata.name", "Required value: name or generateName is required"),
    ),
    ("group required", _set("spec.group", ""), ("FieldValueRequired", "spec.group", "Required value")),
    (
        "group needs a dot",
        _set("spec.group", "example"),
        ("FieldValueInvalid", "spec.group", 'Invalid value: "example": should be a domain with at least one dot'),
    ),
    (
        "group must be a subdomain",
        _set("spec.group", "Example.com"),
        (
            "FieldValueInvalid",
            "spec.group",
            'Invalid value: "Example.com": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
            "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
            "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
    ),
    ("scope required", _set("spec.scope", DELETE), ("FieldValueRequired", "spec.scope", "Required value")),
    (
        "scope enum",
        _set("spec.scope", "Global"),
        (
            "FieldValueNotSupported",
            "spec.scope",
            'Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
        ),
    ),
    (
        "plural required",
        _set("spec.names.plural", DELETE),
        ("FieldValueRequired", "spec.names.plural", "Required value"),
    ),
    ("kind required", _set("spec.names.kind", ""), ("FieldValueRequired", "spec.names.kind", "Required value")),
    (
        "plural must be a DNS label",
        _set("spec.names.plural", "Widgets"),
        ("FieldValueInvalid", "spec.names.plural", f'Invalid value: "Widgets": {DNS1035}'),
    ),
    (
        "kind may be mixed case but not contain underscores",
        _set("spec.names.kind", "My_Widget"),
        (
            "FieldValueInvalid",
            "spec.names.kind",
            f'Invalid value: "My_Widget": may have mixed case, but should otherwise match: {DNS1035}',
        ),
    ),
    (
        "kind and listKind differ",
        _set("spec.names.listKind", "Widget"),
        ("FieldValueInvalid", "spec.names.listKind", 'Invalid value: "Widget": kind and listKind may not be the same'),
    ),
    (
        "short names are DNS labels",
        _set("spec.names.shortNames", ["wd", "W D"]),
        ("FieldValueInvalid", "spec.names.shortNames[1]", f'Invalid value: "W D": {DNS1035}'),
    ),
    (
        "exactly one storage version",
        _set("spec.versions.1.storage", True),
        (
            "FieldValueInvalid",
            "spec.versions",
            'Invalid value: []interface {}{"v1", "v1beta1"}: must have exactly one version marked as storage version',
        ),
    ),
    (
        "no versions",
        _set("spec.versions", []),
        (
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: []interface {}{}: must have exactly one version marked as storage version",
        ),
    ),
    (
        "unique version names",
        _set("spec.versions.1.name", "v1"),
        (
            "FieldValueInvalid",
            "spec.versions",
            'Invalid value: []interface {}{"v1", "v1"}: must contain unique version names',
        ),
    ),
    (
        "version name is a DNS-1035 label",
        _set("spec.versions.1.name", "1beta"),
        ("FieldValueInvalid", "spec.versions[1].name", f'Invalid value: "1beta": {DNS1035}'),
    ),
    (
        "schema required",
        _set("spec.versions.1.schema", DELETE),
        ("FieldValueRequired", "spec.versions[1].schema.openAPIV3Schema", "Required value: schemas are required"),
    ),
    (
        "deprecation warning needs deprecated",
        _set("spec.versions.1.deprecated", False),
        (
            "FieldValueInvalid",
            "spec.versions[1].deprecationWarning",
            'Invalid value: "use v1": can only be set for deprecated versions',
        ),
    ),
    (
        "preserveUnknownFields true is refused",
        _set("spec.preserveUnknownFields", True),
        (
            "FieldValueInvalid",
            "spec.preserveUnknownFields",
            "Invalid value: true: cannot set to true, set x-preserve-unknown-fields to true in spec.versions[*].schema "
            "instead",
        ),
    ),
    # --- structural schema
    (
        "type required for fields",
        _set(f"{SPEC}.properties.size.type", DELETE),
        (
            "FieldValueRequired",
            f"{SPEC_PROPS}.properties[size].type",
            "Required value: must not be empty for specified object fields",
        ),
    ),
    (
        "type required at the root",
        _set(f"{V0}.schema.openAPIV3Schema.type", DELETE),
        ("FieldValueRequired", f"{SCHEMA}.type", "Required value: must not be empty at the root"),
    ),
    (
        "root must be an object",
        _chain(_set(f"{V0}.subresources", DELETE), _set(f"{V0}.schema.openAPIV3Schema.type", "string")),
        ("FieldValueInvalid", f"{SCHEMA}.type", 'Invalid value: "string": must be object at the root'),
    ),
    (
        "unknown type",
        _set(f"{SPEC}.properties.size.type", "text"),
        (
            "FieldValueNotSupported",
            f"{SPEC_PROPS}.properties[size].type",
            'Unsupported value: "text": supported values: "array", "boolean", "integer", "number", "object", "string"',
        ),
    ),
    (
        "type null",
        _set(f"{SPEC}.properties.size.type", "null"),
        (
            "FieldValueForbidden",
            f"{SPEC_PROPS}.properties[size].type",
            "Forbidden: type cannot be set to null, use nullable as an alternative",
        ),
    ),
    (
        "arrays need items",
        _set(f"{SPEC}.properties.tags.items", DELETE),
        ("FieldValueRequired", f"{SPEC_PROPS}.properties[tags].items", "Required value: must be specified"),
    ),
    (
        "items must not be a list",
        _set(f"{SPEC}.properties.tags.items", [{"type": "string"}]),
        (
            "FieldValueForbidden",
            f"{SPEC_PROPS}.properties[tags].items",
            "Forbidden: items must be a schema object and not an array",
        ),
    ),
    (
        "additionalProperties together with properties",
        _set(f"{SPEC}.additionalProperties", {"type": "string"}),
        (
            "FieldValueForbidden",
            f"{SPEC_PROPS}.additionalProperties",
            "Forbidden: additionalProperties and properties are mutual exclusive",
        ),
    ),
    (
        "additionalProperties at the root",
        _chain(
            _set(f"{V0}.subresources", DELETE),
            _set(f"{V0}.schema.openAPIV3Schema.properties", {}),
            _set(f"{V0}.schema.openAPIV3Schema.additionalProperties", True),
        ),
        ("FieldValueForbidden", f"{SCHEMA}.additionalProperties", "Forbidden: must not be used at the root"),
    ),
    (
        "uniqueItems",
        _set(f"{SPEC}.properties.tags.uniqueItems", True),
        (
            "FieldValueForbidden",
            f"{SPEC_PROPS}.properties[tags].uniqueItems",
            "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ),
    ),
    (
        "$ref",
        _set(f"{SPEC}.properties.size.$ref", "#/definitions/x"),
        ("FieldValueForbidden", f"{SPEC_PROPS}.properties[size].$ref", "Forbidden: $ref is not supported"),
    ),
    (
        "nullable root",
        _set(f"{V0}.schema.openAPIV3Schema.nullable", True),
        ("FieldValueForbidden", f"{SCHEMA}.nullable", "Forbidden: nullable cannot be true at the root"),
    ),
    (
        "preserve-unknown-fields false",
        _set(f"{SPEC}.x-kubernetes-preserve-unknown-fields", False),
        (
            "FieldValueInvalid",
            f"{SPEC_PROPS}.x-kubernetes-preserve-unknown-fields",
            "Invalid value: false: must be true or undefined",
        ),
    ),
    (
        "type inside allOf",
        _set(f"{SPEC}.properties.size.allOf", [{"type": "string", "minLength": 1}]),
        (
            "FieldValueForbidden",
            f"{SPEC_PROPS}.properties[size].allOf[0].type",
            "Forbidden: must be empty to be structural",
        ),
    ),
    (
        "default inside anyOf",
        _set(f"{SPEC}.properties.size.anyOf", [{"default": "S"}]),
        (
            "FieldValueForbidden",
            f"{SPEC_PROPS}.properties[size].anyOf[0].default",
            "Forbidden: must be undefined to be structural",
        ),
    ),
    (
        "root junctor names an unspecified field",
        _chain(
            _set(f"{V0}.subresources", DELETE),
            _set(f"{V0}.schema.openAPIV3Schema.anyOf", [{"properties": {"spec": {"required": ["size"]}, "other": {}}}]),
        ),
        (
            "FieldValueRequired",
            f"{SCHEMA}.properties[other]",
            f"Required value: because it is defined in {SCHEMA}.anyOf[0].properties[other]",
        ),
    ),
    (
        "metadata may only restrict name and generateName",
        _set(
            f"{V0}.schema.openAPIV3Schema.properties.metadata",
            {"type": "object", "properties": {"labels": {"type": "object"}}},
        ),
        (
            "FieldValueForbidden",
            f"{SCHEMA}.properties[metadata]",
            "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly "
            "specified",
        ),
    ),
    (
        "kind property must be a string",
        _set(f"{V0}.schema.openAPIV3Schema.properties.kind", {"type": "integer"}),
        ("FieldValueInvalid", f"{SCHEMA}.properties[kind].type", 'Invalid value: "integer": must be string'),
    ),
    (
        "embedded resource must be an object",
        _set(f"{SPEC}.properties.template.type", "string"),
        (
            "FieldValueInvalid",
            f"{SPEC_PROPS}.properties[template].type",
            'Invalid value: "string": must be object if x-kubernetes-embedded-resource is true',
        ),
    ),
    (
        "embedded resource needs properties or preserve",
        _set(f"{SPEC}.properties.template.x-kubernetes-preserve-unknown-fields", DELETE),
        (
            "FieldValueRequired",
            f"{SPEC_PROPS}.properties[template].properties",
            "Required value: must not be empty if x-kubernetes-embedded-resource is true without "
            "x-kubernetes-preserve-unknown-fields",
        ),
    ),
    (
        "int-or-string excludes preserve",
        _set(f"{SPEC}.properties.port.x-kubernetes-preserve-unknown-fields", True),
        (
            "FieldValueInvalid",
            f"{SPEC_PROPS}.properties[port].x-kubernetes-preserve-unknown-fields",
            "Invalid value: true: must be false if x-kubernetes-int-or-string is true",
        ),
    ),
    (
        "invalid pattern",
        _set(f"{SPEC}.properties.size.pattern", "(unclosed"),
        (
            "FieldValueInvalid",
            f"{SPEC_PROPS}.properties[size].pattern",
            'Invalid value: "(unclosed": must be a valid regular expression, but isn\'t: missing ), unterminated '
            "subpattern at position 0",
        ),
    ),
    # --- list and map types
    (
        "list-type needs an array",
        _set(f"{SPEC}.properties.size.x-kubernetes-list-type", "set"),
        (
            "FieldValueInvalid",
            f"{SPEC_PROPS}.properties[size].type",
            'Invalid value: "string": must be array if x-kubernetes-list-type is specified',
        ),
    ),
    (
        "list-type values",
        _set(f"{SPEC}.properties.tags.x-kubernetes-list-type", "bag"),
        (
            "FieldValueNotSupported",
            f"{SPEC_PROPS}.properties[tags].x-kubernetes-list-type",
            'Unsupported value: "bag": supported values: "atomic", "set", "map"',
        ),
    ),
    (
        "list-map keys required",
        _set(f"{SPEC}.properties.ports.x-kubernetes-list-map-keys", DELETE),
        (
            "FieldValueRequired",
            f"{SPEC_PROPS}.properties[ports].x-kubernetes-list-map-keys",
            "Required value: must not be empty if x-kubernetes-list-type is map",
        ),
    ),
    (
        "list-map keys must be item properties",
        _set(f"{SPEC}.properties.ports.x-kubernetes-list-map-keys", ["name", "proto"]),
        (
            "FieldValueInvalid",
            f"{SPEC_PROPS}.properties[ports].x-kubernetes-list-map-keys",
            'Invalid value: []interface {}{"name", "proto"}: entries must all be names of item properties',
        ),
    ),
    (
        "list-map keys must be required or defaulted",
        _set(f"{SPEC}.properties.ports.items.required", []),
        (
            "FieldValueRequired",
            f"{SPEC_PROPS}.properties[ports].items.properties[name].default",
            "Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a "
            "required property",
        ),
    ),
    (
        "list-map keys need list-type map",
        _set(f"{SPEC}.properties.tags.x-kubernetes-list-map-keys", ["name"]),
        (
            "FieldValueInvalid",
            f"{SPEC_PROPS}.properties[tags].x-kubernetes-list-type",
            'Invalid value: "set": must be map if x-kubernetes-list-map-keys is non-empty',
        ),
    ),
    (
        "set items of object type must be atomic",
        _set(f"{SPEC}.properties.tags.items", {"type": "object"}),
        (
            "FieldValueInvalid",
            f"{SPEC_PROPS}.properties[tags].items.x-kubernetes-map-type",
            "Invalid value: null: must be atomic as item of a list with x-kubernetes-list-type=set",
        ),
    ),
    (
        "map-type values",
        _set(f"{SPEC}.properties.labels.x-kubernetes-map-type", "loose"),
        (
            "FieldValueNotSupported",
            f"{SPEC_PROPS}.properties[labels].x-kubernetes-map-type",
            'Unsupported value: "loose": supported values: "atomic", "granular"',
        ),
    ),
    (
        "validation rule required",
        _set(f"{SPEC}.x-kubernetes-validations", [{"rule": " "}]),
        (
            "FieldValueRequired",
            f"{SPEC_PROPS}.x-kubernetes-validations[0].rule",
            "Required value: rule is not specified",
        ),
    ),
    # --- defaults
    (
        "default must match the type",
        _set(f"{SPEC}.properties.replicas.default", "one"),
        (
            "FieldValueTypeInvalid",
            f"{SPEC_PROPS}.properties[replicas].default",
            f'Invalid value: "string": {SPEC_PROPS}.properties[replicas].default in body must be of type integer: '
            '"string"',
        ),
    ),
    (
        "default must satisfy value validation",
        _set(f"{SPEC}.properties.replicas.default", -1),
        (
            "FieldValueInvalid",
            f"{SPEC_PROPS}.properties[replicas].default",
            f"Invalid value: -1: {SPEC_PROPS}.properties[replicas].default in body should be greater than or "
            "equal to 0",
        ),
    ),
    (
        "default must be pruned",
        _set(f"{SPEC}.properties.options.default", {"mode": "fast", "turbo": True}),
        (
            "FieldValueInvalid",
            f"{SPEC_PROPS}.properties[options].default",
            'Invalid value: map[string]interface {}{"mode":"fast", "turbo":true}: must not have unknown fields',
        ),
    ),
    (
        "no defaults in top-level metadata",
        _set(f"{V0}.schema.openAPIV3Schema.properties.metadata", {"type": "object", "default": {}}),
        (
            "FieldValueForbidden",
            f"{SCHEMA}.properties[metadata].default",
            "Forbidden: must not be set in top-level metadata",
        ),
    ),
    # --- status subresource root
    (
        "status subresource restricts the root",
        _set(f"{V0}.schema.openAPIV3Schema.anyOf", [{"required": ["spec"]}]),
        (
            "FieldValueInvalid",
            SCHEMA,
            'Invalid value: "anyOf": only [Description Type Format Title Maximum ExclusiveMaximum Minimum '
            "ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items "
            "Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of "
            "the schema if the status subresource is enabled",
        ),
    ),
    # --- subresources and printer columns
    (
        "scale spec path under .spec",
        _set(f"{V0}.subresources.scale.specReplicasPath", ".status.replicas"),
        (
            "FieldValueInvalid",
            "spec.versions[0].subresources.scale.specReplicasPath",
            'Invalid value: ".status.replicas": should be a json path under .spec',
        ),
    ),
    (
        "scale status path under .status",
        _set(f"{V0}.subresources.scale.statusReplicasPath", "status.replicas"),
        (
            "FieldValueInvalid",
            "spec.versions[0].subresources.scale.statusReplicasPath",
            'Invalid value: "status.replicas": must be a simple json path starting with .',
        ),
    ),
    (
        "scale spec path required",
        _set(f"{V0}.subresources.scale.specReplicasPath", DELETE),
        ("FieldValueRequired", "spec.versions[0].subresources.scale.specReplicasPath", "Required value"),
    ),
    (
        "label selector path",
        _set(f"{V0}.subresources.scale.labelSelectorPath", ".metadata.labels"),
        (
            "FieldValueInvalid",
            "spec.versions[0].subresources.scale.labelSelectorPath",
            'Invalid value: ".metadata.labels": should be a json path under either .spec or .status',
        ),
    ),
    (
        "printer column name",
        _set(f"{V0}.additionalPrinterColumns.0.name", ""),
        ("FieldValueRequired", "spec.versions[0].additionalPrinterColumns[0].name", "Required value"),
    ),
    (
        "printer column type",
        _set(f"{V0}.additionalPrinterColumns.0.type", "float"),
        (
            "FieldValueInvalid",
            "spec.versions[0].additionalPrinterColumns[0].type",
            'Invalid value: "float": must be one of boolean,date,integer,number,string',
        ),
    ),
    (
        "printer column type required",
        _set(f"{V0}.additionalPrinterColumns.0.type", DELETE),
        (
            "FieldValueRequired",
            "spec.versions[0].additionalPrinterColumns[0].type",
            "Required value: must be one of boolean,date,integer,number,string",
        ),
    ),
    (
        "printer column format",
        _set(f"{V0}.additionalPrinterColumns.1.format", "time"),
        (
            "FieldValueInvalid",
            "spec.versions[0].additionalPrinterColumns[1].format",
            'Invalid value: "time": must be one of byte,date,date-time,double,float,int32,int64,password',
        ),
    ),
    (
        "printer column jsonPath",
        _set(f"{V0}.additionalPrinterColumns.0.jsonPath", DELETE),
        ("FieldValueRequired", "spec.versions[0].additionalPrinterColumns[0].JSONPath", "Required value"),
    ),
    # --- conversion
    (
        "conversion strategy",
        _set("spec.conversion", {"strategy": "Magic"}),
        (
            "FieldValueNotSupported",
            "spec.conversion.strategy",
            'Unsupported value: "Magic": supported values: "None", "Webhook"',
        ),
    ),
    (
        "webhook conversion needs a client config",
        _set("spec.conversion", {"strategy": "Webhook"}),
        ("FieldValueRequired", "spec.conversion.webhook", "Required value: required when strategy is set to Webhook"),
    ),
    (
        "webhook url must be https",
        _set(
            "spec.conversion",
            {
                "strategy": "Webhook",
                "webhook": {"clientConfig": {"url": "http://x"}, "conversionReviewVersions": ["v1"]},
            },
        ),
        (
            "FieldValueInvalid",
            "spec.conversion.webhook.clientConfig.url",
            "Invalid value: \"http://x\": 'https' is the only allowed URL scheme",
        ),
    ),
    (
        "webhook review versions",
        _set(
            "spec.conversion",
            {
                "strategy": "Webhook",
                "webhook": {"clientConfig": {"url": "https://x"}, "conversionReviewVersions": ["v2"]},
            },
        ),
        (
            "FieldValueInvalid",
            "spec.conversion.webhook.conversionReviewVersions",
            'Invalid value: []interface {}{"v2"}: must include at least one of v1, v1beta1',
        ),
    ),
    (
        "webhook config without webhook strategy",
        _set("spec.conversion", {"strategy": "None", "webhook": {"clientConfig": {"url": "https://x"}}}),
        (
            "FieldValueForbidden",
            "spec.conversion.webhook",
            "Forbidden: should not be set when strategy is not set to Webhook",
        ),
    ),
    # --- status
    (
        "stored versions must exist",
        _set("status", {"storedVersions": ["v1", "v0"]}),
        ("FieldValueInvalid", "status.storedVersions[1]", 'Invalid value: "v0": must appear in spec.versions'),
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_crds(mutate: Callable[[dict[str, Any]], None], expected: tuple[str, str, str]) -> None:
    crd = valid_crd()
    default_crd(crd)
    mutate(crd)
    got = [(c.reason, c.field, c.message) for c in validate_crd(crd)]
    assert expected in got, "\n".join(map(str, got))


def test_structural_errors_hide_default_checks() -> None:
    """Like kube, defaults are only checked once the schema is structural."""
    crd = valid_crd()
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["replicas"]["default"] = "one"
    spec["properties"]["tags"].pop("items")
    fields = [c.field for c in validate_crd(crd)]
    assert f"{SPEC_PROPS}.properties[tags].items" in fields
    assert f"{SPEC_PROPS}.properties[replicas].default" not in fields


def test_structural_errors_are_sorted() -> None:
    crd = valid_crd()
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    props["b"] = {"type": "array"}
    props["a"] = {"type": "array"}
    errs = [c for c in validate_crd(crd) if c.message == "Required value: must be specified"]
    assert [c.field for c in errs] == [f"{SPEC_PROPS}.properties[a].items", f"{SPEC_PROPS}.properties[b].items"]


def test_garbage_does_not_raise() -> None:
    for crd in (
        {},
        {"spec": "x"},
        {"spec": {"versions": [None, 1, {"schema": {"openAPIV3Schema": {"type": 5, "properties": []}}}]}},
        {"spec": {"versions": [{"schema": {"openAPIV3Schema": {"type": "object", "properties": {"a": "x"}}}}]}},
    ):
        assert validate_crd(copy.deepcopy(crd))  # reports problems instead of raising


def test_validation_does_not_mutate() -> None:
    crd = valid_crd()
    before = copy.deepcopy(crd)
    validate_crd(crd)
    assert crd == before

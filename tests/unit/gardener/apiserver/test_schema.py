"""Tests for gardener.apiserver.schema: validating, defaulting and pruning custom resources like kube-apiserver."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gardener.apiserver import schema as s
from gardener.apiserver.errors import FieldCause


def obj_schema(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def spec_schema(**props: Any) -> dict[str, Any]:
    """A root schema whose spec has the given properties."""
    return obj_schema(spec=obj_schema(**props))


def cr(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


def causes(errs: list[FieldCause]) -> list[tuple[str, str, str]]:
    return [(c.reason, c.field, c.message) for c in errs]


TI, INV, REQ, NS, DUP, LONG, MANY = (
    "FieldValueTypeInvalid",
    "FieldValueInvalid",
    "FieldValueRequired",
    "FieldValueNotSupported",
    "FieldValueDuplicate",
    "FieldValueTooLong",
    "FieldValueTooMany",
)

# (id, property schema of spec.x, value of spec.x, expected causes)
VALUE_CASES: list[tuple[str, dict[str, Any], Any, list[tuple[str, str, str]]]] = [
    (
        "integer given a string",
        {"type": "integer"},
        "3",
        [(TI, "spec.x", 'Invalid value: "string": spec.x in body must be of type integer: "string"')],
    ),
    ("integer given a whole float", {"type": "integer"}, 3.0, []),
    (
        "integer given a fraction",
        {"type": "integer"},
        3.5,
        [(TI, "spec.x", 'Invalid value: "number": spec.x in body must be of type integer: "number"')],
    ),
    (
        "integer given a bool",
        {"type": "integer"},
        True,
        [(TI, "spec.x", 'Invalid value: "boolean": spec.x in body must be of type integer: "boolean"')],
    ),
    ("number given an integer", {"type": "number"}, 3, []),
    (
        "boolean given an integer",
        {"type": "boolean"},
        1,
        [(TI, "spec.x", 'Invalid value: "integer": spec.x in body must be of type boolean: "integer"')],
    ),
    (
        "object given an array",
        {"type": "object"},
        [],
        [(TI, "spec.x", 'Invalid value: "array": spec.x in body must be of type object: "array"')],
    ),
    (
        "null for non-nullable",
        {"type": "string"},
        None,
        [(TI, "spec.x", 'Invalid value: "null": spec.x in body must be of type string: "null"')],
    ),
    ("null for nullable", {"type": "string", "nullable": True}, None, []),
    ("null for nullable enum", {"type": "string", "nullable": True, "enum": ["a"]}, None, []),
    ("int-or-string int", {"x-kubernetes-int-or-string": True}, 80, []),
    ("int-or-string string", {"x-kubernetes-int-or-string": True}, "http", []),
    (
        "int-or-string bool",
        {"x-kubernetes-int-or-string": True},
        False,
        [(TI, "spec.x", 'Invalid value: "boolean": spec.x in body must be of type integer,string: "boolean"')],
    ),
    ("untyped preserve accepts anything", {"x-kubernetes-preserve-unknown-fields": True}, {"a": [1]}, []),
    (
        "enum of strings",
        {"type": "string", "enum": ["a", "b"]},
        "c",
        [(NS, "spec.x", 'Unsupported value: "c": supported values: "a", "b"')],
    ),
    (
        "enum of numbers",
        {"type": "integer", "enum": [1, 3]},
        2,
        [(NS, "spec.x", 'Unsupported value: 2: supported values: "1", "3"')],
    ),
    ("enum matches int against float member", {"type": "number", "enum": [1.0]}, 1, []),
    (
        "enum does not confuse true with 1",
        {"enum": [1]},
        True,
        [(NS, "spec.x", 'Unsupported value: true: supported values: "1"')],
    ),
    (
        "maxLength",
        {"type": "string", "maxLength": 3},
        "abcd",
        [(LONG, "spec.x", "Too long: may not be more than 3 bytes")],
    ),
    ("maxLength counts characters", {"type": "string", "maxLength": 3}, "äöü", []),
    (
        "minLength",
        {"type": "string", "minLength": 3},
        "ab",
        [(INV, "spec.x", 'Invalid value: "ab": spec.x in body should be at least 3 chars long')],
    ),
    (
        "pattern",
        {"type": "string", "pattern": "^[a-z]+$"},
        "A1",
        [(INV, "spec.x", "Invalid value: \"A1\": spec.x in body should match '^[a-z]+$'")],
    ),
    ("pattern is a search", {"type": "string", "pattern": "[0-9]"}, "ab1", []),
    (
        "pattern $ is the end of text",
        {"type": "string", "pattern": "^[a-z]+$"},
        "abc\n",
        [(INV, "spec.x", "Invalid value: \"abc\\n\": spec.x in body should match '^[a-z]+$'")],
    ),
    ("pattern $ inside a class is literal", {"type": "string", "pattern": "^[$a]+$"}, "$a", []),
    ("pattern with \\z", {"type": "string", "pattern": "^a\\z"}, "a", []),
    ("pattern with multiline flag", {"type": "string", "pattern": "(?m)^a$"}, "b\na", []),
    (
        "pattern \\d is ascii only",
        {"type": "string", "pattern": "^\\d+$"},
        "١٢",
        [(INV, "spec.x", "Invalid value: \"١٢\": spec.x in body should match '^\\d+$'")],
    ),
    (
        "length fails before pattern",
        {"type": "string", "maxLength": 1, "pattern": "^a$"},
        "bb",
        [(LONG, "spec.x", "Too long: may not be more than 1 byte")],
    ),
    (
        "minimum",
        {"type": "integer", "minimum": 1},
        0,
        [(INV, "spec.x", "Invalid value: 0: spec.x in body should be greater than or equal to 1")],
    ),
    (
        "exclusiveMinimum",
        {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
        1,
        [(INV, "spec.x", "Invalid value: 1: spec.x in body should be greater than 1")],
    ),
    (
        "maximum on a float",
        {"type": "number", "maximum": 1.5},
        2.25,
        [(INV, "spec.x", "Invalid value: 2.25: spec.x in body should be less than or equal to 1.5")],
    ),
    (
        "exclusiveMaximum",
        {"type": "number", "maximum": 10, "exclusiveMaximum": True},
        10,
        [(INV, "spec.x", "Invalid value: 10: spec.x in body should be less than 10")],
    ),
    (
        "multipleOf",
        {"type": "integer", "multipleOf": 5},
        12,
        [(INV, "spec.x", "Invalid value: 12: spec.x in body should be a multiple of 5")],
    ),
    ("multipleOf float", {"type": "number", "multipleOf": 0.5}, 1.5, []),
    ("multipleOf tolerates rounding", {"type": "number", "multipleOf": 0.1}, 0.3, []),
    (
        "multipleOf float fails",
        {"type": "number", "multipleOf": 0.25},
        0.3,
        [(INV, "spec.x", "Invalid value: 0.3: spec.x in body should be a multiple of 0.25")],
    ),
    (
        "minItems",
        {"type": "array", "items": {"type": "string"}, "minItems": 2},
        ["a"],
        [(INV, "spec.x", "Invalid value: 1: spec.x in body should have at least 2 items")],
    ),
    (
        "maxItems",
        {"type": "array", "items": {"type": "string"}, "maxItems": 1},
        ["a", "b"],
        [(MANY, "spec.x", "Too many: 2: must have at most 1 items")],
    ),
    (
        "items are validated with indexed paths",
        {"type": "array", "items": obj_schema(name={"type": "string"})},
        [{"name": "a"}, {"name": 1}],
        [(TI, "spec.x[1].name", 'Invalid value: "integer": spec.x[1].name in body must be of type string: "integer"')],
    ),
    (
        "uniqueItems",
        {"type": "array", "items": {"type": "object"}, "uniqueItems": True},
        [{"a": 1}, {"a": 1}],
        [(INV, "spec.x", 'Invalid value: "": spec.x in body shouldn\'t contain duplicates')],
    ),
    (
        "minProperties",
        {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 2},
        {"a": "1"},
        [(INV, "spec.x", "Invalid value: 1: spec.x in body should have at least 2 properties")],
    ),
    (
        "maxProperties",
        {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 1},
        {"a": "1", "b": "2"},
        [(MANY, "spec.x", "Too many: 2: must have at most 1 items")],
    ),
    (
        "additionalProperties schema with dotted paths",
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"app.kubernetes.io/name": 1},
        [
            (
                TI,
                "spec.x.app.kubernetes.io/name",
                'Invalid value: "integer": spec.x.app.kubernetes.io/name in body must be of type string: "integer"',
            )
        ],
    ),
    (
        "additionalProperties false",
        {"type": "object", "additionalProperties": False},
        {"a": 1},
        [(INV, "spec.x", 'Invalid value: "a": spec.x.a in body is a forbidden property')],
    ),
    ("additionalProperties true", {"type": "object", "additionalProperties": True}, {"a": {"b": 1}}, []),
    (
        "required",
        obj_schema(a={"type": "string"}, b={"type": "string"}) | {"required": ["a", "b"]},
        {"a": "1"},
        [(REQ, "spec.x.b", "Required value")],
    ),
    (
        "list-type set",
        {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        ["a", "b", "a", "a"],
        [(DUP, "spec.x[2]", 'Duplicate value: "a"')],
    ),
    (
        "list-type map with one key",
        {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": obj_schema(name={"type": "string"}, v={"type": "integer"}),
        },
        [{"name": "a", "v": 1}, {"name": "b"}, {"name": "a", "v": 2}],
        [(DUP, "spec.x[2]", 'Duplicate value: map[string]interface {}{"name":"a"}')],
    ),
    (
        "list-type map with two keys",
        {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["port", "protocol"],
            "items": obj_schema(port={"type": "integer"}, protocol={"type": "string"}),
        },
        [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}, {"port": 80, "protocol": "TCP"}],
        [(DUP, "spec.x[2]", 'Duplicate value: map[string]interface {}{"port":80, "protocol":"TCP"}')],
    ),
    (
        "list-type map items must be objects",
        {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"], "items": {}},
        ["a"],
        [(INV, "spec.x[0]", 'Invalid value: "a": must be an object for an array of list-type map')],
    ),
    (
        "anyOf none matches",
        {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 2}]},
        5,
        [
            (INV, "spec.x", 'Invalid value: "": "spec.x" must validate at least one schema (anyOf)'),
            (INV, "spec.x", "Invalid value: 5: spec.x in body should be greater than or equal to 10"),
        ],
    ),
    ("anyOf one matches", {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 2}]}, 1, []),
    (
        "oneOf both match",
        {"type": "integer", "oneOf": [{"minimum": 1}, {"maximum": 10}]},
        5,
        [
            (
                INV,
                "spec.x",
                'Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found 2 valid alternatives',
            )
        ],
    ),
    (
        "allOf",
        {"type": "string", "allOf": [{"minLength": 2}, {"pattern": "^a"}]},
        "b",
        [
            (INV, "spec.x", 'Invalid value: "b": spec.x in body should be at least 2 chars long'),
            (INV, "spec.x", "Invalid value: \"b\": spec.x in body should match '^a'"),
            (INV, "spec.x", 'Invalid value: "": "spec.x" must validate all the schemas (allOf). None validated'),
        ],
    ),
    (
        "not",
        {"type": "string", "not": {"enum": ["forbidden"]}},
        "forbidden",
        [(INV, "spec.x", 'Invalid value: "": "spec.x" must not validate the schema (not)')],
    ),
    (
        "embedded resource needs apiVersion and kind",
        {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True},
        {"metadata": {"name": "a"}},
        [(REQ, "spec.x.apiVersion", "Required value"), (REQ, "spec.x.kind", "Required value")],
    ),
    (
        "embedded resource kind syntax",
        {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True},
        {"apiVersion": "v1", "kind": "Bad_Kind"},
        [
            (
                INV,
                "spec.x.kind",
                'Invalid value: "Bad_Kind": may have mixed case, but should otherwise match: a DNS-1035 label must '
                "consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end "
                "with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
                "'[a-z]([-a-z0-9]*[a-z0-9])?')",
            )
        ],
    ),
    (
        "embedded resource valid",
        {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}},
        [],
    ),
]


@pytest.mark.parametrize(("prop", "value", "expected"), [c[1:] for c in VALUE_CASES], ids=[c[0] for c in VALUE_CASES])
def test_validate_values(prop: dict[str, Any], value: Any, expected: list[tuple[str, str, str]]) -> None:
    assert causes(s.validate(cr(x=value), spec_schema(x=prop))) == expected


FORMAT_CASES: list[tuple[str, str, bool]] = [
    ("date-time", "2024-02-29T12:30:00Z", True),
    ("date-time", "2024-02-29T12:30:00.123+01:00", True),
    ("date-time", "2023-02-29T12:30:00Z", False),
    ("date-time", "2024-01-01 12:30:00Z", False),
    ("date-time", "2024-01-01T12:30:00", False),
    ("date", "2024-12-31", True),
    ("date", "2024-13-01", False),
    ("byte", "aGVsbG8=", True),
    ("byte", "not base64!", False),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000", True),
    ("uuid", "123e4567", False),
    ("uuid4", "123e4567-e89b-42d3-a456-426614174000", True),
    ("uuid4", "123e4567-e89b-12d3-a456-426614174000", False),
    ("ipv4", "10.0.0.1", True),
    ("ipv4", "10.0.0.256", False),
    ("ipv6", "fd00::1", True),
    ("ipv6", "10.0.0.1", False),
    ("cidr", "10.0.0.0/8", True),
    ("cidr", "10.0.0.0", False),
    ("hostname", "api.example.com", True),
    ("hostname", "-bad.example.com", False),
    ("email", "a@example.com", True),
    ("email", "Someone <a@example.com>", True),
    ("email", "not-an-email", False),
    ("uri", "https://example.com/a?b=c", True),
    ("uri", "/relative/path", True),
    ("uri", "no scheme", False),
    ("mac", "01:23:45:67:89:ab", True),
    ("mac", "01:23:45:67:89", False),
    ("duration", "1h30m", True),
    ("duration", "3 days", True),
    ("duration", "soon", False),
    ("quantity", "1.5Gi", True),
    ("quantity", "100m", True),
    ("quantity", "1e3", True),
    ("quantity", "lots", False),
    ("password", "anything at all", True),
    ("k8s-short-name", "my-name", True),
    ("k8s-short-name", "My-Name", False),
    ("some-unknown-format", "whatever", True),
]


@pytest.mark.parametrize(("fmt", "value", "ok"), FORMAT_CASES, ids=[f"{c[0]}:{c[1]}" for c in FORMAT_CASES])
def test_string_formats(fmt: str, value: str, ok: bool) -> None:
    errs = s.validate(cr(x=value), spec_schema(x={"type": "string", "format": fmt}))
    if ok:
        assert errs == []
    else:
        assert causes(errs) == [
            (
                TI,
                "spec.x",
                f"Invalid value: {s.go_quote(value)}: spec.x in body must be of type {fmt}: {s.go_quote(value)}",
            )
        ]


@pytest.mark.parametrize(
    ("fmt", "value", "ok"),
    [("int32", 2**31 - 1, True), ("int32", 2**31, False), ("int32", -(2**31), True), ("int64", 2**63, False)],
)
def test_integer_formats(fmt: str, value: int, ok: bool) -> None:
    errs = s.validate(cr(x=value), spec_schema(x={"type": "integer", "format": fmt}))
    assert (errs == []) is ok
    if not ok:
        assert errs[0].field == "spec.x"
        assert errs[0].message.endswith(f"spec.x in body must be of type integer with format {fmt}")


def test_validate_reports_all_problems_at_once() -> None:
    schema = spec_schema(
        replicas={"type": "integer", "minimum": 0},
        name={"type": "string"},
        mode={"type": "string", "enum": ["a"]},
    ) | {"required": ["spec"]}
    schema["properties"]["spec"]["required"] = ["name"]
    errs = s.validate(cr(replicas=-1, mode="b"), schema)
    assert sorted((c.reason, c.field) for c in errs) == [
        (INV, "spec.replicas"),
        (NS, "spec.mode"),
        (REQ, "spec.name"),
    ]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x", "labels": {"a": "b"}}}, []),
        (
            {"metadata": "nope"},
            [(TI, "metadata", 'Invalid value: "string": metadata in body must be of type object: "string"')],
        ),
        (
            {"metadata": {"name": "this-name-is-far-too-long"}},
            [(LONG, "metadata.name", "Too long: may not be more than 10 bytes")],
        ),
        (
            "a string",
            [(TI, "", 'Invalid value: "string":  in body must be of type object: "string"')],
        ),
        ({"metadata": {"name": "ok"}, "extra": 1}, []),
    ],
    ids=["meta-ok", "meta-not-object", "meta-name-restricted", "root-not-object", "unknown-root-field"],
)
def test_root_meta_fields(obj: Any, expected: list[tuple[str, str, str]]) -> None:
    schema = {
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}},
            "spec": {"type": "object"},
        },
    }
    assert causes(s.validate(obj, schema)) == expected


def test_root_meta_fields_are_allowed_even_with_closed_root() -> None:
    schema = {"type": "object", "additionalProperties": False}
    assert s.validate({"apiVersion": "a/v1", "kind": "K", "metadata": {}}, schema) == []
    assert causes(s.validate({"apiVersion": "a/v1", "kind": "K", "metadata": {}, "x": 1}, schema)) == [
        (INV, "", 'Invalid value: "x": x in body is a forbidden property')
    ]


def test_validate_with_path_prefix_and_not_root() -> None:
    errs = s.validate({"metadata": 1}, obj_schema(metadata={"type": "string"}), path="spec.template", root=False)
    assert causes(errs) == [
        (
            TI,
            "spec.template.metadata",
            'Invalid value: "integer": spec.template.metadata in body must be of type string: "integer"',
        )
    ]


# --------------------------------------------------------------------------------------------------
# prune

PRUNE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], list[str]]] = [
    (
        "unknown fields at every level",
        spec_schema(a={"type": "string"}, o=obj_schema(b={"type": "integer"})),
        {
            "apiVersion": "x/v1",
            "kind": "K",
            "metadata": {"name": "n", "foo": 1},
            "spec": {"a": "1", "z": 1, "o": {"b": 1, "c": 2}},
            "top": 1,
        },
        {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "foo": 1}, "spec": {"a": "1", "o": {"b": 1}}},
        ["spec.o.c", "spec.z", "top"],
    ),
    (
        "arrays of objects",
        spec_schema(l={"type": "array", "items": obj_schema(name={"type": "string"})}),
        {"spec": {"l": [{"name": "a", "x": 1}, {"name": "b"}, {"y": {"z": 1}}]}},
        {"spec": {"l": [{"name": "a"}, {"name": "b"}, {}]}},
        ["spec.l[0].x", "spec.l[2].y"],
    ),
    (
        "additionalProperties schema keeps keys, prunes inside",
        spec_schema(m={"type": "object", "additionalProperties": obj_schema(v={"type": "string"})}),
        {"spec": {"m": {"k1": {"v": "a", "w": 1}, "k2": {}}}},
        {"spec": {"m": {"k1": {"v": "a"}, "k2": {}}}},
        ["spec.m.k1.w"],
    ),
    (
        "preserve-unknown-fields keeps unknown but prunes known subtrees",
        spec_schema(
            free={
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"known": obj_schema(a={"type": "string"})},
            }
        ),
        {"spec": {"free": {"anything": {"deep": [1, {"x": 2}]}, "known": {"a": "1", "b": 2}}}},
        {"spec": {"free": {"anything": {"deep": [1, {"x": 2}]}, "known": {"a": "1"}}}},
        ["spec.free.known.b"],
    ),
    (
        "preserve at the root",
        {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        {"apiVersion": "x/v1", "whatever": {"a": 1}},
        {"apiVersion": "x/v1", "whatever": {"a": 1}},
        [],
    ),
    (
        "embedded resource keeps type and object meta, drops unknown metadata",
        spec_schema(
            template={
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "properties": {"spec": obj_schema(replicas={"type": "integer"})},
            }
        ),
        {
            "spec": {
                "template": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "d", "labels": {"a": "b"}, "bogus": 1},
                    "spec": {"replicas": 1, "paused": True},
                    "status": {},
                }
            }
        },
        {
            "spec": {
                "template": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "d", "labels": {"a": "b"}},
                    "spec": {"replicas": 1},
                }
            }
        },
        ["spec.template.metadata.bogus", "spec.template.spec.paused", "spec.template.status"],
    ),
    (
        "nulls of non-nullable fields without default are dropped silently",
        spec_schema(a={"type": "string"}, b={"type": "string", "nullable": True}, c={"type": "string", "default": "x"}),
        {"spec": {"a": None, "b": None, "c": None}},
        {"spec": {"b": None, "c": None}},
        [],
    ),
    (
        "a scalar schema empties an object value",
        spec_schema(a={"type": "string"}),
        {"spec": {"a": {"x": 1}}},
        {"spec": {"a": {}}},
        ["spec.a.x"],
    ),
]


@pytest.mark.parametrize(
    ("schema", "obj", "expected", "removed"), [c[1:] for c in PRUNE_CASES], ids=[c[0] for c in PRUNE_CASES]
)
def test_prune(schema: dict[str, Any], obj: dict[str, Any], expected: dict[str, Any], removed: list[str]) -> None:
    assert s.prune(obj, schema) == removed
    assert obj == expected


def test_prune_not_at_root_drops_meta_fields_too() -> None:
    obj = {"kind": "K", "a": "1"}
    assert s.prune(obj, obj_schema(a={"type": "string"}), root=False) == ["kind"]
    assert obj == {"a": "1"}


def test_prune_can_keep_nulls() -> None:
    obj = {"spec": {"a": None}}
    assert s.prune(obj, spec_schema(a={"type": "string"}), drop_nulls=False) == []
    assert obj == {"spec": {"a": None}}


# --------------------------------------------------------------------------------------------------
# defaults

DEFAULT_CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "missing fields get defaults, present ones stay",
        spec_schema(a={"type": "integer", "default": 1}, b={"type": "string", "default": "x"}),
        {"spec": {"b": "set"}},
        {"spec": {"a": 1, "b": "set"}},
    ),
    (
        "null of a non-nullable field is defaulted",
        spec_schema(a={"type": "integer", "default": 1}),
        {"spec": {"a": None}},
        {"spec": {"a": 1}},
    ),
    (
        "null of a nullable field stays",
        spec_schema(a={"type": "integer", "nullable": True, "default": 1}),
        {"spec": {"a": None}},
        {"spec": {"a": None}},
    ),
    (
        "defaults inside a defaulted object are applied",
        spec_schema(o={"type": "object", "default": {}, "properties": {"a": {"type": "string", "default": "A"}}}),
        {"spec": {}},
        {"spec": {"o": {"a": "A"}}},
    ),
    (
        "a default is pruned before use",
        spec_schema(o={"type": "object", "default": {"a": "1", "junk": 2}, "properties": {"a": {"type": "string"}}}),
        {"spec": {}},
        {"spec": {"o": {"a": "1"}}},
    ),
    (
        "array items",
        spec_schema(l={"type": "array", "items": obj_schema(p={"type": "integer", "default": 80})}),
        {"spec": {"l": [{}, {"p": 1}]}},
        {"spec": {"l": [{"p": 80}, {"p": 1}]}},
    ),
    (
        "additionalProperties values",
        spec_schema(m={"type": "object", "additionalProperties": obj_schema(p={"type": "integer", "default": 1})}),
        {"spec": {"m": {"a": {}, "b": {"p": 2}}}},
        {"spec": {"m": {"a": {"p": 1}, "b": {"p": 2}}}},
    ),
    (
        "no spec, no defaults below it",
        spec_schema(a={"type": "integer", "default": 1}),
        {"metadata": {}},
        {"metadata": {}},
    ),
]


@pytest.mark.parametrize(
    ("schema", "obj", "expected"), [c[1:] for c in DEFAULT_CASES], ids=[c[0] for c in DEFAULT_CASES]
)
def test_apply_defaults(schema: dict[str, Any], obj: dict[str, Any], expected: dict[str, Any]) -> None:
    assert s.apply_defaults(obj, schema) is obj
    assert obj == expected


def test_defaults_are_copied_not_shared() -> None:
    schema = spec_schema(
        o={
            "type": "object",
            "default": {"l": [1]},
            "properties": {"l": {"type": "array", "items": {"type": "integer"}}},
        }
    )
    first: dict[str, Any] = {"spec": {}}
    second: dict[str, Any] = {"spec": {}}
    s.apply_defaults(first, schema)
    s.apply_defaults(second, schema)
    first["spec"]["o"]["l"].append(2)
    assert second["spec"]["o"]["l"] == [1]
    assert schema["properties"]["spec"]["properties"]["o"]["default"] == {"l": [1]}


def test_prune_default_validate_pipeline() -> None:
    schema = spec_schema(replicas={"type": "integer", "default": 1, "minimum": 1}, name={"type": "string"})
    schema["properties"]["spec"]["required"] = ["name"]
    obj = cr(replicas=None, name="a", bogus=True)
    assert s.prune(obj, schema) == ["spec.bogus"]
    s.apply_defaults(obj, schema)
    assert obj["spec"] == {"replicas": 1, "name": "a"}
    assert s.validate(obj, schema) == []


# --------------------------------------------------------------------------------------------------
# helpers and caching


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (1.5, "1.5"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        ('a"b', '"a\\"b"'),
        ({"b": 1, "a": "x"}, 'map[string]interface {}{"a":"x", "b":1}'),
        (["a", None], '[]interface {}{"a", interface {}(nil)}'),
    ],
)
def test_render_value(value: Any, text: str) -> None:
    assert s.render_value(value) == text


def test_compiled_schema_is_cached_per_dict() -> None:
    schema = spec_schema(a={"type": "string"})
    assert s.compile_schema(schema) is s.compile_schema(schema)
    assert s.compile_schema(copy.deepcopy(schema)) is not s.compile_schema(schema)
    assert s.compile_schema(schema, cache=False) is s.compile_schema(schema)  # a hit is still reused


def test_validation_does_not_mutate_input() -> None:
    schema = spec_schema(a={"type": "integer", "default": 1}, b={"type": "string"})
    obj = cr(b=None, c=1)
    before = copy.deepcopy(obj)
    s.validate(obj, schema)
    assert obj == before


def test_invalid_pattern_is_reported_not_raised() -> None:
    errs = s.validate(cr(x="a"), spec_schema(x={"type": "string", "pattern": "(?=a)"}))
    assert len(errs) == 1 and "but pattern is invalid" in errs[0].message

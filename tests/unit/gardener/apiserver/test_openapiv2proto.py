"""/openapi/v2 as protobuf: decoded back by a reader of its own, driven by OpenAPIv2.proto's message text.

The decoder below knows nothing of the encoder's tables: it reads the messages as gnostic-models declares them
(openapiv2/OpenAPIv2.proto, the messages a Kubernetes document uses, field for field), turns proto names into
the Swagger keys the way gnostic's compiler does (snake_case -> camelCase, `_ref` -> `$ref`, `vendor_extension`
and the Named* maps back into the object) and must give back the JSON document, less what proto3 cannot say.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from gardener.apiserver import openapiv2proto
from gardener.apiserver.openapi import v2_document
from gardener.apiserver.openapiv2proto import (
    JSON_MEDIA_TYPE,
    PROTOBUF_MEDIA_TYPE,
    PROTOBUF_MEDIA_TYPE_DEPRECATED,
    encode_document,
    negotiate,
)
from gardener.apiserver.resources import Registry, ResourceInfo

# The messages of github.com/google/gnostic-models openapiv2/OpenAPIv2.proto a document can use (comments cut).
PROTO = """
message BasicAuthenticationSecurity { string type = 1; string description = 2; repeated NamedAny vendor_extension = 3; }
message NamedString { string name = 1; string value = 2; }
message Oauth2AccessCodeSecurity { string type = 1; string flow = 2; Oauth2Scopes scopes = 3;
  string authorization_url = 4; string token_url = 5; string description = 6; repeated NamedAny vendor_extension = 7; }
message Oauth2Scopes { repeated NamedString additional_properties = 1; }
message AdditionalPropertiesItem { oneof oneof { Schema schema = 1; bool boolean = 2; } }
message Any { google.protobuf.Any value = 1; string yaml = 2; }
message ApiKeySecurity { string type = 1; string name = 2; string in = 3; string description = 4;
  repeated NamedAny vendor_extension = 5; }
message BodyParameter { string description = 1; string name = 2; string in = 3; bool required = 4;
  Schema schema = 5; repeated NamedAny vendor_extension = 6; }
message Definitions { repeated NamedSchema additional_properties = 1; }
message Document { string swagger = 1; Info info = 2; string host = 3; string base_path = 4;
  repeated string schemes = 5; repeated string consumes = 6; repeated string produces = 7; Paths paths = 8;
  Definitions definitions = 9; ParameterDefinitions parameters = 10; ResponseDefinitions responses = 11;
  repeated SecurityRequirement security = 12; SecurityDefinitions security_definitions = 13;
  repeated Tag tags = 14; ExternalDocs external_docs = 15; repeated NamedAny vendor_extension = 16; }
message ExternalDocs { string description = 1; string url = 2; repeated NamedAny vendor_extension = 3; }
message FileSchema { string format = 1; string title = 2; string description = 3; Any default = 4;
  repeated string required = 5; string type = 6; bool read_only = 7; ExternalDocs external_docs = 8;
  Any example = 9; repeated NamedAny vendor_extension = 10; }
message Info { string title = 1; string version = 2; string description = 3; string terms_of_service = 4;
  Contact contact = 5; License license = 6; repeated NamedAny vendor_extension = 7; }
message ItemsItem { repeated Schema schema = 1; }
message JsonReference { string _ref = 1; string description = 2; }
message NamedAny { string name = 1; Any value = 2; }
message NamedParameter { string name = 1; Parameter value = 2; }
message NamedPathItem { string name = 1; PathItem value = 2; }
message NamedResponseValue { string name = 1; ResponseValue value = 2; }
message NamedSchema { string name = 1; Schema value = 2; }
message NamedSecurityDefinitionsItem { string name = 1; SecurityDefinitionsItem value = 2; }
message NamedStringArray { string name = 1; StringArray value = 2; }
message NonBodyParameter { oneof oneof { HeaderParameterSubSchema header_parameter_sub_schema = 1;
  FormDataParameterSubSchema form_data_parameter_sub_schema = 2;
  QueryParameterSubSchema query_parameter_sub_schema = 3; PathParameterSubSchema path_parameter_sub_schema = 4; } }
message Operation { repeated string tags = 1; string summary = 2; string description = 3;
  ExternalDocs external_docs = 4; string operation_id = 5; repeated string produces = 6;
  repeated string consumes = 7; repeated ParametersItem parameters = 8; Responses responses = 9;
  repeated string schemes = 10; bool deprecated = 11; repeated SecurityRequirement security = 12;
  repeated NamedAny vendor_extension = 13; }
message Parameter { oneof oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; } }
message ParameterDefinitions { repeated NamedParameter additional_properties = 1; }
message ParametersItem { oneof oneof { Parameter parameter = 1; JsonReference json_reference = 2; } }
message PathItem { string _ref = 1; Operation get = 2; Operation put = 3; Operation post = 4;
  Operation delete = 5; Operation options = 6; Operation head = 7; Operation patch = 8;
  repeated ParametersItem parameters = 9; repeated NamedAny vendor_extension = 10; }
message Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2; }
message Properties { repeated NamedSchema additional_properties = 1; }
message Response { string description = 1; SchemaItem schema = 2; Headers headers = 3; Examples examples = 4;
  repeated NamedAny vendor_extension = 5; }
message Responses { repeated NamedResponseValue response_code = 1; repeated NamedAny vendor_extension = 2; }
message ResponseValue { oneof oneof { Response response = 1; JsonReference json_reference = 2; } }
message Schema { string _ref = 1; string format = 2; string title = 3; string description = 4; Any default = 5;
  double multiple_of = 6; double maximum = 7; bool exclusive_maximum = 8; double minimum = 9;
  bool exclusive_minimum = 10; int64 max_length = 11; int64 min_length = 12; string pattern = 13;
  int64 max_items = 14; int64 min_items = 15; bool unique_items = 16; int64 max_properties = 17;
  int64 min_properties = 18; repeated string required = 19; repeated Any enum = 20;
  AdditionalPropertiesItem additional_properties = 21; TypeItem type = 22; ItemsItem items = 23;
  repeated Schema all_of = 24; Properties properties = 25; string discriminator = 26; bool read_only = 27;
  Xml xml = 28; ExternalDocs external_docs = 29; Any example = 30; repeated NamedAny vendor_extension = 31; }
message SchemaItem { oneof oneof { Schema schema = 1; FileSchema file_schema = 2; } }
message SecurityDefinitions { repeated NamedSecurityDefinitionsItem additional_properties = 1; }
message SecurityDefinitionsItem { oneof oneof { BasicAuthenticationSecurity basic_authentication_security = 1;
  ApiKeySecurity api_key_security = 2; Oauth2ImplicitSecurity oauth2_implicit_security = 3;
  Oauth2PasswordSecurity oauth2_password_security = 4; Oauth2ApplicationSecurity oauth2_application_security = 5;
  Oauth2AccessCodeSecurity oauth2_access_code_security = 6; } }
message SecurityRequirement { repeated NamedStringArray additional_properties = 1; }
message StringArray { repeated string value = 1; }
message TypeItem { repeated string value = 1; }
message Xml { string name = 1; string namespace = 2; string prefix = 3; bool attribute = 4; bool wrapped = 5;
  repeated NamedAny vendor_extension = 6; }
"""
_PARAMETER_FIELDS = """{ bool required = 1; string in = 2; string description = 3; string name = 4;%s
  string type = %d; string format = %d; PrimitivesItems items = %d; string collection_format = %d; Any default = %d;
  double maximum = %d; bool exclusive_maximum = %d; double minimum = %d; bool exclusive_minimum = %d;
  int64 max_length = %d; int64 min_length = %d; string pattern = %d; int64 max_items = %d; int64 min_items = %d;
  bool unique_items = %d; repeated Any enum = %d; double multiple_of = %d; repeated NamedAny vendor_extension = %d; }
"""
# the four non-body parameter messages share their fields: 1..4 as above, then the rest from 5 (or from 6 after
# allow_empty_value); PrimitivesItems has the same fields from `type = 1` on
PROTO += "".join(
    f"message {name} " + _PARAMETER_FIELDS % (extra, *range(start, start + 18))
    for name, extra, start in (
        ("HeaderParameterSubSchema", "", 5),
        ("PathParameterSubSchema", "", 5),
        ("QueryParameterSubSchema", " bool allow_empty_value = 5;", 6),
        ("FormDataParameterSubSchema", " bool allow_empty_value = 5;", 6),
    )
)
PROTO += """message PrimitivesItems { string type = 1; string format = 2; PrimitivesItems items = 3;
  string collection_format = 4; Any default = 5; double maximum = 6; bool exclusive_maximum = 7; double minimum = 8;
  bool exclusive_minimum = 9; int64 max_length = 10; int64 min_length = 11; string pattern = 12; int64 max_items = 13;
  int64 min_items = 14; bool unique_items = 15; repeated Any enum = 16; double multiple_of = 17;
  repeated NamedAny vendor_extension = 18; }
"""


@dataclass(frozen=True)
class ProtoField:
    name: str
    type: str
    repeated: bool


def parse_proto(text: str) -> tuple[dict[str, dict[int, ProtoField]], set[str]]:
    messages: dict[str, dict[int, ProtoField]] = {}
    oneofs: set[str] = set()
    for name, body in re.findall(r"message (\w+) \{(.*?)\}\s*(?:\}|\n)", text, re.S):
        fields = re.findall(r"(repeated )?([\w.]+) (\w+) = (\d+);", body)
        messages[name] = {int(n): ProtoField(f, t, bool(r)) for r, t, f, n in fields}
        if "oneof oneof" in body:
            oneofs.add(name)
    return messages, oneofs


MESSAGES, ONEOFS = parse_proto(PROTO)


def wire_fields(buf: bytes) -> list[tuple[int, int, Any]]:
    out: list[tuple[int, int, Any]] = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        result = shift = 0
        while True:
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return result

    while pos < len(buf):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, wire, varint()))
        elif wire == 1:
            out.append((number, wire, buf[pos : pos + 8]))
            pos += 8
        elif wire == 2:
            length = varint()
            assert pos + length <= len(buf), "length runs past the message"
            out.append((number, wire, buf[pos : pos + length]))
            pos += length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    return out


def camel(name: str) -> str:
    if name == "_ref":
        return "$ref"
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def decode(message: str, buf: bytes) -> Any:
    """A message as the JSON it was compiled from."""
    fields = MESSAGES[message]
    if message == "Any":
        (yaml_text,) = [value for number, _, value in wire_fields(buf) if number == 2] or [b"null"]
        return yaml.safe_load(yaml_text.decode())
    if message in ONEOFS:
        (number, _, value), *more = wire_fields(buf)
        assert not more, f"{message}: a oneof holds one value"
        return scalar(fields[number], value) if fields[number].type == "bool" else decode(fields[number].type, value)
    if message in ("TypeItem", "StringArray", "ItemsItem"):
        values = [decode_value(fields[1], value) for _, _, value in wire_fields(buf)]
        return values[0] if message != "StringArray" and len(values) == 1 else values
    out: dict[str, Any] = {}
    last = 0
    for number, wire, value in wire_fields(buf):
        assert number >= last, f"{message}: field {number} after {last}: fields go in number order"
        last = number
        field = fields[number]
        if field.repeated and field.type.startswith("Named"):  # vendor extensions and maps: back into the object
            entry = {n: v for n, _, v in wire_fields(value)}
            name = entry[1].decode()
            kind = MESSAGES[field.type][2].type
            out[name] = decode(kind, entry.get(2, b"")) if kind != "string" else entry.get(2, b"").decode()
        elif field.repeated:
            out.setdefault(camel(field.name), []).append(decode_value(field, value))
        else:
            out[camel(field.name)] = decode_value(field, value)
        assert wire == {"bool": 0, "int64": 0, "double": 1}.get(field.type, 2), f"{message}.{field.name}"
    return out


def decode_value(field: ProtoField, value: Any) -> Any:
    return scalar(field, value) if field.type in ("string", "bool", "int64", "double") else decode(field.type, value)


def scalar(field: ProtoField, value: Any) -> Any:
    if field.type == "string":
        return value.decode()
    if field.type == "bool":
        return bool(value)
    if field.type == "double":
        return struct.unpack("<d", value)[0]
    return value - (1 << 64) if value >= 1 << 63 else value


def proto3(value: Any) -> Any:
    """The JSON less what proto3 leaves out: false, "" and 0 scalars (not those of an `Any`, or of a oneof)."""
    if isinstance(value, list):
        return [proto3(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: item if key in ANY_KEYS or key.startswith("x-") else proto3(item)
        for key, item in value.items()
        if key in ANY_KEYS or key.startswith("x-") or item not in (False, "", 0)
    }


ANY_KEYS = {"additionalProperties", "default", "example", "enum"}


def crd(schema: dict[str, Any]) -> ResourceInfo:
    return ResourceInfo(
        group="example.gardener.cloud",
        version="v1",
        kind="Widget",
        plural="widgets",
        singular="widget",
        namespaced=True,
        schema=schema,
        crd_name="widgets.example.gardener.cloud",
    )


WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": -3, "maximum": 7.5, "default": 2, "format": "int64"},
                "mode": {"type": "string", "enum": ["fast", "safe", "yes"], "pattern": "^[a-z]+$", "maxLength": 8},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "closed": {"type": "object", "additionalProperties": False, "minProperties": 1},
                "ports": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "maxItems": 3,
                    "x-kubernetes-list-type": "set",
                },
                "any": {"x-kubernetes-preserve-unknown-fields": True},
                "either": {"x-kubernetes-int-or-string": True, "description": "naïve — ünïcode"},
            },
        },
    },
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    registry = Registry()
    registry.set_crd("widgets.example.gardener.cloud", [crd(WIDGET_SCHEMA)])
    return v2_document(registry)


def test_the_whole_document_decodes_back_to_its_json(document: dict[str, Any]) -> None:
    encoded = encode_document(document)
    assert decode("Document", encoded) == proto3(document)
    assert encode_document(document) == encoded  # deterministic, so cacheable and comparable


def test_kubectl_reads_what_it_validates_with(document: dict[str, Any]) -> None:
    """The pieces kube-openapi's proto models read: GVK extensions from Any.yaml, `_ref`, types and maps."""
    decoded = decode("Document", encode_document(document))
    deployment = decoded["definitions"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert deployment["properties"]["spec"] == {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"}
    spec = decoded["definitions"]["cloud.gardener.example.v1.Widget"]["properties"]["spec"]
    assert spec["properties"]["closed"]["additionalProperties"] is False
    assert spec["properties"]["size"]["minimum"] == -3 and spec["properties"]["size"]["default"] == 2
    assert spec["properties"]["mode"]["enum"] == ["fast", "safe", "yes"]  # "yes" stays a string through YAML
    assert spec["properties"]["either"]["description"] == "naïve — ünïcode"
    post = decoded["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]
    assert post["parameters"][0]["schema"] == {"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"}
    assert decoded["security"] == [{"BearerToken": []}]


def test_each_oneof_takes_the_branch_gnostic_would() -> None:
    """Byte-level checks of the branches a Kubernetes document does not use, against hand-built messages."""
    doc: dict[str, Any] = {
        "swagger": "2.0",
        "paths": {
            "/x": {
                "parameters": [{"$ref": "#/parameters/p"}],
                "get": {
                    "parameters": [
                        {"name": "h", "in": "header", "type": "string"},
                        {"name": "f", "in": "formData", "type": "file", "required": True},
                        {"name": "ids", "in": "query", "type": "array", "items": {"type": "integer", "minimum": -1}},
                        {"name": "b", "in": "body", "schema": {"type": ["string", "null"]}},
                    ],
                    "responses": {
                        "200": {"description": "ok", "schema": {"type": "file"}},
                        "404": {"$ref": "#/responses/missing"},
                        "x-r": 1,
                    },
                },
            },
            "x-p": {"a": [1, "2"]},
        },
        "securityDefinitions": {
            "basic": {"type": "basic"},
            "oauth": {"type": "oauth2", "flow": "accessCode", "scopes": {"read": "Read it", "none": ""}},
        },
        "definitions": {"T": {"items": [{"type": "string"}], "additionalProperties": True}},
    }
    decoded = decode("Document", encode_document(doc))
    item = decoded["paths"]["/x"]
    assert item["parameters"] == [{"$ref": "#/parameters/p"}]
    assert item["get"]["parameters"] == proto3(doc["paths"]["/x"]["get"]["parameters"])
    assert item["get"]["responses"] == doc["paths"]["/x"]["get"]["responses"]
    assert decoded["paths"]["x-p"] == {"a": [1, "2"]}
    assert decoded["securityDefinitions"] == {
        "basic": {"type": "basic"},
        "oauth": {"type": "oauth2", "flow": "accessCode", "scopes": {"read": "Read it", "none": ""}},
    }
    assert decoded["definitions"]["T"] == {"items": {"type": "string"}, "additionalProperties": True}


def test_scalars_follow_proto3_and_go() -> None:
    """Zero scalars stay off the wire, negative int64s are ten bytes, doubles little-endian fixed64."""
    schema = {"minLength": 0, "maxLength": -1, "readOnly": False, "title": "", "maximum": 1.5, "minimum": 0.0}
    encoded = encode_document({"definitions": {"S": schema}})
    definitions = wire_fields(encoded)
    assert [n for n, _, _ in definitions] == [9]
    named = wire_fields(definitions[0][2])[0][2]
    value = dict((n, v) for n, _, v in wire_fields(named))[2]
    # maximum (7, fixed64) then maxLength (11, varint): field-number order, not the JSON's
    assert value == b"\x39" + struct.pack("<d", 1.5) + b"\x58" + b"\xff" * 9 + b"\x01"
    assert openapiv2proto._yaml("a") == "a\n" and openapiv2proto._yaml(True) == "true\n"


@pytest.mark.parametrize(
    ("accept", "served"),
    [
        (PROTOBUF_MEDIA_TYPE_DEPRECATED, PROTOBUF_MEDIA_TYPE),  # client-go's OpenAPISchema()
        (PROTOBUF_MEDIA_TYPE, PROTOBUF_MEDIA_TYPE),
        (f"{PROTOBUF_MEDIA_TYPE_DEPRECATED}, application/json", PROTOBUF_MEDIA_TYPE),
        (f"application/json;q=0.5, {PROTOBUF_MEDIA_TYPE_DEPRECATED};q=0.9", PROTOBUF_MEDIA_TYPE),
        (f"{PROTOBUF_MEDIA_TYPE_DEPRECATED};q=0.1, application/json", JSON_MEDIA_TYPE),
        (f"*/*, {PROTOBUF_MEDIA_TYPE}", PROTOBUF_MEDIA_TYPE),  # concrete before wildcard at equal quality
        ("", JSON_MEDIA_TYPE),
        ("*/*", JSON_MEDIA_TYPE),
        ("application/*", JSON_MEDIA_TYPE),
        ("text/html, application/json;q=0.2", JSON_MEDIA_TYPE),
        ("text/html", None),
        ("application/json;q=0", None),
        ("application/vnd.kubernetes.protobuf", None),
    ],
)
def test_content_negotiation(accept: str, served: str | None) -> None:
    assert negotiate(accept) == served

"""Encode the /openapi/v2 Swagger document as the protobuf kube serves: gnostic's `openapi.v2.Document`.

client-go's `OpenAPISchema()` (what kubectl validates a `kind: List`, or any kind missing from /openapi/v3, with)
asks for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and nothing else, so a server that only has
the JSON form fails every such `kubectl apply|create -f`. kube builds this form by parsing its JSON document with
gnostic's compiler (github.com/google/gnostic-models, openapiv2/OpenAPIv2.proto) and marshalling the result; this
module writes the same proto3 wire encoding straight from the JSON-shaped dict, with no protobuf dependency.

How JSON maps to the messages, as gnostic's compiler does it:

* every message is described once in `_SPEC` (field number, JSON key, type), transcribed from OpenAPIv2.proto;
  fields are written in field-number order, as Go's marshaller does, and JSON keys the message lacks are left out;
* maps (definitions, properties, paths, responses, security requirements ...) become repeated `Named*` entries in
  the JSON's order; `x-*` keys become the message's `vendor_extension` entries, `NamedAny` whose `Any.yaml` holds
  the value as YAML (kube's `x-kubernetes-group-version-kind` is read back from there);
* `$ref` is the `_ref` field; oneofs are picked like the compiler: a `$ref` makes a parameter or response a
  `JsonReference`, `in: body` a `BodyParameter`, `in: query|path|header|formData` the matching `NonBodyParameter`
  branch, `type: file` a `FileSchema`, a boolean `additionalProperties` the `boolean` branch, `type` and `items`
  a list even when the JSON has one value;
* proto3: zero scalars (``""``, ``false``, ``0``) are not written, except in a oneof; sub-messages always are.

A scalar of the wrong JSON type (which gnostic would reject, failing the whole document) is left out: the JSON
form still carries it, and one odd CRD schema must not take validation away from every kubectl.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import yaml

JSON_MEDIA_TYPE: Final = "application/json"
#: what client-go asks for (deprecated spelling) and the spelling kube answers with
PROTOBUF_MEDIA_TYPE_DEPRECATED: Final = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
PROTOBUF_MEDIA_TYPE: Final = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
#: served media types in kube's order of preference: a wildcard gets JSON
MEDIA_TYPES: Final = (JSON_MEDIA_TYPE, PROTOBUF_MEDIA_TYPE_DEPRECATED, PROTOBUF_MEDIA_TYPE)

_U64: Final = (1 << 64) - 1
_VARINT: Final = 0
_FIXED64: Final = 1
_LEN: Final = 2
_SCALARS: Final = frozenset({"string", "bool", "double", "int64", "Any"})
_DUMPER: Final = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# One entry per message: its fields as `key type`, separated by ";" and numbered 1, 2, ... in that order (every
# message of OpenAPIv2.proto numbers its fields consecutively). A type is a scalar (string, bool, double, int64),
# `Any` or a message name; `[]` after it means repeated; `* {T}` takes the object's other entries (keys no field
# and no extension claims) as repeated Named<T>; `x-` alone collects the vendor extensions (repeated NamedAny).
_PRIMITIVE = "type string; format string; items PrimitivesItems; collectionFormat string; default Any; "
_VALIDATION = (
    "maximum double; exclusiveMaximum bool; minimum double; exclusiveMinimum bool; maxLength int64; "
    "minLength int64; pattern string; maxItems int64; minItems int64; uniqueItems bool; enum Any[]; "
    "multipleOf double; "
)
_NON_BODY = "required bool; in string; description string; name string; "
_SECURITY = "type string; flow string; scopes Oauth2Scopes; "
_SPEC: Final = {
    "Document": "swagger string; info Info; host string; basePath string; schemes string[]; consumes string[]; "
    "produces string[]; paths Paths; definitions Definitions; parameters ParameterDefinitions; "
    "responses ResponseDefinitions; security SecurityRequirement[]; securityDefinitions SecurityDefinitions; "
    "tags Tag[]; externalDocs ExternalDocs; x-",
    "Info": "title string; version string; description string; termsOfService string; contact Contact; "
    "license License; x-",
    "Contact": "name string; url string; email string; x-",
    "License": "name string; url string; x-",
    "ExternalDocs": "description string; url string; x-",
    "Tag": "name string; description string; externalDocs ExternalDocs; x-",
    "Xml": "name string; namespace string; prefix string; attribute bool; wrapped bool; x-",
    "Paths": "x-; * {PathItem}",
    "PathItem": "$ref string; get Operation; put Operation; post Operation; delete Operation; options Operation; "
    "head Operation; patch Operation; parameters ParametersItem[]; x-",
    "Operation": "tags string[]; summary string; description string; externalDocs ExternalDocs; operationId string; "
    "produces string[]; consumes string[]; parameters ParametersItem[]; responses Responses; schemes string[]; "
    "deprecated bool; security SecurityRequirement[]; x-",
    "Responses": "* {ResponseValue}; x-",
    "Response": "description string; schema SchemaItem; headers Headers; examples Examples; x-",
    "Headers": "* {Header}",
    "Examples": "* {Any}",
    "Header": _PRIMITIVE + _VALIDATION + "description string; x-",
    "PrimitivesItems": _PRIMITIVE + _VALIDATION + "x-",
    "BodyParameter": "description string; name string; in string; required bool; schema Schema; x-",
    "HeaderParameterSubSchema": _NON_BODY + _PRIMITIVE + _VALIDATION + "x-",
    "PathParameterSubSchema": _NON_BODY + _PRIMITIVE + _VALIDATION + "x-",
    "QueryParameterSubSchema": _NON_BODY + "allowEmptyValue bool; " + _PRIMITIVE + _VALIDATION + "x-",
    "FormDataParameterSubSchema": _NON_BODY + "allowEmptyValue bool; " + _PRIMITIVE + _VALIDATION + "x-",
    "JsonReference": "$ref string; description string",
    "Schema": "$ref string; format string; title string; description string; default Any; multipleOf double; "
    "maximum double; exclusiveMaximum bool; minimum double; exclusiveMinimum bool; maxLength int64; "
    "minLength int64; pattern string; maxItems int64; minItems int64; uniqueItems bool; maxProperties int64; "
    "minProperties int64; required string[]; enum Any[]; additionalProperties AdditionalPropertiesItem; "
    "type TypeItem; items ItemsItem; allOf Schema[]; properties Properties; discriminator string; readOnly bool; "
    "xml Xml; externalDocs ExternalDocs; example Any; x-",
    "FileSchema": "format string; title string; description string; default Any; required string[]; type string; "
    "readOnly bool; externalDocs ExternalDocs; example Any; x-",
    "Definitions": "* {Schema}",
    "Properties": "* {Schema}",
    "ParameterDefinitions": "* {Parameter}",
    "ResponseDefinitions": "* {Response}",
    "SecurityDefinitions": "* {SecurityDefinitionsItem}",
    "SecurityRequirement": "* {StringArray}",
    "Oauth2Scopes": "* {string}",
    "BasicAuthenticationSecurity": "type string; description string; x-",
    "ApiKeySecurity": "type string; name string; in string; description string; x-",
    "Oauth2ImplicitSecurity": _SECURITY + "authorizationUrl string; description string; x-",
    "Oauth2PasswordSecurity": _SECURITY + "tokenUrl string; description string; x-",
    "Oauth2ApplicationSecurity": _SECURITY + "tokenUrl string; description string; x-",
    "Oauth2AccessCodeSecurity": _SECURITY + "authorizationUrl string; tokenUrl string; description string; x-",
}
_FIELD = re.compile(r"(\S+)(?: (\{?)(\w+)\}?(\[\])?)?")


@dataclass(frozen=True)
class _Field:
    number: int
    kind: str  # scalar, "Any" or a message name
    repeated: bool = False


@dataclass(frozen=True)
class _Message:
    fields: dict[str, _Field]  # by JSON key
    extensions: int = 0  # number of the vendor_extension field, 0 if none
    entries: _Field | None = None  # the map over the object's other keys, if the message is one


def _parse(spec: str) -> _Message:
    fields: dict[str, _Field] = {}
    extensions = 0
    entries = None
    for number, entry in enumerate(spec.split("; "), 1):
        match = _FIELD.fullmatch(entry)
        if match is None:
            raise ValueError(f"malformed field spec {entry!r}")
        key, brace, kind, repeated = match.groups()
        if key == "x-":
            extensions = number
        elif brace:
            entries = _Field(number, kind)
        else:
            fields[key] = _Field(number, kind, repeated=bool(repeated))
    return _Message(fields, extensions, entries)


_MESSAGES: Final = {name: _parse(spec) for name, spec in _SPEC.items()}


def encode_document(document: dict[str, Any]) -> bytes:
    """The `openapi.v2.Document` protobuf of a Swagger 2.0 document (as `openapi.v2_document` builds it)."""
    return _message("Document", document)


def negotiate(accept: str) -> str | None:
    """The Content-Type to answer GET /openapi/v2 with for this Accept header, None for 406.

    As kube-openapi: clauses by falling quality, concrete types before wildcards, and the first clause that
    matches one of `MEDIA_TYPES` (in that order, so `*/*` is JSON) wins; either protobuf spelling is answered
    with `PROTOBUF_MEDIA_TYPE`. Clauses with q=0 are refused.
    """
    clauses: list[tuple[float, str, str]] = []
    for part in (accept or "*/*").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        kind, _, subtype = media.lower().partition("/")
        if quality > 0:
            clauses.append((quality, kind, subtype or "*"))
    clauses.sort(key=lambda c: (-c[0], c[1] == "*", c[2] == "*"))
    for _, kind, subtype in clauses:
        for served in MEDIA_TYPES:
            served_kind, _, served_subtype = served.partition("/")
            if kind in ("*", served_kind) and subtype in ("*", served_subtype):
                return JSON_MEDIA_TYPE if served == JSON_MEDIA_TYPE else PROTOBUF_MEDIA_TYPE
    return None


# --- messages ----------------------------------------------------------------------------------


def _message(name: str, value: Any) -> bytes:
    special = _ONEOFS.get(name)
    if special is not None:
        return special(value)
    if not isinstance(value, dict):
        return b""
    spec = _MESSAGES[name]
    chunks: list[tuple[int, bytes]] = []
    for key, item in value.items():
        field = spec.fields.get(key)
        if field is not None:
            if not field.repeated:
                chunks.append((field.number, _field(field.number, field.kind, item)))
            elif isinstance(item, list):
                encoded = b"".join(_field(field.number, field.kind, element, keep_zero=True) for element in item)
                chunks.append((field.number, encoded))
        elif spec.extensions and key.startswith("x-"):
            chunks.append((spec.extensions, _len(spec.extensions, _named(key, "Any", item))))
        elif spec.entries is not None:
            chunks.append((spec.entries.number, _len(spec.entries.number, _named(key, spec.entries.kind, item))))
    chunks.sort(key=lambda chunk: chunk[0])  # field-number order; a stable sort keeps map entries in JSON order
    return b"".join(chunk for _, chunk in chunks)


def _named(name: str, kind: str, value: Any) -> bytes:
    """A Named<kind> entry: {1: name, 2: value}."""
    return _field(1, "string", name) + _field(2, kind, value)


def _field(number: int, kind: str, value: Any, *, keep_zero: bool = False) -> bytes:
    if kind == "Any":
        return _len(number, _field(2, "string", _yaml(value)))
    if kind not in _SCALARS:
        return _len(number, _message(kind, value))
    if kind == "string":
        if not isinstance(value, str) or not (value or keep_zero):
            return b""
        return _len(number, value.encode())
    if kind == "bool":
        if not isinstance(value, bool) or not (value or keep_zero):
            return b""
        return _key(number, _VARINT) + _varint(int(value))
    if isinstance(value, bool) or not isinstance(value, int | float) or not (value or keep_zero):
        return b""
    if kind == "double":
        return _key(number, _FIXED64) + struct.pack("<d", float(value))
    if isinstance(value, float) and not value.is_integer():
        return b""
    return _key(number, _VARINT) + _varint(int(value))


def _yaml(value: Any) -> str:
    """`Any.yaml`: the value as a YAML document, block style like gnostic's (which marshals with yaml.v3)."""
    text: str = yaml.dump(
        value, Dumper=_DUMPER, default_flow_style=False, sort_keys=False, allow_unicode=True, width=1 << 30
    )
    return text.removesuffix("...\n")  # PyYAML's end marker after a bare scalar; yaml.v3 writes none


# --- oneofs and list-or-single values --------------------------------------------------------------


def _parameters_item(value: Any) -> bytes:
    if isinstance(value, dict) and "$ref" in value:
        return _field(2, "JsonReference", value)
    return _field(1, "Parameter", value)


def _parameter(value: Any) -> bytes:
    location = value.get("in") if isinstance(value, dict) else None
    if location == "body":
        return _field(1, "BodyParameter", value)
    branch = _NON_BODY_BRANCHES.get(location) if isinstance(location, str) else None
    if branch is None:
        return b""  # gnostic rejects a parameter in no known location: nothing to say about it
    number, kind = branch
    return _len(2, _field(number, kind, value))


_NON_BODY_BRANCHES: Final = {
    "header": (1, "HeaderParameterSubSchema"),
    "formData": (2, "FormDataParameterSubSchema"),
    "query": (3, "QueryParameterSubSchema"),
    "path": (4, "PathParameterSubSchema"),
}


def _response_value(value: Any) -> bytes:
    if isinstance(value, dict) and "$ref" in value:
        return _field(2, "JsonReference", value)
    return _field(1, "Response", value)


def _schema_item(value: Any) -> bytes:
    if isinstance(value, dict) and value.get("type") == "file":
        return _field(2, "FileSchema", value)
    return _field(1, "Schema", value)


def _additional_properties(value: Any) -> bytes:
    if isinstance(value, bool):
        return _field(2, "bool", value, keep_zero=True)  # a oneof member is written even when false
    return _field(1, "Schema", value)


def _security_definitions_item(value: Any) -> bytes:
    if not isinstance(value, dict):
        return b""
    kind = value.get("type")
    if kind == "basic":
        return _field(1, "BasicAuthenticationSecurity", value)
    if kind == "apiKey":
        return _field(2, "ApiKeySecurity", value)
    flows = {"implicit": 3, "password": 4, "application": 5, "accessCode": 6}
    flow = value.get("flow")
    if kind == "oauth2" and isinstance(flow, str) and flow in flows:
        number = flows[flow]
        return _field(number, f"Oauth2{flow[0].upper()}{flow[1:]}Security", value)
    return b""


def _repeated(kind: str) -> Callable[[Any], bytes]:
    """A message whose one field 1 is a repeated `kind` (TypeItem, ItemsItem, StringArray): a single JSON value
    counts as a list of one."""

    def encode(value: Any) -> bytes:
        values: Iterable[Any] = value if isinstance(value, list) else [value]
        return b"".join(_field(1, kind, item, keep_zero=True) for item in values)

    return encode


_ONEOFS: Final[dict[str, Callable[[Any], bytes]]] = {
    "ParametersItem": _parameters_item,
    "Parameter": _parameter,
    "ResponseValue": _response_value,
    "SchemaItem": _schema_item,
    "AdditionalPropertiesItem": _additional_properties,
    "SecurityDefinitionsItem": _security_definitions_item,
    "TypeItem": _repeated("string"),
    "ItemsItem": _repeated("Schema"),
    "StringArray": _repeated("string"),
}


# --- wire format -----------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _SMALL[value]
    value &= _U64  # negative int64s as ten-byte two's complement, as Go writes them
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL: Final = tuple(bytes((n,)) for n in range(0x80))


@functools.cache
def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _len(number: int, payload: bytes) -> bytes:
    return _key(number, _LEN) + _varint(len(payload)) + payload

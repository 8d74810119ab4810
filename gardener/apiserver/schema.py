"""Structural OpenAPI v3 schemas of CustomResourceDefinitions: validate, default and prune custom resources.

This mirrors what kube-apiserver (apiextensions-apiserver with kube-openapi) does on every write of a
custom resource, in the same order the server should call it:

1. ``prune`` drops fields the schema does not know (unless ``x-kubernetes-preserve-unknown-fields``)
   and nulls of non-nullable fields that have no default; it returns the dropped paths so the caller
   can reject them under ``fieldValidation=Strict`` or warn under ``Warn``.
2. ``apply_defaults`` fills ``default`` values.
3. ``validate`` reports every remaining problem at once, with kube's causes and messages, so clients
   that parse ``details.causes`` (kubectl, controller-runtime, kopf) behave as against a real server.

Schemas are compiled once into a tree of ``_Node`` and cached by the identity of the schema dict:
schema dicts must therefore not be mutated after their first use (a CRD update brings new dicts).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from gardener.apiserver.errors import FieldCause, go_quote
from gardener.apiserver.meta import OBJECT_META_FIELDS

# --------------------------------------------------------------------------------------------------
# Field errors shaped like k8s.io/apimachinery/pkg/util/validation/field, so every module that reports
# causes (this one and crdvalidation) renders values and reasons the same way kube does.

REQUIRED: Final = "FieldValueRequired"
INVALID: Final = "FieldValueInvalid"
TYPE_INVALID: Final = "FieldValueTypeInvalid"
NOT_SUPPORTED: Final = "FieldValueNotSupported"
FORBIDDEN: Final = "FieldValueForbidden"
DUPLICATE: Final = "FieldValueDuplicate"
TOO_LONG: Final = "FieldValueTooLong"
TOO_MANY: Final = "FieldValueTooMany"


def field_required(path: str, detail: str = "") -> FieldCause:
    return FieldCause(REQUIRED, f"Required value: {detail}" if detail else "Required value", path)


def field_forbidden(path: str, detail: str) -> FieldCause:
    return FieldCause(FORBIDDEN, f"Forbidden: {detail}" if detail else "Forbidden", path)


def field_invalid(path: str, value: Any, detail: str) -> FieldCause:
    return FieldCause(INVALID, _with_detail(f"Invalid value: {render_value(value)}", detail), path)


def field_type_invalid(path: str, value: Any, detail: str) -> FieldCause:
    return FieldCause(TYPE_INVALID, _with_detail(f"Invalid value: {render_value(value)}", detail), path)


def field_not_supported(path: str, value: Any, supported: Iterable[str]) -> FieldCause:
    quoted = ", ".join(go_quote(s) for s in supported)
    detail = f"supported values: {quoted}" if quoted else ""
    return FieldCause(NOT_SUPPORTED, _with_detail(f"Unsupported value: {render_value(value)}", detail), path)


def field_duplicate(path: str, value: Any) -> FieldCause:
    return FieldCause(DUPLICATE, f"Duplicate value: {render_value(value)}", path)


def field_too_long(path: str, max_length: int) -> FieldCause:
    unit = "byte" if max_length == 1 else "bytes"
    return FieldCause(TOO_LONG, f"Too long: may not be more than {max_length} {unit}", path)


def field_too_many(path: str, actual: int, max_items: int) -> FieldCause:
    return FieldCause(TOO_MANY, f"Too many: {actual}: must have at most {max_items} items", path)


def _with_detail(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


def render_value(value: Any) -> str:
    """A bad value the way field.Error.ErrorBody prints it: strings quoted, numbers plain, others as Go %#v."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    return _go_sharp(value)


def _go_sharp(value: Any) -> str:
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, dict):
        inner = ", ".join(f"{go_quote(str(k))}:{_go_sharp(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[]interface {}{" + ", ".join(_go_sharp(v) for v in value) + "}"
    return render_value(value)


def go_float(f: float) -> str:
    """Go's %v for a float64 (shortest repr, exponent form from 1e+06 up or below 1e-04)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sign, digit_tuple, exponent = decimal.Decimal(repr(f)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    point = len(digit_tuple) + exponent  # position of the decimal point relative to the digit string
    exp10 = point - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def _number_text(limit: float | int, data_is_int: bool) -> str:
    """kube-openapi prints a bound as int64 when the checked value is an integer, else as float64."""
    if data_is_int and isinstance(limit, float) and limit.is_integer():
        return str(int(limit))
    if isinstance(limit, int) and not isinstance(limit, bool):
        return str(limit) if data_is_int else go_float(float(limit))
    return go_float(float(limit))


# --------------------------------------------------------------------------------------------------
# Kubernetes name rules, shared with crdvalidation.

_DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT: Final = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT: Final = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE: Final = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE: Final = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE: Final = re.compile(_DNS1035_LABEL_FMT)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def dns1123_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1123_LABEL_RE.fullmatch(value):
        errs.append(
            _regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                "start and end with an alphanumeric character",
                _DNS1123_LABEL_FMT,
                "my-name",
                "123-abc",
            )
        )
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def dns1035_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character",
                _DNS1035_LABEL_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errs


# --------------------------------------------------------------------------------------------------
# String formats: the ones kube-apiserver checks for CRDs (unknown formats are ignored, as in kube).

_UUID_RE: Final = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
_UUID3_RE: Final = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
_UUID4_RE: Final = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}", re.I)
_UUID5_RE: Final = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}", re.I)
_DATE_RE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))"
)
_GO_DURATION_RE: Final = re.compile(r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|[-+]?0")
_UNIT_DURATION_RE: Final = re.compile(
    r"\d+\s*(?:ns|us|µs|ms|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours"
    r"|d|day|days|w|wk|wks|week|weeks)",
    re.I,
)
_BASE64_RE: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})")
_MAC_RE: Final = re.compile(
    r"[0-9a-fA-F]{2}(?:([:-])[0-9a-fA-F]{2})(?:\1[0-9a-fA-F]{2}){4}(?:(?:\1[0-9a-fA-F]{2}){2}|(?:\1[0-9a-fA-F]{2}){14})?"
    r"|[0-9a-fA-F]{4}(?:\.[0-9a-fA-F]{4}){2}(?:\.[0-9a-fA-F]{4}|\.[0-9a-fA-F]{4}(?:\.[0-9a-fA-F]{4}){6})?"
)
_HOSTNAME_LABEL_RE: Final = re.compile(r"[^\W_](?:[\w-]*[^\W_])?")
_EMAIL_RE: Final = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")
_URI_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S*")
_HEXCOLOR_RE: Final = re.compile(r"#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_RGB_PART: Final = r"\s*(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\s*"
_RGBCOLOR_RE: Final = re.compile(rf"rgb\({_RGB_PART},{_RGB_PART},{_RGB_PART}\)")
_SSN_RE: Final = re.compile(r"\d{3}[- ]?\d{2}[- ]?\d{4}")
_BSON_RE: Final = re.compile(r"[0-9a-fA-F]{24}")
_QUANTITY_RE: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?")


def _is_date(s: str) -> bool:
    m = _DATE_RE.fullmatch(s)
    if not m:
        return False
    try:
        dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return True


def _is_datetime(s: str) -> bool:
    m = _DATETIME_RE.fullmatch(s)
    if not m:
        return False
    try:
        dt.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))
    except ValueError:
        return False
    return m[9] is None or (int(m[9]) < 24 and int(m[10]) < 60)


def _is_hostname(s: str) -> bool:
    if not s or len(s) > 255:
        return False
    return all(len(p) <= 63 and _HOSTNAME_LABEL_RE.fullmatch(p) for p in s.split("."))


def _is_ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
    except ValueError:
        return False
    return True


def _is_ipv6(s: str) -> bool:
    if "%" in s or ":" not in s:
        return False
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


def _is_cidr(s: str) -> bool:
    if "/" not in s:
        return False
    try:
        ipaddress.ip_network(s, strict=False)
    except ValueError:
        return False
    return True


def _is_email(s: str) -> bool:
    if s.endswith(">") and "<" in s:
        s = s[s.rindex("<") + 1 : -1]
    return bool(_EMAIL_RE.fullmatch(s))


def _is_uri(s: str) -> bool:
    return (s.startswith("/") or bool(_URI_SCHEME_RE.fullmatch(s))) and " " not in s


def _is_base64(s: str) -> bool:
    if not _BASE64_RE.fullmatch(s):
        return False
    try:
        base64.b64decode(s, validate=True)
    except binascii.Error:
        return False
    return True


def _is_isbn10(s: str) -> bool:
    s = s.replace("-", "").replace(" ", "")
    if not re.fullmatch(r"\d{9}[\dX]", s):
        return False
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(s))
    return total % 11 == 0


def _is_isbn13(s: str) -> bool:
    s = s.replace("-", "").replace(" ", "")
    if not re.fullmatch(r"\d{13}", s):
        return False
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(s))
    return total % 10 == 0


def _is_creditcard(s: str) -> bool:
    digits = re.sub(r"\D", "", s)
    if not 12 <= len(digits) <= 19:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Keyed by the format name with "-" removed, as go-openapi's registry normalises names.
_FORMATS: Final[dict[str, Callable[[str], bool]]] = {
    "bsonobjectid": lambda s: bool(_BSON_RE.fullmatch(s)),
    "uri": _is_uri,
    "email": _is_email,
    "hostname": _is_hostname,
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
    "cidr": _is_cidr,
    "mac": lambda s: bool(_MAC_RE.fullmatch(s)),
    "uuid": lambda s: bool(_UUID_RE.fullmatch(s)),
    "uuid3": lambda s: bool(_UUID3_RE.fullmatch(s)),
    "uuid4": lambda s: bool(_UUID4_RE.fullmatch(s)),
    "uuid5": lambda s: bool(_UUID5_RE.fullmatch(s)),
    "isbn": lambda s: _is_isbn10(s) or _is_isbn13(s),
    "isbn10": _is_isbn10,
    "isbn13": _is_isbn13,
    "creditcard": _is_creditcard,
    "ssn": lambda s: bool(_SSN_RE.fullmatch(s)),
    "hexcolor": lambda s: bool(_HEXCOLOR_RE.fullmatch(s)),
    "rgbcolor": lambda s: bool(_RGBCOLOR_RE.fullmatch(s)),
    "byte": _is_base64,
    "password": lambda s: True,
    "date": _is_date,
    "duration": lambda s: bool(_GO_DURATION_RE.fullmatch(s) or _UNIT_DURATION_RE.fullmatch(s.strip())),
    "datetime": _is_datetime,
    "quantity": lambda s: bool(_QUANTITY_RE.fullmatch(s)),
    "k8sshortname": lambda s: not dns1123_label_errors(s),
    "k8slongname": lambda s: not dns1123_subdomain_errors(s),
}

_INT_RANGES: Final = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}

# --------------------------------------------------------------------------------------------------
# JSON helpers

_META_FIELDS: Final = frozenset({"apiVersion", "kind", "metadata"})
_OBJECT_META_FIELDS: Final = OBJECT_META_FIELDS


def json_type(value: Any) -> str:
    """The OpenAPI type name of a decoded JSON value; bool is checked before int on purpose."""
    t = type(value)
    if t is str:
        return "string"
    if t is dict:
        return "object"
    if t is bool:
        return "boolean"
    if t is int:
        return "integer"
    if t is float:
        return "number"
    if t is list:
        return "array"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality of JSON values where True != 1 (Python's == would say they are equal)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def json_copy(value: Any) -> Any:
    """Deep copy of a decoded JSON value, much faster than copy.deepcopy for this shape."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def _json_key(value: Any) -> Any:
    """A hashable identity of a JSON value: 1, 1.0 and True stay distinct, as they do for kube (Go types)."""
    if type(value) is str:
        return value
    if value is None or isinstance(value, bool | int | float):
        return (json_type(value), value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------------------------------
# Compiled schema tree


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _as_number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


class _Node:
    """One schema level with everything parsed up front, so validating an object does no dict lookups."""

    __slots__ = (
        "additional",
        "additional_set",
        "all_of",
        "any_of",
        "default",
        "defaulted_props",
        "embedded",
        "enum",
        "excl_max",
        "excl_min",
        "format_check",
        "format_name",
        "has_default",
        "int_or_string",
        "items",
        "list_type",
        "map_keys",
        "max_items",
        "max_length",
        "max_props",
        "maximum",
        "min_items",
        "min_length",
        "min_props",
        "minimum",
        "multiple_of",
        "not_",
        "nullable",
        "number_format",
        "one_of",
        "pattern",
        "pattern_error",
        "pattern_src",
        "preserve",
        "properties",
        "required",
        "type_label",
        "types",
        "unique",
    )

    has_default: bool
    default: Any

    def __init__(self, raw: dict[str, Any]) -> None:
        typ = raw.get("type")
        self.int_or_string = raw.get("x-kubernetes-int-or-string") is True
        types: tuple[str, ...]
        if self.int_or_string:
            types = ("integer", "string")
        elif isinstance(typ, str) and typ:
            types = (typ,)
        elif isinstance(typ, list):
            types = tuple(t for t in typ if isinstance(t, str))
        else:
            types = ()
        self.types = types
        self.type_label = ",".join(types)
        self.nullable = raw.get("nullable") is True
        self.preserve = raw.get("x-kubernetes-preserve-unknown-fields") is True
        self.embedded = raw.get("x-kubernetes-embedded-resource") is True

        props = raw.get("properties")
        self.properties: dict[str, _Node] = (
            {k: _Node(v) for k, v in props.items() if isinstance(v, dict)} if isinstance(props, dict) else {}
        )
        ap = raw.get("additionalProperties")
        # additional_set: the key is present; additional: its schema (None for a bare true/false).
        self.additional_set: bool | None = None
        self.additional: _Node | None = None
        if isinstance(ap, dict):
            self.additional_set = True
            self.additional = _Node(ap)
        elif isinstance(ap, bool):
            self.additional_set = ap
        items = raw.get("items")
        self.items: _Node | None = _Node(items) if isinstance(items, dict) else None

        req = raw.get("required")
        self.required: tuple[str, ...] = tuple(r for r in req if isinstance(r, str)) if isinstance(req, list) else ()
        enum = raw.get("enum")
        self.enum: list[Any] | None = enum if isinstance(enum, list) and enum else None

        pattern = raw.get("pattern")
        self.pattern_src: str | None = pattern if isinstance(pattern, str) and pattern else None
        self.pattern: re.Pattern[str] | None = None
        self.pattern_error: str | None = None
        if self.pattern_src is not None:
            self.pattern, self.pattern_error = compile_pattern(self.pattern_src)

        self.minimum = _as_number(raw.get("minimum"))
        self.maximum = _as_number(raw.get("maximum"))
        self.excl_min = raw.get("exclusiveMinimum") is True
        self.excl_max = raw.get("exclusiveMaximum") is True
        self.multiple_of = _as_number(raw.get("multipleOf"))
        self.min_length = _as_int(raw.get("minLength"))
        self.max_length = _as_int(raw.get("maxLength"))
        self.min_items = _as_int(raw.get("minItems"))
        self.max_items = _as_int(raw.get("maxItems"))
        self.min_props = _as_int(raw.get("minProperties"))
        self.max_props = _as_int(raw.get("maxProperties"))
        self.unique = raw.get("uniqueItems") is True

        fmt = raw.get("format")
        self.format_name: str | None = None
        self.format_check: Callable[[str], bool] | None = None
        self.number_format: tuple[int, int] | None = None
        if isinstance(fmt, str) and fmt:
            if types in ((), ("string",)) or self.int_or_string:
                check = _FORMATS.get(fmt.replace("-", ""))
                if check is not None:
                    self.format_name, self.format_check = fmt, check
            if "integer" in types and fmt in _INT_RANGES:
                self.format_name, self.number_format = fmt, _INT_RANGES[fmt]

        self.all_of = tuple(_Node(s) for s in _schema_list(raw.get("allOf")))
        self.any_of = tuple(_Node(s) for s in _schema_list(raw.get("anyOf")))
        self.one_of = tuple(_Node(s) for s in _schema_list(raw.get("oneOf")))
        not_ = raw.get("not")
        self.not_: _Node | None = _Node(not_) if isinstance(not_, dict) else None

        lt = raw.get("x-kubernetes-list-type")
        self.list_type: str | None = lt if isinstance(lt, str) else None
        mk = raw.get("x-kubernetes-list-map-keys")
        self.map_keys: tuple[str, ...] = tuple(k for k in mk if isinstance(k, str)) if isinstance(mk, list) else ()

        self.defaulted_props = tuple((k, n) for k, n in self.properties.items() if n.has_default)
        # The default itself is stored pruned and defaulted, as kube serves CRDs with pruned defaults:
        # a default that carries unknown fields must not smuggle them into objects.
        self.has_default = "default" in raw and raw["default"] is not None
        self.default = None
        if self.has_default:
            value = json_copy(raw["default"])
            _prune(value, self, "", None, root=self.embedded)
            _default(value, self)
            self.default = value


def _schema_list(value: Any) -> list[dict[str, Any]]:
    return [s for s in value if isinstance(s, dict)] if isinstance(value, list) else []


_LOOKAROUND_RE: Final = re.compile(r"\(\?(?:=|!|<=|<!)|\\[1-9]")


def compile_pattern(pattern: str) -> tuple[re.Pattern[str] | None, str | None]:
    """Compile an ECMA/RE2-style schema pattern; return (regex, None) or (None, why it is invalid).

    Go's RE2 has no lookarounds or backreferences, so kube rejects them; Python would accept them.
    ``\\d``, ``\\w`` and ``\\s`` are ASCII-only in RE2, hence re.ASCII.
    """
    if _LOOKAROUND_RE.search(pattern):
        return None, "invalid or unsupported Perl syntax"
    try:
        return re.compile(_go_anchors(pattern), re.ASCII), None
    except re.error as exc:
        return None, str(exc)


def _go_anchors(pattern: str) -> str:
    """Rewrite end anchors to Python's ``\\Z``.

    RE2's ``$`` (without the m flag) and ``\\z`` mean end of text, while Python's ``$`` also matches before
    a final newline, which would let "name\\n" pass ``^[a-z]+$``.
    """
    multiline = re.search(r"\(\?[a-zA-Z]*m", pattern) is not None
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\Z" if nxt == "z" and not in_class else ch + nxt)
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
                if pattern[i : i + 1] == "]":
                    out.append("]")
                    i += 1
                continue
            if pattern[i + 1 : i + 2] == "]":
                out.append("[]")
                i += 2
                continue
        elif ch == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class CompiledSchema:
    """A CRD version's openAPIV3Schema, parsed once; hold one per served version to skip the cache lookup."""

    __slots__ = ("_root", "schema")

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._root = _Node(schema)

    def validate(self, obj: Any, *, path: str = "", root: bool = True) -> list[FieldCause]:
        errs: list[FieldCause] = []
        _check(self._root, obj, path, errs, root=root)
        return errs

    def apply_defaults(self, obj: Any) -> Any:
        return _apply_defaults_root(self._root, obj)

    def prune(self, obj: Any, *, root: bool = True, drop_nulls: bool = True) -> list[str]:
        removed: list[str] = []
        _prune(obj, self._root, "", removed, root=root)
        if drop_nulls:
            _prune_nulls(obj, self._root)
        removed.sort()
        return removed


_CACHE: dict[int, CompiledSchema] = {}
_CACHE_LIMIT: Final = 512


def compile_schema(schema: dict[str, Any], *, cache: bool = True) -> CompiledSchema:
    """The compiled form of schema, cached by the dict's identity (the cache keeps it alive, so ids stay unique)."""
    key = id(schema)
    hit = _CACHE.get(key)
    if hit is not None and hit.schema is schema:
        return hit
    compiled = CompiledSchema(schema)
    if cache:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = compiled
    return compiled


# --------------------------------------------------------------------------------------------------
# Public entry points


def validate(obj: Any, schema: dict[str, Any], *, path: str = "", root: bool = True) -> list[FieldCause]:
    """Every problem of obj against schema, as kube-apiserver reports it for a custom resource.

    With root=True obj is a whole custom resource: apiVersion, kind and metadata are always allowed
    and metadata is only checked for being an object (plus name/generateName rules from the schema).
    """
    return compile_schema(schema).validate(obj, path=path, root=root)


def apply_defaults(obj: Any, schema: dict[str, Any]) -> Any:
    """Fill `default` values like apiextensions-apiserver; obj is mutated in place and returned."""
    return compile_schema(schema).apply_defaults(obj)


def prune(obj: Any, schema: dict[str, Any], *, root: bool = True, drop_nulls: bool = True) -> list[str]:
    """Remove fields the schema does not specify, in place; return their paths ("spec.foo"), sorted.

    Like kube's decoder this also drops nulls of non-nullable fields without a default (not reported:
    they are not unknown fields); drop_nulls=False turns that off.
    """
    return compile_schema(schema).prune(obj, root=root, drop_nulls=drop_nulls)


# --------------------------------------------------------------------------------------------------
# Validation (kube-openapi's SchemaValidator plus apiextensions' list-type and embedded checks)


def _type_ok(node: _Node, actual: str, value: Any) -> bool:
    types = node.types
    if not types or actual in types:
        return True
    if actual == "number" and "integer" in types and float(value).is_integer():
        return True
    return actual == "integer" and "number" in types


def _check(node: _Node, value: Any, path: str, errs: list[FieldCause], *, root: bool = False) -> None:
    if value is None:
        if node.types and not node.nullable:
            errs.append(field_type_invalid(path, "null", f'{path} in body must be of type {node.type_label}: "null"'))
        if node.enum is not None and not node.nullable and not any(v is None for v in node.enum):
            errs.append(_enum_error(node, value, path))
        return

    actual = json_type(value)
    if not _type_ok(node, actual, value):
        errs.append(field_type_invalid(path, actual, f'{path} in body must be of type {node.type_label}: "{actual}"'))

    if node.all_of or node.any_of or node.one_of or node.not_ is not None:
        _check_composition(node, value, path, errs)

    if actual == "string":
        _check_string(node, value, path, errs)
    elif actual in ("integer", "number"):
        _check_number(node, value, path, errs, actual == "integer")
    elif actual == "array":
        _check_array(node, value, path, errs)

    if node.enum is not None and not any(json_equal(value, e) for e in node.enum):
        errs.append(_enum_error(node, value, path))

    if actual == "object":
        _check_object(node, value, path, errs, root)
        if node.embedded:
            _check_embedded(value, path, errs)


def _enum_error(node: _Node, value: Any, path: str) -> FieldCause:
    assert node.enum is not None
    allowed = [e if isinstance(e, str) else json.dumps(e, sort_keys=True, separators=(",", ":")) for e in node.enum]
    return field_not_supported(path, value, allowed)


def _check_string(node: _Node, value: str, path: str, errs: list[FieldCause]) -> None:
    # kube-openapi's string validator stops at the first failure in this order.
    if node.max_length is not None and len(value) > node.max_length:
        errs.append(field_too_long(path, node.max_length))
    elif node.min_length is not None and len(value) < node.min_length:
        errs.append(field_invalid(path, value, f"{path} in body should be at least {node.min_length} chars long"))
    elif node.pattern_src is not None:
        if node.pattern is None:
            detail = f"{node.pattern_src}, but pattern is invalid: {node.pattern_error}"
            errs.append(field_invalid(path, value, f"{path} in body should match '{detail}'"))
        elif node.pattern.search(value) is None:
            errs.append(field_invalid(path, value, f"{path} in body should match '{node.pattern_src}'"))
    if node.format_check is not None and not node.format_check(value):
        errs.append(
            field_type_invalid(path, value, f"{path} in body must be of type {node.format_name}: {go_quote(value)}")
        )


def _check_number(node: _Node, value: float, path: str, errs: list[FieldCause], is_int: bool) -> None:
    if node.number_format is not None and is_int and not node.number_format[0] <= value <= node.number_format[1]:
        errs.append(
            field_invalid(path, value, f"{path} in body must be of type integer with format {node.format_name}")
        )
    if node.multiple_of is not None and node.multiple_of > 0:
        factor = node.multiple_of
        if is_int and float(factor).is_integer():
            bad = value % int(factor) != 0
        else:
            bad = not _nearly_integer((1 / factor) * value if factor < 1 else value / factor)
        if bad:
            text = _number_text(factor, is_int)
            errs.append(field_invalid(path, value, f"{path} in body should be a multiple of {text}"))
    if node.minimum is not None:
        low = node.minimum
        if value < low or (node.excl_min and value == low):
            how = "greater than" if node.excl_min else "greater than or equal to"
            errs.append(field_invalid(path, value, f"{path} in body should be {how} {_number_text(low, is_int)}"))
    if node.maximum is not None:
        high = node.maximum
        if value > high or (node.excl_max and value == high):
            how = "less than" if node.excl_max else "less than or equal to"
            errs.append(field_invalid(path, value, f"{path} in body should be {how} {_number_text(high, is_int)}"))


def _nearly_integer(f: float) -> bool:
    """swag.IsFloat64AJSONInteger: a relative tolerance of 1e-9, so 0.3 counts as a multiple of 0.1."""
    if not math.isfinite(f):
        return False
    g = float(math.trunc(f))
    if f == g:
        return True
    return abs(f - g) / (abs(f) + abs(g)) < 1e-9


def _check_array(node: _Node, value: list[Any], path: str, errs: list[FieldCause]) -> None:
    items = node.items
    if items is not None:
        for i, item in enumerate(value):
            _check(items, item, f"{path}[{i}]", errs)
    size = len(value)
    if node.min_items is not None and size < node.min_items:
        errs.append(field_invalid(path, size, f"{path} in body should have at least {node.min_items} items"))
    if node.max_items is not None and size > node.max_items:
        errs.append(field_too_many(path, size, node.max_items))
    if node.unique and _first_duplicate(value) is not None:
        errs.append(field_invalid(path, "", f"{path} in body shouldn't contain duplicates"))
    if node.list_type == "set":
        _check_list_set(value, path, errs)
    elif node.list_type == "map":
        _check_list_map(node, value, path, errs)


def _first_duplicate(value: list[Any]) -> int | None:
    seen: set[Any] = set()
    for i, item in enumerate(value):
        key = _json_key(item)
        if key in seen:
            return i
        seen.add(key)
    return None


def _duplicate_indices(keys: list[Any]) -> list[int]:
    """Index of the second occurrence of every repeated key (kube reports each duplicate once)."""
    counts: dict[Any, int] = {}
    dupes = []
    for i, key in enumerate(keys):
        n = counts.get(key, 0)
        if n == 1:
            dupes.append(i)
        counts[key] = n + 1
    return dupes


def _check_list_set(value: list[Any], path: str, errs: list[FieldCause]) -> None:
    if len(value) <= 1:
        return
    for i in _duplicate_indices([_json_key(v) for v in value]):
        errs.append(field_duplicate(f"{path}[{i}]", value[i]))


def _check_list_map(node: _Node, value: list[Any], path: str, errs: list[FieldCause]) -> None:
    for i, item in enumerate(value):
        if item is not None and not isinstance(item, dict):
            errs.append(field_invalid(f"{path}[{i}]", item, "must be an object for an array of list-type map"))
            return
    if len(value) <= 1 or not node.map_keys:
        return
    identities = []
    for item in value:
        entry = item or {}
        identities.append(tuple((k in entry, _json_key(entry.get(k))) for k in node.map_keys))
    for i in _duplicate_indices(identities):
        entry = value[i] or {}
        errs.append(field_duplicate(f"{path}[{i}]", {k: entry[k] for k in node.map_keys if k in entry}))


def _check_object(node: _Node, value: dict[str, Any], path: str, errs: list[FieldCause], root: bool) -> None:
    count = len(value)
    if node.min_props is not None and count < node.min_props:
        errs.append(field_invalid(path, count, f"{path} in body should have at least {node.min_props} properties"))
        return
    if node.max_props is not None and count > node.max_props:
        errs.append(field_too_many(path, count, node.max_props))
        return

    props = node.properties
    additional = node.additional
    for key, item in value.items():
        if root and key in _META_FIELDS:
            if key == "metadata":
                _check_root_metadata(props.get("metadata"), item, path, errs)
                continue
            if key not in props:
                continue
        sub = props.get(key)
        if sub is not None:
            _check(sub, item, _child(path, key), errs)
        elif additional is not None:
            _check(additional, item, _child(path, key), errs)
        elif node.additional_set is False:
            errs.append(field_invalid(path, key, f"{_child(path, key)} in body is a forbidden property"))

    for key in node.required:
        if key not in value:
            errs.append(field_required(_child(path, key)))


def _check_root_metadata(node: _Node | None, value: Any, path: str, errs: list[FieldCause]) -> None:
    """Root metadata is ObjectMeta, checked by the server; the schema may only restrict name and generateName."""
    meta_path = _child(path, "metadata")
    if not isinstance(value, dict):
        actual = json_type(value)
        errs.append(field_type_invalid(meta_path, actual, f'{meta_path} in body must be of type object: "{actual}"'))
        return
    if node is None:
        return
    for key in ("name", "generateName"):
        sub = node.properties.get(key)
        if sub is not None and key in value:
            _check(sub, value[key], _child(meta_path, key), errs)


def _check_embedded(value: dict[str, Any], path: str, errs: list[FieldCause]) -> None:
    """An x-kubernetes-embedded-resource needs apiVersion and kind, and an object as metadata."""
    api_version = value.get("apiVersion")
    av_path = _child(path, "apiVersion")
    if "apiVersion" not in value:
        errs.append(field_required(av_path))
    elif not isinstance(api_version, str):
        errs.append(field_invalid(av_path, api_version, "must be a string"))
    elif not api_version:
        errs.append(field_required(av_path))
    elif api_version.count("/") > 1:
        errs.append(field_invalid(av_path, api_version, f"unexpected GroupVersion string: {api_version}"))

    kind = value.get("kind")
    kind_path = _child(path, "kind")
    if "kind" not in value:
        errs.append(field_required(kind_path))
    elif not isinstance(kind, str):
        errs.append(field_invalid(kind_path, kind, "must be a string"))
    elif not kind:
        errs.append(field_required(kind_path))
    elif problems := dns1035_label_errors(kind.lower()):
        errs.append(
            field_invalid(kind_path, kind, "may have mixed case, but should otherwise match: " + ",".join(problems))
        )

    if "metadata" in value and not isinstance(value["metadata"], dict):
        meta = value["metadata"]
        errs.append(field_invalid(_child(path, "metadata"), meta, "must be an object"))


def _check_composition(node: _Node, value: Any, path: str, errs: list[FieldCause]) -> None:
    """allOf/anyOf/oneOf/not: value validations only, reported like kube-openapi's composite errors."""
    quoted = go_quote(path)
    if node.any_of:
        best: list[FieldCause] | None = None
        for sub in node.any_of:
            sub_errs: list[FieldCause] = []
            _check(sub, value, path, sub_errs)
            if not sub_errs:
                best = None
                break
            if best is None or len(sub_errs) < len(best):
                best = sub_errs
        if best is not None:
            errs.append(field_invalid(path, "", f"{quoted} must validate at least one schema (anyOf)"))
            errs.extend(best)
    if node.one_of:
        valid = 0
        best_failure: list[FieldCause] | None = None
        for sub in node.one_of:
            sub_errs = []
            _check(sub, value, path, sub_errs)
            if not sub_errs:
                valid += 1
            elif best_failure is None or len(sub_errs) < len(best_failure):
                best_failure = sub_errs
        if valid != 1:
            found = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            errs.append(field_invalid(path, "", f"{quoted} must validate one and only one schema (oneOf). {found}"))
            if valid == 0 and best_failure:
                errs.extend(best_failure)
    if node.all_of:
        passed = 0
        for sub in node.all_of:
            sub_errs = []
            _check(sub, value, path, sub_errs)
            if sub_errs:
                errs.extend(sub_errs)
            else:
                passed += 1
        if passed != len(node.all_of):
            none = ". None validated" if passed == 0 else ""
            errs.append(field_invalid(path, "", f"{quoted} must validate all the schemas (allOf){none}"))
    if node.not_ is not None:
        sub_errs = []
        _check(node.not_, value, path, sub_errs)
        if not sub_errs:
            errs.append(field_invalid(path, "", f"{quoted} must not validate the schema (not)"))


# --------------------------------------------------------------------------------------------------
# Pruning


def _record(removed: list[str] | None, path: str) -> None:
    if removed is not None:
        removed.append(path)


def _prune(x: Any, node: _Node | None, path: str, removed: list[str] | None, *, root: bool = False) -> None:
    if node is not None and node.preserve:
        _skip_prune(x, node, path, removed, root=root)
        return
    if isinstance(x, dict):
        if node is None:
            for key in list(x):
                _record(removed, _child(path, key))
                del x[key]
            return
        keep_meta = root or node.embedded
        for key in list(x):
            if keep_meta and key in _META_FIELDS:
                if key == "metadata" and node.embedded and not root:
                    _prune_embedded_metadata(x[key], _child(path, key), removed)
                continue
            sub = node.properties.get(key)
            if sub is not None or node.additional_set is not None:
                item = x[key]
                if isinstance(item, dict | list):
                    _prune(item, sub if sub is not None else node.additional, _child(path, key), removed)
            else:
                _record(removed, _child(path, key))
                del x[key]
    elif isinstance(x, list):
        items = node.items if node is not None else None
        for i, item in enumerate(x):
            if isinstance(item, dict | list):
                _prune(item, items, f"{path}[{i}]", removed)


def _skip_prune(x: Any, node: _Node, path: str, removed: list[str] | None, *, root: bool) -> None:
    """Under x-kubernetes-preserve-unknown-fields unknown keys stay, but known ones are still pruned inside."""
    if isinstance(x, dict):
        keep_meta = root or node.embedded
        for key, item in x.items():
            if keep_meta and key in _META_FIELDS:
                if key == "metadata" and node.embedded and not root:
                    _prune_embedded_metadata(item, _child(path, key), removed)
                continue
            if not isinstance(item, dict | list):
                continue
            sub = node.properties.get(key)
            if sub is not None:
                _prune(item, sub, _child(path, key), removed)
            elif node.additional_set is not None:
                _prune(item, node.additional, _child(path, key), removed)
    elif isinstance(x, list) and node.items is not None:
        for i, item in enumerate(x):
            if isinstance(item, dict | list):
                _skip_prune(item, node.items, f"{path}[{i}]", removed, root=False)


def _prune_embedded_metadata(meta: Any, path: str, removed: list[str] | None) -> None:
    """kube decodes an embedded resource's metadata into ObjectMeta, which drops unknown keys."""
    if isinstance(meta, dict):
        for key in [k for k in meta if k not in _OBJECT_META_FIELDS]:
            _record(removed, _child(path, key))
            del meta[key]


def _prune_nulls(x: Any, node: _Node | None) -> None:
    """Drop nulls of non-nullable fields that have no default (those with one are defaulted later)."""
    if node is None:
        return
    if isinstance(x, dict):
        props = node.properties
        additional = node.additional
        dead = []
        for key, item in x.items():
            sub = props.get(key) or additional
            if sub is None:
                continue
            if item is None:
                if not sub.nullable and not sub.has_default:
                    dead.append(key)
            elif isinstance(item, dict | list):
                _prune_nulls(item, sub)
        for key in dead:
            del x[key]
    elif isinstance(x, list) and node.items is not None:
        for item in x:
            if isinstance(item, dict | list):
                _prune_nulls(item, node.items)


# --------------------------------------------------------------------------------------------------
# Defaulting


def _apply_defaults_root(node: _Node, obj: Any) -> Any:
    if obj is None and node.has_default:
        return json_copy(node.default)
    _default(obj, node)
    return obj


def _default(x: Any, node: _Node | None) -> None:
    if node is None:
        return
    if isinstance(x, dict):
        for key, defaulted in node.defaulted_props:
            if key not in x or (x[key] is None and not defaulted.nullable):
                x[key] = json_copy(defaulted.default)
        props = node.properties
        additional = node.additional
        for key, item in x.items():
            sub = props.get(key)
            if sub is not None:
                if isinstance(item, dict | list):
                    _default(item, sub)
            elif additional is not None:
                if item is None and not additional.nullable and additional.has_default:
                    x[key] = item = json_copy(additional.default)
                if isinstance(item, dict | list):
                    _default(item, additional)
    elif isinstance(x, list):
        items = node.items
        if items is None:
            return
        for i, item in enumerate(x):
            if item is None and not items.nullable and items.has_default:
                x[i] = item = json_copy(items.default)
            if isinstance(item, dict | list):
                _default(item, items)

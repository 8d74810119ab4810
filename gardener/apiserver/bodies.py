"""Request bodies as plain JSON values: the decoders for JSON, YAML and protobuf, and their bounds.

Whatever the wire format, a body leaves here as dict (str keys), list, str, int, float, bool or None,
nested at most `MAX_DEPTH` deep, and a YAML body expands its aliases only within a budget. Everything
downstream (validation, patches, storage, orjson) relies on that instead of failing on a YAML date, a byte
string or a 10,000-deep list. `gardener.apiserver.httputil.read_body` is the one caller for requests.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any

import orjson

from gardener.apiserver import errors
from gardener.apiserver.errors import StatusError

if TYPE_CHECKING:
    import yaml

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
#: what POST, PUT and DELETE bodies may be, in the order kube-apiserver lists them in its 415 answer
BODY_TYPES = (JSON, YAML, PROTOBUF)
#: PATCH bodies, and the syntax each is written in
PATCH_BODY_TYPES = {
    "application/json-patch+json": JSON,
    "application/merge-patch+json": JSON,
    "application/strategic-merge-patch+json": JSON,
    "application/apply-patch+yaml": YAML,
}
#: How deep a body may nest (containers within containers). kube's JSON decoder allows 10,000; here the
#: server's own code is recursive (deepcopy, patches, field managers, schema validation: a few Python frames
#: per level, against a recursion limit of 1000) and orjson serialises at most 254 levels, of which stored
#: objects, lists, tables and managedFields add up to about ten. 128 leaves room for all of that and is
#: far deeper than real objects: the deepest manifests in this repository nest 10 levels, large CRDs 30-50.
MAX_DEPTH = 128
#: values a YAML body may expand to through aliases, on top of two per byte (more than any alias-free YAML
#: can hold): bounds the "billion laughs" shape, which kube's YAML decoder refuses as "excessive aliasing"
YAML_ALIAS_ALLOWANCE = 10_000


def decode_body(raw: bytes, media: str) -> Any:
    """Decode `raw` written as `media` (a body or a patch type) into JSON values; StatusError 400/415 if not."""
    syntax = media if media in BODY_TYPES else PATCH_BODY_TYPES.get(media)
    if syntax is None:
        raise errors.unsupported_media_type(media, list(BODY_TYPES))
    if syntax == PROTOBUF:
        value: Any = _decode_protobuf(raw, media)
    elif syntax == YAML:
        return decode_yaml(raw)
    else:
        value = decode_json(raw)
        if raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
            return value  # no deeper than it has brackets: most bodies need no walk
    check_depth(value)
    return value


def _decode_protobuf(raw: bytes, media: str) -> Any:
    # Imported on the first protobuf body: most clients send JSON, and the decoder is sizeable.
    from gardener.apiserver.protobuf import ProtobufError, decode_k8s_protobuf

    try:
        return decode_k8s_protobuf(raw)
    except ProtobufError as exc:
        if exc.code == 415:
            raise errors.unsupported_media_type(media, [JSON, YAML]) from None
        raise errors.bad_request(f"the body of the request is not valid protobuf: {exc}") from None
    except RecursionError:
        raise _too_deep() from None


def decode_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # orjson stops at 1024 levels
            raise _too_deep() from None
        raise errors.bad_request(f"the body of the request is not valid JSON: {exc}") from None


def check_depth(value: Any, *, limit: int = MAX_DEPTH) -> None:
    """Refuse values whose containers nest more than `limit` deep (iteratively: the input may be deep)."""
    if not isinstance(value, dict | list):
        return
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise _too_deep(limit)
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))


def _too_deep(limit: int = MAX_DEPTH) -> StatusError:
    return errors.bad_request(f"the body of the request nests more than {limit} levels deep")


# ---- YAML ----------------------------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (_TAG + t for t in ("str", "null", "bool", "int", "float"))
_TIMESTAMP, _MERGE, _SEQ, _MAP = (_TAG + t for t in ("timestamp", "merge", "seq", "map"))
_INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1


def decode_yaml(raw: bytes) -> Any:
    """YAML to JSON values the way kube's sigs.k8s.io/yaml does, refusing what JSON cannot hold.

    The document is composed into nodes (aliases stay references, nothing is expanded yet) and then
    converted by `_YAMLToJSON`: timestamps stay the strings they were written as, non-string keys become
    strings, `<<` merges are applied, aliases are expanded into independent copies (a shared object
    would let one mutation change two places) within a budget, and binary, sets, ordered maps, Python
    objects, null keys, .inf and .nan are a 400 naming the problem.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(raw, Loader=loader)
    except RecursionError:  # the pure-Python composer recurses per level (libyaml stops at 1000 itself)
        raise _too_deep() from None
    except (yaml.YAMLError, ValueError) as exc:
        if "maximum nesting depth" in str(exc):  # libyaml's own bound (1000)
            raise _too_deep() from None
        raise errors.bad_request(f"the body of the request is not valid YAML: {exc}") from None
    if node is None:
        return None
    return _YAMLToJSON(budget=2 * len(raw) + YAML_ALIAS_ALLOWANCE).value(node, 1)


class _YAMLToJSON:
    """Converts composed YAML nodes into JSON values; `budget` counts every value produced."""

    def __init__(self, *, budget: int) -> None:
        import yaml

        self._yaml = yaml
        self._budget = budget
        self._limit = budget
        self._scalars = yaml.constructor.SafeConstructor()

    def _spend(self) -> None:
        self._budget -= 1
        if self._budget < 0:
            raise errors.bad_request(
                f"the YAML body of the request expands to more than {self._limit} values through its aliases"
            )

    def value(self, node: yaml.Node, depth: int) -> Any:
        self._spend()
        nodes = self._yaml.nodes
        if isinstance(node, nodes.ScalarNode):
            return self._scalar(node, key=False)
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(node, nodes.SequenceNode):
            if node.tag != _SEQ:
                raise _unsupported_tag(node.tag)
            return [self.value(item, depth + 1) for item in node.value]
        if isinstance(node, nodes.MappingNode):
            if node.tag != _MAP:
                raise _unsupported_tag(node.tag)
            return self._mapping(node, depth)
        raise errors.bad_request(f"the YAML body of the request holds an unsupported node {type(node).__name__}")

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        explicit: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, self._yaml.nodes.ScalarNode) and key_node.tag == _MERGE:
                self._merge(merged, value_node, depth)
                continue
            explicit[self._key(key_node)] = self.value(value_node, depth + 1)
        if not merged:
            return explicit
        merged.update(explicit)  # the mapping's own keys win over merged ones
        return merged

    def _merge(self, into: dict[str, Any], source: yaml.Node, depth: int) -> None:
        """`<<: *a` or `<<: [*a, *b]`: earlier sources win. Each merge level counts as one level of depth,
        so a mapping that merges itself ends as "too deep" rather than in endless recursion."""
        nodes = self._yaml.nodes
        sources = source.value if isinstance(source, nodes.SequenceNode) else [source]
        for item in sources:
            if not isinstance(item, nodes.MappingNode):
                raise errors.bad_request("the YAML body of the request merges (<<) something that is not a mapping")
            self._spend()
            if depth + 1 > MAX_DEPTH:
                raise _too_deep()
            for key, value in self._mapping(item, depth + 1).items():
                into.setdefault(key, value)

    def _key(self, node: yaml.Node) -> str:
        """Keys as sigs.k8s.io/yaml turns them into JSON: strings as they are, numbers and booleans printed."""
        self._spend()
        if not isinstance(node, self._yaml.nodes.ScalarNode):
            raise errors.bad_request("the YAML body of the request has a mapping key that is not a string")
        key = self._scalar(node, key=True)
        if isinstance(key, str):
            return key
        if key is None:
            raise errors.bad_request("the YAML body of the request has a null mapping key")
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, float):
            return go_float32_key(key)
        return str(key)

    def _scalar(self, node: yaml.ScalarNode, *, key: bool) -> Any:
        tag, text = node.tag, node.value
        if tag in (_STR, _MERGE):  # a "<<" in value position is just text
            return _utf8(text)
        if tag == _TIMESTAMP:
            return _utf8(text)  # go-yaml hands timestamps to JSON as the text they were written as
        try:
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return self._scalars.construct_yaml_bool(node)
            if tag in (_INT, _FLOAT):
                if ":" in text:
                    return _utf8(text)  # YAML 1.1 sexagesimal (1:30): go-yaml, like kube, keeps it a string
                number = (
                    self._scalars.construct_yaml_int(node) if tag == _INT else self._scalars.construct_yaml_float(node)
                )
                return _number(number, text, key=key)
        except (ValueError, KeyError, TypeError, OverflowError, self._yaml.YAMLError):
            raise errors.bad_request(
                f"the YAML body of the request has an invalid {_short(tag)} value {text!r}"
            ) from None
        raise _unsupported_tag(tag)


def _number(number: int | float, text: str, *, key: bool) -> int | float:
    if isinstance(number, int) and not _INT64_MIN <= number <= _UINT64_MAX:
        number = float(number)  # like go-yaml and orjson: an integer past 64 bits becomes a float
    if isinstance(number, float) and not math.isfinite(number) and not key:
        raise errors.bad_request(f"the YAML body of the request has a number JSON cannot represent: {text!r}")
    return number


def _utf8(text: str) -> str:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise errors.bad_request("the YAML body of the request has a string that is not valid UTF-8") from None
    return text


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _unsupported_tag(tag: str) -> StatusError:
    hint = "; send base64 text as a plain string" if tag == _TAG + "binary" else ""
    return errors.bad_request(
        f"the YAML body of the request uses the tag {_short(tag)}, which has no JSON equivalent{hint}"
    )


def go_float32_key(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32): how sigs.k8s.io/yaml writes a float mapping key."""
    if math.isnan(value):
        return ".nan"
    try:
        single = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        single = math.copysign(math.inf, value)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    if single == 0:
        return "-0" if math.copysign(1.0, single) < 0 else "0"
    for digits in range(1, 10):  # the shortest decimal that reads back as the same float32
        text = f"{single:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, exp_text = text.split("e")
    exponent = int(exp_text)
    sign = "-" if mantissa.startswith("-") else ""
    significant = mantissa.lstrip("-").replace(".", "")
    if exponent < -4 or exponent >= 6:  # Go's %g switches to exponents outside [-4, 6) for shortest output
        fraction = "." + significant[1:] if len(significant) > 1 else ""
        return f"{sign}{significant[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return f"{single:.{max(len(significant) - (exponent + 1), 0)}f}"


# ---- query parameters ----------------------------------------------------------------------------

"""Label and field selectors: parse them once per request, then match them cheaply against every object and event.

Parsing follows k8s.io/apimachinery (`labels.Parse`, `metav1.LabelSelectorAsSelector`, `fields.ParseSelector`)
closely enough that clients get the same errors, with the same wording, that kube-apiserver gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from gardener.apiserver import errors
from gardener.apiserver.builtin.validation import formats  # label keys and values, in kube's words
from gardener.apiserver.builtin.validation.fields import go_string_slice
from gardener.apiserver.errors import go_quote

# Operators, spelled like k8s.io/apimachinery/pkg/selection.
IN = "in"
NOT_IN = "notin"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_POSITIVE = frozenset({IN, EQUALS, DOUBLE_EQUALS})
_NEGATIVE = frozenset({NOT_IN, NOT_EQUALS})


def _invalid(path: str, shown: str, detail: str) -> str:
    # field.Invalid(...).Error(); a nil *field.Path prints as "<nil>".
    return f"{path}: Invalid value: {shown}: {detail}"


def _aggregate(msgs: list[str]) -> str:
    unique = list(dict.fromkeys(msgs))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# --------------------------------------------------------------------------------------------------------------------
# Label selectors


@dataclass(frozen=True)
class Requirement:
    """One clause of a label selector. `values` is sorted and free of duplicates."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in _POSITIVE:
            val = labels.get(self.key)
            return val is not None and val in self.values
        if op in _NEGATIVE:
            val = labels.get(self.key)
            return val is None or val not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        val = labels.get(self.key)
        if val is None:
            return False
        try:
            have, want = int(val), int(self.values[0])
        except (ValueError, IndexError):
            return False
        return have > want if op == GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        joined = ",".join(self.values)
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({joined})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{symbol}{joined}"


@dataclass(frozen=True)
class LabelSelector:
    """AND of requirements; no requirements matches everything. `nothing` marks kube's Nothing() selector."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        if not self.requirements:
            return True
        present: Mapping[str, str] = labels if labels is not None else {}
        return all(r.matches(present) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value `key` must have, if the selector pins one (kube's RequiresExactMatch)."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in _POSITIVE and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return label_selector_to_string(self)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


def _new_requirement(key: str, op: str, values: list[str] | None) -> Requirement:
    """kube's labels.NewRequirement (with a nil field path): validate and build, or raise a 400."""
    errs: list[str] = []
    key_path, values_path = "key", "values"
    key_errs = formats.qualified_name(key)
    if key_errs:
        errs.append(_invalid(key_path, go_quote(key), "; ".join(key_errs)))
    vals = values or []
    if op in (IN, NOT_IN):
        if not vals:
            errs.append(
                _invalid(values_path, go_string_slice(values), "for 'in', 'notin' operators, values set can't be empty")
            )
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(
                _invalid(values_path, go_string_slice(values), "exact-match compatibility requires one single value")
            )
    elif op in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(
                _invalid(values_path, go_string_slice(values), "values set must be empty for exists and does not exist")
            )
    elif op in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(
                _invalid(
                    values_path, go_string_slice(values), "for 'Gt', 'Lt' operators, exactly one value is required"
                )
            )
        for i, v in enumerate(vals):
            try:
                int(v, 10)
            except ValueError:
                errs.append(
                    _invalid(
                        f"{values_path}[{i}]", go_quote(v), "for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                )
    else:
        supported = ", ".join(go_quote(o) for o in (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST))
        errs.append(f"operator: Unsupported value: {go_quote(op)}: supported values: {supported}")
    for i, v in enumerate(vals):
        value_errs = formats.label_value(v)
        if value_errs:
            errs.append(_invalid(f"{values_path}[{i}][{key}]", go_quote(v), "; ".join(value_errs)))
    if errs:
        raise errors.bad_request(_aggregate(errs))
    return Requirement(key, op, tuple(sorted(set(vals))))


# Lexer tokens
_T_END, _T_CLOSE, _T_COMMA, _T_NOT, _T_DEQ, _T_EQ, _T_GT, _T_ID, _T_IN, _T_LT, _T_NEQ, _T_NOTIN, _T_OPEN = range(13)
_LITERALS = {
    ")": _T_CLOSE,
    ",": _T_COMMA,
    "!": _T_NOT,
    "==": _T_DEQ,
    "=": _T_EQ,
    ">": _T_GT,
    "in": _T_IN,
    "<": _T_LT,
    "!=": _T_NEQ,
    "notin": _T_NOTIN,
    "(": _T_OPEN,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_OPERATOR_TOKENS = {
    _T_IN: IN,
    _T_EQ: EQUALS,
    _T_DEQ: DOUBLE_EQUALS,
    _T_GT: GREATER_THAN,
    _T_LT: LESS_THAN,
    _T_NOTIN: NOT_IN,
    _T_NEQ: NOT_EQUALS,
}


def _lex(text: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_T_END, ""))
            return items
        if text[pos] in _SPECIAL:
            # longest run of special characters that still forms a known operator
            end, best = pos, None
            while end < n and text[end] in _SPECIAL:
                candidate = text[pos : end + 1]
                if candidate in _LITERALS:
                    best = candidate
                elif best is not None:
                    break
                end += 1
            if best is None:
                # unreachable with the current symbol set; kept for parity with kube's lexer
                items.append((-1, f"error expected: keyword found '{text[pos:end]}'"))
                pos = end
                continue
            items.append((_LITERALS[best], best))
            pos += len(best)
            continue
        start = pos
        while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        items.append((_LITERALS.get(word, _T_ID), word))


class _LabelParser:
    __slots__ = ("items", "pos")

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def _peek(self, *, values: bool) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_T_IN, _T_NOTIN):
            tok = _T_ID
        return tok, lit

    def _take(self, *, values: bool) -> tuple[int, str]:
        tok, lit = self._peek(values=values)
        self.pos += 1
        return tok, lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self._peek(values=True)
            if tok in (_T_ID, _T_NOT):
                try:
                    reqs.append(self._requirement())
                except _ParseError as e:
                    raise _ParseError(f"unable to parse requirement: {e}") from None
                tok, lit = self._take(values=True)
                if tok == _T_END:
                    return reqs
                if tok == _T_COMMA:
                    tok2, lit2 = self._peek(values=True)
                    if tok2 not in (_T_ID, _T_NOT):
                        raise _ParseError(f"found '{lit2}', expected: identifier after ','")
                else:
                    raise _ParseError(f"found '{lit}', expected: ',' or 'end of string'")
            elif tok == _T_END:
                return reqs
            else:
                raise _ParseError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        op: str | None = None
        tok, lit = self._take(values=True)
        if tok == _T_NOT:
            op = DOES_NOT_EXIST
            tok, lit = self._take(values=True)
        if tok != _T_ID:
            raise _ParseError(f"found '{lit}', expected: identifier")
        key = lit
        key_errs = formats.qualified_name(key)
        if key_errs:
            raise _ParseError(_invalid("<nil>", go_quote(key), "; ".join(key_errs)))
        nxt, _ = self._peek(values=True)
        if nxt in (_T_END, _T_COMMA) and op is None:
            op = EXISTS
        if op in (EXISTS, DOES_NOT_EXIST):
            return self._build(key, op, [])
        tok, lit = self._take(values=False)
        found = _OPERATOR_TOKENS.get(tok)
        if found is None:
            raise _ParseError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        vals = self._set_values() if found in (IN, NOT_IN) else self._exact_value()
        return self._build(key, found, sorted(vals))

    @staticmethod
    def _build(key: str, op: str, values: list[str]) -> Requirement:
        try:
            return _new_requirement(key, op, values)
        except errors.StatusError as e:
            raise _ParseError(e.message) from None

    def _set_values(self) -> set[str]:
        tok, lit = self._take(values=True)
        if tok != _T_OPEN:
            raise _ParseError(f"found '{lit}' expected: '('")
        tok, lit = self._peek(values=True)
        if tok in (_T_ID, _T_COMMA):
            out = self._identifiers()
            self._take(values=True)  # the ')' _identifiers stopped at
            return out
        if tok == _T_CLOSE:
            self._take(values=True)
            return {""}
        raise _ParseError(f"found '{lit}', expected: ',', ')' or identifier")

    def _identifiers(self) -> set[str]:
        out: set[str] = set()
        while True:
            tok, lit = self._take(values=True)
            if tok == _T_ID:
                out.add(lit)
                tok2, lit2 = self._peek(values=True)
                if tok2 == _T_COMMA:
                    continue
                if tok2 == _T_CLOSE:
                    return out
                raise _ParseError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _T_COMMA:
                if not out:
                    out.add("")
                tok2, _ = self._peek(values=True)
                if tok2 in (_T_CLOSE, _T_COMMA):
                    out.add("")
                if tok2 == _T_CLOSE:
                    return out
                continue
            raise _ParseError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        tok, _ = self._peek(values=True)
        if tok in (_T_END, _T_COMMA):
            return {""}
        tok, lit = self._take(values=True)
        if tok == _T_ID:
            return {lit}
        raise _ParseError(f"found '{lit}', expected: identifier")


class _ParseError(Exception):
    pass


def _sorted_by_key(reqs: list[Requirement]) -> tuple[Requirement, ...]:
    return tuple(sorted(reqs, key=lambda r: r.key))


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the `labelSelector` query syntax, e.g. `a in (x,y),!b,c!=d`; bad syntax is a 400 worded like kube."""
    if not text or text.isspace():
        return EVERYTHING
    try:
        reqs = _LabelParser(text).parse()
    except _ParseError as e:
        raise errors.bad_request(str(e)) from None
    return LabelSelector(_sorted_by_key(reqs))


_OBJECT_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector; like kube, None selects nothing and `{}` selects everything."""
    if sel is None:
        return NOTHING
    if not isinstance(sel, Mapping):
        raise errors.bad_request("label selector must be an object")
    match_labels = sel.get("matchLabels") or {}
    expressions = sel.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
        raise errors.bad_request("label selector: matchLabels must be an object and matchExpressions a list")
    reqs: list[Requirement] = []
    for k, v in match_labels.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise errors.bad_request("label selector: matchLabels keys and values must be strings")
        reqs.append(_new_requirement(k, EQUALS, [v]))
    for expr in expressions:
        if not isinstance(expr, Mapping):
            raise errors.bad_request("label selector: each matchExpressions entry must be an object")
        operator = expr.get("operator")
        op = _OBJECT_OPERATORS.get(operator) if isinstance(operator, str) else None
        if op is None:
            raise errors.bad_request(f"{go_quote(str(operator or ''))} is not a valid label selector operator")
        key = expr.get("key")
        raw_values = expr.get("values")
        if not isinstance(key, str) or not (
            raw_values is None or (isinstance(raw_values, list) and all(isinstance(v, str) for v in raw_values))
        ):
            raise errors.bad_request("label selector: key must be a string and values a list of strings")
        values = list(raw_values) if raw_values else None
        reqs.append(_new_requirement(key, op, values))
    if not reqs:
        return EVERYTHING
    return LabelSelector(_sorted_by_key(reqs))


def label_selector_to_string(sel: LabelSelector) -> str:
    """The canonical text form (requirements sorted by key, set values sorted), as kube's Selector.String()."""
    return ",".join(str(r) for r in sel.requirements)


# --------------------------------------------------------------------------------------------------------------------
# Field selectors

# Values a built-in object reports for a field it does not set (Go zero values in kube's field sets).
_FIELD_DEFAULTS = {
    "spec.hostNetwork": "false",
    "spec.unschedulable": "false",
    "status.replicas": "0",
    "status.successful": "0",
}


def _scalar(value: Any, default: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return default


def _path_getter(path: str) -> Callable[[Mapping[str, Any]], str]:
    parts = tuple(path.split("."))
    default = _FIELD_DEFAULTS.get(path, "")
    if len(parts) == 1:
        only = parts[0]

        def get_top(obj: Mapping[str, Any]) -> str:
            return _scalar(obj.get(only), default)

        return get_top

    def get(obj: Mapping[str, Any]) -> str:
        cur: Any = obj
        for p in parts:
            if not isinstance(cur, Mapping):
                return default
            cur = cur.get(p)
            if cur is None:
                return default
        return _scalar(cur, default)

    return get


def _event_source(obj: Mapping[str, Any]) -> str:
    # core/v1 Event: "source" is source.component, falling back to reportingComponent.
    src = obj.get("source")
    component = src.get("component") if isinstance(src, Mapping) else None
    if isinstance(component, str) and component:
        return component
    return _scalar(obj.get("reportingComponent"), "")


_SPECIAL_GETTERS: dict[str, Callable[[Mapping[str, Any]], str]] = {"source": _event_source}


def _getter_for(path: str) -> Callable[[Mapping[str, Any]], str]:
    return _SPECIAL_GETTERS.get(path) or _path_getter(path)


@dataclass(frozen=True)
class FieldRequirement:
    """`field` `operator` `value`, operator `=` or `!=` (`==` parses as `=`); `value` already unescaped."""

    field: str
    operator: str
    value: str
    getter: Callable[[Mapping[str, Any]], str] = dataclass_field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "getter", _getter_for(self.field))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        have = self.getter(obj)
        return have != self.value if self.operator == NOT_EQUALS else have == self.value


@dataclass(frozen=True)
class FieldSelector:
    """AND of field requirements over an object's JSON; no requirements matches everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def value_for(self, field: str) -> str | None:
        """The value `field` must equal if the selector pins it with `=`/`==` (kube's RequiresExactMatch)."""
        for r in self.requirements:
            if r.field == field and r.operator != NOT_EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(f"{r.field}{r.operator}{escape_field_value(r.value)}" for r in self.requirements)


def escape_field_value(value: str) -> str:
    """Escape `\\`, `,` and `=` so the value survives a round trip through a field selector."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start, escaped = 0, False
    for i, c in enumerate(text):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in (NOT_EQUALS, DOUBLE_EQUALS, EQUALS):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    if "\\" not in value and "," not in value and "=" not in value:
        return value
    out: list[str] = []
    escaped = False
    for c in value:
        if escaped:
            if c not in "\\,=":
                raise errors.bad_request(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in ",=":
            raise errors.bad_request(f"invalid field selector: unescaped character in value: {c}")
        else:
            out.append(c)
    if escaped:
        raise errors.bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str, *, allowed: frozenset[str] | None) -> FieldSelector:
    """Parse `fieldSelector`; a field outside `allowed` is a 400 `field label not supported: <f>` (None allows any)."""
    if not text:
        return FieldSelector()
    parsed: list[tuple[str, str, str]] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        parsed.append((lhs, op, _unescape(rhs)))
    reqs: list[FieldRequirement] = []
    for lhs, op, value in parsed:
        if allowed is not None and lhs not in allowed:
            raise errors.bad_request(f"field label not supported: {lhs}")
        reqs.append(FieldRequirement(lhs, NOT_EQUALS if op == NOT_EQUALS else EQUALS, value))
    return FieldSelector(tuple(reqs))


_META_FIELDS = ("metadata.name", "metadata.namespace")
#: core/v1 Event (kube's AddFieldLabelConversionsForEvent in pkg/apis/core/v1), evaluated on the stored core form
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
_KIND_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    ),
    ("", "Event"): _EVENT_FIELDS,
    ("", "Secret"): ("type",),
    ("", "Namespace"): ("status.phase",),
    ("", "Node"): ("spec.unschedulable",),
    ("", "Service"): ("spec.clusterIP", "spec.type"),
    ("", "ReplicationController"): ("status.replicas",),
    ("apps", "ReplicaSet"): ("status.replicas",),
    ("extensions", "ReplicaSet"): ("status.replicas",),
    ("batch", "Job"): ("status.successful",),
    ("certificates.k8s.io", "CertificateSigningRequest"): ("spec.signerName",),
}


#: Kinds served as a view of another group's stored kind: each field label of the view and the stored kind's label
#: it selects on (kube's field label conversion funcs). events.k8s.io/v1: pkg/apis/events/v1/conversion.go.
_LABEL_CONVERSIONS: dict[tuple[str, str], Mapping[str, str]] = {
    ("events.k8s.io", "Event"): {
        "metadata.name": "metadata.name",
        "metadata.namespace": "metadata.namespace",
        "reason": "reason",
        "regarding.kind": "involvedObject.kind",
        "regarding.namespace": "involvedObject.namespace",
        "regarding.name": "involvedObject.name",
        "regarding.uid": "involvedObject.uid",
        "regarding.apiVersion": "involvedObject.apiVersion",
        "regarding.resourceVersion": "involvedObject.resourceVersion",
        "regarding.fieldPath": "involvedObject.fieldPath",
        "reportingController": "reportingComponent",
        "source": "source",
        "type": "type",
    },
}


def default_field_labels(*, group: str, kind: str, namespaced: bool = True) -> frozenset[str]:
    """Field labels kube accepts for a kind: metadata.name and metadata.namespace plus the kind's own.

    `namespaced=False` drops metadata.namespace, as kube does for cluster-scoped custom resources and Namespaces.
    """
    converted = _LABEL_CONVERSIONS.get((group, kind))
    if converted is not None:
        return frozenset(converted)
    base = _META_FIELDS if namespaced else _META_FIELDS[:1]
    return frozenset(base + _KIND_FIELDS.get((group, kind), ()))


def field_selector_for(text: str, *, group: str, kind: str) -> FieldSelector:
    """A request's `fieldSelector` for a kind, its labels renamed to those of the stored form it is matched against.

    Labels the kind does not accept are a 400, as `parse_field_selector` words it; a view of another group's kind
    (events.k8s.io Events) selects on the stored core fields, as kube's field label conversion does.
    """
    selector = parse_field_selector(text, allowed=default_field_labels(group=group, kind=kind))
    converted = _LABEL_CONVERSIONS.get((group, kind))
    if converted is None:
        return selector
    return FieldSelector(
        tuple(FieldRequirement(converted[r.field], r.operator, r.value) for r in selector.requirements)
    )

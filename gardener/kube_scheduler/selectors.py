"""Label selectors, node selector terms, tolerations: kube's matching rules, compiled once per pod.

A filter evaluates these for every node of every scheduling cycle, so they are parsed into small immutable
matchers up front. Parsing follows apimachinery: a nil `LabelSelector` selects nothing, an empty one selects
everything; `NotIn`/`DoesNotExist` hold for a missing label; `Gt`/`Lt` compare integers and a value that is no
integer makes the requirement (and with it the whole node selector term) invalid, which kube treats as "does
not match" rather than as an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "InvalidSelector",
    "LabelSelector",
    "NodeSelector",
    "PreferredTerms",
    "Requirement",
    "find_untolerated_taint",
    "label_selector",
    "node_selector_term",
    "tolerates",
    "tolerates_taint",
]

Labels = Mapping[str, str]


class InvalidSelector(ValueError):
    """A selector kube's parser refuses (unknown operator, values where none are allowed, ...)."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Labels) -> bool:
        op = self.operator
        if op == "In":
            return self.key in labels and labels[self.key] in self.values
        if op == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        value = labels.get(self.key)
        if value is None:
            return False
        try:
            have = int(value)
        except ValueError:
            return False
        want = int(next(iter(self.values)))
        return have > want if op == "Gt" else have < want


@dataclass(frozen=True)
class LabelSelector:
    """A compiled metav1.LabelSelector; `nothing` is the nil selector."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Labels) -> bool:
        if self.nothing:
            return False
        for r in self.requirements:  # noqa: SIM110 - a plain loop: this runs for every pod on every node
            if not r.matches(labels):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.nothing and not self.requirements

    def and_(self, other: LabelSelector) -> LabelSelector:
        if self.nothing or other.nothing:
            return NOTHING
        return LabelSelector(self.requirements + other.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)

_LABEL_OPS = {"In", "NotIn", "Exists", "DoesNotExist"}
_NODE_OPS = {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}


def _requirement(expr: Any, allowed: set[str]) -> Requirement:
    if not isinstance(expr, Mapping):
        raise InvalidSelector(f"not a requirement: {expr!r}")
    key, op = str(expr.get("key") or ""), str(expr.get("operator") or "")
    values = [str(v) for v in expr.get("values") or []]
    if op not in allowed:
        raise InvalidSelector(f"{op!r} is not a valid label selector operator")
    if op in ("In", "NotIn") and not values:
        raise InvalidSelector(f"for 'in', 'notin' operators, values set can't be empty (key {key!r})")
    if op in ("Exists", "DoesNotExist") and values:
        raise InvalidSelector(f"values set must be empty for exists and does not exist (key {key!r})")
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            raise InvalidSelector(f"for 'Gt', 'Lt' operators, exactly one value is required (key {key!r})")
        try:
            int(values[0])
        except ValueError as exc:
            raise InvalidSelector(f"for 'Gt', 'Lt' operators, the value must be an integer (key {key!r})") from exc
    return Requirement(key, op, frozenset(values))


def label_selector(raw: Any) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, `{}` everything; InvalidSelector if malformed."""
    if raw is None:
        return NOTHING
    if not isinstance(raw, Mapping):
        raise InvalidSelector(f"not a label selector: {raw!r}")
    reqs = [Requirement(str(k), "In", frozenset([str(v)])) for k, v in (raw.get("matchLabels") or {}).items()]
    reqs += [_requirement(e, _LABEL_OPS) for e in raw.get("matchExpressions") or []]
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def set_selector(labels: Mapping[str, Any] | None) -> LabelSelector:
    """labels.SelectorFromSet (a Service's or ReplicationController's selector): empty selects everything."""
    return LabelSelector(tuple(Requirement(str(k), "In", frozenset([str(v)])) for k, v in (labels or {}).items()))


@dataclass(frozen=True)
class NodeSelectorTerm:
    """One term: label expressions and `metadata.name` fields, all ANDed; an invalid term matches nothing."""

    expressions: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]
    valid: bool = True

    def matches(self, labels: Labels, name: str) -> bool:
        if not self.valid:
            return False
        for r in self.expressions:
            if not r.matches(labels):
                return False
        if self.fields:
            field_labels = {"metadata.name": name}
            for r in self.fields:
                if not r.matches(field_labels):
                    return False
        return True


def node_selector_term(raw: Any) -> NodeSelectorTerm | None:
    """A compiled NodeSelectorTerm; None for an empty term (which kube skips: it matches no node)."""
    if not isinstance(raw, Mapping):
        return NodeSelectorTerm((), (), valid=False)
    exprs, fields = raw.get("matchExpressions") or [], raw.get("matchFields") or []
    if not exprs and not fields:
        return None
    try:
        expressions = tuple(_requirement(e, _NODE_OPS) for e in exprs)
        field_reqs = tuple(_requirement(f, {"In", "NotIn"}) for f in fields)
        if any(f.key != "metadata.name" for f in field_reqs):
            raise InvalidSelector("only metadata.name is a supported field")
    except InvalidSelector:
        return NodeSelectorTerm((), (), valid=False)
    return NodeSelectorTerm(expressions, field_reqs)


@dataclass(frozen=True)
class NodeSelector:
    """A pod's required node placement: `spec.nodeSelector` AND (any of the required affinity terms)."""

    labels: tuple[tuple[str, str], ...] = ()
    terms: tuple[NodeSelectorTerm, ...] | None = None

    def matches(self, node_labels: Labels, node_name: str) -> bool:
        for key, value in self.labels:
            if node_labels.get(key) != value:
                return False
        if self.terms is None:
            return True
        for term in self.terms:  # noqa: SIM110 - a plain loop: this runs for every node of every cycle
            if term.matches(node_labels, node_name):
                return True
        return False

    @property
    def trivial(self) -> bool:
        return not self.labels and self.terms is None

    @classmethod
    def of_pod(cls, spec: Mapping[str, Any]) -> NodeSelector:
        """kube's nodeaffinity.GetRequiredNodeAffinity."""
        labels = tuple(sorted((str(k), str(v)) for k, v in (spec.get("nodeSelector") or {}).items()))
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        if required is None:
            return cls(labels, None)
        terms = [node_selector_term(t) for t in (required or {}).get("nodeSelectorTerms") or []]
        return cls(labels, tuple(t for t in terms if t is not None))


@dataclass(frozen=True)
class PreferredTerms:
    """Weighted preferred node affinity terms; the score of a node is the sum of the weights it matches."""

    terms: tuple[tuple[int, NodeSelectorTerm], ...] = ()

    def score(self, labels: Labels, name: str) -> int:
        return sum(weight for weight, term in self.terms if term.matches(labels, name))

    @classmethod
    def of_pod(cls, spec: Mapping[str, Any]) -> PreferredTerms:
        preferred = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "preferredDuringSchedulingIgnoredDuringExecution"
        )
        out: list[tuple[int, NodeSelectorTerm]] = []
        for item in preferred or []:
            if not isinstance(item, Mapping):
                continue
            weight = int(item.get("weight") or 0)
            term = node_selector_term(item.get("preference") or {})
            if weight and term is not None:
                out.append((weight, term))
        return cls(tuple(out))


def tolerates_taint(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """core/v1 Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return op == "Exists"


def tolerates(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    return any(tolerates_taint(t, taint) for t in tolerations)


def find_untolerated_taint(
    taints: Sequence[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]], effects: frozenset[str]
) -> Mapping[str, Any] | None:
    """The first taint with one of `effects` that no toleration tolerates (kube's FindMatchingUntoleratedTaint)."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerates(tolerations, taint):
            return taint
    return None

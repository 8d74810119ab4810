"""The plugins that look beyond one node: PodTopologySpread and InterPodAffinity, filter and score.

Both count matching pods per topology domain (a label value such as a zone) over the whole cluster in a
PreFilter/PreScore step, so the per-node steps are dictionary look-ups. PodTopologySpread follows kube 1.32:
`DoNotSchedule` constraints filter (skew = domain count + self-match - global minimum, with `minDomains`),
`ScheduleAnyway` constraints or, for pods without constraints, the system default constraints (hostname maxSkew
3, zone maxSkew 5) over the selector of the pod's Services and controller score; `nodeAffinityPolicy` Honor and
`nodeTaintsPolicy` Ignore by default, `matchLabelKeys` merged into the selector. InterPodAffinity filters on
required affinity, anti-affinity and existing pods' anti-affinity, and scores preferred terms both ways plus
existing pods' required affinity with kube's hardPodAffinityWeight 1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gardener.kube_scheduler.cache import HOSTNAME_LABEL, ZONE_LABEL, AffinityTerm, NodeInfo, PodInfo
from gardener.kube_scheduler.framework import MAX_NODE_SCORE, Code, CycleState, Status, unresolvable, unschedulable
from gardener.kube_scheduler.selectors import (
    InvalidSelector,
    LabelSelector,
    Requirement,
    find_untolerated_taint,
    label_selector,
    set_selector,
)

__all__ = [
    "AFFINITY",
    "ERR_AFFINITY",
    "ERR_ANTI_AFFINITY",
    "ERR_EXISTING_ANTI_AFFINITY",
    "ERR_SPREAD",
    "ERR_SPREAD_LABEL",
    "SPREAD",
    "affinity_filter",
    "affinity_normalize",
    "affinity_prefilter",
    "affinity_prescore",
    "affinity_score",
    "clone_data",
    "default_selector",
    "spread_filter",
    "spread_normalize",
    "spread_prefilter",
    "spread_prescore",
    "spread_score",
    "update_with_pod",
]

ERR_SPREAD = "node(s) didn't match pod topology spread constraints"
ERR_SPREAD_LABEL = ERR_SPREAD + " (missing required label)"
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
#: kube's InterPodAffinityArgs.HardPodAffinityWeight default
HARD_POD_AFFINITY_WEIGHT = 1
#: kube's system default spreading: ScheduleAnyway over hostname (maxSkew 3) and zone (maxSkew 5)
SYSTEM_DEFAULT_CONSTRAINTS = (
    {"topologyKey": HOSTNAME_LABEL, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 3},
    {"topologyKey": ZONE_LABEL, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 5},
)
SPREAD, AFFINITY = "PodTopologySpread", "InterPodAffinity"
DO_NOT_SCHEDULE = frozenset({"NoSchedule", "NoExecute"})


# ---- PodTopologySpread ----


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int = 1
    honor_affinity: bool = True
    honor_taints: bool = False

    def includes(self, pod: PodInfo, node: NodeInfo) -> bool:
        """kube's matchNodeInclusionPolicies."""
        if self.honor_affinity and not pod.node_selector.matches(node.labels, node.name):
            return False
        return not (self.honor_taints and find_untolerated_taint(node.taints, pod.tolerations, DO_NOT_SCHEDULE))


def _constraints(raw: Iterable[Mapping[str, Any]], pod: PodInfo, action: str) -> list[Constraint]:
    out = []
    for c in raw:
        if c.get("whenUnsatisfiable") != action:
            continue
        selector = label_selector(c.get("labelSelector"))
        keys = [k for k in c.get("matchLabelKeys") or [] if k in pod.labels]
        if keys and not selector.nothing:
            extra = tuple(Requirement(k, "In", frozenset([pod.labels[k]])) for k in keys)
            selector = LabelSelector(extra + selector.requirements)
        out.append(
            Constraint(
                max_skew=int(c.get("maxSkew") or 1),
                topology_key=str(c.get("topologyKey") or ""),
                selector=selector,
                min_domains=int(c.get("minDomains") or 1),
                honor_affinity=(c.get("nodeAffinityPolicy") or "Honor") == "Honor",
                honor_taints=(c.get("nodeTaintsPolicy") or "Ignore") == "Honor",
            )
        )
    return out


def _count(pods: Iterable[PodInfo], selector: LabelSelector, namespace: str) -> int:
    return sum(1 for p in pods if p.namespace == namespace and not p.deleting and selector.matches(p.labels))


def _has_keys(node: NodeInfo, constraints: Iterable[Constraint]) -> bool:
    return all(c.topology_key in node.labels for c in constraints)


@dataclass
class _SpreadFilterState:
    constraints: list[Constraint]
    counts: list[dict[str, int]]

    def min_match(self, i: int) -> int:
        counts = self.counts[i]
        if len(counts) < self.constraints[i].min_domains:
            return 0
        return min(counts.values(), default=0)


def spread_prefilter(state: CycleState, nodes: list[NodeInfo]) -> Status | None:
    pod = state.pod
    try:
        constraints = _constraints(pod.spec.get("topologySpreadConstraints") or [], pod, "DoNotSchedule")
    except InvalidSelector as exc:
        return Status(Code.ERROR, (f"get constraints from pod: {exc}",))
    if not constraints:
        state.skipped.add(SPREAD)
        return None
    counts: list[dict[str, int]] = [{} for _ in constraints]
    for node in nodes:
        if not _has_keys(node, constraints):
            continue
        for i, c in enumerate(constraints):
            if not c.includes(pod, node):
                continue
            value = node.labels[c.topology_key]
            counts[i][value] = counts[i].get(value, 0) + _count(node.pods.values(), c.selector, pod.namespace)
    state.data[SPREAD] = _SpreadFilterState(constraints, counts)
    return None


def spread_filter(state: CycleState, node: NodeInfo) -> Status | None:
    s: _SpreadFilterState = state.data[SPREAD]
    for i, c in enumerate(s.constraints):
        value = node.labels.get(c.topology_key)
        if value is None:
            return unresolvable(ERR_SPREAD_LABEL)
        self_match = 1 if c.selector.matches(state.pod.labels) else 0
        skew = s.counts[i].get(value, 0) + self_match - s.min_match(i)
        if skew > c.max_skew:
            return unschedulable(ERR_SPREAD)
    return None


def default_selector(
    pod: PodInfo,
    *,
    services: Iterable[Mapping[str, Any]],
    controller: Callable[[str, str, str], Mapping[str, Any] | None],
) -> LabelSelector:
    """kube's helper.DefaultSelector: the pod's Services' selectors ANDed with its controller's selector.

    `controller(kind, namespace, name)` returns the ReplicationController, ReplicaSet or StatefulSet (or None).
    """
    merged: dict[str, str] = {}
    for service in services:
        spec_selector = (service.get("spec") or {}).get("selector")
        if (service.get("metadata") or {}).get("namespace") != pod.namespace or spec_selector is None:
            continue
        if set_selector(spec_selector).matches(pod.labels):
            merged.update({str(k): str(v) for k, v in spec_selector.items()})
    selector = set_selector(merged)
    owner = next(
        (o for o in (pod.pod.get("metadata") or {}).get("ownerReferences") or [] if (o or {}).get("controller")), None
    )
    if owner is None:
        return selector
    kind, api_version = owner.get("kind"), owner.get("apiVersion")
    obj = None
    if (api_version, kind) == ("v1", "ReplicationController"):
        obj = controller("ReplicationController", pod.namespace, str(owner.get("name")))
        if obj is not None:
            merged.update({str(k): str(v) for k, v in ((obj.get("spec") or {}).get("selector") or {}).items()})
            return set_selector(merged)
        return selector
    if (api_version, kind) in (("apps/v1", "ReplicaSet"), ("apps/v1", "StatefulSet")):
        obj = controller(str(kind), pod.namespace, str(owner.get("name")))
        if obj is not None:
            try:
                other = label_selector((obj.get("spec") or {}).get("selector"))
            except InvalidSelector:
                return selector
            if not other.nothing:
                return LabelSelector(selector.requirements + other.requirements)
    return selector


@dataclass
class _SpreadScoreState:
    constraints: list[Constraint]
    ignored: set[str]
    counts: list[dict[str, int] | None]
    weights: list[float]


def spread_prescore(state: CycleState, feasible: list[NodeInfo], all_nodes: list[NodeInfo]) -> bool:
    """Compute the ScheduleAnyway counts; False (skip) when the pod has no soft constraints."""
    pod = state.pod
    own = pod.spec.get("topologySpreadConstraints") or []
    try:
        if own:
            constraints = _constraints(own, pod, "ScheduleAnyway")
        else:
            selector = state.default_selector(pod)
            if selector.empty or selector.nothing:
                return False
            constraints = [
                Constraint(int(str(c["maxSkew"])), str(c["topologyKey"]), selector) for c in SYSTEM_DEFAULT_CONSTRAINTS
            ]
    except InvalidSelector:
        return False
    if not constraints:
        return False
    require_all = bool(own)
    ignored: set[str] = set()
    counts: list[dict[str, int] | None] = [None if c.topology_key == HOSTNAME_LABEL else {} for c in constraints]
    for node in feasible:
        if require_all and not _has_keys(node, constraints):
            ignored.add(node.name)
            continue
        for i, c in enumerate(constraints):
            tp = counts[i]
            if tp is not None:
                tp.setdefault(node.labels.get(c.topology_key, ""), 0)
    weights = []
    for i, _ in enumerate(constraints):
        tp = counts[i]
        size = len(feasible) - len(ignored) if tp is None else len(tp)
        weights.append(math.log(size + 2))
    for node in all_nodes:
        if require_all and not _has_keys(node, constraints):
            continue
        for i, c in enumerate(constraints):
            tp = counts[i]
            if tp is None or not c.includes(pod, node):
                continue
            value = node.labels.get(c.topology_key, "")
            if value in tp:
                tp[value] += _count(node.pods.values(), c.selector, pod.namespace)
    state.data[SPREAD + "/score"] = _SpreadScoreState(constraints, ignored, counts, weights)
    return True


def spread_score(state: CycleState, node: NodeInfo) -> int:
    s: _SpreadScoreState = state.data[SPREAD + "/score"]
    if node.name in s.ignored:
        return 0
    score = 0.0
    for i, c in enumerate(s.constraints):
        value = node.labels.get(c.topology_key)
        if value is None:
            continue
        tp = s.counts[i]
        count = _count(node.pods.values(), c.selector, state.pod.namespace) if tp is None else tp.get(value, 0)
        score += count * s.weights[i] + (c.max_skew - 1)
    return math.floor(score + 0.5)  # Go's math.Round: halves away from zero (scores are never negative)


def spread_normalize(state: CycleState, feasible: list[NodeInfo], scores: list[int]) -> None:
    s: _SpreadScoreState = state.data[SPREAD + "/score"]
    valid = [score for node, score in zip(feasible, scores, strict=True) if node.name not in s.ignored]
    low, high = min(valid, default=0), max(valid, default=0)
    for i, node in enumerate(feasible):
        if node.name in s.ignored:
            scores[i] = 0
        elif high == 0:
            scores[i] = MAX_NODE_SCORE
        else:
            scores[i] = MAX_NODE_SCORE * (high + low - scores[i]) // high


# ---- InterPodAffinity ----

Pair = tuple[str, str]


@dataclass
class _AffinityFilterState:
    existing_anti: Counter[Pair]
    affinity: Counter[Pair]
    anti: Counter[Pair]


def _matches_all(terms: Iterable[AffinityTerm], pod: PodInfo, ns_labels: Mapping[str, str] | None) -> bool:
    return all(t.matches(pod.namespace, pod.labels, ns_labels) for t in terms)


def affinity_prefilter(state: CycleState, nodes: list[NodeInfo]) -> Status | None:
    pod = state.pod
    if pod.parse_error:
        return Status(Code.ERROR, (f"parsing pod: {pod.parse_error}",))
    own_ns = state.namespace_labels(pod.namespace)
    existing_anti: Counter[Pair] = Counter()
    for node in nodes if state.cluster_anti_affinity else ():
        for other in node.with_required_anti_affinity.values():
            for term in other.required_anti_affinity:
                value = node.labels.get(term.topology_key)
                if value is not None and term.matches(pod.namespace, pod.labels, own_ns):
                    existing_anti[(term.topology_key, value)] += 1
    if not pod.required_affinity and not pod.required_anti_affinity and not existing_anti:
        state.skipped.add(AFFINITY)
        return None
    affinity: Counter[Pair] = Counter()
    anti: Counter[Pair] = Counter()
    if pod.required_affinity or pod.required_anti_affinity:
        for node in nodes:
            for other in node.pods.values():
                ns_labels = state.namespace_labels(other.namespace)
                if pod.required_affinity and _matches_all(pod.required_affinity, other, ns_labels):
                    for term in pod.required_affinity:
                        value = node.labels.get(term.topology_key)
                        if value is not None:
                            affinity[(term.topology_key, value)] += 1
                for term in pod.required_anti_affinity:
                    value = node.labels.get(term.topology_key)
                    if value is not None and term.matches(other.namespace, other.labels, ns_labels):
                        anti[(term.topology_key, value)] += 1
    state.data[AFFINITY] = _AffinityFilterState(existing_anti, affinity, anti)
    return None


def affinity_filter(state: CycleState, node: NodeInfo) -> Status | None:
    s: _AffinityFilterState = state.data[AFFINITY]
    pod = state.pod
    if pod.required_affinity:
        found = True
        for term in pod.required_affinity:
            value = node.labels.get(term.topology_key)
            if value is None:
                return unresolvable(ERR_AFFINITY)
            if s.affinity[(term.topology_key, value)] <= 0:
                found = False
        # the first pod of a group with affinity to itself may go anywhere the topology labels exist
        own = state.namespace_labels(pod.namespace)
        if not found and not (not s.affinity and _matches_all(pod.required_affinity, pod, own)):
            return unresolvable(ERR_AFFINITY)
    if s.anti:
        for term in pod.required_anti_affinity:
            value = node.labels.get(term.topology_key)
            if value is not None and s.anti[(term.topology_key, value)] > 0:
                return unschedulable(ERR_ANTI_AFFINITY)
    if s.existing_anti:
        for pair in node.labels.items():
            if s.existing_anti[pair] > 0:
                return unschedulable(ERR_EXISTING_ANTI_AFFINITY)
    return None


def _add_terms(
    scores: dict[Pair, int],
    terms: Iterable[tuple[int, AffinityTerm]],
    target: PodInfo,
    ns_labels: Mapping[str, str] | None,
    node: NodeInfo,
    sign: int,
) -> None:
    for weight, term in terms:
        value = node.labels.get(term.topology_key)
        if value is not None and term.matches(target.namespace, target.labels, ns_labels):
            pair = (term.topology_key, value)
            scores[pair] = scores.get(pair, 0) + sign * weight


def affinity_prescore(state: CycleState, feasible: list[NodeInfo], all_nodes: list[NodeInfo]) -> bool:
    pod = state.pod
    if pod.parse_error or not feasible:
        return False
    has_preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
    if not has_preferred and not state.cluster_affinity:
        return False
    own_ns = state.namespace_labels(pod.namespace)
    scores: dict[Pair, int] = {}
    for node in all_nodes:
        if not node.labels:
            continue
        others = node.pods.values() if has_preferred else node.with_affinity.values()
        for other in others:
            if has_preferred:
                other_ns = state.namespace_labels(other.namespace)
                _add_terms(scores, pod.preferred_affinity, other, other_ns, node, 1)
                _add_terms(scores, pod.preferred_anti_affinity, other, other_ns, node, -1)
            required = [(HARD_POD_AFFINITY_WEIGHT, t) for t in other.required_affinity]
            _add_terms(scores, required, pod, own_ns, node, 1)
            _add_terms(scores, other.preferred_affinity, pod, own_ns, node, 1)
            _add_terms(scores, other.preferred_anti_affinity, pod, own_ns, node, -1)
    if not scores:
        return False
    by_key: dict[str, dict[str, int]] = {}
    for (key, value), score in scores.items():
        by_key.setdefault(key, {})[value] = score
    state.data[AFFINITY + "/score"] = by_key
    return True


def affinity_score(state: CycleState, node: NodeInfo) -> int:
    by_key: dict[str, dict[str, int]] = state.data[AFFINITY + "/score"]
    total = 0
    for key, values in by_key.items():
        value = node.labels.get(key)
        if value is not None:
            total += values.get(value, 0)
    return total


def affinity_normalize(state: CycleState, feasible: list[NodeInfo], scores: list[int]) -> None:
    low, high = min(scores, default=0), max(scores, default=0)
    spread = high - low
    for i, score in enumerate(scores):
        scores[i] = int(MAX_NODE_SCORE * ((score - low) / spread)) if spread > 0 else 0


# ---- what-if updates (preemption and nominated pods change a node's pods within one cycle) ----


def update_with_pod(state: CycleState, other: PodInfo, node: NodeInfo, delta: int) -> None:
    """kube's PreFilterExtensions AddPod/RemovePod for both plugins: count `other` in or out on `node`."""
    pod = state.pod
    spread: _SpreadFilterState | None = state.data.get(SPREAD)
    if spread is not None and other.namespace == pod.namespace and _has_keys(node, spread.constraints):
        for i, c in enumerate(spread.constraints):
            if c.selector.matches(other.labels) and c.includes(pod, node):
                value = node.labels[c.topology_key]
                spread.counts[i][value] = spread.counts[i].get(value, 0) + delta
    aff: _AffinityFilterState | None = state.data.get(AFFINITY)
    if aff is None:
        return
    own_ns = state.namespace_labels(pod.namespace)
    other_ns = state.namespace_labels(other.namespace)
    for term in other.required_anti_affinity:
        tp_value = node.labels.get(term.topology_key)
        if tp_value is not None and term.matches(pod.namespace, pod.labels, own_ns):
            aff.existing_anti[(term.topology_key, tp_value)] += delta
    if pod.required_affinity and _matches_all(pod.required_affinity, other, other_ns):
        for term in pod.required_affinity:
            tp_value = node.labels.get(term.topology_key)
            if tp_value is not None:
                aff.affinity[(term.topology_key, tp_value)] += delta
    for term in pod.required_anti_affinity:
        tp_value = node.labels.get(term.topology_key)
        if tp_value is not None and term.matches(other.namespace, other.labels, other_ns):
            aff.anti[(term.topology_key, tp_value)] += delta
    for counter in (aff.existing_anti, aff.affinity, aff.anti):
        for pair in [p for p, n in counter.items() if n == 0]:
            del counter[pair]


def clone_data(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of the cycle's filter state that `update_with_pod` may change without touching the original."""
    out = dict(data)
    spread: _SpreadFilterState | None = data.get(SPREAD)
    if spread is not None:
        out[SPREAD] = _SpreadFilterState(spread.constraints, [dict(c) for c in spread.counts])
    aff: _AffinityFilterState | None = data.get(AFFINITY)
    if aff is not None:
        out[AFFINITY] = _AffinityFilterState(Counter(aff.existing_anti), Counter(aff.affinity), Counter(aff.anti))
    return out

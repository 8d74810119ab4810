"""kube's node-local plugins: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
NodeResourcesFit and NodeResourcesBalancedAllocation, each as a filter and/or a score on plain dicts.

Reasons and status codes are upstream's to the letter, since they end up, counted per node, in the pod's
FailedScheduling event. A filter returns None when the node passes. Scores follow kube's integer arithmetic
(LeastAllocated: `(allocatable - requested) * 100 / allocatable` per resource, weighted mean of CPU and memory
with the non-zero request defaults; BalancedAllocation: `(1 - std) * 100` of the CPU and memory fractions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gardener.kube_scheduler import resources as res
from gardener.kube_scheduler.cache import NodeInfo
from gardener.kube_scheduler.framework import MAX_NODE_SCORE, CycleState, Status, unresolvable, unschedulable
from gardener.kube_scheduler.selectors import find_untolerated_taint, tolerates, tolerates_taint

__all__ = [
    "ERR_NODE_AFFINITY",
    "ERR_NODE_NAME",
    "ERR_NODE_PORTS",
    "ERR_UNSCHEDULABLE",
    "balanced_allocation_score",
    "default_normalize",
    "least_allocated_score",
    "node_affinity_filter",
    "node_affinity_prefilter",
    "node_name_filter",
    "node_ports_filter",
    "node_resources_fit_filter",
    "node_unschedulable_filter",
    "taint_toleration_filter",
    "taint_toleration_score",
]

ERR_UNSCHEDULABLE = "node(s) were unschedulable"
ERR_NODE_NAME = "node(s) didn't match the requested node name"
ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
ERR_AFFINITY_CONFLICT = "pod affinity terms conflict"
ERR_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports"
TAINT_UNSCHEDULABLE = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
DO_NOT_SCHEDULE = frozenset({"NoSchedule", "NoExecute"})


# ---- NodeUnschedulable, NodeName ----


def node_unschedulable_filter(state: CycleState, node: NodeInfo) -> Status | None:
    if node.unschedulable and not tolerates(state.pod.tolerations, TAINT_UNSCHEDULABLE):
        return unresolvable(ERR_UNSCHEDULABLE)
    return None


def node_name_filter(state: CycleState, node: NodeInfo) -> Status | None:
    wanted = state.pod.node_name
    if wanted and wanted != node.name:
        return unresolvable(ERR_NODE_NAME)
    return None


# ---- TaintToleration ----


def taint_toleration_filter(state: CycleState, node: NodeInfo) -> Status | None:
    if not node.taints:
        return None
    taint = find_untolerated_taint(node.taints, state.pod.tolerations, DO_NOT_SCHEDULE)
    if taint is None:
        return None
    return unresolvable(f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}")


def taint_toleration_score(tolerations: Sequence[Mapping[str, Any]], node: NodeInfo) -> int:
    """The number of PreferNoSchedule taints the pod's PreferNoSchedule (or effect-less) tolerations miss."""
    prefer = [t for t in tolerations if (t.get("effect") or "") in ("", "PreferNoSchedule")]
    return sum(
        1
        for taint in node.taints
        if taint.get("effect") == "PreferNoSchedule" and not any(tolerates_taint(t, taint) for t in prefer)
    )


# ---- NodeAffinity ----


def node_affinity_prefilter(state: CycleState) -> Status | None:
    """Skip pods without required placement; narrow to the nodes named by `metadata.name` matchFields."""
    pi = state.pod
    if pi.node_selector.trivial:
        state.skipped.add("NodeAffinity")
        return None
    required = ((pi.spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return None
    names: set[str] | None = None
    for term in terms:
        term_names: set[str] | None = None
        for req in (term or {}).get("matchFields") or []:
            if (req or {}).get("key") == "metadata.name" and req.get("operator") == "In":
                values = {str(v) for v in req.get("values") or []}
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None  # this term allows any node name: the terms are ORed
        names = term_names if names is None else names | term_names
    if names is not None and not names:
        return unresolvable(ERR_AFFINITY_CONFLICT)
    state.node_names = names
    return None


def node_affinity_filter(state: CycleState, node: NodeInfo) -> Status | None:
    if not state.pod.node_selector.matches(node.labels, node.name):
        return unresolvable(ERR_NODE_AFFINITY)
    return None


# ---- NodePorts ----


def node_ports_filter(state: CycleState, node: NodeInfo) -> Status | None:
    if not node.used_ports:
        return None
    for ip, protocol, port in state.pod.ports:
        if ip == "0.0.0.0":
            if any(p == port and proto == protocol for _, proto, p in node.used_ports):
                return unschedulable(ERR_NODE_PORTS)
        elif ("0.0.0.0", protocol, port) in node.used_ports or (ip, protocol, port) in node.used_ports:
            return unschedulable(ERR_NODE_PORTS)
    return None


# ---- NodeResourcesFit ----


def insufficient_resources(requests: Mapping[str, int], node: NodeInfo) -> list[str]:
    """kube's fitsRequest: the reasons a node lacks room, in kube's order (pods, cpu, memory, storage, others)."""
    reasons = []
    if len(node.pods) + 1 > node.allocatable.get(res.PODS, 0):
        reasons.append("Too many pods")
    alloc, used = node.allocatable, node.requested
    for name in (res.CPU, res.MEMORY, res.EPHEMERAL_STORAGE):
        want = requests.get(name, 0)
        if want > 0 and want > alloc.get(name, 0) - used.get(name, 0):
            reasons.append(f"Insufficient {name}")
    for name in sorted(requests):
        if name in (res.CPU, res.MEMORY, res.EPHEMERAL_STORAGE, res.PODS):
            continue
        want = requests[name]
        if want and want > alloc.get(name, 0) - used.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def node_resources_fit_filter(state: CycleState, node: NodeInfo) -> Status | None:
    alloc, used, requests = node.allocatable, node.requested, state.pod.requests
    fits = len(node.pods) < alloc.get(res.PODS, 0)
    if fits:
        for name, want in requests.items():  # the common case in a few dict look-ups; reasons only on failure
            if want > 0 and want > alloc.get(name, 0) - used.get(name, 0):
                fits = False
                break
    if fits:
        return None
    reasons = insufficient_resources(requests, node)
    return unschedulable(*reasons) if reasons else None


def _least_requested(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated_score(state: CycleState, node: NodeInfo) -> int:
    """NodeResourcesFit's default LeastAllocated strategy over CPU and memory (weights 1, non-zero requests)."""
    cpu, mem = node.allocatable.get(res.CPU, 0), node.allocatable.get(res.MEMORY, 0)
    total = weights = 0
    if cpu:
        total += _least_requested(node.non0_cpu + state.pod.non0_cpu, cpu)
        weights += 1
    if mem:
        total += _least_requested(node.non0_mem + state.pod.non0_mem, mem)
        weights += 1
    return total // weights if weights else 0


def balanced_allocation_score(state: CycleState, node: NodeInfo) -> int:
    """NodeResourcesBalancedAllocation: how evenly CPU and memory would be used (actual requests)."""
    alloc, used, pod = node.allocatable, node.requested, state.pod.requests
    fractions = []
    for name in (res.CPU, res.MEMORY):
        capacity = alloc.get(name, 0)
        if capacity:
            fractions.append(min((used.get(name, 0) + pod.get(name, 0)) / capacity, 1.0))
    # with two resources kube's standard deviation is half their difference; with one it is zero
    std = abs((fractions[0] - fractions[1]) / 2) if len(fractions) == 2 else 0.0
    return int((1 - std) * MAX_NODE_SCORE)


# ---- normalisation ----


def default_normalize(scores: list[int], *, reverse: bool = False) -> None:
    """kube's helper.DefaultNormalizeScore: scale to 0..100 by the maximum (reversed: 100 minus that)."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, score in enumerate(scores):
        scaled = MAX_NODE_SCORE * score // top
        scores[i] = MAX_NODE_SCORE - scaled if reverse else scaled

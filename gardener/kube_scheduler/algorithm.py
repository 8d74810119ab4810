"""One scheduling cycle for one pod: PreFilter, Filter over the nodes, Score, and the choice of a node.

kube 1.32's default profile, in its order: filters NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
NodePorts, NodeResourcesFit, PodTopologySpread, InterPodAffinity (the first that rejects a node names the
reason); scores with weights TaintToleration 3, NodeAffinity 2, NodeResourcesFit 1, PodTopologySpread 2,
InterPodAffinity 2, BalancedAllocation 1. Filtering starts where the previous cycle stopped and stops once
enough nodes fit (`percentageOfNodesToScore`, adaptive by default: every node below 100 nodes). A pod's
nominated node (set by preemption) is tried first. Among the best-scored nodes one is picked uniformly at random
by reservoir sampling, as kube's selectHost does. Volume plugins and ImageLocality are not implemented.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gardener.kube_scheduler import plugins as p
from gardener.kube_scheduler import topology as t
from gardener.kube_scheduler.cache import Cache, NodeInfo, PodInfo
from gardener.kube_scheduler.framework import (
    Code,
    CycleState,
    Diagnosis,
    FitError,
    NoNodesAvailable,
    Status,
)
from gardener.kube_scheduler.selectors import LabelSelector

__all__ = ["FILTERS", "Algorithm", "Filter", "ScheduleResult", "SchedulingError", "num_feasible_nodes_to_find"]

Filter = Callable[[CycleState, NodeInfo], Status | None]

FILTERS: tuple[tuple[str, Filter], ...] = (
    ("NodeUnschedulable", p.node_unschedulable_filter),
    ("NodeName", p.node_name_filter),
    ("TaintToleration", p.taint_toleration_filter),
    ("NodeAffinity", p.node_affinity_filter),
    ("NodePorts", p.node_ports_filter),
    ("NodeResourcesFit", p.node_resources_fit_filter),
    (t.SPREAD, t.spread_filter),
    (t.AFFINITY, t.affinity_filter),
)
MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENTAGE = 5


class SchedulingError(Exception):
    """Not a verdict on the pod but a failure of the cycle (kube: SchedulerError); the pod backs off and retries."""


@dataclass(frozen=True)
class ScheduleResult:
    node: str
    evaluated: int
    feasible: int


def num_feasible_nodes_to_find(percentage: int, num_nodes: int) -> int:
    """kube's numFeasibleNodesToFind: all of a small cluster, else 50 % minus 1 % per 125 nodes (at least 5 %, 100)."""
    if num_nodes < MIN_FEASIBLE_NODES:
        return num_nodes
    if percentage == 0:
        percentage = max(50 - num_nodes // 125, MIN_FEASIBLE_PERCENTAGE)
    return max(num_nodes * percentage // 100, MIN_FEASIBLE_NODES)


class Algorithm:
    """Filters and scores pods against the cache (one instance per profile)."""

    def __init__(
        self,
        cache: Cache,
        *,
        percentage_of_nodes_to_score: int = 0,
        namespace_labels: Callable[[str], Mapping[str, str] | None] = lambda _: None,
        default_selector: Callable[[PodInfo], LabelSelector] = lambda _: LabelSelector(nothing=True),
        nominated: Callable[[str], list[PodInfo]] = lambda _: [],
        any_nominated: Callable[[], bool] = lambda: True,
        rng: random.Random | None = None,
    ) -> None:
        self.cache = cache
        self.percentage = percentage_of_nodes_to_score
        self.namespace_labels = namespace_labels
        self.default_selector = default_selector
        self.nominated = nominated
        self.any_nominated = any_nominated
        self.rng = rng or random.Random()
        self.next_start = 0

    # ---- PreFilter and Filter ----

    def prefilter(self, pod: PodInfo, nodes: list[NodeInfo]) -> tuple[CycleState, list[tuple[str, Filter]]]:
        """Run the PreFilter steps; raise FitError when one rejects the pod outright."""
        state = CycleState(pod, self.namespace_labels, self.default_selector)
        state.cluster_affinity = self.cache.with_affinity > 0
        state.cluster_anti_affinity = self.cache.with_required_anti_affinity > 0
        steps: tuple[tuple[str, Callable[[], Status | None]], ...] = (
            ("NodeAffinity", lambda: p.node_affinity_prefilter(state)),
            (t.SPREAD, lambda: t.spread_prefilter(state, nodes)),
            (t.AFFINITY, lambda: t.affinity_prefilter(state, nodes)),
        )
        for name, step in steps:
            status = step()
            if status is None:
                continue
            if status.code == Code.ERROR:
                raise SchedulingError(f'running PreFilter plugin "{name}": {status.message}')
            diagnosis = Diagnosis(absent=status.with_plugin(name), prefilter_msg=status.message)
            diagnosis.unschedulable_plugins.add(name)
            raise FitError(len(nodes), diagnosis, state=state)
        if not pod.ports:
            state.skipped.add("NodePorts")
        if not pod.node_name:
            state.skipped.add("NodeName")
        return state, [(name, f) for name, f in FILTERS if name not in state.skipped]

    def run_filters(self, state: CycleState, filters: list[tuple[str, Filter]], node: NodeInfo) -> Status | None:
        for name, check in filters:
            status = check(state, node)
            if status is not None:
                return status.with_plugin(name)
        return None

    def run_filters_with_nominated(
        self, state: CycleState, filters: list[tuple[str, Filter]], node: NodeInfo
    ) -> Status | None:
        """kube's RunFilterPluginsWithNominatedPods: pods nominated to the node with at least this pod's priority
        count as if they ran there; the node must fit the pod both with and without them."""
        pod = state.pod
        ahead = [n for n in self.nominated(node.name) if n.priority >= pod.priority and n.uid != pod.uid]
        if ahead:
            with_nominated = node.clone()
            data = state.data
            state.data = t.clone_data(data)
            try:
                for other in ahead:
                    with_nominated.add_pod(other)
                    t.update_with_pod(state, other, with_nominated, 1)
                status = self.run_filters(state, filters, with_nominated)
            finally:
                state.data = data
            if status is not None:
                return status
        return self.run_filters(state, filters, node)

    def find_feasible(
        self, state: CycleState, filters: list[tuple[str, Filter]], nodes: list[NodeInfo], diagnosis: Diagnosis
    ) -> tuple[list[NodeInfo], int]:
        """The nodes that pass, and how many nodes were looked at (the next cycle starts after them)."""
        count = len(nodes)
        if count == 0:
            return [], 0
        wanted = num_feasible_nodes_to_find(self.percentage, count)
        feasible: list[NodeInfo] = []
        processed = 0
        start = self.next_start % count
        check = self.run_filters_with_nominated if self.any_nominated() else self.run_filters
        for i in range(count):
            node = nodes[(start + i) % count]
            processed += 1
            status = check(state, filters, node)
            if status is None:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
            else:
                diagnosis.add(node.name, status)
        return feasible, processed

    # ---- the cycle ----

    def schedule(self, pod: PodInfo) -> ScheduleResult:
        all_nodes = self.cache.nodes()
        if not all_nodes:
            raise NoNodesAvailable()
        state, filters = self.prefilter(pod, all_nodes)
        diagnosis = Diagnosis()
        nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
        if nominated:
            info = self.cache.node(nominated)
            if info is not None and self.run_filters_with_nominated(state, filters, info) is None:
                return ScheduleResult(nominated, 1, 1)
        nodes = all_nodes
        if state.node_names is not None:
            nodes = [n for n in (self.cache.node(name) for name in sorted(state.node_names)) if n is not None]
            diagnosis.absent = Status(
                Code.UNRESOLVABLE, ("node(s) didn't satisfy plugin(s) [NodeAffinity]",), "NodeAffinity"
            )
        feasible, processed = self.find_feasible(state, filters, nodes, diagnosis)
        self.next_start = (self.next_start + processed) % len(all_nodes)
        if not feasible:
            raise FitError(len(all_nodes), diagnosis, state=state, filters=filters)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        totals = self.score(state, feasible, all_nodes)
        return ScheduleResult(self.select_host(feasible, totals), evaluated, len(feasible))

    # ---- Score ----

    def score(self, state: CycleState, feasible: list[NodeInfo], all_nodes: list[NodeInfo]) -> list[int]:
        """Weighted sum of the normalised scores per feasible node (plugins whose PreScore skips add nothing)."""
        pod = state.pod
        totals = [0] * len(feasible)

        def add(weight: int, scores: list[int]) -> None:
            for i, score in enumerate(scores):
                totals[i] += weight * score

        if any(n.taints for n in feasible):
            scores = [p.taint_toleration_score(pod.tolerations, n) for n in feasible]
            p.default_normalize(scores, reverse=True)
            add(3, scores)
        if pod.preferred_nodes.terms:
            scores = [pod.preferred_nodes.score(n.labels, n.name) for n in feasible]
            p.default_normalize(scores)
            add(2, scores)
        least, balanced = [], []
        for n in feasible:
            least.append(p.least_allocated_score(state, n))
            balanced.append(p.balanced_allocation_score(state, n))
        add(1, least)
        if t.spread_prescore(state, feasible, all_nodes):
            scores = [t.spread_score(state, n) for n in feasible]
            t.spread_normalize(state, feasible, scores)
            add(2, scores)
        if t.affinity_prescore(state, feasible, all_nodes):
            scores = [t.affinity_score(state, n) for n in feasible]
            t.affinity_normalize(state, feasible, scores)
            add(2, scores)
        add(1, balanced)
        return totals

    def select_host(self, feasible: list[NodeInfo], totals: list[int]) -> str:
        """The best-scored node; ties broken uniformly at random by reservoir sampling (kube's selectHost)."""
        best, chosen, seen = totals[0], 0, 1
        for i in range(1, len(totals)):
            if totals[i] > best:
                best, chosen, seen = totals[i], i, 1
            elif totals[i] == best:
                seen += 1
                if self.rng.random() * seen < 1.0:  # replace the choice with probability 1/seen
                    chosen = i
        return feasible[chosen].name

"""DefaultPreemption: when a pod fits nowhere, find lower-priority pods whose removal would make room.

This is the decision half of kube 1.32's PostFilter plugin, free of I/O: which nodes could help at all (only
nodes rejected as `Unschedulable`, not `UnschedulableAndUnresolvable`), the victims per node (remove every
lower-priority pod, check the pod fits, then reprieve as many as possible, PodDisruptionBudget-violating ones
first, most important first), and the best node (fewest PDB violations, lowest highest victim priority,
lowest priority sum, fewest victims, latest start). When nothing helps, the message is kube's nested FitError,
e.g. `preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims
found for incoming pod.` The scheduler carries out the result (DisruptionTarget condition, delete, event).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gardener.kube_scheduler import topology as t
from gardener.kube_scheduler.algorithm import Algorithm, Filter
from gardener.kube_scheduler.cache import NodeInfo, PodInfo
from gardener.kube_scheduler.framework import Code, CycleState, Diagnosis, Status, fit_error_message, unresolvable
from gardener.kube_scheduler.selectors import InvalidSelector, label_selector

__all__ = ["NOT_HELPFUL", "NO_VICTIMS", "Outcome", "Victims", "preempt"]

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Victims:
    node: str
    pods: tuple[PodInfo, ...]
    pdb_violations: int


@dataclass(frozen=True)
class Outcome:
    """What preemption decided: the message to append (empty on success), the nomination and the victims.

    `nominate` is None to leave the pod's nominatedNodeName alone, "" to clear it, or the node to nominate.
    """

    message: str
    nominate: str | None
    victims: Victims | None = None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _start(pod: PodInfo, now: str) -> str:
    return str((pod.pod.get("status") or {}).get("startTime") or now)


def _importance(pod: PodInfo, now: str) -> tuple[int, str]:
    """Sort key putting kube's MoreImportantPod first: higher priority, then earlier start."""
    return (-pod.priority, _start(pod, now))


def terminating_by_preemption(pod: PodInfo) -> bool:
    if not pod.deleting:
        return False
    return any(
        c.get("type") == "DisruptionTarget" and c.get("status") == "True" and c.get("reason") == "PreemptionByScheduler"
        for c in (pod.pod.get("status") or {}).get("conditions") or []
    )


def eligible(pod: PodInfo, algorithm: Algorithm, diagnosis: Diagnosis) -> tuple[bool, str]:
    """kube's PodEligibleToPreemptOthers."""
    if pod.spec.get("preemptionPolicy") == "Never":
        return False, "not eligible due to preemptionPolicy=Never."
    nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
    if nominated:
        status = diagnosis.node_to_status.get(nominated, diagnosis.absent)
        if status.code == Code.UNRESOLVABLE:
            return True, ""
        info = algorithm.cache.node(nominated)
        if info is not None:
            for other in info.pods.values():
                if other.priority < pod.priority and terminating_by_preemption(other):
                    return False, "not eligible due to a terminating pod on the nominated node."
    return True, ""


def _split_by_pdb(pods: list[PodInfo], pdbs: list[Mapping[str, Any]]) -> tuple[list[PodInfo], list[PodInfo]]:
    """kube's filterPodsWithPDBViolation: (violating, non-violating), each keeping the input order."""
    allowed = [int((pdb.get("status") or {}).get("disruptionsAllowed") or 0) for pdb in pdbs]
    violating: list[PodInfo] = []
    fine: list[PodInfo] = []
    for pod in pods:
        violated = False
        if pod.labels:
            for i, pdb in enumerate(pdbs):
                if (pdb.get("metadata") or {}).get("namespace") != pod.namespace:
                    continue
                try:
                    selector = label_selector((pdb.get("spec") or {}).get("selector"))
                except InvalidSelector:
                    continue
                if selector.empty or not selector.matches(pod.labels):
                    continue
                if pod.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else fine).append(pod)
    return violating, fine


def select_victims(
    algorithm: Algorithm,
    state: CycleState,
    filters: list[tuple[str, Filter]],
    node: NodeInfo,
    pdbs: list[Mapping[str, Any]],
) -> tuple[Victims | None, Status | None]:
    """kube's SelectVictimsOnNode, on a copy of the node and of the cycle state."""
    pod, now = state.pod, _now()
    info = node.clone()
    data = state.data
    state.data = t.clone_data(data)
    try:
        candidates = [other for other in info.pods.values() if other.priority < pod.priority]
        if not candidates:
            return None, unresolvable(NO_VICTIMS)
        for other in candidates:
            info.remove_pod(other.uid)
            t.update_with_pod(state, other, info, -1)
        status = algorithm.run_filters_with_nominated(state, filters, info)
        if status is not None:
            return None, status
        candidates.sort(key=lambda x: _importance(x, now))
        violating, fine = _split_by_pdb(candidates, pdbs)
        victims: list[PodInfo] = []
        violations = 0
        for group, counts in ((violating, True), (fine, False)):
            for other in group:
                info.add_pod(other)
                t.update_with_pod(state, other, info, 1)
                if algorithm.run_filters_with_nominated(state, filters, info) is not None:
                    info.remove_pod(other.uid)
                    t.update_with_pod(state, other, info, -1)
                    victims.append(other)
                    violations += 1 if counts else 0
        if violating and fine:
            victims.sort(key=lambda x: _importance(x, now))
        if not victims:
            return None, Status(Code.ERROR, (f'expected at least one victim pod on node "{node.name}"',))
        return Victims(node.name, tuple(victims), violations), None
    finally:
        state.data = data


def pick_one(candidates: list[Victims]) -> Victims:
    """kube's pickOneNodeForPreemption: successive criteria until one node remains (else the first left)."""
    now = _now()

    def latest_start(v: Victims) -> str:
        top = v.pods[0].priority
        return min(_start(p, now) for p in v.pods if p.priority == top)

    criteria: list[Callable[[Victims], Any]] = [
        lambda v: -v.pdb_violations,
        lambda v: -v.pods[0].priority,
        lambda v: -sum(p.priority + INT32_MAX + 1 for p in v.pods),
        lambda v: -len(v.pods),
        latest_start,
    ]
    remaining = candidates
    for criterion in criteria:
        best = max(criterion(v) for v in remaining)
        remaining = [v for v in remaining if criterion(v) == best]
        if len(remaining) == 1:
            break
    return remaining[0]


def preempt(
    algorithm: Algorithm,
    state: CycleState,
    filters: list[tuple[str, Filter]],
    diagnosis: Diagnosis,
    *,
    pdbs: list[Mapping[str, Any]],
) -> Outcome:
    """The PostFilter step after a FitError."""
    pod = state.pod
    ok, why = eligible(pod, algorithm, diagnosis)
    if not ok:
        return Outcome(f"preemption: {why}", None)
    all_nodes = algorithm.cache.nodes()
    potential = diagnosis.nodes_with_code(all_nodes, Code.UNSCHEDULABLE)
    result = Diagnosis(absent=unresolvable(NOT_HELPFUL))
    if potential:
        wanted = min(
            max(len(potential) * MIN_CANDIDATE_NODES_PERCENTAGE // 100, MIN_CANDIDATE_NODES_ABSOLUTE), len(potential)
        )
        offset = algorithm.rng.randrange(len(potential))
        fine: list[Victims] = []
        violating: list[Victims] = []
        for i in range(len(potential)):
            node = potential[(offset + i) % len(potential)]
            victims, status = select_victims(algorithm, state, filters, node, pdbs)
            if victims is not None:
                (violating if victims.pdb_violations else fine).append(victims)
                if fine and len(fine) + len(violating) >= wanted:
                    break
            elif status is not None:
                result.node_to_status[node.name] = status
        candidates = fine + violating
        if candidates:
            best = pick_one(candidates)
            return Outcome("", best.node, best)
    return Outcome(f"preemption: {fit_error_message(len(all_nodes), result)}", "")

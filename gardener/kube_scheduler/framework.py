"""The scheduling framework's vocabulary: plugin statuses, the per-cycle state, and why a pod fits nowhere.

`FitError.message` is what users read in `kubectl describe pod` and in the PodScheduled condition, so it is
built exactly as kube 1.32's `FitError.Error()`: `0/N nodes are available:` then either the PreFilter message or
a histogram of the filters' reasons over all nodes ("2 Insufficient cpu", sorted as strings, joined by ", ",
closed by "."), then the PostFilter (preemption) message, which carries its own final period.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gardener.kube_scheduler.cache import NodeInfo, PodInfo

__all__ = [
    "Code",
    "CycleState",
    "Diagnosis",
    "FitError",
    "NoNodesAvailable",
    "Status",
    "fit_error_message",
]

#: kube's framework.MaxNodeScore
MAX_NODE_SCORE = 100


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    #: kube's UnschedulableAndUnresolvable: preemption cannot help on that node
    UNRESOLVABLE = 3
    SKIP = 5


@dataclass(frozen=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @property
    def rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNRESOLVABLE)

    def with_plugin(self, plugin: str) -> Status:
        return Status(self.code, self.reasons, plugin)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNRESOLVABLE, reasons)


@dataclass
class Diagnosis:
    """Per-node filter statuses (explicit nodes), the status of every node not listed, and the plugins that said no."""

    node_to_status: dict[str, Status] = field(default_factory=dict)
    absent: Status = field(default_factory=lambda: Status(Code.UNRESOLVABLE))
    unschedulable_plugins: set[str] = field(default_factory=set)
    prefilter_msg: str = ""
    postfilter_msg: str = ""

    def add(self, node: str, status: Status) -> None:
        self.node_to_status[node] = status
        if status.plugin and status.rejected:
            self.unschedulable_plugins.add(status.plugin)

    def nodes_with_code(self, nodes: list[NodeInfo], code: Code) -> list[NodeInfo]:
        """kube's NodesForStatusCode: listed nodes with that code, and unlisted ones if the absent status has it."""
        out = []
        for info in nodes:
            status = self.node_to_status.get(info.name)
            if (status.code if status is not None else self.absent.code) == code:
                out.append(info)
        return out


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    msg = f"0/{num_all_nodes} nodes are available:"
    if diagnosis.prefilter_msg:
        msg += f" {diagnosis.prefilter_msg}."
    else:
        reasons: Counter[str] = Counter()
        for status in diagnosis.node_to_status.values():
            reasons.update(status.reasons)
        missing = num_all_nodes - len(diagnosis.node_to_status)
        if missing > 0:
            for reason in diagnosis.absent.reasons:
                reasons[reason] += missing
        histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
        if histogram:
            msg += f" {', '.join(histogram)}."
    if diagnosis.postfilter_msg:
        msg += f" {diagnosis.postfilter_msg}"
    return msg


class FitError(Exception):
    """No node passed the filters; `diagnosis` says why per node."""

    def __init__(
        self,
        num_all_nodes: int,
        diagnosis: Diagnosis,
        *,
        state: CycleState | None = None,
        filters: list[Any] | None = None,
    ) -> None:
        super().__init__()
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis
        #: the cycle's state and filters, for preemption's what-if runs
        self.state = state
        self.filters = filters or []

    @property
    def message(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)

    def __str__(self) -> str:
        return self.message


class NoNodesAvailable(Exception):
    """kube's ErrNoNodesAvailable: the cluster has no Node at all."""

    def __str__(self) -> str:
        return "no nodes available to schedule pods"


@dataclass
class CycleState:
    """What the PreFilter/PreScore steps computed for one pod in one cycle, read by the per-node steps."""

    pod: PodInfo
    #: namespace name -> its labels (for affinity terms with a namespaceSelector)
    namespace_labels: Callable[[str], Mapping[str, str] | None]
    #: the selector of the pod's Services/ReplicaSets/StatefulSets/ReplicationControllers (default spreading)
    default_selector: Callable[[PodInfo], Any]
    #: whether any cached pod has pod (anti-)affinity / required anti-affinity at all
    cluster_affinity: bool = True
    cluster_anti_affinity: bool = True
    node_names: set[str] | None = None
    skipped: set[str] = field(default_factory=set)
    data: dict[str, Any] = field(default_factory=dict)

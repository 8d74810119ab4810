"""The scheduler's view of the cluster: every Node with the pods on it and what they request.

Pods bound in the API server come from the pod informer; a pod the scheduler has just chosen a node for is
*assumed* onto it at once (kube's scheduler cache `AssumePod`), so the next scheduling cycle already counts it,
long before the binding's watch event arrives. The informer's ADDED/MODIFIED for that pod confirms the
assumption; a failed binding forgets it. Node order interleaves zones as kube's node tree does, so that a
cycle which looks at only part of a large cluster still sees every zone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gardener.kube_scheduler import resources as res
from gardener.kube_scheduler.selectors import (
    NOTHING,
    InvalidSelector,
    LabelSelector,
    NodeSelector,
    PreferredTerms,
    label_selector,
)

__all__ = ["ZONE_LABEL", "AffinityTerm", "Cache", "NodeInfo", "PodInfo"]

ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
Obj = dict[str, Any]


@dataclass(frozen=True)
class AffinityTerm:
    """A parsed PodAffinityTerm: which pods it selects (namespaces + selector) and the topology it spans."""

    namespaces: frozenset[str]
    selector: LabelSelector
    topology_key: str
    namespace_selector: LabelSelector = NOTHING

    def matches(self, namespace: str, labels: Mapping[str, str], ns_labels: Mapping[str, str] | None) -> bool:
        if namespace not in self.namespaces and not (
            ns_labels is not None and self.namespace_selector.matches(ns_labels)
        ):
            return False
        return self.selector.matches(labels)

    @classmethod
    def parse(cls, term: Mapping[str, Any], owner_namespace: str) -> AffinityTerm:
        names = [str(n) for n in term.get("namespaces") or []]
        ns_selector_raw = term.get("namespaceSelector")
        if not names and ns_selector_raw is None:
            names = [owner_namespace]
        return cls(
            frozenset(names),
            label_selector(term.get("labelSelector")),
            str(term.get("topologyKey") or ""),
            label_selector(ns_selector_raw),
        )


_SPEC_READ = (
    "containers",
    "initContainers",
    "overhead",
    "priority",
    "tolerations",
    "nodeSelector",
    "affinity",
    "topologySpreadConstraints",
)


def _scheduling_view(pod: Obj) -> tuple[Any, ...]:
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    return (meta.get("uid"), meta.get("labels"), *(spec.get(key) for key in _SPEC_READ))


def _terms(raw: Any, namespace: str) -> tuple[AffinityTerm, ...]:
    return tuple(AffinityTerm.parse(t, namespace) for t in raw or [] if isinstance(t, Mapping))


def _weighted(raw: Any, namespace: str) -> tuple[tuple[int, AffinityTerm], ...]:
    out = []
    for item in raw or []:
        if isinstance(item, Mapping):
            out.append((int(item.get("weight") or 0), AffinityTerm.parse(item.get("podAffinityTerm") or {}, namespace)))
    return tuple(out)


@dataclass
class PodInfo:
    """One pod, parsed once: what the filters and scores read of it."""

    pod: Obj
    uid: str
    namespace: str
    name: str
    labels: dict[str, str]
    priority: int
    requests: res.Resources
    non0_cpu: int
    non0_mem: int
    ports: tuple[tuple[str, str, int], ...]
    tolerations: list[Mapping[str, Any]]
    node_selector: NodeSelector
    preferred_nodes: PreferredTerms
    required_affinity: tuple[AffinityTerm, ...] = ()
    required_anti_affinity: tuple[AffinityTerm, ...] = ()
    preferred_affinity: tuple[tuple[int, AffinityTerm], ...] = ()
    preferred_anti_affinity: tuple[tuple[int, AffinityTerm], ...] = ()
    parse_error: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def spec(self) -> Obj:
        return self.pod.get("spec") or {}

    @property
    def node_name(self) -> str:
        return str(self.spec.get("nodeName") or "")

    @property
    def deleting(self) -> bool:
        return bool((self.pod.get("metadata") or {}).get("deletionTimestamp"))

    @property
    def has_affinity(self) -> bool:
        return bool(
            self.required_affinity
            or self.required_anti_affinity
            or self.preferred_affinity
            or self.preferred_anti_affinity
        )

    @property
    def start_time(self) -> str:
        """When the pod started (or was created): the tie-breaker of preemption's importance order."""
        status, meta = self.pod.get("status") or {}, self.pod.get("metadata") or {}
        return str(status.get("startTime") or meta.get("creationTimestamp") or "")

    def refresh(self, pod: Obj) -> PodInfo:
        """This pod's newer version: re-parsed only if something the scheduler reads of it changed."""
        if _scheduling_view(pod) == _scheduling_view(self.pod):
            return replace(self, pod=pod)
        return PodInfo.of(pod)

    @classmethod
    def of(cls, pod: Obj) -> PodInfo:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        namespace = str(meta.get("namespace") or "")
        ports = []
        for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            for port in (container or {}).get("ports") or []:
                host_port = int((port or {}).get("hostPort") or 0)
                if host_port > 0:
                    ports.append((str(port.get("hostIP") or "0.0.0.0"), str(port.get("protocol") or "TCP"), host_port))
        non_zero = res.pod_requests(spec, non_zero=True)
        info = cls(
            pod=pod,
            uid=str(meta.get("uid") or f"{namespace}/{meta.get('name')}"),
            namespace=namespace,
            name=str(meta.get("name") or ""),
            labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
            priority=int(spec.get("priority") or 0),
            requests=res.pod_requests(spec),
            non0_cpu=non_zero.get(res.CPU, 0),
            non0_mem=non_zero.get(res.MEMORY, 0),
            ports=tuple(ports),
            tolerations=[t for t in spec.get("tolerations") or [] if isinstance(t, Mapping)],
            node_selector=NodeSelector.of_pod(spec),
            preferred_nodes=PreferredTerms.of_pod(spec),
        )
        affinity = spec.get("affinity") or {}
        pod_affinity, anti = affinity.get("podAffinity") or {}, affinity.get("podAntiAffinity") or {}
        try:
            info.required_affinity = _terms(
                pod_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"), namespace
            )
            info.required_anti_affinity = _terms(anti.get("requiredDuringSchedulingIgnoredDuringExecution"), namespace)
            info.preferred_affinity = _weighted(
                pod_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"), namespace
            )
            info.preferred_anti_affinity = _weighted(
                anti.get("preferredDuringSchedulingIgnoredDuringExecution"), namespace
            )
        except InvalidSelector as exc:
            info.parse_error = str(exc)
        return info


@dataclass
class NodeInfo:
    """A Node and the pods bound or assumed onto it, with their summed requests."""

    name: str
    node: Obj | None = None
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Mapping[str, Any]] = field(default_factory=list)
    unschedulable: bool = False
    allocatable: res.Resources = field(default_factory=dict)
    pods: dict[str, PodInfo] = field(default_factory=dict)
    requested: res.Resources = field(default_factory=dict)
    non0_cpu: int = 0
    non0_mem: int = 0
    used_ports: dict[tuple[str, str, int], int] = field(default_factory=dict)
    with_affinity: dict[str, PodInfo] = field(default_factory=dict)
    with_required_anti_affinity: dict[str, PodInfo] = field(default_factory=dict)

    def set_node(self, node: Obj) -> None:
        meta, spec = node.get("metadata") or {}, node.get("spec") or {}
        self.node = node
        self.labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        self.taints = [t for t in spec.get("taints") or [] if isinstance(t, Mapping)]
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = res.allocatable(node)

    def add_pod(self, pi: PodInfo) -> None:
        self._account(pi, 1)
        self.pods[pi.uid] = pi
        if pi.has_affinity:
            self.with_affinity[pi.uid] = pi
        if pi.required_anti_affinity:
            self.with_required_anti_affinity[pi.uid] = pi

    def remove_pod(self, uid: str) -> PodInfo | None:
        pi = self.pods.pop(uid, None)
        if pi is not None:
            self._account(pi, -1)
            self.with_affinity.pop(uid, None)
            self.with_required_anti_affinity.pop(uid, None)
        return pi

    def _account(self, pi: PodInfo, sign: int) -> None:
        res.add_into(self.requested, pi.requests, sign)
        self.non0_cpu += sign * pi.non0_cpu
        self.non0_mem += sign * pi.non0_mem
        for port in pi.ports:
            count = self.used_ports.get(port, 0) + sign
            if count > 0:
                self.used_ports[port] = count
            else:
                self.used_ports.pop(port, None)

    def clone(self) -> NodeInfo:
        """A copy whose pod set can change without touching this one (preemption's what-if runs)."""
        copy = NodeInfo(self.name, self.node, self.labels, self.taints, self.unschedulable, self.allocatable)
        for pi in self.pods.values():
            copy.add_pod(pi)
        return copy


@dataclass
class _PodState:
    info: PodInfo
    node: str
    assumed: bool


class Cache:
    """NodeInfos by name plus where each known pod is; the single writer is the scheduler's event loop."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, _PodState] = {}
        self._order: list[NodeInfo] | None = None
        #: how many cached pods have any pod (anti-)affinity, and required anti-affinity (lets cycles skip scans)
        self.with_affinity = 0
        self.with_required_anti_affinity = 0

    # ---- nodes ----

    def add_node(self, node: Obj) -> NodeInfo:
        name = str((node.get("metadata") or {}).get("name") or "")
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo(name)
        zone = info.labels.get(ZONE_LABEL, "") if info.node is not None else None
        info.set_node(node)
        if zone != info.labels.get(ZONE_LABEL, ""):
            self._order = None
        return info

    def remove_node(self, name: str) -> None:
        info = self._nodes.get(name)
        if info is None:
            return
        info.node = None
        if not info.pods:
            del self._nodes[name]
        self._order = None

    def node(self, name: str) -> NodeInfo | None:
        info = self._nodes.get(name)
        return info if info is not None and info.node is not None else None

    def nodes(self) -> list[NodeInfo]:
        """Nodes that exist, zones interleaved (kube's nodeTree order)."""
        if self._order is None:
            zones: dict[str, list[NodeInfo]] = {}
            for info in self._nodes.values():
                if info.node is not None:
                    zones.setdefault(info.labels.get(ZONE_LABEL, ""), []).append(info)
            order: list[NodeInfo] = []
            lists = list(zones.values())
            for i in range(max((len(z) for z in lists), default=0)):
                order.extend(z[i] for z in lists if i < len(z))
            self._order = order
        return self._order

    def __iter__(self) -> Iterator[NodeInfo]:
        return iter(self.nodes())

    # ---- pods ----

    def _place(self, info: PodInfo, node: str, *, assumed: bool) -> None:
        self._remove(info.uid)
        target = self._nodes.get(node)
        if target is None:
            target = self._nodes[node] = NodeInfo(node)
        target.add_pod(info)
        self._pods[info.uid] = _PodState(info, node, assumed)
        self._count(info, 1)

    def _count(self, info: PodInfo, sign: int) -> None:
        if info.has_affinity:
            self.with_affinity += sign
        if info.required_anti_affinity:
            self.with_required_anti_affinity += sign

    def _remove(self, uid: str) -> None:
        state = self._pods.pop(uid, None)
        if state is None:
            return
        self._count(state.info, -1)
        info = self._nodes.get(state.node)
        if info is not None:
            info.remove_pod(uid)
            if info.node is None and not info.pods:
                del self._nodes[state.node]

    def add_pod(self, info: PodInfo) -> None:
        """A pod the API server shows bound (confirms an assumption)."""
        self._place(info, info.node_name, assumed=False)

    def remove_pod(self, uid: str) -> None:
        self._remove(uid)

    def assume(self, info: PodInfo, node: str) -> None:
        self._place(info, node, assumed=True)

    def forget(self, uid: str) -> None:
        state = self._pods.get(uid)
        if state is not None and state.assumed:
            self._remove(uid)

    def is_assumed(self, uid: str) -> bool:
        state = self._pods.get(uid)
        return state is not None and state.assumed

    def pod_info(self, uid: str) -> PodInfo | None:
        state = self._pods.get(uid)
        return state.info if state else None

    def pod_node(self, uid: str) -> str | None:
        state = self._pods.get(uid)
        return state.node if state else None

    @property
    def pod_count(self) -> int:
        return len(self._pods)

"""Where a DaemonSet's pods go (upstream's daemon/util and NodeShouldRunDaemonPod): the tolerations every daemon
pod gets, node selector and required node affinity matching, taints, and the pod made for one node.

Pure functions over plain objects, shared by the controller (`daemonset`) and tests.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import Any

from gardener.kube_controller_manager.objects import labels_of, meta
from gardener.kube_controller_manager.podcontrol import pod_from_template
from gardener.runtime.kube import Obj

__all__ = [
    "GENERATION_ANNOTATION",
    "GENERATION_LABEL",
    "HASH_LABEL",
    "created_order",
    "daemon_pod",
    "name_of",
    "node_matches",
    "scaled",
    "should_run",
    "spec_of",
    "target_node",
    "with_daemon_tolerations",
]

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"

_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
_NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name") or "")


def spec_of(obj: Mapping[str, Any]) -> Obj:
    spec: Obj = obj.get("spec") or {}
    return spec


def with_daemon_tolerations(pod_spec: Obj) -> Obj:
    """`pod_spec` with upstream's AddOrUpdateDaemonPodTolerations applied (a toleration equal in key, operator,
    value and effect is replaced, others are appended)."""
    spec = copy.deepcopy(pod_spec)
    wanted = list(_DAEMON_TOLERATIONS) + ([_NETWORK_UNAVAILABLE] if spec.get("hostNetwork") else [])
    tolerations = list(spec.get("tolerations") or [])
    for key, effect in wanted:
        new = {"key": key, "operator": "Exists", "effect": effect}
        same = [
            i
            for i, t in enumerate(tolerations)
            if (t.get("key"), t.get("operator"), t.get("value", ""), t.get("effect")) == (key, "Exists", "", effect)
        ]
        for i in same:
            tolerations[i] = new
        if not same:
            tolerations.append(new)
    spec["tolerations"] = tolerations
    return spec


def _requirement_holds(value: str | None, req: Mapping[str, Any]) -> bool:
    op, values = req.get("operator"), [str(v) for v in req.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, bound = int(value), int(values[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def _term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = labels_of(node)
    if not all(_requirement_holds(labels.get(str(r.get("key"))), r) for r in expressions):
        return False
    known = {"metadata.name": name_of(node)}
    return all(_requirement_holds(known.get(str(r.get("key"))), r) for r in fields)


def node_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """The pod's nodeSelector and required node affinity (upstream's GetRequiredNodeAffinity(pod).Match(node))."""
    labels = labels_of(node)
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return True
    return any(_term_matches(term, node) for term in required.get("nodeSelectorTerms") or [])


def _tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def _untolerated(taints: Iterable[Mapping[str, Any]], tolerations: list[Obj], effects: tuple[str, ...]) -> bool:
    return any(t.get("effect") in effects and not any(_tolerates(tol, t) for tol in tolerations) for t in taints)


def should_run(ds: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[bool, bool]:
    """(should a daemon pod start on `node`, may one already there keep running) - upstream's
    NodeShouldRunDaemonPod."""
    pod_spec = with_daemon_tolerations((spec_of(ds).get("template") or {}).get("spec") or {})
    if pod_spec.get("nodeName") and pod_spec["nodeName"] != name_of(node):
        return False, False
    if not node_matches(pod_spec, node):
        return False, False
    taints = spec_of(node).get("taints") or []
    tolerations = pod_spec.get("tolerations") or []
    if _untolerated(taints, tolerations, ("NoSchedule", "NoExecute")):
        return False, not _untolerated(taints, tolerations, ("NoExecute",))
    return True, True


def daemon_pod(ds: Obj, node_name: str, revision_hash: str) -> Obj:
    """A new daemon pod for `node_name`: the template with daemon tolerations, the revision hash (and template
    generation) labels, and its required node affinity replaced by one term on the node's name."""
    template = copy.deepcopy(spec_of(ds).get("template") or {})
    template["spec"] = with_daemon_tolerations(template.get("spec") or {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    generation = (meta(ds).get("annotations") or {}).get(GENERATION_ANNOTATION)
    if generation:
        labels[GENERATION_LABEL] = str(generation)
    labels[HASH_LABEL] = revision_hash
    pod = pod_from_template(template, ds, generate_name=f"{name_of(ds)}-")
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    affinity = pod["spec"].setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    required["nodeSelectorTerms"] = [term]
    return pod


def target_node(pod: Mapping[str, Any]) -> str | None:
    """The node a daemon pod is for: its nodeName, or the name in its node affinity (upstream's GetTargetNodeName)."""
    spec = spec_of(pod)
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In":
                values = field.get("values") or []
                return str(values[0]) if len(values) == 1 else None
    return None


def scaled(value: Any, total: int) -> int:
    """An int-or-percent of `total`, percentages rounded up (upstream's GetScaledValueFromIntOrPercent)."""
    if isinstance(value, int):
        return value
    text = str(value or "0")
    if text.endswith("%"):
        try:
            return math.ceil(int(text[:-1]) * total / 100)
        except ValueError:
            return 0
    return int(text) if text.isdigit() else 0


def created_order(pod: Mapping[str, Any]) -> tuple[int, str, str]:
    return (0 if spec_of(pod).get("nodeName") else 1, str(meta(pod).get("creationTimestamp") or ""), name_of(pod))

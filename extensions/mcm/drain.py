"""Draining a machine's node before its VM goes, as MCM's drain does: cordon, evict, wait; forced after the timeout.

Upstream MCM drains in one blocking call per machine, which may last the whole drain timeout (2h by default).
Here one call is one *pass* that does what can be done now and says when to look again, so that a node held by
a PodDisruptionBudget never ties up a worker of the Machine controller: the controller runs a pass on every
reconcile of a machine in its "Initiate node drain" step and requeues. What a pass remembers between calls
(eviction attempts, when to try next) is pacing only, kept in memory: a restarted MCM merely starts its backoff
afresh, since the drain's deadline comes from the Machine's deletionTimestamp.

Imported by the Machine controller (and by the MCM's entry module, for the defaults of its flags).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from extensions.library.reconciler import now_rfc3339
from extensions.mcm.objects import parse_time
from gardener.runtime.errors import ApiError, NotFound, TooManyRequests
from gardener.runtime.kube import NODES, PODDISRUPTIONBUDGETS, PODS, Kube, Obj

log = logging.getLogger("mcm.drain")

EVICTIONS = Counter(
    "mcm_drain_pod_operations_total",
    "Pod evictions and deletions while draining nodes, by result (evicted, refused, deleted, failed).",
    ["result"],
)

#: MCM's `--machine-drain-timeout` default (drain.DefaultMachineDrainTimeout)
DEFAULT_DRAIN_TIMEOUT = 2 * 3600.0
#: MCM's PodEvictionRetryInterval: the longest pause between two eviction attempts
RETRY_CAP = 20.0
#: MCM's `--machine-max-evict-retries` default: the drain timeout over the retry interval
DEFAULT_MAX_EVICT_RETRIES = int(DEFAULT_DRAIN_TIMEOUT / RETRY_CAP)
#: how long a node may be NotReady (or have a read-only filesystem) before MCM stops trying to drain it
UNHEALTHY_SKIP_AFTER = 300.0
#: the first pause between eviction attempts; it doubles up to RETRY_CAP
RETRY_BASE = 0.5

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
#: the node condition MCM sets on a node whose machine is being deleted (machineutils.NodeTerminationCondition)
TERMINATING_CONDITION = "Terminating"
_SCALE_DOWN = ("ScaleDown", "Machine Controller is scaling down machine")


def skip_reason(node_name: str, conditions: Iterable[Mapping[str, Any]], *, now: float) -> str | None:
    """Why a node is not drained at all (MCM's drainNode): no node, or unhealthy for over five minutes."""
    if not node_name:
        return "Skipping drain as nodeName is not a valid one for machine."
    by_type = {str(c.get("type")): c for c in conditions}

    def lasting(kind: str, healthy: str) -> bool:
        condition = by_type.get(kind)
        if condition is None or condition.get("status") == healthy:
            return False
        since = parse_time(condition.get("lastTransitionTime"))
        return since is not None and now - since > UNHEALTHY_SKIP_AFTER

    if lasting("Ready", "True"):
        return "Skipping drain as machine is NotReady for over 5minutes."
    if lasting("ReadonlyFilesystem", "False"):
        return "Skipping drain as machine is in ReadonlyFilesystem for over 5minutes."
    return None


def drained_by_mcm(pod: Obj) -> bool:
    """Whether a drain removes the pod: everything but mirror pods and DaemonSet pods (MCM ignores both)."""
    meta = pod.get("metadata") or {}
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return False
    return not any(
        ref.get("controller") and ref.get("kind") == "DaemonSet" for ref in meta.get("ownerReferences") or []
    )


def still_running(pod: Obj, now: float) -> bool:
    """A pod counts as gone once deleted, or once its deletion's grace period is over: the kubelet has had its
    time to stop the containers (and the node is about to go), whether or not it removed the object yet."""
    deadline = parse_time((pod.get("metadata") or {}).get("deletionTimestamp"))
    return deadline is None or deadline > now


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A PodDisruptionBudget's label selector; a nil or empty one matches nothing (as for evictions)."""
    match_labels = (selector or {}).get("matchLabels") or {}
    expressions = (selector or {}).get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for e in expressions:
        key, operator, values = e.get("key"), e.get("operator"), e.get("values") or []
        present = key in labels
        if operator == "In":
            ok = present and labels[key] in values
        elif operator == "NotIn":
            ok = not present or labels[key] not in values
        elif operator in ("Exists", "DoesNotExist"):
            ok = present == (operator == "Exists")
        else:
            ok = False
        if not ok:
            return False
    return True


def misconfigured(budget: Obj) -> bool:
    """MCM's isMisconfiguredPdb: every expected pod is healthy, none is being disrupted, and still no disruption
    is allowed; waiting cannot help such a budget."""
    status = budget.get("status") or {}
    if budget["metadata"].get("generation") != status.get("observedGeneration"):
        return False
    expected = int(status.get("expectedPods") or 0)
    return (
        expected > 0
        and int(status.get("currentHealthy") or 0) >= expected
        and not status.get("disruptedPods")
        and int(status.get("disruptionsAllowed") or 0) == 0
    )


def aggregate(errors: Iterable[str]) -> str:
    """Several errors as apimachinery's NewAggregate prints them."""
    items = list(errors)
    return items[0] if len(items) == 1 else "[" + ", ".join(items) + "]"


def mark_terminating(shoot: Kube, node_name: str, *, now: str | None = None) -> None:
    """MCM's UpdateNodeTerminationCondition: a `Terminating` condition on the node (kept as it is when set)."""
    node = shoot.get(NODES.path(name=node_name))
    if node is None:
        return
    conditions = list((node.get("status") or {}).get("conditions") or [])
    if any(c.get("type") == TERMINATING_CONDITION and c.get("status") == "True" for c in conditions):
        return
    stamp = now or now_rfc3339()
    reason, message = _SCALE_DOWN
    condition = {
        "type": TERMINATING_CONDITION,
        "status": "True",
        "lastHeartbeatTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }
    patch = {
        # the whole list is written, so it must be the list that was read: a conflict makes the next pass retry
        "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
        "status": {"conditions": [c for c in conditions if c.get("type") != TERMINATING_CONDITION] + [condition]},
    }
    try:
        shoot.patch(NODES.path(name=node_name, subresource="status"), patch)
    except NotFound:
        return


@dataclass(frozen=True)
class DrainResult:
    """One pass: `done` when nothing is left to wait for; `errors` in MCM's words; when to look again if not done."""

    done: bool
    errors: tuple[str, ...] = ()
    retry_after: float = 0.0


@dataclass
class _Progress:
    attempts: int = 0
    next_at: float = 0.0


class Drainer:
    """Drain passes for many machines at once; `key` tells the machines apart (the Machine's namespace/name)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        retry_base: float = RETRY_BASE,
        retry_cap: float = RETRY_CAP,
    ) -> None:
        self.clock = clock
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self._progress: dict[Hashable, _Progress] = {}
        self._lock = threading.Lock()

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._progress.pop(key, None)

    def run_pass(
        self, shoot: Kube, node_name: str, *, key: Hashable, force: bool, max_evict_retries: int
    ) -> DrainResult:
        """Cordon the node and evict its pods (delete them at once when `force`); errors of the API are results."""
        now = self.clock()
        with self._lock:
            progress = self._progress.setdefault(key, _Progress())
            if not force and now < progress.next_at:
                return DrainResult(done=False, retry_after=progress.next_at - now)
            attempt = progress.attempts
        try:
            self._cordon(shoot, node_name)
            pods = self._pods(shoot, node_name)
        except ApiError as exc:
            # forced, the VM goes even so (MCM: "since it's a force deletion shall continue deletion of VM")
            return self._paced(key, DrainResult(done=force, errors=(str(exc),)))
        if force:
            errors = [e for e in (self._delete_now(shoot, p, node_name) for p in pods) if e]
            return DrainResult(done=True, errors=tuple(errors))
        errors = []
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            error = (
                self._evict(shoot, pod, node_name)
                if attempt < max_evict_retries
                else self._delete_now(shoot, pod, node_name)
            )
            if error:
                errors.append(error)
        try:
            left = [p for p in self._pods(shoot, node_name) if still_running(p, self.clock())]
        except ApiError as exc:
            return self._paced(key, DrainResult(done=False, errors=(*errors, str(exc))))
        if not left and not errors:
            self.forget(key)
            return DrainResult(done=True)
        log.debug("Node not drained yet", extra={"node": node_name, "pods": len(left), "attempt": attempt + 1})
        return self._paced(key, DrainResult(done=False, errors=tuple(errors)))

    def _paced(self, key: Hashable, result: DrainResult) -> DrainResult:
        with self._lock:
            progress = self._progress.setdefault(key, _Progress())
            delay = min(self.retry_cap, self.retry_base * 2 ** min(progress.attempts, 16))
            progress.attempts += 1
            progress.next_at = self.clock() + delay
        return DrainResult(done=result.done, errors=result.errors, retry_after=delay)

    # ---- the API calls ----

    @staticmethod
    def _cordon(shoot: Kube, node_name: str) -> None:
        node = shoot.get(NODES.path(name=node_name))
        if node is None or (node.get("spec") or {}).get("unschedulable"):
            return  # a machine deleted before its node joined has nothing to cordon
        try:
            shoot.patch(NODES.path(name=node_name), {"spec": {"unschedulable": True}})
        except NotFound:
            return
        log.info("Cordoned node", extra={"node": node_name})

    @staticmethod
    def _pods(shoot: Kube, node_name: str) -> list[Obj]:
        found = shoot.request("GET", PODS.path(), params={"fieldSelector": f"spec.nodeName={node_name}"}) or {}
        return [p for p in found.get("items") or [] if drained_by_mcm(p)]

    def _evict(self, shoot: Kube, pod: Obj, node_name: str) -> str | None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}}
        try:
            shoot.create(PODS.path(ns, name, "eviction"), body)
        except NotFound:
            return None
        except TooManyRequests:
            EVICTIONS.labels("refused").inc()
            budget = self._budget(shoot, pod)
            log.info(
                "Eviction refused, will retry",
                extra={
                    "node": node_name,
                    "pod": f"{ns}/{name}",
                    "budget": budget["metadata"]["name"] if budget else "",
                },
            )
            if budget is not None and misconfigured(budget):
                return (
                    f'error while evicting pod "{name}": pod disruption budget {ns}/{budget["metadata"]["name"]} '
                    "is misconfigured and requires zero voluntary evictions"
                )
            return None
        except ApiError as exc:
            EVICTIONS.labels("failed").inc()
            return f'error when evicting pod "{name}": {exc} scheduled on node {node_name}'
        EVICTIONS.labels("evicted").inc()
        log.info("Evicted pod", extra={"node": node_name, "pod": f"{ns}/{name}"})
        return None

    @staticmethod
    def _delete_now(shoot: Kube, pod: Obj, node_name: str) -> str | None:
        """MCM's deletePod: a delete with grace period 0, past any disruption budget."""
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
        try:
            shoot.request("DELETE", PODS.path(ns, name), options)
        except NotFound:
            return None
        except ApiError as exc:
            EVICTIONS.labels("failed").inc()
            return f'error when evicting pod "{name}": {exc} scheduled on node {node_name}'
        EVICTIONS.labels("deleted").inc()
        log.info("Deleted pod without eviction", extra={"node": node_name, "pod": f"{ns}/{name}"})
        return None

    @staticmethod
    def _budget(shoot: Kube, pod: Obj) -> Obj | None:
        """The budget that refused the eviction, if the MCM may read budgets (first by name, as MCM picks one)."""
        ns, labels = pod["metadata"]["namespace"], pod["metadata"].get("labels") or {}
        try:
            budgets = shoot.list(PODDISRUPTIONBUDGETS.path(ns))
        except ApiError:
            return None  # budgets are for the message only: the MCM's shoot role may not grant reading them
        matching = sorted(
            (b for b in budgets if selects((b.get("spec") or {}).get("selector"), labels)),
            key=lambda b: str(b["metadata"]["name"]),
        )
        return matching[0] if matching else None

"""disruption-controller: the status of every PodDisruptionBudget, which the API server's pods/eviction reads.

For each budget: the pods its selector picks, how many of them are healthy (Ready, not being deleted, not just
evicted), how many must stay healthy (minAvailable, or the expected count less maxUnavailable, percentages taken
of the scale of the pods' controllers), and so how many disruptions are allowed now; the `DisruptionAllowed`
condition says the same. Pods the eviction API recorded in `status.disruptedPods` count as gone for two minutes
(upstream's DeletionTimeout); after that they are dropped from the map. When a budget cannot be computed its
status fails safe: no disruption allowed, condition reason SyncFailed. Pods left with a stale `DisruptionTarget`
condition (set, but the pod was never deleted) get it reset to False after two minutes. Everything follows
pkg/controller/disruption, events included (they come from the component `controllermanager`, as upstream's).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.hpa import NoKindMatch, RestMapper, parse_group_version
from gardener.kube_controller_manager.hpa_replicas import go_label_selector
from gardener.kube_controller_manager.objects import (
    condition,
    controller_ref,
    matches_selector,
    meta,
    now_rfc3339,
    parse_time,
    set_condition,
)
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError, Conflict, NotFound
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import DELETED, AsyncInformer
from gardener.runtime.kube import DEPLOYMENTS, PODDISRUPTIONBUDGETS, PODS, REPLICASETS, STATEFULSETS, Obj, Resource

__all__ = ["budget_numbers", "scaled_value", "setup"]

log = logging.getLogger("gardener.kube_controller_manager.disruption")

ACCOUNT = "disruption-controller"
REPLICATIONCONTROLLERS = Resource("", "v1", "replicationcontrollers", "ReplicationController")
#: how long a pod the eviction API disrupted is expected to take to be marked deleted (upstream: 2 minutes)
DELETION_TIMEOUT = 120.0
#: how long a DisruptionTarget condition may stay on a pod that is not being deleted (upstream: 2 minutes)
STALE_POD_DISRUPTION_TIMEOUT = 120.0


class BudgetError(Exception):
    """The budget's numbers cannot be computed; the message is what the SyncFailed condition says."""


def _go_quote(text: str) -> str:
    return json.dumps(text)


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BudgetError("invalid value for IntOrString: invalid type: neither int nor percentage")
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise BudgetError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        percent = int(value[:-1])
    except ValueError:
        raise BudgetError(
            f"invalid value for IntOrString: invalid value {_go_quote(value)}: strconv.Atoi: parsing "
            f"{_go_quote(value[:-1])}: invalid syntax"
        ) from None
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def _check_selector(selector: Mapping[str, Any] | None) -> None:
    """metav1.LabelSelectorAsSelector's refusals of an operator it does not know."""
    for expr in (selector or {}).get("matchExpressions") or []:
        op = str(expr.get("operator", ""))
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise BudgetError(f"{_go_quote(op)} is not a valid label selector operator")


def pod_ready(pod: Mapping[str, Any]) -> bool:
    ready = condition(pod, "Ready")
    return ready is not None and ready.get("status") == "True"


@dataclass(frozen=True)
class Numbers:
    expected: int
    desired: int
    unmanaged: tuple[str, ...] = ()


Scales = Mapping[str, tuple[str, int]]


def budget_numbers(pdb: Mapping[str, Any], pods: list[Obj], scales: Scales) -> Numbers:
    """upstream's getExpectedPodCount. `scales` maps the uid in a pod's controller reference to the uid and scale
    of the controller that counts (a Deployment for its ReplicaSets' pods); a pod whose controller was not found
    is missing from it, which is an error where a scale is needed."""
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        expected, unmanaged = _expected_scale(pods, scales)
        unavailable = scaled_value(spec["maxUnavailable"], expected, round_up=True)
        return Numbers(expected, max(expected - unavailable, 0), unmanaged)
    minimum = spec.get("minAvailable")
    if isinstance(minimum, int) and not isinstance(minimum, bool):
        return Numbers(len(pods), minimum)
    if isinstance(minimum, str):
        expected, unmanaged = _expected_scale(pods, scales)
        return Numbers(expected, scaled_value(minimum, expected, round_up=True), unmanaged)
    return Numbers(0, 0)


def _expected_scale(pods: list[Obj], scales: Scales) -> tuple[int, tuple[str, ...]]:
    counted: dict[str, int] = {}
    unmanaged = []
    for pod in pods:
        ref = controller_ref(pod)
        if ref is None:
            unmanaged.append(str(meta(pod).get("name") or ""))
            continue
        found = scales.get(str(ref.get("uid") or ""))
        if found is None:
            raise BudgetError(f"found no controllers for pod {_go_quote(str(meta(pod).get('name') or ''))}")
        counted[found[0]] = found[1]
    return sum(counted.values()), tuple(unmanaged)


def _group_of(ref: Mapping[str, Any]) -> str:
    try:
        return parse_group_version(str(ref.get("apiVersion") or ""))[0]
    except ValueError as exc:
        raise BudgetError(str(exc)) from None


class DisruptionController:
    def __init__(self, *, ctx: ControllerContext, client: AsyncKube, recorder: EventRecorder) -> None:
        self.ctx = ctx
        self.client = client
        self.recorder = recorder
        self.pdbs: AsyncInformer = ctx.informer(PODDISRUPTIONBUDGETS)
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.rcs: AsyncInformer = ctx.informer(REPLICATIONCONTROLLERS)
        self.rss: AsyncInformer = ctx.informer(REPLICASETS)
        self.deployments: AsyncInformer = ctx.informer(DEPLOYMENTS)
        self.statefulsets: AsyncInformer = ctx.informer(STATEFULSETS)
        self.mapper = RestMapper(client, clock=ctx.clock)
        self.controller: AsyncController[tuple[str, str]] = AsyncController(
            "disruption-controller", self.reconcile, workers=ctx.options.workers
        )
        self.stale: AsyncController[tuple[str, str]] = AsyncController(
            "disruption-controller-stale-pods", self.reset_stale_condition, workers=1
        )

    # ---- handlers ----

    def on_pdb(self, kind: str, pdb: Obj) -> None:
        self.controller.add((str(meta(pdb).get("namespace") or ""), str(meta(pdb).get("name") or "")))

    def on_pod(self, kind: str, pod: Obj) -> None:
        namespace, name = str(meta(pod).get("namespace") or ""), str(meta(pod).get("name") or "")
        budgets = self._budgets_for(pod)
        if len(budgets) > 1:
            chosen = str(meta(budgets[0]).get("name") or "")
            message = (
                f"Pod {_go_quote(namespace)}/{_go_quote(name)} matches multiple PodDisruptionBudgets.  "
                f"Chose {_go_quote(chosen)} arbitrarily."
            )
            self.recorder.emit(pod, WARNING, "MultiplePodDisruptionBudgets", message)
        for budget in budgets:
            self.controller.add((namespace, str(meta(budget).get("name") or "")))
        if kind != DELETED:
            wait = self._stale_condition_wait(pod)
            if wait is not None:
                self.stale.add_after((namespace, name), wait)

    def _budgets_for(self, pod: Mapping[str, Any]) -> list[Obj]:
        labels = meta(pod).get("labels") or {}
        if not labels:
            return []
        namespace = str(meta(pod).get("namespace") or "")
        found = [
            b for b in self.pdbs.items(namespace) if matches_selector(labels, (b.get("spec") or {}).get("selector"))
        ]
        return sorted(found, key=lambda b: str(meta(b).get("name") or ""))

    # ---- budgets ----

    async def reconcile(self, key: tuple[str, str]) -> Result | None:
        pdb = self.pdbs.get(*key)
        if pdb is None:
            return None
        try:
            recheck = await self._try_sync(pdb)
        except Conflict:
            raise
        except (BudgetError, NoKindMatch, ApiError) as exc:
            log.warning("Budget not computed", extra={"pdb": "/".join(key), "error": str(exc)[:300]})
            # as upstream: once the fail-safe status is written, the next change of a pod or the budget retries
            await self._fail_safe(pdb, str(exc.message if isinstance(exc, ApiError) else exc))
            return None
        return Result(requeue_after=recheck) if recheck is not None else None

    async def _try_sync(self, pdb: Obj) -> float | None:
        spec = pdb.get("spec") or {}
        namespace = str(meta(pdb).get("namespace") or "")
        selector = spec.get("selector")
        try:
            _check_selector(selector)
        except BudgetError as exc:
            self.recorder.emit(pdb, WARNING, "NoPods", f"Failed to get pods: {exc}")
            raise
        pods = sorted(
            (p for p in self.pods.items(namespace) if matches_selector(meta(p).get("labels") or {}, selector)),
            key=lambda p: str(meta(p).get("name") or ""),
        )
        if not pods:
            self.recorder.emit(pdb, NORMAL, "NoPods", "No matching pods found")
        try:
            scales = await self._scales(pods, namespace) if _needs_scale(spec) else {}
            numbers = budget_numbers(pdb, pods, scales)
        except (BudgetError, NoKindMatch, ApiError) as exc:
            text = exc.message if isinstance(exc, ApiError) else str(exc)
            self.recorder.emit(
                pdb,
                WARNING,
                "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {text}",
            )
            raise
        if numbers.unmanaged:
            self.recorder.emit(
                pdb,
                WARNING,
                "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {go_label_selector(selector)}) were found to "
                "be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result "
                'in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB '
                "to an integer value.",
            )
        now = self.ctx.clock()
        disrupted, recheck = self._disrupted_pods(pdb, pods, now)
        healthy = sum(
            1
            for p in pods
            if not meta(p).get("deletionTimestamp") and not _recently_disrupted(disrupted, p, now) and pod_ready(p)
        )
        await self._update_status(pdb, healthy, numbers, disrupted)
        return None if recheck is None else max(recheck - now, 0.0)

    def _disrupted_pods(self, pdb: Obj, pods: list[Obj], now: float) -> tuple[dict[str, str], float | None]:
        """upstream's buildDisruptedPodMap: entries of live pods not yet overdue, and when to look again."""
        recorded = (pdb.get("status") or {}).get("disruptedPods") or {}
        kept: dict[str, str] = {}
        recheck: float | None = None
        for pod in pods:
            name = str(meta(pod).get("name") or "")
            if meta(pod).get("deletionTimestamp") or name not in recorded:
                continue
            since = parse_time(recorded[name])
            expected = (since or 0.0) + DELETION_TIMEOUT
            if expected < now:
                namespace = str(meta(pdb).get("namespace") or "")
                # upstream names the budget by its namespace twice
                self.recorder.emit(
                    pod,
                    WARNING,
                    "NotDeleted",
                    f"Pod was expected by PDB {namespace}/{namespace} to be deleted but it wasn't",
                )
            else:
                recheck = expected if recheck is None else min(recheck, expected)
                kept[name] = str(recorded[name])
        return kept, recheck

    async def _scales(self, pods: list[Obj], namespace: str) -> dict[str, tuple[str, int]]:
        """The controller that counts for each pod's controller reference, with its scale (upstream's finders,
        in their order)."""
        scales: dict[str, tuple[str, int]] = {}
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None or str(ref.get("uid") or "") in scales:
                continue
            found = await self._controller_scale(ref, namespace)
            if found is not None:
                scales[str(ref.get("uid") or "")] = found
        return scales

    async def _controller_scale(self, ref: Mapping[str, Any], namespace: str) -> tuple[str, int] | None:
        """upstream's finders in their order: the typed ones read the informers, the last asks the scale
        subresource of whatever the reference names (also when a typed finder found nothing in its cache)."""
        found = self._typed_scale(ref, namespace)
        if found is not None:
            return found
        return await self._scale_subresource(_group_of(ref), ref, namespace)

    def _typed_scale(self, ref: Mapping[str, Any], namespace: str) -> tuple[str, int] | None:
        group, kind, name, uid = _group_of(ref), ref.get("kind"), str(ref.get("name") or ""), ref.get("uid")
        if kind == "ReplicationController" and group == "":
            return _owned(self.rcs.get(namespace, name), uid)
        if kind == "ReplicaSet" and group in ("apps", "extensions"):
            rs = self.rss.get(namespace, name)
            if rs is None or meta(rs).get("uid") != uid:
                return None
            owner = controller_ref(rs)
            if owner is None or owner.get("kind") != "Deployment":
                return _owned(rs, uid)
            if _group_of(owner) not in ("apps", "extensions"):
                return None
            return _owned(self.deployments.get(namespace, str(owner.get("name") or "")), owner.get("uid"))
        if kind == "StatefulSet" and group == "apps":
            return _owned(self.statefulsets.get(namespace, name), uid)
        return None

    async def _scale_subresource(self, group: str, ref: Mapping[str, Any], namespace: str) -> tuple[str, int] | None:
        _, version = parse_group_version(str(ref.get("apiVersion") or ""))
        target = await self.mapper.mapping(group, version, str(ref.get("kind") or ""))
        try:
            scale = await self.client.request("GET", target.path(namespace, str(ref.get("name") or ""), "scale"))
        except NotFound:
            if not await self.mapper.implements_scale(target):
                raise BudgetError(f"{target.group_resource} does not implement the scale subresource") from None
            return None
        if meta(scale).get("uid") != ref.get("uid"):
            return None
        return str(ref.get("uid")), int((scale.get("spec") or {}).get("replicas") or 0)

    async def _update_status(self, pdb: Obj, healthy: int, numbers: Numbers, disrupted: dict[str, str]) -> None:
        allowed = healthy - numbers.desired
        if numbers.expected <= 0 or allowed <= 0:
            allowed = 0
        status = pdb.get("status") or {}
        generation = int(meta(pdb).get("generation") or 0)
        if (
            status.get("currentHealthy", 0) == healthy
            and status.get("desiredHealthy", 0) == numbers.desired
            and status.get("expectedPods", 0) == numbers.expected
            and status.get("disruptionsAllowed", 0) == allowed
            and (status.get("disruptedPods") or {}) == disrupted
            and status.get("observedGeneration", 0) == generation
            and _conditions_up_to_date(status, generation)
        ):
            return
        new: Obj = {
            "currentHealthy": healthy,
            "desiredHealthy": numbers.desired,
            "expectedPods": numbers.expected,
            "disruptionsAllowed": allowed,
            "observedGeneration": generation,
        }
        if disrupted:
            new["disruptedPods"] = disrupted
        conditions = [dict(c) for c in status.get("conditions") or [] if isinstance(c, dict)]
        if allowed > 0:
            new["conditions"] = _set_condition(conditions, "True", "SufficientPods", "", generation)
        else:
            new["conditions"] = _set_condition(conditions, "False", "InsufficientPods", "", generation)
        await self._write(pdb, new)

    async def _fail_safe(self, pdb: Obj, message: str) -> None:
        """Whatever failed, the eviction API must not allow a disruption on a stale count."""
        status = dict(pdb.get("status") or {})
        status["disruptionsAllowed"] = 0
        conditions = [dict(c) for c in status.get("conditions") or [] if isinstance(c, dict)]
        observed = int(status.get("observedGeneration") or 0)
        status["conditions"] = _set_condition(conditions, "False", "SyncFailed", message, observed)
        await self._write(pdb, status)

    async def _write(self, pdb: Obj, status: Obj) -> None:
        m = meta(pdb)
        path = PODDISRUPTIONBUDGETS.path(str(m.get("namespace") or ""), str(m.get("name") or ""), "status")
        await self.client.replace(path, {**pdb, "status": status})

    # ---- stale DisruptionTarget conditions ----

    def _stale_condition_wait(self, pod: Mapping[str, Any]) -> float | None:
        """Seconds until a pod's DisruptionTarget condition turns stale, None when it has none to clean up."""
        if meta(pod).get("deletionTimestamp"):
            return None
        target = condition(pod, "DisruptionTarget")
        phase = (pod.get("status") or {}).get("phase")
        if (
            target is None
            or target.get("status") != "True"
            or target.get("reason") == "TerminationByKubelet"
            or phase in ("Succeeded", "Failed")
        ):
            return None
        since = parse_time(target.get("lastTransitionTime")) or 0.0
        return max(STALE_POD_DISRUPTION_TIMEOUT - (self.ctx.clock() - since), 0.0)

    async def reset_stale_condition(self, key: tuple[str, str]) -> Result | None:
        pod = self.pods.get(*key)
        if pod is None:
            return None
        wait = self._stale_condition_wait(pod)
        if wait is None:
            return None
        if wait > 0:
            return Result(requeue_after=wait)
        status = dict(pod.get("status") or {})
        conditions = [dict(c) for c in status.get("conditions") or [] if isinstance(c, dict)]
        now = now_rfc3339()
        status["conditions"] = [
            {"type": "DisruptionTarget", "status": "False", "lastProbeTime": None, "lastTransitionTime": now}
            if c.get("type") == "DisruptionTarget"
            else c
            for c in conditions
        ]
        await self.client.replace(PODS.path(key[0], key[1], "status"), {**pod, "status": status})
        log.info("Stale DisruptionTarget condition reset", extra={"pod": "/".join(key)})
        return None


def _needs_scale(spec: Mapping[str, Any]) -> bool:
    return spec.get("maxUnavailable") is not None or isinstance(spec.get("minAvailable"), str)


def _owned(obj: Mapping[str, Any] | None, uid: Any) -> tuple[str, int] | None:
    if obj is None or meta(obj).get("uid") != uid:
        return None
    replicas = (obj.get("spec") or {}).get("replicas")
    return str(uid), int(1 if replicas is None else replicas)


def _recently_disrupted(disrupted: Mapping[str, str], pod: Mapping[str, Any], now: float) -> bool:
    since = disrupted.get(str(meta(pod).get("name") or ""))
    return since is not None and (parse_time(since) or 0.0) + DELETION_TIMEOUT > now


def _conditions_up_to_date(status: Mapping[str, Any], generation: int) -> bool:
    """upstream's pdbhelper.ConditionsAreUpToDate."""
    current = next((c for c in status.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
    if current is None or status.get("observedGeneration", 0) != generation:
        return False
    if status.get("disruptionsAllowed", 0) > 0:
        return bool(current.get("status") == "True" and current.get("reason") == "SufficientPods")
    return bool(current.get("status") == "False" and current.get("reason") == "InsufficientPods")


def _set_condition(conditions: list[Obj], status: str, reason: str, message: str, generation: int) -> list[Obj]:
    """apimachinery's meta.SetStatusCondition for DisruptionAllowed: the transition time moves with the status."""
    return set_condition(
        conditions, "DisruptionAllowed", status, reason=reason, message=message, observedGeneration=generation
    )


class _Recorded:
    """The controllers and the event recorder as one startable: pending events are posted before stopping."""

    def __init__(self, parts: list[AsyncController[tuple[str, str]]], recorder: EventRecorder) -> None:
        self.parts = parts
        self.recorder = recorder

    def start(self) -> None:
        for part in self.parts:
            part.start()

    async def stop(self) -> None:
        for part in self.parts:
            await part.stop()
        await self.recorder.flush()


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    # upstream's disruption controller reports as the component "controllermanager"
    recorder = await ctx.recorder_for(ACCOUNT, component="controllermanager")
    budgets = DisruptionController(ctx=ctx, client=client, recorder=recorder)
    budgets.pdbs.add_handler(budgets.on_pdb)
    budgets.pods.add_handler(budgets.on_pod)
    return [_Recorded([budgets.controller, budgets.stale], recorder)]

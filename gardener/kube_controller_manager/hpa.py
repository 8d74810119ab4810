"""horizontal-pod-autoscaler-controller: every `--horizontal-pod-autoscaler-sync-period`, bring each autoscaling/v2
HorizontalPodAutoscaler's target to the replica count its metrics ask for, within minReplicas..maxReplicas.

The target is read and resized through its `scale` subresource (found by kind through discovery, as upstream's
REST mapper does), so any kind with a scale subresource works. Resource metrics come from the resource metrics
API (`metrics.k8s.io/v1beta1` PodMetrics); where no metrics-server serves it, the HPA says so as upstream does
(ScalingActive False, FailedGetResourceMetric) and still keeps the target within its bounds. Conditions, events
and their messages are upstream's word for word; the replica arithmetic (tolerance, unready and missing pods,
stabilization, scaling policies) lives in `hpa_replicas`. `RestMapper` also serves the disruption controller,
which reads the scale of pods' controllers the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gardener.kube_controller_manager import objects
from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.hpa_replicas import (
    Failed,
    PodMetric,
    ReplicaCalculator,
    ScalingMemory,
    Selector,
    go_label_selector,
    milli,
    milli_text,
    normalize,
    parse_selector,
)
from gardener.kube_controller_manager.objects import meta, now_rfc3339
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError, NotFound
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import DELETED, AsyncInformer
from gardener.runtime.kube import HORIZONTALPODAUTOSCALERS, PODS, Obj

__all__ = ["NoKindMatch", "RestMapper", "ScaleTarget", "setup"]

log = logging.getLogger("gardener.kube_controller_manager.hpa")

ACCOUNT = "horizontal-pod-autoscaler"
#: discovery answers are trusted this long before a miss asks again
DISCOVERY_TTL = 30.0
#: what kube's REST client says of a resource the server does not serve (its body is not a Status)
_NOT_FOUND = "the server could not find the requested resource (get {resource})"


class NoKindMatch(Exception):
    pass


@dataclass(frozen=True)
class ScaleTarget:
    """Where one kind's objects live: the URL parts a scale subresource is reached by."""

    group: str
    version: str
    plural: str

    def path(self, namespace: str, name: str, subresource: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        tail = f"/{subresource}" if subresource else ""
        return f"{base}/namespaces/{namespace}/{self.plural}/{name}{tail}"

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


class RestMapper:
    """Kinds to resources through discovery, preferred version first, like client-go's deferred REST mapper."""

    def __init__(self, client: AsyncKube, *, clock: Any) -> None:
        self.client = client
        self.clock = clock
        self._cache: dict[str, tuple[float, Any]] = {}

    async def _get(self, path: str, *, fresh: bool = False) -> Any:
        cached = self._cache.get(path)
        if cached is not None and not fresh and self.clock() - cached[0] < DISCOVERY_TTL:
            return cached[1]
        try:
            doc = await self.client.request("GET", path) or {}
        except NotFound:
            doc = {}
        self._cache[path] = (self.clock(), doc)
        return doc

    async def _versions(self, group: str, *, fresh: bool) -> list[str]:
        if not group:
            return ["v1"]
        doc = await self._get(f"/apis/{group}", fresh=fresh)
        preferred = str((doc.get("preferredVersion") or {}).get("version") or "")
        versions = [str(v.get("version")) for v in doc.get("versions") or [] if v.get("version")]
        return sorted(versions, key=lambda v: v != preferred)

    async def _resources(self, group: str, version: str, *, fresh: bool) -> list[Mapping[str, Any]]:
        doc = await self._get(f"/apis/{group}/{version}" if group else f"/api/{version}", fresh=fresh)
        return list(doc.get("resources") or [])

    async def mappings(self, group: str, kind: str) -> list[ScaleTarget]:
        """Every version of the group serving `kind`, preferred first; NoKindMatch when none does."""
        for fresh in (False, True):
            found = []
            for version in await self._versions(group, fresh=fresh):
                for res in await self._resources(group, version, fresh=fresh):
                    if res.get("kind") == kind and "/" not in str(res.get("name", "")):
                        found.append(ScaleTarget(group, version, str(res["name"])))
            if found:
                return found
        raise NoKindMatch(f'no matches for kind "{kind}" in group "{group}"')

    async def mapping(self, group: str, version: str, kind: str) -> ScaleTarget:
        for fresh in (False, True):
            for res in await self._resources(group, version, fresh=fresh):
                if res.get("kind") == kind and "/" not in str(res.get("name", "")):
                    return ScaleTarget(group, version, str(res["name"]))
        gv = f"{group}/{version}" if group else version
        raise NoKindMatch(f'no matches for kind "{kind}" in version "{gv}"')

    async def implements_scale(self, target: ScaleTarget) -> bool:
        for res in await self._resources(target.group, target.version, fresh=True):
            if res.get("name") == f"{target.plural}/scale" and res.get("kind") == "Scale":
                return (res.get("group"), res.get("version")) in (("autoscaling", "v1"), (None, None))
        return False


def parse_group_version(api_version: str) -> tuple[str, str]:
    """apimachinery's ParseGroupVersion."""
    if not api_version or api_version == "/":
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"unexpected GroupVersion string: {api_version}")


def set_condition(hpa: Obj, kind: str, status: str, reason: str, message: str) -> None:
    """upstream's setConditionInList: the transition time moves only with the status."""
    status_doc = hpa.setdefault("status", {})
    status_doc["conditions"] = objects.set_condition(
        list(status_doc.get("conditions") or []), kind, status, reason=reason, message=message
    )


class HorizontalController:
    def __init__(self, *, ctx: ControllerContext, client: AsyncKube, recorder: EventRecorder) -> None:
        self.ctx = ctx
        self.client = client
        self.recorder = recorder
        self.period = ctx.options.hpa_sync_period
        self.hpas: AsyncInformer = ctx.informer(HORIZONTALPODAUTOSCALERS)
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.mapper = RestMapper(client, clock=ctx.clock)
        self.calculator = ReplicaCalculator(clock=ctx.clock)
        self.memory: dict[tuple[str, str], ScalingMemory] = {}
        self.controller: AsyncController[tuple[str, str]] = AsyncController(
            "horizontal-pod-autoscaler", self.reconcile, workers=ctx.options.workers
        )

    def on_hpa(self, kind: str, hpa: Obj) -> None:
        key = (str(meta(hpa).get("namespace") or ""), str(meta(hpa).get("name") or ""))
        if kind == DELETED:
            self.controller.queue.discard(key)
            self.memory.pop(key, None)
            return
        self.memory.setdefault(key, ScalingMemory())
        # upstream's queue hands every HPA out one sync period after it was added, new ones included
        self.controller.add_after(key, self.period)

    def _event(self, hpa: Obj, type_: str, reason: str, message: str) -> None:
        self.recorder.emit(hpa, type_, reason, message)

    async def reconcile(self, key: tuple[str, str]) -> Result | None:
        cached = self.hpas.get(*key)
        if cached is None:
            self.memory.pop(key, None)
            return None
        hpa: Obj = {**cached, "status": _copy(cached.get("status") or {})}
        try:
            await self._reconcile(key, hpa, _copy(cached.get("status") or {}))
        except (ApiError, Failed, NoKindMatch, ValueError) as exc:
            log.warning("Autoscaler not reconciled", extra={"hpa": "/".join(key), "error": str(exc)[:300]})
        return Result(requeue_after=self.period)

    async def _reconcile(self, key: tuple[str, str], hpa: Obj, original: Obj) -> None:
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        namespace = key[0]
        reference = f"{ref.get('kind', '')}/{namespace}/{ref.get('name', '')}"
        try:
            group, _ = parse_group_version(str(ref.get("apiVersion") or ""))
            mappings = await self.mapper.mappings(group, str(ref.get("kind") or ""))
            scale, target = await self._scale(namespace, str(ref.get("name") or ""), mappings)
        except (ValueError, NoKindMatch, ApiError) as exc:
            message = _error_text(exc)
            self._event(hpa, WARNING, "FailedGetScale", message)
            set_condition(
                hpa,
                "AbleToScale",
                "False",
                "FailedGetScale",
                f"the HPA controller was unable to get the target's current scale: {message}",
            )
            await self._update_status(hpa, original)
            raise Failed(f"failed to query scale subresource for {reference}: {message}") from exc
        set_condition(
            hpa,
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        memory = self.memory.setdefault(key, ScalingMemory())
        if not memory.recommendations:
            memory.recommendations.append((current, self.ctx.clock()))
        minimum = int(spec["minReplicas"]) if spec.get("minReplicas") is not None else 1
        maximum = int(spec.get("maxReplicas") or 0)
        statuses: list[Obj] | None = None
        reason = ""
        rescale = True
        if current == 0 and minimum != 0:
            desired, rescale = 0, False
            set_condition(
                hpa,
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            )
        elif current > maximum:
            desired, reason = maximum, "Current number of replicas above Spec.MaxReplicas"
        elif current < minimum:
            desired, reason = minimum, "Current number of replicas below Spec.MinReplicas"
        else:
            proposal, metric, statuses, error = await self._metrics_replicas(key, hpa, scale)
            if error is not None and proposal == -1:
                self._set_status(hpa, current, int(hpa["status"].get("desiredReplicas") or 0), statuses, False)
                await self._update_status(hpa, original)
                self._event(hpa, WARNING, "FailedComputeMetricsReplicas", error)
                raise Failed(
                    f"failed to compute desired number of replicas based on listed metrics for {reference}: {error}"
                )
            desired, rescale_metric = 0, ""
            if proposal > desired:
                desired, rescale_metric = proposal, metric
            if desired > current:
                reason = f"{rescale_metric} above target"
            if desired < current:
                reason = "All metrics below target"
            desired, conditions = normalize(
                spec,
                memory=memory,
                current=current,
                desired=desired,
                minimum=minimum,
                now=self.ctx.clock(),
            )
            for condition in conditions:
                set_condition(hpa, *condition)
            rescale = desired != current
        if rescale:
            try:
                await self.client.replace(
                    target.path(namespace, str(ref.get("name") or ""), "scale"), _resized(scale, desired)
                )
            except ApiError as exc:
                message = _error_text(exc)
                self._event(hpa, WARNING, "FailedRescale", f"New size: {desired}; reason: {reason}; error: {message}")
                set_condition(
                    hpa,
                    "AbleToScale",
                    "False",
                    "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {message}",
                )
                self._set_status(hpa, current, int(hpa["status"].get("desiredReplicas") or 0), statuses, False)
                await self._update_status(hpa, original)
                raise Failed(f"failed to rescale {reference}: {message}") from exc
            set_condition(
                hpa,
                "AbleToScale",
                "True",
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
            )
            self._event(hpa, NORMAL, "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            if spec.get("behavior") is not None:
                (memory.scale_up if desired > current else memory.scale_down).append(
                    (abs(desired - current), self.ctx.clock())
                )
            log.info(
                "Target rescaled",
                extra={"hpa": "/".join(key), "current": current, "desired": desired, "reason": reason},
            )
        else:
            desired = current
        self._set_status(hpa, current, desired, statuses, rescale)
        await self._update_status(hpa, original)

    async def _scale(self, namespace: str, name: str, mappings: list[ScaleTarget]) -> tuple[Obj, ScaleTarget]:
        first: ApiError | None = None
        for target in mappings:
            try:
                scale: Obj = await self.client.request("GET", target.path(namespace, name, "scale"))
                return scale, target
            except ApiError as exc:
                first = first or exc
        raise first or ValueError("unrecognized resource")

    def _set_status(self, hpa: Obj, current: int, desired: int, statuses: list[Obj] | None, rescale: bool) -> None:
        old = hpa.get("status") or {}
        status: Obj = {"desiredReplicas": desired}
        if current:
            status["currentReplicas"] = current
        last = now_rfc3339() if rescale else old.get("lastScaleTime")
        if last:
            status["lastScaleTime"] = last
        if statuses:
            status["currentMetrics"] = statuses
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        hpa["status"] = status

    async def _update_status(self, hpa: Obj, original: Obj) -> None:
        if hpa.get("status") == original:
            return
        m = meta(hpa)
        path = HORIZONTALPODAUTOSCALERS.path(str(m.get("namespace") or ""), str(m.get("name") or ""), "status")
        try:
            await self.client.replace(path, hpa)
        except ApiError as exc:
            self._event(hpa, WARNING, "FailedUpdateStatus", _error_text(exc))
            raise

    # ---- metrics ----

    async def _metrics_replicas(
        self, key: tuple[str, str], hpa: Obj, scale: Obj
    ) -> tuple[int, str, list[Obj] | None, str | None]:
        """(replicas, metric, statuses, error) as upstream's computeReplicasForMetrics: -1 when nothing works."""
        try:
            selector = self._selector(key, hpa, str((scale.get("status") or {}).get("selector") or ""))
        except Failed as exc:
            return -1, "", None, str(exc)
        spec_replicas = int((scale.get("spec") or {}).get("replicas") or 0)
        specs = list((hpa.get("spec") or {}).get("metrics") or [])
        statuses: list[Obj] = [{"type": ""} for _ in specs]
        replicas, metric = 0, ""
        invalid, first_error, first_condition = 0, "", None
        for index, metric_spec in enumerate(specs):
            try:
                proposal, name, status = await self._metric_replicas(hpa, metric_spec, spec_replicas, selector)
            except Failed as exc:
                if invalid == 0:
                    first_error, first_condition = str(exc), exc.condition
                invalid += 1
                continue
            statuses[index] = status
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        error = (
            f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first_error}"
            if invalid
            else None
        )
        if invalid >= len(specs) or (invalid > 0 and replicas < spec_replicas):
            if first_condition is not None:
                set_condition(hpa, "ScalingActive", *first_condition)
            return -1, "", statuses, error
        set_condition(
            hpa,
            "ScalingActive",
            "True",
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {metric}",
        )
        return replicas, metric, statuses, error

    def _selector(self, key: tuple[str, str], hpa: Obj, text: str) -> Selector:
        if not text:
            self._event(hpa, WARNING, "SelectorRequired", "selector is required")
            set_condition(
                hpa, "ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector"
            )
            raise Failed("selector is required")
        try:
            selector = parse_selector(text)
        except ValueError as exc:
            message = f"couldn't convert selector into a corresponding internal selector object: {exc}"
            self._event(hpa, WARNING, "InvalidSelector", message)
            set_condition(hpa, "ScalingActive", "False", "InvalidSelector", message)
            raise Failed(message) from exc
        self.memory.setdefault(key, ScalingMemory()).selector = selector
        pods = [p for p in self.pods.items(key[0]) if selector.matches(meta(p).get("labels") or {})]
        owners = sorted(
            f"{other[0]}/{other[1]}"
            for other, memory in self.memory.items()
            if other[0] == key[0]
            and memory.selector is not None
            and any(memory.selector.matches(meta(p).get("labels") or {}) for p in pods)
        )
        if len(owners) > 1:
            message = f"pods by selector {text} are controlled by multiple HPAs: [{' '.join(owners)}]"
            self._event(hpa, WARNING, "AmbiguousSelector", message)
            set_condition(hpa, "ScalingActive", "False", "AmbiguousSelector", message)
            raise Failed(message)
        return selector

    def _unable(self, hpa: Obj, reason: str, error: str) -> tuple[str, str, str]:
        """upstream's getUnableComputeReplicaCountCondition: a Warning event and the ScalingActive condition."""
        self._event(hpa, WARNING, reason, error)
        return "False", reason, f"the HPA was unable to compute the replica count: {error}"

    async def _metric_replicas(
        self, hpa: Obj, metric_spec: Mapping[str, Any], replicas: int, selector: Selector
    ) -> tuple[int, str, Obj]:
        kind = str(metric_spec.get("type") or "")
        namespace = str(meta(hpa).get("namespace") or "")
        if kind in ("Resource", "ContainerResource"):
            source = metric_spec.get("resource" if kind == "Resource" else "containerResource") or {}
            resource, container = str(source.get("name") or ""), str(source.get("container") or "")
            reason = "FailedGetResourceMetric" if kind == "Resource" else "FailedGetContainerResourceMetric"
            try:
                proposal, name, current = await self._resource_replicas(
                    namespace, replicas, source.get("target") or {}, resource, container, selector, kind
                )
            except Failed as exc:
                wrap = f"{resource} resource" if kind == "Resource" else f"{container} container"
                raise Failed(f"failed to get {wrap} metric value: {exc}", self._unable(hpa, reason, str(exc))) from exc
            status_key = "resource" if kind == "Resource" else "containerResource"
            status: Obj = {"name": resource, "current": current}
            if container:
                status["container"] = container
            return proposal, name, {"type": kind, status_key: status}
        if kind in ("Pods", "Object", "External"):
            reason, inner, returned, wrapped = self._custom_metric_errors(kind, metric_spec, namespace)
            raise Failed(wrapped.format(returned), self._unable(hpa, reason, inner))
        error = f'unknown metric source type "{kind}"'
        raise Failed(error, self._unable(hpa, "InvalidMetricSourceType", error))

    @staticmethod
    def _custom_metric_errors(kind: str, metric_spec: Mapping[str, Any], namespace: str) -> tuple[str, str, str, str]:
        """Why a custom or external metric gives no count here (no custom or external metrics API is served):
        (reason, the condition's error, the error returned, how computeReplicasForMetric wraps it)."""
        source = metric_spec.get(kind.lower()) or {}
        metric = source.get("metric") or {}
        name = str(metric.get("name") or "")
        target = source.get("target") or {}
        if kind == "External":
            selector = go_label_selector(metric.get("selector"))
            api = _NOT_FOUND.format(resource=f"{name}.external.metrics.k8s.io")
            inner = (
                f"unable to get external metric {namespace}/{name}/{selector}: "
                f"unable to fetch metrics from external metrics API: {api}"
            )
            if target.get("averageValue") is not None:
                returned = f"failed to get {name} external metric: {inner}"
            else:
                returned = f"failed to get external metric {name}: {inner}"
            return "FailedGetExternalMetric", inner, returned, f"failed to get {name} external metric value: {{}}"
        cause = (
            "unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"
        )
        if kind == "Pods":
            inner = f"unable to get metric {name}: {cause}"
            return "FailedGetPodsMetric", inner, inner, "failed to get pods metric value: {}"
        described = source.get("describedObject") or {}
        if target.get("type") == "AverageValue":
            inner = f"unable to get metric {name}: {cause}"
            returned = f"failed to get {name} object metric: {inner}"
        else:
            # upstream's message puts its arguments in this order
            on = f"{described.get('kind', '')} on {namespace} {described.get('name', '')}"
            inner = f"unable to get metric {name}: {on}/{cause}"
            returned = inner
        return "FailedGetObjectMetric", inner, returned, "failed to get object metric value: {}"

    async def _resource_replicas(
        self,
        namespace: str,
        replicas: int,
        target: Mapping[str, Any],
        resource: str,
        container: str,
        selector: Selector,
        kind: str,
    ) -> tuple[int, str, Obj]:
        pods = [p for p in self.pods.items(namespace) if selector.matches(meta(p).get("labels") or {})]
        if target.get("averageValue") is not None:
            try:
                metrics = await self._pod_metrics(namespace, resource, container, selector)
                proposal, usage = self.calculator.plain_replicas(
                    metrics, pods, replicas, milli(target["averageValue"]), resource
                )
            except Failed as exc:
                raise Failed(f"failed to get {resource} usage: {exc}") from exc
            return proposal, f"{resource} resource", {"averageValue": milli_text(usage)}
        if target.get("averageUtilization") is None:
            raise Failed(
                "invalid resource metric source: neither an average utilization target nor an average value (usage) "
                "target was set"
            )
        try:
            metrics = await self._pod_metrics(namespace, resource, container, selector)
            proposal, utilization, raw = self.calculator.resource_replicas(
                metrics, pods, replicas, int(target["averageUtilization"]), resource, container
            )
        except Failed as exc:
            raise Failed(f"failed to get {resource} utilization: {exc}") from exc
        what = "container resource" if kind == "ContainerResource" else "resource"
        name = f"{resource} {what} utilization (percentage of request)"
        return proposal, name, {"averageUtilization": utilization, "averageValue": milli_text(raw)}

    async def _pod_metrics(
        self, namespace: str, resource: str, container: str, selector: Selector
    ) -> dict[str, PodMetric]:
        path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
        try:
            doc = await self.client.request("GET", path, params={"labelSelector": selector.text}) or {}
        except ApiError as exc:
            cause = _NOT_FOUND.format(resource="pods.metrics.k8s.io") if exc.status == 404 else _error_text(exc)
            raise Failed(
                f"unable to get metrics for resource {resource}: unable to fetch metrics from resource metrics API: "
                f"{cause}"
            ) from exc
        items = list(doc.get("items") or [])
        if not items:
            raise Failed(
                f"unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
            )
        return self.calculator.pod_metrics(items, resource, container)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _resized(scale: Obj, replicas: int) -> Obj:
    return {**scale, "spec": {**(scale.get("spec") or {}), "replicas": replicas}}


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return exc.message or str(exc)
    return str(exc)


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    recorder = await ctx.recorder_for(ACCOUNT)
    hpas = HorizontalController(ctx=ctx, client=client, recorder=recorder)
    hpas.hpas.add_handler(hpas.on_hpa)
    return [hpas.controller]

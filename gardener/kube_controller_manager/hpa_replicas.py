"""The arithmetic of the horizontal-pod-autoscaler-controller, apart from its API calls: label selectors in their
string form (a scale's `status.selector`), upstream's replica calculator (tolerance, unready, missing and ignored
pods) and the normalization of a proposal (stabilization windows, min/max bounds, scaling policies) with the
conditions that explain it. Pure functions over plain objects, so every rule is testable without a server.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gardener.kube_controller_manager.objects import condition, meta, parse_time
from gardener.kube_controller_manager.resourcequota import Quantity, quantity
from gardener.runtime.kube import Obj

__all__ = [
    "Failed",
    "PodMetric",
    "ReplicaCalculator",
    "ScalingMemory",
    "Selector",
    "go_label_selector",
    "milli",
    "milli_text",
    "normalize",
    "parse_selector",
]


def milli(value: Any) -> int:
    """Quantity.MilliValue(): thousandths, rounded up."""
    return math.ceil(quantity(value).value * 1000)


def milli_text(value: int) -> str:
    """resource.NewMilliQuantity(value, DecimalSI).String()."""
    return str(Quantity(Decimal(value) / 1000))


class Failed(Exception):
    """A metric (or the selector) cannot give a replica count; the condition says why on the HPA."""

    def __init__(self, message: str, condition: tuple[str, str, str] | None = None) -> None:
        super().__init__(message)
        self.condition = condition


@dataclass
class ScalingMemory:
    """What upstream keeps per HPA between syncs: recommendations and recent scale events."""

    recommendations: list[tuple[int, float]] = field(default_factory=list)
    scale_up: list[tuple[int, float]] = field(default_factory=list)
    scale_down: list[tuple[int, float]] = field(default_factory=list)
    selector: Selector | None = None


# ---- label selectors in their string form (a scale's status.selector) ----


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        if self.operator in ("=", "==", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in (">", "<") and present and value.lstrip("-").isdigit():
            limit = int(self.values[0])
            return int(value) > limit if self.operator == ">" else int(value) < limit
        return False


@dataclass(frozen=True)
class Selector:
    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


_SET = re.compile(r"^([^\s!=<>(),]+)\s+(in|notin)\s*\(([^)]*)\)$")
_BINARY_OP = re.compile(r"^([^\s!=<>(),]+)\s*(==|=|!=|>|<)\s*([^\s!=<>(),]*)$")
_KEY = re.compile(r"^(!?)\s*([^\s!=<>(),]+)$")


def _terms(text: str) -> list[str]:
    terms, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return [t.strip() for t in terms if t.strip()]


def parse_selector(text: str) -> Selector:
    """apimachinery's labels.Parse for the forms a scale's selector takes."""
    requirements = []
    for term in _terms(text):
        if match := _SET.match(term):
            values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
            requirements.append(Requirement(match.group(1), match.group(2), values))
        elif match := _BINARY_OP.match(term):
            if match.group(2) in (">", "<") and not match.group(3).lstrip("-").isdigit():
                raise ValueError("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer")
            requirements.append(Requirement(match.group(1), match.group(2), (match.group(3),)))
        elif match := _KEY.match(term):
            requirements.append(Requirement(match.group(2), "!" if match.group(1) else "exists"))
        else:
            raise ValueError(f"unable to parse requirement: {term}")
    return Selector(text, tuple(requirements))


# ---- upstream's replica calculator ----

#: --horizontal-pod-autoscaler-tolerance, -cpu-initialization-period, -initial-readiness-delay,
#: -downscale-stabilization (upstream defaults)
TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = 300.0
INITIAL_READINESS_DELAY = 30.0
DOWNSCALE_STABILIZATION = 300.0
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0


@dataclass(frozen=True)
class PodMetric:
    value: int
    timestamp: float = 0.0
    window: float = 0.0


def _seconds(text: Any) -> float:
    match = re.fullmatch(r"([0-9.]+)(ms|s|m)?", str(text or "0s"))
    if not match:
        return 0.0
    return float(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}.get(match.group(2) or "s", 1.0)


class ReplicaCalculator:
    def __init__(self, *, clock: Any) -> None:
        self.clock = clock

    def pod_metrics(self, items: Iterable[Mapping[str, Any]], resource: str, container: str) -> dict[str, PodMetric]:
        """Each pod's usage of `resource` in thousandths; pods lacking it for a container are left out."""
        out: dict[str, PodMetric] = {}
        for item in items:
            containers = [c for c in item.get("containers") or [] if not container or c.get("name") == container]
            usages = [(c.get("usage") or {}).get(resource) for c in containers]
            if not usages or any(u is None for u in usages):
                continue
            name = str(meta(item).get("name") or "")
            stamp = parse_time(item.get("timestamp")) or 0.0
            out[name] = PodMetric(sum(milli(u) for u in usages), stamp, _seconds(item.get("window")))
        return out

    def _group(
        self, pods: list[Obj], metrics: Mapping[str, PodMetric], resource: str
    ) -> tuple[int, set[str], set[str], set[str]]:
        """upstream's groupPods: (ready count, unready, missing, ignored)."""
        ready, unready, missing, ignored = 0, set(), set(), set()
        now = self.clock()
        for pod in pods:
            name = str(meta(pod).get("name") or "")
            phase = (pod.get("status") or {}).get("phase")
            if meta(pod).get("deletionTimestamp") or phase == "Failed":
                ignored.add(name)
                continue
            if phase == "Pending":
                unready.add(name)
                continue
            if name not in metrics:
                missing.add(name)
                continue
            if resource == "cpu":
                ready_condition = condition(pod, "Ready")
                started = parse_time((pod.get("status") or {}).get("startTime"))
                if ready_condition is None or started is None:
                    not_ready = True
                else:
                    transition = parse_time(ready_condition.get("lastTransitionTime")) or 0.0
                    metric = metrics[name]
                    if started + CPU_INITIALIZATION_PERIOD > now:
                        not_ready = ready_condition.get("status") == "False" or metric.timestamp < transition + (
                            metric.window
                        )
                    else:
                        not_ready = (
                            ready_condition.get("status") == "False" and started + INITIAL_READINESS_DELAY > transition
                        )
                if not_ready:
                    unready.add(name)
                    continue
            ready += 1
        return ready, unready, missing, ignored

    @staticmethod
    def _requests(pods: list[Obj], container: str, resource: str) -> dict[str, int]:
        requests = {}
        for pod in pods:
            spec = pod.get("spec") or {}
            containers = list(spec.get("containers") or [])
            containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
            total = 0
            for c in containers:
                if container and c.get("name") != container:
                    continue
                value = ((c.get("resources") or {}).get("requests") or {}).get(resource)
                if value is None:
                    raise Failed(
                        f"missing request for {resource} in container {c.get('name', '')} of Pod "
                        f"{meta(pod).get('name', '')}"
                    )
                total += milli(value)
            requests[str(meta(pod).get("name") or "")] = total
        return requests

    @staticmethod
    def _utilization(
        metrics: Mapping[str, PodMetric], requests: Mapping[str, int], target: int
    ) -> tuple[float, int, int]:
        used = requested = entries = 0
        for name, metric in metrics.items():
            if name in requests:
                used, requested, entries = used + metric.value, requested + requests[name], entries + 1
        if requested == 0:
            raise Failed("no metrics returned matched known pods")
        utilization = used * 100 // requested
        return utilization / target, utilization, used // entries

    def resource_replicas(
        self, metrics: dict[str, PodMetric], pods: list[Obj], current: int, target: int, resource: str, container: str
    ) -> tuple[int, int, int]:
        """upstream's GetResourceReplicas after the metrics are fetched: (replicas, utilization, raw usage)."""
        if not pods:
            raise Failed("no pods returned by selector while calculating replica count")
        ready, unready, missing, ignored = self._group(pods, metrics, resource)
        metrics = {k: v for k, v in metrics.items() if k not in ignored | unready}
        requests = self._requests(pods, container, resource)
        if not metrics:
            raise Failed("did not receive metrics for targeted pods (pods might be unready)")
        ratio, utilization, raw = self._utilization(metrics, requests, target)
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if abs(1.0 - ratio) <= TOLERANCE:
                return current, utilization, raw
            return math.ceil(ratio * ready), utilization, raw
        if missing:
            fallback = max(100, target)
            for name in missing:
                metrics[name] = PodMetric(requests.get(name, 0) * fallback // 100 if ratio < 1.0 else 0)
        if scale_up_with_unready:
            for name in unready:
                metrics[name] = PodMetric(0)
        new_ratio = self._utilization(metrics, requests, target)[0]
        return self._settle(current, ratio, new_ratio, len(metrics)), utilization, raw

    def plain_replicas(
        self, metrics: dict[str, PodMetric], pods: list[Obj], current: int, target: int, resource: str
    ) -> tuple[int, int]:
        """upstream's calcPlainMetricReplicas: an average value target, (replicas, average usage)."""
        if not pods:
            raise Failed("no pods returned by selector while calculating replica count")
        ready, unready, missing, ignored = self._group(pods, metrics, resource)
        metrics = {k: v for k, v in metrics.items() if k not in ignored | unready}
        if not metrics:
            raise Failed("did not receive metrics for targeted pods (pods might be unready)")
        usage = sum(m.value for m in metrics.values()) // len(metrics)
        ratio = usage / target
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if abs(1.0 - ratio) <= TOLERANCE:
                return current, usage
            return math.ceil(ratio * ready), usage
        for name in missing:
            metrics[name] = PodMetric(target if ratio < 1.0 else 0)
        if scale_up_with_unready:
            for name in unready:
                metrics[name] = PodMetric(0)
        new_ratio = (sum(m.value for m in metrics.values()) // len(metrics)) / target
        return self._settle(current, ratio, new_ratio, len(metrics)), usage

    @staticmethod
    def _settle(current: int, ratio: float, new_ratio: float, count: int) -> int:
        """Missing and unready pods taken into account may not turn the direction of scaling around."""
        if abs(1.0 - new_ratio) <= TOLERANCE or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
            return current
        replicas = math.ceil(new_ratio * count)
        if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
            return current
        return replicas


# ---- normalization: stabilization, bounds and scaling policies ----

Condition = tuple[str, str, str, str]


def _rules(behavior: Mapping[str, Any], direction: str) -> dict[str, Any]:
    """A behavior's rules for one direction with the API's defaults filled in."""
    rules = dict(behavior.get(direction) or {})
    if direction == "scaleUp":
        rules.setdefault("stabilizationWindowSeconds", 0)
        default = [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ]
    else:
        if rules.get("stabilizationWindowSeconds") is None:
            rules["stabilizationWindowSeconds"] = int(DOWNSCALE_STABILIZATION)
        default = [{"type": "Percent", "value": 100, "periodSeconds": 15}]
    rules["selectPolicy"] = rules.get("selectPolicy") or "Max"
    rules["policies"] = rules.get("policies") or default
    return rules


def _changed(events: list[tuple[int, float]], period: float, now: float) -> int:
    return sum(change for change, stamp in events if stamp > now - period)


def _limit(rules: Mapping[str, Any], current: int, memory: ScalingMemory, now: float, *, up: bool) -> int:
    if rules["selectPolicy"] == "Disabled":
        return current
    pick = (min if rules["selectPolicy"] == "Min" else max) if up else (max if rules["selectPolicy"] == "Min" else min)
    result: int | None = None
    for policy in rules["policies"]:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _changed(memory.scale_up, period, now) + _changed(memory.scale_down, period, now)
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            proposed = start + value if up else start - value
        elif up:
            proposed = math.ceil(start * (1 + value / 100))
        else:
            proposed = int(start * (1 - value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result


def normalize(
    spec: Mapping[str, Any], *, memory: ScalingMemory, current: int, desired: int, minimum: int, now: float
) -> tuple[int, list[Condition]]:
    """upstream's normalizeDesiredReplicas(WithBehaviors): the replicas to set and the conditions that say why."""
    maximum = int(spec.get("maxReplicas") or 0)
    behavior = spec.get("behavior")
    conditions: list[Condition] = []
    if behavior is None:
        stabilized = max([desired, *(r for r, t in memory.recommendations if t >= now - DOWNSCALE_STABILIZATION)])
        _record(memory, desired, now, DOWNSCALE_STABILIZATION)
        if stabilized != desired:
            conditions.append(
                (
                    "AbleToScale",
                    "True",
                    "ScaleDownStabilized",
                    "recent recommendations were higher than current one, applying the highest recent recommendation",
                )
            )
        else:
            conditions.append(("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"))
        limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
        if maximum > limit:
            upper = (
                limit,
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate",
            )
        else:
            upper = (maximum, "TooManyReplicas", "the desired replica count is more than the maximum replica count")
        if stabilized < minimum:
            result, reason, message = (
                minimum,
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            )
        elif stabilized > upper[0]:
            result, reason, message = upper
        else:
            result, reason, message = (
                stabilized,
                "DesiredWithinRange",
                "the desired count is within the acceptable range",
            )
        conditions.append(("ScalingLimited", "False" if result == stabilized else "True", reason, message))
        return result, conditions
    up, down = _rules(behavior, "scaleUp"), _rules(behavior, "scaleDown")
    up_window, down_window = float(up["stabilizationWindowSeconds"]), float(down["stabilizationWindowSeconds"])
    up_recommendation = min([desired, *(r for r, t in memory.recommendations if t > now - up_window)])
    down_recommendation = max([desired, *(r for r, t in memory.recommendations if t > now - down_window)])
    _record(memory, desired, now, max(up_window, down_window))
    stabilized = min(max(current, up_recommendation), down_recommendation)
    if stabilized != desired:
        stabilizing: tuple[str, str]
        if desired >= current:
            stabilizing = (
                "ScaleUpStabilized",
                "recent recommendations were lower than current one, applying the lowest recent recommendation",
            )
        else:
            stabilizing = (
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            )
        conditions.append(("AbleToScale", "True", *stabilizing))
    else:
        conditions.append(("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"))
    result, why = stabilized, ("DesiredWithinRange", "the desired count is within the acceptable range")
    if stabilized > current:
        limit = max(_limit(up, current, memory, now, up=True), current)
        if maximum > limit:
            bound, cause = (
                limit,
                ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"),
            )
        else:
            bound, cause = (
                maximum,
                ("TooManyReplicas", "the desired replica count is more than the maximum replica count"),
            )
        if stabilized > bound:
            result, why = bound, cause
    elif stabilized < current:
        limit = min(_limit(down, current, memory, now, up=False), current)
        if minimum < limit:
            bound, cause = (
                limit,
                ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"),
            )
        else:
            bound, cause = (
                minimum,
                ("TooFewReplicas", "the desired replica count is less than the minimum replica count"),
            )
        if stabilized < bound:
            result, why = bound, cause
    conditions.append(("ScalingLimited", "False" if result == stabilized else "True", *why))
    return result, conditions


def _record(memory: ScalingMemory, desired: int, now: float, window: float) -> None:
    """Keep the unstabilized recommendation, reusing the slot of one that has aged out of every window."""
    for index, (_, stamp) in enumerate(memory.recommendations):
        if stamp < now - window:
            memory.recommendations[index] = (desired, now)
            return
    memory.recommendations.append((desired, now))


def go_label_selector(selector: Any) -> str:
    """A *metav1.LabelSelector as Go's `%v` prints it (its generated String()), `nil` when absent."""
    if not isinstance(selector, dict):
        return "nil"
    labels = selector.get("matchLabels") or {}
    pairs = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    expressions = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or []
        if isinstance(e, dict)
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{pairs}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}"
    )

"""What a Job and its pods say, as upstream's job controller reads them (pkg/controller/job's utilities):
completion indexes and their `1,3-5` notation, the failure backoff, conditions, and the order surplus pods go in.

Pure functions over plain objects, shared by the controller (`job`) and tests.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from gardener.kube_controller_manager.objects import is_terminating, meta, now_rfc3339, parse_time
from gardener.kube_controller_manager.podcontrol import pod_from_template
from gardener.kube_controller_manager.workloads import is_ready, phase
from gardener.runtime.kube import Obj

__all__ = [
    "BACKOFF_EXCEEDED",
    "COMPLETIONS_REACHED",
    "DEADLINE_EXCEEDED",
    "INDEX_ENV",
    "INDEX_KEY",
    "MANAGER",
    "MAX_PER_SYNC",
    "MAX_UNCOUNTED",
    "TRACKING_FINALIZER",
    "backoff_remaining",
    "completion_index",
    "completions_of",
    "ensure_condition",
    "finish_time",
    "finished",
    "format_indexes",
    "indexed",
    "is_pod_failed",
    "job_pod",
    "name_of",
    "new_condition",
    "parse_indexes",
    "pending_indexes",
    "pod_template",
    "removal_order",
    "restarts_exceeded",
    "settle",
    "spec_of",
    "surplus_pods",
    "tracked",
    "true_condition",
]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"
MANAGER = "kubernetes.io/job-controller"
#: upstream's DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff
BACKOFF_BASE, BACKOFF_MAX = 10.0, 600.0
#: upstream's MaxUncountedPods and MaxPodCreateDeletePerSync
MAX_UNCOUNTED, MAX_PER_SYNC = 500, 500
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")


def parse_indexes(text: str, completions: int) -> set[int]:
    """The indexes of `completedIndexes` (`1,3-5`) below `completions`; malformed parts are skipped."""
    out: set[int] = set()
    for part in (text or "").split(","):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            continue
        out.update(i for i in range(first, min(last, completions - 1) + 1) if i >= 0)
    return out


def format_indexes(indexes: Iterable[int]) -> str:
    """Sorted indexes as intervals: `0,2-4,7`."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(set(indexes)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def backoff_remaining(failures: int, last_failure: float | None, now: float) -> float:
    """Seconds a replacement pod still waits after `failures` failures since the last success."""
    if failures <= 0 or last_failure is None:
        return 0.0
    delay = float(min(BACKOFF_BASE * 2.0 ** (failures - 1), BACKOFF_MAX))
    elapsed = now - last_failure
    return delay if elapsed < 0 else max(delay - elapsed, 0.0)


def spec_of(job: Mapping[str, Any]) -> Obj:
    spec: Obj = job.get("spec") or {}
    return spec


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name") or "")


def true_condition(job: Mapping[str, Any], kind: str) -> Obj | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return None


def finished(job: Mapping[str, Any]) -> bool:
    return true_condition(job, "Complete") is not None or true_condition(job, "Failed") is not None


def indexed(job: Mapping[str, Any]) -> bool:
    return spec_of(job).get("completionMode") == "Indexed"


def completions_of(job: Mapping[str, Any]) -> int | None:
    value = spec_of(job).get("completions")
    return int(value) if isinstance(value, int) else None


def completion_index(pod: Mapping[str, Any]) -> int | None:
    raw = (meta(pod).get("annotations") or {}).get(INDEX_KEY)
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


def tracked(pod: Mapping[str, Any]) -> bool:
    return TRACKING_FINALIZER in (meta(pod).get("finalizers") or [])


def new_condition(kind: str, status: str, reason: str, message: str) -> Obj:
    now = now_rfc3339()
    cond: Obj = {"type": kind, "status": status, "lastProbeTime": now, "lastTransitionTime": now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def ensure_condition(status: Obj, kind: str, value: str, reason: str, message: str) -> bool:
    """upstream's ensureJobConditionStatus: set or add (never add as False); whether anything changed."""
    conditions = list(status.get("conditions") or [])
    for i, cond in enumerate(conditions):
        if cond.get("type") == kind:
            if (cond.get("status"), cond.get("reason", ""), cond.get("message", "")) == (value, reason, message):
                return False
            conditions[i] = new_condition(kind, value, reason, message)
            status["conditions"] = conditions
            return True
    if value == "False":
        return False
    status["conditions"] = [*conditions, new_condition(kind, value, reason, message)]
    return True


def finish_time(pod: Mapping[str, Any], now: float) -> float:
    finished_at = [
        parse_time(((s.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        for s in (pod.get("status") or {}).get("containerStatuses") or []
    ]
    times = [t for t in finished_at if t is not None]
    return max(times) if times else now


def removal_order(pod: Mapping[str, Any]) -> tuple[int, int, int, str]:
    """upstream's ActivePods order: unscheduled, pending, not ready and newer pods go first."""
    phases = {"Pending": 0, "Unknown": 1, "Running": 2}
    created = str(meta(pod).get("creationTimestamp") or "")
    newest_first = "".join(chr(0x10FFFF - ord(c)) for c in created)
    return (
        1 if (pod.get("spec") or {}).get("nodeName") else 0,
        phases.get(phase(pod), 3),
        1 if is_ready(pod) else 0,
        newest_first,
    )


def is_pod_failed(job: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """upstream's isPodFailed: Failed, or (unless only failed pods are replaced) deleted before succeeding."""
    if phase(pod) == "Failed":
        return True
    if spec_of(job).get("podReplacementPolicy") == "Failed":
        return False
    return is_terminating(pod) and phase(pod) != "Succeeded"


def restarts_exceeded(job: Mapping[str, Any], pods: list[Obj], limit: int) -> bool:
    """upstream's pastBackoffLimitOnFailure: container restarts of unfinished pods when restartPolicy is
    OnFailure."""
    if ((spec_of(job).get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        if phase(pod) in ("Running", "Pending"):
            status = pod.get("status") or {}
            for s in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
                restarts += int(s.get("restartCount") or 0)
    return restarts > 0 if limit == 0 else restarts >= limit


def surplus_pods(job: Mapping[str, Any], active: list[Obj], at_least: int) -> list[Obj]:
    """Active pods to delete, at least `at_least`: for Indexed Jobs pods without a valid index and duplicates
    first, then in upstream's ActivePods order."""
    remove: list[Obj] = []
    left = list(active)
    if indexed(job):
        completions = completions_of(job) or 0
        seen: set[int] = set()
        left = []
        for pod in sorted(active, key=removal_order, reverse=True):
            index = completion_index(pod)
            if index is None or index >= completions or index in seen:
                remove.append(pod)
            else:
                seen.add(index)
                left.append(pod)
    if len(remove) < at_least:
        remove += sorted(left, key=removal_order)[: at_least - len(remove)]
    return remove


def pending_indexes(job: Mapping[str, Any], done: set[int], active: list[Obj], count: int) -> list[int]:
    """The lowest `count` indexes neither done nor held by an active pod (upstream's firstPendingIndexes)."""
    busy = {completion_index(p) for p in active}
    free = (i for i in range(completions_of(job) or 0) if i not in done and i not in busy)
    return [i for _, i in zip(range(count), free, strict=False)]


def pod_template(job: Mapping[str, Any]) -> Obj:
    """The Job's pod template with the tracking finalizer and, for Indexed Jobs, JOB_COMPLETION_INDEX."""
    template = copy.deepcopy(spec_of(job).get("template") or {})
    if indexed(job):
        pod_spec = template.setdefault("spec", {})
        source = {"fieldRef": {"fieldPath": f"metadata.labels['{INDEX_KEY}']"}}
        for group in ("initContainers", "containers"):
            for container in pod_spec.get(group) or []:
                env = container.setdefault("env", [])
                if not any(e.get("name") == INDEX_ENV for e in env):
                    env.append({"name": INDEX_ENV, "valueFrom": source})
    tm = template.setdefault("metadata", {})
    if TRACKING_FINALIZER not in (tm.get("finalizers") or []):
        tm["finalizers"] = [*(tm.get("finalizers") or []), TRACKING_FINALIZER]
    return template


def job_pod(job: Mapping[str, Any], template: Obj, index: int | None) -> Obj:
    """A pod of the Job; with an index, its annotation and label, hostname `<job>-<index>` and generateName
    `<job>-<index>-`."""
    if index is None:
        return pod_from_template(template, job, generate_name=f"{name_of(job)}-")
    pod = pod_from_template(template, job, generate_name=f"{name_of(job)}-{index}-")
    pod["metadata"].setdefault("annotations", {})[INDEX_KEY] = str(index)
    pod["metadata"]["labels"][INDEX_KEY] = str(index)
    pod["spec"]["hostname"] = f"{name_of(job)}-{index}"
    return pod


def settle(status: Obj, with_finalizer: set[str]) -> None:
    """upstream's cleanUncountedPodsWithoutFinalizers: uids whose finalizer is gone move into the counters."""
    uncounted = status["uncountedTerminatedPods"]
    for bucket in ("succeeded", "failed"):
        uids = list(uncounted.get(bucket) or [])
        kept = [u for u in uids if u in with_finalizer]
        if len(kept) != len(uids):
            status[bucket] = int(status.get(bucket) or 0) + len(uids) - len(kept)
        if kept:
            uncounted[bucket] = kept
        else:
            uncounted.pop(bucket, None)

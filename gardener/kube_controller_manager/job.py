"""The Job controller (upstream's pkg/controller/job at 1.32): pods until enough succeed, or too many fail.

Pods carry the finalizer `batch.kubernetes.io/job-tracking` until they are counted: a finished pod's uid goes to
`status.uncountedTerminatedPods` first, then its finalizer is removed, then it moves into `succeeded`/`failed`, so
a restart of the manager never counts a pod twice. Failures past `backoffLimit` or a Job running longer than
`activeDeadlineSeconds` first add the interim `FailureTarget` condition, and `Failed` once no pod is left
terminating; enough successes add `SuccessCriteriaMet` and then `Complete` (1.32 delays terminal conditions so).
Replacement pods wait out upstream's failure backoff (10 s doubling, at most 10 min). Indexed Jobs give each pod
`batch.kubernetes.io/job-completion-index` (annotation and label), the hostname `<job>-<index>` and
`JOB_COMPLETION_INDEX`; `status.completedIndexes` lists the indexes done as `1,3-5`.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.jobutil import (
    BACKOFF_EXCEEDED,
    COMPLETIONS_REACHED,
    DEADLINE_EXCEEDED,
    MANAGER,
    MAX_PER_SYNC,
    MAX_UNCOUNTED,
    TRACKING_FINALIZER,
    backoff_remaining,
    completion_index,
    completions_of,
    ensure_condition,
    finish_time,
    finished,
    format_indexes,
    indexed,
    is_pod_failed,
    job_pod,
    name_of,
    new_condition,
    parse_indexes,
    pending_indexes,
    pod_template,
    restarts_exceeded,
    settle,
    spec_of,
    surplus_pods,
    tracked,
    true_condition,
)
from gardener.kube_controller_manager.objects import (
    controller_ref,
    is_terminating,
    labels_of,
    matches_selector,
    meta,
    now_rfc3339,
    parse_time,
)
from gardener.kube_controller_manager.podcontrol import Expectations
from gardener.kube_controller_manager.workloads import (
    caught_up,
    claim,
    create_pod,
    delete_pod,
    is_active,
    is_ready,
    is_terminal,
    phase,
    uid_of,
    update_status,
)
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError, NotFound
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import ADDED, DELETED, AsyncInformer, Key
from gardener.runtime.kube import JOBS, JSON_PATCH, PODS, Obj

__all__ = ["JobController", "setup"]

log = logging.getLogger("gardener.kube_controller_manager.job")

ACCOUNT = "job-controller"


@dataclass
class _Sync:
    """One pass over a Job: the status being built and what the pods say."""

    job: Obj
    status: Obj
    pods: list[Obj]
    active: list[Obj]
    ready: int
    terminating: int
    succeeded: int
    failed: int
    expected_removals: set[str]
    #: resourceVersion of the Job as last written, the precondition of the next status write
    version: str = ""
    #: the Job as the last status write answered
    written: Obj | None = None
    succeeded_indexes: set[int] = field(default_factory=set)
    finished: Obj | None = None
    requeue: list[float] = field(default_factory=list)


class JobController:
    def __init__(self, ctx: ControllerContext, client: AsyncKube, recorder: EventRecorder) -> None:
        self.ctx = ctx
        self.client = client
        self.recorder = recorder
        self.jobs: AsyncInformer = ctx.informer(JOBS)
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.expectations = Expectations()
        #: pods whose finalizer removal was sent but not yet seen, by Job
        self.removals: dict[Key, set[str]] = {}
        #: (failures since the last success, time of the last failure) by Job
        self.backoff: dict[Key, tuple[int, float | None]] = {}
        self.controller: AsyncController[Key] = AsyncController("job", self.reconcile, workers=ctx.options.workers)
        self.orphans: AsyncController[Key] = AsyncController("job-orphan-pods", self.release_orphan, workers=1)
        self.jobs.add_handler(self._on_job)
        self.pods.add_handler(self._on_pod)

    def _on_job(self, kind: str, job: Obj) -> None:
        key = (str(meta(job).get("namespace") or ""), name_of(job))
        self.controller.add(key)
        if kind == DELETED or finished(job):
            for pod in self.pods.items(key[0]):
                ref = controller_ref(pod)
                if tracked(pod) and ref is not None and ref.get("uid") == uid_of(job):
                    self.orphans.add((key[0], name_of(pod)))

    def _on_pod(self, kind: str, pod: Obj) -> None:
        namespace = str(meta(pod).get("namespace") or "")
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "Job":
            if ref is None and tracked(pod):
                self.orphans.add((namespace, name_of(pod)))
            if ref is None and kind != DELETED:
                for candidate in self.jobs.items(namespace):
                    if matches_selector(labels_of(pod), spec_of(candidate).get("selector")):
                        self.controller.add((namespace, name_of(candidate)))
            return
        key = (namespace, str(ref.get("name")))
        job = self.jobs.get(*key)
        if job is None or uid_of(job) != ref.get("uid") or finished(job):
            if tracked(pod) and kind != DELETED:
                self.orphans.add((namespace, name_of(pod)))
            return
        if kind == DELETED or is_terminating(pod):
            self.expectations.deleted(key)
        elif kind == ADDED:
            self.expectations.created(key)
        if kind == DELETED or not tracked(pod):
            self.removals.get(key, set()).discard(uid_of(pod))
        self.controller.add(key)

    async def release_orphan(self, key: Key) -> Result | None:
        """Remove the tracking finalizer from a pod no unfinished Job of ours controls."""
        pod = self.pods.get(*key)
        if pod is None or not tracked(pod):
            return None
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
                return None
            job = self.jobs.get(key[0], str(ref.get("name")))
            if job is not None and uid_of(job) == ref.get("uid") and not finished(job):
                return None
        await self._drop_finalizer(pod)
        return None

    async def _drop_finalizer(self, pod: Obj) -> None:
        finalizers = list(meta(pod).get("finalizers") or [])
        if TRACKING_FINALIZER not in finalizers:
            return
        at = finalizers.index(TRACKING_FINALIZER)
        ops = [
            {"op": "test", "path": f"/metadata/finalizers/{at}", "value": TRACKING_FINALIZER},
            {"op": "remove", "path": f"/metadata/finalizers/{at}"},
        ]
        with contextlib.suppress(NotFound):
            await self.client.request(
                "PATCH", PODS.path(str(meta(pod).get("namespace")), name_of(pod)), body=ops, content_type=JSON_PATCH
            )

    async def reconcile(self, key: Key) -> Result | None:
        cached = self.jobs.get(*key)
        if cached is None:
            self.expectations.forget(key)
            self.removals.pop(key, None)
            self.backoff.pop(key, None)
            return None
        if (spec_of(cached).get("managedBy") or MANAGER) != MANAGER:
            return None
        if finished(cached):
            self.backoff.pop(key, None)
            return None
        job = copy.deepcopy(cached)
        if spec_of(job).get("completionMode", "NonIndexed") not in ("NonIndexed", "Indexed"):
            self.recorder.emit(
                job, WARNING, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown"
            )
            return None
        status = copy.deepcopy(job.get("status") or {})
        status.setdefault("uncountedTerminatedPods", {})
        satisfied = self.expectations.satisfied(key)
        candidates = list(self.pods.items(key[0]))
        pods = await claim(
            self.client, PODS, job, candidates, selector=spec_of(job).get("selector"), finalizers=(TRACKING_FINALIZER,)
        )
        work = self._observe(key, job, status, pods)
        self._decide_failure(job, work)
        if indexed(job):
            work.succeeded_indexes = self._succeeded_indexes(job, work)
            work.succeeded = len(work.succeeded_indexes)
        active = len(work.active)
        if work.finished is not None:
            deleted = 0
            for pod in work.active:
                try:
                    await delete_pod(self.client, self.recorder, job, name_of(pod))
                except ApiError as exc:
                    log.warning("Pod not deleted", extra={"job": key[1], "pod": name_of(pod), "error": str(exc)[:200]})
                    continue
                deleted += 1
                work.ready -= 1 if is_ready(pod) else 0
            if deleted != active or not satisfied:
                work.finished = None
            active -= deleted
            work.terminating += deleted
        else:
            managed = satisfied and not is_terminating(job)
            if managed:
                active = await self._manage(key, job, work)
            completions = completions_of(job)
            if completions is None:
                complete = work.succeeded > 0 and active == 0
            else:
                complete = work.succeeded >= completions and active == 0
            if complete:
                work.finished = new_condition("SuccessCriteriaMet", "True", *COMPLETIONS_REACHED)
            elif managed:
                self._suspension(job, status)
        status["active"] = active
        status["ready"] = work.ready
        status["terminating"] = work.terminating
        await self._track(key, work)
        if work.written is not None:
            await caught_up(self.jobs, work.written)
        return Result(requeue_after=min(work.requeue)) if work.requeue else None

    def _observe(self, key: Key, job: Obj, status: Obj, pods: list[Obj]) -> _Sync:
        expected = self.removals.setdefault(key, set())
        uncounted = status["uncountedTerminatedPods"]
        counted_s, counted_f = set(uncounted.get("succeeded") or []), set(uncounted.get("failed") or [])
        completions = completions_of(job) or 0

        def fresh(pod: Obj, counted: set[str]) -> bool:
            if not tracked(pod) or uid_of(pod) in counted or uid_of(pod) in expected:
                return False
            index = completion_index(pod)
            return not indexed(job) or (index is not None and index < completions)

        new_succeeded = [p for p in pods if fresh(p, counted_s) and phase(p) == "Succeeded"]
        new_failed = [p for p in pods if fresh(p, counted_f) and is_pod_failed(job, p)]
        active = [p for p in pods if is_active(p)]
        now = self.ctx.clock()
        if not status.get("startTime") and not spec_of(job).get("suspend"):
            status["startTime"] = now_rfc3339()
        failures, last = self.backoff.get(key, (0, None))
        if new_succeeded:
            failures, last = 0, None
        if new_failed:
            failures += len(new_failed)
            last = max(finish_time(p, now) for p in new_failed)
        self.backoff[key] = (failures, last)
        return _Sync(
            job=job,
            status=status,
            pods=pods,
            active=active,
            ready=sum(1 for p in active if is_ready(p)),
            terminating=sum(1 for p in pods if is_terminating(p) and not is_terminal(p)),
            succeeded=int(status.get("succeeded") or 0) + len(new_succeeded) + len(counted_s),
            failed=int(status.get("failed") or 0) + len(new_failed) + len(counted_f),
            expected_removals=expected,
            version=str(meta(job).get("resourceVersion") or ""),
        )

    def _decide_failure(self, job: Obj, work: _Sync) -> None:
        status, spec = work.status, spec_of(job)
        work.finished = true_condition(job, "SuccessCriteriaMet")
        if work.finished is None and (target := true_condition(job, "FailureTarget")) is not None:
            work.finished = new_condition("Failed", "True", target.get("reason", ""), target.get("message", ""))
        if work.finished is not None:
            return
        limit = spec.get("backoffLimit")
        limit = int(limit) if isinstance(limit, int) else 6
        if work.failed > limit or restarts_exceeded(job, work.pods, limit):
            work.finished = new_condition("FailureTarget", "True", *BACKOFF_EXCEEDED)
            return
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if isinstance(deadline, int) and started is not None and not spec.get("suspend"):
            left = started + deadline - self.ctx.clock()
            if left <= 0:
                work.finished = new_condition("FailureTarget", "True", *DEADLINE_EXCEEDED)
            else:
                work.requeue.append(left)

    def _succeeded_indexes(self, job: Obj, work: _Sync) -> set[int]:
        completions = completions_of(job) or 0
        done = parse_indexes(str(work.status.get("completedIndexes") or ""), completions)
        for pod in work.pods:
            index = completion_index(pod)
            if phase(pod) == "Succeeded" and tracked(pod) and index is not None and index < completions:
                done.add(index)
        return done

    def _suspension(self, job: Obj, status: Obj) -> None:
        if spec_of(job).get("suspend"):
            if ensure_condition(status, "Suspended", "True", "JobSuspended", "Job suspended"):
                self.recorder.emit(job, NORMAL, "Suspended", "Job suspended")
        elif ensure_condition(status, "Suspended", "False", "JobResumed", "Job resumed"):
            self.recorder.emit(job, NORMAL, "Resumed", "Job resumed")
            status["startTime"] = now_rfc3339()

    async def _manage(self, key: Key, job: Obj, work: _Sync) -> int:
        """Create or delete pods toward the wanted number of active ones; the number active afterwards."""
        spec = spec_of(job)
        active = len(work.active)
        if spec.get("suspend"):
            return active - await self._remove(key, job, work, list(work.active))
        parallelism = spec.get("parallelism")
        parallelism = parallelism if isinstance(parallelism, int) else 1
        completions = completions_of(job)
        if completions is None:
            wanted = active if work.succeeded > 0 else parallelism
        else:
            wanted = max(min(completions - work.succeeded, parallelism), 0)
        surplus = surplus_pods(job, work.active, max(active - wanted, 0))
        if surplus:
            return active - await self._remove(key, job, work, surplus[:MAX_PER_SYNC])
        waiting = work.terminating if spec.get("podReplacementPolicy") == "Failed" else 0
        missing = min(wanted - waiting - active, MAX_PER_SYNC)
        if missing <= 0:
            return active
        failures, last = self.backoff.get(key, (0, None))
        delay = backoff_remaining(failures, last, self.ctx.clock())
        if delay > 0:
            work.requeue.append(delay)
            return active
        indexes: list[int | None] = [None] * missing
        if indexed(job):
            indexes = list(pending_indexes(job, work.succeeded_indexes, work.active, missing))
        self.expectations.expect(key, adds=len(indexes))
        template = pod_template(job)
        for index in indexes:
            try:
                await create_pod(self.client, self.recorder, job, job_pod(job, template, index))
                active += 1
            except ApiError:
                self.expectations.created(key)
                raise
        return active

    async def _remove(self, key: Key, job: Obj, work: _Sync, pods: list[Obj]) -> int:
        """upstream's deleteJobPods: drop the finalizer, then delete; the number removed."""
        self.expectations.expect(key, deletes=len(pods))
        removed = 0
        for pod in pods:
            try:
                await self._drop_finalizer(pod)
                await delete_pod(self.client, self.recorder, job, name_of(pod))
            except ApiError:
                self.expectations.deleted(key)
                raise
            removed += 1
            work.ready -= 1 if is_ready(pod) else 0
            work.terminating += 1
        return removed

    async def _track(self, key: Key, work: _Sync) -> None:
        """upstream's trackJobStatusAndRemoveFinalizers: count finished pods through uncountedTerminatedPods, drop
        their finalizers, and add the terminal condition once nothing is left uncounted or terminating."""
        job, status = work.job, work.status
        written = job.get("status") or {}
        uncounted = status["uncountedTerminatedPods"]
        with_finalizer = {uid_of(p) for p in work.pods if tracked(p) and uid_of(p) not in work.expected_removals}
        settle(status, with_finalizer)
        completions = completions_of(job) or 0
        prev_indexes = parse_indexes(str(status.get("completedIndexes") or ""), completions)
        new_indexes: set[int] = set()
        to_release: list[Obj] = []
        for pod in sorted(work.pods, key=lambda p: completion_index(p) or 0):
            uid = uid_of(pod)
            if not tracked(pod) or uid in work.expected_removals:
                continue
            failed = is_pod_failed(job, pod)
            if not (is_terminating(job) or work.finished is not None or phase(pod) == "Succeeded" or failed):
                continue
            to_release.append(pod)
            index = completion_index(pod)
            if phase(pod) == "Succeeded" and uid not in (uncounted.get("failed") or []):
                if indexed(job):
                    if index is not None and index < completions and index not in prev_indexes:
                        new_indexes.add(index)
                elif uid not in (uncounted.get("succeeded") or []):
                    uncounted["succeeded"] = [*(uncounted.get("succeeded") or []), uid]
            elif failed or (work.finished is not None and work.finished["type"] != "SuccessCriteriaMet"):
                valid = not indexed(job) or (index is not None and index < completions)
                if uid not in (uncounted.get("failed") or []) and valid:
                    uncounted["failed"] = [*(uncounted.get("failed") or []), uid]
            pending = len(new_indexes) + len(uncounted.get("succeeded") or []) + len(uncounted.get("failed") or [])
            if pending >= MAX_UNCOUNTED:
                break
        if indexed(job):
            indexes = work.succeeded_indexes | new_indexes
            status["completedIndexes"] = format_indexes(indexes)
            status["succeeded"] = len(indexes)
        final = work.finished
        if final is not None and final["type"] == "FailureTarget":
            status["conditions"] = [*(status.get("conditions") or []), final]
            final = new_condition("Failed", "True", final.get("reason", ""), final.get("message", ""))
        elif final is not None and final["type"] == "SuccessCriteriaMet":
            if true_condition({"status": status}, "SuccessCriteriaMet") is None:
                status["conditions"] = [*(status.get("conditions") or []), final]
            final = new_condition("Complete", "True", final.get("reason", ""), final.get("message", ""))
        written = await self._flush(work, written, status)
        if to_release:
            expected = self.removals.setdefault(key, set())
            for pod in to_release:
                expected.add(uid_of(pod))
                try:
                    await self._drop_finalizer(pod)
                except ApiError:
                    expected.discard(uid_of(pod))
                    raise
                with_finalizer.discard(uid_of(pod))
            settle(status, with_finalizer)
        done = final is not None and not uncounted.get("succeeded") and not uncounted.get("failed")
        done = done and work.terminating == 0
        if done and final is not None:
            ensure_condition(status, final["type"], "True", final.get("reason", ""), final.get("message", ""))
            if final["type"] == "Complete":
                status["completionTime"] = now_rfc3339()
        await self._flush(work, written, status)
        if done and final is not None:
            self._finished_events(job, status, final)

    def _finished_events(self, job: Obj, status: Obj, final: Obj) -> None:
        if final["type"] == "Complete":
            completions = completions_of(job)
            if completions is not None and int(status.get("succeeded") or 0) > completions:
                self.recorder.emit(
                    job,
                    WARNING,
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached",
                )
            self.recorder.emit(job, NORMAL, "Completed", "Job completed")
        else:
            self.recorder.emit(job, WARNING, str(final.get("reason", "")), str(final.get("message", "")))

    async def _flush(self, work: _Sync, written: Mapping[str, Any], status: Obj) -> Obj:
        """Write `status` (Go's omitempty applied) when it differs from what was last written, guarded by the
        Job's resourceVersion: counts built on a stale Job must not land."""
        keep = ("ready", "terminating")
        shaped = {k: v for k, v in copy.deepcopy(status).items() if v not in (None, "", [], 0) or k in keep}
        shaped["uncountedTerminatedPods"] = copy.deepcopy(status.get("uncountedTerminatedPods") or {})
        if dict(written) != shaped:
            job = {**work.job, "metadata": {**meta(work.job), "resourceVersion": work.version}}
            answer = await update_status(self.client, JOBS, {**job, "status": dict(written)}, shaped)
            if answer is not None:
                work.version = str(meta(answer).get("resourceVersion") or "")
                work.written = answer
        return shaped


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    recorder = await ctx.recorder_for(ACCOUNT)
    controller = JobController(ctx, client, recorder)
    return [controller.controller, controller.orphans]

"""The CronJob controller (upstream's pkg/controller/cronjob, "v2"): a Job at every scheduled time.

The Job of the time `t` is `<cronjob>-<minutes since the epoch of t>`, so a restart never starts one time twice;
it carries the template's labels and annotations plus `batch.kubernetes.io/cronjob-scheduled-timestamp` (RFC 3339
in the CronJob's zone). A reconcile reaps finished Jobs past the history limits, notes finished ones in
`status.lastSuccessfulTime`/`active`, starts the most recent missed time (unless later than
`startingDeadlineSeconds`, or a Forbid CronJob still runs one; Replace deletes the running ones first), and asks
to be woken at the next scheduled time. A schedule it cannot read is a `Warning` event, never a crash.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.objects import controller_ref, is_terminating, meta, owner_ref, parse_time
from gardener.kube_controller_manager.workloads import caught_up, uid_of, update_status
from gardener.runtime import cron
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import AlreadyExists, ApiError, NotFound, TemporaryError
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import AsyncInformer, Key
from gardener.runtime.kube import CRONJOBS, JOBS, Obj

__all__ = ["job_name", "most_recent", "next_delay", "setup"]

log = logging.getLogger("gardener.kube_controller_manager.cronjob")

ACCOUNT = "cronjob-controller"
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
#: upstream's nextScheduleDelta: wake a little after the time, not before it
NEXT_DELTA = 0.1
#: more missed times than this make a TooManyMissedTimes warning
MANY_MISSED = 100


def job_name(cronjob_name: str, scheduled: datetime) -> str:
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _rfc3339(t: datetime) -> str:
    text = t.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def most_recent(
    cronjob: Mapping[str, Any], now: datetime, schedule: cron.Schedule, *, with_deadline: bool
) -> tuple[datetime, datetime | None, int]:
    """upstream's mostRecentScheduleTime: (earliest time considered, the latest time due by `now` or None, how many
    times were missed roughly). Raises ValueError for a schedule that never fires."""
    status = cronjob.get("status") or {}
    earliest = _at(
        parse_time(status.get("lastScheduleTime")) or parse_time(meta(cronjob).get("creationTimestamp")) or 0
    )
    deadline = (cronjob.get("spec") or {}).get("startingDeadlineSeconds")
    if with_deadline and isinstance(deadline, int):
        earliest = max(earliest, _at(now.timestamp() - deadline))
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is not None and now < t1:
        return earliest, None, 0
    if t1 is not None and t2 is not None and now < t2:
        return earliest, t1, 0
    if t1 is None or t2 is None or round((t2 - t1).total_seconds()) < 1:
        raise ValueError("time difference between two schedules is less than 1 second")
    between = round((t2 - t1).total_seconds())
    missed = int((now - t1).total_seconds()) // between + 1
    latest: datetime | None = None
    t: datetime | None = schedule.next(_at(t1.timestamp() + (missed - 2) * between))
    while t is not None and t <= now:
        latest = t
        t = schedule.next(t)
    return earliest, latest, missed


def next_delay(cronjob: Mapping[str, Any], now: datetime, schedule: cron.Schedule) -> float | None:
    """Seconds until the reconcile after the next scheduled time (upstream's nextScheduleTimeDuration)."""
    try:
        earliest, latest, missed = most_recent(cronjob, now, schedule, with_deadline=False)
        base = latest if latest is not None else (earliest if missed == 0 else now)
    except ValueError:
        base = now
    following = schedule.next(base)
    if following is None:
        return None
    return max((following - now).total_seconds() + NEXT_DELTA, NEXT_DELTA)


def _finished(job: Mapping[str, Any]) -> str:
    """ "Complete" or "Failed" when a Job has finished, else ""."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return ""


def _start_order(job: Mapping[str, Any]) -> tuple[bool, str, str]:
    """upstream's byJobStartTime: started Jobs oldest first, unstarted last, names break ties."""
    started = str((job.get("status") or {}).get("startTime") or "")
    return (not started, started, str(meta(job).get("name") or ""))


def _reference(job: Mapping[str, Any]) -> Obj:
    m = meta(job)
    return {
        "kind": "Job",
        "namespace": m.get("namespace", ""),
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
        "apiVersion": "batch/v1",
        "resourceVersion": m.get("resourceVersion", ""),
    }


class CronJobController:
    def __init__(self, ctx: ControllerContext, client: AsyncKube, recorder: EventRecorder) -> None:
        self.ctx = ctx
        self.client = client
        self.recorder = recorder
        self.cronjobs: AsyncInformer = ctx.informer(CRONJOBS)
        self.jobs: AsyncInformer = ctx.informer(JOBS)
        self.controller: AsyncController[Key] = AsyncController("cronjob", self.reconcile, workers=ctx.options.workers)
        self.cronjobs.add_handler(
            lambda _k, obj: self.controller.add((meta(obj).get("namespace", ""), meta(obj)["name"]))
        )
        self.jobs.add_handler(self._on_job)

    def _on_job(self, _kind: str, job: Obj) -> None:
        ref = controller_ref(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.controller.add((str(meta(job).get("namespace") or ""), str(ref.get("name"))))

    async def reconcile(self, key: Key) -> Result | None:
        cached = self.cronjobs.get(*key)
        if cached is None:
            return None
        cronjob = copy.deepcopy(cached)
        cronjob.setdefault("status", {})
        jobs = [
            j
            for j in self.jobs.items(key[0])
            if (ref := controller_ref(j)) is not None and ref.get("kind") == "CronJob" and ref.get("name") == key[1]
        ]
        await self._cleanup(cronjob, jobs)
        try:
            delay = await self._sync(cronjob, jobs)
        finally:
            written = await update_status(self.client, CRONJOBS, cached, cronjob["status"])
            if written is not None:
                await caught_up(self.cronjobs, written)
        return Result(requeue_after=delay) if delay is not None else None

    async def _cleanup(self, cronjob: Obj, jobs: list[Obj]) -> None:
        """Delete the oldest finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit."""
        spec = cronjob.get("spec") or {}
        limits = (("Complete", spec.get("successfulJobsHistoryLimit")), ("Failed", spec.get("failedJobsHistoryLimit")))
        for kind, limit in limits:
            if not isinstance(limit, int):
                continue
            done = sorted((j for j in jobs if _finished(j) == kind), key=_start_order)
            for job in done[: max(len(done) - limit, 0)]:
                await self._delete_job(cronjob, job)

    async def _delete_job(self, cronjob: Obj, job: Obj) -> bool:
        name = str(meta(job).get("name") or "")
        try:
            await self.client.delete(JOBS.path(str(meta(job).get("namespace")), name), propagation="Background")
        except ApiError as exc:
            self.recorder.emit(cronjob, WARNING, "FailedDelete", f"Deleted job: {exc.message}")
            return False
        self._forget(cronjob, uid_of(job))
        self.recorder.emit(cronjob, NORMAL, "SuccessfulDelete", f"Deleted job {name}")
        return True

    @staticmethod
    def _forget(cronjob: Obj, uid: str) -> None:
        status = cronjob["status"]
        active = [r for r in status.get("active") or [] if r.get("uid") != uid]
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    def _schedule_text(self, cronjob: Obj) -> str:
        spec = cronjob.get("spec") or {}
        schedule = str(spec.get("schedule") or "")
        if "TZ" in schedule:
            self.recorder.emit(
                cronjob,
                WARNING,
                "UnsupportedSchedule",
                f"CRON_TZ or TZ used in schedule {json.dumps(schedule)} is not officially supported, see "
                "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
            )
            return schedule
        return f"TZ={spec['timeZone']} {schedule}" if spec.get("timeZone") else schedule

    async def _sync(self, cronjob: Obj, jobs: list[Obj]) -> float | None:
        """upstream's syncCronJob, changing `cronjob["status"]`: the seconds until the next look."""
        now = _at(self.ctx.clock())
        status = cronjob["status"]
        children = set()
        for job in jobs:
            children.add(uid_of(job))
            listed = any(r.get("uid") == uid_of(job) for r in status.get("active") or [])
            done = _finished(job)
            if not listed and not done:
                self.recorder.emit(
                    cronjob,
                    WARNING,
                    "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {meta(job)['name']}",
                )
            elif listed and done:
                self._forget(cronjob, uid_of(job))
                self.recorder.emit(
                    cronjob, NORMAL, "SawCompletedJob", f"Saw completed job: {meta(job)['name']}, status: {done}"
                )
            if done == "Complete":
                completed = (job.get("status") or {}).get("completionTime")
                last = parse_time(status.get("lastSuccessfulTime"))
                if completed and (last is None or (parse_time(completed) or 0) > last):
                    status["lastSuccessfulTime"] = completed
        for ref in list(status.get("active") or []):
            if ref.get("uid") in children:
                continue
            if await self.client.get(JOBS.path(str(ref.get("namespace")), str(ref.get("name")))) is None:
                self.recorder.emit(cronjob, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}")
                self._forget(cronjob, str(ref.get("uid")))
        if is_terminating(cronjob):
            return None
        spec = cronjob.get("spec") or {}
        zone = spec.get("timeZone")
        location: tzinfo = UTC
        if zone:
            try:
                location = cron.load_zone(str(zone))
            except cron.CronError as exc:
                self.recorder.emit(cronjob, WARNING, "UnknownTimeZone", f"invalid timeZone: {json.dumps(zone)}: {exc}")
                return None
        if spec.get("suspend"):
            return None
        try:
            schedule = cron.parse(self._schedule_text(cronjob))
        except cron.CronError as exc:
            log.info("Unparseable schedule", extra={"cronjob": meta(cronjob).get("name"), "error": str(exc)})
            self.recorder.emit(
                cronjob,
                WARNING,
                "UnparseableSchedule",
                f"unparseable schedule: {json.dumps(spec.get('schedule'))} : {exc}",
            )
            return None
        try:
            _, scheduled, missed = most_recent(cronjob, now, schedule, with_deadline=True)
        except ValueError as exc:
            self.recorder.emit(cronjob, WARNING, "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {exc}")
            return None
        if scheduled is None or scheduled > now:
            return next_delay(cronjob, now, schedule)
        if missed > MANY_MISSED:
            self.recorder.emit(
                cronjob,
                WARNING,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        deadline = spec.get("startingDeadlineSeconds")
        if isinstance(deadline, int) and scheduled.timestamp() + deadline < now.timestamp():
            when = scheduled.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
            self.recorder.emit(cronjob, WARNING, "MissSchedule", f"Missed scheduled time to start a job: {when}")
            return next_delay(cronjob, now, schedule)
        name = job_name(str(meta(cronjob)["name"]), scheduled)
        last = parse_time(status.get("lastScheduleTime"))
        if any(r.get("name") == name for r in status.get("active") or []) or last == scheduled.timestamp():
            return next_delay(cronjob, now, schedule)
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            self.recorder.emit(
                cronjob,
                NORMAL,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            return next_delay(cronjob, now, schedule)
        if policy == "Replace":
            for ref in list(status.get("active") or []):
                running = await self.client.get(JOBS.path(str(ref.get("namespace")), str(ref.get("name"))))
                if running is None or not await self._delete_job(cronjob, running):
                    raise TemporaryError(f"could not replace job {ref.get('namespace')}/{ref.get('name')}")
        started = await self._start(cronjob, name, scheduled, location)
        if started is None:
            return None
        status["active"] = [*(status.get("active") or []), _reference(started)]
        status["lastScheduleTime"] = _rfc3339(scheduled)
        return next_delay(cronjob, now, schedule)

    async def _start(self, cronjob: Obj, name: str, scheduled: datetime, location: tzinfo) -> Obj | None:
        """Create the Job of `scheduled`; the Job to list as active, or None when another owner made it."""
        template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
        tm = template.get("metadata") or {}
        namespace = str(meta(cronjob).get("namespace") or "")
        body: Obj = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(tm.get("labels") or {}),
                "annotations": {
                    **(tm.get("annotations") or {}),
                    SCHEDULED_ANNOTATION: _rfc3339(scheduled.astimezone(location)),
                },
                "ownerReferences": [owner_ref(cronjob)],
            },
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        try:
            created = await self.client.create(JOBS.path(namespace), body)
        except AlreadyExists:
            existing = await self.client.get(JOBS.path(namespace, name))
            if existing is None:
                raise NotFound(404, f"job {name} vanished after its creation was refused") from None
            ref = controller_ref(existing)
            if ref is None or ref.get("uid") != uid_of(cronjob):
                return None
            if any(r.get("uid") == uid_of(existing) for r in cronjob["status"].get("active") or []):
                return None
            log.info("Job already exists", extra={"cronjob": meta(cronjob).get("name"), "job": name})
            return existing
        except ApiError as exc:
            self.recorder.emit(cronjob, WARNING, "FailedCreate", f"Error creating job: {exc.message}")
            raise
        self.recorder.emit(cronjob, NORMAL, "SuccessfulCreate", f"Created job {name}")
        return created


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    recorder = await ctx.recorder_for(ACCOUNT)
    return [CronJobController(ctx, client, recorder).controller]

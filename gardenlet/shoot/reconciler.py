"""One reconcile of one Shoot: decide whether a flow must run, run it, and tell the user through the Shoot.

Everything it decides comes from the Shoot as it is in the garden (spec, status, annotations, finalizers), so a
gardenlet killed mid-flow picks up where the status says it was. The finalizer `gardener` keeps a Shoot until
its deletion flow has removed everything in the seed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from gardener.apis.core.conditions import format_micro_time, format_time
from gardener.runtime.controller import Result
from gardener.runtime.errors import ApiError, Forbidden
from gardener.runtime.kube import Kube, resource_path
from gardenlet import shootstatus as st
from gardenlet.botanist.profile import SeedProfile
from gardenlet.botanist.shoot import ShootInfo, shoot_info
from gardenlet.flow import FlowError, Progress
from gardenlet.heartbeat import gardenlet_version
from gardenlet.shoot.flow import FlowSettings, ShootOperation
from gardenlet.shootstatus import CORE, on_seed, shoot_path

log = logging.getLogger("gardenlet.shoot")

Obj = dict[str, Any]
Clock = Callable[[], dt.datetime]


class ShootReconciler:
    def __init__(
        self,
        *,
        garden: Kube,
        seed: Kube,
        seed_name: str,
        profile: SeedProfile,
        settings: FlowSettings | None = None,
        backoff: tuple[float, float] = (5.0, 300.0),
        retry_window_seconds: float = 12 * 3600.0,
        on_done: Callable[[str], None] | None = None,
        clock: Clock = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.garden = garden
        self.seed = seed
        self.seed_name = seed_name
        self.profile = profile
        self.settings = settings or FlowSettings()
        self.backoff = backoff
        #: how long failing reconciles of one Shoot are retried before its operation turns Failed
        self.retry_window_seconds = retry_window_seconds
        self.on_done = on_done
        self.clock = clock
        self.identity = {
            "id": f"{socket.gethostname()}-{seed_name}",
            "name": "gardenlet",
            "version": gardenlet_version(),
        }
        self._failures: dict[str, int] = {}
        #: when a Shoot whose flow failed may run again (monotonic); our own status writes must not cut it short
        self._retry_at: dict[str, float] = {}

    # ---- garden writes ----

    async def _patch(self, shoot: Obj, body: Obj, *, subresource: str = "") -> Obj | None:
        m = shoot["metadata"]
        result = await self.garden.amerge_patch(shoot_path(m["namespace"], m["name"], subresource), body)
        return result

    async def _status(self, shoot: Obj, status: Obj) -> Obj:
        """Merge `status` into the Shoot's status and keep the status label in line with it."""
        updated = await self._patch(shoot, {"status": status}, subresource="status") or shoot
        new = updated.get("status") or {}
        label = str(st.health(new.get("lastOperation"), new.get("conditions")))
        if (updated["metadata"].get("labels") or {}).get(st.STATUS_LABEL) != label:
            updated = await self._patch(updated, {"metadata": {"labels": {st.STATUS_LABEL: label}}}) or updated
        return updated

    async def event(self, shoot: Obj, reason: str, message: str, *, warning: bool = False) -> None:
        m = shoot["metadata"]
        now = self.clock()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{m['name']}.{uuid.uuid4().hex[:16]}", "namespace": m["namespace"]},
            "involvedObject": {
                "apiVersion": "core.gardener.cloud/v1beta1",
                "kind": "Shoot",
                "name": m["name"],
                "namespace": m["namespace"],
                "uid": m.get("uid"),
                "resourceVersion": m.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": "Warning" if warning else "Normal",
            "source": {"component": "gardenlet", "host": socket.gethostname()},
            "reportingComponent": "gardenlet",
            "reportingInstance": self.identity["id"],
            "firstTimestamp": format_time(now),
            "lastTimestamp": format_time(now),
            "eventTime": format_micro_time(now),
            "action": reason,
            "count": 1,
        }
        try:
            await self.garden.araw("POST", resource_path("v1", "Event", m["namespace"]), event)
        except ApiError as exc:
            # Events are for people; a lost one must not fail the reconcile.
            log.warning("Could not record event", extra={"reason": reason, "code": exc.status})

    # ---- reconcile ----

    async def reconcile(self, key: str) -> Result | None:
        """Bring one Shoot (`namespace/name`) in line; when to look again without a change, or None.

        Errors outside a flow (the garden unreachable, a conflict) propagate: the controller retries them with the
        key's backoff. A failed flow is recorded in the Shoot and retried here, after `backoff`.
        """
        namespace, _, name = key.partition("/")
        try:
            shoot = await self.garden.aget(shoot_path(namespace, name))
        except Forbidden:
            # A gardenlet may read only Shoots of its seed: one that is gone is forbidden rather than not found.
            shoot = None
        if shoot is None or not on_seed(shoot, self.seed_name):
            self._failures.pop(key, None)
            self._retry_at.pop(key, None)
            return None
        reason = st.run_reason(shoot)
        if reason is None:
            return None
        if reason == st.RETRY_AFTER_ERROR and (wait := self._retry_at.get(key, 0.0) - time.monotonic()) > 0:
            return Result(requeue_after=wait)
        log.info("Running shoot flow", extra={"reason": reason})
        shoot = await self._prepare(shoot)
        if shoot is None:
            return None
        kind = st.operation_type(shoot)
        seed = await self.garden.aget(f"{CORE}/seeds/{self.seed_name}")
        try:
            info = shoot_info(shoot, seed=seed)
        except ValueError as exc:
            await self._status(shoot, self._finished(kind, st.OperationState.FAILED, f"Shoot spec is invalid: {exc}"))
            return None
        shoot = await self._start(shoot, info, kind)
        operation = ShootOperation(
            garden=self.garden,
            seed=self.seed,
            shoot=info,
            profile=self.profile,
            settings=self.settings,
            objects=(shoot, seed),
        )
        flow = operation.delete_flow() if kind == st.OperationType.DELETE else operation.reconcile_flow()
        reporter = ProgressWriter(shoot=shoot, kind=kind, write=self._status, clock=self.clock)
        try:
            try:
                await flow.run(progress=reporter)
            finally:
                await reporter.close()
        except FlowError as exc:
            delay = await self._failed(reporter.shoot, kind, exc)
            return None if delay is None else Result(requeue_after=delay)
        self._failures.pop(key, None)
        self._retry_at.pop(key, None)
        await self._succeeded(reporter.shoot, info, kind, operation)
        if self.on_done is not None and kind != st.OperationType.DELETE:
            self.on_done(key)
        return None

    async def _prepare(self, shoot: Obj) -> Obj | None:
        """Add the finalizer (or find it gone on a deleting Shoot) and consume the operation annotation."""
        m = shoot["metadata"]
        finalizers = list(m.get("finalizers") or [])
        if m.get("deletionTimestamp"):
            if st.FINALIZER not in finalizers:
                return None
        elif st.FINALIZER not in finalizers:
            body = {"metadata": {"finalizers": [*finalizers, st.FINALIZER], "resourceVersion": m["resourceVersion"]}}
            shoot = await self._patch(shoot, body) or shoot
        if (shoot["metadata"].get("annotations") or {}).get(st.OPERATION_ANNOTATION) in st.RUN_NOW:
            shoot = await self._patch(shoot, {"metadata": {"annotations": {st.OPERATION_ANNOTATION: None}}}) or shoot
        return shoot

    async def _start(self, shoot: Obj, info: ShootInfo, kind: st.OperationType) -> Obj:
        verb = {st.OperationType.CREATE: "Creating", st.OperationType.DELETE: "Deleting"}.get(kind, "Reconciling")
        if kind != st.OperationType.DELETE and info.hibernated != bool((shoot.get("status") or {}).get("hibernated")):
            verb = "Hibernating" if info.hibernated else "Waking up"
        status = {
            "lastOperation": st.last_operation(
                kind, st.OperationState.PROCESSING, progress=0, description=f"{verb} Shoot cluster.", now=self.clock()
            ),
            "observedGeneration": info.generation,
            "technicalID": info.technical_id,
            "seedName": self.seed_name,
            "uid": info.uid,
            "gardener": self.identity,
        }
        shoot = await self._status(shoot, status)
        await self.event(shoot, verb.replace(" ", ""), f"{verb} Shoot cluster")
        return shoot

    def _finished(self, kind: st.OperationType, state: st.OperationState, description: str, progress: int = 100) -> Obj:
        return {
            "lastOperation": st.last_operation(
                kind, state, progress=progress, description=description, now=self.clock()
            )
        }

    async def _succeeded(self, shoot: Obj, info: ShootInfo, kind: st.OperationType, operation: ShootOperation) -> None:
        if kind == st.OperationType.DELETE:
            await self.event(shoot, "Deleted", "Deleted Shoot cluster")
            m = shoot["metadata"]
            fresh = await self.garden.aget(shoot_path(m["namespace"], m["name"])) or shoot
            finalizers = [f for f in fresh["metadata"].get("finalizers") or [] if f != st.FINALIZER]
            body = {
                "metadata": {"finalizers": finalizers or None, "resourceVersion": fresh["metadata"]["resourceVersion"]}
            }
            await self._patch(fresh, body)
            log.info("Shoot deleted")
            return
        description = "Shoot cluster has been successfully reconciled."
        if info.hibernated:
            description = "Shoot cluster has been successfully hibernated."
        status: Obj = {
            **self._finished(kind, st.OperationState.SUCCEEDED, description),
            "lastErrors": None,
            "retryCycleStartTime": None,
        }
        status["hibernated"] = info.hibernated
        if operation.endpoint is not None:
            status["advertisedAddresses"] = [{"name": "external", "url": operation.endpoint.url}]
        shoot = await self._status(shoot, status)
        await self.event(shoot, "Reconciled", description)
        log.info("Shoot reconciled", extra={"hibernated": info.hibernated})

    async def _failed(self, shoot: Obj, kind: st.OperationType, error: FlowError) -> float | None:
        m = shoot["metadata"]
        key = f"{m['namespace']}/{m['name']}"
        state = st.failed_state(error)
        failed = ", ".join(e.task_id for e in error.errors)
        progress = int(((shoot.get("status") or {}).get("lastOperation") or {}).get("progress") or 0)
        now = self.clock()
        cycle_start = _parse_time((shoot.get("status") or {}).get("retryCycleStartTime")) or now
        state = st.state_after_failure(
            state, cycle_start=cycle_start, now=now, window_seconds=self.retry_window_seconds
        )
        then = "will retry" if state == st.OperationState.ERROR else "a change or a retry annotation is needed"
        description = f"Flow failed in tasks {failed}; {then}."
        status = {
            **self._finished(kind, state, description, progress),
            "lastErrors": st.last_errors(error, now=now),
            "retryCycleStartTime": cycle_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        shoot = await self._status(shoot, status)
        reason = "DeleteError" if kind == st.OperationType.DELETE else "ReconcileError"
        await self.event(shoot, reason, str(error)[:1000], warning=True)
        log.warning("Shoot flow failed", extra={"state": str(state), "error": str(error)[:500]})
        if state == st.OperationState.FAILED:
            return None
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        base, cap = self.backoff
        delay = float(min(base * 2 ** (failures - 1), cap))
        self._retry_at[key] = time.monotonic() + delay
        return delay


class ProgressWriter:
    """Writes `status.lastOperation` (progress and the running tasks) while a flow runs.

    The flow reports every state change, also the moment between one task finishing and the tasks that wait for
    it starting. Writing each of those would show "nothing running" and cost a write per step, so a report is only
    recorded and written once the flow awaits its tasks (a background write picks up the newest report), which is
    Gardener's order too: report after the finished task's dependents have started. `close()` waits for the last
    write, so a late progress write can never overwrite the final status.
    """

    def __init__(
        self,
        *,
        shoot: Obj,
        kind: st.OperationType,
        write: Callable[[Obj, Obj], Awaitable[Obj]],
        clock: Clock,
    ) -> None:
        self.shoot = shoot
        self.kind = kind
        self._write = write
        self._clock = clock
        self._pending: Progress | None = None
        self._writer: asyncio.Task[None] | None = None
        last = (shoot.get("status") or {}).get("lastOperation") or {}
        self._written: tuple[int, str] = (int(last.get("progress") or 0), str(last.get("description") or ""))

    async def __call__(self, progress: Progress) -> None:
        if progress.percent in (0, 100):
            return  # the start and end of a run write their own descriptions ("Creating Shoot cluster." ...)
        self._pending = progress
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._flush())

    async def close(self) -> None:
        """Wait for the write under way (and the report it still has to write)."""
        if self._writer is not None:
            await self._writer

    async def _flush(self) -> None:
        while self._pending is not None:
            progress, self._pending = self._pending, None
            # Nothing running (the rest waits for a failed task): keep the description, as Gardener does.
            description = st.progress_description(progress.running) or self._written[1]
            if (progress.percent, description) == self._written:
                continue
            last = st.last_operation(
                self.kind,
                st.OperationState.PROCESSING,
                progress=progress.percent,
                description=description,
                now=self._clock(),
            )
            try:
                self.shoot = await self._write(self.shoot, {"lastOperation": last})
            except Exception:
                # Progress is advisory (the next report overwrites it); the flow's work matters more.
                log.exception("Reporting progress failed")
                continue
            self._written = (progress.percent, description)


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None

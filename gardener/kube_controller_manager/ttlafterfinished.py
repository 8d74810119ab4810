"""The TTL-after-finished controller (upstream's pkg/controller/ttlafterfinished): finished Jobs go away.

A Job with `ttlSecondsAfterFinished` is deleted that many seconds after its Complete or Failed condition turned
True. Before deleting, the Job is read fresh from the API server and checked again (its TTL may have changed), and
the delete is preconditioned on its uid with foreground propagation, as upstream: the API server's garbage
collector removes the pods first, then the Job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.objects import is_terminating, meta, parse_time
from gardener.kube_controller_manager.workloads import uid_of
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import Conflict, NotFound
from gardener.runtime.informer import AsyncInformer, Key
from gardener.runtime.kube import JOBS

__all__ = ["expires_at", "setup"]

log = logging.getLogger("gardener.kube_controller_manager.ttlafterfinished")

ACCOUNT = "ttl-after-finished-controller"


def expires_at(job: Mapping[str, Any]) -> float | None:
    """When a finished Job with a TTL may be deleted (seconds since the epoch); None when it is not to be."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if not isinstance(ttl, int) or is_terminating(job):
        return None
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            finished = parse_time(cond.get("lastTransitionTime"))
            return None if finished is None else finished + ttl
    return None


class TTLAfterFinishedController:
    def __init__(self, ctx: ControllerContext, client: AsyncKube) -> None:
        self.ctx = ctx
        self.client = client
        self.jobs: AsyncInformer = ctx.informer(JOBS)
        self.controller: AsyncController[Key] = AsyncController(
            "ttl-after-finished", self.reconcile, workers=ctx.options.workers
        )
        self.jobs.add_handler(self._on_job)

    def _on_job(self, _kind: str, job: dict[str, Any]) -> None:
        if expires_at(job) is not None:
            self.controller.add((str(meta(job).get("namespace") or ""), str(meta(job).get("name") or "")))

    def _left(self, job: Mapping[str, Any]) -> float | None:
        expiry = expires_at(job)
        return None if expiry is None else expiry - self.ctx.clock()

    async def reconcile(self, key: Key) -> Result | None:
        cached = self.jobs.get(*key)
        if cached is None:
            return None
        left = self._left(cached)
        if left is None:
            return None
        if left > 0:
            return Result(requeue_after=left)
        fresh = await self.client.get(JOBS.path(*key))
        if fresh is None:
            return None
        left = self._left(fresh)
        if left is None:
            return None
        if left > 0:
            return Result(requeue_after=left)
        options = {"propagationPolicy": "Foreground", "preconditions": {"uid": uid_of(fresh)}}
        log.info("Cleaning up Job", extra={"namespace": key[0], "job": key[1]})
        try:
            await self.client.request("DELETE", JOBS.path(*key), body=options)
        except (NotFound, Conflict):
            return None
        return None


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    return [TTLAfterFinishedController(ctx, client).controller]

"""Leader election through a coordination.k8s.io Lease, as client-go's leaderelection does it, for asyncio.

A candidate takes the Lease when it is free or its holder has not renewed it for `lease_duration`; the leader
renews every `retry_period` and gives up when it could not renew for `renew_deadline`: its work is cancelled
and `lead` raises `LeadershipLost` (upstream components exit then, and so do ours). Releasing on a clean stop
empties `holderIdentity`, so a successor need not wait out the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import AlreadyExists, ApiError, Conflict
from gardener.runtime.kube import LEASES, Obj

__all__ = ["LeaderElection", "LeadershipLost", "default_identity"]

log = logging.getLogger("gardener.runtime.leaderelection")


class LeadershipLost(Exception):
    pass


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def _micro(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: Any) -> float | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class LeaderElection:
    """kube's defaults: lease duration 15 s, renew deadline 10 s, retry period 2 s."""

    client: AsyncKube
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    async def lead(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Wait to become leader, then run `work` while renewing; return when `work` returns."""
        await self._acquire()
        log.info("Became leader", extra={"lease": f"{self.namespace}/{self.name}", "identity": self.identity})
        task = asyncio.create_task(work(), name=f"leader-{self.name}")
        try:
            while not task.done():
                done, _ = await asyncio.wait({task}, timeout=self.retry_period)
                if done:
                    break
                if not await self._renew_within_deadline():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    raise LeadershipLost(f"lost the lease {self.namespace}/{self.name}")
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._release()

    async def _acquire(self) -> None:
        while not await self._try():
            await asyncio.sleep(self.retry_period)

    async def _renew_within_deadline(self) -> bool:
        deadline = time.monotonic() + self.renew_deadline
        while time.monotonic() < deadline:
            if await self._try():
                return True
            await asyncio.sleep(min(self.retry_period, max(0.0, deadline - time.monotonic())))
        return False

    def _spec(self, old: Obj | None, now: float) -> Obj:
        spec = dict((old or {}).get("spec") or {})
        mine = spec.get("holderIdentity") == self.identity
        transitions = int(spec.get("leaseTransitions") or 0)
        if old is not None and not mine:
            transitions += 1
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=round(self.lease_duration),
            renewTime=_micro(now),
            leaseTransitions=transitions,
        )
        if not mine:
            spec["acquireTime"] = _micro(now)
        return spec

    async def _try(self) -> bool:
        """One attempt to take or renew the lease; True when we hold it now."""
        path = LEASES.path(self.namespace, self.name)
        now = time.time()
        try:
            old = await self.client.get(path)
            if old is None:
                body: Obj = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}
                body |= {"metadata": {"name": self.name, "namespace": self.namespace}, "spec": self._spec(None, now)}
                await self.client.create(LEASES.path(self.namespace), body)
                return True
            spec = old.get("spec") or {}
            holder = spec.get("holderIdentity")
            renewed = _parse(spec.get("renewTime")) or 0.0
            duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
            if holder and holder != self.identity and renewed + duration > now:
                return False
            await self.client.replace(path, {**old, "spec": self._spec(old, now)})
            return True
        except (AlreadyExists, Conflict):
            return False
        except ApiError as exc:
            log.warning("Lease not renewed", extra={"lease": f"{self.namespace}/{self.name}", "error": str(exc)[:300]})
            return False

    async def _release(self) -> None:
        path = LEASES.path(self.namespace, self.name)
        with contextlib.suppress(ApiError):
            old = await self.client.get(path)
            if old and (old.get("spec") or {}).get("holderIdentity") == self.identity:
                spec = {**old["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
                spec["renewTime"] = _micro(time.time())
                await self.client.replace(path, {**old, "spec": spec})

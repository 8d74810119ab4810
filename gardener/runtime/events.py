"""Events as Kubernetes components post them, for asyncio controllers: `EventRecorder.event(obj, ...)`.

Two flavours, as upstream: kube-controller-manager's legacy recorder writes core/v1 Events (`source.component`,
`count`, `firstTimestamp`/`lastTimestamp`) and folds a repeat of the same event into a PATCH of its count;
kube-scheduler writes events.k8s.io/v1 Events (`reportingController`, `action`, `eventTime`, `series`).
`kubectl describe` shows either. Posting never fails the caller: a lost event is logged and forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import EVENTS, Obj, Resource

__all__ = ["EVENTS_V1", "NORMAL", "WARNING", "EventRecorder", "object_reference"]

log = logging.getLogger("gardener.runtime.events")

EVENTS_V1 = Resource("events.k8s.io", "v1", "events", "Event")
NORMAL, WARNING = "Normal", "Warning"
#: repeats of one event within this many seconds update its count instead of making a new one (kube: 10 minutes)
AGGREGATE_WINDOW = 600.0
#: events remembered for aggregation (kube's LRU holds 4096)
REMEMBERED = 4096
#: messages are cut to this size (kube's validation allows 1 KiB for events.k8s.io notes)
MAX_MESSAGE = 1024


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def object_reference(obj: Mapping[str, Any]) -> Obj:
    m = obj.get("metadata") or {}
    ref = {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "namespace": m.get("namespace", ""),
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
        "resourceVersion": m.get("resourceVersion", ""),
    }
    return {k: v for k, v in ref.items() if v}


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int
    last: float


class EventRecorder:
    """Posts events for one component (`kube-controller-manager`'s controllers, `default-scheduler`, ...)."""

    def __init__(self, client: AsyncKube, *, component: str, host: str = "", new_api: bool = False) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.new_api = new_api
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, obj: Mapping[str, Any], type_: str, reason: str, message: str, *, action: str = "") -> None:
        """Post in the background: a reconcile does not wait for its events."""
        task = asyncio.create_task(self.event(obj, type_, reason, message, action=action))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Wait for the events posted in the background (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str, *, action: str = "") -> None:
        message = message[:MAX_MESSAGE]
        ref = object_reference(obj)
        namespace = str(ref.get("namespace") or "default")
        try:
            if self.new_api:
                await self._post_v1(ref, namespace, type_, reason, message, action or reason)
            else:
                await self._post_core(ref, namespace, type_, reason, message)
        except ApiError as exc:
            log.warning(
                "Event not posted", extra={"reason": reason, "object": ref.get("name", ""), "error": str(exc)[:300]}
            )

    def _name(self, ref: Mapping[str, Any]) -> str:
        return f"{ref.get('name', 'unknown')}.{time.time_ns():x}"

    async def _post_core(self, ref: Obj, namespace: str, type_: str, reason: str, message: str) -> None:
        key = (str(ref.get("uid", "")), namespace, str(ref.get("name", "")), type_, reason, message)
        seen = self._seen.get(key)
        now = time.monotonic()
        if seen is not None and now - seen.last < AGGREGATE_WINDOW:
            seen.count += 1
            seen.last = now
            self._seen.move_to_end(key)
            patch = {"count": seen.count, "lastTimestamp": _now()}
            try:
                await self.client.patch(EVENTS.path(namespace, seen.name), patch)
                return
            except ApiError:
                self._seen.pop(key, None)  # gone (expired or deleted): post it anew
        stamp = _now()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": self._name(ref), "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        created = await self.client.create(EVENTS.path(namespace), body)
        self._seen[key] = _Seen(name=str(created["metadata"]["name"]), namespace=namespace, count=1, last=now)
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)

    async def _post_v1(self, ref: Obj, namespace: str, type_: str, reason: str, message: str, action: str) -> None:
        body = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": self._name(ref), "namespace": namespace},
            "eventTime": _micro_now(),
            "reportingController": self.component,
            "reportingInstance": f"{self.component}-{self.host}" if self.host else self.component,
            "action": action,
            "reason": reason,
            "regarding": ref,
            "note": message,
            "type": type_,
        }
        await self.client.create(EVENTS_V1.path(namespace), body)

"""The care controller: keeps the health conditions of every Shoot on this seed fresh (Gardener's shoot care).

Every `period` seconds, and right after a reconcile, it checks each Shoot's control plane in the seed and the
shoot cluster itself, and writes `APIServerAvailable`, `ControlPlaneHealthy`, `EveryNodeReady` and
`SystemComponentsHealthy` plus the `shoot.gardener.cloud/status` label, touching the Shoot only when something
changed. Shoots still being created or being deleted are left to the shoot controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from gardener.apis.core import conditions as cond
from gardenlet.care import checks
from gardenlet.care.checks import Verdict
from gardenlet.components.base import labels_selector
from gardenlet.components.etcd import CONTROL_PLANE_ROLE
from gardenlet.components.secrets import load_admin
from gardenlet.kube import ApiException, Kube
from gardenlet.shoot import status as st
from gardenlet.shoot.reconciler import on_seed, shoot_path

log = logging.getLogger("gardenlet.care")

Obj = dict[str, Any]
EXPECTED_CONTROL_PLANE = ("StatefulSet/etcd-main", "Deployment/kube-apiserver")


@dataclass(frozen=True, kw_only=True)
class CareSettings:
    period: float = 10.0
    request_timeout: float = 5.0
    concurrency: int = 10


def _external_url(shoot: Obj) -> str | None:
    for address in (shoot.get("status") or {}).get("advertisedAddresses") or []:
        if address.get("name") == "external":
            return str(address["url"])
    return None


def _minimum_nodes(shoot: Obj) -> int:
    workers = ((shoot.get("spec") or {}).get("provider") or {}).get("workers") or []
    return sum(int(w.get("minimum") or 0) for w in workers)


class Care:
    def __init__(
        self,
        *,
        garden: Kube,
        seed: Kube,
        seed_name: str,
        settings: CareSettings | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.garden = garden
        self.seed = seed
        self.seed_name = seed_name
        self.settings = settings or CareSettings()
        self.clock = clock
        self._keys: set[str] = set()
        self._urgent: set[str] = set()
        self._wake = asyncio.Event()

    def track(self, shoot: Obj) -> None:
        """Called with every Shoot event of this seed."""
        m = shoot["metadata"]
        key = f"{m['namespace']}/{m['name']}"
        if m.get("deletionTimestamp") or not on_seed(shoot, self.seed_name):
            self._keys.discard(key)
        else:
            self._keys.add(key)

    def forget(self, key: str) -> None:
        """The Shoot is gone."""
        self._keys.discard(key)
        self._urgent.discard(key)

    def trigger(self, key: str) -> None:
        """Check this Shoot now (after a reconcile)."""
        self._keys.add(key)
        self._urgent.add(key)
        self._wake.set()

    async def run(self) -> None:
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def one(key: str) -> None:
            async with limit:
                try:
                    await self.check(key)
                except Exception:
                    log.exception("Health check failed", extra={"shoot": key})

        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.period)
            keys = set(self._urgent) if self._wake.is_set() else set(self._keys)
            self._wake.clear()
            self._urgent -= keys
            await asyncio.gather(*(one(key) for key in sorted(keys)))

    async def check(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        try:
            shoot = await self.garden.aget(shoot_path(namespace, name))
        except ApiException as exc:
            if exc.status != 403:  # a Shoot no longer on this seed, or gone
                raise
            shoot = None
        if shoot is None or not on_seed(shoot, self.seed_name) or shoot["metadata"].get("deletionTimestamp"):
            self._keys.discard(key)
            return
        status = shoot.get("status") or {}
        last = status.get("lastOperation") or {}
        if not status.get("technicalID") or not last or st.operation_type(shoot) != st.OperationType.RECONCILE:
            return
        verdicts = await self.verdicts(shoot)
        now = self.clock()
        existing = status.get("conditions")
        updates = [
            cond.updated_condition(
                cond.get_condition(existing, ctype),
                ctype=ctype,
                status=v.status,
                reason=v.reason,
                message=v.message,
                now=now,
            )
            for ctype, v in verdicts.items()
        ]
        merged = cond.merge_conditions(existing, *updates)
        if merged != (existing or []):
            body = {
                "metadata": {"resourceVersion": shoot["metadata"]["resourceVersion"]},
                "status": {"conditions": merged},
            }
            try:
                shoot = await self.garden.amerge_patch(shoot_path(namespace, name, "status"), body) or shoot
            except ApiException as exc:
                if exc.status != 409:
                    raise
                return  # changed meanwhile: the next round checks again
        label = str(st.health((shoot.get("status") or {}).get("lastOperation"), merged))
        if (shoot["metadata"].get("labels") or {}).get(st.STATUS_LABEL) != label:
            await self.garden.amerge_patch(
                shoot_path(namespace, name), {"metadata": {"labels": {st.STATUS_LABEL: label}}}
            )

    async def verdicts(self, shoot: Obj) -> dict[str, Verdict]:
        status = shoot.get("status") or {}
        if status.get("hibernated"):
            asleep = Verdict(cond.TRUE, "ShootHibernated", "Shoot cluster is hibernated.")
            return {t: asleep for t in self._types()}
        technical_id = str(status["technicalID"])
        workerless = not _minimum_nodes(shoot) and not ((shoot.get("spec") or {}).get("provider") or {}).get("workers")
        result = {cond.SHOOT_CONTROL_PLANE_HEALTHY: await self._control_plane(technical_id)}
        url = _external_url(shoot)
        credentials = await load_admin(self.seed, technical_id)
        if url is None or credentials is None:
            missing = Verdict(cond.UNKNOWN, "NotYetReconciled", "The shoot has no API server address or CA yet.")
            result[cond.SHOOT_API_SERVER_AVAILABLE] = missing
        else:
            result[cond.SHOOT_API_SERVER_AVAILABLE] = await checks.api_server_available(
                url, credentials[0], timeout=self.settings.request_timeout
            )
        if result[cond.SHOOT_API_SERVER_AVAILABLE].status != cond.TRUE or url is None or credentials is None:
            down = Verdict(
                cond.UNKNOWN, "APIServerDown", "Cannot look into the shoot: its API server is not available."
            )
            if workerless:
                result[cond.SHOOT_EVERY_NODE_READY] = checks.every_node_ready([], workerless=True, minimum=0)
            else:
                result[cond.SHOOT_EVERY_NODE_READY] = down
            result[cond.SHOOT_SYSTEM_COMPONENTS_HEALTHY] = down
            return result
        ctx = checks.ssl_context(credentials[0], credentials[1])
        try:
            nodes = [] if workerless else await self._items(url, "/api/v1/nodes", ctx, "Node")
            system = [
                *await self._items(url, "/apis/apps/v1/namespaces/kube-system/deployments", ctx, "Deployment"),
                *await self._items(url, "/apis/apps/v1/namespaces/kube-system/statefulsets", ctx, "StatefulSet"),
            ]
        except (OSError, TimeoutError, aiohttp.ClientError, ValueError) as exc:
            broken = Verdict(cond.UNKNOWN, "RequestFailed", f"Reading from the shoot failed: {exc!r}"[:500])
            result[cond.SHOOT_EVERY_NODE_READY] = broken
            result[cond.SHOOT_SYSTEM_COMPONENTS_HEALTHY] = broken
            return result
        result[cond.SHOOT_EVERY_NODE_READY] = checks.every_node_ready(
            nodes, workerless=workerless, minimum=_minimum_nodes(shoot)
        )
        result[cond.SHOOT_SYSTEM_COMPONENTS_HEALTHY] = checks.system_components(system)
        return result

    @staticmethod
    def _types() -> tuple[str, ...]:
        return (
            cond.SHOOT_API_SERVER_AVAILABLE,
            cond.SHOOT_CONTROL_PLANE_HEALTHY,
            cond.SHOOT_EVERY_NODE_READY,
            cond.SHOOT_SYSTEM_COMPONENTS_HEALTHY,
        )

    async def _items(self, url: str, path: str, ctx: ssl.SSLContext, kind: str) -> list[Obj]:
        """The items of a shoot list, each with its kind (lists leave it out)."""
        code, body = await checks.get_json(f"{url}{path}", ctx, timeout=self.settings.request_timeout)
        if code != 200 or not isinstance(body, dict):
            raise ValueError(f"GET {path} answered {code}")
        return [{**item, "kind": kind} for item in body.get("items") or []]

    async def _control_plane(self, namespace: str) -> Verdict:
        selector = {"labelSelector": labels_selector(CONTROL_PLANE_ROLE)}
        workloads: list[Obj] = []
        for plural, kind in (("deployments", "Deployment"), ("statefulsets", "StatefulSet")):
            listed = await self.seed.araw("GET", f"/apis/apps/v1/namespaces/{namespace}/{plural}", params=selector)
            workloads += [{**w, "kind": kind} for w in (listed or {}).get("items") or []]
        return checks.control_plane(workloads, expected=EXPECTED_CONTROL_PLANE)

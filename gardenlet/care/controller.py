"""The care controller: keeps the health conditions of every Shoot on this seed fresh (Gardener's shoot care).

Every `period` seconds, and right after a reconcile, it checks each Shoot's control plane in the seed and the
shoot cluster itself, and writes `APIServerAvailable`, `ControlPlaneHealthy`, `EveryNodeReady` and
`SystemComponentsHealthy` plus the `shoot.gardener.cloud/status` label, touching the Shoot only when something
changed. A hibernated Shoot is healthy only once its control plane really is scaled down: nothing is assumed.
Shoots still being created or being deleted are left to the shoot controller.

Each Shoot is a key of the runtime's controller loop, requeued every `period`: one check per Shoot at a time,
`concurrency` Shoots at once, and every line logged during a check names the Shoot.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from gardener.apis.core import conditions as cond
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import Conflict, Forbidden
from gardener.runtime.kube import Kube, resource_path
from gardener.runtime.workqueue import Backoff
from gardenlet import shootstatus as st
from gardenlet.care import checks
from gardenlet.care.checks import Verdict
from gardenlet.components.base import labels_selector
from gardenlet.components.etcd import CONTROL_PLANE_ROLE
from gardenlet.components.secrets import load_admin
from gardenlet.shootstatus import on_seed, shoot_path

log = logging.getLogger("gardenlet.care")

Obj = dict[str, Any]
EXPECTED_CONTROL_PLANE = (
    "StatefulSet/etcd-main",
    "Deployment/kube-apiserver",
    "Deployment/kube-controller-manager",
    "Deployment/kube-scheduler",
)
#: Gardener gives a workerless shoot no scheduler
WORKERLESS_CONTROL_PLANE = tuple(name for name in EXPECTED_CONTROL_PLANE if name != "Deployment/kube-scheduler")
HIBERNATED = Verdict(cond.TRUE, "ShootHibernated", "Shoot cluster is hibernated.")


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


def _workerless(shoot: Obj) -> bool:
    return not ((shoot.get("spec") or {}).get("provider") or {}).get("workers")


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
        #: Shoots being checked periodically; a Shoot seen again after it left starts over
        self._keys: set[str] = set()
        # A failed check is retried at the next period, as a successful one is repeated then.
        period = Backoff(base=self.settings.period, cap=self.settings.period)
        self.controller: AsyncController[str] = AsyncController(
            "care", self._reconcile, workers=self.settings.concurrency, backoff=period
        )

    def track(self, shoot: Obj) -> None:
        """Called with every Shoot event of this seed: start checking a Shoot not checked yet."""
        m = shoot["metadata"]
        key = f"{m['namespace']}/{m['name']}"
        if m.get("deletionTimestamp") or not on_seed(shoot, self.seed_name):
            self._keys.discard(key)  # a pending check finds it so and stops
        elif key not in self._keys:
            self._keys.add(key)
            self.controller.add(key)

    def forget(self, key: str) -> None:
        """The Shoot is gone."""
        self._keys.discard(key)
        self.controller.queue.discard(key)

    def trigger(self, key: str) -> None:
        """Check this Shoot now (after a reconcile)."""
        self._keys.add(key)
        self.controller.add(key)

    async def run(self) -> None:
        """Check until cancelled."""
        await self.controller.run()

    async def _reconcile(self, key: str) -> Result | None:
        return Result(requeue_after=self.settings.period) if await self.check(key) else None

    async def check(self, key: str) -> bool:
        """Check one Shoot and write what changed; whether to keep checking it."""
        namespace, _, name = key.partition("/")
        try:
            shoot = await self.garden.aget(shoot_path(namespace, name))
        except Forbidden:  # a Shoot no longer on this seed, or gone
            shoot = None
        if shoot is None or not on_seed(shoot, self.seed_name) or shoot["metadata"].get("deletionTimestamp"):
            self._keys.discard(key)
            return False
        status = shoot.get("status") or {}
        last = status.get("lastOperation") or {}
        if not status.get("technicalID") or not last or st.operation_type(shoot) != st.OperationType.RECONCILE:
            return True
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
            except Conflict:
                return True  # changed meanwhile: the next round checks again
        label = str(st.health((shoot.get("status") or {}).get("lastOperation"), merged))
        if (shoot["metadata"].get("labels") or {}).get(st.STATUS_LABEL) != label:
            await self.garden.amerge_patch(
                shoot_path(namespace, name), {"metadata": {"labels": {st.STATUS_LABEL: label}}}
            )
        return True

    async def verdicts(self, shoot: Obj) -> dict[str, Verdict]:
        status = shoot.get("status") or {}
        technical_id = str(status["technicalID"])
        expected = WORKERLESS_CONTROL_PLANE if _workerless(shoot) else EXPECTED_CONTROL_PLANE
        if status.get("hibernated"):
            # Nothing of the shoot runs to look into; what is checked is that its control plane really is down.
            result = {t: HIBERNATED for t in self._types()}
            result[cond.SHOOT_CONTROL_PLANE_HEALTHY] = await self._hibernated_control_plane(technical_id, expected)
            return result
        workerless = not _minimum_nodes(shoot) and _workerless(shoot)
        result = {cond.SHOOT_CONTROL_PLANE_HEALTHY: await self._control_plane(technical_id, expected)}
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

    async def _control_plane_objects(self, namespace: str, *kinds: str) -> list[Obj]:
        """The control-plane objects of these kinds (Deployment, StatefulSet, Pod) in the seed, each with its kind."""
        selector = {"labelSelector": labels_selector(CONTROL_PLANE_ROLE)}
        found: list[Obj] = []
        for kind in kinds:
            api_version = "v1" if kind == "Pod" else "apps/v1"
            listed = await self.seed.araw("GET", resource_path(api_version, kind, namespace), params=selector)
            found += [{**obj, "kind": kind} for obj in (listed or {}).get("items") or []]
        return found

    async def _control_plane(self, namespace: str, expected: tuple[str, ...]) -> Verdict:
        workloads = await self._control_plane_objects(namespace, "Deployment", "StatefulSet")
        return checks.control_plane(workloads, expected=expected)

    async def _hibernated_control_plane(self, namespace: str, expected: tuple[str, ...]) -> Verdict:
        workloads = await self._control_plane_objects(namespace, "Deployment", "StatefulSet")
        pods = await self._control_plane_objects(namespace, "Pod")
        return checks.hibernated_control_plane(workloads, pods, expected=expected)

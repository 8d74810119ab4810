"""What every controller of the controller manager is given: clients, shared informers, events, options.

`informer(resource)` hands out one cache per resource for the whole process (upstream's shared informer
factory); the manager starts them all and waits for them to sync before any controller works. `client_for`
gives a controller its own identity when `--use-service-account-credentials` is set: the ServiceAccount
`kube-system/<name>` with a token from the TokenRequest API, as upstream's clientbuilder does.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import AlreadyExists
from gardener.runtime.events import EventRecorder
from gardener.runtime.informer import AsyncInformer
from gardener.runtime.kube import SERVICEACCOUNTS, Resource

__all__ = ["ControllerContext", "Options", "Startable"]

log = logging.getLogger("gardener.kube_controller_manager")

#: tokens of the controllers' ServiceAccounts live this long and are renewed at 80 % of it (kube: 1 h)
TOKEN_SECONDS = 3600


class Startable(Protocol):
    """A running part of a controller: `AsyncController` is one."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Options:
    """kube-controller-manager's flags that the controllers read (upstream defaults)."""

    #: --node-monitor-period: how often node health is checked
    node_monitor_period: float = 5.0
    #: --node-monitor-grace-period: a Node not heard of for this long becomes Ready=Unknown (kube 1.32: 50 s)
    node_monitor_grace_period: float = 50.0
    #: --node-startup-grace-period: the same for a Node that was never Ready
    node_startup_grace_period: float = 60.0
    #: --terminated-pod-gc-threshold: finished pods kept before the oldest are deleted
    terminated_pod_gc_threshold: int = 12500
    #: --horizontal-pod-autoscaler-sync-period
    hpa_sync_period: float = 15.0
    #: --node-eviction-rate, --secondary-node-eviction-rate: Nodes tainted per second in a healthy / partly
    #: disrupted zone
    node_eviction_rate: float = 0.1
    secondary_node_eviction_rate: float = 0.01
    #: --unhealthy-zone-threshold, --large-cluster-size-threshold
    unhealthy_zone_threshold: float = 0.55
    large_cluster_size_threshold: int = 50
    #: --resource-quota-sync-period: full recount of every quota
    resource_quota_sync_period: float = 300.0
    #: --max-endpoints-per-slice
    max_endpoints_per_slice: int = 100
    #: --concurrent-*-syncs (one figure for all here)
    workers: int = 5


@dataclass
class ControllerContext:
    client: AsyncKube
    options: Options = field(default_factory=Options)
    #: the server, TLS context and whether to give each controller its own ServiceAccount identity
    server: str = ""
    ssl_context: ssl.SSLContext | bool = True
    use_service_account_credentials: bool = False
    host: str = ""
    #: upstream's form, `kube-controller-manager/<version> (<os>/<arch>) kubernetes/<commit>`
    user_agent: str = ""
    clock: Callable[[], float] = time.time
    informers: dict[Resource, AsyncInformer] = field(default_factory=dict)
    _clients: dict[str, AsyncKube] = field(default_factory=dict)
    _recorders: dict[tuple[str, str], EventRecorder] = field(default_factory=dict)
    _refreshers: list[asyncio.Task[None]] = field(default_factory=list)

    def informer(self, resource: Resource) -> AsyncInformer:
        """The process's one cache of `resource`; handlers added before `start_informers` see every object."""
        if resource not in self.informers:
            self.informers[resource] = AsyncInformer(self.client, resource)
        return self.informers[resource]

    async def client_for(self, account: str) -> AsyncKube:
        """The client a controller writes with: its own ServiceAccount's, or the manager's."""
        if not self.use_service_account_credentials:
            return self.client
        if account not in self._clients:
            token = await self._token(account)
            agent = f"{self.user_agent}/system:serviceaccount:kube-system:{account}" if self.user_agent else ""
            client = AsyncKube(server=self.server, ssl_context=self.ssl_context, token=token, user_agent=agent)
            self._clients[account] = client
            self._refreshers.append(asyncio.create_task(self._refresh(account, client), name=f"token-{account}"))
        return self._clients[account]

    async def recorder_for(self, account: str, *, component: str = "") -> EventRecorder:
        """Events posted as `account`, with upstream's `source.component` (the controller's name, unless the
        controller posts under another name than its account's, as the taint eviction controller does)."""
        name = component or account
        if (account, name) not in self._recorders:
            client = await self.client_for(account)
            self._recorders[(account, name)] = EventRecorder(client, component=name, host=self.host)
        return self._recorders[(account, name)]

    async def _token(self, account: str) -> str:
        ns = "kube-system"
        try:
            body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": ns}}
            await self.client.create(SERVICEACCOUNTS.path(ns), body)
        except AlreadyExists:
            pass
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": TOKEN_SECONDS, "audiences": []},
        }
        answer = await self.client.create(SERVICEACCOUNTS.path(ns, account, "token"), request)
        return str((answer.get("status") or {}).get("token") or "")

    async def _refresh(self, account: str, client: AsyncKube) -> None:
        while True:
            await asyncio.sleep(TOKEN_SECONDS * 0.8)
            try:
                client.set_token(await self._token(account))
            except Exception as exc:
                log.warning("Token not renewed", extra={"account": account, "error": str(exc)[:300]})

    async def start_informers(self) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(i.run(), name=f"informer-{r.plural}") for r, i in self.informers.items()]
        for informer in list(self.informers.values()):
            await informer.synced.wait()
        return tasks

    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers.values())

    async def close(self) -> None:
        for task in self._refreshers:
            task.cancel()
        await asyncio.gather(*self._refreshers, return_exceptions=True)
        for recorder in self._recorders.values():
            await recorder.flush()
        for client in self._clients.values():
            await client.close()

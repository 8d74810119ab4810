"""serviceaccount-controller: the `default` ServiceAccount in every active namespace, put back when deleted.

Pods that name no ServiceAccount run as `default`, and the ServiceAccount admission plugin refuses pods whose
account is missing, so every namespace needs one, as upstream's pkg/controller/serviceaccount ensures. A
namespace that is terminating gets nothing new. (The embedded API server keeps `default` accounts itself in the
garden; creating one that already exists is harmless.)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.objects import meta
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import AlreadyExists, Forbidden
from gardener.runtime.informer import DELETED, AsyncInformer
from gardener.runtime.kube import NAMESPACES, SERVICEACCOUNTS, Obj

__all__ = ["ACCOUNTS", "missing_accounts", "setup"]

log = logging.getLogger("gardener.kube_controller_manager.serviceaccount")

NAME = "service-account-controller"
#: upstream's ServiceAccountsControllerOptions.ServiceAccounts default
ACCOUNTS = ("default",)


def missing_accounts(namespace: Mapping[str, Any] | None, existing: set[str]) -> list[str]:
    """The accounts to create in a namespace: none unless it is Active."""
    if namespace is None or (namespace.get("status") or {}).get("phase") != "Active":
        return []
    return [name for name in ACCOUNTS if name not in existing]


class ServiceAccounts:
    def __init__(self, ctx: ControllerContext, *, client: AsyncKube) -> None:
        self.client = client
        self.namespaces: AsyncInformer = ctx.informer(NAMESPACES)
        self.accounts: AsyncInformer = ctx.informer(SERVICEACCOUNTS)
        self.controller: AsyncController[str] = AsyncController(
            NAME, self.reconcile, workers=max(ctx.options.workers, 1)
        )
        self.namespaces.add_handler(self._on_namespace)
        self.accounts.add_handler(self._on_account)

    def start(self) -> None:
        self.controller.start()

    async def stop(self) -> None:
        await self.controller.stop()

    def _on_namespace(self, kind: str, namespace: Obj) -> None:
        if kind != DELETED:
            self.controller.add(str(meta(namespace).get("name") or ""))

    def _on_account(self, kind: str, account: Obj) -> None:
        if kind == DELETED:
            self.controller.add(str(meta(account).get("namespace") or ""))

    async def reconcile(self, namespace: str) -> Result | None:
        existing = {str(meta(sa).get("name")) for sa in self.accounts.items(namespace)}
        for name in missing_accounts(self.namespaces.get("", namespace), existing):
            body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
            try:
                await self.client.create(SERVICEACCOUNTS.path(namespace), body)
                log.info("Created ServiceAccount", extra={"namespace": namespace, "account": name})
            except AlreadyExists:
                pass
            except Forbidden as exc:
                causes = (exc.status_doc.get("details") or {}).get("causes") or []
                if not any(c.get("type") == "NamespaceTerminating" for c in causes if isinstance(c, Mapping)):
                    raise
        return None


async def setup(ctx: ControllerContext) -> list[Startable]:
    return [ServiceAccounts(ctx, client=await ctx.client_for(NAME))]

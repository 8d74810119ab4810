"""kopf wiring of the garden controllers: which events reach which reconciler."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from gardener.controllermanager import csrapprover, protection, seedlifecycle
from gardener.controllermanager.csrapprover import CSRApprover
from gardener.controllermanager.project import FINALIZER, NamespaceTaken, ProjectReconciler
from gardener.controllermanager.protection import Protection, ProtectionConfig
from gardener.controllermanager.seedlifecycle import LifecycleConfig, SeedLifecycle
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import Kube

log = logging.getLogger("gardener.controllermanager")


def build_registry(
    *,
    kubeconfig: str,
    lifecycle: LifecycleConfig | None = None,
    token_grace: float = 60.0,
    protection_config: ProtectionConfig | None = None,
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    # One client for every controller: its connection pool is thread-safe.
    kube = Kube.from_kubeconfig(kubeconfig, field_manager="gardener-controller-manager")
    projects = ProjectReconciler(kube)
    csrapprover.register(registry, CSRApprover(kube, token_grace=token_grace))
    seedlifecycle.register(registry, SeedLifecycle(kube, lifecycle or LifecycleConfig()))
    protection.register(registry, Protection(kube, protection_config or ProtectionConfig()))

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix="controllermanager.gardener.cloud"
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix="controllermanager.gardener.cloud", key="last-handled-configuration"
        )
        settings.posting.level = logging.WARNING
        settings.watching.reconnect_backoff = 1.0
        settings.networking.error_backoffs = [0.5, 1, 2, 5, 10]
        await asyncio.to_thread(projects.ensure_shared)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.create("core.gardener.cloud", "v1beta1", "projects", registry=registry)
    @kopf.on.update("core.gardener.cloud", "v1beta1", "projects", registry=registry)
    @kopf.on.resume("core.gardener.cloud", "v1beta1", "projects", registry=registry)
    async def reconcile_project(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        project = dict(body)
        try:
            status = await asyncio.to_thread(projects.reconcile, project)
        except NamespaceTaken as exc:
            patch.status["phase"] = "Failed"
            kopf.warn(body, reason="NamespaceTaken", message=str(exc))
            raise kopf.PermanentError(str(exc)) from exc
        except ApiError as exc:
            raise kopf.TemporaryError(f"API error {exc.status} while reconciling", delay=2) from exc
        for key, value in status.items():
            patch.status[key] = value

    @kopf.on.delete("core.gardener.cloud", "v1beta1", "projects", registry=registry)
    async def delete_project(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        if body.get("status", {}).get("phase") != "Terminating":
            patch.status["phase"] = "Terminating"
        try:
            done = await asyncio.to_thread(projects.delete_content, dict(body))
        except ApiError as exc:
            raise kopf.TemporaryError(f"API error {exc.status} while deleting the project", delay=2) from exc
        if not done:
            raise kopf.TemporaryError("waiting for the project's shoots and namespace to be deleted", delay=1)

    return registry

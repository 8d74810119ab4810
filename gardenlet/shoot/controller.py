"""The shoot controller loop: an informer on the garden's Shoots feeds the keys of this seed's Shoots into the
runtime's controller loop, whose workers reconcile them in parallel.

Shoots are listed and watched across all namespaces and filtered here by `spec.seedName`/`status.seedName`
(field selectors on custom resources cover only metadata). The runtime's queue hands a key to one worker at a
time; events that arrive meanwhile queue it once more. A periodic resync re-queues every cached Shoot, so a lost
event delays work but never loses it. Every line logged during a reconcile carries the Shoot's key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.informer import DELETED, Informer
from gardener.runtime.kube import Kube, Obj, Resource
from gardener.runtime.workqueue import Backoff
from gardenlet.botanist.profile import SeedProfile, seed_profile
from gardenlet.care.controller import Care, CareSettings
from gardenlet.config import FIELD_MANAGER
from gardenlet.shoot.flow import FlowSettings
from gardenlet.shoot.reconciler import ShootReconciler
from gardenlet.shootstatus import on_seed

__all__ = ["SHOOTS", "ShootController", "ShootControllerSettings", "run_shoot_controller"]

log = logging.getLogger("gardenlet.shoot")

SHOOTS = Resource("core.gardener.cloud", "v1beta1", "shoots", "Shoot")
WATCH_RETRY_SECONDS = 2.0
#: how long one watch request of the Shoots lasts before the informer resumes it
WATCH_TIMEOUT_SECONDS = 60
#: how often the kubeconfig files are looked at for renewed credentials
CREDENTIALS_CHECK_SECONDS = 30.0


_FLOW = FlowSettings()
_CARE = CareSettings()


@dataclass(frozen=True, kw_only=True)
class ShootControllerSettings:
    workers: int = 5
    #: every Shoot is looked at this often even without events
    resync_seconds: float = 300.0
    #: first and longest wait before retrying a Shoot whose reconcile failed
    backoff: tuple[float, float] = (5.0, 300.0)
    #: failing reconciles are retried this long (from the first failure) before the operation turns Failed
    retry_window_seconds: float = 12 * 3600.0
    flow: FlowSettings = _FLOW
    care: CareSettings = _CARE
    #: overrides of the seed's profile (see `gardenlet.botanist.profile`), e.g. from the gardenlet configuration
    profile_overrides: dict[str, Any] = field(default_factory=dict)


def _key(shoot: Obj) -> str:
    m = shoot["metadata"]
    return f"{m['namespace']}/{m['name']}"


class ShootController:
    """The Shoots of one seed: informer events and resyncs become keys of an `AsyncController`."""

    def __init__(
        self,
        *,
        garden: Kube,
        reconcile: Callable[[str], Awaitable[Result | None]],
        seed_name: str,
        settings: ShootControllerSettings,
        care: Care | None = None,
    ) -> None:
        self.seed_name = seed_name
        self.settings = settings
        self.care = care
        base, cap = settings.backoff
        self.controller: AsyncController[str] = AsyncController(
            "shoot", reconcile, workers=settings.workers, backoff=Backoff(base=base, cap=cap)
        )
        self.informer = Informer(
            garden, SHOOTS, name="shoots", watch_timeout=WATCH_TIMEOUT_SECONDS, retry=WATCH_RETRY_SECONDS
        )
        self.informer.add_handler(self._on_event)
        self._loop: asyncio.AbstractEventLoop | None = None

    def _on_event(self, kind: str, shoot: Obj) -> None:
        """Called in the informer's thread: hand the event to the event loop, which owns the queue."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the controller has stopped
            loop.call_soon_threadsafe(self.offer, shoot, kind == DELETED)

    def offer(self, shoot: Obj, deleted: bool = False) -> None:
        """Queue a Shoot of this seed (in the event loop); forget its retries once it is gone."""
        if not on_seed(shoot, self.seed_name):
            return
        key = _key(shoot)
        if deleted:
            self.controller.queue.discard(key)
            if self.care is not None:
                self.care.forget(key)
        else:
            self.controller.add(key)
            if self.care is not None:
                self.care.track(shoot)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            for shoot in self.informer.items():
                self.offer(shoot)

    async def run(self) -> None:
        """Watch and reconcile until cancelled."""
        self._loop = asyncio.get_running_loop()
        stop = threading.Event()
        # The informer runs in a daemon thread of its own: a watch blocks for up to a minute and must not hold up
        # the process when it stops.
        self.informer.start(stop)
        try:
            await asyncio.gather(self.controller.run(), self._resync())
        finally:
            stop.set()
            self._loop = None


async def run_shoot_controller(
    *,
    garden_kubeconfig: Path | str,
    seed_kubeconfig: Path | str,
    seed_name: str,
    settings: ShootControllerSettings | None = None,
    profile: SeedProfile | None = None,
) -> None:
    """Reconcile the Shoots of `seed_name` and keep their health conditions fresh, until cancelled."""
    settings = settings or ShootControllerSettings()
    garden = Kube.from_kubeconfig(garden_kubeconfig, field_manager=FIELD_MANAGER)
    seed = Kube.from_kubeconfig(seed_kubeconfig, field_manager=FIELD_MANAGER)
    if profile is None:
        profile = await seed_profile(seed, **settings.profile_overrides)
    care = Care(garden=garden, seed=seed, seed_name=seed_name, settings=settings.care)
    reconciler = ShootReconciler(
        garden=garden,
        seed=seed,
        seed_name=seed_name,
        profile=profile,
        settings=settings.flow,
        backoff=settings.backoff,
        retry_window_seconds=settings.retry_window_seconds,
        on_done=care.trigger,
    )
    controller = ShootController(
        garden=garden, reconcile=reconciler.reconcile, seed_name=seed_name, settings=settings, care=care
    )

    async def refresh_credentials() -> None:
        while True:
            await asyncio.sleep(CREDENTIALS_CHECK_SECONDS)
            for kube in (garden, seed):
                try:
                    if await asyncio.to_thread(kube.refresh):
                        log.info("Reloaded credentials", extra={"kubeconfig": str(kube.kubeconfig)})
                except Exception as exc:  # a half-written or removed file: keep the credentials we have
                    log.warning(
                        "Cannot reload credentials", extra={"kubeconfig": str(kube.kubeconfig), "error": repr(exc)}
                    )

    log.info("Shoot controller running", extra={"seed": seed_name, "profile": repr(profile)})
    try:
        await asyncio.gather(controller.run(), care.run(), refresh_credentials())
    finally:
        garden.close()
        seed.close()

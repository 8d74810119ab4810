"""The shoot controller loop: watch Shoots in the garden, queue those on this seed, reconcile them in parallel.

Shoots are listed and watched across all namespaces and filtered here by `spec.seedName`/`status.seedName`
(field selectors on custom resources cover only metadata). A key is reconciled by one worker at a time; events
that arrive meanwhile queue it once more. A periodic resync re-queues every Shoot, so a lost event delays work
but never loses it.
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

from gardenlet.botanist.profile import SeedProfile, profile_for
from gardenlet.care.controller import Care, CareSettings
from gardenlet.kube import ApiException, Kube
from gardenlet.shoot.flow import FlowSettings
from gardenlet.shoot.reconciler import CORE, ShootReconciler, on_seed

log = logging.getLogger("gardenlet.shoot")

SHOOTS = f"{CORE}/shoots"
WATCH_RETRY_SECONDS = 2.0
#: how often the kubeconfig files are looked at for renewed credentials
CREDENTIALS_CHECK_SECONDS = 30.0


_FLOW = FlowSettings()
_CARE = CareSettings()


@dataclass(frozen=True, kw_only=True)
class ShootControllerSettings:
    workers: int = 5
    #: every Shoot is looked at this often even without events
    resync_seconds: float = 300.0
    #: first and longest wait before retrying a Shoot whose flow failed
    backoff: tuple[float, float] = (5.0, 300.0)
    #: failing reconciles are retried this long (from the first failure) before the operation turns Failed
    retry_window_seconds: float = 12 * 3600.0
    flow: FlowSettings = _FLOW
    care: CareSettings = _CARE
    #: overrides of the seed's profile (see `gardenlet.botanist.profile`), e.g. from the gardenlet configuration
    profile_overrides: dict[str, Any] = field(default_factory=dict)


class WorkQueue:
    """Keys to work on: deduplicated, one worker per key, delayed re-adds."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._again: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def add(self, key: str) -> None:
        if key in self._active:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        loop = asyncio.get_running_loop()
        timer = self._timers.get(key)
        if timer is not None and timer.when() <= loop.time() + delay:
            return
        if timer is not None:
            timer.cancel()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def get(self) -> str:
        key = await self._queue.get()
        self._queued.discard(key)
        self._active.add(key)
        return key

    def done(self, key: str) -> None:
        self._active.discard(key)
        if key in self._again:
            self._again.discard(key)
            self.add(key)

    def forget(self, key: str) -> None:
        """Drop a pending delayed re-add (the object is gone); a queued or running key still runs once."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


def _key(shoot: dict[str, Any]) -> str:
    m = shoot["metadata"]
    return f"{m['namespace']}/{m['name']}"


class ShootController:
    def __init__(
        self,
        *,
        garden: Kube,
        reconcile: Callable[[str], Awaitable[float | None]],
        seed_name: str,
        settings: ShootControllerSettings,
        on_shoot: Callable[[dict[str, Any]], None] = lambda _: None,
        on_gone: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.garden = garden
        self.reconcile = reconcile
        self.seed_name = seed_name
        self.settings = settings
        self.on_shoot = on_shoot
        self.on_gone = on_gone
        self.queue = WorkQueue()
        self._failures: dict[str, int] = {}

    def _offer(self, shoot: dict[str, Any], deleted: bool = False) -> None:
        if not on_seed(shoot, self.seed_name):
            return
        key = _key(shoot)
        if deleted:
            self.queue.forget(key)
            self._failures.pop(key, None)
            self.on_gone(key)
        else:
            self.queue.add(key)
            self.on_shoot(shoot)

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                delay = await self.reconcile(key)
                self._failures.pop(key, None)
            except Exception:
                failures = self._failures[key] = self._failures.get(key, 0) + 1
                base, cap = self.settings.backoff
                delay = min(base * 2 ** (failures - 1), cap)
                log.exception("Reconciling shoot failed", extra={"shoot": key, "retryIn": delay})
            finally:
                self.queue.done(key)
            if delay:
                self.queue.add_after(key, delay)

    def _list(self) -> tuple[list[dict[str, Any]], str]:
        result = self.garden.raw("GET", SHOOTS)
        return list(result.get("items") or []), str(result["metadata"].get("resourceVersion") or "")

    def _watch(self, loop: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
        """List, then watch until the stream breaks; relist after every break (blocking, in a thread)."""

        def offer(shoot: dict[str, Any], deleted: bool = False) -> bool:
            try:
                loop.call_soon_threadsafe(self._offer, shoot, deleted)
            except RuntimeError:  # the loop is closed: the controller has stopped
                return False
            return True

        while not stop.is_set():
            try:
                shoots, version = self._list()
                if not all(offer(shoot) for shoot in shoots):
                    return
                for event in self.garden.watch(SHOOTS, resource_version=version, timeout=60):
                    if stop.is_set():
                        return
                    if event.get("type") == "ERROR":
                        break
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind not in ("ADDED", "MODIFIED", "DELETED") or not obj.get("metadata"):
                        continue  # bookmarks
                    if not offer(obj, deleted=kind == "DELETED"):
                        return
            except (ApiException, OSError, ValueError) as exc:
                log.warning("Watching shoots failed, relisting", extra={"error": repr(exc)[:300]})
                stop.wait(WATCH_RETRY_SECONDS)
            except Exception as exc:  # urllib3 protocol errors and the like
                log.warning("Watch stream broke, relisting", extra={"error": repr(exc)[:300]})
                stop.wait(WATCH_RETRY_SECONDS)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            with contextlib.suppress(ApiException, OSError):
                shoots, _ = await asyncio.to_thread(self._list)
                for shoot in shoots:
                    self._offer(shoot)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        # A daemon thread of its own, not the default executor: a watch blocks for up to a minute and must not
        # hold up the process when it stops.
        threading.Thread(target=self._watch, args=(loop, stop), name="shoot-watch", daemon=True).start()
        tasks = [asyncio.create_task(self._worker(), name=f"shoot-worker-{i}") for i in range(self.settings.workers)]
        tasks.append(asyncio.create_task(self._resync(), name="shoot-resync"))
        try:
            await asyncio.gather(*tasks)
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.queue.close()


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
    garden = Kube.from_kubeconfig(garden_kubeconfig)
    seed = Kube.from_kubeconfig(seed_kubeconfig)
    if profile is None:
        seed_obj = await garden.aget(f"{CORE}/seeds/{seed_name}")
        profile = profile_for(seed_obj, **settings.profile_overrides)
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
        garden=garden,
        reconcile=reconciler.reconcile,
        seed_name=seed_name,
        settings=settings,
        on_shoot=care.track,
        on_gone=care.forget,
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

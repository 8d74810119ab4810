"""One container's life: start (or adopt), postStart, probe, restart with backoff, preStop and stop; and its status.

The runner owns the container's process and reports a Kubernetes `ContainerStatus`. How the
argv and environment are built is the pod's business (`Launcher`), so the runner only knows
processes, probes, lifecycle hooks and restart policy. It also keeps the container's log readable as the kubelet
API serves it (`logs`): the last instance's log is kept as the previous one at each start, and the
running instance's log is indexed with timestamps.

Killing a container follows upstream's `killContainer`: the preStop handler runs first, within the grace
period, and the grace left after it (whole seconds, never under two) is the time between SIGTERM and SIGKILL.
A failing postStart handler kills the container the same way and counts as a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from extensions.provider_local.nodeagent.expand import ConfigError
from extensions.provider_local.nodeagent.images import ImageError
from extensions.provider_local.nodeagent.logs import LOG, keep_index, keep_previous
from extensions.provider_local.nodeagent.objects import now_rfc3339
from extensions.provider_local.nodeagent.probes import HandlerError, ProbeTarget, run_handler, run_probe
from extensions.provider_local.nodeagent.process import HostProcess

log = logging.getLogger("provider_local.nodeagent.container")

Obj = dict[str, Any]
CONFIG_RETRY_SECONDS = 2.0
#: upstream's minimumGracePeriodInSeconds: a container always gets this long between SIGTERM and SIGKILL
MINIMUM_GRACE_SECONDS = 2.0
WARNING = "Warning"


class EventSink(Protocol):
    """Where the runner reports events about its container: (type, reason, message)."""

    def __call__(self, type_: str, reason: str, message: str) -> None: ...


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    probe_target: ProbeTarget


class Launcher(Protocol):
    def __call__(self, container: Obj) -> Launch: ...


@dataclass(frozen=True)
class Backoff:
    """Restart delays: base * 2^n up to `limit`; a container that ran for `reset_after` starts over."""

    base: float = 1.0
    limit: float = 60.0
    reset_after: float = 60.0

    def delay(self, crashes: int) -> float:
        return float(min(self.base * 2 ** max(crashes - 1, 0), self.limit))


class ContainerRunner:
    def __init__(
        self,
        spec: Obj,
        *,
        directory: Path,
        launcher: Launcher,
        restart: Callable[[int | None], bool],
        backoff: Backoff,
        on_change: Callable[[], None],
        restart_count: int = 0,
        previous: Obj | None = None,
        on_restart: Callable[[], None] | None = None,
        grace: float = 30.0,
        pod: str = "",
        pod_desc: str = "",
        on_event: EventSink | None = None,
    ) -> None:
        self.spec = spec
        self.name = str(spec["name"])
        self._log = {"pod": pod, "container": self.name}
        #: the pod as upstream's messages name it: `<name>_<namespace>(<uid>)`
        self._pod_desc = pod_desc or pod
        self._event = on_event
        self.dir = directory
        self._launcher = launcher
        self._restart = restart
        self._backoff = backoff
        self._changed = on_change
        self._on_restart = on_restart
        self.restart_count = restart_count
        #: the container's last reported status, so an adopted process keeps its readiness until probed again
        self._previous = previous or {}
        self.state: Obj = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: Obj = {}
        self.ready = False
        self.started = False
        self.ever_started = False
        self.exit_code: int | None = None
        self.proc: HostProcess | None = None
        #: the exit of `proc`, awaited once and shared by whoever waits for it
        self._exited: asyncio.Future[int | None] | None = None
        #: the one kill of `proc` (preStop, SIGTERM, SIGKILL) under way: a probe's, a failed postStart's or stop()'s
        self._killing: asyncio.Future[None] | None = None
        self._target: ProbeTarget | None = None
        self._stopping = asyncio.Event()
        self._grace = 0.0
        self._kill_grace = grace
        #: the last start failed before a process ran, so `log` holds no instance's output
        self._log_unused = False

    @property
    def pid_file(self) -> Path:
        return self.dir / "pid"

    def status(self) -> Obj:
        status: Obj = {
            "name": self.name,
            "image": self.spec.get("image", ""),
            "imageID": "",
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.proc is not None:
            status["containerID"] = f"local://{self.proc.pid}"
        return status

    def _set(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
        self._changed()

    async def run(self) -> int | None:
        """Run until the restart policy lets the container rest, or until `stop()`; the last exit code."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        crashes = 0
        proc = HostProcess.adopt(self.pid_file)
        adopted = proc is not None
        while not self._stopping.is_set():
            if proc is None:
                proc = await self._start()
                if proc is None:
                    continue
            began = time.monotonic()
            self.proc, self._killing = proc, None
            self._exited = exited = asyncio.ensure_future(proc.wait())
            failure = ""
            if self._stopping.is_set():
                self._kill_once(proc, self._grace, reason="Stopping container")
            elif not adopted:
                # As upstream, the container shows as running only once its postStart handler is done.
                failure = await self._post_start(exited)
            self.ever_started = True
            if failure:
                await self._kill_once(proc, self._kill_grace, reason="FailedPostStartHook")
                code = await exited
            else:
                if not exited.done() and not self._stopping.is_set():
                    self._set_running(proc, adopted=adopted)
                code = await self._supervise(proc, exited, skip_startup=adopted and self.started)
            adopted = False
            ran_for = time.monotonic() - began
            self.exit_code = code
            terminated = {
                "exitCode": 137 if code is None else (code if code >= 0 else 128 - code),
                "reason": "ContainerStatusUnknown" if code is None else ("Completed" if code == 0 else "Error"),
                "startedAt": proc.record.started_at,
                "finishedAt": now_rfc3339(),
            }
            proc = None
            if self._stopping.is_set() or not self._restart(code):
                self._set(state={"terminated": terminated}, ready=False, started=False)
                return code
            crashes = 1 if ran_for >= self._backoff.reset_after else crashes + 1
            delay = self._backoff.delay(crashes)
            if failure and crashes == 1:
                # upstream restarts at once after a first failure and reports why the last start failed
                waiting = {"reason": "PostStartHookError", "message": failure}
            else:
                waiting = {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {delay:g}s restarting failed container={self.name}",
                }
            self._set(last_state={"terminated": terminated}, state={"waiting": waiting}, ready=False, started=False)
            log.info("Container exited", extra={**self._log, "exitCode": terminated["exitCode"], "restartIn": delay})
            await self._sleep(delay)
            if not self._stopping.is_set():
                self.restart_count += 1
                if self._on_restart is not None:
                    self._on_restart()
        return self.exit_code

    def _set_running(self, proc: HostProcess, *, adopted: bool) -> None:
        running = {"running": {"startedAt": proc.record.started_at}}
        if adopted:
            started = bool(self._previous.get("started", True))
            self._set(state=running, started=started, ready=bool(self._previous.get("ready")) and started)
        else:
            self._set(state=running, started=not self.spec.get("startupProbe"))

    async def _start(self) -> HostProcess | None:
        try:
            launch = self._launcher(self.spec)
        except Exception as exc:
            reason = "CreateContainerConfigError" if isinstance(exc, ConfigError) else "CreateContainerError"
            if self.state.get("waiting", {}).get("message") != str(exc):
                log.warning("Container cannot start", extra={**self._log, "error": str(exc) or repr(exc)})
            self._set(state={"waiting": {"reason": reason, "message": str(exc)}})
            await self._sleep(CONFIG_RETRY_SECONDS)
            return None
        self._target = launch.probe_target
        if not self._log_unused:
            try:
                keep_previous(self.dir)
            except OSError as exc:
                log.warning("Cannot keep the previous container log", extra={**self._log, "error": str(exc)})
        try:
            proc = HostProcess.spawn(
                launch.argv, env=launch.env, cwd=launch.cwd, log_path=self.dir / LOG, pid_file=self.pid_file
            )
            self._log_unused = False
            return proc
        except OSError as exc:
            # No instance ran: the (empty) log it opened is the next instance's, the previous one stays.
            self._log_unused = True
            message = f"cannot execute {launch.argv[0]!r}: {exc.strerror or exc}"
            self._set(state={"waiting": {"reason": "RunContainerError", "message": message}})
            log.warning("Container cannot start", extra={**self._log, "error": message})
            await self._sleep(self._backoff.delay(1))
            return None

    async def _supervise(
        self, proc: HostProcess, exited: asyncio.Future[int | None], *, skip_startup: bool
    ) -> int | None:
        """Wait for the process to exit while its probes run."""
        self._find_target()
        probes = asyncio.create_task(self._probe(proc, skip_startup=skip_startup))
        index = asyncio.create_task(keep_index(self.dir / LOG))
        try:
            return await exited
        finally:
            for task in (probes, index):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _probe(self, proc: HostProcess, *, skip_startup: bool) -> None:
        target = self._target
        startup, readiness, liveness = (self.spec.get(k) for k in ("startupProbe", "readinessProbe", "livenessProbe"))
        if target is None:
            self._set(ready=not readiness, started=True)
            return

        def kill(why: str) -> None:
            if self._stopping.is_set():
                return  # upstream stops liveness and startup probes before it kills a terminating pod
            log.info("Probe failed, restarting container", extra={**self._log, "probe": why})
            restarts = ", will be restarted" if self._restart(1) else ""
            self._kill_once(proc, self._kill_grace, reason=f"Container {self.name} failed {why} probe{restarts}")

        if startup and not skip_startup:

            async def on_startup(ok: bool) -> bool:
                if ok:
                    self._set(started=True)
                else:
                    kill("startup")
                return False

            await run_probe(startup, target, on_result=on_startup)
            if not self.started:
                return
        tasks: list[Awaitable[None]] = []
        if readiness:

            async def on_readiness(ok: bool) -> bool:
                self._set(ready=ok)
                return True

            tasks.append(run_probe(readiness, target, on_result=on_readiness))
        else:
            self._set(ready=True)
        if liveness:

            async def on_liveness(ok: bool) -> bool:
                if not ok:
                    kill("liveness")
                return ok

            tasks.append(run_probe(liveness, target, on_result=on_liveness))
        await asyncio.gather(*tasks)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def stop(self, grace: float) -> None:
        """Stop for good: preStop within `grace` seconds, then SIGTERM, and SIGKILL once the rest of `grace` is over."""
        self._grace = grace
        self._stopping.set()
        proc = self.proc
        if proc is not None and proc.running():
            await self._kill_once(proc, grace, reason="Stopping container")

    # ---- lifecycle hooks ----

    def _find_target(self) -> ProbeTarget | None:
        """Where probes and handlers go; an adopted container learns it from its launcher."""
        if self._target is None:
            with contextlib.suppress(ConfigError, ImageError):
                self._target = self._launcher(self.spec).probe_target
        return self._target

    def _handler(self, hook: str) -> Obj | None:
        handler = (self.spec.get("lifecycle") or {}).get(hook)
        return handler if isinstance(handler, dict) and handler else None

    async def _run_handler(self, hook: str, handler: Obj) -> str:
        """Run a handler to its end; upstream's message when it failed, else ""."""
        target = self._find_target()
        if target is None:
            return f"Cannot run handler: the container's {hook} handler has no target"
        try:
            await run_handler(handler, target, container=self.name, pod=self._pod_desc)
        except HandlerError as exc:
            return str(exc)
        except Exception as exc:
            # a handler this node cannot run fails like any other; the pod worker goes on
            return f"Cannot run handler: {exc!r}"
        return ""

    def _emit(self, type_: str, reason: str, message: str) -> None:
        if self._event is not None:
            self._event(type_, reason, message)

    async def _post_start(self, exited: asyncio.Future[int | None]) -> str:
        """Run the postStart handler while the container runs; upstream's message if it failed, else "".

        A container that exits, or is stopped, before its handler is done cancels the handler: what counts then is
        the exit.
        """
        handler = self._handler("postStart")
        if handler is None:
            return ""
        hook = asyncio.ensure_future(self._run_handler("postStart", handler))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            waits: set[asyncio.Future[Any]] = {hook, exited, stopping}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (hook, stopping):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        if hook.cancelled() or not (failure := hook.result()):
            return ""
        # The message may quote the handler's output: it goes to the container's status, not to the log or event.
        log.warning("PostStart hook failed", extra=self._log)
        self._emit(WARNING, "FailedPostStartHook", "PostStartHook failed")
        return failure

    async def _pre_stop(self, handler: Obj) -> None:
        if await self._run_handler("preStop", handler):
            log.warning("PreStop hook failed", extra=self._log)
            self._emit(WARNING, "FailedPreStopHook", "PreStopHook failed")

    def _kill_once(self, proc: HostProcess, grace: float, *, reason: str) -> asyncio.Future[None]:
        """Kill `proc` unless a kill of it is already under way; either way the kill to wait for."""
        if self._killing is None or self.proc is not proc:
            self._killing = asyncio.ensure_future(self._kill(proc, grace, reason=reason))
        return self._killing

    async def _kill(self, proc: HostProcess, grace: float, *, reason: str) -> None:
        """Upstream's killContainer: preStop within `grace`, then SIGTERM; SIGKILL after what is left of it."""
        handler = self._handler("preStop")
        hook: asyncio.Future[None] | None = None
        if handler is not None and grace > 0 and proc.running():
            began = time.monotonic()
            hook = asyncio.ensure_future(self._pre_stop(handler))
            exited = self._exited if self._exited is not None and self.proc is proc else None
            waits: set[asyncio.Future[Any]] = {hook} if exited is None else {hook, exited}
            await asyncio.wait(waits, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
            if not hook.done() and proc.running():
                log.info("PreStop hook not completed in grace period", extra={**self._log, "grace": grace})
            # upstream counts the hook's time in whole seconds
            grace -= int(time.monotonic() - began)
        grace = max(grace, MINIMUM_GRACE_SECONDS)
        log.info("Killing container", extra={**self._log, "reason": reason, "grace": grace})
        try:
            await proc.stop(grace)
        finally:
            # An exec handler runs beside the container, not in it: it must not outlive the container.
            if hook is not None and not hook.done():
                hook.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await hook

"""A flow: a DAG of tasks run with as much parallelism as its edges allow (Gardener's `pkg/utils/flow`).

A failed task blocks only what depends on it; everything else runs to completion, so one run reports every
failure at once and the next reconcile has as little left to do as possible.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gardener.runtime.errors import ErrorCode, codes_of, describe
from gardenlet.flow.task import Clock, Sleep, Task, TaskID, call

log = logging.getLogger("gardenlet.flow")


@dataclass(frozen=True)
class TaskError:
    """One failed task, shaped like an entry of `status.lastErrors` (taskID, description, codes)."""

    task_id: str
    description: str
    codes: tuple[ErrorCode, ...] = ()
    cause: BaseException | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_exception(cls, task_id: str, exc: BaseException) -> TaskError:
        return cls(task_id, describe(exc), codes_of(exc), exc)


@dataclass(frozen=True, kw_only=True)
class Progress:
    """A snapshot taken on every task state change; `percent` feeds `status.lastOperation.progress`."""

    flow: str
    total: int
    done: int
    running: tuple[str, ...]
    failed: tuple[str, ...]

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else self.done * 100 // self.total


@dataclass(frozen=True, kw_only=True)
class FlowResult:
    """What a run did; `blocked` tasks never started because a dependency failed."""

    flow: str
    succeeded: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: tuple[str, ...]
    blocked: tuple[str, ...]
    durations: Mapping[str, float]
    duration: float


class FlowError(Exception):
    """Every failed task of one run, like Gardener's `flow.Errors`; `result` still has the run's statistics."""

    def __init__(self, flow: str, errors: Sequence[TaskError], *, result: FlowResult) -> None:
        listed = ", ".join(f'task "{error.task_id}" failed: {error.description}' for error in errors)
        super().__init__(f'flow "{flow}" encountered task errors: [{listed}]')
        self.flow = flow
        self.errors = tuple(errors)
        self.result = result

    @property
    def codes(self) -> tuple[ErrorCode, ...]:
        return tuple(dict.fromkeys(code for error in self.errors for code in error.codes))


ProgressReporter = Callable[[Progress], Awaitable[None]]


class Flow:
    """Tasks are added in dependency order, so the graph is acyclic by construction and runs can reuse it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: dict[str, Task] = {}

    @property
    def tasks(self) -> tuple[Task, ...]:
        return tuple(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    def add(self, task: Task) -> TaskID:
        if not task.id:
            raise ValueError(f'flow "{self.name}": a task needs an id')
        if task.id in self._tasks:
            raise ValueError(f'flow "{self.name}": task "{task.id}" is already defined')
        for dependency in task.dependencies:
            if dependency == task.id:
                raise ValueError(f'flow "{self.name}": task "{task.id}" depends on itself')
            if dependency not in self._tasks:
                raise ValueError(
                    f'flow "{self.name}": task "{task.id}" depends on unknown task "{dependency}" (add it first)'
                )
        self._tasks[task.id] = task
        return TaskID(task.id)

    async def run(
        self,
        *,
        progress: ProgressReporter | None = None,
        max_parallel: int | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> FlowResult:
        """Run every task as soon as its dependencies are done; raise `FlowError` if any task failed."""
        if max_parallel is not None and max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
        return await _Run(self, progress=progress, max_parallel=max_parallel, clock=clock, sleep=sleep).execute()


class _Run:
    """The state of one run, kept apart so a `Flow` stays a reusable description."""

    def __init__(
        self,
        flow: Flow,
        *,
        progress: ProgressReporter | None,
        max_parallel: int | None,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self.flow = flow
        self.progress = progress
        self.max_parallel = max_parallel
        self.clock = clock
        self.sleep = sleep
        self.pending: dict[str, Task] = {task.id: task for task in flow.tasks}
        self.running: dict[asyncio.Task[None], str] = {}
        self.done: set[str] = set()
        self.succeeded: list[str] = []
        self.skipped: list[str] = []
        self.errors: list[TaskError] = []
        self.started: dict[str, float] = {}
        self.durations: dict[str, float] = {}

    async def execute(self) -> FlowResult:
        began = self.clock()
        try:
            await self._start_ready()
            while self.running:
                finished, _ = await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
                for future in [future for future in self.running if future in finished]:  # in start order
                    self._finish(future)
                    await self._report()
                await self._start_ready()
        finally:
            await self._cancel_running()
        result = FlowResult(
            flow=self.flow.name,
            succeeded=tuple(self.succeeded),
            skipped=tuple(self.skipped),
            failed=tuple(error.task_id for error in self.errors),
            blocked=tuple(self.pending),
            durations=dict(self.durations),
            duration=self.clock() - began,
        )
        if self.errors:
            raise FlowError(self.flow.name, self.errors, result=result)
        return result

    async def _start_ready(self) -> None:
        # Skipping a task can make others ready, hence the loop until a pass changes nothing.
        changed = True
        while changed:
            changed = False
            for task in [task for task in self.pending.values() if self.done.issuperset(task.dependencies)]:
                if self.max_parallel is not None and len(self.running) >= self.max_parallel:
                    return
                del self.pending[task.id]
                try:
                    skip = task.should_skip()
                except Exception as exc:
                    self._fail(task.id, exc)
                else:
                    if skip:
                        self.skipped.append(task.id)
                        self.done.add(task.id)
                        changed = True
                    else:
                        self._start(task)
                await self._report()

    def _start(self, task: Task) -> None:
        log.info("Starting task", extra={"flow": self.flow.name, "task": task.id})
        self.started[task.id] = self.clock()
        coro = call(task, flow=self.flow.name, clock=self.clock, sleep=self.sleep)
        self.running[asyncio.create_task(coro, name=f"{self.flow.name}/{task.id}")] = task.id

    def _finish(self, future: asyncio.Task[None]) -> None:
        task_id = self.running.pop(future)
        self.durations[task_id] = self.clock() - self.started[task_id]
        # A task cancelled while the run is not was cancelled from inside its own function: a failure.
        exc = asyncio.CancelledError("task was cancelled") if future.cancelled() else future.exception()
        if exc is not None:
            self._fail(task_id, exc)
            return
        log.info("Task succeeded", extra={"flow": self.flow.name, "task": task_id})
        self.succeeded.append(task_id)
        self.done.add(task_id)

    def _fail(self, task_id: str, exc: BaseException) -> None:
        error = TaskError.from_exception(task_id, exc)
        log.warning("Task failed", extra={"flow": self.flow.name, "task": task_id, "error": error.description})
        self.errors.append(error)

    async def _report(self) -> None:
        if self.progress is None:
            return
        snapshot = Progress(
            flow=self.flow.name,
            total=len(self.flow),
            done=len(self.done),
            running=tuple(self.running.values()),
            failed=tuple(error.task_id for error in self.errors),
        )
        try:
            await self.progress(snapshot)
        except Exception:
            # Progress is advisory (the next report overwrites it); the tasks' work matters more.
            log.exception("Reporting progress failed", extra={"flow": self.flow.name})

    async def _cancel_running(self) -> None:
        """Leave no task behind when the run ends early (cancelled, or a progress reporter raised BaseException)."""
        for future in self.running:
            future.cancel()
        await asyncio.gather(*self.running, return_exceptions=True)

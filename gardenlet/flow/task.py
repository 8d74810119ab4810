"""One node of a flow: an async function, the tasks it waits for, when to skip it and how to retry it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import NewType

from gardener.runtime.errors import PermanentError, TemporaryError, codes_of, describe

log = logging.getLogger("gardenlet.flow")

TaskFn = Callable[[], Awaitable[None]]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

TaskID = NewType("TaskID", str)
"""What `Flow.add()` hands back: the id of a task known to the flow, to be named as a dependency."""


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Retry a failing task every `interval` seconds (times `backoff` per attempt, at most `max_interval`).

    Like Gardener's `RetryUntilTimeout`, every error but a `PermanentError` is retried until `timeout`: most
    failures of a deploy or a wait (conflicts, a component not ready yet, a flaky API call) heal with time.
    A running attempt is never interrupted; a function that may hang bounds its own waits.
    """

    timeout: float
    interval: float = 5.0
    backoff: float = 1.0
    max_interval: float = 60.0

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.interval < 0 or self.backoff < 1 or self.max_interval < self.interval:
            raise ValueError(f"invalid retry policy {self}: need timeout > 0, backoff >= 1, interval <= max_interval")


@dataclass(frozen=True, kw_only=True)
class Task:
    """A named step of a flow.

    A callable `skip_if` is asked once, when the task's turn comes, so it can look at what earlier tasks found.
    """

    id: str
    fn: TaskFn
    dependencies: Sequence[str] = ()
    skip_if: bool | Callable[[], bool] = False
    retry: RetryPolicy | None = None

    def __post_init__(self) -> None:
        # A tuple, so the flow's view of the edges cannot change after `add()` checked them.
        object.__setattr__(self, "dependencies", tuple(dict.fromkeys(self.dependencies)))

    def should_skip(self) -> bool:
        return self.skip_if() if callable(self.skip_if) else self.skip_if


async def call(task: Task, *, flow: str, clock: Clock, sleep: Sleep) -> None:
    """Run `task.fn` once, or under its retry policy until it succeeds, fails permanently or runs out of time."""
    policy = task.retry
    if policy is None:
        await task.fn()
        return
    deadline = clock() + policy.timeout
    interval = policy.interval
    while True:
        try:
            await task.fn()
            return
        except PermanentError:
            raise
        except Exception as exc:
            delay = max(interval, exc.delay if isinstance(exc, TemporaryError) else 0.0)
            if clock() + delay >= deadline:
                message = f"gave up after {policy.timeout:g}s, last error: {describe(exc)}"
                raise TemporaryError(message, codes=codes_of(exc)) from exc
            log.info("Retrying task", extra={"flow": flow, "task": task.id, "delay": delay, "error": describe(exc)})
        await sleep(delay)
        interval = min(interval * policy.backoff, policy.max_interval)

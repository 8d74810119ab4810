"""The work queues and the controller loop: dedup, one worker per key, delays, backoff, what errors decide."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from gardener.runtime.controller import AsyncController, Controller, Result
from gardener.runtime.errors import ErrorCode, PermanentError, TemporaryError
from gardener.runtime.workqueue import AsyncWorkQueue, Backoff, WorkQueue


def test_a_key_is_queued_once_and_never_handed_to_two_workers() -> None:
    now = [0.0]
    q: WorkQueue[str] = WorkQueue(clock=lambda: now[0])
    q.add("a")
    q.add("a")
    q.add("b")
    assert len(q) == 2
    assert q.get() == "a"
    q.add("a")  # changed while being worked on: comes back once done, not before
    assert q.get() == "b"
    assert q.get(timeout=0) is None
    q.done("b")
    q.done("a")
    assert q.get() == "a"
    q.done("a")
    q.add_after("later", 5.0)
    assert q.get(timeout=0) is None
    now[0] = 6.0
    assert q.get() == "later"
    q.done("later")


def test_failures_back_off_per_key_until_forgotten() -> None:
    q: WorkQueue[str] = WorkQueue(backoff=Backoff(0.5, 2.0))
    assert [q.backoff("k") for _ in range(4)] == [0.5, 1.0, 2.0, 2.0]
    assert q.backoff("other") == 0.5
    q.forget("k")
    assert q.backoff("k") == 0.5


def test_shutdown_wakes_waiting_workers() -> None:
    q: WorkQueue[str] = WorkQueue()
    got: list[str | None] = []
    waiter = threading.Thread(target=lambda: got.append(q.get()))
    waiter.start()
    q.shutdown()
    waiter.join(timeout=5)
    assert got == [None]


async def test_the_asyncio_queue_keeps_the_same_promises() -> None:
    q: AsyncWorkQueue[str] = AsyncWorkQueue()
    q.add("a")
    q.add("a")
    assert await q.get() == "a"
    q.add("a")
    assert len(q) == 0  # held back until done
    q.done("a")
    assert await q.get() == "a"
    q.done("a")
    q.add_after("b", 3600)
    q.add_after("b", 0.01)  # the earlier timer wins
    assert await asyncio.wait_for(q.get(), 5) == "b"
    q.done("b")
    q.add_after("gone", 0.01)
    q.discard("gone")
    q.add("c")
    assert await q.get() == "c"
    q.close()


def _controller(outcomes: list[object]) -> tuple[Controller[str], list[str]]:
    seen: list[str] = []

    def reconcile(key: str) -> Result | None:
        seen.append(key)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        assert outcome is None or isinstance(outcome, Result)
        return outcome

    now = [0.0]
    return Controller("test", reconcile, queue=WorkQueue(backoff=Backoff(1.0, 8.0), clock=lambda: now[0])), seen


def test_errors_decide_when_a_key_comes_back(caplog: pytest.LogCaptureFixture) -> None:
    errors: list[object] = [
        RuntimeError("boom"),
        TemporaryError("not yet", delay=30),
        Result(requeue_after=60),
        PermanentError("bad spec", codes=[ErrorCode.CONFIGURATION_PROBLEM]),
    ]
    controller, seen = _controller(errors)
    q = controller.queue
    q.add("ns/a")
    with caplog.at_level(logging.DEBUG, logger="gardener.runtime.controller"):
        for _ in range(3):
            key = q.get(timeout=0)
            assert key == "ns/a"
            controller.process(key)
            assert q.get(timeout=0) is None  # every outcome but the last asks for a later look
            q._delayed = [(0.0, n, k) for _, n, k in q._delayed]  # let that later time come
        delays = [r.retry for r in caplog.records if hasattr(r, "retry")]
        assert delays == [1.0, 30]  # the key's backoff, then the error's own delay
        key = q.get(timeout=0)
        assert key == "ns/a"
        controller.process(key)
    assert not q._delayed  # a permanent error waits for a change
    assert seen == ["ns/a"] * 4
    assert all(getattr(r, "key", None) is None for r in caplog.records)  # the key is bound, not passed


async def test_the_asyncio_controller_reconciles_with_the_key_in_every_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from gardener.runtime import logs

    done = asyncio.Event()
    lines: list[dict[str, object]] = []

    async def reconcile(key: str) -> Result:
        lines.append(logs.bound_fields())
        done.set()
        return Result()

    controller: AsyncController[str] = AsyncController("test", reconcile, workers=2)
    controller.start()
    controller.add("ns/a")
    await asyncio.wait_for(done.wait(), 5)
    await controller.stop()
    assert lines == [{"key": "ns/a"}]

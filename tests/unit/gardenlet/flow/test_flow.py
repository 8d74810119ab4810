"""Tests for gardenlet.flow: graph building, ordering, parallelism, failures, skips, retries, progress, cancellation.

Ordering and parallelism are shown with events (a deadlock would mean the engine serialised work), retry timing
with a fake clock that moves only when the flow sleeps; nothing here depends on wall-clock speed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterator

import pytest

from gardenlet.flow import (
    ErrorCode,
    Flow,
    FlowError,
    FlowResult,
    PermanentError,
    Progress,
    RetryPolicy,
    Task,
    TaskError,
    TaskFn,
    TemporaryError,
)

HANG_GUARD = 5.0  # only turns a deadlock (= a serialising engine) into a failure; never asserted on


class FakeTime:
    """A clock that moves only when someone sleeps on it, so retry schedules are exact and instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def noop() -> TaskFn:
    async def fn() -> None:
        pass

    return fn


def recording(name: str, log: list[str]) -> TaskFn:
    async def fn() -> None:
        log.append(f"start {name}")
        await asyncio.sleep(0)
        log.append(f"end {name}")

    return fn


def failing(exc: Exception, attempts: list[int] | None = None) -> TaskFn:
    async def fn() -> None:
        if attempts is not None:
            attempts.append(1)
        raise exc

    return fn


def flaky(failures: Iterator[Exception], attempts: list[int]) -> TaskFn:
    """Raises the given errors one per attempt, then succeeds."""

    async def fn() -> None:
        attempts.append(1)
        error = next(failures, None)
        if error is not None:
            raise error

    return fn


async def run_failing(run: Awaitable[FlowResult]) -> FlowError:
    with pytest.raises(FlowError) as info:
        await run
    return info.value


# --- building the graph


def test_add_refuses_duplicate_ids() -> None:
    flow = Flow("reconcile")
    flow.add(Task(id="deploy-etcd", fn=noop()))
    with pytest.raises(ValueError, match='task "deploy-etcd" is already defined'):
        flow.add(Task(id="deploy-etcd", fn=noop()))
    assert len(flow) == 1


def test_add_refuses_unknown_dependencies_and_self_cycles() -> None:
    flow = Flow("reconcile")
    with pytest.raises(ValueError, match='depends on unknown task "deploy-etcd"'):
        flow.add(Task(id="deploy-kube-apiserver", fn=noop(), dependencies=("deploy-etcd",)))
    with pytest.raises(ValueError, match='task "loop" depends on itself'):
        flow.add(Task(id="loop", fn=noop(), dependencies=("loop",)))
    with pytest.raises(ValueError, match="needs an id"):
        flow.add(Task(id="", fn=noop()))
    assert len(flow) == 0


def test_add_returns_a_handle_to_depend_on() -> None:
    flow = Flow("reconcile")
    etcd = flow.add(Task(id="deploy-etcd", fn=noop()))
    deps: list[str] = [etcd, etcd]
    api = flow.add(Task(id="deploy-kube-apiserver", fn=noop(), dependencies=deps))
    deps.append("sneaked-in-later")
    assert etcd == "deploy-etcd"
    assert api == "deploy-kube-apiserver"
    assert flow.tasks[1].dependencies == ("deploy-etcd",)


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValueError, match="delay"):
        TemporaryError("x", delay=-1)
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(timeout=0)
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(timeout=10, backoff=0.5)


def test_error_codes_are_gardeners_wire_strings() -> None:
    assert f"{ErrorCode.INFRA_QUOTA_EXCEEDED}" == "ERR_INFRA_QUOTA_EXCEEDED"
    assert ErrorCode("ERR_PROBLEMATIC_WEBHOOK") is ErrorCode.PROBLEMATIC_WEBHOOK
    assert json.dumps([ErrorCode.CONFIGURATION_PROBLEM]) == '["ERR_CONFIGURATION_PROBLEM"]'
    assert all(code.value == f"ERR_{code.name}" for code in ErrorCode)
    error = PermanentError("quota", codes=[ErrorCode.INFRA_QUOTA_EXCEEDED, ErrorCode.INFRA_QUOTA_EXCEEDED])
    assert error.codes == (ErrorCode.INFRA_QUOTA_EXCEEDED,)


# --- ordering and parallelism


async def test_dependents_start_after_their_dependencies_end() -> None:
    log: list[str] = []
    flow = Flow("reconcile")
    ns = flow.add(Task(id="namespace", fn=recording("namespace", log)))
    etcd = flow.add(Task(id="etcd", fn=recording("etcd", log), dependencies=(ns,)))
    secrets = flow.add(Task(id="secrets", fn=recording("secrets", log), dependencies=(ns,)))
    flow.add(Task(id="apiserver", fn=recording("apiserver", log), dependencies=(etcd, secrets)))

    result = await flow.run()

    for task in flow.tasks:
        for dependency in task.dependencies:
            assert log.index(f"end {dependency}") < log.index(f"start {task.id}")
    assert result.succeeded == ("namespace", "etcd", "secrets", "apiserver")
    assert result.failed == result.skipped == result.blocked == ()
    # a flow is a reusable description: a second run does the same again
    log.clear()
    assert (await flow.run()).succeeded == result.succeeded
    assert len(log) == 8


async def test_independent_tasks_run_at_the_same_time() -> None:
    a_started, b_started = asyncio.Event(), asyncio.Event()

    async def a() -> None:
        a_started.set()
        await b_started.wait()

    async def b() -> None:
        b_started.set()
        await a_started.wait()

    flow = Flow("reconcile")
    flow.add(Task(id="a", fn=a))
    flow.add(Task(id="b", fn=b))
    async with asyncio.timeout(HANG_GUARD):
        assert (await flow.run()).succeeded == ("a", "b")


async def test_a_task_starts_when_its_own_dependencies_are_done_not_a_whole_level() -> None:
    dependent_started = asyncio.Event()

    async def slow_sibling() -> None:
        await dependent_started.wait()  # finishes only once "dependent" is running

    async def dependent() -> None:
        dependent_started.set()

    flow = Flow("reconcile")
    quick = flow.add(Task(id="quick", fn=noop()))
    flow.add(Task(id="slow-sibling", fn=slow_sibling))
    flow.add(Task(id="dependent", fn=dependent, dependencies=(quick,)))
    async with asyncio.timeout(HANG_GUARD):
        result = await flow.run()
    assert set(result.succeeded) == {"quick", "slow-sibling", "dependent"}


@pytest.mark.parametrize(("max_parallel", "peak"), [(None, 4), (2, 2), (1, 1)])
async def test_parallelism_is_maximal_unless_capped(max_parallel: int | None, peak: int) -> None:
    running: list[int] = [0]
    seen: list[int] = []

    async def work() -> None:
        running[0] += 1
        seen.append(running[0])
        for _ in range(3):
            await asyncio.sleep(0)
        running[0] -= 1

    flow = Flow("reconcile")
    for i in range(4):
        flow.add(Task(id=f"t{i}", fn=work))
    await flow.run(max_parallel=max_parallel)
    assert max(seen) == peak


async def test_max_parallel_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_parallel"):
        await Flow("reconcile").run(max_parallel=0)


async def test_an_empty_flow_succeeds() -> None:
    result = await Flow("nothing").run()
    assert result.succeeded == () and result.durations == {}


# --- failures and skips


async def test_a_failure_blocks_only_its_dependents() -> None:
    failed = asyncio.Event()
    log: list[str] = []

    async def broken() -> None:
        failed.set()
        raise PermanentError("cannot create VPC", codes=[ErrorCode.INFRA_QUOTA_EXCEEDED])

    async def independent() -> None:
        await failed.wait()  # keeps running after the failure
        log.append("independent")

    flow = Flow("reconcile")
    infra = flow.add(Task(id="infrastructure", fn=broken))
    workers = flow.add(Task(id="workers", fn=recording("workers", log), dependencies=(infra,)))
    flow.add(Task(id="nodes-ready", fn=recording("nodes-ready", log), dependencies=(workers,)))
    etcd = flow.add(Task(id="etcd", fn=independent))
    flow.add(Task(id="apiserver", fn=recording("apiserver", log), dependencies=(etcd,)))

    async with asyncio.timeout(HANG_GUARD):
        error = await run_failing(flow.run())

    assert log == ["independent", "start apiserver", "end apiserver"]
    assert error.result.succeeded == ("etcd", "apiserver")
    assert error.result.failed == ("infrastructure",)
    assert error.result.blocked == ("workers", "nodes-ready")
    assert error.errors == (TaskError("infrastructure", "cannot create VPC", (ErrorCode.INFRA_QUOTA_EXCEEDED,)),)


async def test_the_error_names_every_failed_task() -> None:
    flow = Flow("Shoot cluster reconciliation")
    flow.add(Task(id="dns", fn=failing(PermanentError("zone not found", codes=[ErrorCode.CONFIGURATION_PROBLEM]))))
    flow.add(Task(id="ok", fn=noop()))
    flow.add(Task(id="backup", fn=failing(KeyError("bucket"))))
    flow.add(Task(id="secrets", fn=failing(RuntimeError())))

    error = await run_failing(flow.run())

    assert [(e.task_id, e.description, e.codes) for e in error.errors] == [
        ("dns", "zone not found", (ErrorCode.CONFIGURATION_PROBLEM,)),
        ("backup", "KeyError: 'bucket'", ()),
        ("secrets", "RuntimeError", ()),
    ]
    assert str(error) == (
        'flow "Shoot cluster reconciliation" encountered task errors: [task "dns" failed: zone not found, '
        'task "backup" failed: KeyError: \'bucket\', task "secrets" failed: RuntimeError]'
    )
    assert error.codes == (ErrorCode.CONFIGURATION_PROBLEM,)
    assert isinstance(error.errors[1].cause, KeyError)
    assert error.result.succeeded == ("ok",)


async def test_a_skipped_task_counts_as_done() -> None:
    log: list[str] = []
    found: dict[str, bool] = {}

    async def probe() -> None:
        found["hibernated"] = True

    async def must_not_run() -> None:
        raise AssertionError("skipped task ran")

    flow = Flow("reconcile")
    hib = flow.add(Task(id="probe", fn=probe))
    skipped = flow.add(Task(id="wake-up", fn=must_not_run, dependencies=(hib,), skip_if=lambda: found["hibernated"]))
    also_skipped = flow.add(Task(id="static-skip", fn=must_not_run, skip_if=True, dependencies=(skipped,)))
    flow.add(Task(id="after", fn=recording("after", log), dependencies=(skipped, also_skipped)))

    result = await flow.run()

    assert result.skipped == ("wake-up", "static-skip")
    assert result.succeeded == ("probe", "after")
    assert log == ["start after", "end after"]
    assert "wake-up" not in result.durations


async def test_a_skip_condition_that_raises_fails_its_task() -> None:
    def broken_condition() -> bool:
        raise LookupError("no shoot")

    flow = Flow("reconcile")
    odd = flow.add(Task(id="odd", fn=noop(), skip_if=broken_condition))
    flow.add(Task(id="after", fn=noop(), dependencies=(odd,)))
    error = await run_failing(flow.run())
    assert error.errors == (TaskError("odd", "LookupError: no shoot"),)
    assert error.result.blocked == ("after",)


async def test_a_task_that_cancels_itself_fails() -> None:
    async def gives_up() -> None:
        raise asyncio.CancelledError

    flow = Flow("reconcile")
    flow.add(Task(id="gives-up", fn=gives_up))
    flow.add(Task(id="ok", fn=noop()))
    error = await run_failing(flow.run())
    assert [e.task_id for e in error.errors] == ["gives-up"]
    assert error.errors[0].description == "CancelledError: task was cancelled"
    assert error.result.succeeded == ("ok",)


# --- retries


async def test_temporary_errors_are_retried_with_backoff_until_success(fake: FakeTime) -> None:
    attempts: list[int] = []
    failures = iter([TemporaryError("etcd not ready"), TemporaryError("etcd not ready"), TemporaryError("still")])
    flow = Flow("reconcile")
    policy = RetryPolicy(timeout=60, interval=1, backoff=2, max_interval=3)
    flow.add(Task(id="wait-etcd", fn=flaky(failures, attempts), retry=policy))

    result = await flow.run(clock=fake.clock, sleep=fake.sleep)

    assert len(attempts) == 4
    assert fake.sleeps == [1, 2, 3]
    assert result.succeeded == ("wait-etcd",)
    assert result.durations == {"wait-etcd": 6}


async def test_a_temporary_errors_delay_can_slow_the_retry_down(fake: FakeTime) -> None:
    attempts: list[int] = []
    failures = iter([TemporaryError("rate limited", delay=30), TemporaryError("conflict", delay=0.5)])
    flow = Flow("reconcile")
    flow.add(Task(id="infra", fn=flaky(failures, attempts), retry=RetryPolicy(timeout=60, interval=2)))
    await flow.run(clock=fake.clock, sleep=fake.sleep)
    assert fake.sleeps == [30, 2]


async def test_a_permanent_error_is_not_retried(fake: FakeTime) -> None:
    attempts: list[int] = []
    error = PermanentError("invalid credentials", codes=[ErrorCode.INFRA_UNAUTHENTICATED])
    flow = Flow("reconcile")
    flow.add(Task(id="infra", fn=failing(error, attempts), retry=RetryPolicy(timeout=600, interval=5)))

    failure = await run_failing(flow.run(clock=fake.clock, sleep=fake.sleep))

    assert len(attempts) == 1
    assert fake.sleeps == []
    assert failure.errors == (TaskError("infra", "invalid credentials", (ErrorCode.INFRA_UNAUTHENTICATED,)),)


async def test_retries_stop_at_the_timeout_keeping_the_last_error(fake: FakeTime) -> None:
    attempts: list[int] = []
    error = TemporaryError("throttled", codes=[ErrorCode.INFRA_RATE_LIMITS_EXCEEDED])
    flow = Flow("reconcile")
    flow.add(Task(id="infra", fn=failing(error, attempts), retry=RetryPolicy(timeout=10, interval=3)))

    failure = await run_failing(flow.run(clock=fake.clock, sleep=fake.sleep))

    assert len(attempts) == 4  # at 0, 3, 6 and 9 seconds; the next would start past the timeout
    assert fake.sleeps == [3, 3, 3]
    [task_error] = failure.errors
    assert task_error == TaskError("infra", "gave up after 10s, last error: throttled", error.codes)
    assert isinstance(task_error.cause, TemporaryError)
    assert task_error.cause.__cause__ is error


async def test_other_exceptions_are_retried_like_temporary_ones(fake: FakeTime) -> None:
    attempts: list[int] = []
    flow = Flow("reconcile")
    flow.add(
        Task(id="deploy", fn=failing(ConnectionError("refused"), attempts), retry=RetryPolicy(timeout=3, interval=1))
    )
    failure = await run_failing(flow.run(clock=fake.clock, sleep=fake.sleep))
    assert len(attempts) == 3
    assert failure.errors[0].description == "gave up after 3s, last error: ConnectionError: refused"


async def test_without_a_retry_policy_a_temporary_error_fails_at_once(fake: FakeTime) -> None:
    attempts: list[int] = []
    flow = Flow("reconcile")
    flow.add(Task(id="deploy", fn=failing(TemporaryError("conflict"), attempts)))
    failure = await run_failing(flow.run(clock=fake.clock, sleep=fake.sleep))
    assert len(attempts) == 1
    assert failure.errors == (TaskError("deploy", "conflict"),)


# --- progress


async def test_progress_is_reported_on_every_state_change_and_ends_at_100() -> None:
    reports: list[Progress] = []

    async def report(progress: Progress) -> None:
        reports.append(progress)

    flow = Flow("reconcile")
    a = flow.add(Task(id="a", fn=noop()))
    b = flow.add(Task(id="b", fn=noop(), dependencies=(a,)))
    flow.add(Task(id="c", fn=noop(), dependencies=(a,)))
    flow.add(Task(id="skipped", fn=noop(), skip_if=True, dependencies=(b,)))

    await flow.run(progress=report)

    # 3 tasks start and end, one is skipped
    assert len(reports) == 7
    percents = [p.percent for p in reports]
    assert percents == sorted(percents)
    assert percents[-1] == 100
    assert reports[0] == Progress(flow="reconcile", total=4, done=0, running=("a",), failed=())
    assert any(p.running == ("b", "c") for p in reports)
    assert reports[-1].running == ()


async def test_progress_shows_failed_tasks_and_stays_below_100() -> None:
    reports: list[Progress] = []

    async def report(progress: Progress) -> None:
        reports.append(progress)

    flow = Flow("reconcile")
    broken = flow.add(Task(id="broken", fn=failing(PermanentError("no"))))
    flow.add(Task(id="after", fn=noop(), dependencies=(broken,)))
    flow.add(Task(id="ok", fn=noop()))

    await run_failing(flow.run(progress=report))

    assert reports[-1].failed == ("broken",)
    assert reports[-1].percent == 33
    assert [p.percent for p in reports] == sorted(p.percent for p in reports)


async def test_a_failing_progress_reporter_does_not_stop_the_flow() -> None:
    async def report(progress: Progress) -> None:
        raise ConnectionError("garden unreachable")

    flow = Flow("reconcile")
    flow.add(Task(id="a", fn=noop()))
    assert (await flow.run(progress=report)).succeeded == ("a",)


# --- cancellation


async def test_cancelling_the_run_cancels_running_tasks_and_leaves_none_behind() -> None:
    started = asyncio.Event()
    cleaned_up: list[str] = []
    log: list[str] = []

    async def long_wait() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.append("long-wait")

    flow = Flow("reconcile")
    waiting = flow.add(Task(id="long-wait", fn=long_wait))
    flow.add(Task(id="after", fn=recording("after", log), dependencies=(waiting,)))
    run = asyncio.create_task(flow.run())
    async with asyncio.timeout(HANG_GUARD):
        await started.wait()
    run.cancel()

    with pytest.raises(asyncio.CancelledError):
        await run
    assert cleaned_up == ["long-wait"]
    assert log == []
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_cancelling_the_run_interrupts_a_retry_wait() -> None:
    attempts: list[int] = []
    sleeping = asyncio.Event()

    async def never_wakes(seconds: float) -> None:
        sleeping.set()
        await asyncio.Event().wait()

    flow = Flow("reconcile")
    flow.add(Task(id="wait", fn=failing(TemporaryError("not yet"), attempts), retry=RetryPolicy(timeout=600)))
    run = asyncio.create_task(flow.run(sleep=never_wakes))
    async with asyncio.timeout(HANG_GUARD):
        await sleeping.wait()
    run.cancel()

    with pytest.raises(asyncio.CancelledError):
        await run
    assert len(attempts) == 1
    assert asyncio.all_tasks() == {asyncio.current_task()}

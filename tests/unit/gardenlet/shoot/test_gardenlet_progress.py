"""The running tasks in `status.lastOperation.description` while a flow runs (Gardener's `flow.MakeDescription`).

A real flow drives the progress writer; tasks wait on events, so which tasks run at a report is exact, not timed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from gardenlet import shootstatus as st
from gardenlet.flow import Flow, Task, TaskFn
from gardenlet.shoot.reconciler import ProgressWriter

NOW = dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
Obj = dict[str, Any]


def test_description_names_the_running_tasks_sorted() -> None:
    assert st.progress_description(("wait-worker", "wait-control-plane")) == (
        "Running tasks: wait-control-plane, wait-worker"
    )
    assert st.progress_description(("deploy-etcd",)) == "Running tasks: deploy-etcd"
    assert st.progress_description(()) == ""


def _shoot() -> Obj:
    last = st.last_operation(
        st.OperationType.RECONCILE,
        st.OperationState.PROCESSING,
        progress=0,
        description="Reconciling Shoot cluster.",
        now=NOW,
    )
    return {"metadata": {"name": "demo", "namespace": "garden-dev"}, "status": {"lastOperation": last}}


class Recorder:
    """Stands in for the garden's status subresource: keeps every lastOperation written, in order."""

    def __init__(self) -> None:
        self.written: list[tuple[int, str]] = []

    async def write(self, shoot: Obj, status: Obj) -> Obj:
        last = status["lastOperation"]
        self.written.append((last["progress"], last["description"]))
        return {**shoot, "status": {**shoot["status"], **status}}


def gate(started: asyncio.Event, release: asyncio.Event) -> TaskFn:
    async def fn() -> None:
        started.set()
        await release.wait()

    return fn


async def noop() -> None:
    return None


async def test_a_rollout_names_the_tasks_it_waits_for_never_just_next_tasks() -> None:
    recorder = Recorder()
    writer = ProgressWriter(shoot=_shoot(), kind=st.OperationType.RECONCILE, write=recorder.write, clock=lambda: NOW)
    events = {name: (asyncio.Event(), asyncio.Event()) for name in ("wait-worker", "wait-control-plane")}
    flow = Flow("reconcile")
    deploy = flow.add(Task(id="deploy-worker", fn=noop))
    for name, (started, release) in events.items():
        flow.add(Task(id=name, fn=gate(started, release), dependencies=(deploy,)))
    run = asyncio.create_task(flow.run(progress=writer))

    async def written(expected: tuple[int, str]) -> None:
        while expected not in recorder.written:
            await asyncio.sleep(0)

    await asyncio.wait_for(written((33, "Running tasks: wait-control-plane, wait-worker")), 5.0)
    events["wait-worker"][1].set()
    await asyncio.wait_for(written((66, "Running tasks: wait-control-plane")), 5.0)
    events["wait-control-plane"][1].set()
    await asyncio.wait_for(run, 5.0)
    await writer.close()

    assert recorder.written == [
        (33, "Running tasks: wait-control-plane, wait-worker"),
        (66, "Running tasks: wait-control-plane"),
    ]
    assert writer.shoot["status"]["lastOperation"]["description"] == "Running tasks: wait-control-plane"

"""The scheduling queue with a fake clock: ordering, backoff, moves on cluster events, gates, the 5-minute flush."""

from __future__ import annotations

from gardener.kube_scheduler.cache import PodInfo
from gardener.kube_scheduler.queue import ACTIVE, BACKOFF, GATED, UNSCHEDULABLE, SchedulingQueue
from tests.unit.gardener.kube_scheduler.builders import pod


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_from_one_second_to_ten() -> None:
    q = SchedulingQueue(clock=Clock())
    assert [q.backoff_duration(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def test_active_queue_pops_higher_priority_then_earlier() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    for name, priority in (("a", 0), ("b", 10), ("c", 0)):
        q.add(PodInfo.of(pod(name, priority=priority)))
        clock.now += 1
    assert [(await q.pop()).info.name for _ in range(3)] == ["b", "a", "c"]


async def test_failed_pods_back_off_or_wait_for_an_event() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    counts: list[dict[str, int]] = []
    incoming: list[tuple[str, str]] = []
    q.on_change = lambda c: counts.append(dict(c))
    q.on_incoming = lambda queue, event: incoming.append((queue, event))
    q.add(PodInfo.of(pod("err")))
    q.add(PodInfo.of(pod("fit")))
    err, fit = await q.pop(), await q.pop()
    # an error (no rejecting plugin) backs off; an unschedulable pod waits for an event
    q.requeue_failed(err, q.scheduling_cycle)
    fit.unschedulable_plugins = frozenset({"NodeResourcesFit"})
    q.requeue_failed(fit, q.scheduling_cycle)
    assert q.where(err.uid) == BACKOFF and q.where(fit.uid) == UNSCHEDULABLE
    assert incoming == [
        (ACTIVE, "PodAdd"),
        (ACTIVE, "PodAdd"),
        (BACKOFF, "ScheduleAttemptFailure"),
        (UNSCHEDULABLE, "ScheduleAttemptFailure"),
    ]
    assert counts[-1] == {ACTIVE: 0, BACKOFF: 1, UNSCHEDULABLE: 1, GATED: 0}
    clock.now += 0.5
    q.flush_backoff()
    assert q.where(err.uid) == BACKOFF
    clock.now += 0.6
    q.flush_backoff()
    assert q.where(err.uid) == ACTIVE
    # an event no rejecting plugin cares about leaves it; a relevant one moves it, into backoff while it lasts
    assert q.move({"TaintToleration"}) == 0
    clock.now = fit.timestamp + 0.5
    assert q.move({"NodeResourcesFit", "NodePorts"}, event="AssignedPodDelete") == 1
    assert q.where(fit.uid) == BACKOFF and incoming[-1] == (BACKOFF, "AssignedPodDelete")
    again = await q.pop()
    assert again.uid == err.uid and again.attempts == 2
    q.requeue_failed(again, q.scheduling_cycle)
    clock.now += 1.5
    q.flush_backoff()
    assert q.where(err.uid) == BACKOFF  # the second attempt backs off for 2 s
    clock.now += 1.0
    q.flush_backoff()
    assert q.where(err.uid) == ACTIVE


async def test_a_move_during_the_attempt_sends_the_pod_to_backoff() -> None:
    q = SchedulingQueue(clock=Clock())
    q.add(PodInfo.of(pod("a")))
    qpi = await q.pop()
    cycle = q.scheduling_cycle
    q.move(None)  # e.g. a Node was added while the pod was being bound
    qpi.unschedulable_plugins = frozenset({"NodeResourcesFit"})
    q.requeue_failed(qpi, cycle)
    assert q.where(qpi.uid) == BACKOFF


async def test_unschedulable_pods_are_retried_after_five_minutes_and_on_spec_changes() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    info = PodInfo.of(pod("a"))
    q.add(info)
    qpi = await q.pop()
    qpi.unschedulable_plugins = frozenset({"NodeAffinity"})
    q.requeue_failed(qpi, q.scheduling_cycle)
    clock.now += 299
    q.flush_unschedulable()
    assert q.where(info.uid) == UNSCHEDULABLE
    q.update(info, spec_changed=False)  # a status-only update (our own condition) changes nothing
    assert q.where(info.uid) == UNSCHEDULABLE
    clock.now += 2
    q.flush_unschedulable()
    assert q.where(info.uid) == ACTIVE


async def test_gated_pods_wait_until_their_gates_are_removed() -> None:
    q = SchedulingQueue(clock=Clock())
    gated = pod("g", schedulingGates=[{"name": "example.com/wait"}])
    q.add(PodInfo.of(gated))
    assert q.counts[GATED] == 1
    del gated["spec"]["schedulingGates"]
    q.update(PodInfo.of(gated))
    assert q.where(gated["metadata"]["uid"]) == ACTIVE
    q.delete(gated["metadata"]["uid"])
    assert len(q) == 0

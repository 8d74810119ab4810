"""The batch controllers' pure parts: cron schedules as robfig/cron reads them, the CronJob's missed-time
arithmetic and Job names, Job index bookkeeping and pod accounting, and TTL expiry."""

from __future__ import annotations

from datetime import datetime

import pytest

from gardener.kube_controller_manager.cronjob import job_name, most_recent, next_delay
from gardener.kube_controller_manager.jobutil import (
    backoff_remaining,
    finished,
    format_indexes,
    parse_indexes,
    pending_indexes,
    settle,
    surplus_pods,
)
from gardener.kube_controller_manager.ttlafterfinished import expires_at
from gardener.runtime import cron


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        ("*/15 * * * *", "2024-01-01T10:07:00Z", "2024-01-01T10:15:00Z"),
        ("*/15 * * * *", "2024-01-01T10:15:00Z", "2024-01-01T10:30:00Z"),
        ("0 0 1 1 *", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        ("@hourly", "2024-01-01T10:59:59Z", "2024-01-01T11:00:00Z"),
        ("@weekly", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"),
        ("0 0 * * 1", "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z"),
        # both day fields restricted: either matches (Friday 5 January comes before the 13th)
        ("0 0 13 * 5", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
        ("0 9 * jan mon", "2024-01-31T12:00:00Z", "2025-01-06T09:00:00Z"),
        ("30 2-4/2 * * *", "2024-01-01T02:30:00Z", "2024-01-01T04:30:00Z"),
        ("5/20 * * * *", "2024-01-01T00:26:00Z", "2024-01-01T00:45:00Z"),
        ("0 12 29 2 *", "2025-01-01T00:00:00Z", "2028-02-29T12:00:00Z"),
        ("TZ=Europe/Berlin 0 9 * * *", "2024-01-15T00:00:00Z", "2024-01-15T08:00:00Z"),
        ("CRON_TZ=America/New_York 0 9 * * *", "2024-07-15T00:00:00Z", "2024-07-15T13:00:00Z"),
        ("@every 90s", "2024-01-01T00:00:00Z", "2024-01-01T00:01:30Z"),
    ],
)
def test_next_times_follow_the_standard_parser(spec: str, after: str, expected: str) -> None:
    assert cron.parse(spec).next(at(after)) == at(expected)


def test_a_schedule_that_never_fires_has_no_next_time() -> None:
    assert cron.parse("59 23 31 2 *").next(at("2024-01-01T00:00:00Z")) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("*/2/3 * * * *", "too many slashes: */2/3"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        ("TZ=Mars/Olympus * * * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"),
    ],
)
def test_schedules_the_parser_refuses_say_why_in_robfigs_words(spec: str, message: str) -> None:
    with pytest.raises(cron.CronError) as err:
        cron.parse(spec)
    assert str(err.value) == message


def cronjob(created: str, **spec: object) -> dict[str, object]:
    return {"metadata": {"name": "cj", "creationTimestamp": created}, "spec": {"schedule": "* * * * *", **spec}}


def test_most_recent_time_counts_what_was_missed_since_creation() -> None:
    every_minute = cron.parse("* * * * *")
    now = at("2024-01-01T00:03:10Z")
    earliest, latest, missed = most_recent(cronjob("2024-01-01T00:00:30Z"), now, every_minute, with_deadline=False)
    assert (earliest, latest, missed) == (at("2024-01-01T00:00:30Z"), at("2024-01-01T00:03:00Z"), 3)
    late = cronjob("2024-01-01T00:00:30Z", startingDeadlineSeconds=30)
    assert most_recent(late, now, every_minute, with_deadline=True)[1:] == (at("2024-01-01T00:03:00Z"), 0)
    fresh = cronjob("2024-01-01T00:03:05Z")
    assert most_recent(fresh, now, every_minute, with_deadline=True)[1] is None


def test_the_next_look_is_just_after_the_next_time_and_never_schedules_are_errors() -> None:
    scheduled = cronjob("2024-01-01T00:00:30Z")
    scheduled["status"] = {"lastScheduleTime": "2024-01-01T00:03:00Z"}
    delay = next_delay(scheduled, at("2024-01-01T00:03:10Z"), cron.parse("* * * * *"))
    assert delay == pytest.approx(50.1)
    with pytest.raises(ValueError, match="less than 1 second"):
        most_recent(scheduled, at("2024-03-01T00:00:00Z"), cron.parse("59 23 31 2 *"), with_deadline=True)


def test_job_names_carry_the_scheduled_minute_since_the_epoch() -> None:
    assert job_name("cj", at("2024-01-01T00:03:00Z")) == "cj-28401123"


def test_completed_indexes_are_intervals() -> None:
    assert format_indexes([7, 0, 2, 3, 4]) == "0,2-4,7"
    assert format_indexes([]) == ""
    assert parse_indexes("0,2-4,7", 5) == {0, 2, 3, 4}
    assert parse_indexes("1,x,3-", 10) == {1}


def test_replacement_pods_back_off_exponentially_up_to_ten_minutes() -> None:
    assert backoff_remaining(0, None, 100.0) == 0.0
    assert backoff_remaining(1, 100.0, 104.0) == pytest.approx(6.0)
    assert backoff_remaining(3, 100.0, 100.0) == pytest.approx(40.0)
    assert backoff_remaining(20, 100.0, 100.0) == pytest.approx(600.0)
    assert backoff_remaining(1, 100.0, 200.0) == 0.0


def test_pods_whose_finalizer_is_gone_move_from_uncounted_into_the_counters() -> None:
    status: dict[str, object] = {
        "succeeded": 1,
        "uncountedTerminatedPods": {"succeeded": ["a", "b"], "failed": ["c"]},
    }
    settle(status, {"b"})
    assert status == {"succeeded": 2, "failed": 1, "uncountedTerminatedPods": {"succeeded": ["b"]}}
    settle(status, set())
    assert status == {"succeeded": 3, "failed": 1, "uncountedTerminatedPods": {}}


def test_a_job_is_finished_by_a_true_complete_or_failed_condition_only() -> None:
    target = {"status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}}
    assert not finished(target)
    assert finished({"status": {"conditions": [{"type": "Failed", "status": "True"}]}})
    assert not finished({"status": {"conditions": [{"type": "Complete", "status": "False"}]}})


def test_finished_jobs_expire_ttl_seconds_after_their_terminal_condition() -> None:
    done = {"type": "Complete", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}
    job = {"metadata": {}, "spec": {"ttlSecondsAfterFinished": 30}, "status": {"conditions": [done]}}
    assert expires_at(job) == at("2024-01-01T00:00:30Z").timestamp()
    assert expires_at({**job, "spec": {}}) is None
    assert expires_at({**job, "status": {}}) is None
    assert expires_at({**job, "metadata": {"deletionTimestamp": "2024-01-01T00:00:01Z"}}) is None


def pod(name: str, index: int | None, *, ready: bool = False, node: str = "") -> dict[str, object]:
    annotations = {} if index is None else {"batch.kubernetes.io/job-completion-index": str(index)}
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    spec = {"nodeName": node} if node else {}
    return {"metadata": {"name": name, "annotations": annotations}, "spec": spec, "status": {"conditions": conditions}}


def test_indexed_jobs_fill_the_lowest_free_indexes_and_drop_duplicates_first() -> None:
    job = {"spec": {"completionMode": "Indexed", "completions": 5}}
    active = [pod("a", 1), pod("b", 3)]
    assert pending_indexes(job, {0}, active, 2) == [2, 4]
    assert pending_indexes(job, {0, 2, 4}, active, 3) == []
    twins = [pod("old", 1, ready=True, node="n"), pod("new", 1), pod("lost", None), pod("far", 9)]
    assert sorted(p["metadata"]["name"] for p in surplus_pods(job, twins, 0)) == ["far", "lost", "new"]
    plain = {"spec": {"completions": 5}}
    ordered = surplus_pods(plain, [pod("ready", None, ready=True, node="n"), pod("waiting", None)], 1)
    assert [p["metadata"]["name"] for p in ordered] == ["waiting"], "unscheduled, not-ready pods go first"

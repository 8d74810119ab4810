"""What the gardenlet writes into a Shoot's status, and when it runs a flow at all."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gardenlet import shootstatus as st
from gardenlet.flow import ErrorCode, FlowError, FlowResult, PermanentError, TaskError, TemporaryError

NOW = dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.UTC)


def _shoot(
    *, generation: int = 2, observed: int | None = 2, last: dict[str, Any] | None = None, **meta: Any
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if observed is not None:
        status["observedGeneration"] = observed
    if last is not None:
        status["lastOperation"] = last
    return {"metadata": {"name": "demo", "namespace": "garden-dev", "generation": generation, **meta}, "status": status}


def _last(kind: str, state: str) -> dict[str, Any]:
    return {"type": kind, "state": state, "progress": 100, "description": "", "lastUpdateTime": "x"}


@pytest.mark.parametrize(
    ("shoot", "expected"),
    [
        (_shoot(last=None), "Create"),
        (_shoot(last=_last("Create", "Error")), "Create"),
        (_shoot(last=_last("Create", "Succeeded")), "Reconcile"),
        (_shoot(last=_last("Reconcile", "Failed")), "Reconcile"),
        (_shoot(last=_last("Reconcile", "Succeeded"), deletionTimestamp="t"), "Delete"),
    ],
)
def test_operation_type(shoot: dict[str, Any], expected: str) -> None:
    assert st.operation_type(shoot) == expected


@pytest.mark.parametrize(
    ("shoot", "reason"),
    [
        (_shoot(last=None, observed=None), "never reconciled"),
        (_shoot(last=_last("Reconcile", "Succeeded")), None),
        (_shoot(last=_last("Reconcile", "Succeeded"), observed=1), "spec changed"),
        (_shoot(last=_last("Reconcile", "Processing")), "operation did not finish"),
        (_shoot(last=_last("Reconcile", "Error")), "retrying after an error"),
        (_shoot(last=_last("Reconcile", "Failed")), None),
        (
            _shoot(last=_last("Reconcile", "Failed"), annotations={st.OPERATION_ANNOTATION: "retry"}),
            "operation annotation retry",
        ),
        (
            _shoot(last=_last("Reconcile", "Succeeded"), annotations={st.OPERATION_ANNOTATION: "reconcile"}),
            "operation annotation reconcile",
        ),
        (_shoot(last=_last("Reconcile", "Succeeded"), annotations={st.OPERATION_ANNOTATION: "maintain"}), None),
        (
            _shoot(last=_last("Reconcile", "Succeeded"), deletionTimestamp="t", finalizers=["gardener"]),
            "deletion requested",
        ),
        (_shoot(last=_last("Delete", "Error"), deletionTimestamp="t", finalizers=["other"]), None),
    ],
)
def test_run_reason(shoot: dict[str, Any], reason: str | None) -> None:
    assert st.run_reason(shoot) == reason


def test_last_operation_is_clamped_and_timestamped() -> None:
    last = st.last_operation(
        st.OperationType.CREATE, st.OperationState.PROCESSING, progress=140, description="d", now=NOW
    )
    assert last == {
        "type": "Create",
        "state": "Processing",
        "progress": 100,
        "description": "d",
        "lastUpdateTime": "2026-05-06T07:08:09Z",
    }


def _flow_error(*causes: tuple[str, BaseException]) -> FlowError:
    result = FlowResult(flow="f", succeeded=(), skipped=(), failed=(), blocked=(), durations={}, duration=0.0)
    return FlowError("f", [TaskError.from_exception(task, exc) for task, exc in causes], result=result)


def test_last_errors_name_tasks_and_codes_and_decide_error_or_failed() -> None:
    temporary = _flow_error(("wait-etcd", TemporaryError("etcd not ready", codes=[ErrorCode.INFRA_DEPENDENCIES])))
    assert st.last_errors(temporary, now=NOW) == [
        {
            "taskID": "wait-etcd",
            "description": "etcd not ready",
            "codes": ["ERR_INFRA_DEPENDENCIES"],
            "lastUpdateTime": "2026-05-06T07:08:09Z",
        }
    ]
    assert st.failed_state(temporary) == st.OperationState.ERROR
    permanent = _flow_error(("a", RuntimeError("boom")), ("b", PermanentError("no binding")))
    assert [e["taskID"] for e in st.last_errors(permanent, now=NOW)] == ["a", "b"]
    assert "codes" not in st.last_errors(permanent, now=NOW)[0]
    assert st.failed_state(permanent) == st.OperationState.FAILED


def _conditions(*statuses: str) -> list[dict[str, str]]:
    return [{"type": f"C{i}", "status": s} for i, s in enumerate(statuses)]


@pytest.mark.parametrize(
    ("last", "conditions", "label"),
    [
        (None, [], "progressing"),
        (_last("Create", "Processing"), _conditions("False"), "progressing"),
        (_last("Create", "Error"), [], "unhealthy"),
        (_last("Reconcile", "Succeeded"), _conditions("True", "True"), "healthy"),
        (_last("Reconcile", "Succeeded"), _conditions("True", "False"), "unhealthy"),
        (_last("Reconcile", "Succeeded"), _conditions("True", "Unknown"), "progressing"),
        (_last("Reconcile", "Processing"), _conditions("True"), "progressing"),
        (_last("Reconcile", "Failed"), _conditions("True"), "unhealthy"),
        (_last("Delete", "Processing"), _conditions("True"), "progressing"),
    ],
)
def test_health_label(last: dict[str, Any] | None, conditions: list[dict[str, str]], label: str) -> None:
    assert st.health(last, conditions) == label


def test_errors_turn_failed_after_the_retry_window() -> None:
    import datetime as dt

    from gardenlet.shootstatus import OperationState, state_after_failure

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    within = start + dt.timedelta(hours=1)
    after = start + dt.timedelta(hours=13)
    window = 12 * 3600.0
    assert state_after_failure(OperationState.ERROR, cycle_start=start, now=within, window_seconds=window) == (
        OperationState.ERROR
    )
    assert state_after_failure(OperationState.ERROR, cycle_start=start, now=after, window_seconds=window) == (
        OperationState.FAILED
    )
    assert state_after_failure(OperationState.FAILED, cycle_start=start, now=within, window_seconds=window) == (
        OperationState.FAILED
    )

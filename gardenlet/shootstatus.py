"""The Shoot status the gardenlet writes, as pure functions: operation type, lastOperation, lastErrors, and the
`shoot.gardener.cloud/status` label.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

from gardener.apis.core.conditions import format_time
from gardenlet.flow import FlowError, PermanentError

Obj = dict[str, Any]

CORE = "/apis/core.gardener.cloud/v1beta1"


def shoot_path(namespace: str, name: str, subresource: str = "") -> str:
    path = f"{CORE}/namespaces/{namespace}/shoots/{name}"
    return f"{path}/{subresource}" if subresource else path


def on_seed(shoot: Obj, seed: str) -> bool:
    """Whether the Shoot is this seed's to build or to clean up (scheduled here, or still here while migrating)."""
    return seed in ((shoot.get("spec") or {}).get("seedName"), (shoot.get("status") or {}).get("seedName"))


OPERATION_ANNOTATION = "gardener.cloud/operation"
#: values of the operation annotation that ask the gardenlet for a run now
RUN_NOW = frozenset({"reconcile", "retry"})
STATUS_LABEL = "shoot.gardener.cloud/status"
FINALIZER = "gardener"
#: the run reason of a Shoot whose last flow failed with an error that may heal: retried with backoff
RETRY_AFTER_ERROR = "retrying after an error"


class OperationType(enum.StrEnum):
    CREATE = "Create"
    RECONCILE = "Reconcile"
    DELETE = "Delete"


class OperationState(enum.StrEnum):
    PROCESSING = "Processing"
    SUCCEEDED = "Succeeded"
    ERROR = "Error"
    FAILED = "Failed"


class Health(enum.StrEnum):
    HEALTHY = "healthy"
    PROGRESSING = "progressing"
    UNHEALTHY = "unhealthy"


def operation_type(shoot: Obj) -> OperationType:
    """Gardener's rule: Create until a Create succeeded once, Delete once deletion began, else Reconcile."""
    if (shoot.get("metadata") or {}).get("deletionTimestamp"):
        return OperationType.DELETE
    last = (shoot.get("status") or {}).get("lastOperation")
    if not last or (last.get("type") == OperationType.CREATE and last.get("state") != OperationState.SUCCEEDED):
        return OperationType.CREATE
    return OperationType.RECONCILE


def run_reason(shoot: Obj) -> str | None:
    """Why the Shoot needs a flow run now; None when it is up to date (or waits for a user after a failure)."""
    meta, status = shoot.get("metadata") or {}, shoot.get("status") or {}
    if meta.get("deletionTimestamp"):
        return "deletion requested" if FINALIZER in (meta.get("finalizers") or []) else None
    if (meta.get("annotations") or {}).get(OPERATION_ANNOTATION) in RUN_NOW:
        return f"operation annotation {meta['annotations'][OPERATION_ANNOTATION]}"
    last = status.get("lastOperation")
    if not last:
        return "never reconciled"
    if status.get("observedGeneration") != meta.get("generation"):
        return "spec changed"
    if last.get("state") == OperationState.PROCESSING:
        return "operation did not finish"
    if last.get("state") == OperationState.ERROR:
        return RETRY_AFTER_ERROR
    return None


def last_operation(
    kind: OperationType, state: OperationState, *, progress: int, description: str, now: dt.datetime
) -> Obj:
    return {
        "type": str(kind),
        "state": str(state),
        "progress": max(0, min(100, progress)),
        "description": description,
        "lastUpdateTime": format_time(now),
    }


def progress_description(running: Iterable[str]) -> str:
    """`lastOperation.description` while a flow runs: the tasks it is waiting for, as Gardener's
    `flow.MakeDescription` joins the running tasks (sorted); empty when nothing runs (the description stays)."""
    names = sorted(running)
    return f"Running tasks: {', '.join(names)}" if names else ""


def last_errors(error: FlowError, *, now: dt.datetime) -> list[Obj]:
    out = []
    for task_error in error.errors:
        entry: Obj = {"taskID": task_error.task_id, "description": task_error.description}
        if task_error.codes:
            entry["codes"] = [str(c) for c in task_error.codes]
        entry["lastUpdateTime"] = format_time(now)
        out.append(entry)
    return out


def failed_state(error: BaseException) -> OperationState:
    """Failed when some task cannot succeed without a change by a user; Error (retried) otherwise."""
    causes: Iterable[BaseException | None] = (
        (e.cause for e in error.errors) if isinstance(error, FlowError) else (error,)
    )
    return OperationState.FAILED if any(isinstance(c, PermanentError) for c in causes) else OperationState.ERROR


def health(last: Obj | None, conditions: Iterable[Obj] | None) -> Health:
    """The value of the status label, from the last operation and the health conditions (Gardener's rule)."""
    conditions = list(conditions or [])
    state = (last or {}).get("state")
    if state in (OperationState.ERROR, OperationState.FAILED):
        return Health.UNHEALTHY
    if not last or (last.get("type") != OperationType.RECONCILE and state != OperationState.SUCCEEDED):
        return Health.PROGRESSING
    if any(c.get("status") == "False" for c in conditions):
        return Health.UNHEALTHY
    if state == OperationState.PROCESSING or any(c.get("status") in ("Unknown", "Progressing") for c in conditions):
        return Health.PROGRESSING
    return Health.HEALTHY


def state_after_failure(
    state: OperationState, *, cycle_start: dt.datetime, now: dt.datetime, window_seconds: float
) -> OperationState:
    """An Error that has been retried for longer than the window becomes Failed: someone has to look at it."""
    if state == OperationState.ERROR and (now - cycle_start).total_seconds() > window_seconds:
        return OperationState.FAILED
    return state

"""The extension contract's status handling: which operation is due, and what status an outcome writes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from extensions.library.reconciler import (
    DEFAULT_RETRY,
    DELETE_RETRY,
    error_status,
    operation_of,
    reconcile_due,
    status_patch,
    success_status,
)
from gardener.apis.extensions.v1alpha1 import ErrorCode, LastOperationType
from gardener.runtime.errors import PermanentError, TemporaryError, classify

FINALIZER = "extensions.gardener.cloud/local"
NOW = "2025-01-01T00:00:00Z"


def obj(
    *,
    annotation: str | None = None,
    deleting: bool = False,
    last: tuple[str, str] | None = None,
    generation: int = 1,
    observed: int | None = 1,
    codes: list[str] | None = None,
    finalizer: bool = True,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "x", "namespace": "ns", "generation": generation}
    if annotation:
        meta["annotations"] = {"gardener.cloud/operation": annotation}
    if deleting:
        meta["deletionTimestamp"] = NOW
    if finalizer:
        meta["finalizers"] = [FINALIZER]
    status: dict[str, Any] = {}
    if last:
        status["lastOperation"] = {"type": last[0], "state": last[1], "progress": 50, "description": ""}
    if observed is not None:
        status["observedGeneration"] = observed
    if codes is not None:
        status["lastError"] = {"description": "boom", "codes": codes}
    return {"metadata": meta, "spec": {"type": "local"}, "status": status}


@pytest.mark.parametrize(
    ("o", "expected"),
    [
        (obj(), LastOperationType.CREATE),
        (obj(last=("Create", "Processing")), LastOperationType.CREATE),
        (obj(last=("Create", "Error")), LastOperationType.CREATE),
        (obj(last=("Create", "Succeeded")), LastOperationType.RECONCILE),
        (obj(last=("Reconcile", "Error")), LastOperationType.RECONCILE),
        (obj(last=("Create", "Succeeded"), deleting=True), LastOperationType.DELETE),
        (obj(last=("Create", "Succeeded"), annotation="migrate", deleting=True), LastOperationType.MIGRATE),
        (obj(last=("Migrate", "Error")), LastOperationType.MIGRATE),
        (obj(last=("Migrate", "Succeeded"), annotation="restore"), LastOperationType.RESTORE),
        (obj(last=("Restore", "Processing")), LastOperationType.RESTORE),
        (obj(last=("Restore", "Succeeded")), LastOperationType.RECONCILE),
        (obj(last=("Reconcile", "Succeeded"), annotation="reconcile"), LastOperationType.RECONCILE),
    ],
)
def test_operation_follows_gardener(o: dict[str, Any], expected: LastOperationType) -> None:
    assert operation_of(o) == expected


@pytest.mark.parametrize(
    ("o", "due"),
    [
        (obj(), True),
        (obj(last=("Reconcile", "Succeeded")), False),
        (obj(last=("Reconcile", "Succeeded"), annotation="reconcile"), True),
        (obj(last=("Reconcile", "Succeeded"), generation=2), True),
        (obj(last=("Reconcile", "Succeeded"), finalizer=False), True),
        (obj(last=("Reconcile", "Processing")), True),
        (obj(last=("Reconcile", "Error"), codes=[]), True),
        (obj(last=("Reconcile", "Error"), codes=["ERR_INFRA_RATE_LIMITS_EXCEEDED"]), True),
        (obj(last=("Reconcile", "Error"), codes=["ERR_CONFIGURATION_PROBLEM"]), False),
        (obj(last=("Reconcile", "Error"), codes=["ERR_INFRA_UNAUTHORIZED"], generation=2), True),
    ],
)
def test_reconcile_is_due_from_the_object_alone(o: dict[str, Any], due: bool) -> None:
    assert reconcile_due(o, FINALIZER) is due


def test_status_patch_replaces_fields_whole_and_removes_none() -> None:
    assert status_patch(None, {"a": 1, "b": None}) == [{"op": "add", "path": "/status", "value": {"a": 1}}]
    current = {"providerStatus": {"old": 1}, "lastError": {"description": "x"}}
    assert status_patch(current, {"providerStatus": {"new": 2}, "lastError": None, "gone": None}) == [
        {"op": "add", "path": "/status/providerStatus", "value": {"new": 2}},
        {"op": "remove", "path": "/status/lastError"},
    ]


def test_success_clears_the_error_and_observes_the_generation() -> None:
    changes = success_status(
        LastOperationType.RECONCILE, "infrastructure", generation=3, result={"providerStatus": {"a": 1}}, now=NOW
    )
    assert changes == {
        "providerStatus": {"a": 1},
        "lastOperation": {
            "type": "Reconcile",
            "state": "Succeeded",
            "progress": 100,
            "description": "The infrastructure was reconciled successfully",
            "lastUpdateTime": NOW,
        },
        "lastError": None,
        "observedGeneration": 3,
    }
    deleted = success_status(LastOperationType.DELETE, "worker", generation=3, result=None, now=NOW)
    assert "observedGeneration" not in deleted and deleted["lastOperation"]["type"] == "Delete"


def test_temporary_error_is_retried_after_its_delay() -> None:
    err = TemporaryError("rate limited", delay=7.0, codes=[ErrorCode.INFRA_RATE_LIMITS_EXCEEDED])
    changes, retry = error_status(LastOperationType.CREATE, "worker", err, generation=2, progress=40, now=NOW)
    assert retry == 7.0
    assert changes["lastOperation"]["state"] == "Error" and changes["lastOperation"]["progress"] == 40
    assert changes["lastError"] == {
        "description": "Error creating worker: rate limited",
        "lastUpdateTime": NOW,
        "codes": ["ERR_INFRA_RATE_LIMITS_EXCEEDED"],
    }
    assert changes["observedGeneration"] == 2


def test_permanent_errors_wait_for_a_change_but_deletion_keeps_trying() -> None:
    err = PermanentError("bad cidr")
    changes, retry = error_status(LastOperationType.RECONCILE, "infrastructure", err, generation=1, progress=1, now=NOW)
    assert math.isinf(retry)
    assert changes["lastError"]["codes"] == ["ERR_CONFIGURATION_PROBLEM"]
    unauthorized = TemporaryError("403", codes=[ErrorCode.INFRA_UNAUTHORIZED])
    assert math.isinf(
        error_status(LastOperationType.RECONCILE, "x", unauthorized, generation=1, progress=1, now=NOW)[1]
    )
    _, retry = error_status(LastOperationType.DELETE, "infrastructure", err, generation=1, progress=1, now=NOW)
    assert retry == DELETE_RETRY


def test_foreign_exceptions_are_temporary_and_typed() -> None:
    err = classify(KeyError("spec"))
    assert isinstance(err, TemporaryError) and err.message == "KeyError: 'spec'" and err.codes == ()
    _, retry = error_status(LastOperationType.CREATE, "x", err, generation=1, progress=1, now=NOW)
    assert err.delay == 0 and retry == DEFAULT_RETRY  # no delay of its own: the reconciler's pace

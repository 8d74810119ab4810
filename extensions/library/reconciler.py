"""The generic reconciler of extension resources: what every extension controller does besides its actuator.

For resources of one kind whose `spec.type` it owns, it keeps the finalizer `extensions.gardener.cloud/<type>`,
honours the `gardener.cloud/operation` annotation (reconcile, restore, migrate), and reports in
`status.lastOperation` (Processing with progress, Succeeded, Error), `status.lastError` (description and codes)
and `status.observedGeneration`. It is level-triggered: it decides from the object alone whether work is due,
so a restart mid-operation resumes it; in memory it keeps only when to try again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from gardener.apis.extensions.v1alpha1 import (
    GROUP,
    OPERATION_ANNOTATION,
    VERSION,
    LastOperationState,
    LastOperationType,
    Operation,
)
from gardener.apis.openapi import decode
from gardener.runtime.controller import Controller, Key, Manager, Result, key_of
from gardener.runtime.errors import (
    ApiError,
    CodedError,
    PermanentError,
    RequeueAfter,
    TemporaryError,
    classify,
    retryable,
)
from gardener.runtime.kube import JSON_PATCH, Kube, Obj, Resource, finalizer_patch

log = logging.getLogger("extensions.library.reconciler")

T = TypeVar("T")

#: when to try again after a temporary error that names no delay of its own
DEFAULT_RETRY = 5.0

CLUSTERS = Resource(GROUP, VERSION, "clusters", "Cluster", namespaced=False)


def extension_resource(kind: str, plural: str, *, namespaced: bool = True) -> Resource:
    return Resource(GROUP, VERSION, plural, kind, namespaced)


INFRASTRUCTURES = extension_resource("Infrastructure", "infrastructures")
CONTROLPLANES = extension_resource("ControlPlane", "controlplanes")
WORKERS = extension_resource("Worker", "workers")
OPERATINGSYSTEMCONFIGS = extension_resource("OperatingSystemConfig", "operatingsystemconfigs")
NETWORKS = extension_resource("Network", "networks")
DNSRECORDS = extension_resource("DNSRecord", "dnsrecords")
BACKUPBUCKETS = extension_resource("BackupBucket", "backupbuckets", namespaced=False)
EXTENSIONS = extension_resource("Extension", "extensions")


def now_rfc3339(clock: Callable[[], float] = time.time) -> str:
    return datetime.fromtimestamp(clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_of(obj: Obj) -> dict[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def is_migrated(obj: Obj) -> bool:
    last = status_of(obj).get("lastOperation") or {}
    return bool(last.get("type") == LastOperationType.MIGRATE and last.get("state") == LastOperationState.SUCCEEDED)


def operation_of(obj: Obj) -> LastOperationType:
    """The operation asked of the extension, as Gardener computes it: an annotation first, then deletion, then
    an unfinished Create, Migrate or Restore goes on; everything else is a Reconcile."""
    annotation = (obj["metadata"].get("annotations") or {}).get(OPERATION_ANNOTATION)
    if annotation == Operation.MIGRATE:
        return LastOperationType.MIGRATE
    if annotation == Operation.RESTORE:
        return LastOperationType.RESTORE
    if obj["metadata"].get("deletionTimestamp"):
        return LastOperationType.DELETE
    last = status_of(obj).get("lastOperation")
    if not last:
        return LastOperationType.CREATE
    unfinished = last.get("state") != LastOperationState.SUCCEEDED
    for op in (LastOperationType.CREATE, LastOperationType.MIGRATE, LastOperationType.RESTORE):
        if last.get("type") == op and unfinished:
            return op
    return LastOperationType.RECONCILE


def reconcile_due(obj: Obj, finalizer: str) -> bool:
    """Whether a create/reconcile is due from the object alone (its last outcome, generation, annotation)."""
    meta = obj["metadata"]
    status = status_of(obj)
    last = status.get("lastOperation") or {}
    if (meta.get("annotations") or {}).get(OPERATION_ANNOTATION) == Operation.RECONCILE:
        return True
    if not last or finalizer not in (meta.get("finalizers") or []):
        return True
    if meta.get("generation") != status.get("observedGeneration"):
        return True
    if last.get("type") in (LastOperationType.DELETE, LastOperationType.MIGRATE):
        return True
    state = last.get("state")
    if state == LastOperationState.PROCESSING:
        return True
    if state in (LastOperationState.ERROR, LastOperationState.FAILED):
        return retryable((status.get("lastError") or {}).get("codes") or [])
    return False


def status_patch(current: Mapping[str, Any] | None, changes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """JSON patch ops that set (or, for None, remove) top-level fields of `status`, replacing them whole."""
    if not isinstance(current, Mapping):
        return [{"op": "add", "path": "/status", "value": {k: v for k, v in changes.items() if v is not None}}]
    ops: list[dict[str, Any]] = []
    for name, value in changes.items():
        path = "/status/" + name.replace("~", "~0").replace("/", "~1")
        if value is None:
            if name in current:
                ops.append({"op": "remove", "path": path})
        else:
            ops.append({"op": "add", "path": path, "value": value})
    return ops


_VERBS = {
    LastOperationType.CREATE: ("Creating", "created", "creating"),
    LastOperationType.RECONCILE: ("Reconciling", "reconciled", "reconciling"),
    LastOperationType.DELETE: ("Deleting", "deleted", "deleting"),
    LastOperationType.MIGRATE: ("Migrating", "migrated", "migrating"),
    LastOperationType.RESTORE: ("Restoring", "restored", "restoring"),
}


def last_operation(op: LastOperationType, state: str, progress: int, description: str, now: str) -> dict[str, Any]:
    return {
        "type": str(op),
        "state": state,
        "progress": max(0, min(100, progress)),
        "description": description,
        "lastUpdateTime": now,
    }


#: how long a deletion waits after an error that retrying cannot fix (deletion must converge in the end)
DELETE_RETRY = 60.0


def success_status(
    op: LastOperationType, what: str, *, generation: int, result: Mapping[str, Any] | None, now: str
) -> dict[str, Any]:
    """Status changes after an operation succeeded: Succeeded at 100%, no lastError, the generation observed."""
    changes = {
        **(result or {}),
        "lastOperation": last_operation(op, "Succeeded", 100, f"The {what} was {_VERBS[op][1]} successfully", now),
        "lastError": None,
    }
    if op not in (LastOperationType.DELETE, LastOperationType.MIGRATE):
        changes["observedGeneration"] = generation
    return changes


def error_status(
    op: LastOperationType, what: str, err: CodedError, *, generation: int, progress: int, now: str
) -> tuple[dict[str, Any], float]:
    """Status changes after an operation failed, and when to try again (inf: not before something changes)."""
    description = f"Error {_VERBS[op][2]} {what}: {err.message}"
    last_error: dict[str, Any] = {"description": description, "lastUpdateTime": now}
    if err.codes:
        last_error["codes"] = [str(c) for c in err.codes]
    changes: dict[str, Any] = {
        "lastOperation": last_operation(op, "Error", progress, description, now),
        "lastError": last_error,
    }
    if op not in (LastOperationType.DELETE, LastOperationType.MIGRATE):
        changes["observedGeneration"] = generation
    if isinstance(err, PermanentError) or not retryable(err.codes):
        return changes, DELETE_RETRY if op == LastOperationType.DELETE else math.inf
    return changes, (err.delay if isinstance(err, TemporaryError) else 0.0) or DEFAULT_RETRY


class Context:
    """What an actuator gets: the seed client, the object, and ways to report while it works."""

    def __init__(self, reconciler: ExtensionReconciler, obj: Obj, operation: LastOperationType) -> None:
        self._reconciler = reconciler
        self.kube = reconciler.kube
        self.obj = obj
        self.operation = operation

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace") or "")

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.obj.get("spec") or {})

    def spec_as(self, cls: type[T]) -> T:
        """The spec as its contract type (`WorkerSpec`, ...), decoded as the gardenlet encoded it.

        A spec that does not decode is a configuration problem: retrying cannot fix it until someone changes it.
        """
        try:
            return decode(cls, self.obj.get("spec") or {})
        except (ValueError, TypeError) as exc:
            raise PermanentError(f"spec of {self.obj.get('kind')} {self.name} is invalid: {exc}") from None

    def progress(self, percent: int, description: str) -> None:
        """Report that the operation goes on: lastOperation Processing with this progress and description.

        Progress never goes back within one operation, so a retried step does not make it jump around."""
        last = status_of(self.obj).get("lastOperation") or {}
        going_on = last.get("type") == self.operation and last.get("state") == LastOperationState.PROCESSING
        if going_on and int(last.get("progress") or 0) >= percent:
            return
        self.patch_status(
            {"lastOperation": self._reconciler.last_operation(self.operation, "Processing", percent, description)}
        )

    def patch_status(self, changes: Mapping[str, Any]) -> None:
        """Set (None: remove) status fields now, before the operation ends (e.g. names others wait for)."""
        self.obj = self._reconciler.patch_status(self.obj, changes)

    def cluster(self) -> Obj | None:
        """The Cluster resource named after the object's namespace (the shoot, its seed and cloud profile)."""
        return self.kube.get(CLUSTERS.path(name=self.namespace)) if self.namespace else None


class Actuator(Protocol):
    """The provider-specific part of an extension controller."""

    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        """Make it so; the status fields to set on success (providerStatus ...)."""

    def delete(self, ctx: Context) -> None:
        """Remove what reconcile made; raise RequeueAfter while that is under way."""

    def migrate(self, ctx: Context) -> None:
        """Hand the resource over to another seed: keep what was made, forget it here."""

    def restore(self, ctx: Context) -> Mapping[str, Any] | None:
        """Take a migrated resource over on this seed."""


class NotImplementedByProvider(PermanentError):
    """The provider's actuator lacks an operation: reported in the resource's status, never taken as success."""


class BaseActuator:
    """Only restore has a default (a reconcile on the new seed). Reconcile, delete and migrate must be written by
    the provider: a delete that "succeeds" without removing anything would leave cloud resources behind unseen,
    and a migrate that does nothing would let two seeds own the same machines. An actuator that truly has
    nothing to do says so in its own method."""

    def _missing(self, operation: str) -> NotImplementedByProvider:
        return NotImplementedByProvider(f"{type(self).__name__} does not implement {operation}")

    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        raise self._missing("reconcile")

    def delete(self, ctx: Context) -> None:
        raise self._missing("delete")

    def migrate(self, ctx: Context) -> None:
        raise self._missing("migrate")

    def restore(self, ctx: Context) -> Mapping[str, Any] | None:
        return self.reconcile(ctx)


@dataclass(frozen=True)
class _Wait:
    until: float
    generation: int
    operation: LastOperationType


class ExtensionReconciler:
    """Reconciles resources of one kind and extension type through an actuator."""

    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        extension_type: str,
        actuator: Actuator,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.type = extension_type
        self.actuator = actuator
        self.finalizer = f"extensions.gardener.cloud/{extension_type}"
        self._clock = clock
        self._waits: dict[Key, _Wait] = {}
        self._lock = threading.Lock()
        self._what = resource.kind[0].lower() + "".join(
            f" {c.lower()}" if c.isupper() else c for c in resource.kind[1:]
        )

    # ---- wiring ----

    def matches(self, obj: Obj) -> bool:
        return (obj.get("spec") or {}).get("type") == self.type

    def register(self, manager: Manager, *, workers: int = 2) -> Controller[Key]:
        controller = manager.add(Controller(f"{self.resource.plural}-{self.type}", self, workers=workers))
        manager.watch(controller, self.resource, lambda o: [key_of(o)] if self.matches(o) else [])
        return controller

    # ---- status ----

    def last_operation(self, op: LastOperationType, state: str, progress: int, description: str) -> dict[str, Any]:
        return last_operation(op, state, progress, description, now_rfc3339(self._clock))

    def patch_status(self, obj: Obj, changes: Mapping[str, Any]) -> Obj:
        ops = status_patch(obj.get("status"), changes)
        if not ops:
            return obj
        m = obj["metadata"]
        path = self.resource.path(m.get("namespace"), m["name"], "status")
        return self.kube.patch(path, ops, content_type=JSON_PATCH)

    def _path(self, obj: Obj) -> str:
        return self.resource.path(obj["metadata"].get("namespace"), obj["metadata"]["name"])

    def _set_finalizer(self, obj: Obj, *, present: bool) -> Obj:
        patch = finalizer_patch(obj, self.finalizer, present=present)
        if patch is None:
            return obj
        try:
            return self.kube.patch(self._path(obj), patch)
        except ApiError as exc:
            if exc.status == 404 and not present:
                return obj
            raise

    def _drop_annotation(self, obj: Obj) -> Obj:
        if OPERATION_ANNOTATION not in (obj["metadata"].get("annotations") or {}):
            return obj
        return self.kube.patch(self._path(obj), {"metadata": {"annotations": {OPERATION_ANNOTATION: None}}})

    # ---- the loop ----

    def __call__(self, key: Key) -> Result:
        return Result(self._reconcile(key))

    def _reconcile(self, key: Key) -> float | None:
        obj = self.kube.get(self.resource.path(key[0] or None, key[1]))
        if obj is None or not self.matches(obj):
            with self._lock:
                self._waits.pop(key, None)
            return None
        op = operation_of(obj)
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and op != LastOperationType.MIGRATE:
            op = LastOperationType.DELETE
        annotated = OPERATION_ANNOTATION in (meta.get("annotations") or {})
        with self._lock:
            wait = self._waits.get(key)
        now = time.monotonic()
        fresh = wait is not None and wait.generation == meta.get("generation") and wait.operation == op
        if wait is not None and fresh and not annotated and now < wait.until:
            return None if math.isinf(wait.until) else wait.until - now
        if is_migrated(obj) and op not in (LastOperationType.MIGRATE, LastOperationType.RESTORE):
            if op == LastOperationType.DELETE:
                self._set_finalizer(obj, present=False)
            return None
        if op == LastOperationType.DELETE and self.finalizer not in (meta.get("finalizers") or []):
            return None
        if op in (LastOperationType.CREATE, LastOperationType.RECONCILE) and not reconcile_due(obj, self.finalizer):
            return None
        return self._run(key, obj, op)

    def _run(self, key: Key, obj: Obj, op: LastOperationType) -> float | None:
        doing = _VERBS[op][0]
        generation = int(obj["metadata"].get("generation") or 0)
        if op != LastOperationType.DELETE and op != LastOperationType.MIGRATE:
            obj = self._set_finalizer(obj, present=True)
        if op in (LastOperationType.CREATE, LastOperationType.RECONCILE):
            obj = self._drop_annotation(obj)
        last = status_of(obj).get("lastOperation") or {}
        if not (last.get("type") == op and last.get("state") == LastOperationState.PROCESSING):
            obj = self.patch_status(
                obj, {"lastOperation": self.last_operation(op, "Processing", 1, f"{doing} the {self._what}")}
            )
        ctx = Context(self, obj, op)
        fields = {"kind": self.resource.kind, "key": "/".join(k for k in key if k), "operation": str(op)}
        log.info("Operation started", extra=fields)
        try:
            result: Mapping[str, Any] | None = None
            if op == LastOperationType.DELETE:
                self.actuator.delete(ctx)
            elif op == LastOperationType.MIGRATE:
                self.actuator.migrate(ctx)
            elif op == LastOperationType.RESTORE:
                result = self.actuator.restore(ctx)
            else:
                result = self.actuator.reconcile(ctx)
        except RequeueAfter as wait:
            current = int((status_of(ctx.obj).get("lastOperation") or {}).get("progress") or 1)
            progress = max(current, wait.progress or 0)
            self.patch_status(
                ctx.obj, {"lastOperation": self.last_operation(op, "Processing", progress, wait.description)}
            )
            return self._remember(key, generation, op, wait.delay)
        except Exception as exc:
            err = classify(exc)
            progress = int((status_of(ctx.obj).get("lastOperation") or {}).get("progress") or 1)
            changes, retry = error_status(
                op, self._what, err, generation=generation, progress=progress, now=now_rfc3339(self._clock)
            )
            self.patch_status(ctx.obj, changes)
            log.warning(
                "Operation failed", extra={**fields, "error": err.message, "codes": [str(c) for c in err.codes]}
            )
            return self._remember(key, generation, op, retry)
        obj = self.patch_status(
            ctx.obj, success_status(op, self._what, generation=generation, result=result, now=now_rfc3339(self._clock))
        )
        if op == LastOperationType.RESTORE:
            obj = self._drop_annotation(obj)
        elif op in (LastOperationType.DELETE, LastOperationType.MIGRATE):
            obj = self._set_finalizer(obj, present=False)
            if op == LastOperationType.MIGRATE:
                self._drop_annotation(obj)
        with self._lock:
            self._waits.pop(key, None)
        log.info("Operation succeeded", extra=fields)
        return None

    def _remember(self, key: Key, generation: int, op: LastOperationType, delay: float) -> float | None:
        until = math.inf if math.isinf(delay) else time.monotonic() + delay
        with self._lock:
            self._waits[key] = _Wait(until, generation, op)
        return None if math.isinf(delay) else delay


def register_all(
    manager: Manager, extension_type: str, actuators: Mapping[Resource, Actuator], *, workers: int = 2
) -> list[ExtensionReconciler]:
    """One reconciler and controller per resource kind, all for `extension_type`."""
    out = []
    for resource, actuator in actuators.items():
        reconciler = ExtensionReconciler(manager.kube, resource, extension_type, actuator)
        reconciler.register(manager, workers=workers)
        out.append(reconciler)
    return out

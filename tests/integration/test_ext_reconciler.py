"""The generic extension reconciler against a real API server, with a scripted actuator in this process.

Walks one Extension resource through create, a temporary error, a permanent error that waits for a new
generation, the reconcile annotation, migrate and restore, and a deletion that waits for its actuator.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from extensions.library.reconciler import EXTENSIONS, BaseActuator, Context, ExtensionReconciler
from gardener.apis.extensions.crds import extensions_crds
from gardener.runtime.controller import Manager
from gardener.runtime.errors import PermanentError, RequeueAfter, TemporaryError
from gardener.runtime.kube import Kube
from tests.helpers import ServerProcess, eventually

NS = "shoot--p--s"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
FINALIZER = "extensions.gardener.cloud/test"
ANNOTATION = "gardener.cloud/operation"


class Scripted(BaseActuator):
    """Raises what `plan[verb]` says, one entry per call, then succeeds; counts calls."""

    def __init__(self) -> None:
        self.plan: dict[str, list[Exception]] = {}
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def _step(self, verb: str) -> None:
        with self.lock:
            self.calls[verb] = self.calls.get(verb, 0) + 1
            pending = self.plan.get(verb) or []
            exc = pending.pop(0) if pending else None
        if exc is not None:
            raise exc

    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        self._step("reconcile")
        return {"providerStatus": {"generation": ctx.obj["metadata"]["generation"]}}

    def delete(self, ctx: Context) -> None:
        self._step("delete")

    def migrate(self, ctx: Context) -> None:
        self._step("migrate")

    def restore(self, ctx: Context) -> Mapping[str, Any] | None:
        self._step("restore")
        return {"providerStatus": {"restored": True}}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kube, Scripted]]:
    server = ServerProcess(tmp_path_factory.mktemp("reconciler") / "seed").start()
    kube = Kube.from_kubeconfig(server.kubeconfig)
    stop = threading.Event()
    manager = Manager(kube)
    actuator = Scripted()
    try:
        for crd in extensions_crds():
            kube.create(CRDS, crd)
        eventually(lambda: kube.raw("GET", EXTENSIONS.path(NS)) is not None, what="Extension CRD served")
        kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        ExtensionReconciler(kube, EXTENSIONS, "test", actuator).register(manager)
        manager.start(stop)
        yield kube, actuator
    finally:
        manager.stop(stop)
        kube.close()
        server.stop()


def _get(kube: Kube, name: str) -> dict[str, Any]:
    obj = kube.get(EXTENSIONS.path(NS, name))
    assert obj is not None
    return obj


def _state(kube: Kube, name: str) -> tuple[str, str]:
    last = (_get(kube, name).get("status") or {}).get("lastOperation") or {}
    return (last.get("type", ""), last.get("state", ""))


def _ext(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "extensions.gardener.cloud/v1alpha1",
        "kind": "Extension",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"type": "test", **spec},
    }


def test_create_retries_temporary_errors(setup: tuple[Kube, Scripted]) -> None:
    kube, actuator = setup
    actuator.plan["reconcile"] = [TemporaryError("not yet", delay=0.3)]
    kube.create(EXTENSIONS.path(NS), _ext("a"))
    eventually(lambda: _state(kube, "a") == ("Create", "Succeeded"), timeout=20, what="Create Succeeded")
    obj = _get(kube, "a")
    assert FINALIZER in obj["metadata"]["finalizers"]
    assert obj["status"]["observedGeneration"] == 1 and obj["status"]["providerStatus"] == {"generation": 1}
    assert "lastError" not in obj["status"] and obj["status"]["lastOperation"]["progress"] == 100
    assert actuator.calls["reconcile"] == 2


def test_other_types_are_left_alone(setup: tuple[Kube, Scripted]) -> None:
    kube, _ = setup
    kube.create(EXTENSIONS.path(NS), {**_ext("other"), "spec": {"type": "aws"}})
    kube.create(EXTENSIONS.path(NS), _ext("mine"))
    eventually(lambda: _state(kube, "mine") == ("Create", "Succeeded"), timeout=20, what="mine Succeeded")
    assert "status" not in _get(kube, "other") and not _get(kube, "other")["metadata"].get("finalizers")


def test_permanent_error_waits_for_a_new_generation(setup: tuple[Kube, Scripted]) -> None:
    kube, actuator = setup
    actuator.plan["reconcile"] = [PermanentError("bad config")]
    kube.patch(EXTENSIONS.path(NS, "a"), {"spec": {"providerConfig": {"x": 1}}})
    eventually(lambda: _state(kube, "a") == ("Reconcile", "Error"), timeout=20, what="Reconcile Error")
    status = _get(kube, "a")["status"]
    assert status["lastError"]["codes"] == ["ERR_CONFIGURATION_PROBLEM"]
    assert status["lastError"]["description"] == "Error reconciling extension: bad config"
    assert status["observedGeneration"] == 2
    calls = actuator.calls["reconcile"]
    kube.patch(EXTENSIONS.path(NS, "a"), {"metadata": {"labels": {"touch": "1"}}})  # no new generation
    eventually(lambda: _get(kube, "a")["metadata"].get("labels"), what="label seen")
    assert actuator.calls["reconcile"] == calls
    kube.patch(EXTENSIONS.path(NS, "a"), {"spec": {"providerConfig": {"x": 2}}})
    eventually(lambda: _state(kube, "a") == ("Reconcile", "Succeeded"), timeout=20, what="fixed")
    assert _get(kube, "a")["status"]["observedGeneration"] == 3


def test_reconcile_annotation_is_honoured_and_removed(setup: tuple[Kube, Scripted]) -> None:
    kube, actuator = setup
    calls = actuator.calls["reconcile"]
    kube.patch(EXTENSIONS.path(NS, "a"), {"metadata": {"annotations": {ANNOTATION: "reconcile"}}})
    eventually(lambda: actuator.calls["reconcile"] == calls + 1, what="reconciled again")
    eventually(lambda: ANNOTATION not in (_get(kube, "a")["metadata"].get("annotations") or {}), what="dropped")
    eventually(lambda: _state(kube, "a") == ("Reconcile", "Succeeded"), what="Succeeded")


def test_migrate_then_restore(setup: tuple[Kube, Scripted]) -> None:
    kube, actuator = setup
    kube.patch(EXTENSIONS.path(NS, "a"), {"metadata": {"annotations": {ANNOTATION: "migrate"}}})
    eventually(lambda: _state(kube, "a") == ("Migrate", "Succeeded"), timeout=20, what="migrated")
    obj = _get(kube, "a")
    assert FINALIZER not in (obj["metadata"].get("finalizers") or [])
    eventually(lambda: ANNOTATION not in (_get(kube, "a")["metadata"].get("annotations") or {}), what="dropped")
    calls = actuator.calls["reconcile"]
    kube.patch(EXTENSIONS.path(NS, "a"), {"spec": {"providerConfig": {"x": 3}}})  # a migrated object is left alone
    eventually(lambda: _get(kube, "a")["metadata"]["generation"] == 4, what="new generation")
    assert actuator.calls["reconcile"] == calls and _state(kube, "a") == ("Migrate", "Succeeded")
    kube.patch(EXTENSIONS.path(NS, "a"), {"metadata": {"annotations": {ANNOTATION: "restore"}}})
    eventually(lambda: _state(kube, "a") == ("Restore", "Succeeded"), timeout=20, what="restored")
    obj = _get(kube, "a")
    assert FINALIZER in obj["metadata"]["finalizers"] and obj["status"]["providerStatus"] == {"restored": True}
    assert obj["status"]["observedGeneration"] == 4
    eventually(lambda: ANNOTATION not in (_get(kube, "a")["metadata"].get("annotations") or {}), what="dropped")


def test_delete_waits_for_the_actuator(setup: tuple[Kube, Scripted]) -> None:
    kube, actuator = setup
    actuator.plan["delete"] = [RequeueAfter("waiting for machines", delay=0.3, progress=40)]
    kube.delete(EXTENSIONS.path(NS, "a"))
    eventually(lambda: kube.get(EXTENSIONS.path(NS, "a")) is None, timeout=20, what="deleted")
    assert actuator.calls["delete"] == 2


def test_migrated_objects_are_deleted_without_the_actuator(setup: tuple[Kube, Scripted]) -> None:
    kube, actuator = setup
    kube.patch(EXTENSIONS.path(NS, "mine"), {"metadata": {"annotations": {ANNOTATION: "migrate"}}})
    eventually(lambda: _state(kube, "mine") == ("Migrate", "Succeeded"), timeout=20, what="migrated")
    deletes = actuator.calls.get("delete", 0)
    kube.delete(EXTENSIONS.path(NS, "mine"))
    eventually(lambda: kube.get(EXTENSIONS.path(NS, "mine")) is None, timeout=20, what="deleted")
    assert actuator.calls.get("delete", 0) == deletes

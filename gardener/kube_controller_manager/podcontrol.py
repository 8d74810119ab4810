"""Pods from templates, and the expectations that keep a controller from acting twice on one observation.

`pod_from_template` is upstream's GetPodFromTemplate: the template's labels, annotations and finalizers, a
`generateName` of `<prefix>-`, and a controller owner reference. `Expectations` is client-go's
ControllerExpectations: after creating or deleting N pods a controller waits until its informer has seen them
(or `timeout` passes) before it counts pods again.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gardener.kube_controller_manager.objects import owner_ref
from gardener.runtime.kube import Obj

__all__ = ["Expectations", "pod_from_template"]

#: kube's ExpectationsTimeout
EXPECTATIONS_TIMEOUT = 300.0


def pod_from_template(
    template: Mapping[str, Any], owner: Mapping[str, Any], *, generate_name: str = "", name: str = ""
) -> Obj:
    tm = template.get("metadata") or {}
    metadata: Obj = {
        "namespace": (owner.get("metadata") or {}).get("namespace", ""),
        "labels": dict(tm.get("labels") or {}),
        "ownerReferences": [owner_ref(owner)],
    }
    if tm.get("annotations"):
        metadata["annotations"] = dict(tm["annotations"])
    if tm.get("finalizers"):
        metadata["finalizers"] = list(tm["finalizers"])
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = generate_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": copy.deepcopy(template.get("spec") or {})}


@dataclass
class _Expected:
    adds: int
    deletes: int
    since: float


class Expectations:
    """Pending creations and deletions per controller key."""

    def __init__(self, *, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.timeout = timeout
        self._pending: dict[Any, _Expected] = {}

    def expect(self, key: Any, *, adds: int = 0, deletes: int = 0) -> None:
        self._pending[key] = _Expected(adds=adds, deletes=deletes, since=time.monotonic())

    def created(self, key: Any) -> None:
        if (e := self._pending.get(key)) is not None:
            e.adds -= 1

    def deleted(self, key: Any) -> None:
        if (e := self._pending.get(key)) is not None:
            e.deletes -= 1

    def satisfied(self, key: Any) -> bool:
        e = self._pending.get(key)
        if e is None or (e.adds <= 0 and e.deletes <= 0) or time.monotonic() - e.since > self.timeout:
            self._pending.pop(key, None)
            return True
        return False

    def forget(self, key: Any) -> None:
        self._pending.pop(key, None)

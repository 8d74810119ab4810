"""kube's Priority admission: a pod's priority comes from its PriorityClass (or the global default class,
else 0) and cannot be chosen by the pod itself; PriorityClasses keep at most one global default."""

from __future__ import annotations

from typing import Any

from gardener.apiserver import errors
from gardener.apiserver.builtin.admission.common import forbidden, get_object, is_kind, is_pod_create, list_objects
from gardener.apiserver.controllers.informer import LocalIndex
from gardener.apiserver.rest import AdmissionRequest, ObjectStore

GROUP = "scheduling.k8s.io"
PLURAL = "priorityclasses"
PREEMPT_LOWER = "PreemptLowerPriority"


class PriorityAdmission:
    def __init__(self, *, store: ObjectStore, classes: LocalIndex[dict[str, Any]] | None = None) -> None:
        self._store = store
        #: the PriorityClasses as the event window has them (kube's informer cache); None reads storage
        self._classes = classes

    async def admit(self, req: AdmissionRequest) -> None:
        """Mutating: fill in spec.priority, priorityClassName and preemptionPolicy of new pods."""
        if not is_pod_create(req) or req.obj is None:
            return
        spec = req.obj.setdefault("spec", {})
        class_name = str(spec.get("priorityClassName") or "")
        if class_name:
            pc = await self._get(class_name)
            if pc is None:
                raise forbidden(req, f"no PriorityClass with name {class_name} was found")
        else:
            pc = await self._global_default()
            if pc is not None:
                spec["priorityClassName"] = pc["metadata"]["name"]
        value = int(pc.get("value") or 0) if pc is not None else 0
        policy = str((pc or {}).get("preemptionPolicy") or PREEMPT_LOWER)
        given = spec.get("priority")
        if given is not None and given != value:
            raise forbidden(
                req,
                f"the integer value of priority ({given}) must not be provided in pod spec; priority admission "
                f"controller computed {value} from the given PriorityClass name",
            )
        spec["priority"] = value
        if spec.get("preemptionPolicy") not in (None, policy):
            raise forbidden(
                req,
                f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) must not be provided in pod "
                f"spec; priority admission controller computed {policy} from the given PriorityClass name",
            )
        spec["preemptionPolicy"] = policy

    async def validate(self, req: AdmissionRequest) -> None:
        """Validating: only one PriorityClass may be the global default."""
        if not is_kind(req, group=GROUP, plural=PLURAL) or req.obj is None or req.subresource:
            return
        if req.operation not in ("CREATE", "UPDATE") or not req.obj.get("globalDefault"):
            return
        current = await self._global_default()
        if current is not None and current["metadata"]["name"] != req.obj["metadata"].get("name"):
            raise errors.forbidden_object(
                resource=PLURAL,
                group=GROUP,
                name=str(req.obj["metadata"].get("name") or ""),
                why=f"PriorityClass {current['metadata']['name']} is already marked as default. Only one default can "
                "exist",
            )

    async def _get(self, name: str) -> dict[str, Any] | None:
        cached = self._classes.namespace("") if self._classes is not None else None
        found = cached.get(name) if cached is not None else None
        if found is not None:
            return found
        # not (yet) in the cache: storage has the last word, as for a missing ServiceAccount or Namespace
        return await get_object(self._store, group=GROUP, plural=PLURAL, namespace="", name=name)

    async def _global_default(self) -> dict[str, Any] | None:
        cached = self._classes.namespace("") if self._classes is not None else None
        classes = (
            list(cached.values()) if cached is not None else await list_objects(self._store, group=GROUP, plural=PLURAL)
        )
        defaults = [pc for pc in classes if pc.get("globalDefault")]
        if not defaults:
            return None
        return min(defaults, key=lambda pc: int(pc.get("value") or 0))

"""What the pod-owning workload controllers (StatefulSet, DaemonSet, Job) share: pod states as upstream's podutil
reads them, status writes as merge patches, and the claiming of pods by controller reference.

`claim` is upstream's ControllerRefManager: a controller works only on objects whose controller reference names
it, adopts orphans its selector matches (unless it is being deleted) and releases owned objects its selector no
longer matches. Events a pod controller posts for creations and deletions keep upstream's wording
(`SuccessfulCreate` "Created pod: x"), and so do the helpers below.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from gardener.kube_controller_manager.objects import (
    condition,
    controller_ref,
    is_terminating,
    labels_of,
    matches_selector,
    meta,
    owner_ref,
    parse_time,
)
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError, NotFound
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import AsyncInformer
from gardener.runtime.kube import PODS, Obj, Resource

__all__ = [
    "caught_up",
    "claim",
    "create_pod",
    "delete_pod",
    "is_active",
    "is_available",
    "is_ready",
    "is_terminal",
    "phase",
    "ready_since",
    "uid_of",
    "update_status",
]

log = logging.getLogger("gardener.kube_controller_manager.workloads")


def phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("uid") or "")


def is_terminal(pod: Mapping[str, Any]) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def is_active(pod: Mapping[str, Any]) -> bool:
    """upstream's FilterActivePods: neither finished nor being deleted."""
    return not is_terminal(pod) and not is_terminating(pod)


def is_ready(pod: Mapping[str, Any]) -> bool:
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: Mapping[str, Any]) -> float | None:
    cond = condition(pod, "Ready")
    return parse_time(cond.get("lastTransitionTime")) if cond is not None and cond.get("status") == "True" else None


def is_available(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> bool:
    """Ready for more than `min_ready_seconds` (upstream's IsPodAvailable)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds < now


async def update_status(client: AsyncKube, resource: Resource, obj: Mapping[str, Any], status: Obj) -> Obj | None:
    """UpdateStatus, as upstream's controllers write status (their roles allow update, not patch): PUT `obj` with
    `status` to `/status`, guarded by `obj`'s resourceVersion; None when the status is unchanged."""
    if dict(obj.get("status") or {}) == dict(status):
        return None
    m = meta(obj)
    path = resource.path(str(m.get("namespace") or ""), str(m.get("name") or ""), "status")
    written: Obj = await client.replace(path, {**obj, "status": status})
    return written


def _version(obj: Mapping[str, Any] | None) -> int:
    try:
        return int(str(meta(obj or {}).get("resourceVersion") or "0"))
    except ValueError:
        return 0


async def caught_up(informer: AsyncInformer, written: Mapping[str, Any], *, timeout: float = 2.0) -> None:
    """Wait (briefly) until `informer` holds `written` or a newer version of it, so that the next reconcile does
    not work from, and write with, the version before: a write guarded by a stale resourceVersion only conflicts."""
    m = meta(written)
    want = _version(written)

    def seen(obj: Obj | None) -> bool:
        return obj is None or _version(obj) >= want

    await informer.wait_for(str(m.get("namespace") or ""), str(m.get("name") or ""), seen, timeout)


async def claim(
    client: AsyncKube,
    resource: Resource,
    owner: Obj,
    candidates: Iterable[Obj],
    *,
    selector: Mapping[str, Any] | None,
    finalizers: tuple[str, ...] = (),
) -> list[Obj]:
    """The objects `owner` controls after adopting matching orphans and releasing owned objects that no longer match.

    Adoption writes a controller reference (and `finalizers`, as the Job controller wants); an object changed or
    gone meanwhile is skipped, to be seen again on the next pass.
    """
    uid = uid_of(owner)
    owner_gone = is_terminating(owner)
    claimed: list[Obj] = []
    for obj in candidates:
        ref = controller_ref(obj)
        matches = matches_selector(labels_of(obj), selector)
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches or owner_gone:
                claimed.append(obj)
                continue
            await _patch_refs(client, resource, obj, [r for r in _refs(obj) if r.get("uid") != uid], finalizers=())
            continue
        if not matches or owner_gone or is_terminating(obj):
            continue
        adopted = await _patch_refs(client, resource, obj, [*_refs(obj), owner_ref(owner)], finalizers=finalizers)
        if adopted is not None:
            claimed.append(adopted)
    return claimed


def _refs(obj: Obj) -> list[Obj]:
    return [dict(r) for r in meta(obj).get("ownerReferences") or []]


async def _patch_refs(
    client: AsyncKube, resource: Resource, obj: Obj, refs: list[Obj], *, finalizers: tuple[str, ...]
) -> Obj | None:
    m = meta(obj)
    body: Obj = {"metadata": {"ownerReferences": refs, "resourceVersion": m.get("resourceVersion")}}
    present = list(m.get("finalizers") or [])
    missing = [f for f in finalizers if f not in present]
    if missing:
        body["metadata"]["finalizers"] = [*present, *missing]
    try:
        return await client.patch(resource.path(str(m.get("namespace") or ""), str(m.get("name"))), body)
    except ApiError as exc:
        log.info("Ownership not changed", extra={"object": m.get("name"), "error": str(exc)[:200]})
        return None


async def create_pod(client: AsyncKube, recorder: EventRecorder, owner: Obj, pod: Obj) -> Obj:
    """Create `pod` for `owner` with upstream's PodControl events (`SuccessfulCreate` / `FailedCreate`)."""
    namespace = str(meta(owner).get("namespace") or "")
    try:
        created = await client.create(PODS.path(namespace), pod)
    except ApiError as exc:
        recorder.emit(owner, WARNING, "FailedCreate", f"Error creating: {exc.message}")
        raise
    recorder.emit(owner, NORMAL, "SuccessfulCreate", f"Created pod: {meta(created).get('name', '')}")
    return created


async def delete_pod(client: AsyncKube, recorder: EventRecorder, owner: Obj, name: str) -> bool:
    """Delete a pod of `owner` (`SuccessfulDelete` / `FailedDelete`); False when it was already gone."""
    namespace = str(meta(owner).get("namespace") or "")
    try:
        await client.request("DELETE", PODS.path(namespace, name))
    except NotFound:
        return False
    except ApiError as exc:
        recorder.emit(owner, WARNING, "FailedDelete", f"Error deleting: {exc.message}")
        raise
    recorder.emit(owner, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")
    return True

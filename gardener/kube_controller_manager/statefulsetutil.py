"""Who a StatefulSet's pods are (upstream's stateful_set_utils.go): names, ordinals, identity labels, storage
and the owner references that carry a claim retention policy out.

Pure functions over plain objects, so the controller (`statefulset`) and tests share them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from gardener.kube_controller_manager.objects import is_terminating, labels_of, meta, owner_ref
from gardener.kube_controller_manager.podcontrol import pod_from_template
from gardener.kube_controller_manager.workloads import is_ready, phase, uid_of
from gardener.runtime.kube import Obj

__all__ = [
    "POD_INDEX_LABEL",
    "POD_NAME_LABEL",
    "REVISION_LABEL",
    "claim_name",
    "claim_owner_refs",
    "claims_for",
    "created",
    "healthy",
    "identity_matches",
    "in_range",
    "name_of",
    "new_pod",
    "ordinal_of",
    "replica_count",
    "retention",
    "spec_of",
    "start_ordinal",
    "storage_matches",
    "update_storage",
]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
_MEMBER = re.compile(r"^(.*)-([0-9]+)$")


def ordinal_of(name: str) -> tuple[str, int]:
    """(parent set, ordinal) from a pod name; ("", -1) for a name no set gives."""
    match = _MEMBER.match(name)
    if match is None or int(match.group(2)) >= 2**31:
        return "", -1
    return match.group(1), int(match.group(2))


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name") or "")


def spec_of(sts: Mapping[str, Any]) -> Obj:
    spec: Obj = sts.get("spec") or {}
    return spec


def start_ordinal(sts: Mapping[str, Any]) -> int:
    return int((spec_of(sts).get("ordinals") or {}).get("start") or 0)


def replica_count(sts: Mapping[str, Any]) -> int:
    value = spec_of(sts).get("replicas")
    return int(value) if isinstance(value, int) else 1


def in_range(sts: Mapping[str, Any], ordinal: int) -> bool:
    return start_ordinal(sts) <= ordinal < start_ordinal(sts) + replica_count(sts)


def claim_name(template: str, set_name: str, ordinal: int) -> str:
    return f"{template}-{set_name}-{ordinal}"


def claims_for(sts: Mapping[str, Any], ordinal: int) -> list[Obj]:
    """The PersistentVolumeClaims the pod with `ordinal` mounts: the templates, renamed, with the selector's labels."""
    selector_labels = dict((spec_of(sts).get("selector") or {}).get("matchLabels") or {})
    out = []
    for template in spec_of(sts).get("volumeClaimTemplates") or []:
        claim_obj = copy.deepcopy(template)
        tm = claim_obj.setdefault("metadata", {})
        tm.pop("creationTimestamp", None)
        tm["name"] = claim_name(str(template.get("metadata", {}).get("name", "")), name_of(sts), ordinal)
        tm["namespace"] = meta(sts).get("namespace", "")
        tm["labels"] = {**(tm.get("labels") or {}), **selector_labels}
        claim_obj.pop("status", None)
        out.append({**claim_obj, "apiVersion": "v1", "kind": "PersistentVolumeClaim"})
    return out


def _templates(sts: Mapping[str, Any]) -> list[str]:
    return [str((t.get("metadata") or {}).get("name", "")) for t in spec_of(sts).get("volumeClaimTemplates") or []]


def update_storage(sts: Mapping[str, Any], pod: Obj) -> None:
    """Point the pod's volumes named like claim templates at the pod's claims (claims first, as upstream)."""
    _, ordinal = ordinal_of(name_of(pod))
    names = _templates(sts)
    spec = pod.setdefault("spec", {})
    volumes = [{"name": t, "persistentVolumeClaim": {"claimName": claim_name(t, name_of(sts), ordinal)}} for t in names]
    volumes += [v for v in spec.get("volumes") or [] if v.get("name") not in names]
    spec["volumes"] = volumes


def storage_matches(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    _, ordinal = ordinal_of(name_of(pod))
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for template in _templates(sts):
        source = (volumes.get(template) or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim_name(template, name_of(sts), ordinal):
            return False
    return True


def identity_matches(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    parent, ordinal = ordinal_of(name_of(pod))
    return (
        ordinal >= 0
        and parent == name_of(sts)
        and meta(pod).get("namespace") == meta(sts).get("namespace")
        and labels_of(pod).get(POD_NAME_LABEL) == name_of(pod)
    )


def new_pod(sts: Mapping[str, Any], ordinal: int, revision: str) -> Obj:
    """The pod with `ordinal` as `sts` (at the template of `revision`) makes it."""
    name = f"{name_of(sts)}-{ordinal}"
    pod = pod_from_template(spec_of(sts).get("template") or {}, sts, name=name)
    pod["metadata"]["generateName"] = f"{name_of(sts)}-"
    labels = pod["metadata"]["labels"]
    labels[POD_NAME_LABEL] = name
    labels[POD_INDEX_LABEL] = str(ordinal)
    labels[REVISION_LABEL] = revision
    pod["spec"]["hostname"] = name
    if spec_of(sts).get("serviceName"):
        pod["spec"]["subdomain"] = spec_of(sts)["serviceName"]
    update_storage(sts, pod)
    return pod


def retention(sts: Mapping[str, Any]) -> tuple[str, str]:
    policy = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    return str(policy.get("whenDeleted") or "Retain"), str(policy.get("whenScaled") or "Retain")


def claim_owner_refs(claim_obj: Mapping[str, Any], sts: Obj, pod: Obj) -> list[Obj] | None:
    """The owner references the retention policy wants on a pod's claim; None when they are right already (or when
    a stale reference or another controller says the claim is not ours to touch)."""

    def ours(ref: Mapping[str, Any]) -> bool:
        return (ref.get("kind") == "StatefulSet" and ref.get("name") == name_of(sts)) or (
            ref.get("kind") == "Pod" and ref.get("name") == name_of(pod)
        )

    refs = [dict(r) for r in meta(claim_obj).get("ownerReferences") or []]
    for ref in refs:
        if ours(ref) and ref.get("uid") not in (uid_of(sts), uid_of(pod)):
            return None
    others = [r for r in refs if not ours(r)]
    if any(r.get("controller") for r in others):
        return others if len(others) != len(refs) else None
    when_deleted, when_scaled = retention(sts)
    scaled_down = not in_range(sts, ordinal_of(name_of(pod))[1])
    want = list(others)
    if when_scaled == "Delete" and scaled_down:
        want.append(owner_ref(pod))
    elif when_deleted == "Delete" and not (when_scaled == "Delete" and scaled_down):
        want.append(owner_ref(sts))
    have = {(r.get("uid"), bool(r.get("controller"))) for r in refs if ours(r)}
    wanted = {(r.get("uid"), bool(r.get("controller"))) for r in want if ours(r)}
    return None if have == wanted else want


def healthy(pod: Mapping[str, Any]) -> bool:
    return phase(pod) == "Running" and is_ready(pod) and not is_terminating(pod)


def created(pod: Mapping[str, Any]) -> bool:
    return bool(phase(pod))

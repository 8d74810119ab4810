"""kube's NodeRestriction: a kubelet (user `system:node:<name>` in group `system:nodes`) changes only its own
Node and the pods bound to it, and creates no pods but mirror pods of its own."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.admission.common import forbidden, is_kind
from gardener.apiserver.rest import AdmissionRequest

NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
RESTRICTED_LABEL_PREFIX = "node-restriction.kubernetes.io/"


def node_name(req: AdmissionRequest) -> str | None:
    """The node a request comes from, or None when it is not a kubelet's."""
    user = req.user
    if NODES_GROUP not in user.groups or not user.name.startswith(NODE_PREFIX):
        return None
    return user.name[len(NODE_PREFIX) :] or None


async def node_restriction(req: AdmissionRequest) -> None:
    node = node_name(req)
    if node is None:
        return
    if is_kind(req, group="", plural="nodes"):
        requested = req.name or str(((req.obj or req.old or {}).get("metadata") or {}).get("name") or "")
        if requested != node:
            raise forbidden(req, f'node "{node}" is not allowed to modify node "{requested}"')
        changed = _restricted_label_changes(req.old, req.obj)
        if changed:
            raise forbidden(req, f"is not allowed to modify labels: {', '.join(changed)}")
    elif is_kind(req, group="", plural="pods"):
        _check_pod(req, node)


def _restricted_label_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """Labels under node-restriction.kubernetes.io/ steer workloads to trusted nodes: no kubelet touches them."""
    if new is None:
        return []
    before = ((old or {}).get("metadata") or {}).get("labels") or {}
    after = (new.get("metadata") or {}).get("labels") or {}
    keys = {k for k in (*before, *after) if k.startswith(RESTRICTED_LABEL_PREFIX) and before.get(k) != after.get(k)}
    return sorted(keys)


def _check_pod(req: AdmissionRequest, node: str) -> None:
    pod: dict[str, Any] = req.obj if req.obj is not None else (req.old or {})
    bound_to = str((pod.get("spec") or {}).get("nodeName") or "")
    if req.operation == "CREATE" and not req.subresource:
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        if MIRROR_ANNOTATION not in annotations:
            raise forbidden(
                req, f'pod does not have "{MIRROR_ANNOTATION}" annotation, node "{node}" can only create mirror pods'
            )
        if bound_to != node:
            raise forbidden(req, f'node "{node}" can only create pods with spec.nodeName set to itself')
    elif req.operation == "UPDATE":
        bound_to = str(((req.old or {}).get("spec") or {}).get("nodeName") or "")
        if req.subresource != "status":
            raise forbidden(req, f'node "{node}" can only update pod status')
        if bound_to != node:
            raise forbidden(req, f'node "{node}" can only update pod status for pods with spec.nodeName set to itself')
    elif req.operation == "DELETE" and bound_to != node:
        raise forbidden(req, f'node "{node}" can only delete pods with spec.nodeName set to itself')

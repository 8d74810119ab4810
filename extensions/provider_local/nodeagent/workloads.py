"""What the Deployment and StatefulSet controllers share: template hashes, pods from templates,
graceful pod deletion, and status writes.

Controllers see their own writes before acting again (they wait until the informer reflects a
created or deleted pod), which keeps them from creating a pod twice, like client-go's
expectations.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from extensions.provider_local.nodeagent.metrics import Metrics
from extensions.provider_local.nodeagent.objects import (
    FINALIZER,
    condition,
    controller_uid,
    is_ready,
    is_terminating,
    owner_ref,
    parse_time,
)
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError
from gardener.runtime.informer import AsyncInformer
from gardener.runtime.kube import PODS, Obj, Resource

log = logging.getLogger("provider_local.nodeagent.workloads")

#: kube's alphabet for generated name parts (no vowels, no look-alikes)
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
OBSERVE_TIMEOUT = 10.0


def template_hash(template: Mapping[str, Any], collisions: int = 0) -> str:
    """A short, stable name part for a pod template, in kube's style (`pod-template-hash`)."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":")) + f"/{collisions}"
    number = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:4], "big")
    return "".join(ALPHABET[ord(ch) % len(ALPHABET)] for ch in str(number))


def resolve_int_or_percent(value: Any, total: int, *, round_up: bool, default: str) -> int:
    value = default if value is None else value
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        scaled = int(text[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(text)


def available_since(pod: Obj, min_ready: float, now: float) -> float | None:
    """Seconds until the pod counts as available (0 when it is), None when it is not ready."""
    if not is_ready(pod) or is_terminating(pod):
        return None
    since = parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime"))
    if since is None or min_ready <= 0:
        return 0.0
    return max(0.0, since + min_ready - now)


def new_pod(
    owner: Obj,
    template: Mapping[str, Any],
    *,
    labels: Mapping[str, str],
    node_name: str,
    name: str = "",
    generate_name: str = "",
) -> Obj:
    tm = template.get("metadata") or {}
    spec = copy.deepcopy(template.get("spec") or {})
    spec["nodeName"] = node_name
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    metadata: Obj = {
        "namespace": owner["metadata"]["namespace"],
        "labels": {**(tm.get("labels") or {}), **labels},
        "ownerReferences": [owner_ref(owner)],
    }
    if tm.get("annotations"):
        metadata["annotations"] = dict(tm["annotations"])
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = generate_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


@dataclass(frozen=True)
class WorkloadContext:
    client: AsyncKube
    pods: AsyncInformer
    node_name: str
    metrics: Metrics

    def owned_pods(self, owner: Obj) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        return [p for p in self.pods.items(owner["metadata"]["namespace"]) if controller_uid(p) == uid]

    async def create_pod(self, pod: Obj) -> Obj:
        namespace = pod["metadata"]["namespace"]
        created = await self.client.create(PODS.path(namespace), pod)
        self.metrics.workload_pods_created.inc()
        name = created["metadata"]["name"]
        log.info("Created pod", extra={"pod": f"{namespace}/{name}"})
        await self.pods.wait_for(namespace, name, lambda obj: obj is not None, OBSERVE_TIMEOUT)
        return created

    async def delete_pod(self, pod: Obj) -> None:
        """Delete gracefully: our finalizer keeps the Pod until the kubelet part has stopped its processes."""
        m = pod["metadata"]
        namespace, name, uid = m["namespace"], m["name"], m["uid"]
        finalizers = list(m.get("finalizers") or [])
        try:
            if FINALIZER not in finalizers and not is_terminating(pod):
                patch = {"metadata": {"finalizers": [*finalizers, FINALIZER], "resourceVersion": m["resourceVersion"]}}
                await self.client.patch(PODS.path(namespace, name), patch)
            await self.client.request(
                "DELETE",
                PODS.path(namespace, name),
                body={"propagationPolicy": "Background", "preconditions": {"uid": uid}},
            )
        except ApiError as exc:
            if exc.status != 404:
                raise
        log.info("Deleting pod", extra={"pod": f"{namespace}/{name}"})
        await self.pods.wait_for(
            namespace,
            name,
            lambda obj: obj is None or is_terminating(obj) or obj["metadata"].get("uid") != uid,
            OBSERVE_TIMEOUT,
        )

    async def write_status(self, resource: Resource, informer: AsyncInformer, obj: Obj, status: Obj) -> None:
        """Replace the status, guarded by the cached resourceVersion; wait until the cache shows the result."""
        if (obj.get("status") or {}) == status:
            return
        m = obj["metadata"]
        namespace, name = m["namespace"], m["name"]
        try:
            written = await self.client.replace(resource.path(namespace, name, "status"), {**obj, "status": status})
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        rv = written["metadata"].get("resourceVersion")
        await informer.wait_for(
            namespace, name, lambda o: o is None or o["metadata"].get("resourceVersion") == rv, OBSERVE_TIMEOUT
        )

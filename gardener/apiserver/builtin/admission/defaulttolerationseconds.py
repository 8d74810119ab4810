"""kube's DefaultTolerationSeconds: a pod stays bound to a not-ready or unreachable node for five minutes
before it is evicted, unless it says otherwise."""

from __future__ import annotations

from gardener.apiserver.builtin.admission.common import is_pod_create
from gardener.apiserver.rest import AdmissionRequest

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_SECONDS = 300


async def default_toleration_seconds(req: AdmissionRequest) -> None:
    if not is_pod_create(req) or req.obj is None:
        return
    spec = req.obj.setdefault("spec", {})
    tolerations = spec.get("tolerations")
    if not isinstance(tolerations, list):
        tolerations = []
    for key in (NOT_READY, UNREACHABLE):
        if not any(
            # a toleration without a key tolerates every taint, this one included
            isinstance(t, dict) and t.get("key") in (key, None, "") and t.get("effect") in (None, "", "NoExecute")
            for t in tolerations
        ):
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": DEFAULT_SECONDS}
            )
    spec["tolerations"] = tolerations

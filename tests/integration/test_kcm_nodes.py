"""The controller manager's node lifecycle, taint eviction and pod GC controllers against a real API server.

Three Nodes are registered without kubelets; the test renews their Leases as kubelets would, stops renewing one
of them, and writes the status a kubelet would when that one comes back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from gardener.kube_controller_manager.objects import parse_time
from gardener.runtime.kube import Kube
from tests.helpers import ServerProcess, eventually, kubectl, module_server
from tests.kubecomponents import ComponentProcess, LeaseRenewer, controller_manager, register_node

server = module_server("kcm-nodes")
NS = "life"
NODES = ("node-a", "node-b", "node-c")
PODS = f"/api/v1/namespaces/{NS}/pods"
UNREACHABLE = "node.kubernetes.io/unreachable"
HOLD = "test.gardener.cloud/hold"


def pod_body(name: str, *, node: str = "", tolerate: int | None = None, finalizer: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "python:3.12"}]}
    if node:
        spec["nodeName"] = node
    if tolerate is not None:
        spec["tolerations"] = [
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": tolerate}
        ]
    metadata: dict[str, Any] = {"name": name, "labels": {"test": "life"}}
    if finalizer:
        metadata["finalizers"] = [HOLD]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def kubelet_status(kube: Kube, pod: str, **status: Any) -> None:
    kube.merge_patch(f"{PODS}/{pod}/status", {"status": status})


@pytest.fixture(scope="module")
def cluster(server: ServerProcess) -> Iterator[tuple[Kube, LeaseRenewer, ComponentProcess]]:
    admin = server.kubeconfig
    for name in NODES:
        register_node(admin, name)
    renewer = LeaseRenewer(admin, list(NODES), period=1.0).start()
    kubectl("create", "namespace", NS, kubeconfig=admin)
    kube = Kube.from_kubeconfig(admin)
    # finished pods for the pod GC, older and newer, before it starts (its first pass runs at once)
    for name in ("done-1", "done-2"):
        kube.create(PODS, pod_body(name, node="node-a"))
        kubelet_status(kube, name, phase="Succeeded")
    kcm = controller_manager(
        admin,
        server.data_dir / "kcm.log",
        "--controllers=nodelifecycle,taint-eviction-controller,podgc,replicaset",
        "--node-monitor-period=1s",
        "--node-monitor-grace-period=4s",
        "--terminated-pod-gc-threshold=1",
    )
    try:
        yield kube, renewer, kcm
    finally:
        renewer.stop()
        kcm.stop()
        kube.close()


def node(kube: Kube, name: str) -> dict[str, Any]:
    obj = kube.get(f"/api/v1/nodes/{name}")
    assert obj is not None
    return obj


def ready_of(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def taints(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["key"], t["effect"]): t for t in obj["spec"].get("taints") or []}


def events(kube: Kube, reason: str, namespace: str = NS) -> list[str]:
    items = kube.list(f"/api/v1/namespaces/{namespace}/events")
    return [str(e.get("message")) for e in items if e.get("reason") == reason]


def test_finished_pods_beyond_the_threshold_are_collected(cluster: tuple[Kube, LeaseRenewer, ComponentProcess]) -> None:
    kube, _, kcm = cluster
    eventually(lambda: kube.get(f"{PODS}/done-1") is None, timeout=20, what="the older finished pod collected")
    assert kube.get(f"{PODS}/done-2") is not None, "the threshold keeps one"
    assert kcm.alive(), kcm.log_tail()


def test_a_silent_node_is_tainted_its_pods_evicted_and_it_heals(
    cluster: tuple[Kube, LeaseRenewer, ComponentProcess],
) -> None:
    kube, renewer, kcm = cluster
    eventually(lambda: len(events(kube, "RegisteredNode", "default")) >= 3, timeout=20, what="nodes registered")
    assert "Node node-c event: Registered Node node-c in Controller" in events(kube, "RegisteredNode", "default")
    kube.create(PODS, pod_body("brief", node="node-c", tolerate=2, finalizer=True))
    kube.create(PODS, pod_body("patient", node="node-c", tolerate=3600))
    kubelet_status(kube, "patient", phase="Running", conditions=[{"type": "Ready", "status": "True"}])
    replicaset = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "rs"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "rs"}},
            "template": {
                "metadata": {"labels": {"app": "rs"}},
                "spec": {**pod_body("x", tolerate=0)["spec"]},
            },
        },
    }
    kube.create(f"/apis/apps/v1/namespaces/{NS}/replicasets", replicaset)
    first = eventually(lambda: kube.list(PODS, label_selector="app=rs"), timeout=20, what="the ReplicaSet's pod")[0]
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": first["metadata"]["name"]},
        "target": {"kind": "Node", "name": "node-c"},
    }
    kube.create(f"{PODS}/{first['metadata']['name']}/binding", binding)
    assert all(ready_of(node(kube, n))["status"] == "True" for n in NODES)
    assert not taints(node(kube, "node-c"))

    renewer.stop_renewing("node-c")

    def unreachable() -> dict[str, Any]:
        obj = node(kube, "node-c")
        assert ready_of(obj)["status"] == "Unknown"
        assert (UNREACHABLE, "NoExecute") in taints(obj) and (UNREACHABLE, "NoSchedule") in taints(obj)
        return obj

    lost = eventually(unreachable, timeout=30, what="node-c Unknown and tainted unreachable")
    ready = ready_of(lost)
    assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
    memory = next(c for c in lost["status"]["conditions"] if c["type"] == "MemoryPressure")
    assert (memory["status"], memory["reason"]) == ("Unknown", "NodeStatusNeverUpdated")
    assert "Node node-c status is now: NodeNotReady" in events(kube, "NodeNotReady", "default")
    tainted_at = parse_time(taints(lost)[(UNREACHABLE, "NoExecute")]["timeAdded"])
    assert tainted_at is not None

    def brief_evicted() -> dict[str, Any]:
        pod = kube.get(f"{PODS}/brief")
        assert pod is not None and pod["metadata"].get("deletionTimestamp")
        return pod

    brief = eventually(brief_evicted, timeout=20, what="the pod tolerating 2 s deleted")
    deleted_at = parse_time(brief["metadata"]["deletionTimestamp"])
    assert deleted_at is not None and deleted_at >= tainted_at + 2, "not before its toleration ran out"
    target = next(c for c in brief["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"]) == ("True", "DeletionByTaintManager")
    assert target["message"] == "Taint manager: deleting due to NoExecute taint"
    assert "Marking for deletion Pod life/brief" in events(kube, "TaintManagerEviction")
    kube.merge_patch(f"{PODS}/brief", {"metadata": {"finalizers": None}})

    def replaced() -> bool:
        # the evicted pod stays Terminating (no kubelet finishes it on a lost node); a new one replaces it
        pods = [p for p in kube.list(PODS, label_selector="app=rs") if not p["metadata"].get("deletionTimestamp")]
        return len(pods) == 1 and pods[0]["metadata"]["uid"] != first["metadata"]["uid"]

    eventually(replaced, timeout=20, what="the ReplicaSet's pod evicted and replaced")
    patient = kube.get(f"{PODS}/patient")
    assert patient is not None and not patient["metadata"].get("deletionTimestamp"), "it tolerates an hour"
    pod_ready = next(c for c in patient["status"]["conditions"] if c["type"] == "Ready")
    assert pod_ready["status"] == "False", "pods of a silent node are marked not ready"
    assert "Node is not ready" in events(kube, "NodeNotReady")
    for healthy in ("node-a", "node-b"):
        obj = node(kube, healthy)
        assert ready_of(obj)["status"] == "True" and not taints(obj), healthy

    # the kubelet is back: its Lease and a Ready status
    renewer.renew_again("node-c")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    back = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}
    kube.merge_patch(
        "/api/v1/nodes/node-c/status",
        {"status": {"conditions": [{**back, "lastHeartbeatTime": now, "lastTransitionTime": now}]}},
    )

    def healed() -> bool:
        obj = node(kube, "node-c")
        return ready_of(obj)["status"] == "True" and not taints(obj)

    eventually(healed, timeout=20, what="node-c untainted")
    eventually(
        lambda: "Cancelling deletion of Pod life/patient" in events(kube, "TaintManagerEviction"),
        timeout=20,
        what="the scheduled eviction cancelled",
    )
    assert kube.get(f"{PODS}/patient") is not None
    assert kcm.alive(), kcm.log_tail()

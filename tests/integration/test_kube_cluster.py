"""A shoot's cluster without kubelets: our API server, kube-controller-manager and kube-scheduler as processes,
three Nodes the test registers (and whose Leases it renews), driven with kubectl as a user would.

The components run under their own identities, as in a shoot: the controller manager as
`system:kube-controller-manager` with one ServiceAccount per controller (`--use-service-account-credentials`),
the scheduler as `system:kube-scheduler`. Pods do not run here: the test writes the status a kubelet would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ServerProcess, eventually, kubectl, kubectl_get, module_server
from tests.kubecomponents import (
    ComponentProcess,
    LeaseRenewer,
    controller_manager,
    register_node,
    scheduler,
    user_kubeconfig,
)

server = module_server("kube-cluster")
NODES = ("node-a", "node-b", "node-c")
NS = "apps"


@pytest.fixture(scope="module")
def cluster(server: ServerProcess) -> Iterator[dict[str, Any]]:
    admin = server.kubeconfig
    for i, node in enumerate(NODES):
        register_node(admin, node, cpu="2", memory="4Gi", zone=f"zone-{i % 2}", labels={"disk": "ssd" if i else "hdd"})
    renewer = LeaseRenewer(admin, list(NODES), period=1.0).start()
    kcm = controller_manager(
        user_kubeconfig(server, "system:kube-controller-manager"),
        server.data_dir / "kcm.log",
        "--use-service-account-credentials=true",
        "--node-monitor-period=1s",
        "--node-monitor-grace-period=5s",
    )
    sched = scheduler(user_kubeconfig(server, "system:kube-scheduler"), server.data_dir / "scheduler.log")
    kubectl("create", "namespace", NS, kubeconfig=admin)
    yield {"kcm": kcm, "scheduler": sched, "renewer": renewer}
    renewer.stop()
    for component in (kcm, sched):
        component.stop()


def _pods(kubeconfig: Path, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl_get("pods", "-n", NS, "-l", selector, kubeconfig=kubeconfig)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def _run_pods(kubeconfig: Path, selector: str) -> int:
    """What the kubelets would do: every bound pod of `selector` becomes Running and Ready; the number bound."""
    bound = 0
    for pod in _pods(kubeconfig, selector):
        if not pod["spec"].get("nodeName"):
            continue
        bound += 1
        if (pod.get("status") or {}).get("phase") == "Running":
            continue
        now = "2026-01-01T00:00:00Z"
        ready = [{"type": t, "status": "True", "lastTransitionTime": now} for t in ("Ready", "ContainersReady")]
        status = {"phase": "Running", "podIP": "127.0.0.1", "conditions": ready, "startTime": now}
        kubectl(
            "patch", "pod", pod["metadata"]["name"], "-n", NS, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}), kubeconfig=kubeconfig, check=False,
        )  # fmt: skip
    return bound


def _alive(cluster: dict[str, Any]) -> None:
    for name in ("kcm", "scheduler"):
        component: ComponentProcess = cluster[name]
        assert component.alive(), f"{name} exited:\n{component.log_tail()}"


def test_a_deployment_spreads_over_the_nodes_and_rolls(server: ServerProcess, cluster: dict[str, Any]) -> None:
    kc = server.kubeconfig
    kubectl("create", "deployment", "web", "--image=python:3.12", "--replicas=3", "-n", NS, kubeconfig=kc)

    def spread() -> bool:
        pods = _pods(kc, "app=web")
        nodes = {p["spec"].get("nodeName") for p in pods}
        return len(pods) == 3 and None not in nodes and len(nodes) == 3

    eventually(spread, timeout=60, what="three web pods on three nodes")
    rs = kubectl_get("replicasets", "-n", NS, "-l", "app=web", kubeconfig=kc)["items"]
    assert len(rs) == 1 and rs[0]["metadata"]["ownerReferences"][0]["name"] == "web"
    eventually(lambda: _run_pods(kc, "app=web") == 3, timeout=30, what="web pods running")
    kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=60s", kubeconfig=kc)

    kubectl("scale", "deployment/web", "--replicas=4", "-n", NS, kubeconfig=kc)
    eventually(lambda: _run_pods(kc, "app=web") == 4, timeout=60, what="four web pods bound")
    kubectl("set", "image", "deployment/web", "python=python:3.13", "-n", NS, kubeconfig=kc)

    def rolled() -> bool:
        _run_pods(kc, "app=web")
        d = kubectl_get("deployment", "web", "-n", NS, kubeconfig=kc)
        s = d.get("status") or {}
        return bool(s.get("updatedReplicas") == 4 and s.get("availableReplicas") == 4 and s.get("replicas") == 4)

    eventually(rolled, timeout=90, interval=0.5, what="rolled out to python:3.13")
    kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=60s", kubeconfig=kc)
    kubectl("rollout", "undo", "deployment/web", "-n", NS, kubeconfig=kc)

    def undone() -> bool:
        _run_pods(kc, "app=web")
        images = {p["spec"]["containers"][0]["image"] for p in _pods(kc, "app=web")}
        return images == {"python:3.12"} and len(_pods(kc, "app=web")) == 4

    eventually(undone, timeout=90, interval=0.5, what="rolled back to python:3.12")
    history = kubectl("rollout", "history", "deployment/web", "-n", NS, kubeconfig=kc).stdout
    assert "REVISION" in history and "3" in history
    _alive(cluster)


def test_scheduling_constraints_and_failures(server: ServerProcess, cluster: dict[str, Any]) -> None:
    kc = server.kubeconfig
    kubectl("run", "ssd", "--image=python:3.12", "-n", NS, "--overrides", json.dumps(
        {"spec": {"nodeSelector": {"disk": "ssd"}}}), kubeconfig=kc)  # fmt: skip
    node = eventually(lambda: kubectl_get("pod", "ssd", "-n", NS, kubeconfig=kc)["spec"].get("nodeName"), timeout=30)
    assert node in ("node-b", "node-c")
    kubectl("run", "huge", "--image=python:3.12", "-n", NS, "--overrides", json.dumps(
        {"spec": {"containers": [{"name": "huge", "image": "python:3.12", "resources": {"requests": {"cpu": "64"}}}]}}
    ), kubeconfig=kc)  # fmt: skip

    def failed_scheduling() -> str:
        events = kubectl_get("events", "-n", NS, "--field-selector", "involvedObject.name=huge", kubeconfig=kc)
        messages = [e.get("message") or "" for e in events["items"] if e.get("reason") == "FailedScheduling"]
        return messages[0] if messages else ""

    message = eventually(failed_scheduling, timeout=30, what="FailedScheduling event")
    assert message.startswith("0/3 nodes are available: 3 Insufficient cpu."), message
    pod = kubectl_get("pod", "huge", "-n", NS, kubeconfig=kc)
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
    scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["status"] == "False" and scheduled["reason"] == "Unschedulable"
    assert scheduled["message"] == message
    _alive(cluster)


def test_a_statefulset_starts_in_order_and_a_job_completes(server: ServerProcess, cluster: dict[str, Any]) -> None:
    kc = server.kubeconfig
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": NS},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "python:3.12"}]},
            },
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(sts), kubeconfig=kc)
    eventually(lambda: [p["metadata"]["name"] for p in _pods(kc, "app=db")] == ["db-0"], timeout=30, what="db-0")
    assert [p["metadata"]["name"] for p in _pods(kc, "app=db")] == ["db-0"]  # db-1 waits for db-0 to be Ready
    eventually(lambda: _run_pods(kc, "app=db") == 1, timeout=30, what="db-0 bound and running")
    eventually(lambda: _run_pods(kc, "app=db") == 2, timeout=30, what="db-1 after db-0")

    kubectl("create", "job", "once", "--image=python:3.12", "-n", NS, "--", "python3", "-c", "pass", kubeconfig=kc)

    def succeed() -> bool:
        for pod in _pods(kc, "job-name=once"):
            if pod["spec"].get("nodeName") and pod["status"].get("phase") != "Succeeded":
                terminated = {"exitCode": 0, "reason": "Completed"}
                container = {"name": "once", "ready": False, "restartCount": 0, "image": "python:3.12", "imageID": ""}
                status = {
                    "phase": "Succeeded",
                    "containerStatuses": [{**container, "state": {"terminated": terminated}}],
                }
                kubectl("patch", "pod", pod["metadata"]["name"], "-n", NS, "--subresource=status", "--type=merge",
                        "-p", json.dumps({"status": status}), kubeconfig=kc, check=False)  # fmt: skip
        job = kubectl_get("job", "once", "-n", NS, kubeconfig=kc)
        return any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"].get("conditions") or [])

    eventually(succeed, timeout=60, interval=0.5, what="job complete")
    _alive(cluster)


def test_a_lost_node_is_tainted_and_its_pods_move(server: ServerProcess, cluster: dict[str, Any]) -> None:
    kc = server.kubeconfig
    tolerations = [
        {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}
        for t in ("unreachable", "not-ready")
    ]
    kubectl("create", "deployment", "move", "--image=python:3.12", "--replicas=3", "-n", NS, kubeconfig=kc)
    kubectl("patch", "deployment", "move", "-n", NS, "--type=merge", "-p",
            json.dumps({"spec": {"template": {"spec": {"tolerations": tolerations}}}}), kubeconfig=kc)  # fmt: skip

    def on_node_c() -> bool:
        _run_pods(kc, "app=move")
        pods = _pods(kc, "app=move")
        return len(pods) == 3 and any(p["spec"].get("nodeName") == "node-c" for p in pods)

    eventually(on_node_c, timeout=60, interval=0.5, what="a move pod on node-c")
    renewer: LeaseRenewer = cluster["renewer"]
    renewer.stop_renewing("node-c")

    def tainted() -> bool:
        node = kubectl_get("node", "node-c", kubeconfig=kc)
        taints = {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        return ("node.kubernetes.io/unreachable", "NoExecute") in taints and ready["status"] == "Unknown"

    eventually(tainted, timeout=30, what="node-c tainted unreachable")

    def moved() -> bool:
        _run_pods(kc, "app=move")
        pods = _pods(kc, "app=move")
        nodes = [p["spec"].get("nodeName") for p in pods]
        return len(pods) == 3 and "node-c" not in nodes and None not in nodes

    eventually(moved, timeout=60, interval=0.5, what="move pods recreated on node-a/node-b")
    renewer.renew_again("node-c")

    def healed() -> bool:
        node = kubectl_get("node", "node-c", kubeconfig=kc)
        keys = {t["key"] for t in node["spec"].get("taints") or []}
        return "node.kubernetes.io/unreachable" not in keys

    eventually(healed, timeout=30, what="node-c untainted")
    _alive(cluster)

"""The project's kube-scheduler as a process against a real API server, driven with kubectl.

One API server of the module's own (SQLite), four Nodes registered by the test (no kubelet: pods stay Pending
once bound), one scheduler process. Placement, the FailedScheduling event and PodScheduled condition in
upstream's words, `kubectl describe`, a foreign schedulerName, a Node arriving for a pending pod, and the
/metrics and /healthz endpoints are checked.
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import ServerProcess, create_namespace, eventually, kubectl, kubectl_get, module_server
from tests.kubecomponents import ComponentProcess, register_node, scheduler

NS = "sched"
SMALL = {"pool": "small"}
TAINT = {"key": "dedicated", "value": "infra", "effect": "NoSchedule"}

server = module_server("kube-scheduler")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sched(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ComponentProcess, int]]:
    kc = server.kubeconfig
    create_namespace(NS, kubeconfig=kc)
    for name in ("ks-a", "ks-b"):
        register_node(kc, name, cpu="2", labels=SMALL)
    register_node(kc, "ks-c", cpu="2", labels={**SMALL, "disk": "ssd"})
    register_node(kc, "ks-tainted", cpu="2", labels=SMALL, taints=[TAINT])
    port = _free_port()
    log = tmp_path_factory.mktemp("kube-scheduler") / "scheduler.log"
    process = scheduler(kc, log, f"--secure-port={port}", "--bind-address=127.0.0.1")
    yield process, port
    alive = process.alive()
    process.stop()
    assert alive, f"the scheduler died:\n{process.log_tail()}"


def pod(name: str, *, cpu: str = "300m", **spec: Any) -> dict[str, Any]:
    container = {"name": "c", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": {"cpu": cpu}}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"test": name}},
        "spec": {"containers": [container], **spec},
    }


def apply(server: ServerProcess, *pods: dict[str, Any]) -> None:
    # a stream of documents, not a `kind: List`: kubectl's client-side validation of a List fails on this server
    stream = "\n---\n".join(json.dumps(p) for p in pods)
    kubectl("apply", "-f", "-", kubeconfig=server.kubeconfig, input=stream)


def nodes_of(server: ServerProcess) -> dict[str, str | None]:
    items = kubectl_get("pods", "-n", NS, kubeconfig=server.kubeconfig)["items"]
    return {p["metadata"]["name"]: p["spec"].get("nodeName") for p in items}


def events_for(server: ServerProcess, name: str) -> list[dict[str, Any]]:
    items = kubectl_get(
        "events", "-n", NS, "--field-selector", f"involvedObject.name={name}", kubeconfig=server.kubeconfig
    )
    return list(items["items"])


def test_places_pods_by_resources_selectors_and_taints(
    server: ServerProcess, sched: tuple[ComponentProcess, int]
) -> None:
    apply(server, pod("foreign", schedulerName="other-scheduler", nodeSelector=SMALL))
    spread = [pod(f"spread-{i}", nodeSelector=SMALL) for i in range(6)]
    tolerating = pod(
        "tolerating",
        nodeSelector={"kubernetes.io/hostname": "ks-tainted"},
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}],
    )
    intolerant = pod("intolerant", nodeSelector={"kubernetes.io/hostname": "ks-tainted"})
    apply(server, *spread, pod("ssd", nodeSelector={"disk": "ssd"}), tolerating, intolerant)

    names = [p["metadata"]["name"] for p in spread] + ["ssd", "tolerating"]
    placed = eventually(
        lambda: (lambda n: n if all(n.get(x) for x in names) else None)(nodes_of(server)),
        timeout=30,
        what="pods bound",
    )
    # least-allocated scoring spreads equal pods evenly; the untolerated taint keeps them off ks-tainted
    per_node = [placed[f"spread-{i}"] for i in range(6)]
    assert sorted(per_node) == ["ks-a", "ks-a", "ks-b", "ks-b", "ks-c", "ks-c"], placed
    assert placed["ssd"] == "ks-c"
    assert placed["tolerating"] == "ks-tainted"
    assert placed["intolerant"] is None
    n = len(kubectl_get("nodes", kubeconfig=server.kubeconfig)["items"])  # 4, or 5 once the other test added one
    want = (
        f"0/{n} nodes are available: 1 node(s) had untolerated taint {{dedicated: infra}}, {n - 1} node(s) didn't "
        f"match Pod's node affinity/selector. preemption: 0/{n} nodes are available: {n} Preemption is not helpful "
        "for scheduling."
    )
    events = eventually(lambda: events_for(server, "intolerant"), what="FailedScheduling of intolerant")
    assert [(e["type"], e["reason"], e["message"]) for e in events] == [("Warning", "FailedScheduling", want)]
    scheduled = events_for(server, "ssd")
    assert [(e["reason"], e["message"]) for e in scheduled] == [
        ("Scheduled", f"Successfully assigned {NS}/ssd to ks-c")
    ]
    # everything else is decided: the pod for another scheduler is still untouched
    assert placed["foreign"] is None
    assert events_for(server, "foreign") == []
    foreign = kubectl_get("pod", "foreign", "-n", NS, kubeconfig=server.kubeconfig)
    assert not (foreign.get("status") or {}).get("conditions")


def test_unschedulable_pod_is_reported_and_binds_once_a_node_fits(
    server: ServerProcess, sched: tuple[ComponentProcess, int]
) -> None:
    kc = server.kubeconfig
    apply(server, pod("big", cpu="3"))
    want = (
        "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 3 Insufficient cpu. "
        "preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, "
        "3 No preemption victims found for incoming pod."
    )

    def condition() -> dict[str, Any] | None:
        status = kubectl_get("pod", "big", "-n", NS, kubeconfig=kc).get("status") or {}
        return next((c for c in status.get("conditions") or [] if c["type"] == "PodScheduled"), None)

    cond = eventually(condition, timeout=30, what="PodScheduled condition of big")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", want)
    described = kubectl("describe", "pod", "big", "-n", NS, kubeconfig=kc).stdout
    line = next(line for line in described.splitlines() if "FailedScheduling" in line)
    assert line.split()[:2] == ["Warning", "FailedScheduling"] and "default-scheduler" in line, described
    assert want in described.replace("\n ", " "), described

    register_node(kc, "ks-big", cpu="8")
    bound = eventually(lambda: nodes_of(server).get("big"), timeout=30, what="big bound after a node was added")
    assert bound == "ks-big"
    reasons = eventually(
        lambda: (lambda r: r if "Scheduled" in r else None)([e["reason"] for e in events_for(server, "big")]),
        what="Scheduled event of big",
    )
    assert reasons == ["FailedScheduling", "Scheduled"]


def test_serves_metrics_and_healthz(server: ServerProcess, sched: tuple[ComponentProcess, int]) -> None:
    _, port = sched
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE

    def get(path: str) -> str:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=ctx, timeout=10) as resp:
            return str(resp.read().decode())

    assert eventually(lambda: get("/healthz"), what="healthz") == "ok"
    apply(server, pod("counted", nodeSelector=SMALL))
    eventually(lambda: nodes_of(server).get("counted"), timeout=30, what="counted bound")

    def scheduled() -> float:
        for line in get("/metrics").splitlines():
            if line.startswith("scheduler_schedule_attempts_total{") and 'result="scheduled"' in line:
                assert 'profile="default-scheduler"' in line
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    assert eventually(scheduled, what="scheduled attempts counted") >= 1
    text = get("/metrics")
    for name in (
        'scheduler_pending_pods{queue="active"}',
        'scheduler_pending_pods{queue="unschedulable"}',
        "scheduler_scheduling_attempt_duration_seconds_bucket{",
        "scheduler_pod_scheduling_sli_duration_seconds_bucket{",
        'scheduler_queue_incoming_pods_total{event="PodAdd",queue="active"}',
    ):
        assert name in text, name

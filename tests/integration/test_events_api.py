"""core/v1 and events.k8s.io/v1 Events are one resource: what one group writes, the other reads, lists and watches."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.helpers import ServerProcess, create_namespace, kubectl, kubectl_get, module_server
from tests.integration.test_durability import _client, _request

server = module_server("events-api")
V1 = "events.v1.events.k8s.io"


def _core_event(name: str, namespace: str, pod: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {"kind": "Pod", "namespace": namespace, "name": "web", "uid": pod["metadata"]["uid"]},
        "reason": "Pulled",
        "message": "image pulled",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
    }


def _v1_event(name: str, namespace: str, pod: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "eventTime": "2026-01-01T00:00:00.000001Z",
        "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-h1",
        "action": "Scheduling",
        "reason": "FailedScheduling",
        "regarding": {"kind": "Pod", "namespace": namespace, "name": "web", "uid": pod["metadata"]["uid"]},
        "note": "0/3 nodes are available",
        "type": "Warning",
    }


def _pod(server: ServerProcess, namespace: str) -> dict[str, Any]:
    create_namespace(namespace, kubeconfig=server.kubeconfig)
    kubectl("run", "web", "--image=nginx", "-n", namespace, kubeconfig=server.kubeconfig)
    pod: dict[str, Any] = kubectl_get("pod", "web", "-n", namespace, kubeconfig=server.kubeconfig)
    return pod


def test_events_k8s_io_writes_are_core_events_and_back(server: ServerProcess) -> None:
    kc = server.kubeconfig
    pod = _pod(server, "ev-a")
    kubectl("create", "-f", "-", kubeconfig=kc, input=json.dumps(_v1_event("sched", "ev-a", pod)))
    kubectl("create", "-f", "-", kubeconfig=kc, input=json.dumps(_core_event("pull", "ev-a", pod)))

    core = {e["metadata"]["name"]: e for e in kubectl_get("events", "-n", "ev-a", kubeconfig=kc)["items"]}
    assert set(core) == {"sched", "pull"}
    sched = core["sched"]
    assert sched["apiVersion"] == "v1"
    assert sched["message"] == "0/3 nodes are available" and sched["reportingComponent"] == "default-scheduler"
    assert sched["involvedObject"]["uid"] == pod["metadata"]["uid"] and "regarding" not in sched
    table = kubectl("get", "events", "-n", "ev-a", kubeconfig=kc).stdout
    assert "FailedScheduling" in table and "pod/web" in table and "0/3 nodes are available" in table
    described = kubectl("describe", "pod", "web", "-n", "ev-a", kubeconfig=kc).stdout
    assert "FailedScheduling" in described and "0/3 nodes are available" in described and "Pulled" in described

    modern = {e["metadata"]["name"]: e for e in kubectl_get(V1, "-n", "ev-a", kubeconfig=kc)["items"]}
    assert set(modern) == {"sched", "pull"}
    pull = modern["pull"]
    assert pull["apiVersion"] == "events.k8s.io/v1"
    assert pull["note"] == "image pulled" and pull["regarding"]["name"] == "web"
    assert pull["deprecatedSource"] == {"component": "kubelet", "host": "n1"} and pull["deprecatedCount"] == 1
    assert "message" not in pull and "involvedObject" not in pull
    assert pull["metadata"]["resourceVersion"] == core["pull"]["metadata"]["resourceVersion"]
    assert pull["metadata"]["uid"] == core["pull"]["metadata"]["uid"]

    # each group's field labels, evaluated on the one stored object
    names = kubectl(
        "get", V1, "-n", "ev-a", "--field-selector", "regarding.name=web,type=Warning", "-o", "name", kubeconfig=kc
    )
    assert names.stdout.split() == ["event.events.k8s.io/sched"]
    names = kubectl("get", "events", "-n", "ev-a", "--field-selector", "source=kubelet", "-o", "name", kubeconfig=kc)
    assert names.stdout.split() == ["event/pull"]
    refused = kubectl(
        "get", V1, "-n", "ev-a", "--field-selector", "involvedObject.name=web", kubeconfig=kc, check=False
    )
    assert refused.returncode != 0 and "field label not supported: involvedObject.name" in refused.stderr

    # writes through one group are what the other reads
    kubectl("label", V1, "pull", "-n", "ev-a", "seen=yes", kubeconfig=kc)
    kubectl(
        "patch",
        "event",
        "sched",
        "-n",
        "ev-a",
        "--type=merge",
        "-p",
        '{"metadata":{"labels":{"k":"v"}}}',
        kubeconfig=kc,
    )
    assert kubectl_get("event", "pull", "-n", "ev-a", kubeconfig=kc)["metadata"]["labels"] == {"seen": "yes"}
    sched_v1 = kubectl_get(V1, "sched", "-n", "ev-a", kubeconfig=kc)
    assert sched_v1["metadata"]["labels"] == {"k": "v"} and sched_v1["note"] == "0/3 nodes are available"


def _watch(server: ServerProcess, path: str) -> Any:
    base, ctx = _client(server)
    return urllib.request.urlopen(urllib.request.Request(base + path), context=ctx, timeout=20)


def test_watches_and_deletes_cross_groups(server: ServerProcess) -> None:
    kc = server.kubeconfig
    pod = _pod(server, "ev-w")
    base, ctx = _client(server)
    _, listing = _request(base, ctx, "GET", "/apis/events.k8s.io/v1/namespaces/ev-w/events")
    rv = listing["metadata"]["resourceVersion"]
    _, core_listing = _request(base, ctx, "GET", "/api/v1/namespaces/ev-w/events")
    assert core_listing["metadata"]["resourceVersion"] == rv, "one resource, one list revision"
    query = f"?watch=true&resourceVersion={rv}&timeoutSeconds=20"
    with (
        _watch(server, f"/apis/events.k8s.io/v1/namespaces/ev-w/events{query}") as modern,
        _watch(server, f"/api/v1/namespaces/ev-w/events{query}") as core,
    ):
        kubectl("create", "-f", "-", kubeconfig=kc, input=json.dumps(_core_event("pull", "ev-w", pod)))
        kubectl("create", "-f", "-", kubeconfig=kc, input=json.dumps(_v1_event("sched", "ev-w", pod)))
        kubectl("delete", V1, "pull", "-n", "ev-w", kubeconfig=kc)
        seen_modern = [json.loads(modern.readline()) for _ in range(3)]
        seen_core = [json.loads(core.readline()) for _ in range(3)]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen_modern] == [
        ("ADDED", "pull"),
        ("ADDED", "sched"),
        ("DELETED", "pull"),
    ]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen_core] == [
        ("ADDED", "pull"),
        ("ADDED", "sched"),
        ("DELETED", "pull"),
    ]
    assert seen_modern[0]["object"]["note"] == "image pulled" and seen_modern[0]["object"]["kind"] == "Event"
    assert seen_core[1]["object"]["message"] == "0/3 nodes are available"
    assert seen_core[1]["object"]["apiVersion"] == "v1"
    gone = kubectl("get", "event", "pull", "-n", "ev-w", kubeconfig=kc, check=False)
    assert gone.returncode != 0 and 'events "pull" not found' in gone.stderr
    kubectl("delete", "event", "sched", "-n", "ev-w", kubeconfig=kc)
    gone = kubectl("get", V1, "sched", "-n", "ev-w", kubeconfig=kc, check=False)
    assert gone.returncode != 0 and 'events.events.k8s.io "sched" not found' in gone.stderr

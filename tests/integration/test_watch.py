"""Watch semantics over the wire: in-stream 410, bookmarks, selector transitions, and clients
recovering from an expired watch across a server restart."""

from __future__ import annotations

import json
import subprocess
import urllib.request

from tests.helpers import KUBECTL, ServerProcess, create_namespace, kubectl
from tests.integration.test_durability import _client, _request


def _watch_lines(server: ServerProcess, path: str, *, count: int) -> list[dict[str, object]]:
    base, ctx = _client(server)
    lines: list[dict[str, object]] = []
    with urllib.request.urlopen(urllib.request.Request(base + path), context=ctx, timeout=20) as resp:
        assert resp.status == 200
        for raw in resp:
            lines.append(json.loads(raw))
            if len(lines) >= count:
                break
    return lines


def test_too_old_resource_version_is_an_in_stream_410(fresh_apiserver: ServerProcess) -> None:
    base, ctx = _client(fresh_apiserver)
    code, created = _request(base, ctx, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "a"}})
    assert code == 201
    old_rv = int(created["metadata"]["resourceVersion"]) - 1
    fresh_apiserver.stop()
    fresh_apiserver.start()  # the event window starts empty: history before the restart is gone
    lines = _watch_lines(
        fresh_apiserver, f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={old_rv}", count=1
    )
    assert lines[0]["type"] == "ERROR"
    status = lines[0]["object"]
    assert isinstance(status, dict) and status["code"] == 410 and status["reason"] == "Expired"


def test_watch_from_zero_sends_synthetic_added_then_changes(apiserver: ServerProcess) -> None:
    kc = apiserver.kubeconfig
    create_namespace("watch-zero", kubeconfig=kc)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "z", "namespace": "watch-zero"}}
    kubectl("apply", "-f", "-", kubeconfig=kc, input=json.dumps(cm))
    lines = _watch_lines(apiserver, "/api/v1/namespaces/watch-zero/configmaps?watch=true&resourceVersion=0", count=1)
    assert lines[0]["type"] == "ADDED"


def test_label_selector_watch_sees_transitions(apiserver: ServerProcess) -> None:
    kc = apiserver.kubeconfig
    ns = "watch-sel"
    create_namespace(ns, kubeconfig=kc)
    base, ctx = _client(apiserver)
    _, listing = _request(base, ctx, "GET", f"/api/v1/namespaces/{ns}/configmaps")
    rv = listing["metadata"]["resourceVersion"]
    path = f"/api/v1/namespaces/{ns}/configmaps?watch=true&labelSelector=app%3Dweb&resourceVersion={rv}"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t", "namespace": ns, "labels": {"app": "db"}}}
    kubectl("apply", "-f", "-", kubeconfig=kc, input=json.dumps(cm))  # not matching: invisible
    kubectl("label", "configmap", "t", "-n", ns, "app=web", "--overwrite", kubeconfig=kc)  # starts matching
    kubectl("label", "configmap", "t", "-n", ns, "app=db", "--overwrite", kubeconfig=kc)  # stops matching
    lines = _watch_lines(apiserver, path, count=2)
    assert [line["type"] for line in lines] == ["ADDED", "DELETED"]


def test_kubectl_wait_recovers_from_server_restart(fresh_apiserver: ServerProcess) -> None:
    kc = fresh_apiserver.kubeconfig
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w", "namespace": "default"}}
    kubectl("apply", "-f", "-", kubeconfig=kc, input=json.dumps(cm))
    env = {"KUBECONFIG": str(kc), "HOME": str(kc.parent), "PATH": "/usr/bin:/bin"}
    waiter = subprocess.Popen(
        [KUBECTL, "wait", "configmap/w", "--for=jsonpath={.data.ready}=yes", "--timeout=60s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        # Writes while kubectl watches, then a restart: its watch resumes from a revision the new
        # process no longer has, gets 410 and must relist.
        for i in range(5):
            kubectl("annotate", "configmap", "w", f"step={i}", "--overwrite", kubeconfig=kc)
        fresh_apiserver.stop()
        fresh_apiserver.start()
        kubectl("patch", "configmap", "w", "--type", "merge", "-p", '{"data":{"ready":"yes"}}', kubeconfig=kc)
        out, _ = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, out
        assert "condition met" in out
    finally:
        if waiter.poll() is None:
            waiter.kill()


def test_bookmarks_are_sent_on_idle_watches(apiserver: ServerProcess) -> None:
    import gardener.apiserver.watch as watch

    kc = apiserver.kubeconfig
    create_namespace("watch-bm", kubeconfig=kc)
    lines = _watch_lines(
        apiserver,
        "/api/v1/namespaces/watch-bm/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=0",
        count=1,
    )
    assert lines[0]["type"] == "BOOKMARK"
    obj = lines[0]["object"]
    assert isinstance(obj, dict) and int(obj["metadata"]["resourceVersion"]) > 0
    assert watch.BOOKMARK_INTERVAL <= 15  # kopf drops streams silent for 70 s

"""Errors shaped like kube-apiserver's, the connect subresources of pods, services and nodes, and /version.

One server of the module's own (SQLite: nothing here depends on the storage backend), driven over HTTPS and
with the real kubectl. Expected texts come from kube 1.32 (apimachinery's errors.go, the pod registry's
LogLocation/streamLocation/validateContainer, ValidatePodLogOptions).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.helpers import ServerProcess, kubectl, module_server
from tests.integration.test_hardening_requests import Client, status

NS = "kube-errors"
NODE = "n1"
#: the node shows no address the API server would dial its kubelet at (kube's NoMatchError, a 500 of no reason)
NO_KUBELET = "no preferred addresses found; known addresses: []"


def no_kubelet(doc: Any) -> None:
    assert (doc.get("kind"), doc.get("code"), doc.get("reason"), doc.get("message")) == (
        "Status",
        500,
        None,
        NO_KUBELET,
    ), doc


server = module_server("kube-errors")


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Client:
    return Client(server)


def _pod(name: str, *containers: str, node: str = "", init: tuple[str, ...] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "securityContext": {},
        "containers": [{"name": c, "image": "busybox"} for c in containers],
    }
    if init:
        spec["initContainers"] = [{"name": c, "image": "busybox"} for c in init]
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS}, "spec": spec}


@pytest.fixture(scope="module")
def pods(client: Client) -> str:
    client.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    client.ok("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    for pod in (
        _pod("one", "a"),
        _pod("two", "a", "b", init=("setup",)),
        _pod("placed", "a", node=NODE),
        _pod("lost", "a", node="gone"),
    ):
        client.ok("POST", f"/api/v1/namespaces/{NS}/pods", pod)
    return NS


def _pods(path: str) -> str:
    return f"/api/v1/namespaces/{NS}/pods/{path}"


# ---- item 1: every Status carries details as kube sends them ----


@pytest.mark.parametrize(
    "path",
    ["/api/v1/widgets", "/apis/nothing.example.com/v1/things", f"/api/v1/namespaces/{NS}/configmaps/x/nosuchsub"],
)
def test_no_route_is_404_with_empty_details(client: Client, path: str) -> None:
    doc = status(client.call("GET", path), 404, "NotFound")
    assert doc["message"] == "the server could not find the requested resource"
    assert doc["details"] == {}


def test_missing_object_names_itself_in_details(client: Client, pods: str) -> None:
    doc = status(client.call("GET", _pods("missing/log")), 404, "NotFound")
    assert doc["message"] == 'pods "missing" not found'
    assert doc["details"]["name"] == "missing" and doc["details"]["kind"] == "pods"


def test_unsupported_media_type_sends_no_details(client: Client, pods: str) -> None:
    code, raw = client.raw("PATCH", _pods("one"), b"{}", content_type="text/plain")
    doc = status(json.loads(raw), 415, "UnsupportedMediaType")
    assert code == 415 and "details" not in doc


def test_kubectl_debug_prints_one_line_instead_of_panicking(server: ServerProcess, pods: str) -> None:
    for target in ("pod/missing", "node/missing"):
        result = kubectl("debug", "-n", NS, target, "--image=busybox", kubeconfig=server.kubeconfig, check=False)
        assert result.returncode == 1, result
        assert "panic" not in result.stderr
        kind = target.split("/")[0]
        assert result.stderr.strip().splitlines() == [f'Error from server (NotFound): {kind}s "missing" not found']


def test_kubectl_debug_of_an_existing_pod_does_not_panic(server: ServerProcess, pods: str) -> None:
    result = kubectl("debug", "-n", NS, "pod/one", "--image=busybox", kubeconfig=server.kubeconfig, check=False)
    assert "panic" not in result.stderr + result.stdout, result.stderr
    # either the ephemeral container is added, or kubectl says the subresource is missing (one line, exit 1)
    assert result.returncode == 0 or len(result.stderr.strip().splitlines()) == 1, result


# ---- item 2: pods/log, exec, attach, portforward, proxy; services/proxy; nodes/proxy ----


def test_log_of_a_pod_without_node_is_empty(client: Client, server: ServerProcess, pods: str) -> None:
    code, raw = client.raw("GET", _pods("one/log"))
    assert (code, raw) == (204, b"")
    result = kubectl("logs", "-n", NS, "one", kubeconfig=server.kubeconfig)
    assert result.stdout == ""


@pytest.mark.parametrize("sub", ["log", "exec", "attach"])
def test_container_must_be_named_when_there_are_several(client: Client, sub: str, pods: str) -> None:
    method = "GET" if sub == "log" else "POST"
    doc = status(client.call(method, _pods(f"two/{sub}")), 400, "BadRequest")
    assert doc["message"] == "a container name must be specified for pod two, choose one of: [setup a b]"
    doc = status(client.call(method, _pods(f"two/{sub}?container=zz")), 400, "BadRequest")
    assert doc["message"] == "container zz is not valid for pod two"


@pytest.mark.parametrize("sub", ["exec", "attach", "portforward"])
def test_streams_need_a_host(client: Client, sub: str, pods: str) -> None:
    doc = status(client.call("POST", _pods(f"one/{sub}?container=a")), 400, "BadRequest")
    assert doc["message"] == "pod one does not have a host assigned"


@pytest.mark.parametrize(
    ("method", "sub"),
    [("GET", "log"), ("POST", "exec?command=ls"), ("GET", "attach"), ("POST", "portforward")],
)
def test_pod_on_a_node_without_kubelet_address_says_so(client: Client, method: str, sub: str, pods: str) -> None:
    no_kubelet(client.call(method, _pods(f"placed/{sub}")))


def test_pod_on_a_missing_node_is_the_nodes_404(client: Client, pods: str) -> None:
    doc = status(client.call("GET", _pods("lost/log")), 404, "NotFound")
    assert doc["message"] == 'nodes "gone" not found' and doc["details"]["name"] == "gone"


def test_kubectl_logs_and_exec_say_so_in_one_line(server: ServerProcess, pods: str) -> None:
    for args in (["logs", "placed"], ["exec", "placed", "--", "ls"]):
        result = kubectl("-n", NS, *args, kubeconfig=server.kubeconfig, check=False)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].endswith(NO_KUBELET), result.stderr


def test_log_options_are_validated(client: Client, pods: str) -> None:
    doc = status(client.call("GET", _pods("one/log?tailLines=-1&limitBytes=0")), 422, "Invalid")
    assert [(c["field"], c["message"]) for c in doc["details"]["causes"]] == [
        ("tailLines", "Invalid value: -1: must be greater than or equal to 0"),
        ("limitBytes", "Invalid value: 0: must be greater than 0"),
    ]
    assert doc["details"]["kind"] == "PodLogOptions"
    for query in ("tailLines=ten", "limitBytes=99999999999999999999", "sinceTime=yesterday"):
        status(client.call("GET", _pods(f"one/log?{query}")), 400, "BadRequest")
    doc = status(client.call("GET", _pods("one/log?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z")), 422, "Invalid")
    assert doc["details"]["causes"][0]["reason"] == "FieldValueForbidden"


def test_methods_outside_the_routes_are_405(client: Client, pods: str) -> None:
    assert status(client.call("PUT", _pods("one/log"), {}), 405, "MethodNotAllowed")["details"] == {}
    assert status(client.call("DELETE", _pods("one/exec")), 405, "MethodNotAllowed")["details"] == {}


def test_proxies(client: Client, pods: str) -> None:
    assert status(client.call("GET", _pods("one/proxy/")), 400, "BadRequest")["message"] == "address not allowed"
    assert status(client.call("GET", _pods("a:b:c:d/proxy/")), 400, "BadRequest")["message"] == (
        'invalid pod request "a:b:c:d"'
    )
    no_kubelet(client.call("GET", f"/api/v1/nodes/{NODE}/proxy/stats"))
    status(client.call("GET", "/api/v1/nodes/nowhere/proxy/"), 404, "NotFound")
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"ports": [{"port": 80}]},
    }
    client.ok("POST", f"/api/v1/namespaces/{NS}/services", svc)
    doc = status(client.call("GET", f"/api/v1/namespaces/{NS}/services/web:80/proxy/"), 404, "NotFound")
    assert doc["message"] == 'endpoints "web" not found'


# ---- item 3: /version ----


def test_version_is_kube_132(client: Client, server: ServerProcess) -> None:
    version = client.ok("GET", "/version")
    fields = ("major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler")
    assert all(isinstance(version[f], str) and version[f] for f in (*fields, "platform")), version
    assert (version["major"], version["minor"]) == ("1", "32")
    assert re.fullmatch(r"v1\.32\.\d+(\+[0-9A-Za-z.-]+)?", version["gitVersion"]), version
    assert re.fullmatch(r"[a-z]+/[a-z0-9]+", version["platform"]), version
    result = kubectl("version", "-o", "json", kubeconfig=server.kubeconfig)
    assert json.loads(result.stdout)["serverVersion"]["gitVersion"] == version["gitVersion"]
    # what kubectl 1.37 prints against any 1.32 server, and nothing else
    assert result.stderr.strip() == (
        "Warning: version difference between client (1.37) and server (1.32) exceeds the supported minor "
        "version skew of +/-1"
    )

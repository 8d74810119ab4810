"""Server-side apply with the real kubectl: create, merge, ownership, conflicts, forcing, removal.

One server for the module (session fixture `apiserver`); every test uses a namespace of its own.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
import yaml

from tests.helpers import ServerProcess, create_namespace, eventually, kubectl
from tests.integration.test_durability import _client

GROUP = "ssa.test.gardener.dev"
GADGETS = f"gadgets.{GROUP}"
GADGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": GADGETS},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "string"},
                                    "color": {"type": "string"},
                                    "tags": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                        "x-kubernetes-list-type": "set",
                                    },
                                    "ports": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["name"],
                                        "items": {
                                            "type": "object",
                                            "required": ["name"],
                                            "properties": {
                                                "name": {"type": "string"},
                                                "port": {"type": "integer"},
                                            },
                                        },
                                    },
                                    "args": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def gadgets(apiserver: ServerProcess) -> None:
    kubectl("apply", "-f", "-", kubeconfig=apiserver.kubeconfig, input=json.dumps(GADGET_CRD))
    kubectl("wait", "--for=condition=Established", f"crd/{GADGETS}", "--timeout=30s", kubeconfig=apiserver.kubeconfig)

    def served() -> bool:
        out = kubectl("api-resources", f"--api-group={GROUP}", "-o", "name", kubeconfig=apiserver.kubeconfig)
        return GADGETS in out.stdout

    eventually(served, what="gadgets served")


@pytest.fixture
def ns(apiserver: ServerProcess) -> str:
    name = f"ssa-{uuid.uuid4().hex[:8]}"
    create_namespace(name, kubeconfig=apiserver.kubeconfig)
    return name


def _apply(server: ServerProcess, ns: str, doc: dict[str, Any], *args: str, check: bool = True) -> Any:
    return kubectl(
        "apply",
        "--server-side",
        "-n",
        ns,
        "-f",
        "-",
        *args,
        kubeconfig=server.kubeconfig,
        input=json.dumps(doc),
        check=check,
    )


def _get(server: ServerProcess, ns: str, *what: str) -> dict[str, Any]:
    out = kubectl("get", "-n", ns, *what, "-o", "json", "--show-managed-fields", kubeconfig=server.kubeconfig)
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def _managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields") or []}


def _configmap(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def test_configmap_create_update_and_managed_fields(apiserver: ServerProcess, ns: str) -> None:
    out = _apply(apiserver, ns, _configmap("cm", {"a": "1", "b": "2"}, {"app": "x"}))
    assert "configmap/cm serverside-applied" in out.stdout
    cm = _get(apiserver, ns, "cm", "cm")
    assert cm["data"] == {"a": "1", "b": "2"}
    entry = _managers(cm)["kubectl"]
    assert entry["operation"] == "Apply" and entry["apiVersion"] == "v1" and entry["fieldsType"] == "FieldsV1"
    assert entry["time"].endswith("Z")
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}

    # managedFields are shown in YAML only when asked for
    plain = kubectl("get", "-n", ns, "cm", "cm", "-o", "yaml", kubeconfig=apiserver.kubeconfig).stdout
    shown = kubectl(
        "get", "-n", ns, "cm", "cm", "-o", "yaml", "--show-managed-fields", kubeconfig=apiserver.kubeconfig
    ).stdout
    assert "managedFields" not in plain
    assert "f:data:" in shown and "manager: kubectl" in shown

    # re-applying the same configuration is a no-op: the resourceVersion does not move
    rv = cm["metadata"]["resourceVersion"]
    _apply(apiserver, ns, _configmap("cm", {"a": "1", "b": "2"}, {"app": "x"}))
    assert _get(apiserver, ns, "cm", "cm")["metadata"]["resourceVersion"] == rv

    # changing a value and dropping a key and the labels removes them
    _apply(apiserver, ns, _configmap("cm", {"a": "changed"}))
    cm = _get(apiserver, ns, "cm", "cm")
    assert cm["data"] == {"a": "changed"}
    assert "labels" not in cm["metadata"]
    assert _managers(cm)["kubectl"]["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_conflict_and_force(apiserver: ServerProcess, ns: str) -> None:
    _apply(apiserver, ns, _configmap("cm", {"key": "one", "other": "x"}), "--field-manager=a")
    failed = _apply(apiserver, ns, _configmap("cm", {"key": "two"}), "--field-manager=b", check=False)
    assert failed.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "a": .data.key' in failed.stderr
    assert "Please review the fields above--they currently have other managers" in failed.stderr
    assert _get(apiserver, ns, "cm", "cm")["data"]["key"] == "one"

    # the same value is no conflict: both own it
    _apply(apiserver, ns, _configmap("cm", {"other": "x"}), "--field-manager=c")
    managers = _managers(_get(apiserver, ns, "cm", "cm"))
    assert managers["c"]["fieldsV1"] == {"f:data": {"f:other": {}}}
    assert managers["a"]["fieldsV1"] == {"f:data": {"f:key": {}, "f:other": {}}}

    _apply(apiserver, ns, _configmap("cm", {"key": "two"}), "--field-manager=b", "--force-conflicts")
    cm = _get(apiserver, ns, "cm", "cm")
    assert cm["data"] == {"key": "two", "other": "x"}
    managers = _managers(cm)
    assert managers["b"]["fieldsV1"] == {"f:data": {"f:key": {}}}
    assert managers["a"]["fieldsV1"] == {"f:data": {"f:other": {}}}

    # a no longer owns key, so dropping it from a's configuration leaves b's value alone; "other" is
    # still owned by c, so it stays too
    _apply(apiserver, ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}, "--field-manager=a")
    cm = _get(apiserver, ns, "cm", "cm")
    assert cm["data"] == {"key": "two", "other": "x"}
    assert "a" not in _managers(cm)


def test_conflict_with_client_side_apply_and_upgrade(apiserver: ServerProcess, ns: str) -> None:
    kubectl(
        "apply", "-n", ns, "-f", "-", kubeconfig=apiserver.kubeconfig, input=json.dumps(_configmap("cm", {"key": "1"}))
    )
    cm = _get(apiserver, ns, "cm", "cm")
    csa = _managers(cm)["kubectl-client-side-apply"]
    assert csa["operation"] == "Update" and "f:key" in csa["fieldsV1"]["f:data"]

    failed = _apply(apiserver, ns, _configmap("cm", {"key": "2"}), "--field-manager=other", check=False)
    assert 'conflict with "kubectl-client-side-apply" using v1: .data.key' in failed.stderr

    # kubectl's own manager may take over what the last client-side apply set
    _apply(apiserver, ns, _configmap("cm", {"key": "2"}))
    cm = _get(apiserver, ns, "cm", "cm")
    assert cm["data"] == {"key": "2"}
    last = json.loads(cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["data"] == {"key": "2"}


def test_update_managers_from_user_agent_and_field_manager(apiserver: ServerProcess, ns: str) -> None:
    kubectl("create", "configmap", "cm", "-n", ns, "--from-literal=a=1", kubeconfig=apiserver.kubeconfig)
    kubectl("label", "-n", ns, "cm", "cm", "team=x", kubeconfig=apiserver.kubeconfig)
    managers = _managers(_get(apiserver, ns, "cm", "cm"))
    assert managers["kubectl-create"]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
    assert managers["kubectl-label"]["fieldsV1"] == {"f:metadata": {"f:labels": {".": {}, "f:team": {}}}}
    rv = _get(apiserver, ns, "cm", "cm")["metadata"]["resourceVersion"]
    # a no-op write keeps both the object and its managedFields
    kubectl("label", "-n", ns, "cm", "cm", "team=x", "--overwrite", kubeconfig=apiserver.kubeconfig)
    assert _get(apiserver, ns, "cm", "cm")["metadata"]["resourceVersion"] == rv

    # without fieldManager the manager is the User-Agent up to its first "/"
    request = urllib.request.Request(
        f"{apiserver.url}/api/v1/namespaces/{ns}/configmaps/cm",
        data=json.dumps({"data": {"b": "2"}}).encode(),
        method="PATCH",
        headers={"Content-Type": "application/merge-patch+json", "User-Agent": "my-controller/1.0 (linux)"},
    )
    _send(apiserver, request)
    managers = _managers(_get(apiserver, ns, "cm", "cm"))
    assert managers["my-controller"]["fieldsV1"] == {"f:data": {"f:b": {}}}


def test_deployment_containers_merge_by_name(apiserver: ServerProcess, ns: str) -> None:
    def deployment(containers: list[dict[str, Any]], replicas: int | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}},
        }
        if replicas is not None:
            spec["replicas"] = replicas
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}

    _apply(apiserver, ns, deployment([{"name": "app", "image": "nginx:1", "ports": [{"containerPort": 80}]}], 1))
    # another manager adds a sidecar
    _apply(apiserver, ns, deployment([{"name": "sidecar", "image": "envoy:1"}]), "--field-manager=mesh")
    got = _get(apiserver, ns, "deployment", "web")
    containers = got["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app", "sidecar"]
    fields = _managers(got)["kubectl"]["fieldsV1"]["f:spec"]
    assert fields["f:selector"] == {}
    app = fields["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert app["."] == {} and "f:image" in app
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in app["f:ports"]
    assert (
        'k:{"name":"sidecar"}' in _managers(got)["mesh"]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    )

    # a changed image of a container kubectl owns is no conflict; the mesh sidecar survives
    _apply(apiserver, ns, deployment([{"name": "app", "image": "nginx:2", "ports": [{"containerPort": 80}]}], 2))
    got = _get(apiserver, ns, "deployment", "web")
    assert got["spec"]["replicas"] == 2
    assert {c["name"]: c["image"] for c in got["spec"]["template"]["spec"]["containers"]} == {
        "app": "nginx:2",
        "sidecar": "envoy:1",
    }
    # changing the sidecar's image is
    failed = _apply(apiserver, ns, deployment([{"name": "sidecar", "image": "envoy:2"}]), check=False)
    assert 'conflict with "mesh": .spec.template.spec.containers[name="sidecar"].image' in failed.stderr, failed.stderr

    # the scale subresource records its own manager; taking replicas back is a conflict with it
    kubectl("scale", "-n", ns, "deployment/web", "--replicas=5", kubeconfig=apiserver.kubeconfig)
    scaler = _managers(_get(apiserver, ns, "deployment", "web"))["kubectl"]
    assert scaler["subresource"] == "scale" and scaler["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    app = [{"name": "app", "image": "nginx:2", "ports": [{"containerPort": 80}]}]
    failed = _apply(apiserver, ns, deployment(app, 2), check=False)
    assert 'conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas' in failed.stderr

    # dropping the container from the mesh configuration removes it
    _apply(apiserver, ns, deployment([]), "--field-manager=mesh")
    got = _get(apiserver, ns, "deployment", "web")
    assert [c["name"] for c in got["spec"]["template"]["spec"]["containers"]] == ["app"]


def test_custom_resource(apiserver: ServerProcess, ns: str, gadgets: None) -> None:
    def gadget(spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": spec}

    out = _apply(
        apiserver,
        ns,
        gadget({"size": "S", "tags": ["a", "b"], "ports": [{"name": "http", "port": 80}], "args": ["x", "y"]}),
    )
    assert "gadget.ssa.test.gardener.dev/g serverside-applied" in out.stdout
    got = _get(apiserver, ns, GADGETS, "g")
    spec_fields = _managers(got)["kubectl"]["fieldsV1"]["f:spec"]
    assert spec_fields["f:tags"] == {'v:"a"': {}, 'v:"b"': {}}
    assert spec_fields["f:ports"] == {'k:{"name":"http"}': {".": {}, "f:name": {}, "f:port": {}}}
    assert spec_fields["f:args"] == {}

    # another manager adds a tag and a port: sets and map lists merge, atomic lists would replace
    _apply(apiserver, ns, gadget({"tags": ["c"], "ports": [{"name": "https", "port": 443}]}), "--field-manager=other")
    got = _get(apiserver, ns, GADGETS, "g")
    assert got["spec"]["tags"] == ["a", "b", "c"]
    assert [p["name"] for p in got["spec"]["ports"]] == ["http", "https"]
    assert got["spec"]["args"] == ["x", "y"]

    # conflicts on atomic lists too
    failed = _apply(apiserver, ns, gadget({"args": ["z"]}), "--field-manager=other", check=False)
    assert 'conflict with "kubectl": .spec.args' in failed.stderr

    # dropping fields from kubectl's configuration removes only what nobody else owns
    _apply(apiserver, ns, gadget({"size": "S", "tags": ["a"]}))
    got = _get(apiserver, ns, GADGETS, "g")
    assert got["spec"]["tags"] == ["a", "c"]
    assert [p["name"] for p in got["spec"]["ports"]] == ["https"]
    assert "args" not in got["spec"]

    # status goes through /status
    kubectl(
        "apply",
        "--server-side",
        "-n",
        ns,
        "--subresource=status",
        "--field-manager=ctrl",
        "-f",
        "-",
        kubeconfig=apiserver.kubeconfig,
        input=json.dumps({**gadget({}), "status": {"phase": "Ready"}}),
    )
    got = _get(apiserver, ns, GADGETS, "g")
    assert got["status"] == {"phase": "Ready"}
    ctrl = _managers(got)["ctrl"]
    assert ctrl["subresource"] == "status" and ctrl["fieldsV1"] == {"f:status": {"f:phase": {}}}


def test_apply_errors(apiserver: ServerProcess, ns: str) -> None:
    url = f"{apiserver.url}/api/v1/namespaces/{ns}/configmaps/cm"
    body = json.dumps(_configmap("cm", {"a": "1"})).encode()

    def patch(query: str, content_type: str, data: bytes = body) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(url + query, data=data, method="PATCH", headers={"Content-Type": content_type})
        return _send(apiserver, request)

    code, status = patch("", "application/apply-patch+yaml")
    assert code == 422
    assert status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: is required for apply patch",
            "field": "fieldManager",
        }
    ]
    code, status = patch("?fieldManager=x", "application/apply-patch+cbor")
    assert code == 415 and status["reason"] == "UnsupportedMediaType"
    code, status = patch("?fieldManager=x&force=true", "application/merge-patch+json", b"{}")
    assert code == 422 and "force: Forbidden: may not be specified for non-apply patch" in status["message"]

    code, created = patch("?fieldManager=x", "application/apply-patch+yaml")
    assert code == 201 and created["data"] == {"a": "1"}
    code, again = patch("?fieldManager=x", "application/apply-patch+yaml")
    assert code == 200 and again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    yaml_body = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "2"}}
    )
    code, status = patch("?fieldManager=y", "application/apply-patch+yaml", yaml_body.encode())
    assert code == 409 and status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "x": .data.a'
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "x"', "field": ".data.a"}
    ]
    wrong = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cm"}}).encode()
    code, status = patch("?fieldManager=x", "application/apply-patch+yaml", wrong)
    assert code == 400 and status["message"] == "invalid object type: /v1, Kind=Secret"
    managed = json.dumps({**_configmap("cm", {}), "metadata": {"name": "cm", "managedFields": []}}).encode()
    code, status = patch("?fieldManager=x", "application/apply-patch+yaml", managed)
    assert code == 400 and status["message"] == "metadata.managedFields must be nil"
    # kube answers 500 for a patch whose associative list repeats a key (kubernetes#122480): ours is a 400.
    duplicate = json.dumps({**_configmap("dup", {}), "metadata": {"name": "dup", "finalizers": ["a", "a"]}})
    code, status = patch("?fieldManager=x", "application/apply-patch+yaml", duplicate.encode())
    assert code == 400 and status["reason"] == "BadRequest"
    assert status["message"] == (
        "failed to create typed patch object (/dup; /v1, Kind=ConfigMap): "
        '.metadata.finalizers: duplicate entries for key [="a"]'
    )


def _send(server: ServerProcess, request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
    _, context = _client(server)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())

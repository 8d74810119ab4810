"""Malformed and dangerous requests get kube-apiserver's 4xx answer, never a 5xx or a silent write.

Regressions from fuzzing the API server over real sockets: server-side dry-run deletes that deleted
(`dryRun` only read from the query, never from a DeleteOptions body), system namespaces that could be
deleted, bodies and paths whose shape crashed a handler into a 500, and query parameters taken
without the validation kube gives them. Every request goes to the real server (both storage
backends); after each former 5xx the test checks that the server still takes a write.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ServerProcess, eventually, kubectl

#: request handling, validation, admission and auth sit above storage: one backend says it all
ONE_BACKEND = True

JSON = "application/json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
PROTECTED = ("default", "kube-system", "kube-public")


class Client:
    """HTTPS with the admin client certificate of the server's kubeconfig; one connection per request."""

    def __init__(self, server: ServerProcess) -> None:
        config = yaml.safe_load(server.kubeconfig.read_text())
        user = config["users"][0]["user"]
        tmp = Path(tempfile.mkdtemp(dir=server.data_dir))
        (tmp / "ca.crt").write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
        (tmp / "c.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
        (tmp / "c.key").write_bytes(base64.b64decode(user["client-key-data"]))
        self._ctx = ssl.create_default_context(cafile=str(tmp / "ca.crt"))
        self._ctx.load_cert_chain(str(tmp / "c.crt"), str(tmp / "c.key"))
        self.port = server.port

    def raw(self, method: str, path: str, body: bytes | None = None, *, content_type: str = JSON) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self._ctx, timeout=30)
        try:
            headers = {"Content-Type": content_type} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def call(self, method: str, path: str, body: Any = None, *, content_type: str = JSON) -> Any:
        """The decoded answer; a Status must carry the HTTP code it came with."""
        data = None if body is None else json.dumps(body).encode()
        code, raw = self.raw(method, path, data, content_type=content_type)
        doc = json.loads(raw) if raw.strip() else None
        if isinstance(doc, dict) and doc.get("kind") == "Status" and doc.get("status") == "Failure":
            assert doc.get("code") == code, (code, doc)
        else:
            assert code < 300, (code, doc)
        return doc

    def ok(self, method: str, path: str, body: Any = None, *, content_type: str = JSON) -> Any:
        doc = self.call(method, path, body, content_type=content_type)
        assert not (isinstance(doc, dict) and doc.get("status") == "Failure"), doc
        return doc


def status(doc: Any, code: int, reason: str) -> dict[str, Any]:
    """`doc` is a Failure Status with this code and reason; returns it for the caller's further checks."""
    assert isinstance(doc, dict), doc
    assert (doc.get("kind"), doc.get("status"), doc.get("code"), doc.get("reason")) == (
        "Status",
        "Failure",
        code,
        reason,
    ), doc
    return doc


def fields(doc: dict[str, Any]) -> list[str]:
    return [c["field"] for c in doc.get("details", {}).get("causes", [])]


def assert_writable(client: Client, ns: str) -> None:
    """The server still takes a write after the bad request (a 5xx used to leave it in doubt)."""
    name = f"after-{uuid.uuid4().hex[:8]}"
    created = client.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": name}, "data": {}})
    assert created["metadata"]["name"] == name


@pytest.fixture(scope="module")
def client(apiserver: ServerProcess) -> Client:
    return Client(apiserver)


@pytest.fixture
def ns(client: Client) -> Iterator[str]:
    name = f"hr-{uuid.uuid4().hex[:10]}"
    client.ok("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    yield name
    client.call("DELETE", f"/api/v1/namespaces/{name}")


def uid_of(client: Client, path: str) -> str:
    uid: str = client.ok("GET", path)["metadata"]["uid"]
    return uid


# ---- finding 1: server-side dry run, options from the DeleteOptions body ----


@pytest.mark.parametrize("name", ["default", "kube-system"])
def test_kubectl_dry_run_delete_of_a_system_namespace_deletes_nothing(
    apiserver: ServerProcess, client: Client, name: str
) -> None:
    before = uid_of(client, f"/api/v1/namespaces/{name}")
    out = kubectl("delete", "namespace", name, "--dry-run=server", kubeconfig=apiserver.kubeconfig, check=False)
    # admission runs on dry-run requests too, so kubectl hears the same refusal as without --dry-run
    assert out.returncode == 1
    assert f'namespaces "{name}" is forbidden: this namespace may not be deleted' in out.stderr
    after = client.ok("GET", f"/api/v1/namespaces/{name}")
    assert after["metadata"]["uid"] == before
    assert "deletionTimestamp" not in after["metadata"] and after["status"]["phase"] == "Active"


def test_kubectl_dry_run_delete_of_a_namespace_deletes_nothing(
    apiserver: ServerProcess, client: Client, ns: str
) -> None:
    before = uid_of(client, f"/api/v1/namespaces/{ns}")
    out = kubectl("delete", "namespace", ns, "--dry-run=server", kubeconfig=apiserver.kubeconfig)
    assert out.stdout.strip() == f'namespace "{ns}" deleted (server dry run)'
    after = client.ok("GET", f"/api/v1/namespaces/{ns}")
    assert after["metadata"]["uid"] == before
    assert "deletionTimestamp" not in after["metadata"] and after["status"]["phase"] == "Active"


def test_dry_run_from_delete_options_body(client: Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for name in ("one", "two"):
        client.ok("POST", base, {"metadata": {"name": name, "labels": {"set": "a"}}})
    dry = {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"], "propagationPolicy": "Background"}
    answered = client.ok("DELETE", f"{base}/one", dry)
    assert answered["status"] == "Success"
    listed = client.ok("DELETE", f"{base}?labelSelector=set%3Da", dry)
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["one", "two"]
    assert sorted(i["metadata"]["name"] for i in client.ok("GET", base)["items"]) == ["one", "two"]
    # the query still carries the options of a DELETE without a body
    client.ok("DELETE", f"{base}/one?dryRun=All")
    client.ok("GET", f"{base}/one")


def test_delete_options_come_from_the_body_or_the_query_never_both(client: Client, ns: str) -> None:
    """As kube's DeleteResource: a body is decoded as the whole DeleteOptions and the query is not read."""
    base = f"/api/v1/namespaces/{ns}/configmaps"
    client.ok("POST", base, {"metadata": {"name": "gone"}})
    client.ok("DELETE", f"{base}/gone?dryRun=All", {"kind": "DeleteOptions", "apiVersion": "v1"})
    doc = client.call("GET", f"{base}/gone")
    status(doc, 404, "NotFound")
    # and a bad query value is not looked at when a body is there
    client.ok("POST", base, {"metadata": {"name": "kept"}})
    client.ok("DELETE", f"{base}/kept?propagationPolicy=Bogus", {"dryRun": ["All"]})
    client.ok("GET", f"{base}/kept")


@pytest.mark.parametrize(
    ("query", "body", "field", "message"),
    [
        ("?dryRun=Bogus", None, "dryRun", 'Unsupported value: []string{"Bogus"}: supported values: "All"'),
        ("", {"dryRun": ["Bogus"]}, "dryRun", 'Unsupported value: []string{"Bogus"}: supported values: "All"'),
        (
            "?propagationPolicy=Bogus",
            None,
            "propagationPolicy",
            'Unsupported value: "Bogus": supported values: "Foreground", "Background", "Orphan", "nil"',
        ),
        (
            "",
            {"propagationPolicy": "Bogus"},
            "propagationPolicy",
            'Unsupported value: "Bogus": supported values: "Foreground", "Background", "Orphan", "nil"',
        ),
        (
            "",
            {"propagationPolicy": "Orphan", "orphanDependents": True},
            "propagationPolicy",
            'Invalid value: "Orphan": orphanDependents and deletionPropagation cannot be both set',
        ),
    ],
)
def test_invalid_delete_options_are_422(
    client: Client, ns: str, query: str, body: Any, field: str, message: str
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    client.ok("POST", base, {"metadata": {"name": "target"}})
    doc = client.call("DELETE", f"{base}/target{query}", body)
    status(doc, 422, "Invalid")
    assert doc["details"]["kind"] == "DeleteOptions" and doc["details"]["group"] == "meta.k8s.io"
    assert [(c["field"], c["message"]) for c in doc["details"]["causes"]] == [(field, message)]
    assert doc["message"] == f'DeleteOptions.meta.k8s.io "" is invalid: {field}: {message}'
    client.ok("GET", f"{base}/target")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "json: cannot unmarshal array into Go value of type v1.DeleteOptions"),
        (
            {"gracePeriodSeconds": "x"},
            "json: cannot unmarshal string into Go struct field DeleteOptions.gracePeriodSeconds of type int64",
        ),
        ({"dryRun": "All"}, "json: cannot unmarshal string into Go struct field DeleteOptions.dryRun of type []string"),
        (
            {"preconditions": {"uid": 5}},
            "json: cannot unmarshal number into Go struct field Preconditions.preconditions.uid of type types.UID",
        ),
    ],
)
def test_malformed_delete_options_body_is_400(client: Client, ns: str, body: Any, message: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    client.ok("POST", base, {"metadata": {"name": "target"}})
    doc = client.call("DELETE", f"{base}/target", body)
    status(doc, 400, "BadRequest")
    assert doc["message"] == f'DeleteOptions in version "v1" cannot be handled as a DeleteOptions: {message}'
    client.ok("GET", f"{base}/target")


def test_malformed_delete_options_query_is_400(client: Client, ns: str) -> None:
    doc = client.call("DELETE", f"/api/v1/namespaces/{ns}/configmaps/x?gracePeriodSeconds=soon")
    assert status(doc, 400, "BadRequest")["message"] == 'strconv.ParseInt: parsing "soon": invalid syntax'


# ---- finding 2: protected system namespaces, and the ones that come back ----


@pytest.mark.parametrize("name", PROTECTED)
def test_kubectl_delete_of_a_protected_namespace_is_forbidden(
    apiserver: ServerProcess, client: Client, name: str
) -> None:
    before = uid_of(client, f"/api/v1/namespaces/{name}")
    out = kubectl("delete", "namespace", name, "--wait=false", kubeconfig=apiserver.kubeconfig, check=False)
    assert out.returncode == 1
    assert (
        out.stderr.strip()
        == f'Error from server (Forbidden): namespaces "{name}" is forbidden: this namespace may not be deleted'
    )
    doc = client.call("DELETE", f"/api/v1/namespaces/{name}")
    status(doc, 403, "Forbidden")
    assert doc["message"] == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    assert doc["details"] == {"name": name, "group": "", "kind": "namespaces"}
    assert uid_of(client, f"/api/v1/namespaces/{name}") == before


def test_namespaces_have_no_deletecollection(client: Client) -> None:
    """kube serves no DELETE on the namespace collection, so nothing can sweep the system namespaces away."""
    doc = client.call("DELETE", "/api/v1/namespaces")
    status(doc, 405, "MethodNotAllowed")
    listed = client.ok("GET", "/api/v1")["resources"]
    namespaces = next(r for r in listed if r["name"] == "namespaces")
    assert "deletecollection" not in namespaces["verbs"] and "delete" in namespaces["verbs"]
    for name in PROTECTED:
        client.ok("GET", f"/api/v1/namespaces/{name}")


def test_deleted_kube_node_lease_is_recreated(fresh_apiserver: ServerProcess) -> None:
    """kube-node-lease may be deleted (it is not protected); the system namespaces controller brings it back."""
    client = Client(fresh_apiserver)
    before = uid_of(client, "/api/v1/namespaces/kube-node-lease")
    out = kubectl("delete", "namespace", "kube-node-lease", "--wait=false", kubeconfig=fresh_apiserver.kubeconfig)
    assert out.stdout.strip() == 'namespace "kube-node-lease" deleted'

    def recreated() -> bool:
        doc = client.call("GET", "/api/v1/namespaces/kube-node-lease")
        return doc["kind"] == "Namespace" and doc["metadata"]["uid"] != before and doc["status"]["phase"] == "Active"

    eventually(recreated, what="kube-node-lease recreated")


# ---- finding 3: client mistakes that used to be 500s ----


def test_missing_name_is_422_required(client: Client, ns: str) -> None:
    for path in ("/api/v1/namespaces", f"/api/v1/namespaces/{ns}/configmaps"):
        for body in ({}, {"metadata": None}, {"metadata": {}}, {"metadata": {"name": None}}):
            doc = client.call("POST", path, body)
            status(doc, 422, "Invalid")
            assert doc["details"]["causes"] == [
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value: name or generateName is required",
                    "field": "metadata.name",
                }
            ], doc
            assert doc["message"].endswith(
                '"" is invalid: metadata.name: Required value: name or generateName is required'
            )
    assert_writable(client, ns)


#: a pod template upstream's validation accepts (selector a=b)
_TEMPLATE = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


@pytest.mark.parametrize(
    ("kind", "body", "problem"),
    [
        (
            "Namespace",
            {"metadata": "x"},
            "cannot unmarshal string into Go struct field Namespace.metadata of type v1.ObjectMeta",
        ),
        (
            "Namespace",
            {"metadata": 1},
            "cannot unmarshal number into Go struct field Namespace.metadata of type v1.ObjectMeta",
        ),
        (
            "Namespace",
            {"metadata": {"name": 5}},
            "cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string",
        ),
        (
            "Namespace",
            {"metadata": {"name": "x", "labels": ["a"]}},
            "cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string",
        ),
        (
            "Namespace",
            {"metadata": {"name": "x"}, "spec": "x"},
            "cannot unmarshal string into Go struct field Namespace.spec of type v1.NamespaceSpec",
        ),
        (
            "ConfigMap",
            {"metadata": {"name": "x", "annotations": {"a": 1}}},
            "cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations of type string",
        ),
        (
            "ConfigMap",
            {"metadata": {"name": "x", "finalizers": "a"}},
            "cannot unmarshal string into Go struct field ObjectMeta.metadata.finalizers of type []string",
        ),
        (
            "ConfigMap",
            {"metadata": {"name": "x", "finalizers": [1]}},
            "cannot unmarshal number into Go struct field ObjectMeta.metadata.finalizers of type string",
        ),
        (
            "ConfigMap",
            {"metadata": {"name": "x", "ownerReferences": {}}},
            "cannot unmarshal object into Go struct field ObjectMeta.metadata.ownerReferences of type "
            "[]v1.OwnerReference",
        ),
        (
            "ConfigMap",
            {"metadata": {"name": "x", "ownerReferences": ["a"]}},
            "cannot unmarshal string into Go struct field ObjectMeta.metadata.ownerReferences of type "
            "v1.OwnerReference",
        ),
        (
            "ConfigMap",
            {"metadata": {"name": "x", "ownerReferences": [{"name": 1}]}},
            "cannot unmarshal number into Go struct field OwnerReference.metadata.ownerReferences.name of type string",
        ),
        (
            "ConfigMap",
            {"metadata": {"name": "x", "resourceVersion": 7}},
            "cannot unmarshal number into Go struct field ObjectMeta.metadata.resourceVersion of type string",
        ),
        (
            "ConfigMap",
            {"metadata": {"name": "x", "generation": "1"}},
            "cannot unmarshal string into Go struct field ObjectMeta.metadata.generation of type int64",
        ),
        (
            "ConfigMap",
            {"metadata": {"name": "x", "generation": 1.5}},
            "cannot unmarshal number 1.5 into Go struct field ObjectMeta.metadata.generation of type int64",
        ),
        (
            "ConfigMap",
            {"metadata": {"name": "x"}, "data": ["a"]},
            "cannot unmarshal array into Go struct field ConfigMap.data of type map[string]string",
        ),
        (
            "Secret",
            {"metadata": {"name": "x"}, "stringData": {"a": True}},
            "cannot unmarshal bool into Go struct field Secret.stringData of type string",
        ),
        (
            "Service",
            {"metadata": {"name": "x"}, "spec": {"ports": "80"}},
            "cannot unmarshal string into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort",
        ),
        (
            "Deployment",
            {"metadata": {"name": "x"}, "spec": {"replicas": "3"}},
            "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            "RoleBinding",
            {"metadata": {"name": "x"}, "subjects": 1},
            "cannot unmarshal number into Go struct field RoleBinding.subjects of type []v1.Subject",
        ),
    ],
)
def test_wrong_json_types_in_a_body_are_400(
    client: Client, ns: str, kind: str, body: dict[str, Any], problem: str
) -> None:
    path, version = {
        "Namespace": ("/api/v1/namespaces", "v1"),
        "ConfigMap": (f"/api/v1/namespaces/{ns}/configmaps", "v1"),
        "Secret": (f"/api/v1/namespaces/{ns}/secrets", "v1"),
        "Service": (f"/api/v1/namespaces/{ns}/services", "v1"),
        "Deployment": (f"/apis/apps/v1/namespaces/{ns}/deployments", "v1"),
        "RoleBinding": (f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", "v1"),
    }[kind]
    doc = client.call("POST", path, body)
    status(doc, 400, "BadRequest")
    assert doc["message"] == f'{kind} in version "{version}" cannot be handled as a {kind}: json: {problem}'
    # the same body in a PUT over an existing object
    existing = {"metadata": {"name": "existing"}}
    if kind == "Deployment":
        existing["spec"] = {"selector": {"matchLabels": {"a": "b"}}, "template": _TEMPLATE}
    if kind == "Service":
        existing["spec"] = {"ports": [{"port": 80}]}
    if kind == "RoleBinding":
        existing["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    if kind != "Namespace":
        client.ok("POST", path, existing)
        replaced = json.loads(json.dumps(body))
        if isinstance(replaced.get("metadata"), dict) and "name" in replaced["metadata"]:
            replaced["metadata"]["name"] = "existing"
        doc = client.call("PUT", f"{path}/existing", replaced)
        status(doc, 400, "BadRequest")
    assert_writable(client, ns)


@pytest.mark.parametrize("body", [[], "x", 5, None, True])
def test_body_that_is_not_an_object_is_400(client: Client, ns: str, body: Any) -> None:
    code, raw = client.raw("POST", f"/api/v1/namespaces/{ns}/configmaps", json.dumps(body).encode())
    assert code == 400
    status(json.loads(raw), 400, "BadRequest")
    assert_writable(client, ns)


def test_kind_and_api_version_mismatch_are_400(client: Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    doc = client.call("POST", base, {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "x"}})
    status(doc, 400, "BadRequest")
    doc = client.call("POST", base, {"kind": "ConfigMap", "apiVersion": "apps/v1", "metadata": {"name": "x"}})
    status(doc, 400, "BadRequest")
    client.ok("POST", base, {"metadata": {"name": "x"}})
    doc = client.call("PUT", f"{base}/x", {"metadata": {"name": "y"}})
    assert (
        status(doc, 400, "BadRequest")["message"] == "the name of the object (y) does not match the name on the URL (x)"
    )
    assert_writable(client, ns)


@pytest.mark.parametrize(
    ("content_type", "patch", "problem"),
    [
        (
            JSON_PATCH,
            [{"op": "replace", "path": "/metadata", "value": 1}],
            "json: cannot unmarshal number into Go struct field ConfigMap.metadata of type v1.ObjectMeta",
        ),
        (
            MERGE,
            {"metadata": "x"},
            "json: cannot unmarshal string into Go struct field ConfigMap.metadata of type v1.ObjectMeta",
        ),
        (
            MERGE,
            {"metadata": {"labels": ["a"]}},
            "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string",
        ),
        (
            MERGE,
            {"data": 1},
            "json: cannot unmarshal number into Go struct field ConfigMap.data of type map[string]string",
        ),
    ],
)
def test_patch_producing_wrong_types_is_422_on_patch(
    client: Client, ns: str, content_type: str, patch: Any, problem: str
) -> None:
    """kube decodes the patched document into the typed object and answers 422 Invalid on the field `patch`."""
    base = f"/api/v1/namespaces/{ns}/configmaps"
    client.ok("POST", base, {"metadata": {"name": "target"}, "data": {"k": "v"}})
    doc = client.call("PATCH", f"{base}/target", patch, content_type=content_type)
    status(doc, 422, "Invalid")
    assert fields(doc) == ["patch"]
    assert doc["details"]["causes"][0]["message"].startswith('Invalid value: "{')
    assert doc["details"]["causes"][0]["message"].endswith(f": {problem}")
    assert client.ok("GET", f"{base}/target")["data"] == {"k": "v"}
    assert_writable(client, ns)


def test_scale_with_malformed_bodies(client: Client, ns: str) -> None:
    rs = f"/apis/apps/v1/namespaces/{ns}/replicasets"
    client.ok(
        "POST",
        rs,
        {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": _TEMPLATE}},
    )
    scale = f"{rs}/web/scale"
    for body, problem in [
        ({"metadata": "x"}, "json: cannot unmarshal string into Go struct field Scale.metadata of type v1.ObjectMeta"),
        ([], "json: cannot unmarshal array into Go value of type v1.Scale"),
        ({"spec": "x"}, "json: cannot unmarshal string into Go struct field Scale.spec of type v1.ScaleSpec"),
        (
            {"spec": {"replicas": "2"}},
            "json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type int32",
        ),
    ]:
        doc = client.call("PUT", scale, body)
        assert (
            status(doc, 400, "BadRequest")["message"]
            == f'Scale in version "v1" cannot be handled as a Scale: {problem}'
        )
    doc = client.call("PATCH", scale, {"metadata": "x"}, content_type=MERGE)
    assert fields(status(doc, 422, "Invalid")) == ["patch"]
    doc = client.call("PUT", scale, {"spec": {"replicas": -1}})
    assert fields(status(doc, 422, "Invalid")) == ["spec.replicas"]
    assert client.ok("PUT", scale, {"metadata": {"name": "web"}, "spec": {"replicas": 3}})["spec"]["replicas"] == 3
    assert client.ok("GET", f"{rs}/web")["spec"]["replicas"] == 3


def test_token_request_with_malformed_bodies(client: Client, ns: str) -> None:
    client.ok("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "robot"}})
    token = f"/api/v1/namespaces/{ns}/serviceaccounts/robot/token"
    for body in (
        [],
        {"metadata": "x"},
        {"spec": "x"},
        {"spec": {"expirationSeconds": "soon"}},
        {"spec": {"audiences": "a"}},
    ):
        doc = client.call("POST", token, body)
        assert status(doc, 400, "BadRequest")["message"].startswith(
            'TokenRequest in version "v1" cannot be handled as a TokenRequest: json: cannot unmarshal'
        )
    issued = client.ok("POST", token, {"spec": {"audiences": ["a"], "expirationSeconds": 3600}})
    assert issued["status"]["token"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_name_that_is_not_a_path_segment_is_400(client: Client, ns: str, method: str) -> None:
    body = {"metadata": {"name": "a%b"}} if method == "PUT" else None
    doc = client.call(method, f"/api/v1/namespaces/{ns}/configmaps/a%25b", body)
    assert status(doc, 400, "BadRequest")["message"] == "Name parameter invalid: \"a%b\": may not contain '%'"
    assert_writable(client, ns)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_name_with_an_encoded_newline_is_not_found(client: Client, ns: str, method: str) -> None:
    """No object can have such a name, so kube answers what its storage lookup does: 404."""
    body = {"metadata": {"name": "a\nb"}} if method == "PUT" else None
    doc = client.call(method, f"/api/v1/namespaces/{ns}/configmaps/a%0Ab", body)
    assert status(doc, 404, "NotFound")["details"] == {"name": "a\nb", "group": "", "kind": "configmaps"}
    doc = client.call("GET", "/api/v1/namespaces/a%0Ab")
    status(doc, 404, "NotFound")
    assert_writable(client, ns)


# ---- finding 4: query parameters as kube validates them ----


@pytest.mark.parametrize(
    "suffix",
    ["/configmaps?resourceVersion=abc", "/configmaps/x?resourceVersion=abc", "/configmaps?watch=1&resourceVersion=abc"],
)
def test_malformed_resource_version_is_400(client: Client, ns: str, suffix: str) -> None:
    doc = client.call("GET", f"/api/v1/namespaces/{ns}{suffix}")
    assert status(doc, 400, "BadRequest")["message"] == (
        'invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": '
        "invalid syntax"
    )


def test_update_with_malformed_resource_version_is_400(client: Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    client.ok("POST", base, {"metadata": {"name": "x"}})
    for rv in ("abc", "-1"):
        doc = client.call("PUT", f"{base}/x", {"metadata": {"name": "x", "resourceVersion": rv}})
        assert status(doc, 400, "BadRequest")["message"].startswith(
            f'invalid resource version: metadata.resourceVersion: Invalid value: "{rv}"'
        )


def test_limit_and_timeout_parsing(client: Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for name in ("a", "b"):
        client.ok("POST", base, {"metadata": {"name": name}})
    # a negative limit is no limit (kube pages only for limit > 0)
    listed = client.ok("GET", f"{base}?limit=-1")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"] and "continue" not in listed["metadata"]
    for query, value in (("limit", "ten"), ("timeoutSeconds", "soon"), ("limit", "1.5")):
        doc = client.call("GET", f"{base}?{query}={value}")
        assert status(doc, 400, "BadRequest")["message"] == f'strconv.ParseInt: parsing "{value}": invalid syntax'
    # a negative timeout is a watch whose timer has already fired: the initial events, then the end
    code, raw = client.raw("GET", f"{base}?watch=abc&timeoutSeconds=-1")
    assert code == 200
    events = [json.loads(line) for line in raw.splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a"), ("ADDED", "b")]


def test_continue_with_resource_version_is_400(client: Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for name in ("a", "b"):
        client.ok("POST", base, {"metadata": {"name": name}})
    token = client.ok("GET", f"{base}?limit=1")["metadata"]["continue"]
    doc = client.call("GET", f"{base}?limit=1&continue={token}&resourceVersion=5")
    assert status(doc, 400, "BadRequest")["message"] == "specifying resource version is not allowed when using continue"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "resourceVersionMatch=Exact",
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        ),
        (
            "resourceVersionMatch=Exact&resourceVersion=0",
            "resourceVersionMatch",
            'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
        ),
        (
            "resourceVersionMatch=Newest&resourceVersion=1",
            "resourceVersionMatch",
            'Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""',
        ),
        ("sendInitialEvents=true", "sendInitialEvents", "Forbidden: sendInitialEvents is forbidden for list"),
        (
            "watch=1&sendInitialEvents=true",
            "resourceVersionMatch",
            "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ),
        (
            "watch=1&resourceVersion=1&resourceVersionMatch=NotOlderThan",
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
    ],
)
def test_invalid_list_options_are_422(client: Client, ns: str, query: str, field: str, message: str) -> None:
    doc = client.call("GET", f"/api/v1/namespaces/{ns}/configmaps?{query}")
    status(doc, 422, "Invalid")
    assert doc["details"]["kind"] == "ListOptions" and doc["details"]["group"] == "meta.k8s.io"
    assert [(c["field"], c["message"]) for c in doc["details"]["causes"]] == [(field, message)]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "fieldValidation=Bogus",
            "fieldValidation",
            'Unsupported value: "Bogus": supported values: "", "Ignore", "Strict", "Warn"',
        ),
        ("dryRun=Bogus", "dryRun", 'Unsupported value: []string{"Bogus"}: supported values: "All"'),
        ("dryRun=", "dryRun", 'Unsupported value: []string{""}: supported values: "All"'),
    ],
)
def test_invalid_write_options_are_422(client: Client, ns: str, query: str, field: str, message: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    doc = client.call("POST", f"{base}?{query}", {"metadata": {"name": "x"}})
    status(doc, 422, "Invalid")
    assert doc["details"]["kind"] == "CreateOptions" and doc["details"]["group"] == "meta.k8s.io"
    assert [(c["field"], c["message"]) for c in doc["details"]["causes"]] == [(field, message)]
    client.ok("POST", base, {"metadata": {"name": "x"}})
    doc = client.call("PUT", f"{base}/x?{query}", {"metadata": {"name": "x"}})
    assert status(doc, 422, "Invalid")["details"]["kind"] == "UpdateOptions"
    doc = client.call("PATCH", f"{base}/x?{query}", {"data": {"a": "b"}}, content_type=MERGE)
    assert status(doc, 422, "Invalid")["details"]["kind"] == "PatchOptions"
    assert "data" not in client.ok("GET", f"{base}/x")


def test_server_side_dry_run_of_writes_still_persists_nothing(client: Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    client.ok("POST", f"{base}?dryRun=All", {"metadata": {"name": "x"}})
    doc = client.call("GET", f"{base}/x")
    status(doc, 404, "NotFound")
    client.ok("POST", base, {"metadata": {"name": "x"}, "data": {"a": "1"}})
    client.ok("PATCH", f"{base}/x?dryRun=All", {"data": {"a": "2"}}, content_type=MERGE)
    assert client.ok("GET", f"{base}/x")["data"] == {"a": "1"}

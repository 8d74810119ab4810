"""Authentication and RBAC: 401 without credentials, 403 without rights, 200 once bound."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gardener.apiserver.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.runtime.pki import KeyPair, issue_client_cert
from tests.helpers import ServerProcess, create_namespace, eventually, kubectl

#: request handling, validation, admission and auth sit above storage: one backend says it all
ONE_BACKEND = True


def _ca(server: ServerProcess) -> KeyPair:
    pki = server.data_dir / "pki"
    return KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())


def _user_kubeconfig(server: ServerProcess, tmp: Path, user: str, groups: tuple[str, ...] = ()) -> Path:
    ca = _ca(server)
    cert = issue_client_cert(ca, user=user, groups=groups)
    path = tmp / f"{user}.kubeconfig"
    write_kubeconfig(
        path,
        build_kubeconfig(
            server=server.url, ca_pem=ca.cert_pem, user=user, client_cert_pem=cert.cert_pem, client_key_pem=cert.key_pem
        ),
    )
    return path


def _get(server: ServerProcess, path: str, *, token: str | None = None) -> tuple[int, dict[str, object] | str]:
    ctx = ssl.create_default_context(cafile=str(server.data_dir / "pki" / "ca.crt"))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(server.url + path, headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            body = resp.read().decode()
            return resp.status, json.loads(body) if body.startswith("{") else body
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/version"])
def test_public_endpoints_need_no_credentials(apiserver: ServerProcess, path: str) -> None:
    code, _ = _get(apiserver, path)
    assert code == 200


def test_no_credentials_is_401_status(apiserver: ServerProcess) -> None:
    code, body = _get(apiserver, "/api/v1/namespaces")
    assert code == 401
    assert isinstance(body, dict) and body["kind"] == "Status" and body["reason"] == "Unauthorized"
    code, _ = _get(apiserver, "/api/v1/namespaces", token="not-a-valid-token")
    assert code == 401


def test_rbac_forbids_then_rolebinding_grants(apiserver: ServerProcess, tmp_path: Path) -> None:
    admin = apiserver.kubeconfig
    create_namespace("rbac-a", kubeconfig=admin)
    bob = _user_kubeconfig(apiserver, tmp_path, "bob", ("developers",))

    denied = kubectl("get", "configmaps", "-n", "rbac-a", kubeconfig=bob, check=False)
    assert denied.returncode != 0
    assert 'User "bob" cannot list resource "configmaps" in API group "" in the namespace "rbac-a"' in denied.stderr

    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "bob-view", "namespace": "rbac-a"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "developers"}],
    }
    kubectl("apply", "-f", "-", kubeconfig=admin, input=json.dumps(binding))
    allowed = eventually(
        lambda: kubectl("get", "configmaps", "-n", "rbac-a", kubeconfig=bob, check=False).returncode == 0,
        what="RoleBinding takes effect",
    )
    assert allowed
    # view is read-only, and only in that namespace.
    write = kubectl(
        "apply",
        "-f",
        "-",
        kubeconfig=bob,
        check=False,
        input=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "rbac-a"}}),
    )
    assert write.returncode != 0 and "forbidden" in write.stderr
    other = kubectl("get", "configmaps", "-n", "default", kubeconfig=bob, check=False)
    assert other.returncode != 0 and "forbidden" in other.stderr


def test_static_token_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('s3cret-token-value,carol,1001,"system:masters"\n')
    server = ServerProcess(data_dir=tmp_path / "srv", extra_args=["--token-auth-file", str(tokens)]).start()
    try:
        code, body = _get(server, "/api/v1/namespaces", token="s3cret-token-value")
        assert code == 200 and isinstance(body, dict) and body["kind"] == "NamespaceList"
        log = (server.data_dir / "apiserver.log").read_text()
        assert "s3cret-token-value" not in log
    finally:
        server.stop()


def test_service_account_token(apiserver: ServerProcess, tmp_path: Path) -> None:
    from tests.integration.test_durability import _client, _request

    admin = apiserver.kubeconfig
    create_namespace("sa-ns", kubeconfig=admin)
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": "sa-ns"}}
    kubectl("apply", "-f", "-", kubeconfig=admin, input=json.dumps(sa))
    base, ctx = _client(apiserver)
    code, req = _request(
        base,
        ctx,
        "POST",
        "/api/v1/namespaces/sa-ns/serviceaccounts/robot/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
    )
    assert code == 201, req
    token = req["status"]["token"]
    code, body = _get(apiserver, "/api/v1/namespaces/sa-ns/configmaps", token=token)
    assert code == 403
    assert isinstance(body, dict)
    assert 'User "system:serviceaccount:sa-ns:robot" cannot list resource "configmaps"' in str(body["message"])
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "robot-view", "namespace": "sa-ns"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "sa-ns"}],
    }
    kubectl("apply", "-f", "-", kubeconfig=admin, input=json.dumps(binding))
    eventually(lambda: _get(apiserver, "/api/v1/namespaces/sa-ns/configmaps", token=token)[0] == 200, what="SA bound")
    # Deleting the ServiceAccount invalidates its tokens.
    kubectl("delete", "serviceaccount", "robot", "-n", "sa-ns", kubeconfig=admin)
    eventually(
        lambda: _get(apiserver, "/api/v1/namespaces/sa-ns/configmaps", token=token)[0] == 401, what="token revoked"
    )


def _bind_cluster_role(admin: Path, namespace: str, role: str, user: str) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{user}-{role}", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
    kubectl("apply", "-f", "-", kubeconfig=admin, input=json.dumps(binding))


def test_edit_and_view_cover_the_workload_kinds(apiserver: ServerProcess, tmp_path: Path) -> None:
    """kube 1.32's aggregated edit/view roles: an editor runs CronJobs, Ingresses and PDBs but grants nothing; a
    viewer lists them but reads no Secrets."""
    admin = apiserver.kubeconfig
    create_namespace("rbac-edit", kubeconfig=admin)
    _bind_cluster_role(admin, "rbac-edit", "edit", "erin")
    _bind_cluster_role(admin, "rbac-edit", "view", "victor")
    erin = _user_kubeconfig(apiserver, tmp_path, "erin")
    victor = _user_kubeconfig(apiserver, tmp_path, "victor")
    eventually(
        lambda: (
            kubectl(
                "auth", "can-i", "create", "cronjobs", "-n", "rbac-edit", kubeconfig=erin, check=False
            ).stdout.strip()
            == "yes"
        ),
        what="the edit binding takes effect",
    )

    ns = ("-n", "rbac-edit")
    kubectl("create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *", *ns, kubeconfig=erin)
    kubectl("create", "ingress", "web", "--rule=example.test/=web:80", *ns, kubeconfig=erin)
    kubectl("create", "pdb", "web", "--selector=app=web", "--min-available=1", *ns, kubeconfig=erin)
    kubectl("create", "secret", "generic", "s", "--from-literal=k=v", *ns, kubeconfig=erin)
    role = kubectl("create", "role", "r", "--verb=get", "--resource=pods", *ns, kubeconfig=erin, check=False)
    assert role.returncode != 0
    assert (
        'roles.rbac.authorization.k8s.io is forbidden: User "erin" cannot create resource "roles" in API group '
        '"rbac.authorization.k8s.io" in the namespace "rbac-edit"' in role.stderr
    )

    eventually(
        lambda: kubectl("get", "cronjobs", *ns, kubeconfig=victor, check=False).returncode == 0,
        what="the view binding takes effect",
    )
    for kind, name in (("cronjobs.batch", "nightly"), ("ingresses.networking.k8s.io", "web"), ("pdb", "web")):
        listed = kubectl("get", kind, *ns, "-o", "name", kubeconfig=victor)
        assert name in listed.stdout
    secrets = kubectl("get", "secrets", *ns, kubeconfig=victor, check=False)
    assert secrets.returncode != 0
    assert 'User "victor" cannot list resource "secrets" in API group "" in the namespace "rbac-edit"' in secrets.stderr
    delete = kubectl("delete", "cronjob", "nightly", *ns, kubeconfig=victor, check=False)
    assert delete.returncode != 0 and "forbidden" in delete.stderr


def test_service_account_tokens_carry_kubes_extras(apiserver: ServerProcess, tmp_path: Path) -> None:
    """kube 1.32 gives a service-account user its token's credential id, and the pod and node a bound token names;
    a token bound to a pod stops working with the pod."""
    from tests.integration.test_impersonation import Client

    admin = apiserver.kubeconfig
    create_namespace("sa-extra", kubeconfig=admin)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "sa-extra-node"}}
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": "sa-extra"}}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "sa-extra"},
        "spec": {
            "serviceAccountName": "robot",
            "nodeName": "sa-extra-node",
            "containers": [{"name": "c", "image": "busybox"}],
        },
    }
    kubectl("apply", "-f", "-", kubeconfig=admin, input="\n---\n".join(json.dumps(o) for o in (node, sa, pod)))
    uids = {
        kind: json.loads(kubectl("get", kind, *args, "-o", "json", kubeconfig=admin).stdout)["metadata"]["uid"]
        for kind, args in (("node", ("sa-extra-node",)), ("pod", ("p", "-n", "sa-extra")))
    }
    admin_client = Client(admin)
    token_path = "/api/v1/namespaces/sa-extra/serviceaccounts/robot/token"
    whoami = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}

    def token_and_extra(spec: dict[str, object]) -> tuple[str, dict[str, list[str]]]:
        status, body = admin_client.call("POST", token_path, {"kind": "TokenRequest", "spec": spec})
        assert status == 201, body
        token = body["status"]["token"]
        _, claims, _ = token.split(".")
        jti = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["jti"]
        status, me = Client.with_token(apiserver, token).call("POST", whoami, review)
        assert status == 201, me
        assert me["status"]["userInfo"]["username"] == "system:serviceaccount:sa-extra:robot"
        extra = me["status"]["userInfo"]["extra"]
        assert extra.pop("authentication.kubernetes.io/credential-id") == [f"JTI={jti}"]
        return token, extra

    _, plain = token_and_extra({"expirationSeconds": 3600})
    assert plain == {}
    bound_ref = {"apiVersion": "v1", "kind": "Pod", "name": "p"}
    token, bound = token_and_extra({"boundObjectRef": bound_ref})
    assert bound == {
        "authentication.kubernetes.io/pod-name": ["p"],
        "authentication.kubernetes.io/pod-uid": [uids["pod"]],
        "authentication.kubernetes.io/node-name": ["sa-extra-node"],
        "authentication.kubernetes.io/node-uid": [uids["node"]],
    }
    status, body = admin_client.call("POST", token_path, {"spec": {"boundObjectRef": {**bound_ref, "uid": "other"}}})
    assert (status, body["reason"]) == (409, "Conflict")
    assert body["message"] == (
        'Operation cannot be fulfilled on Pod "p": the UID in the bound object reference (other) does not match the '
        "UID in record. The object might have been deleted and then recreated"
    )

    kubectl("delete", "pod", "p", "-n", "sa-extra", "--grace-period=0", "--force", kubeconfig=admin)
    eventually(lambda: _get(apiserver, whoami, token=token)[0] == 401, what="the bound token dies with its pod")
